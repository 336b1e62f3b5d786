//! The release sweeper: retries the Voucherify session releases that
//! failed when they were due (kept in the store by
//! `ops::validate::release_sessions`), so a coupon is never left held by
//! a session nobody owns for longer than Voucherify stays unreachable.
//! Every replica sweeps; the store hands each release to one of them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::adapter::App;
use crate::voucherify::client::CallCtx;

/// Releases taken per tenant per round.
const BATCH: usize = 100;

/// Sweeps every `every` until `stop`.
pub async fn run(app: std::sync::Arc<App>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => once(&app).await,
        }
    }
}

/// One round over every tenant of the current configuration.
pub async fn once(app: &App) {
    let cfg = app.current();
    for tenant in cfg.tenants.values() {
        let now = app.clock.now();
        let due = match app.store.take_due_releases(&tenant.name, now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, "release sweep: lock store unavailable");
                return;
            }
        };
        for mut r in due {
            if r.until <= now {
                // The session has ended by its TTL.
                app.metrics.release_retry("given_up");
                continue;
            }
            let ctx = CallCtx {
                request_id: "release-sweeper",
                tap: None,
                trace: None,
            };
            match app
                .voucherify
                .release(&tenant.upstream, &r.code, &r.session_key, ctx)
                .await
            {
                Ok(_) => app.metrics.release_retry("released"),
                Err(e) => {
                    app.metrics.release_retry("failed");
                    r.attempts += 1;
                    let next = r.next_try(now);
                    tracing::debug!(code = %r.code, error = %e, attempts = r.attempts, "session release failed again");
                    if let Err(e) = app.store.defer_release(&r, next).await {
                        tracing::warn!(code = %r.code, error = %e, "cannot keep a session release for later; it ends at its TTL");
                    }
                }
            }
        }
    }
}
