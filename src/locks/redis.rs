//! The Redis store: standalone (one multiplexed, auto-reconnecting
//! connection), Redis Cluster, or Sentinel-managed.
//!
//! Keys: `cb:{<tenant>:<reference>}:lock` (a hash) and
//! `cb:{<tenant>:<kind>:<id>}:op`. The hash tag holds the tenant, so keys
//! are namespaced per tenant (another tenant's reference is simply another
//! key) and every key a script touches lives in one Cluster slot. A new
//! lock is one `SET … PX … NX` of a string (see `UNPACK`); every transition
//! is one Lua script, the twin of the Rust functions in `mod.rs`.
//!
//! Sentinel: redis-rs does not follow failovers on its own (redis-rs#1438),
//! so a READONLY answer or a dropped connection makes the store ask the
//! sentinels for the current master and reconnect. The failed command is
//! not retried here (a lock write may have happened); the caller's client
//! sees a 503 and retries the whole, idempotent-or-reconciled, operation.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Client, Cmd, Pipeline, RedisError, RedisFuture, Script, Value};

use super::{
    Burner, Claim, LockRecord, NewTerms, OpAttempt, OpKind, OpOutcome, ReleaseStart, Relock, StoreError, UseStart,
};
use crate::clock::Millis;
use crate::config::{RedisMode, StoreConfig};

/// A new lock is one string, written with `SET … PX … NX` (no script: the
/// create path is the hot one, and Redis spends a fraction of a script's
/// CPU on a plain SET of one value). Its value is the record's hash fields
/// as a JSON array `[field, value, …]`. The first transition turns it into
/// the hash every script works on (this prologue, run first by each of
/// them), keeping its expiry; a record written as a hash by an earlier
/// version is used as it is.
const UNPACK: &str = r#"
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local packed = redis.call('GET', KEYS[1])
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(cjson.decode(packed)))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
"#;

const BEGIN_USE: &str = r#"
-- ARGV: now, lease_until, attempt, order ('' keeps the previous), transaction id
local function take_over()
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 'by', ARGV[4])
    if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'tx', ARGV[5]) else redis.call('HDEL', KEYS[1], 'tx') end
  end
end
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
local now = tonumber(ARGV[1])
if st == 'locked' then
  if tonumber(redis.call('HGET', KEYS[1], 'ea')) <= now then
    redis.call('HSET', KEYS[1], 'st', 'expired')
    return {'expired_now', redis.call('HGETALL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'st', 'burning', 'lease', ARGV[2], 'att', ARGV[3])
  take_over()
  return {'started', redis.call('HGETALL', KEYS[1])}
end
if st == 'burning' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > now then return {'busy'} end
  local previous = redis.call('HGETALL', KEYS[1])
  redis.call('HSET', KEYS[1], 'lease', ARGV[2], 'att', ARGV[3])
  take_over()
  return {'resumed', previous}
end
return {'refused', redis.call('HGETALL', KEYS[1])}
"#;

const FINISH_USE: &str = r#"
if redis.call('HGET', KEYS[1], 'st') ~= 'burning' then return 0 end
if redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then return 0 end
if ARGV[2] == 'used' then
  redis.call('HSET', KEYS[1], 'st', 'used', 'ua', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'st', 'locked')
end
redis.call('HDEL', KEYS[1], 'lease', 'att')
return 1
"#;

const RELEASE: &str = r#"
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
local now = tonumber(ARGV[1])
if st == 'locked' then
  if tonumber(redis.call('HGET', KEYS[1], 'ea')) <= now then
    redis.call('HSET', KEYS[1], 'st', 'expired')
    return {'expired_now', redis.call('HGETALL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'st', 'released', 'ra', ARGV[1])
  return {'released_now', redis.call('HGETALL', KEYS[1])}
end
if st == 'burning' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > now then
    return {'burning'}
  end
  return {'burning_stale'}
end
return {st, redis.call('HGETALL', KEYS[1])}
"#;

const RELOCK: &str = r#"
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
if st ~= 'burning' or redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then
  return {'not_locked'}
end
redis.call('HSET', KEYS[1], 'codes', ARGV[2], 'ea', ARGV[4], 'st', 'locked')
redis.call('HDEL', KEYS[1], 'lease', 'att')
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'amt') else redis.call('HSET', KEYS[1], 'amt', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'updated'}
"#;

const CLAIM: &str = r#"
local st = redis.call('HGET', KEYS[1], 'st')
if not st then
  redis.call('HSET', KEYS[1], 'st', 'pending', 'lease', ARGV[2], 'att', ARGV[3], 'first', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'claimed'}
end
if st == 'done' then return {'done', redis.call('HGET', KEYS[1], 'res') or ''} end
if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > tonumber(ARGV[1]) then return {'busy'} end
redis.call('HSET', KEYS[1], 'lease', ARGV[2], 'att', ARGV[3])
return {'resumed', redis.call('HGET', KEYS[1], 'first') or ''}
"#;

const SETTLE: &str = r#"
if redis.call('HGET', KEYS[1], 'st') ~= 'pending' then return 0 end
if redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 'st', 'done', 'res', ARGV[3])
  redis.call('HDEL', KEYS[1], 'lease', 'att')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
"#;

/// One connection type for the three deployments, so scripts run the same.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

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
const TAKE_RELEASES: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], m) end
return due
"#;

pub struct RedisStore {
    conn: RwLock<Conn>,
    sentinel: Option<tokio::sync::Mutex<(SentinelClient, ConnectionManagerConfig)>>,
    scripts: Scripts,
    /// `WAIT` for this many replicas after a lock write (0: none).
    wait_replicas: u32,
    wait_timeout: Duration,
}

/// What one primary says of its persistence and replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePersistence {
    pub node: String,
    pub aof: bool,
    pub replicas: u64,
}

impl NodePersistence {
    /// From `INFO persistence replication` text.
    pub fn parse(node: &str, info: &str) -> Self {
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        NodePersistence {
            node: node.to_owned(),
            aof: field("aof_enabled") == Some("1"),
            replicas: field("connected_slaves").and_then(|n| n.parse().ok()).unwrap_or(0),
        }
    }
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn manager_config(response_timeout: Duration, connect_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(connect_timeout))
        .set_number_of_retries(3)
        .set_max_delay(Duration::from_secs(2))
        // Many concurrent requests share the one connection.
        .set_pipeline_buffer_size(1024)
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
fn status_and_record(v: Value) -> Result<(String, Option<LockRecord>), StoreError> {
    let items: Vec<Value> =
        redis::from_redis_value(v).map_err(|e| StoreError::Corrupt(format!("script answer: {e}")))?;
    let mut it = items.into_iter();
    let status: String = it
        .next()
        .map(redis::from_redis_value)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("script status: {e}")))?
        .unwrap_or_default();
    let record = match it.next() {
        Some(v) => {
            let fields: HashMap<String, String> =
                redis::from_redis_value(v).map_err(|e| StoreError::Corrupt(format!("record: {e}")))?;
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

fn unpack(packed: &[u8]) -> Result<LockRecord, StoreError> {
    let flat: Vec<String> =
        serde_json::from_slice(packed).map_err(|e| StoreError::Corrupt(format!("packed record: {e}")))?;
    let fields: HashMap<String, String> = flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
    LockRecord::from_fields(&fields)
}

fn record(r: Option<LockRecord>) -> Result<LockRecord, StoreError> {
    r.ok_or_else(|| StoreError::Corrupt("script answered without the record".into()))
}

impl RedisStore {
    pub async fn connect(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let StoreConfig::Redis {
            mode,
            urls,
            master_name,
            response_timeout,
            connect_timeout,
            wait_replicas,
            wait_timeout,
        } = cfg
        else {
            return Err(StoreError::Config("not a Redis store".into()));
        };
        let mcfg = manager_config(*response_timeout, *connect_timeout);
        let urls: Vec<&str> = urls.iter().map(|u| u.expose()).collect();
        let (conn, sentinel) = match mode {
            RedisMode::Standalone => {
                let client = Client::open(urls[0]).map_err(|e| StoreError::Config(e.to_string()))?;
                // Lazy: start even if Redis is down, report not-ready, and
                // connect as soon as it is up.
                let manager = ConnectionManager::new_lazy_with_config(client, mcfg)
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                (Conn::Single(manager), None)
            }
            RedisMode::Cluster => {
                let client = ClusterClientBuilder::new(urls.clone())
                    .response_timeout(*response_timeout)
                    .connection_timeout(*connect_timeout)
                    .build()
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                let conn = client.get_async_connection().await.map_err(unavailable)?;
                (Conn::Cluster(conn), None)
            }
            RedisMode::Sentinel => {
                let name = master_name.clone().unwrap_or_default();
                let mut sentinel = SentinelClient::build(urls.clone(), name, None, SentinelServerType::Master)
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                let client = sentinel.async_get_client().await.map_err(unavailable)?;
                let manager = ConnectionManager::new_lazy_with_config(client, mcfg.clone())
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                (Conn::Single(manager), Some(tokio::sync::Mutex::new((sentinel, mcfg))))
            }
        };
        Ok(RedisStore {
            conn: RwLock::new(conn),
            sentinel,
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
        self.conn.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After an error: under Sentinel, a READONLY answer or a lost
    /// connection means the master may have moved; ask again.
    async fn after_error(&self, e: &RedisError) {
        let Some(sentinel) = &self.sentinel else {
            return;
        };
        let moved = e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
            || e.is_connection_dropped()
            || e.is_io_error()
            || e.is_timeout();
        if !moved {
            return;
        }
        let mut guard = sentinel.lock().await;
        let (client, cfg) = &mut *guard;
        match client.async_get_client().await {
            Ok(c) => match ConnectionManager::new_lazy_with_config(c, cfg.clone()) {
                Ok(m) => {
                    tracing::warn!("Redis master re-resolved through Sentinel");
                    *self.conn.write().unwrap_or_else(|p| p.into_inner()) = Conn::Single(m);
                }
                Err(err) => tracing::warn!(error = %err, "cannot reconnect to the Redis master"),
            },
            Err(err) => tracing::warn!(error = %err, "Sentinel did not name a master"),
        }
    }

    /// A Redis answer, or the error after Sentinel was asked for the master.
    async fn answer<T>(&self, r: redis::RedisResult<T>) -> Result<T, StoreError> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                self.after_error(&e).await;
                Err(unavailable(e))
            }
        }
    }

    async fn run(&self, inv: &redis::ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut conn = self.conn();
        let r = inv.invoke_async::<Value>(&mut conn).await;
        self.answer(r).await
    }

    /// A script whose answer is a plain value.
    async fn run_as<T: redis::FromRedisValue>(&self, inv: &redis::ScriptInvocation<'_>) -> Result<T, StoreError> {
        redis::from_redis_value(self.run(inv).await?).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    pub async fn create(&self, rec: &LockRecord, keep: Duration) -> Result<(), StoreError> {
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
            None => Err(StoreError::Corrupt("lock reference collision".into())),
        }
    }

    /// The record, as a new lock's string or a hash (after a transition,
    /// or written by an earlier version): both asked in one round trip.
    pub async fn get(&self, tenant: &str, reference: &str) -> Result<Option<LockRecord>, StoreError> {
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
            (_, Value::ServerError(e)) => Err(StoreError::Unavailable(format!("HGETALL: {e:?}"))),
            (_, fields) => {
                let fields: HashMap<String, String> =
                    redis::from_redis_value(fields).map_err(|e| StoreError::Corrupt(format!("record: {e}")))?;
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
    ) -> Result<UseStart, StoreError> {
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
    ) -> Result<bool, StoreError> {
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
    async fn replicated(&self, key: &str) -> Result<(), StoreError> {
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
            return Err(StoreError::Unavailable(format!(
                "WAIT: {acked} of {} replicas acknowledged within {:?}",
                self.wait_replicas, self.wait_timeout
            )));
        }
        Ok(())
    }

    pub async fn defer_release(&self, r: &super::PendingRelease, due: Millis) -> Result<(), StoreError> {
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
    ) -> Result<Vec<super::PendingRelease>, StoreError> {
        let mut inv = self.scripts.take_releases.key(releases_key(tenant));
        inv.arg(now).arg(lease_until).arg(limit);
        let members: Vec<String> = self.run_as(&inv).await?;
        Ok(members
            .iter()
            .filter_map(|m| super::PendingRelease::decode(tenant, m))
            .collect())
    }

    pub async fn finish_release(&self, r: &super::PendingRelease) -> Result<(), StoreError> {
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
    pub async fn durability(&self) -> Result<super::Durability, StoreError> {
        let nodes = self.persistence().await?;
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

    /// `INFO persistence replication` of the primary, or of every cluster
    /// primary.
    pub async fn persistence(&self) -> Result<Vec<NodePersistence>, StoreError> {
        let mut info = redis::cmd("INFO");
        info.arg("persistence").arg("replication");
        match self.conn() {
            Conn::Single(mut c) => {
                let r: redis::RedisResult<String> = info.query_async(&mut c).await;
                Ok(vec![NodePersistence::parse("primary", &self.answer(r).await?)])
            }
            Conn::Cluster(mut c) => {
                use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let v = self.answer(c.route_command(info, all).await).await?;
                let by_node: Vec<(String, String)> = match v {
                    Value::Map(pairs) => pairs
                        .into_iter()
                        .filter_map(|(k, v)| Some((redis::from_redis_value(k).ok()?, redis::from_redis_value(v).ok()?)))
                        .collect(),
                    other => vec![(
                        "primary".to_owned(),
                        redis::from_redis_value(other).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    )],
                };
                Ok(by_node.iter().map(|(n, i)| NodePersistence::parse(n, i)).collect())
            }
        }
    }

    pub async fn release(&self, tenant: &str, reference: &str, now: Millis) -> Result<ReleaseStart, StoreError> {
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
    ) -> Result<Relock, StoreError> {
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

    pub async fn claim(&self, op: &OpAttempt<'_>, now: Millis, lease_until: Millis) -> Result<Claim, StoreError> {
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
            other => return Err(StoreError::Corrupt(format!("claim answered {other:?}"))),
        })
    }

    pub async fn settle(&self, op: &OpAttempt<'_>, result: Option<&str>) -> Result<(), StoreError> {
        let mut inv = self.scripts.settle.key(op_key(op.tenant, op.kind, op.id));
        inv.arg(op.attempt)
            .arg(if result.is_some() { "done" } else { "drop" })
            .arg(result.unwrap_or(""))
            .arg(op.keep.as_millis() as u64);
        self.run(&inv).await.map(|_| ())
    }

    /// One `HMGET`: no script, nothing written.
    pub async fn outcome(&self, tenant: &str, kind: OpKind, id: &str) -> Result<OpOutcome, StoreError> {
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

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let r = redis::cmd("PING").query_async::<String>(&mut conn).await;
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
