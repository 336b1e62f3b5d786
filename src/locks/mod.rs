//! Lock references and their Voucherify sessions, kept in Redis (or in
//! memory for the demo and single-process tests).
//!
//! A lock is one Gameball `lockReference` → one Voucherify session key, the
//! codes locked under it, the customer, the tenant and the expiry. Its state
//! machine:
//!
//! ```text
//!   locked ──burn/order──▶ burning ──Voucherify redeemed──▶ used
//!     │  ▲                    │
//!     │  └──refused (4xx)─────┘   (an unknown outcome keeps `burning`; the
//!     │                             lease lets a retry take over and
//!     ├──release──▶ released         reconcile with Voucherify first)
//!     └──a burn or release after expiry──▶ expired
//! ```
//!
//! Every transition is one atomic step (a Lua script on Redis, a mutex in
//! memory), so concurrent burn, release and order on one reference have
//! exactly one winner. The same behaviour suite runs against both stores.

mod memory;
mod redis;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::clock::{Clock, Millis};
use crate::config::StoreConfig;
use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockState {
    /// A new lock; `LockRecord::default()` is one.
    #[default]
    Locked,
    Burning,
    Used,
    Released,
    Expired,
}

impl LockState {
    fn as_str(self) -> &'static str {
        match self {
            LockState::Locked => "locked",
            LockState::Burning => "burning",
            LockState::Used => "used",
            LockState::Released => "released",
            LockState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "locked" => LockState::Locked,
            "burning" => LockState::Burning,
            "used" => LockState::Used,
            "released" => LockState::Released,
            "expired" => LockState::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockRecord {
    pub tenant: String,
    pub reference: String,
    pub customer_id: String,
    pub session_key: String,
    pub codes: Vec<String>,
    /// The order amount the coupons were validated against (minor units).
    pub amount_minor: Option<i64>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub state: LockState,
    /// While `burning`: until when this attempt owns the lock.
    pub lease_until: Option<Millis>,
    /// While `burning`: which attempt owns it.
    pub attempt: Option<String>,
    /// What burned (or is burning) it: the Voucherify order source id.
    pub used_by: Option<String>,
    pub used_at: Option<Millis>,
    pub transaction_id: Option<String>,
    pub released_at: Option<Millis>,
}

impl LockRecord {
    /// Expired: marked so, or still `locked` past its expiry.
    pub fn is_expired(&self, now: Millis) -> bool {
        self.state == LockState::Expired || (self.state == LockState::Locked && self.expires_at <= now)
    }

    /// When a finished lock ended: a released one at its release, any
    /// other at its expiry.
    pub fn ended_at(&self) -> Millis {
        match self.state {
            LockState::Released => self.released_at.unwrap_or(self.expires_at),
            _ => self.expires_at,
        }
    }

    /// The Redis hash fields of this record.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("t", self.tenant.clone()),
            ("r", self.reference.clone()),
            ("c", self.customer_id.clone()),
            ("k", self.session_key.clone()),
            (
                "codes",
                serde_json::to_string(&self.codes).unwrap_or_else(|_| "[]".into()),
            ),
            ("ca", self.created_at.to_string()),
            ("ea", self.expires_at.to_string()),
            ("st", self.state.as_str().to_owned()),
        ];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                f.push((k, v));
            }
        };
        opt("amt", self.amount_minor.map(|a| a.to_string()));
        opt("lease", self.lease_until.map(|a| a.to_string()));
        opt("att", self.attempt.clone());
        opt("by", self.used_by.clone());
        opt("ua", self.used_at.map(|a| a.to_string()));
        opt("tx", self.transaction_id.clone());
        opt("ra", self.released_at.map(|a| a.to_string()));
        f
    }

    /// A record from its Redis hash fields.
    pub fn from_fields(f: &HashMap<String, String>) -> Result<Self, StoreError> {
        let bad = |what: &str| StoreError::Corrupt(format!("lock record field {what}"));
        let text = |k: &str| f.get(k).cloned();
        let num = |k: &str| -> Result<Option<i64>, StoreError> {
            f.get(k).map(|v| v.parse::<i64>().map_err(|_| bad(k))).transpose()
        };
        Ok(LockRecord {
            tenant: text("t").ok_or_else(|| bad("t"))?,
            reference: text("r").ok_or_else(|| bad("r"))?,
            customer_id: text("c").ok_or_else(|| bad("c"))?,
            session_key: text("k").ok_or_else(|| bad("k"))?,
            codes: serde_json::from_str(f.get("codes").ok_or_else(|| bad("codes"))?).map_err(|_| bad("codes"))?,
            amount_minor: num("amt")?,
            created_at: num("ca")?.ok_or_else(|| bad("ca"))?,
            expires_at: num("ea")?.ok_or_else(|| bad("ea"))?,
            state: f.get("st").and_then(|s| LockState::parse(s)).ok_or_else(|| bad("st"))?,
            lease_until: num("lease")?,
            attempt: text("att"),
            used_by: text("by"),
            used_at: num("ua")?,
            transaction_id: text("tx"),
            released_at: num("ra")?,
        })
    }
}

/// The answer to "may this attempt burn the lock?".
#[derive(Debug, Clone, PartialEq)]
pub enum UseStart {
    /// It was `locked`; this attempt now owns it.
    Started(LockRecord),
    /// A previous attempt's lease ran out with its outcome unknown; this
    /// attempt owns it now and must first ask Voucherify whether the
    /// previous one (`record.used_by`, as it was) redeemed.
    Resumed(LockRecord),
    /// Another attempt is under way.
    Busy,
    /// Used, released, or expired: nothing to burn. `newly_expired` is true
    /// for the one call that found it expired first.
    Refused {
        record: LockRecord,
        newly_expired: bool,
    },
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseStart {
    /// It was `locked`: now `released`.
    Released(LockRecord),
    /// Already released or expired (`newly_expired` for the first call to
    /// find it so): nothing locked any more, the same answer again.
    Ended {
        record: LockRecord,
        newly_expired: bool,
    },
    /// It was burned.
    Used(LockRecord),
    /// A burn is under way (`stale`: its lease ran out, outcome unknown).
    Burning {
        stale: bool,
    },
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Relock {
    Updated,
    /// Used, released, burning or expired meanwhile.
    NotLocked,
    Missing,
}

/// A live lock's new terms after re-validation.
pub struct NewTerms<'a> {
    pub codes: &'a [String],
    pub amount: Option<i64>,
    pub expires_at: Millis,
    /// How long the record is kept from now.
    pub keep: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Order,
    Burn,
    /// An SDK-era redemption of one code by one customer.
    Redeem,
    /// A payment with coupons (`paymentId`).
    Payment,
    /// The reversal of an order or payment (keyed by the original's id).
    Reversal,
    /// A coupon bought with points (customer + rule, or an idempotency key).
    Points,
}

impl OpKind {
    fn as_str(self) -> &'static str {
        match self {
            OpKind::Order => "order",
            OpKind::Burn => "burn",
            OpKind::Redeem => "redeem",
            OpKind::Payment => "payment",
            OpKind::Reversal => "reversal",
            OpKind::Points => "points",
        }
    }
}

/// One attempt at a merchant operation (an order id, a burn transaction
/// id): what is claimed, by which attempt, and how long its outcome is kept.
#[derive(Debug, Clone, Copy)]
pub struct OpAttempt<'a> {
    pub tenant: &'a str,
    pub kind: OpKind,
    pub id: &'a str,
    pub attempt: &'a str,
    pub keep: Duration,
}

/// Claiming a merchant operation (an order id, a burn transaction id) so it
/// is carried out once.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Claimed,
    /// A previous attempt's lease ran out with its outcome unknown. `first`
    /// is the id of the attempt that opened the claim: it stays the same
    /// through every resumption, so an operation that names its work after
    /// it (a Voucherify order) finds all of it, however many attempts
    /// failed on the way.
    Resumed {
        first: String,
    },
    Busy,
    /// Done before; carries what that attempt stored.
    Done(String),
}

/// A merchant operation as [`Store::outcome`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum OpOutcome {
    /// Never claimed, or no longer kept.
    Unknown,
    /// Claimed, not settled: under way, or its outcome unknown.
    Pending,
    /// Done; what it stored.
    Done(String),
}

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
    fn encode(&self) -> String {
        serde_json::json!([self.code, self.session_key, self.until, self.attempts, self.reference]).to_string()
    }

    fn decode(tenant: &str, s: &str) -> Option<Self> {
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

/// Whether the store keeps acknowledged locks through a crash, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    pub durable: bool,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("lock store unavailable: {0}")]
    Unavailable(String),
    #[error("lock store holds an unreadable record: {0}")]
    Corrupt(String),
    #[error("lock store configuration: {0}")]
    Config(String),
}

// ---------------------------------------------------------------------------
// The transitions, as plain functions (the memory store runs these; the
// Redis scripts are their Lua twins)
// ---------------------------------------------------------------------------

/// Who is burning a lock: the attempt, the Voucherify order it redeems on,
/// and the merchant's transaction id. `order: None` keeps the previous
/// attempt's order and transaction (a reconciliation that only settles what
/// that attempt did).
#[derive(Debug, Clone, Copy)]
pub struct Burner<'a> {
    pub attempt: &'a str,
    pub lease_until: Millis,
    pub order: Option<&'a str>,
    pub transaction_id: Option<&'a str>,
}

fn take_over(rec: &mut LockRecord, b: &Burner<'_>) {
    rec.lease_until = Some(b.lease_until);
    rec.attempt = Some(b.attempt.to_owned());
    if let Some(order) = b.order {
        rec.used_by = Some(order.to_owned());
        rec.transaction_id = b.transaction_id.map(str::to_owned);
    }
}

fn begin_use(rec: &mut LockRecord, now: Millis, b: &Burner<'_>) -> UseStart {
    match rec.state {
        LockState::Locked if rec.expires_at <= now => {
            rec.state = LockState::Expired;
            UseStart::Refused {
                record: rec.clone(),
                newly_expired: true,
            }
        }
        LockState::Locked => {
            rec.state = LockState::Burning;
            take_over(rec, b);
            UseStart::Started(rec.clone())
        }
        LockState::Burning if rec.lease_until.unwrap_or(0) > now => UseStart::Busy,
        LockState::Burning => {
            let previous = rec.clone();
            take_over(rec, b);
            UseStart::Resumed(previous)
        }
        LockState::Used | LockState::Released | LockState::Expired => UseStart::Refused {
            record: rec.clone(),
            newly_expired: false,
        },
    }
}

fn finish_use(rec: &mut LockRecord, attempt: &str, now: Millis, used: bool) -> bool {
    if rec.state != LockState::Burning || rec.attempt.as_deref() != Some(attempt) {
        return false;
    }
    if used {
        rec.state = LockState::Used;
        rec.used_at = Some(now);
    } else {
        rec.state = LockState::Locked;
    }
    rec.lease_until = None;
    rec.attempt = None;
    true
}

fn release(rec: &mut LockRecord, now: Millis) -> ReleaseStart {
    match rec.state {
        LockState::Locked if rec.expires_at <= now => {
            rec.state = LockState::Expired;
            ReleaseStart::Ended {
                record: rec.clone(),
                newly_expired: true,
            }
        }
        LockState::Locked => {
            rec.state = LockState::Released;
            rec.released_at = Some(now);
            ReleaseStart::Released(rec.clone())
        }
        LockState::Burning => ReleaseStart::Burning {
            stale: rec.lease_until.unwrap_or(0) <= now,
        },
        LockState::Used => ReleaseStart::Used(rec.clone()),
        LockState::Released | LockState::Expired => ReleaseStart::Ended {
            record: rec.clone(),
            newly_expired: false,
        },
    }
}

/// A re-lock holds the lock as `burning` under its attempt (so no burn,
/// order or release interleaves with it) and ends here: the new terms, and
/// `locked` again.
fn relock(rec: &mut LockRecord, attempt: &str, terms: &NewTerms<'_>) -> Relock {
    if rec.state != LockState::Burning || rec.attempt.as_deref() != Some(attempt) {
        return Relock::NotLocked;
    }
    rec.codes = terms.codes.to_vec();
    rec.amount_minor = terms.amount;
    rec.expires_at = terms.expires_at;
    rec.state = LockState::Locked;
    rec.lease_until = None;
    rec.attempt = None;
    Relock::Updated
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

enum Backend {
    Memory(memory::MemoryStore),
    Redis(Box<redis::RedisStore>),
}

/// The lock store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    metrics: Arc<Metrics>,
}

impl Store {
    pub async fn connect(cfg: &StoreConfig, clock: Clock, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let backend = match cfg {
            StoreConfig::Memory => Backend::Memory(memory::MemoryStore::new(clock)),
            StoreConfig::Redis { .. } => Backend::Redis(Box::new(redis::RedisStore::connect(cfg).await?)),
        };
        Ok(Store {
            backend: Arc::new(backend),
            metrics,
        })
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let r = f.instrument(crate::call_span!("lock_store", op)).await;
        self.metrics.redis_call(op, started.elapsed().as_secs_f64());
        r
    }

    /// Writes a new lock, kept for `keep` (its TTL plus the retention).
    /// Returns once the store has acknowledged the write.
    pub async fn create(&self, rec: &LockRecord, keep: Duration) -> Result<(), StoreError> {
        self.timed("create", async {
            match &*self.backend {
                Backend::Memory(m) => m.create(rec, keep),
                Backend::Redis(r) => r.create(rec, keep).await,
            }
        })
        .await
    }

    pub async fn get(&self, tenant: &str, reference: &str) -> Result<Option<LockRecord>, StoreError> {
        self.timed("get", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.get(tenant, reference)),
                Backend::Redis(r) => r.get(tenant, reference).await,
            }
        })
        .await
    }

    pub async fn begin_use(
        &self,
        tenant: &str,
        reference: &str,
        now: Millis,
        burner: Burner<'_>,
    ) -> Result<UseStart, StoreError> {
        self.timed("begin_use", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m
                    .with(tenant, reference, |rec| begin_use(rec, now, &burner))
                    .unwrap_or(UseStart::Missing)),
                Backend::Redis(r) => r.begin_use(tenant, reference, now, &burner).await,
            }
        })
        .await
    }

    /// Ends this attempt's burn: `used` or back to `locked`. Returns false
    /// when the attempt no longer owns the lock.
    pub async fn finish_use(
        &self,
        tenant: &str,
        reference: &str,
        attempt: &str,
        now: Millis,
        used: bool,
    ) -> Result<bool, StoreError> {
        self.timed("finish_use", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m
                    .with(tenant, reference, |rec| finish_use(rec, attempt, now, used))
                    .unwrap_or(false)),
                Backend::Redis(r) => r.finish_use(tenant, reference, attempt, now, used).await,
            }
        })
        .await
    }

    pub async fn release(&self, tenant: &str, reference: &str, now: Millis) -> Result<ReleaseStart, StoreError> {
        self.timed("release", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m
                    .with(tenant, reference, |rec| release(rec, now))
                    .unwrap_or(ReleaseStart::Missing)),
                Backend::Redis(r) => r.release(tenant, reference, now).await,
            }
        })
        .await
    }

    /// Replaces a live lock's codes and expiry (re-validation into an
    /// existing lock).
    /// Ends a re-lock begun with [`Store::begin_use`] by `attempt`.
    pub async fn relock(
        &self,
        tenant: &str,
        reference: &str,
        attempt: &str,
        terms: NewTerms<'_>,
    ) -> Result<Relock, StoreError> {
        self.timed("relock", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.relock(tenant, reference, attempt, &terms)),
                Backend::Redis(r) => r.relock(tenant, reference, attempt, &terms).await,
            }
        })
        .await
    }

    pub async fn claim(&self, op: &OpAttempt<'_>, now: Millis, lease_until: Millis) -> Result<Claim, StoreError> {
        self.timed("claim", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.claim(op, now, lease_until)),
                Backend::Redis(r) => r.claim(op, now, lease_until).await,
            }
        })
        .await
    }

    /// Ends a claimed operation: `Some(result)` marks it done (kept for
    /// `op.keep`), `None` forgets it so the merchant may try again.
    pub async fn settle(&self, op: &OpAttempt<'_>, result: Option<&str>) -> Result<(), StoreError> {
        self.timed("settle", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.settle(op, result);
                    Ok(())
                }
                Backend::Redis(r) => r.settle(op, result).await,
            }
        })
        .await
    }

    /// Where a merchant operation is, read without claiming it.
    pub async fn outcome(&self, tenant: &str, kind: OpKind, id: &str) -> Result<OpOutcome, StoreError> {
        self.timed("outcome", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.outcome(tenant, kind, id)),
                Backend::Redis(r) => r.outcome(tenant, kind, id).await,
            }
        })
        .await
    }

    /// Keeps `r` for the sweeper, due at `due`.
    pub async fn defer_release(&self, r: &PendingRelease, due: Millis) -> Result<(), StoreError> {
        self.timed("defer_release", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.defer_release(r, due);
                    Ok(())
                }
                Backend::Redis(s) => s.defer_release(r, due).await,
            }
        })
        .await
    }

    /// Takes up to `limit` of `tenant`'s releases due by `now`, each leased
    /// to the caller until `lease_until` in the same step: one replica
    /// takes each, and one that crashes leaves it due again.
    pub async fn take_due_releases(
        &self,
        tenant: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<PendingRelease>, StoreError> {
        self.timed("take_releases", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.take_due_releases(tenant, now, lease_until, limit)),
                Backend::Redis(s) => s.take_due_releases(tenant, now, lease_until, limit).await,
            }
        })
        .await
    }

    /// Forgets a release taken with [`Store::take_due_releases`].
    pub async fn finish_release(&self, r: &PendingRelease) -> Result<(), StoreError> {
        self.timed("finish_release", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.finish_release(r);
                    Ok(())
                }
                Backend::Redis(s) => s.finish_release(r).await,
            }
        })
        .await
    }

    /// What a crash of the store would lose (`[store] durability`).
    pub async fn durability(&self) -> Result<Durability, StoreError> {
        match &*self.backend {
            Backend::Memory(_) => Ok(Durability {
                durable: false,
                detail: "the memory store keeps locks in this process only: a restart loses them".to_owned(),
            }),
            Backend::Redis(r) => self.timed("info", r.durability()).await,
        }
    }

    /// Readiness: can the store answer right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => self.timed("ping", r.ping()).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> LockRecord {
        LockRecord {
            tenant: "shop".into(),
            reference: "r".into(),
            customer_id: "c".into(),
            session_key: "k".into(),
            codes: vec!["A".into(), "B".into()],
            amount_minor: Some(1000),
            created_at: 0,
            expires_at: 100,
            ..LockRecord::default()
        }
    }

    #[test]
    fn fields_round_trip() {
        let mut r = rec();
        r.state = LockState::Burning;
        r.lease_until = Some(5);
        r.attempt = Some("a".into());
        r.used_by = Some("order:1".into());
        let fields: HashMap<String, String> = r.to_fields().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(LockRecord::from_fields(&fields).unwrap(), r);
    }

    #[test]
    fn a_burn_owns_the_lock_until_it_finishes_or_its_lease_ends() {
        let mut r = rec();
        let burner = |attempt, lease_until, order| Burner {
            attempt,
            lease_until,
            order,
            transaction_id: order.map(|_| "tx"),
        };
        assert!(matches!(
            begin_use(&mut r, 10, &burner("a1", 20, Some("cb-r"))),
            UseStart::Started(_)
        ));
        assert_eq!(begin_use(&mut r, 11, &burner("a2", 21, Some("cb-r"))), UseStart::Busy);
        assert!(matches!(release(&mut r, 12), ReleaseStart::Burning { stale: false }));
        assert!(!finish_use(&mut r, "a2", 13, true), "only the owner finishes");
        // The first attempt went silent; after its lease a retry takes over,
        // keeping the first attempt's order and transaction.
        let resumed = begin_use(&mut r, 25, &burner("a3", 35, None));
        assert!(matches!(resumed, UseStart::Resumed(prev) if prev.attempt.as_deref() == Some("a1")));
        assert!(finish_use(&mut r, "a3", 26, true));
        assert_eq!(r.state, LockState::Used);
        assert_eq!(
            (r.used_by.as_deref(), r.transaction_id.as_deref()),
            (Some("cb-r"), Some("tx"))
        );
        let again = begin_use(&mut r, 27, &burner("a4", 37, Some("cb-r")));
        assert!(matches!(
            again,
            UseStart::Refused {
                newly_expired: false,
                ..
            }
        ));
        assert!(matches!(release(&mut r, 28), ReleaseStart::Used(_)));
    }

    #[test]
    fn a_refused_burn_returns_the_lock() {
        let mut r = rec();
        let b = Burner {
            attempt: "a1",
            lease_until: 20,
            order: Some("cb-r"),
            transaction_id: None,
        };
        begin_use(&mut r, 10, &b);
        assert!(finish_use(&mut r, "a1", 11, false));
        assert_eq!(r.state, LockState::Locked);
        assert!(matches!(release(&mut r, 12), ReleaseStart::Released(_)));
        assert!(matches!(
            release(&mut r, 13),
            ReleaseStart::Ended {
                newly_expired: false,
                ..
            }
        ));
    }

    #[test]
    fn expiry_is_found_once() {
        let mut r = rec();
        assert!(matches!(
            release(&mut r, 100),
            ReleaseStart::Ended {
                newly_expired: true,
                ..
            }
        ));
        assert!(matches!(
            release(&mut r, 101),
            ReleaseStart::Ended {
                newly_expired: false,
                ..
            }
        ));
        let b = Burner {
            attempt: "a",
            lease_until: 110,
            order: Some("x"),
            transaction_id: None,
        };
        assert!(matches!(
            begin_use(&mut r, 102, &b),
            UseStart::Refused {
                newly_expired: false,
                ..
            }
        ));
        assert!(r.is_expired(50), "marked expired stays expired");
    }

    #[test]
    fn relock_ends_only_its_own_hold() {
        let mut r = rec();
        let codes = vec!["C".to_string()];
        let terms = |expires_at| NewTerms {
            codes: &codes,
            amount: None,
            expires_at,
            keep: Duration::ZERO,
        };
        assert_eq!(relock(&mut r, "a1", &terms(200)), Relock::NotLocked, "not held");
        let hold = |attempt| Burner {
            attempt,
            lease_until: 50,
            order: None,
            transaction_id: None,
        };
        assert!(matches!(begin_use(&mut r, 10, &hold("a1")), UseStart::Started(_)));
        assert_eq!(
            relock(&mut r, "a2", &terms(200)),
            Relock::NotLocked,
            "another attempt's hold"
        );
        assert_eq!(relock(&mut r, "a1", &terms(200)), Relock::Updated);
        assert_eq!(
            (r.codes.clone(), r.expires_at, r.state),
            (codes.clone(), 200, LockState::Locked)
        );
        assert!(r.attempt.is_none() && r.lease_until.is_none());
        release(&mut r, 11);
        assert_eq!(relock(&mut r, "a1", &terms(300)), Relock::NotLocked);
    }
}
