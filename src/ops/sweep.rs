//! The release sweeper: retries the Voucherify session releases that
//! failed when they were due (kept in the store by
//! `super::session::release_sessions`), so a coupon is never left held by
//! a session nobody owns for longer than Voucherify stays unreachable.
//! Every replica sweeps; the store hands each release to one of them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Cx;
use crate::clock::Millis;
use crate::locks::{LockState, PendingRelease};

/// Whether the lock the release came from is live and holds its code
/// (`None`: the store cannot say now).
async fn held_again(cx: &Cx, r: &PendingRelease) -> Option<bool> {
    let Some(reference) = &r.reference else {
        return Some(false);
    };
    match cx.store().get(&r.tenant, reference).await {
        Ok(Some(rec)) => Some(
            matches!(rec.state, LockState::Locked | LockState::Burning)
                && rec.session_key == r.session_key
                && rec.codes.contains(&r.code),
        ),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

/// Releases taken per tenant per round.
const BATCH: usize = 100;

/// How long a taken release is this replica's before another may take it.
const LEASE_MS: i64 = 60_000;

/// The contexts a round sweeps with: one per tenant of the configuration
/// in force, with live effects.
pub type Tenants = Box<dyn Fn() -> Vec<Cx> + Send + Sync>;

/// Sweeps every `every` until `stop` (a round under way finishes).
pub async fn run(tenants: Tenants, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => once(&tenants()).await,
        }
    }
}

/// One round over every tenant.
pub async fn once(tenants: &[Cx]) {
    for cx in tenants {
        let now = cx.now();
        let due = match cx
            .store()
            .take_due_releases(&cx.tenant.name, now, now + LEASE_MS, BATCH)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, "release sweep: lock store unavailable");
                return;
            }
        };
        for r in due {
            let outcome = settle(cx, &r, now).await;
            if let Some(m) = cx.fx.metrics() {
                m.release_retry(outcome);
            }
        }
    }
}

/// One taken release: done (forgotten), or kept for a later round.
async fn settle(cx: &Cx, r: &PendingRelease, now: Millis) -> &'static str {
    let again = |attempts: u32| PendingRelease { attempts, ..r.clone() };
    let (outcome, keep) = if r.until <= now {
        // The session has ended by its TTL.
        ("given_up", None)
    } else {
        match held_again(cx, r).await {
            // A re-lock of the same lock holds the code again, in the same
            // session: the lock owns the hold now.
            Some(true) => ("held_again", None),
            None => ("failed", Some(again(r.attempts))),
            Some(false) => match cx.fx.release(cx.vf(), &r.code, &r.session_key).await {
                Ok(_) => ("released", None),
                Err(e) => {
                    tracing::debug!(code = %r.code, error = %e, attempts = r.attempts + 1, "session release failed again");
                    ("failed", Some(again(r.attempts + 1)))
                }
            },
        }
    };
    // Kept first, forgotten second: a crash between the two leaves it twice
    // (harmless: a release is idempotent), never not at all.
    if let Some(next) = &keep
        && let Err(e) = cx.store().defer_release(next, next.next_try(now)).await
    {
        tracing::warn!(code = %r.code, error = %e, "cannot keep a session release for later; it stays leased");
        return outcome;
    }
    if keep.as_ref() == Some(r) {
        // The same release, only due later: re-scored above, not forgotten.
        return outcome;
    }
    if let Err(e) = cx.store().finish_release(r).await {
        tracing::debug!(code = %r.code, error = %e, "a finished release stays leased; it is retried after the lease");
    }
    outcome
}
