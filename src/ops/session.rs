//! Releasing Voucherify sessions: every code's hold under a session key,
//! all at once; one Voucherify does not confirm is kept in the store for
//! the sweeper ([`super::sweep`]).

use super::Cx;
use crate::locks::PendingRelease;

/// Releases a session on each code. One Voucherify does not confirm is
/// kept in the store for the sweeper ([`super::sweep`]), which
/// retries it until Voucherify does: no hold outlives its lock for longer
/// than Voucherify stays down. `false` when any was not confirmed now.
///
/// `reference` names the lock the session belongs to, if there is one: a
/// later re-lock of it may hold the code again in the same session, and
/// then the sweeper leaves it.
pub(crate) async fn release_sessions(cx: &Cx, codes: &[String], session_key: &str, reference: Option<&str>) -> bool {
    let calls = codes.iter().map(|code| cx.fx.release(cx.vf(), code, session_key));
    let mut all_done = true;
    for (code, result) in codes.iter().zip(futures_util::future::join_all(calls).await) {
        if let Err(e) = result {
            all_done = false;
            let pending = PendingRelease {
                tenant: cx.tenant.name.clone(),
                code: code.clone(),
                session_key: session_key.to_owned(),
                reference: reference.map(str::to_owned),
                until: cx.now() + cx.locks.max_duration.as_millis() as i64,
                attempts: 0,
            };
            match cx.store().defer_release(&pending, cx.now()).await {
                Ok(()) => {
                    if let Some(m) = cx.fx.metrics() {
                        m.release_retry("deferred");
                    }
                    tracing::warn!(request_id = %cx.request_id, code, error = %e, "session release failed; the sweeper retries it");
                }
                Err(store) => {
                    tracing::warn!(request_id = %cx.request_id, code, error = %e, store = %store, "session release failed and cannot be kept for a retry; it ends at its TTL");
                }
            }
        }
    }
    all_done
}
