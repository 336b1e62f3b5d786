//! The SDK-era discount-coupon operations: redeem one code (no lock) and
//! create a coupon.
//!
//! Redeem, exactly once. The SDKs send no idempotency key (their
//! `transactionTime` is new on every call), so the claim is on the pair
//! customer + code, and only while an attempt's outcome is unknown: a
//! finished redemption forgets its claim, so the same customer may redeem a
//! multi-use code again later. A claim redeems on one Voucherify order,
//! named after the attempt that opened it (`cb-redeem-{first}`); every
//! retry after a lost answer reads that order back before it redeems
//! again, on the same order, so however many attempts fail on the way
//! (a look-up that fails too), at most one redemption is made. A second
//! redemption of a used single-use code is Voucherify's refusal, as for
//! any redemption.

use super::Cx;
use super::redeem::{Failed, lease_until, metadata, order_redeemed, redeem as redeem_once};
use crate::domain::{CodeRedeemed, CouponCreated, CouponDraft, InvalidReason, RedeemCodeCmd};
use crate::error::{Failure, Kind, Retry};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::translate::{self, RedemptionOrder, invalid_reason};
use crate::voucherify::client::CreateOutcome;

fn order_of(attempt: &str) -> String {
    format!("cb-redeem-{attempt}")
}

pub async fn redeem(cx: &Cx, cmd: RedeemCodeCmd) -> Result<CodeRedeemed, Failure> {
    let store = &cx.store();
    // The unit separator cannot occur in a trimmed code or id from JSON text
    // a client typed, so two pairs never share a claim.
    let claim_id = format!("{}\u{1f}{}", cmd.customer.id, cmd.code);
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &cx.tenant.name,
        kind: OpKind::Redeem,
        id: &claim_id,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    };
    let done = |cx: &Cx| CodeRedeemed {
        customer_id: cmd.customer.id.clone(),
        code: cmd.code.clone(),
        at: cx.now(),
    };
    let source = match store.claim(&op, cx.now(), lease_until(cx)).await? {
        Claim::Busy => return Err(Failure::in_progress("A redemption of this coupon for this customer")),
        // An earlier attempt's answer was lost: if Voucherify has the
        // claim's redemption, this call is its retry and succeeded.
        Claim::Resumed { first } => {
            let source = order_of(&first);
            if order_redeemed(cx, &source).await? {
                store.settle(&op, None).await?;
                return Ok(done(cx));
            }
            source
        }
        // Done is never stored for this kind (a finished claim is forgotten).
        Claim::Claimed | Claim::Done(_) => order_of(&attempt),
    };
    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: None,
        shipping_minor: None,
    };
    let codes = [cmd.code.clone()];
    let customer = &cmd.customer;
    match redeem_once(cx, &codes, customer, &order, None, metadata(None, None)).await {
        Ok(_) => {
            store.settle(&op, None).await?;
            Ok(done(cx))
        }
        Err(Failed {
            failure,
            outcome_unknown: true,
        }) => {
            // The claim stays: the next attempt reconciles first.
            tracing::warn!(request_id = %cx.request_id, "redemption outcome unknown; the next attempt will reconcile");
            Err(failure)
        }
        Err(Failed { failure, .. }) => {
            store.settle(&op, None).await?;
            Err(failure)
        }
    }
}

/// `POST /v1/vouchers`, then the new coupon's terms as Voucherify stored
/// them. Not retried: with a generated code, a retry would be a second
/// coupon.
pub async fn create(cx: &Cx, draft: CouponDraft) -> Result<CouponCreated, Failure> {
    let body = translate::voucher_request(&draft);
    let created = cx.fx.create_voucher(cx.vf(), &body).await.map_err(|e| {
        // A generated code cannot be looked for: the merchant must check
        // before creating again, or get a second coupon.
        let generated = draft.code.is_none() && e.outcome_unknown();
        let f = Failure::from(e);
        if generated { f.retry(Retry::No) } else { f }
    })?;
    match created {
        CreateOutcome::Created(voucher) => Ok(CouponCreated {
            customer_id: draft.customer_id,
            coupon: translate::coupon(&voucher, &[], cx.tenant.decimals),
        }),
        CreateOutcome::Refused(status, e) => {
            let key = e.key.as_deref().unwrap_or("");
            let why = e.details.or(e.message).unwrap_or_else(|| key.to_owned());
            let kind = if status == 409 || key == "duplicate_found" {
                Kind::AlreadyExists
            } else {
                Kind::InvalidValue
            };
            let message = match kind {
                Kind::AlreadyExists => "A coupon with this code already exists".to_owned(),
                _ => format!(
                    "Invalid value: the coupon service refused the coupon: {}",
                    match invalid_reason(key) {
                        InvalidReason::Invalid => why,
                        reason => cx.tenant.messages.text(reason),
                    }
                ),
            };
            Err(Failure::client(kind, message))
        }
    }
}
