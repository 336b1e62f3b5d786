//! The connection to Redis in its three deployments, and what follows a
//! Sentinel failover: redis-rs does not follow one on its own
//! (redis-rs#1438), so a READONLY answer or a dropped connection makes the
//! store ask the sentinels for the current master and reconnect.

use std::sync::RwLock;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{Client, Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::super::Fault;
use crate::config::{RedisMode, StoreConfig};

/// One connection type for the three deployments, so scripts run the same.
#[derive(Clone)]
pub(super) enum Conn {
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

pub(super) fn unavailable(e: RedisError) -> Fault {
    Fault::unavailable(e)
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

/// The connection, and the sentinels to ask when it breaks.
pub(super) struct Connection {
    conn: RwLock<Conn>,
    sentinel: Option<tokio::sync::Mutex<(SentinelClient, ConnectionManagerConfig)>>,
}

impl Connection {
    pub(super) async fn open(cfg: &StoreConfig) -> Result<Self, Fault> {
        let StoreConfig::Redis {
            mode,
            urls,
            master_name,
            response_timeout,
            connect_timeout,
            ..
        } = cfg
        else {
            return Err(Fault::Config("not a Redis store".into()));
        };
        let mcfg = manager_config(*response_timeout, *connect_timeout);
        let urls: Vec<&str> = urls.iter().map(|u| u.expose()).collect();
        let (conn, sentinel) = match mode {
            RedisMode::Standalone => {
                let client = Client::open(urls[0]).map_err(|e| Fault::Config(e.to_string()))?;
                // Lazy: start even if Redis is down, report not-ready, and
                // connect as soon as it is up.
                let manager =
                    ConnectionManager::new_lazy_with_config(client, mcfg).map_err(|e| Fault::Config(e.to_string()))?;
                (Conn::Single(manager), None)
            }
            RedisMode::Cluster => {
                let client = ClusterClientBuilder::new(urls.clone())
                    .response_timeout(*response_timeout)
                    .connection_timeout(*connect_timeout)
                    .build()
                    .map_err(|e| Fault::Config(e.to_string()))?;
                let conn = client.get_async_connection().await.map_err(unavailable)?;
                (Conn::Cluster(conn), None)
            }
            RedisMode::Sentinel => {
                let name = master_name.clone().unwrap_or_default();
                let mut sentinel = SentinelClient::build(urls.clone(), name, None, SentinelServerType::Master)
                    .map_err(|e| Fault::Config(e.to_string()))?;
                let client = sentinel.async_get_client().await.map_err(unavailable)?;
                let manager = ConnectionManager::new_lazy_with_config(client, mcfg.clone())
                    .map_err(|e| Fault::Config(e.to_string()))?;
                (Conn::Single(manager), Some(tokio::sync::Mutex::new((sentinel, mcfg))))
            }
        };
        Ok(Connection {
            conn: RwLock::new(conn),
            sentinel,
        })
    }

    pub(super) fn get(&self) -> Conn {
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
    pub(super) async fn answer<T>(&self, r: redis::RedisResult<T>) -> Result<T, Fault> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                self.after_error(&e).await;
                Err(unavailable(e))
            }
        }
    }

    /// `INFO persistence replication` of the primary, or of every cluster
    /// primary.
    pub(super) async fn persistence(&self) -> Result<Vec<NodePersistence>, Fault> {
        let mut info = redis::cmd("INFO");
        info.arg("persistence").arg("replication");
        match self.get() {
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
                        redis::from_redis_value(other).map_err(|e| Fault::Corrupt(e.to_string()))?,
                    )],
                };
                Ok(by_node.iter().map(|(n, i)| NodePersistence::parse(n, i)).collect())
            }
        }
    }

    pub(super) async fn ping(&self) -> Result<(), Fault> {
        let mut conn = self.get();
        let r = redis::cmd("PING").query_async::<String>(&mut conn).await;
        self.answer(r).await.map(|_| ())
    }
}
