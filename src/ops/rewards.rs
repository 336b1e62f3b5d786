//! Coupons from points: a Gameball redemption rule is a Voucherify reward
//! in the tenant's loyalty program, redeemed from the customer's loyalty
//! card (`POST /v1/loyalties/{campaign}/members/{card}/redemption`); a
//! CAMPAIGN reward publishes a coupon to the customer.
//!
//! Exactly once, as orders are: the redemption names a Voucherify order
//! after the attempt (`cb-pts-{attempt}`) and is claimed in the store first.
//! If Voucherify's answer is lost, the claim stays; the next call for the
//! same customer and rule (or the same `Idempotency-Key`), once the lease is
//! over, reads that order back and answers the coupon it bought instead of
//! spending the points again. Without an `Idempotency-Key`, a successful
//! purchase ends the claim: the customer may buy the same reward again.

use super::Cx;
use super::redeem::{Failed, lease_for};
use crate::domain::{IssuedCoupon, PredefinedCmd};
use crate::error::{Failure, Kind, Origin};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::translate::lifecycle::{RewardRefusal, issued_coupon};
use crate::voucherify::Order;
use crate::voucherify::client::Written;
use crate::voucherify::lifecycle::{RewardRedemptionRequest, RewardRef};

/// Redemptions read back at most when reconciling (a reward redemption
/// makes one).
const MAX_LOOKUPS: i64 = 3;

fn order_of(first_attempt: &str) -> String {
    format!("cb-pts-{first_attempt}")
}

fn unmapped(rule: u64) -> Failure {
    Failure::client(
        Kind::NotFound,
        format!("No reward is configured for redemption rule {rule} ([tenants.NAME.rewards])"),
    )
}

/// The deployment names something Voucherify does not have: the merchant
/// cannot fix it by retrying, the operator must.
fn misconfigured(why: String) -> Failure {
    Failure::new(
        Kind::UpstreamMisconfigured,
        Origin::Voucherify,
        "The coupon service is not configured for this call",
    )
    .because(why)
}

fn no_card() -> Failure {
    Failure::client(
        Kind::CustomerNotFound,
        "Customer Not Found: the customer has no loyalty card in this program",
    )
}

pub async fn predefined(cx: &Cx, cmd: &PredefinedCmd) -> Result<IssuedCoupon, Failure> {
    let rewards = &cx.tenant.rewards;
    let (Some(reward), Some(campaign)) = (rewards.by_rule.get(&cmd.rule_id), rewards.loyalty_campaign.as_deref())
    else {
        return Err(unmapped(cmd.rule_id));
    };
    let store = &cx.store();
    // The unit separator cannot occur in a trimmed id from JSON text a
    // client typed, so two pairs never share a claim.
    // An idempotency key is scoped to the customer and rule: another
    // customer's key, equal or not, never reaches this purchase.
    let claim_id = match &cmd.idempotency_key {
        Some(key) => format!("{}\u{1f}{}\u{1f}{key}", cmd.customer.id, cmd.rule_id),
        None => format!("{}\u{1f}{}", cmd.customer.id, cmd.rule_id),
    };
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &cx.tenant.name,
        kind: OpKind::Points,
        id: &claim_id,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    };
    // A resumed attempt reads the order and its redemptions back, then the
    // reward and the cards, then redeems: its lease covers every call
    // before the write.
    let source = match store.claim(&op, cx.now(), lease_for(cx, 2 + MAX_LOOKUPS + 3)).await? {
        Claim::Busy => return Err(Failure::in_progress("A coupon purchase for this customer and rule")),
        Claim::Done(stored) => {
            return serde_json::from_str::<Stored>(&stored)
                .map(IssuedCoupon::from)
                .map_err(|e| Failure::internal(format!("a stored coupon purchase cannot be read: {e}")));
        }
        Claim::Resumed { first } => {
            let source = order_of(&first);
            if let Some(coupon) = bought_before(cx, &source).await? {
                settle(cx, &op, cmd, Some(&coupon)).await?;
                return Ok(coupon);
            }
            source
        }
        Claim::Claimed => order_of(&attempt),
    };
    match buy(cx, cmd, campaign, reward, &source).await {
        Ok(coupon) => {
            settle(cx, &op, cmd, Some(&coupon)).await?;
            Ok(coupon)
        }
        Err(failed) if failed.outcome_unknown => {
            // The claim stays: the next attempt reconciles first.
            tracing::warn!(request_id = %cx.request_id, "reward redemption outcome unknown; the next attempt will reconcile");
            Err(failed.failure)
        }
        Err(failed) => {
            settle(cx, &op, cmd, None).await?;
            Err(failed.failure)
        }
    }
}

/// A finished purchase: kept under an idempotency key, forgotten otherwise.
async fn settle(
    cx: &Cx,
    op: &OpAttempt<'_>,
    cmd: &PredefinedCmd,
    coupon: Option<&IssuedCoupon>,
) -> Result<(), Failure> {
    let stored = match (coupon, &cmd.idempotency_key) {
        (Some(c), Some(_)) => Some(serde_json::to_string(&Stored::from(c)).unwrap_or_default()),
        _ => None,
    };
    cx.store().settle(op, stored.as_deref()).await?;
    Ok(())
}

/// The coupon an earlier attempt bought on Voucherify order `source`.
async fn bought_before(cx: &Cx, source: &str) -> Result<Option<IssuedCoupon>, Failure> {
    let vf = cx.vf();
    let Some(order) = vf.order(source).await? else {
        return Ok(None);
    };
    for id in order.live_redemptions().into_iter().take(MAX_LOOKUPS as usize) {
        if let Some(coupon) = vf.redemption(&id).await?.as_ref().and_then(issued_coupon) {
            return Ok(Some(coupon));
        }
    }
    Ok(None)
}

/// Redeems the reward; the error says whether Voucherify may have done it.
async fn buy(cx: &Cx, cmd: &PredefinedCmd, campaign: &str, reward: &str, source: &str) -> Result<IssuedCoupon, Failed> {
    let vf = cx.vf();
    // Only a CAMPAIGN reward gives a coupon: any other would spend the
    // points and answer nothing, so it is refused before anything is spent.
    match vf.reward(reward).await.map_err(Failure::from)? {
        None => {
            return Err(unmapped(cmd.rule_id)
                .because(format!("reward {reward} is not in Voucherify"))
                .into());
        }
        Some(r) if r.kind.as_deref() != Some("CAMPAIGN") => {
            return Err(misconfigured(format!(
                "reward {reward} for rule {} is a {} reward; a coupon from points needs a CAMPAIGN reward",
                cmd.rule_id,
                r.kind.as_deref().unwrap_or("typeless")
            ))
            .into());
        }
        Some(_) => {}
    }
    let cards = match vf
        .loyalty_cards(campaign, &cmd.customer.id)
        .await
        .map_err(Failure::from)?
    {
        Written::Done(list) => list,
        Written::Refused(_, e) if e.resource_type.as_deref().is_some_and(|r| r.contains("campaign")) => {
            return Err(misconfigured(format!(
                "the loyalty program {campaign} ([tenants.NAME.loyalty] campaign) is not in Voucherify"
            ))
            .into());
        }
        // An unknown customer has no card.
        Written::Refused(..) => Default::default(),
    };
    let card = cards.vouchers.into_iter().next().ok_or_else(no_card)?;
    let request = RewardRedemptionRequest {
        reward: RewardRef { id: reward },
        order: Order {
            source_id: Some(source.to_owned()),
            ..Order::default()
        },
        metadata: serde_json::json!({"source": "couponbridge", "gameball_rule_id": cmd.rule_id}),
    };
    let member = if card.code.is_empty() { &card.id } else { &card.code };
    match cx.fx.redeem_reward(vf, campaign, member, &request).await {
        Ok(Written::Done(r)) => issued_coupon(&r).ok_or_else(|| {
            Failure::internal(format!(
                "reward {reward} for rule {} gave no coupon code: it must be a CAMPAIGN reward",
                cmd.rule_id
            ))
            .into()
        }),
        Ok(Written::Refused(status, e)) => {
            let key = e.key.as_deref().unwrap_or("");
            Err(Failed::from(
                match RewardRefusal::from_key(status, key, e.resource_type.as_deref()) {
                    RewardRefusal::InsufficientPoints => Failure::client(
                        Kind::InsufficientPoints,
                        "Insufficient Balance Points for this redemption rule",
                    ),
                    RewardRefusal::NoSuchCard => no_card(),
                    RewardRefusal::NoSuchReward => unmapped(cmd.rule_id).because(format!("Voucherify {status} {key}")),
                    RewardRefusal::Other => Failure::client(
                        Kind::CouponRefused,
                        format!(
                            "The reward could not be redeemed: {}",
                            e.message.as_deref().unwrap_or(key)
                        ),
                    ),
                },
            ))
        }
        Err(e) => Err(Failed {
            outcome_unknown: e.outcome_unknown(),
            failure: e.into(),
        }),
    }
}

/// What an idempotency key's claim keeps of the coupon it bought.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    code: String,
    #[serde(default)]
    start_date: Option<String>,
    #[serde(default)]
    expiry_date: Option<String>,
}

impl From<&IssuedCoupon> for Stored {
    fn from(c: &IssuedCoupon) -> Self {
        Stored {
            code: c.code.clone(),
            start_date: c.start_date.clone(),
            expiry_date: c.expiry_date.clone(),
        }
    }
}

impl From<Stored> for IssuedCoupon {
    fn from(s: Stored) -> Self {
        IssuedCoupon {
            code: s.code,
            start_date: s.start_date,
            expiry_date: s.expiry_date,
        }
    }
}
