//! The instance itself: `[server]`, `[store]`, `[locks]`, `[log]`,
//! `[telemetry]` and `[upstream_tls]`.

use std::time::Duration;

use super::super::errors::Errors;
use super::super::raw::{RawLocks, RawLog, RawServer, RawStore, RawTelemetry, RawUpstreamTls};
use super::super::runtime::*;

pub(super) fn server(s: &RawServer, e: &mut Errors) -> ServerConfig {
    let tls = match (&s.tls.cert, &s.tls.key) {
        (Some(cert), Some(key)) => {
            // `serve` reads them at start-up; `check-config` says so first.
            for (field, path) in [("cert", cert), ("key", key)] {
                if !path.exists() {
                    e.push(
                        format!("server.tls.{field}"),
                        format!("{} does not exist", path.display()),
                    );
                }
            }
            Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })
        }
        (None, None) => None,
        (Some(_), None) => {
            e.push(
                "server.tls.key",
                "is required with server.tls.cert (set both, or neither)",
            );
            None
        }
        (None, Some(_)) => {
            e.push(
                "server.tls.cert",
                "is required with server.tls.key (set both, or neither)",
            );
            None
        }
    };
    fn positive(e: &mut Errors, key: &str, text: &str) -> Duration {
        let d = e.duration(key, text);
        if d.is_zero() {
            e.push(key, "must be longer than zero");
        }
        d
    }
    let server = ServerConfig {
        listen: e.addr("server.listen", &s.listen),
        max_body_bytes: s.max_body_bytes as usize,
        header_read_timeout: positive(e, "server.header_read_timeout", &s.header_read_timeout),
        body_read_timeout: positive(e, "server.body_read_timeout", &s.body_read_timeout),
        idle_timeout: positive(e, "server.idle_timeout", &s.idle_timeout),
        request_timeout: positive(e, "server.request_timeout", &s.request_timeout),
        max_connections: s.max_connections as usize,
        shutdown_grace: e.duration("server.shutdown_grace", &s.shutdown_grace),
        shutdown_delay: e.duration("server.shutdown_delay", &s.shutdown_delay),
        worker_threads: s.worker_threads.map(|n| n as usize),
        watch_config: s.watch_config,
        tls,
    };
    if server.worker_threads == Some(0) {
        e.push(
            "server.worker_threads",
            "must be at least 1 (or left out: one per core)",
        );
    }
    if server.max_body_bytes == 0 {
        e.push("server.max_body_bytes", "must be at least 1");
    }
    server
}

pub(super) fn store(st: &RawStore, e: &mut Errors) -> (StoreConfig, DurabilityMode) {
    let response_timeout = e.duration("store.response_timeout", &st.response_timeout);
    let connect_timeout = e.duration("store.connect_timeout", &st.connect_timeout);
    let wait_timeout = e.duration("store.wait_timeout", &st.wait_timeout);
    let durability = match st.durability.as_str() {
        "none" => DurabilityMode::None,
        "warn" => DurabilityMode::Warn,
        "require" => DurabilityMode::Require,
        other => {
            e.push(
                "store.durability",
                format!("\"{other}\" is not one of none, warn, require"),
            );
            DurabilityMode::Warn
        }
    };
    if st.url.expose() == "memory://" {
        if durability == DurabilityMode::Require {
            e.push(
                "store.durability",
                "\"require\" needs Redis: the memory store loses every lock on restart",
            );
        }
        if st.wait_replicas > 0 {
            e.push("store.wait_replicas", "needs Redis (the memory store has no replicas)");
        }
        return (StoreConfig::Memory, durability);
    }
    let mode = match st.mode.as_str() {
        "standalone" => RedisMode::Standalone,
        "cluster" => RedisMode::Cluster,
        "sentinel" => RedisMode::Sentinel,
        other => {
            e.push(
                "store.mode",
                format!("\"{other}\" is not one of standalone, cluster, sentinel"),
            );
            RedisMode::Standalone
        }
    };
    let mut urls = vec![st.url.clone()];
    urls.extend(st.nodes.iter().cloned());
    for (i, u) in urls.iter().enumerate() {
        let ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|p| u.expose().starts_with(p));
        if !ok {
            let key = if i == 0 {
                "store.url".to_owned()
            } else {
                format!("store.nodes[{}]", i - 1)
            };
            e.push(key, "must be memory://, redis://, rediss:// or redis+unix://");
        }
    }
    if mode == RedisMode::Sentinel && st.master_name.as_deref().unwrap_or("").is_empty() {
        e.push("store.master_name", "sentinel mode needs the master's name");
    }
    let store = StoreConfig::Redis {
        mode,
        urls,
        master_name: st.master_name.clone(),
        response_timeout,
        connect_timeout,
        wait_replicas: st.wait_replicas,
        wait_timeout,
    };
    (store, durability)
}

pub(super) fn locks(l: &RawLocks, e: &mut Errors) -> LockConfig {
    let locks = LockConfig {
        default_duration: e.duration("locks.default_duration", &l.default_duration),
        max_duration: e.duration("locks.max_duration", &l.max_duration),
        retention: e.duration("locks.retention", &l.retention),
        order_retention: e.duration("locks.order_retention", &l.order_retention),
        release_retry_every: e.duration("locks.release_retry_every", &l.release_retry_every),
    };
    // A burn whose answer was lost is settled from the record while it is
    // kept: retention must outlast a burn's lease by far.
    if locks.retention < Duration::from_secs(60) {
        e.push("locks.retention", "must be at least 1m");
    }
    if locks.order_retention < Duration::from_secs(60) {
        e.push("locks.order_retention", "must be at least 1m");
    }
    if locks.release_retry_every.is_zero() {
        e.push("locks.release_retry_every", "must be longer than zero");
    }
    if locks.default_duration.is_zero() {
        e.push("locks.default_duration", "must be longer than zero");
    }
    if locks.default_duration > locks.max_duration {
        e.push(
            "locks.default_duration",
            format!(
                "{} is longer than locks.max_duration ({})",
                l.default_duration, l.max_duration
            ),
        );
    }
    locks
}

pub(super) fn log(l: &RawLog, e: &mut Errors) -> LogConfig {
    let format = match l.format.as_str() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            e.push("log.format", format!("\"{other}\" is not one of pretty, json"));
            LogFormat::Pretty
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&l.level).is_err() {
        e.push(
            "log.level",
            format!(
                "\"{}\" is not a log filter (e.g. \"info\", \"couponbridge=debug\")",
                l.level
            ),
        );
    }
    LogConfig {
        format,
        level: l.level.clone(),
    }
}

pub(super) fn telemetry(t: &RawTelemetry, e: &mut Errors) -> Option<TelemetryConfig> {
    let endpoint = t.otlp_endpoint.as_deref()?;
    e.http_url("telemetry.otlp_endpoint", endpoint)?;
    Some(TelemetryConfig {
        otlp_endpoint: endpoint.trim_end_matches('/').to_owned(),
        service_name: t.service_name.clone(),
        queue: t.queue.max(1) as usize,
        flush_every: e.duration("telemetry.flush_every", &t.flush_every),
        timeout: e.duration("telemetry.timeout", &t.timeout),
    })
}

pub(super) fn upstream_tls(u: &RawUpstreamTls, e: &mut Errors) -> UpstreamTlsConfig {
    for (i, p) in u.extra_ca.iter().enumerate() {
        if !p.exists() {
            e.push(
                format!("upstream_tls.extra_ca[{i}]"),
                format!("{} does not exist", p.display()),
            );
        }
    }
    UpstreamTlsConfig {
        roots: u.roots,
        extra_ca: u.extra_ca.clone(),
    }
}
