//! Validation: raw configuration in, runtime configuration or every
//! problem out.

use std::collections::HashSet;
use std::time::Duration;

use http::Uri;

use super::errors::{ConfigError, ConfigErrors, Errors};
use super::raw::{RawConfig, RawTenant, RawTls};
use super::routes::Routes;
use super::runtime::*;
use super::secret::Secret;

impl RawConfig {
    /// Validates everything and reports every problem.
    pub fn validate(&self, mut found: Vec<ConfigError>) -> Result<Config, ConfigErrors> {
        let mut e = Errors(std::mem::take(&mut found));
        let s = &self.server;
        let tls = match &s.tls {
            Some(RawTls {
                cert: Some(cert),
                key: Some(key),
            }) => {
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
            Some(RawTls { cert: None, key: None }) | None => None,
            Some(_) => {
                e.push("server.tls", "set both cert and key");
                None
            }
        };
        let server = ServerConfig {
            listen: e.addr("server.listen", &s.listen, "0.0.0.0:8080"),
            max_body_bytes: s.max_body_bytes.unwrap_or(64 * 1024) as usize,
            header_read_timeout: e.duration(
                "server.header_read_timeout",
                &s.header_read_timeout,
                Duration::from_secs(10),
            ),
            body_read_timeout: e.duration(
                "server.body_read_timeout",
                &s.body_read_timeout,
                Duration::from_secs(10),
            ),
            idle_timeout: e.duration("server.idle_timeout", &s.idle_timeout, Duration::from_secs(60)),
            request_timeout: e.duration("server.request_timeout", &s.request_timeout, Duration::from_secs(30)),
            max_connections: s.max_connections.unwrap_or(10_000) as usize,
            shutdown_grace: e.duration("server.shutdown_grace", &s.shutdown_grace, Duration::from_secs(15)),
            shutdown_delay: e.duration("server.shutdown_delay", &s.shutdown_delay, Duration::ZERO),
            worker_threads: s.worker_threads.map(|n| n as usize),
            watch_config: s.watch_config.unwrap_or(false),
            tls,
        };
        for (key, d) in [
            ("server.header_read_timeout", server.header_read_timeout),
            ("server.body_read_timeout", server.body_read_timeout),
            ("server.idle_timeout", server.idle_timeout),
            ("server.request_timeout", server.request_timeout),
        ] {
            if d.is_zero() {
                e.push(key, "must be longer than zero");
            }
        }
        if server.worker_threads == Some(0) {
            e.push(
                "server.worker_threads",
                "must be at least 1 (or left out: one per core)",
            );
        }
        if server.max_body_bytes == 0 {
            e.push("server.max_body_bytes", "must be at least 1");
        }
        let admin = match self.admin.enabled {
            Some(false) => None,
            _ => Some(e.addr("admin.listen", &self.admin.listen, "127.0.0.1:9901")),
        };

        let st = &self.store;
        let response_timeout = e.duration(
            "store.response_timeout",
            &st.response_timeout,
            Duration::from_millis(500),
        );
        let connect_timeout = e.duration("store.connect_timeout", &st.connect_timeout, Duration::from_secs(1));
        let url = st
            .url
            .clone()
            .unwrap_or_else(|| Secret::new("redis://127.0.0.1:6379/0"));
        let store = if url.expose() == "memory://" {
            StoreConfig::Memory
        } else {
            let mode = match st.mode.as_deref().unwrap_or("standalone") {
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
            let mut urls = vec![url.clone()];
            urls.extend(st.nodes.clone().unwrap_or_default());
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
            StoreConfig::Redis {
                mode,
                urls,
                master_name: st.master_name.clone(),
                response_timeout,
                connect_timeout,
                wait_replicas: st.wait_replicas.unwrap_or(0),
                wait_timeout: e.duration("store.wait_timeout", &st.wait_timeout, Duration::from_secs(1)),
            }
        };

        let durability = match st.durability.as_deref().unwrap_or("warn") {
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
        if matches!(store, StoreConfig::Memory) {
            if durability == DurabilityMode::Require {
                e.push(
                    "store.durability",
                    "\"require\" needs Redis: the memory store loses every lock on restart",
                );
            }
            if st.wait_replicas.unwrap_or(0) > 0 {
                e.push("store.wait_replicas", "needs Redis (the memory store has no replicas)");
            }
        }

        let l = &self.locks;
        let locks = LockConfig {
            default_duration: e.duration("locks.default_duration", &l.default_duration, Duration::from_secs(600)),
            max_duration: e.duration("locks.max_duration", &l.max_duration, Duration::from_secs(7 * 86_400)),
            retention: e.duration("locks.retention", &l.retention, Duration::from_secs(86_400)),
            order_retention: e.duration(
                "locks.order_retention",
                &l.order_retention,
                Duration::from_secs(30 * 86_400),
            ),
            release_retry_every: e.duration(
                "locks.release_retry_every",
                &l.release_retry_every,
                Duration::from_secs(1),
            ),
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
            e.push("locks.default_duration", "is longer than locks.max_duration");
        }

        let log = LogConfig {
            format: match self.log.format.as_deref().unwrap_or("pretty") {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    e.push("log.format", format!("\"{other}\" is not one of pretty, json"));
                    LogFormat::Pretty
                }
            },
            level: self.log.level.clone().unwrap_or_else(|| "info".into()),
        };
        if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
            e.push(
                "log.level",
                format!(
                    "\"{}\" is not a log filter (e.g. \"info\", \"couponbridge=debug\")",
                    log.level
                ),
            );
        }

        let passthrough = self.passthrough.upstream.as_deref().and_then(|u| {
            Some(PassthroughConfig {
                upstream: e.http_url("passthrough.upstream", u)?,
                timeout: e.duration(
                    "passthrough.timeout",
                    &self.passthrough.timeout,
                    Duration::from_secs(30),
                ),
            })
        });

        let upstream_tls = UpstreamTlsConfig {
            roots: self.upstream_tls.roots.unwrap_or_default(),
            extra_ca: self.upstream_tls.extra_ca.clone().unwrap_or_default(),
        };
        for (i, p) in upstream_tls.extra_ca.iter().enumerate() {
            if !p.exists() {
                e.push(
                    format!("upstream_tls.extra_ca[{i}]"),
                    format!("{} does not exist", p.display()),
                );
            }
        }

        let r = &self.record;
        let record = match r.enabled {
            Some(true) => {
                let sample = r.sample.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&sample) {
                    e.push("record.sample", "must be between 0 and 1");
                }
                if r.path.is_none() {
                    e.push("record.path", "recording needs a folder");
                }
                Some(RecordConfig {
                    path: r.path.clone().unwrap_or_default(),
                    sample,
                    max_file_bytes: r.max_file_bytes.unwrap_or(64 * 1024 * 1024),
                    queue: r.queue.unwrap_or(4096) as usize,
                    redact_json: r.redact_json.clone().unwrap_or_else(default_redact_json),
                    hash_key: r.hash_key.clone(),
                })
            }
            _ => None,
        };

        let t = &self.telemetry;
        let telemetry = t.otlp_endpoint.as_deref().and_then(|u| {
            e.http_url("telemetry.otlp_endpoint", u)?;
            Some(TelemetryConfig {
                otlp_endpoint: u.trim_end_matches('/').to_owned(),
                service_name: t.service_name.clone().unwrap_or_else(|| "couponbridge".into()),
                queue: t.queue.unwrap_or(2048).max(1) as usize,
                flush_every: e.duration("telemetry.flush_every", &t.flush_every, Duration::from_secs(1)),
                timeout: e.duration("telemetry.timeout", &t.timeout, Duration::from_secs(5)),
            })
        });

        let global_routes = Routes::default().overlay(&self.routes, "routes", &mut e);
        let mut tenants = Vec::new();
        let mut api_keys = HashSet::new();
        if self.tenants.is_empty() {
            e.push("tenants", "no tenant is configured; add a [tenants.NAME] table");
        }
        for (name, t) in &self.tenants {
            let k = |field: &str| format!("tenants.{name}.{field}");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                e.push(
                    format!("tenants.{name}"),
                    "tenant names use a-z, 0-9, _ and - (environment variables are lowercased)",
                );
            }
            let api_key = t.api_key.clone().unwrap_or_default();
            if api_key.is_empty() {
                e.push(k("api_key"), "is required");
            } else if !api_keys.insert(api_key.clone()) {
                e.push(
                    k("api_key"),
                    "is used by another tenant; each apikey selects one tenant",
                );
            }
            let secret_key = t.secret_key.clone().unwrap_or_default();
            if secret_key.is_empty() {
                e.push(k("secret_key"), "is required");
            }
            let currency_decimals = t.currency_decimals.unwrap_or(2);
            if currency_decimals > 6 {
                e.push(k("currency_decimals"), "must be between 0 and 6");
            }
            let v = &t.voucherify;
            let base_url = match v.base_url.as_deref() {
                Some(u) => e.http_url(&k("voucherify.base_url"), u.trim_end_matches('/')),
                None => {
                    e.push(k("voucherify.base_url"), "is required (e.g. https://api.voucherify.io)");
                    None
                }
            };
            // Both become header values: `serve` would refuse a control
            // character or a non-ASCII byte, so `check-config` does.
            let header = |e: &mut Errors, field: &str, value: &str| {
                if value.is_empty() {
                    e.push(k(field), "is required");
                } else if http::HeaderValue::from_str(value).is_err() {
                    e.push(k(field), "must be printable ASCII (it is sent as an HTTP header)");
                }
            };
            let app_id = v.app_id.clone().unwrap_or_default();
            header(&mut e, "voucherify.app_id", &app_id);
            let app_token = v.app_token.clone().unwrap_or_default();
            header(&mut e, "voucherify.app_token", app_token.expose());
            let timeout = e.duration(&k("voucherify.timeout"), &v.timeout, Duration::from_secs(5));
            let http2 = match v.http2.as_deref() {
                None | Some("auto") => Http2::Auto,
                Some("always") => Http2::Always,
                Some("never") => Http2::Never,
                Some(other) => {
                    e.push(
                        k("voucherify.http2"),
                        format!("\"{other}\" is not one of \"auto\", \"always\", \"never\""),
                    );
                    Http2::Auto
                }
            };
            let definitions_ttl = e.duration(
                &k("voucherify.definitions_ttl"),
                &v.definitions_ttl,
                DEFAULT_DEFINITIONS_TTL,
            );
            let routes = global_routes.overlay(&t.routes, &k("routes"), &mut e);
            if t.routes.values().any(|m| m.forwards()) && passthrough.is_none() {
                e.push(
                    k("routes"),
                    "a route is set to passthrough or shadow but [passthrough] upstream is not configured",
                );
            }
            tenants.push(TenantConfig {
                name: name.clone(),
                api_key,
                secret_key,
                currency_decimals,
                dialect: t.dialect.unwrap_or_default(),
                voucherify: VoucherifyConfig {
                    base_url: base_url.unwrap_or_else(|| Uri::from_static("http://invalid")),
                    app_id,
                    app_token,
                    timeout,
                    http2,
                    definitions_ttl,
                },
                routes,
                messages: t.messages.clone(),
                migration: MigrationConfig::default(),
                rewards: rewards_config(t, &k, &mut e),
            });
        }
        if global_routes.any_forwarded() && passthrough.is_none() {
            e.push(
                "routes",
                "a route is set to passthrough or shadow but [passthrough] upstream is not configured",
            );
        }
        let shadow = self.shadow_config(&mut e);

        if !e.0.is_empty() {
            return Err(ConfigErrors(e.0));
        }
        Ok(Config {
            fingerprint: self.fingerprint.clone(),
            server,
            admin,
            store,
            durability,
            locks,
            log,
            passthrough,
            routes: global_routes,
            upstream_tls,
            record,
            shadow,
            telemetry,
            tenants,
        })
    }
}

impl RawConfig {
    fn shadow_config(&self, e: &mut Errors) -> ShadowConfig {
        let r = &self.shadow;
        let defaults = ShadowConfig::default();
        let sample = r.sample.unwrap_or(defaults.sample);
        if !(0.0..=1.0).contains(&sample) {
            e.push("shadow.sample", "must be between 0 and 1");
        }
        let rules = match &r.rules {
            None => Vec::new(),
            Some(p) => match std::fs::read(p)
                .map_err(|err| err.to_string())
                .and_then(|b| serde_json::from_slice::<crate::compare::RulesFile>(&b).map_err(|err| err.to_string()))
            {
                Ok(f) => f.rules,
                Err(err) => {
                    e.push("shadow.rules", format!("{}: {err}", p.display()));
                    Vec::new()
                }
            },
        };
        ShadowConfig {
            path: r.path.clone(),
            sample,
            queue: r.queue.map_or(defaults.queue, |q| q.max(1) as usize),
            concurrency: r.concurrency.map_or(defaults.concurrency, |c| c.max(1) as usize),
            rules,
            book_max_bytes: r.book_max_bytes.map_or(defaults.book_max_bytes, |b| b as usize),
            queue_max_bytes: r.queue_max_bytes.map_or(defaults.queue_max_bytes, |b| b as usize),
            path_max_bytes: r.path_max_bytes.unwrap_or(defaults.path_max_bytes),
            example_max_bytes: r.example_max_bytes.map_or(defaults.example_max_bytes, |b| b as usize),
        }
    }
}

/// `[tenants.NAME.loyalty]` and `[tenants.NAME.rewards]`: rule ids are
/// Gameball's integers, reward ids Voucherify's; a mapping without a
/// loyalty program could never redeem.
fn rewards_config(t: &RawTenant, k: &dyn Fn(&str) -> String, e: &mut Errors) -> RewardsConfig {
    let campaign = t.loyalty.campaign.as_deref().map(str::trim).map(str::to_owned);
    if campaign.as_deref() == Some("") {
        e.push(
            k("loyalty.campaign"),
            "must not be empty (the Voucherify loyalty campaign id)",
        );
    }
    let mut by_rule = std::collections::BTreeMap::new();
    for (rule, reward) in &t.rewards {
        match rule.trim().parse::<u64>() {
            Ok(id) => {
                if reward.trim().is_empty() {
                    e.push(k(&format!("rewards.{rule}")), "must name a Voucherify reward id");
                } else {
                    by_rule.insert(id, reward.trim().to_owned());
                }
            }
            Err(_) => e.push(
                k(&format!("rewards.{rule}")),
                "keys are Gameball redemption rule ids (whole numbers)",
            ),
        }
    }
    if !t.rewards.is_empty() && campaign.is_none() {
        e.push(
            k("rewards"),
            "needs [loyalty] campaign: rewards are redeemed from a loyalty card",
        );
    }
    RewardsConfig {
        loyalty_campaign: campaign.filter(|c| !c.is_empty()),
        by_rule,
    }
}
