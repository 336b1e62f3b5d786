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

use super::Cx;
use super::session::release_sessions;
use crate::clock::{Millis, iso};
use crate::domain::{CustomerIds, InvalidReason};
use crate::error::{Failure, Kind};
use crate::ids;
use crate::locks::{Burner, LockRecord, LockState, UseStart};
use crate::metrics::LockEvent;
use crate::translate::{self, RedemptionOrder, invalid_reason};
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
    pub(crate) fn unknown(failure: impl Into<Failure>) -> Self {
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
pub(crate) fn lease_until(cx: &Cx) -> Millis {
    lease_for(cx, 2)
}

/// A lease for an attempt that makes up to `calls` Voucherify calls before
/// its write has surely ended.
pub(crate) fn lease_for(cx: &Cx, calls: i64) -> Millis {
    cx.now() + calls * cx.tenant.upstream_timeout_ms() + LATE_COMMIT_MARGIN_MS
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
pub(crate) fn refused(cx: &Cx, reason: InvalidReason) -> Failure {
    Failure::client(
        Kind::CouponRefused,
        format!("The coupons could not be burned: {}", cx.tenant.messages.text(reason)),
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
pub(crate) async fn order_redeemed(cx: &Cx, source_id: &str) -> Result<bool, Failure> {
    Ok(cx.vf().order(source_id).await?.is_some_and(|o| o.has_live_redemption()))
}

/// Whether an earlier attempt on a lock, whose outcome is unknown, redeemed.
pub(crate) async fn earlier_attempt_redeemed(cx: &Cx, earlier: &LockRecord) -> Result<bool, Failure> {
    match &earlier.used_by {
        Some(source) => order_redeemed(cx, source).await,
        None => Ok(false),
    }
}

/// One redemption request, classified; `Ok` carries the id whose rollback
/// undoes it (for refunds).
pub(crate) async fn redeem(
    cx: &Cx,
    codes: &[String],
    customer: &CustomerIds,
    order: &RedemptionOrder<'_>,
    session_key: Option<&str>,
    metadata: serde_json::Value,
) -> Result<Option<String>, Failed> {
    let request = translate::redemption_request(codes, customer, order, session_key, Some(metadata));
    match cx.fx.redeem(cx.vf(), &request).await {
        Ok(RedeemOutcome::Redeemed(answer)) => {
            // PARTIAL mode redeems what it can; the rest keep their
            // sessions until released here.
            let rollback_id = answer.rollback_id().map(str::to_owned);
            let left: Vec<String> = answer.inapplicable_redeemables.into_iter().map(|r| r.id).collect();
            if !left.is_empty() {
                tracing::warn!(request_id = %cx.request_id, coupons = %left.join(","), "Voucherify redeemed only part of the coupons");
                if let Some(key) = session_key {
                    release_sessions(cx, &left, key, None).await;
                }
            }
            Ok(rollback_id)
        }
        Ok(RedeemOutcome::Refused(status, e)) => {
            let key = e.key.as_deref().unwrap_or("");
            if status == 409 || key == "multiple_requests" {
                // Voucherify's order session is busy: nothing was redeemed,
                // and the same request may succeed in a moment.
                return Err(Failure::in_progress("The order").into());
            }
            Err(refused(cx, invalid_reason(key)).into())
        }
        Err(e) => Err(Failed {
            outcome_unknown: e.outcome_unknown(),
            failure: e.into(),
        }),
    }
}

/// How a lock ended up used.
pub(crate) enum Used {
    /// By this call, at this time, with the redemption to roll back.
    Now(Millis, Option<String>),
    /// By an earlier attempt (this call's own lost attempt, or another);
    /// the caller decides which from `used_by` and `transaction_id`.
    Before(Box<LockRecord>),
}

/// Redeems lock `reference` (and `extra_codes`) on `order`, exactly once.
pub(crate) async fn use_lock(
    cx: &Cx,
    reference: &str,
    customer: &CustomerIds,
    order: &RedemptionOrder<'_>,
    extra_codes: &[String],
    transaction_id: Option<&str>,
    lease: Millis,
) -> Result<Used, Failed> {
    if !cx.fx.is_reference(reference) {
        return Err(Failure::lock_not_found().into());
    }
    let store = &cx.store();
    let t = &cx.tenant.name;
    let attempt = ids::prefixed_hex("att_", 16);
    let burner = Burner {
        attempt: &attempt,
        lease_until: lease,
        order: Some(order.source_id),
        transaction_id,
    };
    // `took_over`: this attempt took the lock from one whose lease ran out
    // (a burn, or a re-lock, that may still be running).
    let (record, took_over) = match store.begin_use(t, reference, cx.now(), burner).await? {
        UseStart::Missing => return Err(Failure::lock_not_found().into()),
        UseStart::Busy => return Err(Failed::unknown(Failure::in_progress("The lock reference"))),
        UseStart::Refused { record, newly_expired } => {
            if newly_expired {
                cx.lock_event(LockEvent::Expired);
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
            if earlier_attempt_redeemed(cx, &earlier).await.map_err(Failed::unknown)? {
                store
                    .finish_use(t, reference, &attempt, cx.now(), true)
                    .await
                    .map_err(Failed::unknown)?;
                cx.lock_event(LockEvent::Burned);
                let mut used = earlier;
                used.state = LockState::Used;
                used.used_at = Some(cx.now());
                return Ok(Used::Before(Box::new(used)));
            }
            (earlier, true)
        }
    };
    if record.customer_id != customer.id {
        store.finish_use(t, reference, &attempt, cx.now(), false).await?;
        return Err(another_customers_lock().into());
    }
    let mut codes = record.codes.clone();
    codes.extend(extra_codes.iter().filter(|c| !record.codes.contains(c)).cloned());
    let order = RedemptionOrder {
        amount_minor: order.amount_minor.or(record.amount_minor),
        ..*order
    };
    let sent = redeem(
        cx,
        &codes,
        customer,
        &order,
        Some(&record.session_key),
        metadata(Some(reference), transaction_id),
    )
    .await;
    match sent {
        Ok(rollback_id) => {
            let now = cx.now();
            // The redemption happened: if it cannot be recorded now, the lock
            // stays `burning` and the next attempt finds it on the order.
            let owned = store
                .finish_use(t, reference, &attempt, now, true)
                .await
                .map_err(Failed::unknown)?;
            if !owned {
                tracing::warn!(request_id = %cx.request_id, "a slow burn finished after its lease; the next attempt reconciles");
            }
            if took_over {
                // The attempt taken over may have held codes in the session
                // after this redemption consumed it: nothing may hold now.
                release_sessions(cx, &codes, &record.session_key, Some(reference)).await;
            }
            cx.lock_event(LockEvent::Burned);
            Ok(Used::Now(now, rollback_id))
        }
        Err(failed) if failed.outcome_unknown => {
            // Stay `burning`: the next attempt settles it after the lease.
            tracing::warn!(request_id = %cx.request_id, "burn outcome unknown; the next attempt will reconcile");
            Err(failed)
        }
        Err(failed) => {
            store.finish_use(t, reference, &attempt, cx.now(), false).await?;
            Err(failed)
        }
    }
}

/// Settles a lock whose burn outcome is unknown (its lease ran out): asks
/// Voucherify about the order the burn named and marks the lock used or
/// returns it to `locked`. Used before a release, and by an order retry.
pub(crate) async fn settle_unknown_burn(cx: &Cx, reference: &str) -> Result<(), Failure> {
    let store = &cx.store();
    let t = &cx.tenant.name;
    let attempt = ids::prefixed_hex("att_", 16);
    let burner = Burner {
        attempt: &attempt,
        lease_until: lease_until(cx),
        order: None,
        transaction_id: None,
    };
    match store.begin_use(t, reference, cx.now(), burner).await? {
        UseStart::Resumed(earlier) => {
            let redeemed = earlier_attempt_redeemed(cx, &earlier).await?;
            store.finish_use(t, reference, &attempt, cx.now(), redeemed).await?;
            if redeemed {
                cx.lock_event(LockEvent::Burned);
            }
        }
        UseStart::Started(_) => {
            // It was plain `locked` again: put it back as it was.
            store.finish_use(t, reference, &attempt, cx.now(), false).await?;
        }
        _ => {}
    }
    Ok(())
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
