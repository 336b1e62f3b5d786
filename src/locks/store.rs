//! The store's face: one type for the memory and Redis backends, every call
//! timed and spanned under its name, and a failure that names the call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::memory::MemoryStore;
use super::redis::RedisStore;
use super::{
    Burner, Claim, Durability, Fault, LockRecord, NewTerms, OpAttempt, OpKind, OpOutcome, PendingRelease, ReleaseStart,
    Relock, UseStart, machine,
};
use crate::clock::{Clock, Millis};
use crate::config::StoreConfig;
use crate::error::{Failure, Kind, Origin, Retry};
use crate::metrics::Metrics;

/// A failed store call: which one (`store.claim`), and why.
#[derive(Debug, thiserror::Error)]
#[error("lock store {op}")]
pub struct StoreError {
    pub op: &'static str,
    #[source]
    pub fault: Fault,
}

impl StoreError {
    /// The call's name in a failure's chain.
    pub fn call(&self) -> &'static str {
        match self.op {
            "create" => "store.create",
            "get" => "store.get",
            "begin_use" => "store.begin_use",
            "finish_use" => "store.finish_use",
            "release" => "store.release",
            "relock" => "store.relock",
            "claim" => "store.claim",
            "settle" => "store.settle",
            "outcome" => "store.outcome",
            "forget" => "store.forget",
            "reference_key" => "store.reference_key",
            "defer_release" => "store.defer_release",
            "take_releases" => "store.take_releases",
            "finish_release" => "store.finish_release",
            "info" => "store.info",
            "ping" => "store.ping",
            "read_note" => "store.read_note",
            "write_note" => "store.write_note",
            "delete_note" => "store.delete_note",
            _ => "store.connect",
        }
    }
}

impl From<StoreError> for Failure {
    /// An unavailable store is retried safely (nothing was written, or what
    /// was is reconciled); an unreadable record will stay unreadable.
    fn from(e: StoreError) -> Self {
        let call = e.call();
        let f = match e.fault {
            Fault::Unavailable(_) => Failure::new(
                Kind::StoreUnavailable,
                Origin::LockStore,
                "The lock store is unavailable; retry later",
            )
            .retry(Retry::Safe),
            Fault::Corrupt(_) | Fault::Config(_) => Failure::new(
                Kind::Internal,
                Origin::LockStore,
                "The lock store returned an unreadable record",
            ),
        };
        f.at(call).caused_by(e)
    }
}

// One per store, behind an Arc: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Memory(MemoryStore),
    Redis(Box<RedisStore>),
}

/// The lock store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// The deployment's reference key (`crate::ids::lock_reference`), read
    /// from (or first written to) the store once.
    reference_key: Arc<tokio::sync::OnceCell<[u8; 32]>>,
    /// `None` for a private store (shadow's), which no metric counts.
    metrics: Option<Arc<Metrics>>,
}

impl Store {
    pub async fn connect(cfg: &StoreConfig, clock: Clock, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let backend = match cfg {
            StoreConfig::Memory => Backend::Memory(MemoryStore::new(clock)),
            StoreConfig::Redis { .. } => Backend::Redis(Box::new(
                RedisStore::connect(cfg)
                    .await
                    .map_err(|fault| StoreError { op: "connect", fault })?,
            )),
        };
        Ok(Store {
            backend: Arc::new(backend),
            reference_key: Arc::default(),
            metrics: Some(metrics),
        })
    }

    /// A store of this process alone, holding at most `max_bytes` of
    /// records (the oldest go first), counted by no metric: what a dry run
    /// writes its locks and claims to.
    pub fn private(clock: Clock, max_bytes: usize) -> Store {
        Store {
            backend: Arc::new(Backend::Memory(MemoryStore::bounded(clock, max_bytes))),
            reference_key: Arc::default(),
            metrics: None,
        }
    }

    /// The backend, as `couponbridge_lock_store_call_duration_seconds`
    /// labels it (`store`).
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// The calls this backend times (the memory store's `ping` and `info`
    /// answer without a call).
    pub fn timed_calls(&self) -> &'static [&'static str] {
        // Redis's calls: the memory store's, then the two only Redis makes.
        const CALLS: [&str; 17] = [
            "create",
            "get",
            "begin_use",
            "finish_use",
            "release",
            "relock",
            "claim",
            "settle",
            "outcome",
            "defer_release",
            "take_releases",
            "finish_release",
            "read_note",
            "write_note",
            "delete_note",
            "ping",
            "info",
        ];
        match &*self.backend {
            Backend::Memory(_) => &CALLS[..15],
            Backend::Redis(_) => &CALLS,
        }
    }

    /// A store call, timed and in its span. The backend's future is boxed:
    /// the Redis client's futures are kilobytes, and unboxed they made every
    /// future awaiting a store call as large, copied on each move (a
    /// validation's operation future was 11 KB, and memmove its hottest
    /// symbol).
    fn timed<'a, T: 'a>(
        &'a self,
        op: &'static str,
        f: impl Future<Output = Result<T, Fault>> + 'a,
    ) -> impl Future<Output = Result<T, StoreError>> + 'a {
        let f = Box::pin(f);
        async move {
            let started = Instant::now();
            let r = f.instrument(crate::call_span!("lock_store", op)).await;
            if let Some(m) = &self.metrics {
                m.lock_store_call(op, self.backend_name(), started.elapsed().as_secs_f64());
            }
            r.map_err(|fault| StoreError { op, fault })
        }
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
                    .with(tenant, reference, |rec| machine::begin_use(rec, now, &burner))
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
                    .with(tenant, reference, |rec| machine::finish_use(rec, attempt, now, used))
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
                    .with(tenant, reference, |rec| machine::release(rec, now))
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

    /// Forgets a settled merchant operation, so the merchant may make it
    /// again (an order Gameball refused after its coupons were redeemed,
    /// once they are rolled back).
    pub async fn forget(&self, tenant: &str, kind: OpKind, id: &str) -> Result<(), StoreError> {
        self.timed("forget", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.forget(tenant, kind, id);
                    Ok(())
                }
                Backend::Redis(r) => r.forget(tenant, kind, id).await,
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

    /// A note `name` of `tenant`'s, shared by every replica on this store
    /// (a tripped rollout guard): `None` when there is none.
    pub async fn read_note(&self, tenant: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.timed("read_note", async {
            match &*self.backend {
                Backend::Memory(m) => Ok(m.read_note(tenant, name)),
                Backend::Redis(r) => r.read_note(tenant, name).await,
            }
        })
        .await
    }

    /// Writes (or replaces) a note, kept until it is deleted.
    pub async fn write_note(&self, tenant: &str, name: &str, value: &str) -> Result<(), StoreError> {
        self.timed("write_note", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.write_note(tenant, name, value);
                    Ok(())
                }
                Backend::Redis(r) => r.write_note(tenant, name, value).await,
            }
        })
        .await
    }

    pub async fn delete_note(&self, tenant: &str, name: &str) -> Result<(), StoreError> {
        self.timed("delete_note", async {
            match &*self.backend {
                Backend::Memory(m) => {
                    m.delete_note(tenant, name);
                    Ok(())
                }
                Backend::Redis(r) => r.delete_note(tenant, name).await,
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

    /// The deployment's reference key: every replica on this store shares
    /// it, a restart on it keeps it; a memory store's lives with it.
    pub async fn reference_key(&self) -> Result<[u8; 32], StoreError> {
        self.reference_key
            .get_or_try_init(|| {
                self.timed("reference_key", async {
                    match &*self.backend {
                        Backend::Memory(_) => Ok(crate::ids::reference_key()),
                        Backend::Redis(r) => r.reference_key(crate::ids::reference_key()).await,
                    }
                })
            })
            .await
            .copied()
    }

    /// Readiness: can the store answer right now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(r) => self.timed("ping", r.ping()).await,
        }
    }
}
