//! Burns (by lock or by codes) and orders with coupons: redemptions in
//! Voucherify, exactly once.
//!
//! Voucherify has no idempotency key, so a redemption is never retried
//! blindly. Each one names an order (`source_id`): the merchant's `orderId`,
//! or `cb-{lockReference}` for a burn by reference, or `cb-tx-{id}` for a
//! burn by codes with a `transactionId`. Before anything is sent, the lock
//! (or the order id, or the transaction id) is claimed in the store with a
//! lease. If Voucherify's answer is lost (timeout, broken connection, 5xx),
//! the claim stays; the next attempt, once the lease is over, first reads
//! that order back from Voucherify and only redeems if nothing is there.
//! Concurrent burn, release and order on one lock: one wins, the others get
//! 422/2001 (in progress) or 400/4000 (already used or released).

use crate::adapter::Ctx;
use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::validate::release_sessions;
use crate::adapter::ops::{BurnCmd, BurnTarget, Burned, OrderCmd, Transaction};
use crate::clock::{Millis, iso, parse_iso};
use crate::ids;
use crate::locks::{Burner, Claim, LockRecord, LockState, OpAttempt, OpKind, UseStart};
use crate::metrics::LockEvent;
use crate::translate::{self, Customer, InvalidReason, RedemptionOrder};
use crate::voucherify::client::RedeemOutcome;

/// How long Voucherify may still commit a redemption after our client gave
/// up waiting for its answer.
const LATE_COMMIT_MARGIN_MS: i64 = 5_000;

/// A failed redemption, and whether its claim must be kept.
pub(crate) struct Failed {
    pub failure: Failure,
    /// Voucherify may have redeemed (or another attempt is redeeming): the
    /// claim stays until its lease ends, so a retry reconciles first.
    pub outcome_unknown: bool,
}

impl Failed {
    fn unknown(failure: impl Into<Failure>) -> Self {
        Failed {
            failure: failure.into(),
            outcome_unknown: true,
        }
    }
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Self {
        Failed {
            failure,
            outcome_unknown: false,
        }
    }
}

impl From<crate::locks::StoreError> for Failed {
    fn from(e: crate::locks::StoreError) -> Self {
        Failure::from(e).into()
    }
}

/// Until when a claim taken now is ours: long enough for two Voucherify
/// calls (a look at the order, then the redemption; each call has one
/// deadline) and for Voucherify to commit late, so a live attempt is never
/// taken over.
pub(crate) fn lease_until(ctx: &Ctx) -> Millis {
    lease_for(ctx, 2)
}

/// A lease for an attempt that makes up to `calls` Voucherify calls before
/// its write has surely ended.
pub(crate) fn lease_for(ctx: &Ctx, calls: i64) -> Millis {
    ctx.now() + calls * ctx.tenant.upstream_timeout_ms() + LATE_COMMIT_MARGIN_MS
}

pub(crate) fn in_progress(what: &str) -> Failure {
    Failure::client(Kind::InProgress, format!("{what} is being processed; retry shortly"))
}

pub(crate) fn already_used() -> Failure {
    Failure::client(Kind::LockEnded, "The lock reference was already used")
}

pub(crate) fn released_lock() -> Failure {
    Failure::client(Kind::LockEnded, "The lock reference was released and cannot be used")
}

pub(crate) fn expired_lock(expires_at: Millis) -> Failure {
    Failure::client(
        Kind::LockEnded,
        format!("The lock reference expired at {}", iso(expires_at)),
    )
}

pub(crate) fn another_customers_lock() -> Failure {
    Failure::invalid("customerId", "the lock belongs to another customer")
}

/// Voucherify refused to redeem, for `reason`.
pub(crate) fn refused(ctx: &Ctx, reason: InvalidReason) -> Failure {
    Failure::client(
        Kind::CouponRefused,
        format!(
            "The coupons could not be burned: {}",
            reason.message(&ctx.tenant.messages)
        ),
    )
}

pub(crate) fn metadata(reference: Option<&str>, transaction_id: Option<&str>) -> serde_json::Value {
    let mut m = serde_json::json!({"source": "couponbridge"});
    if let Some(r) = reference {
        m["gameball_lock_reference"] = r.into();
    }
    if let Some(t) = transaction_id {
        m["gameball_transaction_id"] = t.into();
    }
    m
}

/// Whether Voucherify recorded a redemption on order `source_id`.
pub(crate) async fn order_redeemed(ctx: &Ctx, source_id: &str) -> Result<bool, Failure> {
    Ok(ctx
        .app
        .voucherify
        .order(&ctx.tenant.upstream, source_id, ctx.call())
        .await?
        .is_some_and(|o| o.has_live_redemption()))
}

/// Whether an earlier attempt on a lock, whose outcome is unknown, redeemed.
pub(crate) async fn earlier_attempt_redeemed(ctx: &Ctx, earlier: &LockRecord) -> Result<bool, Failure> {
    match &earlier.used_by {
        Some(source) => order_redeemed(ctx, source).await,
        None => Ok(false),
    }
}

/// One redemption request, classified; `Ok` carries the id whose rollback
/// undoes it (for refunds).
pub(crate) async fn redeem(
    ctx: &Ctx,
    codes: &[String],
    customer: &Customer<'_>,
    order: &RedemptionOrder<'_>,
    session_key: Option<&str>,
    metadata: serde_json::Value,
) -> Result<Option<String>, Failed> {
    let request = translate::redemption_request(codes, customer, order, session_key, Some(metadata));
    match ctx
        .app
        .voucherify
        .redeem(&ctx.tenant.upstream, &request, ctx.call())
        .await
    {
        Ok(RedeemOutcome::Redeemed(answer)) => {
            // PARTIAL mode redeems what it can; the rest keep their
            // sessions until released here.
            let rollback_id = answer.rollback_id().map(str::to_owned);
            let left: Vec<String> = answer.inapplicable_redeemables.into_iter().map(|r| r.id).collect();
            if !left.is_empty() {
                tracing::warn!(request_id = %ctx.request_id, coupons = ?left, "Voucherify redeemed only part of the coupons");
                if let Some(key) = session_key {
                    release_sessions(ctx, &left, key, None).await;
                }
            }
            Ok(rollback_id)
        }
        Ok(RedeemOutcome::Refused(status, e)) => {
            let key = e.key.as_deref().unwrap_or("");
            if status == 409 || key == "multiple_requests" {
                // Voucherify's order session is busy: nothing was redeemed,
                // and the same request may succeed in a moment.
                return Err(in_progress("The order").into());
            }
            Err(refused(ctx, InvalidReason::from_key(key)).into())
        }
        Err(e) => Err(Failed {
            outcome_unknown: e.outcome_unknown(),
            failure: e.into(),
        }),
    }
}

/// How a lock ended up used.
enum Used {
    /// By this call, at this time, with the redemption to roll back.
    Now(Millis, Option<String>),
    /// By an earlier attempt (this call's own lost attempt, or another);
    /// the caller decides which from `used_by` and `transaction_id`.
    Before(Box<LockRecord>),
}

/// Redeems lock `reference` (and `extra_codes`) on `order`, exactly once.
async fn use_lock(
    ctx: &Ctx,
    reference: &str,
    customer: &Customer<'_>,
    order: &RedemptionOrder<'_>,
    extra_codes: &[String],
    transaction_id: Option<&str>,
    lease: Millis,
) -> Result<Used, Failed> {
    if !ids::is_lock_reference(reference) {
        return Err(Failure::lock_not_found().into());
    }
    let store = &ctx.app.store;
    let t = &ctx.tenant.name;
    let attempt = ids::prefixed_hex("att_", 16);
    let burner = Burner {
        attempt: &attempt,
        lease_until: lease,
        order: Some(order.source_id),
        transaction_id,
    };
    // `took_over`: this attempt took the lock from one whose lease ran out
    // (a burn, or a re-lock, that may still be running).
    let (record, took_over) = match store.begin_use(t, reference, ctx.now(), burner).await? {
        UseStart::Missing => return Err(Failure::lock_not_found().into()),
        UseStart::Busy => return Err(Failed::unknown(in_progress("The lock reference"))),
        UseStart::Refused { record, newly_expired } => {
            if newly_expired {
                ctx.app.metrics.lock_event(LockEvent::Expired);
            }
            return match record.state {
                LockState::Used => Ok(Used::Before(Box::new(record))),
                LockState::Released => Err(released_lock().into()),
                _ => Err(expired_lock(record.expires_at).into()),
            };
        }
        UseStart::Started(record) => (record, false),
        UseStart::Resumed(earlier) => {
            // The earlier attempt's outcome is unknown: look before redeeming.
            if earlier_attempt_redeemed(ctx, &earlier).await.map_err(Failed::unknown)? {
                store
                    .finish_use(t, reference, &attempt, ctx.now(), true)
                    .await
                    .map_err(Failed::unknown)?;
                ctx.app.metrics.lock_event(LockEvent::Burned);
                let mut used = earlier;
                used.state = LockState::Used;
                used.used_at = Some(ctx.now());
                return Ok(Used::Before(Box::new(used)));
            }
            (earlier, true)
        }
    };
    if record.customer_id != customer.id {
        store.finish_use(t, reference, &attempt, ctx.now(), false).await?;
        return Err(another_customers_lock().into());
    }
    let mut codes = record.codes.clone();
    codes.extend(extra_codes.iter().filter(|c| !record.codes.contains(c)).cloned());
    let order = RedemptionOrder {
        amount_minor: order.amount_minor.or(record.amount_minor),
        ..*order
    };
    let sent = redeem(
        ctx,
        &codes,
        customer,
        &order,
        Some(&record.session_key),
        metadata(Some(reference), transaction_id),
    )
    .await;
    match sent {
        Ok(rollback_id) => {
            let now = ctx.now();
            // The redemption happened: if it cannot be recorded now, the lock
            // stays `burning` and the next attempt finds it on the order.
            let owned = store
                .finish_use(t, reference, &attempt, now, true)
                .await
                .map_err(Failed::unknown)?;
            if !owned {
                tracing::warn!(request_id = %ctx.request_id, "a slow burn finished after its lease; the next attempt reconciles");
            }
            if took_over {
                // The attempt taken over may have held codes in the session
                // after this redemption consumed it: nothing may hold now.
                release_sessions(ctx, &codes, &record.session_key, Some(reference)).await;
            }
            ctx.app.metrics.lock_event(LockEvent::Burned);
            Ok(Used::Now(now, rollback_id))
        }
        Err(failed) if failed.outcome_unknown => {
            // Stay `burning`: the next attempt settles it after the lease.
            tracing::warn!(request_id = %ctx.request_id, "burn outcome unknown; the next attempt will reconcile");
            Err(failed)
        }
        Err(failed) => {
            store.finish_use(t, reference, &attempt, ctx.now(), false).await?;
            Err(failed)
        }
    }
}

/// Settles a lock whose burn outcome is unknown (its lease ran out): asks
/// Voucherify about the order the burn named and marks the lock used or
/// returns it to `locked`. Used before a release, and by an order retry.
pub(crate) async fn settle_unknown_burn(ctx: &Ctx, reference: &str) -> Result<(), Failure> {
    let store = &ctx.app.store;
    let t = &ctx.tenant.name;
    let attempt = ids::prefixed_hex("att_", 16);
    let burner = Burner {
        attempt: &attempt,
        lease_until: lease_until(ctx),
        order: None,
        transaction_id: None,
    };
    match store.begin_use(t, reference, ctx.now(), burner).await? {
        UseStart::Resumed(earlier) => {
            let redeemed = earlier_attempt_redeemed(ctx, &earlier).await?;
            store.finish_use(t, reference, &attempt, ctx.now(), redeemed).await?;
            if redeemed {
                ctx.app.metrics.lock_event(LockEvent::Burned);
            }
        }
        UseStart::Started(_) => {
            // It was plain `locked` again: put it back as it was.
            store.finish_use(t, reference, &attempt, ctx.now(), false).await?;
        }
        _ => {}
    }
    Ok(())
}

pub async fn burn(ctx: &Ctx, cmd: BurnCmd) -> Result<Burned, Failure> {
    let customer = cmd.customer.as_customer();
    let tx = cmd.transaction_id.as_deref();
    let at = match &cmd.target {
        BurnTarget::Lock(reference) => {
            let source = format!("cb-{reference}");
            let order = RedemptionOrder {
                source_id: &source,
                amount_minor: None,
                shipping_minor: None,
            };
            match use_lock(ctx, reference, &customer, &order, &[], tx, lease_until(ctx))
                .await
                .map_err(|f| f.failure)?
            {
                Used::Now(at, _) => at,
                // A retry of the same burn (same customer and transaction)
                // answers the same; anything else is a second burn.
                Used::Before(record)
                    if record.used_by.as_deref() == Some(source.as_str())
                        && record.transaction_id.as_deref() == tx
                        && record.customer_id == customer.id =>
                {
                    record.used_at.unwrap_or_else(|| ctx.now())
                }
                Used::Before(_) => return Err(already_used()),
            }
        }
        BurnTarget::Codes(codes) => burn_codes(ctx, &customer, codes, tx).await?,
    };
    Ok(Burned {
        at,
        transaction_id: cmd.transaction_id,
        transaction_time: cmd.transaction_time,
    })
}

/// A burn by codes (no lock): once per `transactionId` when one is given.
async fn burn_codes(ctx: &Ctx, customer: &Customer<'_>, codes: &[String], tx: Option<&str>) -> Result<Millis, Failure> {
    let store = &ctx.app.store;
    let attempt = ids::prefixed_hex("att_", 16);
    let source = match tx {
        Some(tx) => format!("cb-tx-{tx}"),
        None => format!("cb-burn-{}", ids::prefixed_hex("", 16)),
    };
    let op = tx.map(|tx| OpAttempt {
        tenant: &ctx.tenant.name,
        kind: OpKind::Burn,
        id: tx,
        attempt: &attempt,
        keep: ctx.cfg.locks.order_retention,
    });
    if let Some(op) = &op {
        match store.claim(op, ctx.now(), lease_until(ctx)).await? {
            Claim::Done(result) => return Ok(parse_iso(&result).unwrap_or_else(|| ctx.now())),
            Claim::Busy => return Err(in_progress("The transaction")),
            Claim::Resumed { .. } if order_redeemed(ctx, &source).await? => {
                let now = ctx.now();
                store.settle(op, Some(&iso(now))).await?;
                return Ok(now);
            }
            Claim::Claimed | Claim::Resumed { .. } => {}
        }
    }
    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: None,
        shipping_minor: None,
    };
    match redeem(ctx, codes, customer, &order, None, metadata(None, tx)).await {
        Ok(_) => {
            let now = ctx.now();
            if let Some(op) = &op {
                store.settle(op, Some(&iso(now))).await?;
            }
            Ok(now)
        }
        Err(failed) => {
            if let Some(op) = op.filter(|_| !failed.outcome_unknown) {
                store.settle(&op, None).await?;
            }
            Err(failed.failure)
        }
    }
}

/// What the store keeps of a tracked order or payment, written before the
/// answer: what a refund must roll back, even after a restart.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tracked {
    pub at: String,
    /// The Voucherify order the redemption named.
    pub source_id: String,
    /// The redemption whose rollback undoes it; `None` when unknown (found
    /// on the Voucherify order then) or when nothing was redeemed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// What the customer paid (`totalPaid`): a refund of at least this much
    /// is a full one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_minor: Option<i64>,
    /// Whether anything was redeemed (an order without coupons has nothing
    /// to roll back, and its id must not be looked up in Voucherify).
    #[serde(default = "redeemed_by_default")]
    pub redeemed: bool,
    /// Whose it was, so a refund naming another customer is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

/// Records from before the flag were written only for orders that named
/// coupons or a lock, or may have: look them up.
fn redeemed_by_default() -> bool {
    true
}

impl Tracked {
    /// A stored result; records from before refunds existed held only the
    /// time, and name the order by its id.
    pub fn parse(stored: &str, id: &str) -> Tracked {
        serde_json::from_str(stored).unwrap_or_else(|_| Tracked {
            at: stored.to_owned(),
            source_id: id.to_owned(),
            redeemed: true,
            ..Tracked::default()
        })
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The Voucherify order id a transaction's redemption names: the merchant's
/// `orderId` itself, or `cb-pay-{paymentId}` so a payment never collides
/// with an order of the same id.
pub fn source_id(kind: Transaction, id: &str) -> String {
    match kind {
        Transaction::Order => id.to_owned(),
        Transaction::Payment => format!("cb-pay-{id}"),
    }
}

pub fn op_kind(kind: Transaction) -> OpKind {
    match kind {
        Transaction::Order => OpKind::Order,
        Transaction::Payment => OpKind::Payment,
    }
}

/// Redeems an order's (or a payment's) coupons, by lock, by codes, or
/// both, once per order or payment id.
pub async fn order(ctx: &Ctx, cmd: &OrderCmd) -> Result<(), Failure> {
    let order_id = &cmd.order_id;
    let source = source_id(cmd.kind, order_id);
    let reference = cmd.reference.as_deref();
    let codes = &cmd.codes;
    let customer = cmd.customer.as_customer();
    let store = &ctx.app.store;
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &ctx.tenant.name,
        kind: op_kind(cmd.kind),
        id: order_id,
        attempt: &attempt,
        keep: ctx.cfg.locks.order_retention,
    };
    let redeems = reference.is_some() || !codes.is_empty();
    let tracked = |redemption: Option<String>| {
        Tracked {
            at: iso(ctx.now()),
            source_id: source.clone(),
            redemption,
            amount_minor: cmd.amount_minor,
            paid_minor: cmd.paid_minor,
            redeemed: redeems,
            customer_id: Some(cmd.customer.id.clone()),
        }
        .encode()
    };
    // One lease for the order claim and the lock: neither outlives the other.
    let lease = lease_until(ctx);
    match store.claim(&op, ctx.now(), lease).await? {
        Claim::Done(_) => {
            let what = match cmd.kind {
                Transaction::Order => "order",
                Transaction::Payment => "payment",
            };
            return Err(Failure::client(
                Kind::DuplicateOrder,
                format!("Transaction ID Already Exists: {what} {order_id} was already tracked"),
            ));
        }
        Claim::Busy => return Err(in_progress("The order")),
        // An earlier attempt's answer was lost; if Voucherify has the
        // redemption, that attempt succeeded and this retry says so.
        Claim::Resumed { .. } if redeems && order_redeemed(ctx, &source).await? => {
            if let Some(r) = reference {
                settle_unknown_burn(ctx, r).await?;
            }
            // The redemption is found on the Voucherify order at refund time.
            store.settle(&op, Some(&tracked(None))).await?;
            return Ok(());
        }
        Claim::Claimed | Claim::Resumed { .. } => {}
    }

    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: cmd.amount_minor,
        shipping_minor: cmd.shipping_minor,
    };
    let result = match (reference, codes.is_empty()) {
        (None, true) => Ok(None),
        (Some(reference), _) => match use_lock(ctx, reference, &customer, &order, codes, Some(order_id), lease).await {
            Ok(Used::Now(_, rollback_id)) => Ok(rollback_id),
            // This order's own earlier attempt used it.
            Ok(Used::Before(record)) if record.used_by.as_deref() == Some(source.as_str()) => Ok(None),
            Ok(Used::Before(_)) => Err(Failed::from(already_used())),
            Err(f) => Err(f),
        },
        (None, false) => redeem(ctx, codes, &customer, &order, None, metadata(None, Some(order_id))).await,
    };
    match result {
        Ok(rollback_id) => {
            store.settle(&op, Some(&tracked(rollback_id))).await?;
            Ok(())
        }
        Err(failed) => {
            if !failed.outcome_unknown {
                // Nothing was redeemed: the merchant may send this order again.
                store.settle(&op, None).await?;
            }
            Err(failed.failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redemption_metadata_names_the_gameball_side() {
        let m = metadata(Some("ref"), Some("tx"));
        assert_eq!(m["gameball_lock_reference"], "ref");
        assert_eq!(m["gameball_transaction_id"], "tx");
        assert_eq!(m["source"], "couponbridge");
    }
}
