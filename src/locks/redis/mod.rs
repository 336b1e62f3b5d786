//! The Redis store: standalone (one multiplexed, auto-reconnecting
//! connection), Redis Cluster, or Sentinel-managed.
//!
//! Keys: `cb:{<tenant>:<reference>}:lock` (a hash) and
//! `cb:{<tenant>:<kind>:<id>}:op`. The hash tag holds the tenant, so keys
//! are namespaced per tenant (another tenant's reference is simply another
//! key) and every key a script touches lives in one Cluster slot. A new
//! lock is one `SET … PX … NX` of a string (see `UNPACK`); every transition
//! is one Lua script (`../lua/`), the twin of a function in `../machine.rs`.
//!
//! Sentinel failovers are followed in `conn`. A failed command is not
//! retried here (a lock write may have happened); the caller's client sees
//! a 503 and retries the whole, idempotent-or-reconciled, operation.

mod conn;
mod notes;

use std::collections::HashMap;
use std::time::Duration;

use redis::{RedisError, Script, Value};

use conn::{Conn, Connection};

use super::{Burner, Claim, Fault, LockRecord, NewTerms, OpAttempt, OpKind, OpOutcome, ReleaseStart, Relock, UseStart};
use crate::clock::Millis;
use crate::config::StoreConfig;

/// A new lock is one string, written with `SET … PX … NX` (no script: the
/// create path is the hot one, and Redis spends a fraction of a script's
/// CPU on a plain SET of one value). Its value is the record's hash fields
/// as a JSON array `[field, value, …]`. The first transition turns it into
/// the hash every script works on (this prologue, run first by each of
/// them), keeping its expiry; a record written as a hash by an earlier
/// version is used as it is.
const UNPACK: &str = include_str!("../lua/unpack.lua");

const BEGIN_USE: &str = include_str!("../lua/begin_use.lua");

const FINISH_USE: &str = include_str!("../lua/finish_use.lua");

const RELEASE: &str = include_str!("../lua/release.lua");

const RELOCK: &str = include_str!("../lua/relock.lua");

const CLAIM: &str = include_str!("../lua/claim.lua");

const SETTLE: &str = include_str!("../lua/settle.lua");

struct Scripts {
    begin_use: Script,
    finish_use: Script,
    release: Script,
    relock: Script,
    claim: Script,
    settle: Script,
    take_releases: Script,
}

/// Due releases, each leased to the caller (scored `ARGV[2]`) in the same
/// step: one replica takes each, and a crash leaves it due again.
const TAKE_RELEASES: &str = include_str!("../lua/take_releases.lua");

pub struct RedisStore {
    conn: Connection,
    scripts: Scripts,
    /// `WAIT` for this many replicas after a lock write (0: none).
    wait_replicas: u32,
    wait_timeout: Duration,
}

fn lock_key(tenant: &str, reference: &str) -> String {
    format!("cb:{{{tenant}:{reference}}}:lock")
}

/// One sorted set per tenant: member the release, score when it is due.
fn releases_key(tenant: &str) -> String {
    format!("cb:{{{tenant}}}:releases")
}

fn op_key(tenant: &str, kind: OpKind, id: &str) -> String {
    format!("cb:{{{tenant}:{}:{id}}}:op", kind.as_str())
}

/// A script answer `{status, HGETALL...}` as its status and record.
fn status_and_record(v: Value) -> Result<(String, Option<LockRecord>), Fault> {
    let items: Vec<Value> = redis::from_redis_value(v).map_err(|e| Fault::Corrupt(format!("script answer: {e}")))?;
    let mut it = items.into_iter();
    let status: String = it
        .next()
        .map(redis::from_redis_value)
        .transpose()
        .map_err(|e| Fault::Corrupt(format!("script status: {e}")))?
        .unwrap_or_default();
    let record = match it.next() {
        Some(v) => {
            let fields: HashMap<String, String> =
                redis::from_redis_value(v).map_err(|e| Fault::Corrupt(format!("record: {e}")))?;
            Some(LockRecord::from_fields(&fields)?)
        }
        None => None,
    };
    Ok((status, record))
}

/// A script that works on a lock record: it starts by unpacking a new
/// lock's string into the hash.
fn on_record(body: &str) -> Script {
    Script::new(&format!("{UNPACK}{body}"))
}

/// A new lock's string: its hash fields as `[field, value, …]`.
fn pack(rec: &LockRecord) -> String {
    let fields = rec.to_fields();
    let flat: Vec<&str> = fields.iter().flat_map(|(k, v)| [*k, v.as_str()]).collect();
    serde_json::to_string(&flat).unwrap_or_else(|_| "[]".into())
}

fn unpack(packed: &[u8]) -> Result<LockRecord, Fault> {
    let flat: Vec<String> =
        serde_json::from_slice(packed).map_err(|e| Fault::Corrupt(format!("packed record: {e}")))?;
    let fields: HashMap<String, String> = flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
    LockRecord::from_fields(&fields)
}

fn record(r: Option<LockRecord>) -> Result<LockRecord, Fault> {
    r.ok_or_else(|| Fault::Corrupt("script answered without the record".into()))
}

impl RedisStore {
    pub async fn connect(cfg: &StoreConfig) -> Result<Self, Fault> {
        let StoreConfig::Redis {
            wait_replicas,
            wait_timeout,
            ..
        } = cfg
        else {
            return Err(Fault::Config("not a Redis store".into()));
        };
        Ok(RedisStore {
            conn: Connection::open(cfg).await?,
            wait_replicas: *wait_replicas,
            wait_timeout: *wait_timeout,
            scripts: Scripts {
                begin_use: on_record(BEGIN_USE),
                finish_use: on_record(FINISH_USE),
                release: on_record(RELEASE),
                relock: on_record(RELOCK),
                claim: Script::new(CLAIM),
                take_releases: Script::new(TAKE_RELEASES),
                settle: Script::new(SETTLE),
            },
        })
    }

    fn conn(&self) -> Conn {
        self.conn.get()
    }

    async fn answer<T>(&self, r: redis::RedisResult<T>) -> Result<T, Fault> {
        self.conn.answer(r).await
    }

    pub async fn ping(&self) -> Result<(), Fault> {
        self.conn.ping().await
    }

    async fn run(&self, inv: &redis::ScriptInvocation<'_>) -> Result<Value, Fault> {
        let mut conn = self.conn();
        let r = inv.invoke_async::<Value>(&mut conn).await;
        self.answer(r).await
    }

    /// A script whose answer is a plain value.
    async fn run_as<T: redis::FromRedisValue>(&self, inv: &redis::ScriptInvocation<'_>) -> Result<T, Fault> {
        redis::from_redis_value(self.run(inv).await?).map_err(|e| Fault::Corrupt(e.to_string()))
    }

    pub async fn create(&self, rec: &LockRecord, keep: Duration) -> Result<(), Fault> {
        let key = lock_key(&rec.tenant, &rec.reference);
        let mut conn = self.conn();
        let r = redis::cmd("SET")
            .arg(&key)
            .arg(pack(rec))
            .arg("PX")
            .arg((keep.as_millis() as u64).max(1))
            .arg("NX")
            .query_async::<Option<String>>(&mut conn)
            .await;
        match self.answer(r).await? {
            Some(_) => self.replicated(&key).await,
            None => Err(Fault::Corrupt("lock reference collision".into())),
        }
    }

    /// The record, as a new lock's string or a hash (after a transition,
    /// or written by an earlier version): both asked in one round trip.
    pub async fn get(&self, tenant: &str, reference: &str) -> Result<Option<LockRecord>, Fault> {
        let key = lock_key(tenant, reference);
        let mut conn = self.conn();
        let r = redis::pipe()
            .ignore_errors()
            .cmd("GET")
            .arg(&key)
            .cmd("HGETALL")
            .arg(&key)
            .query_async::<(Value, Value)>(&mut conn)
            .await;
        match self.answer(r).await? {
            (Value::BulkString(packed), _) => unpack(&packed).map(Some),
            (_, Value::ServerError(e)) => Err(Fault::unavailable(format!("HGETALL: {e:?}"))),
            (_, fields) => {
                let fields: HashMap<String, String> =
                    redis::from_redis_value(fields).map_err(|e| Fault::Corrupt(format!("record: {e}")))?;
                if fields.is_empty() {
                    return Ok(None);
                }
                LockRecord::from_fields(&fields).map(Some)
            }
        }
    }

    pub async fn begin_use(
        &self,
        tenant: &str,
        reference: &str,
        now: Millis,
        b: &Burner<'_>,
    ) -> Result<UseStart, Fault> {
        let mut inv = self.scripts.begin_use.key(lock_key(tenant, reference));
        inv.arg(now)
            .arg(b.lease_until)
            .arg(b.attempt)
            .arg(b.order.unwrap_or(""))
            .arg(b.transaction_id.unwrap_or(""));
        let (status, rec) = status_and_record(self.run(&inv).await?)?;
        Ok(match status.as_str() {
            "missing" => UseStart::Missing,
            "busy" => UseStart::Busy,
            "started" => UseStart::Started(record(rec)?),
            "resumed" => UseStart::Resumed(record(rec)?),
            "expired_now" => UseStart::Refused {
                record: record(rec)?,
                newly_expired: true,
            },
            _ => UseStart::Refused {
                record: record(rec)?,
                newly_expired: false,
            },
        })
    }

    pub async fn finish_use(
        &self,
        tenant: &str,
        reference: &str,
        attempt: &str,
        now: Millis,
        used: bool,
    ) -> Result<bool, Fault> {
        let mut inv = self.scripts.finish_use.key(lock_key(tenant, reference));
        inv.arg(attempt).arg(if used { "used" } else { "failed" }).arg(now);
        let done: i64 = self.run_as(&inv).await?;
        if done == 1 && used {
            self.replicated(&lock_key(tenant, reference)).await?;
        }
        Ok(done == 1)
    }

    /// With `wait_replicas`, waits until that many replicas have the
    /// writes made so far (on the primary that owns `key`), so a failover
    /// cannot lose the lock just written. Fewer in time is a failure: the
    /// caller does not hand out (or settle) what may be lost.
    async fn replicated(&self, key: &str) -> Result<(), Fault> {
        if self.wait_replicas == 0 {
            return Ok(());
        }
        let mut wait = redis::cmd("WAIT");
        wait.arg(self.wait_replicas).arg(self.wait_timeout.as_millis() as u64);
        let acked: redis::RedisResult<i64> = match self.conn() {
            Conn::Single(mut c) => wait.query_async(&mut c).await,
            Conn::Cluster(mut c) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let to = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
                    key,
                    SlotAddr::Master,
                )));
                c.route_command(wait, to)
                    .await
                    .and_then(|v| redis::from_redis_value(v).map_err(RedisError::from))
            }
        };
        let acked = self.answer(acked).await?;
        if acked < i64::from(self.wait_replicas) {
            return Err(Fault::unavailable(format!(
                "WAIT: {acked} of {} replicas acknowledged within {:?}",
                self.wait_replicas, self.wait_timeout
            )));
        }
        Ok(())
    }

    pub async fn defer_release(&self, r: &super::PendingRelease, due: Millis) -> Result<(), Fault> {
        let mut conn = self.conn();
        let added: redis::RedisResult<i64> = redis::cmd("ZADD")
            .arg(releases_key(&r.tenant))
            .arg(due)
            .arg(r.encode())
            .query_async(&mut conn)
            .await;
        self.answer(added).await.map(|_| ())
    }

    pub async fn take_due_releases(
        &self,
        tenant: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Result<Vec<super::PendingRelease>, Fault> {
        let mut inv = self.scripts.take_releases.key(releases_key(tenant));
        inv.arg(now).arg(lease_until).arg(limit);
        let members: Vec<String> = self.run_as(&inv).await?;
        Ok(members
            .iter()
            .filter_map(|m| super::PendingRelease::decode(tenant, m))
            .collect())
    }

    pub async fn finish_release(&self, r: &super::PendingRelease) -> Result<(), Fault> {
        let mut conn = self.conn();
        let removed: redis::RedisResult<i64> = redis::cmd("ZREM")
            .arg(releases_key(&r.tenant))
            .arg(r.encode())
            .query_async(&mut conn)
            .await;
        self.answer(removed).await.map(|_| ())
    }

    /// Whether every primary keeps an acknowledged write through a crash:
    /// append-only file on, or (with `wait_replicas`) enough replicas that
    /// each write waits for.
    pub async fn durability(&self) -> Result<super::Durability, Fault> {
        let nodes = self.conn.persistence().await?;
        let weak: Vec<String> = nodes
            .iter()
            .filter(|n| !n.aof && (self.wait_replicas == 0 || n.replicas < u64::from(self.wait_replicas)))
            .map(|n| format!("{}: appendonly off, {} replica(s)", n.node, n.replicas))
            .collect();
        Ok(super::Durability {
            durable: weak.is_empty() && !nodes.is_empty(),
            detail: if weak.is_empty() {
                "every primary has appendonly on or the replicas each write waits for".to_owned()
            } else {
                format!(
                    "Redis would lose acknowledged locks on a crash ({}); set appendonly yes (appendfsync everysec or always) or [store] wait_replicas",
                    weak.join("; ")
                )
            },
        })
    }

    pub async fn release(&self, tenant: &str, reference: &str, now: Millis) -> Result<ReleaseStart, Fault> {
        let mut inv = self.scripts.release.key(lock_key(tenant, reference));
        inv.arg(now);
        let (status, rec) = status_and_record(self.run(&inv).await?)?;
        Ok(match status.as_str() {
            "missing" => ReleaseStart::Missing,
            "released_now" => ReleaseStart::Released(record(rec)?),
            "expired_now" => ReleaseStart::Ended {
                record: record(rec)?,
                newly_expired: true,
            },
            "burning" | "burning_stale" => ReleaseStart::Burning {
                stale: status == "burning_stale",
            },
            "used" => ReleaseStart::Used(record(rec)?),
            _ => ReleaseStart::Ended {
                record: record(rec)?,
                newly_expired: false,
            },
        })
    }

    pub async fn relock(
        &self,
        tenant: &str,
        reference: &str,
        attempt: &str,
        terms: &NewTerms<'_>,
    ) -> Result<Relock, Fault> {
        let mut inv = self.scripts.relock.key(lock_key(tenant, reference));
        inv.arg(attempt)
            .arg(serde_json::to_string(terms.codes).unwrap_or_else(|_| "[]".into()))
            .arg(terms.amount.map(|a| a.to_string()).unwrap_or_default())
            .arg(terms.expires_at)
            .arg(terms.keep.as_millis() as u64);
        let (status, _) = status_and_record(self.run(&inv).await?)?;
        Ok(match status.as_str() {
            "updated" => Relock::Updated,
            "missing" => Relock::Missing,
            _ => Relock::NotLocked,
        })
    }

    pub async fn claim(&self, op: &OpAttempt<'_>, now: Millis, lease_until: Millis) -> Result<Claim, Fault> {
        let mut inv = self.scripts.claim.key(op_key(op.tenant, op.kind, op.id));
        inv.arg(now)
            .arg(lease_until)
            .arg(op.attempt)
            .arg(op.keep.as_millis() as u64);
        let items: Vec<String> = self.run_as(&inv).await?;
        Ok(match items.first().map(String::as_str) {
            Some("claimed") => Claim::Claimed,
            Some("resumed") => Claim::Resumed {
                first: items.get(1).cloned().unwrap_or_default(),
            },
            Some("busy") => Claim::Busy,
            Some("done") => Claim::Done(items.get(1).cloned().unwrap_or_default()),
            other => return Err(Fault::Corrupt(format!("claim answered {other:?}"))),
        })
    }

    pub async fn settle(&self, op: &OpAttempt<'_>, result: Option<&str>) -> Result<(), Fault> {
        let mut inv = self.scripts.settle.key(op_key(op.tenant, op.kind, op.id));
        inv.arg(op.attempt)
            .arg(if result.is_some() { "done" } else { "drop" })
            .arg(result.unwrap_or(""))
            .arg(op.keep.as_millis() as u64);
        self.run(&inv).await.map(|_| ())
    }

    /// One `HMGET`: no script, nothing written.
    pub async fn outcome(&self, tenant: &str, kind: OpKind, id: &str) -> Result<OpOutcome, Fault> {
        let mut conn = self.conn();
        let r = redis::cmd("HMGET")
            .arg(op_key(tenant, kind, id))
            .arg("st")
            .arg("res")
            .query_async::<(Option<String>, Option<String>)>(&mut conn)
            .await;
        let (st, res) = self.answer(r).await?;
        Ok(match st.as_deref() {
            Some("done") => OpOutcome::Done(res.unwrap_or_default()),
            Some(_) => OpOutcome::Pending,
            None => OpOutcome::Unknown,
        })
    }

    /// The deployment's reference key: `proposed` when none was kept yet
    /// (`SET NX`), else the kept one. Its key has no hash tag: one per
    /// deployment, on whichever node.
    pub async fn reference_key(&self, proposed: [u8; 32]) -> Result<[u8; 32], Fault> {
        let hex: String = proposed.iter().map(|b| format!("{b:02x}")).collect();
        let mut conn = self.conn();
        let set = redis::cmd("SET")
            .arg("cb:reference-key")
            .arg(&hex)
            .arg("NX")
            .query_async::<Option<String>>(&mut conn)
            .await;
        self.answer(set).await?;
        let got = redis::cmd("GET")
            .arg("cb:reference-key")
            .query_async::<String>(&mut conn)
            .await;
        let kept = self.answer(got).await?;
        let bytes: Vec<u8> = (0..kept.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(kept.get(i..i + 2)?, 16).ok())
            .collect();
        bytes
            .try_into()
            .map_err(|_| Fault::Corrupt("cb:reference-key is not 64 hex digits".into()))
    }

    pub async fn forget(&self, tenant: &str, kind: OpKind, id: &str) -> Result<(), Fault> {
        self.delete(op_key(tenant, kind, id)).await
    }

    /// `DEL key`: gone, whether it was there or not.
    pub(super) async fn delete(&self, key: String) -> Result<(), Fault> {
        let mut conn = self.conn();
        let r = redis::cmd("DEL").arg(key).query_async::<i64>(&mut conn).await;
        self.answer(r).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hash_tagged_per_tenant_and_lock() {
        assert_eq!(lock_key("shop", "abc"), "cb:{shop:abc}:lock");
        assert_eq!(op_key("shop", OpKind::Order, "ORD-1"), "cb:{shop:order:ORD-1}:op");
    }
}
