//! Release a lock (`DELETE …/coupons/{lockReference}`, its `POST
//! …/coupons/release` alias, the v3.0 `…/{holdReference}/release`).
//!
//! The record turns `released` first (one atomic step, so a concurrent burn
//! or order cannot also win), then every code's Voucherify session is
//! released; Voucherify's 404 means already released. A retried release
//! answers the same again (the stored `releasedAt`) and re-sends the
//! releases, so a release that failed half-way is finished by the retry.

use super::Cx;
use super::redeem::settle_unknown_burn;
use super::session::release_sessions;
use crate::clock::{Millis, iso};
use crate::domain::Released;
use crate::error::{Failure, Kind, Origin, Retry};
use crate::locks::{LockState, ReleaseStart};
use crate::metrics::LockEvent;

fn being_burned() -> Failure {
    Failure::client(
        Kind::InProgress,
        "The lock reference is in use by another request (a burn, an order or a re-lock); retry shortly",
    )
}

pub(crate) fn used_lock(used_at: Option<Millis>) -> Failure {
    Failure::client(
        Kind::LockEnded,
        format!(
            "The lock reference was used at {} and cannot be released",
            used_at.map(iso).unwrap_or_default()
        ),
    )
}

pub async fn run(cx: &Cx, reference: &str) -> Result<Released, Failure> {
    if !cx.fx.is_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let tenant = &cx.tenant.name;
    // At most twice: a stale burn is settled first, then released.
    for _ in 0..2 {
        let (record, released_at) = match cx.store().release(tenant, reference, cx.now()).await? {
            ReleaseStart::Released(record) => {
                cx.lock_event(LockEvent::Released);
                let at = record.released_at.unwrap_or_else(|| cx.now());
                (record, at)
            }
            ReleaseStart::Ended { record, newly_expired } => {
                if newly_expired {
                    cx.lock_event(LockEvent::Expired);
                }
                let at = record.ended_at();
                (record, at)
            }
            ReleaseStart::Used(record) => return Err(used_lock(record.used_at)),
            ReleaseStart::Burning { stale: false } => return Err(being_burned()),
            ReleaseStart::Burning { stale: true } => {
                settle_unknown_burn(cx, reference).await?;
                continue;
            }
            ReleaseStart::Missing => return Err(Failure::lock_not_found()),
        };
        if record.state == LockState::Released
            && !release_sessions(cx, &record.codes, &record.session_key, Some(reference)).await
        {
            return Err(Failure::new(
                Kind::UpstreamUnavailable,
                Origin::Voucherify,
                "The coupon service did not confirm the release; retry it",
            )
            .at("voucherify.release")
            .retry(Retry::Safe));
        }
        if let (LockState::Released, Some(theirs)) = (record.state, &record.gameball_reference) {
            release_theirs(cx, reference, theirs).await;
        }
        return Ok(Released {
            at: released_at,
            codes: record.codes,
        });
    }
    Err(being_burned())
}

/// Gameball's part of a lock that stands for both sides is released with
/// the merchant's own call naming Gameball's reference. Gameball's answer
/// does not change the merchant's: couponbridge's part is released, and a
/// Gameball lock not released ends at its own expiry (logged).
async fn release_theirs(cx: &Cx, reference: &str, theirs: &str) {
    match super::theirs::gameball_side(cx, "release", reference, theirs).await {
        Some(Ok(a)) if a.status < 300 => {}
        Some(Ok(a)) => {
            tracing::warn!(request_id = %cx.request_id, status = a.status, "Gameball refused to release its part of the lock");
        }
        Some(Err(e)) => {
            tracing::warn!(request_id = %cx.request_id, error = %e, "Gameball's part of the lock was not released; it ends at its own expiry");
        }
        None => {}
    }
}
