//! Session releases kept for the sweeper (`crate::ops::sweep`).

use crate::clock::Millis;

/// A Voucherify session hold that could not be released when it had to be
/// (Voucherify failing at that moment): kept in the store and retried by
/// the sweeper until Voucherify confirms, or the session would have ended
/// by its TTL anyway. So a coupon is never left held by a session nobody
/// owns for longer than Voucherify stays down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRelease {
    pub tenant: String,
    pub code: String,
    pub session_key: String,
    /// The lock it was released from, if any.
    pub reference: Option<String>,
    /// Past this the session has expired by itself: nothing left to do.
    pub until: Millis,
    /// Tries so far (for the back-off).
    pub attempts: u32,
}

impl PendingRelease {
    /// Its one-line form in the store (also its identity).
    pub(super) fn encode(&self) -> String {
        serde_json::json!([self.code, self.session_key, self.until, self.attempts, self.reference]).to_string()
    }

    pub(super) fn decode(tenant: &str, s: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        Some(PendingRelease {
            tenant: tenant.to_owned(),
            code: v.get(0)?.as_str()?.to_owned(),
            session_key: v.get(1)?.as_str()?.to_owned(),
            until: v.get(2)?.as_i64()?,
            attempts: v.get(3)?.as_u64()? as u32,
            reference: v.get(4).and_then(|r| r.as_str()).map(str::to_owned),
        })
    }

    /// When to try again after `attempts` failures: 1 s doubling, at most
    /// 5 min.
    pub fn next_try(&self, now: Millis) -> Millis {
        now + (1000i64 << self.attempts.min(9)).min(300_000)
    }
}
