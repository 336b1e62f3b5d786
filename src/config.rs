//! Configuration: a TOML file, then `COUPONBRIDGE_…` environment variables
//! (`__` separates levels: `COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY`).
//!
//! Two types, as rust-rpxy does it: [`RawConfig`] is what the file says,
//! every field optional; [`Config`] is the validated runtime configuration.
//! Validation reports every problem in one run (unknown keys included), so
//! an operator fixes a config file once, not once per error.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use http::Uri;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::net::tls::Roots;

pub const DEFAULT_PATH: &str = "config/couponbridge.toml";
pub const ENV_PREFIX: &str = "COUPONBRIDGE_";

/// A value that must never be printed: `Debug`, `Display` and `Serialize`
/// all write `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_like(d).map(Secret)
    }
}

/// Environment values are parsed as TOML values, so `APP_ID=12345` arrives
/// as a number; identifiers and secrets accept either.
fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string, found {other}"))),
    }
}

fn opt_string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string_like(d).map(Some)
}

// ---------------------------------------------------------------------------
// The raw document
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub header_read_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_connections: Option<u64>,
    pub shutdown_grace: Option<String>,
    pub shutdown_delay: Option<String>,
    pub worker_threads: Option<u64>,
    pub tls: Option<RawTls>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawAdmin {
    pub listen: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawStore {
    pub url: Option<Secret>,
    pub mode: Option<String>,
    pub nodes: Option<Vec<Secret>>,
    pub master_name: Option<String>,
    pub response_timeout: Option<String>,
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawLocks {
    pub default_duration: Option<String>,
    pub max_duration: Option<String>,
    pub retention: Option<String>,
    pub order_retention: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawPassthrough {
    pub upstream: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    Translate,
    Passthrough,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawRoutes {
    pub validate: Option<RouteMode>,
    pub validate_single: Option<RouteMode>,
    pub lock_details: Option<RouteMode>,
    pub release: Option<RouteMode>,
    pub burn: Option<RouteMode>,
    pub orders: Option<RouteMode>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawUpstreamTls {
    pub roots: Option<Roots>,
    pub extra_ca: Option<Vec<PathBuf>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawRecord {
    pub enabled: Option<bool>,
    pub path: Option<PathBuf>,
    pub sample: Option<f64>,
    pub max_file_bytes: Option<u64>,
    pub queue: Option<u64>,
    pub redact_json: Option<Vec<String>>,
    pub hash_key: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawVoucherify {
    pub base_url: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub app_id: Option<String>,
    pub app_token: Option<Secret>,
    pub timeout: Option<String>,
}

/// Per-tenant overrides of the invalid-coupon `error` strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Messages {
    pub not_found: Option<String>,
    pub expired: Option<String>,
    pub not_active: Option<String>,
    pub disabled: Option<String>,
    pub unavailable: Option<String>,
    pub customer_not_eligible: Option<String>,
    pub order_conditions_not_met: Option<String>,
    pub not_combinable: Option<String>,
    pub invalid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTenant {
    #[serde(deserialize_with = "opt_string_like")]
    pub api_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub currency_decimals: Option<u32>,
    pub voucherify: RawVoucherify,
    pub routes: RawRoutes,
    pub messages: Messages,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawConfig {
    pub server: RawServer,
    pub admin: RawAdmin,
    pub store: RawStore,
    pub locks: RawLocks,
    pub log: RawLog,
    pub passthrough: RawPassthrough,
    pub routes: RawRoutes,
    pub upstream_tls: RawUpstreamTls,
    pub record: RawRecord,
    pub tenants: BTreeMap<String, RawTenant>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// One problem, with the key it concerns (`tenants.shop.voucherify.base_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration error(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.into(),
            message: message.into(),
        });
    }

    fn duration(&mut self, key: &str, v: &Option<String>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match humantime::parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    self.push(
                        key,
                        format!("\"{s}\" is not a duration ({e}); write e.g. \"500ms\", \"10m\", \"24h\""),
                    );
                    default
                }
            },
        }
    }

    fn addr(&mut self, key: &str, v: &Option<String>, default: &str) -> SocketAddr {
        let s = v.as_deref().unwrap_or(default);
        s.parse().unwrap_or_else(|_| {
            self.push(key, format!("\"{s}\" is not an address; write e.g. \"0.0.0.0:8080\""));
            default.parse().expect("defaults are valid addresses")
        })
    }

    fn http_url(&mut self, key: &str, s: &str) -> Option<Uri> {
        match s.parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => Some(u),
            _ => {
                self.push(key, format!("\"{s}\" is not an http:// or https:// URL"));
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The validated configuration
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// After SIGTERM, keep serving (with `/readyz` at 503) this long before
    /// closing the listener, so load balancers stop sending first.
    pub shutdown_delay: Duration,
    /// Runtime worker threads; `None` is one per core.
    pub worker_threads: Option<usize>,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    Standalone,
    Cluster,
    Sentinel,
}

#[derive(Debug, Clone)]
pub enum StoreConfig {
    Memory,
    Redis {
        mode: RedisMode,
        /// Standalone: one URL. Cluster: seed nodes. Sentinel: sentinels.
        urls: Vec<Secret>,
        master_name: Option<String>,
        response_timeout: Duration,
        connect_timeout: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct LockConfig {
    pub default_duration: Duration,
    pub max_duration: Duration,
    pub retention: Duration,
    pub order_retention: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct PassthroughConfig {
    pub upstream: Uri,
    pub timeout: Duration,
}

/// Which translated routes go to Voucherify and which to Gameball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    pub validate: RouteMode,
    pub validate_single: RouteMode,
    pub lock_details: RouteMode,
    pub release: RouteMode,
    pub burn: RouteMode,
    pub orders: RouteMode,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            validate: RouteMode::Translate,
            validate_single: RouteMode::Translate,
            lock_details: RouteMode::Translate,
            release: RouteMode::Translate,
            burn: RouteMode::Translate,
            orders: RouteMode::Translate,
        }
    }
}

impl Routes {
    fn overlay(mut self, raw: &RawRoutes) -> Self {
        let pick = |mine: &mut RouteMode, theirs: Option<RouteMode>| {
            if let Some(m) = theirs {
                *mine = m;
            }
        };
        pick(&mut self.validate, raw.validate);
        pick(&mut self.validate_single, raw.validate_single);
        pick(&mut self.lock_details, raw.lock_details);
        pick(&mut self.release, raw.release);
        pick(&mut self.burn, raw.burn);
        pick(&mut self.orders, raw.orders);
        self
    }

    fn any_passthrough(&self) -> bool {
        [
            self.validate,
            self.validate_single,
            self.lock_details,
            self.release,
            self.burn,
            self.orders,
        ]
        .contains(&RouteMode::Passthrough)
    }
}

#[derive(Debug, Clone)]
pub struct VoucherifyConfig {
    pub base_url: Uri,
    pub app_id: String,
    pub app_token: Secret,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub name: String,
    pub api_key: String,
    pub secret_key: Secret,
    pub currency_decimals: u32,
    pub voucherify: VoucherifyConfig,
    pub routes: Routes,
    pub messages: Messages,
}

#[derive(Debug, Clone)]
pub struct UpstreamTlsConfig {
    pub roots: Roots,
    pub extra_ca: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RecordConfig {
    pub path: PathBuf,
    pub sample: f64,
    pub max_file_bytes: u64,
    pub queue: usize,
    pub redact_json: Vec<String>,
    pub hash_key: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub admin: Option<SocketAddr>,
    pub store: StoreConfig,
    pub locks: LockConfig,
    pub log: LogConfig,
    pub passthrough: Option<PassthroughConfig>,
    /// Route modes for callers whose apikey names no tenant.
    pub routes: Routes,
    pub upstream_tls: UpstreamTlsConfig,
    pub record: Option<RecordConfig>,
    pub tenants: Vec<TenantConfig>,
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// The figment stack: the file (if it exists, or if it was named
/// explicitly), then the environment.
pub fn figment(path: Option<&Path>) -> Result<Figment, ConfigErrors> {
    let mut fig = Figment::new();
    match path {
        Some(p) if !p.exists() => {
            return Err(ConfigErrors(vec![ConfigError {
                key: String::new(),
                message: format!("config file {} does not exist", p.display()),
            }]));
        }
        Some(p) => fig = fig.merge(Toml::file_exact(p)),
        None if Path::new(DEFAULT_PATH).exists() => fig = fig.merge(Toml::file_exact(DEFAULT_PATH)),
        None => {}
    }
    Ok(fig.merge(Env::prefixed(ENV_PREFIX).split("__")))
}

/// Reads `parent[key]` on its own; problems are reported under `label`.
fn section<T: DeserializeOwned + Default>(parent: &Value, key: &str, label: &str, errors: &mut Errors) -> T {
    let Some(v) = parent.get(key) else {
        return T::default();
    };
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let result = serde_ignored::deserialize(serde_path_to_error::Deserializer::new(v.clone(), &mut track), |path| {
        unknown.push(path.to_string())
    });
    for u in unknown {
        errors.push(format!("{label}.{u}"), "unknown key (check its spelling)");
    }
    match result {
        Ok(t) => t,
        Err(e) => {
            let path = track.path().to_string();
            let full = if path == "." || path.is_empty() {
                label.to_owned()
            } else {
                format!("{label}.{path}")
            };
            errors.push(full, e.to_string());
            T::default()
        }
    }
}

impl RawConfig {
    /// Reads each section on its own so one bad value does not hide the
    /// problems in other sections.
    fn from_value(value: &Value, errors: &mut Errors) -> RawConfig {
        if let Some(obj) = value.as_object() {
            const KNOWN: [&str; 10] = [
                "server",
                "admin",
                "store",
                "locks",
                "log",
                "passthrough",
                "routes",
                "upstream_tls",
                "record",
                "tenants",
            ];
            for k in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
                errors.push(k.clone(), "unknown section (check its spelling)");
            }
        }
        let mut tenants = BTreeMap::new();
        if let Some(t) = value.get("tenants") {
            for name in t.as_object().into_iter().flat_map(|o| o.keys()) {
                let tenant: RawTenant = section(t, name, &format!("tenants.{name}"), errors);
                tenants.insert(name.clone(), tenant);
            }
        }
        RawConfig {
            server: section(value, "server", "server", errors),
            admin: section(value, "admin", "admin", errors),
            store: section(value, "store", "store", errors),
            locks: section(value, "locks", "locks", errors),
            log: section(value, "log", "log", errors),
            passthrough: section(value, "passthrough", "passthrough", errors),
            routes: section(value, "routes", "routes", errors),
            upstream_tls: section(value, "upstream_tls", "upstream_tls", errors),
            record: section(value, "record", "record", errors),
            tenants,
        }
    }

    /// Loads the raw document (for `check-config`'s printout) and the
    /// problems found reading it.
    pub fn load(fig: &Figment) -> (RawConfig, Vec<ConfigError>) {
        let mut errors = Errors(Vec::new());
        let value: Value = match fig.extract() {
            Ok(v) => v,
            Err(e) => {
                for err in e {
                    errors.push(err.path.join("."), err.kind.to_string());
                }
                Value::Object(Default::default())
            }
        };
        let raw = RawConfig::from_value(&value, &mut errors);
        (raw, errors.0)
    }

    /// Validates everything and reports every problem.
    pub fn validate(&self, mut found: Vec<ConfigError>) -> Result<Config, ConfigErrors> {
        let mut e = Errors(std::mem::take(&mut found));
        let s = &self.server;
        let tls = match &s.tls {
            Some(RawTls {
                cert: Some(cert),
                key: Some(key),
            }) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
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
            request_timeout: e.duration("server.request_timeout", &s.request_timeout, Duration::from_secs(30)),
            max_connections: s.max_connections.unwrap_or(10_000) as usize,
            shutdown_grace: e.duration("server.shutdown_grace", &s.shutdown_grace, Duration::from_secs(15)),
            shutdown_delay: e.duration("server.shutdown_delay", &s.shutdown_delay, Duration::ZERO),
            worker_threads: s.worker_threads.map(|n| n as usize),
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
            }
        };

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
        };
        // A burn whose answer was lost is settled from the record while it is
        // kept: retention must outlast a burn's lease by far.
        if locks.retention < Duration::from_secs(60) {
            e.push("locks.retention", "must be at least 1m");
        }
        if locks.order_retention < Duration::from_secs(60) {
            e.push("locks.order_retention", "must be at least 1m");
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
                    redact_json: r
                        .redact_json
                        .clone()
                        .unwrap_or_else(|| vec!["email".into(), "mobile".into(), "phone".into()]),
                    hash_key: r.hash_key.clone(),
                })
            }
            _ => None,
        };

        let global_routes = Routes::default().overlay(&self.routes);
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
            let app_id = v.app_id.clone().unwrap_or_default();
            if app_id.is_empty() {
                e.push(k("voucherify.app_id"), "is required");
            }
            let app_token = v.app_token.clone().unwrap_or_default();
            if app_token.is_empty() {
                e.push(k("voucherify.app_token"), "is required");
            }
            let timeout = e.duration(&k("voucherify.timeout"), &v.timeout, Duration::from_secs(5));
            let routes = global_routes.overlay(&t.routes);
            if Routes::default().overlay(&t.routes).any_passthrough() && passthrough.is_none() {
                e.push(
                    k("routes"),
                    "a route is set to passthrough but [passthrough] upstream is not configured",
                );
            }
            tenants.push(TenantConfig {
                name: name.clone(),
                api_key,
                secret_key,
                currency_decimals,
                voucherify: VoucherifyConfig {
                    base_url: base_url.unwrap_or_else(|| Uri::from_static("http://invalid")),
                    app_id,
                    app_token,
                    timeout,
                },
                routes,
                messages: t.messages.clone(),
            });
        }
        if global_routes.any_passthrough() && passthrough.is_none() {
            e.push(
                "routes",
                "a route is set to passthrough but [passthrough] upstream is not configured",
            );
        }

        if !e.0.is_empty() {
            return Err(ConfigErrors(e.0));
        }
        Ok(Config {
            server,
            admin,
            store,
            locks,
            log,
            passthrough,
            routes: global_routes,
            upstream_tls,
            record,
            tenants,
        })
    }
}

impl Config {
    /// Loads and validates `path` (or the default file) plus the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let fig = figment(path)?;
        let (raw, found) = RawConfig::load(&fig);
        raw.validate(found)
    }

    /// Validates a configuration given as TOML text (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let fig = Figment::new().merge(Toml::string(text));
        let (raw, found) = RawConfig::load(&fig);
        raw.validate(found)
    }
}

/// The effective configuration as TOML with every secret redacted.
pub fn redacted_toml(raw: &RawConfig) -> String {
    toml::to_string_pretty(raw).unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [store]
        url = "memory://"
        [tenants.shop]
        api_key = "k"
        secret_key = "s3cret"
        [tenants.shop.voucherify]
        base_url = "https://api.voucherify.io/"
        app_id = "id"
        app_token = "t0ken"
    "#;

    #[test]
    fn a_minimal_config_gets_the_documented_defaults() {
        let c = Config::from_toml(MINIMAL).unwrap();
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.server.max_body_bytes, 65536);
        assert_eq!(c.locks.default_duration, Duration::from_secs(600));
        assert_eq!(c.locks.retention, Duration::from_secs(86_400));
        assert_eq!(c.admin.unwrap().to_string(), "127.0.0.1:9901");
        let t = &c.tenants[0];
        assert_eq!(t.currency_decimals, 2);
        assert_eq!(t.voucherify.timeout, Duration::from_secs(5));
        assert_eq!(t.voucherify.base_url.to_string(), "https://api.voucherify.io/");
        assert!(matches!(c.store, StoreConfig::Memory));
        assert_eq!(t.routes, Routes::default());
    }

    #[test]
    fn every_error_is_reported_in_one_run() {
        let text = r#"
            [server]
            listen = "nowhere"
            lisen = "typo"
            [locks]
            default_duration = "ten minutes"
            [log]
            format = "xml"
            [record]
            queue = "many"
            [tenants.shop]
            api_key = "k"
            currency_decimals = 9
            [tenants.shop.voucherify]
            base_url = "ftp://x"
            [tenants.other]
            api_key = "k"
            secret_key = "s"
            [tenants.other.voucherify]
            base_url = "https://api.voucherify.io"
            app_id = "a"
            app_token = "t"
            [routes]
            burn = "passthrough"
        "#;
        let errs = Config::from_toml(text).unwrap_err().0;
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        for expected in [
            "server.listen",
            "server.lisen",
            "locks.default_duration",
            "log.format",
            "record.queue",
            "tenants.shop.currency_decimals",
            "tenants.shop.secret_key",
            "tenants.shop.voucherify.base_url",
            "tenants.shop.voucherify.app_id",
            "tenants.shop.voucherify.app_token",
            "tenants.shop.api_key",
            "routes",
        ] {
            assert!(keys.contains(&expected), "missing {expected} in {keys:?}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let fig = Figment::new().merge(Toml::string(MINIMAL));
        let (raw, _) = RawConfig::load(&fig);
        let printed = redacted_toml(&raw);
        assert!(!printed.contains("s3cret") && !printed.contains("t0ken"), "{printed}");
        assert!(printed.contains("<redacted>"));
        let c = Config::from_toml(MINIMAL).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("t0ken"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn environment_overrides_the_file_and_numbers_work_as_secrets() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", MINIMAL)?;
            jail.set_env("COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY", "12345");
            jail.set_env("COUPONBRIDGE_LOCKS__DEFAULT_DURATION", "90s");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.tenants[0].secret_key.expose(), "12345");
            assert_eq!(c.locks.default_duration, Duration::from_secs(90));
            Ok(())
        });
    }

    #[test]
    fn the_shipped_config_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let text = std::fs::read_to_string(path).unwrap();
        let c = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.tenants[0].name, "shop");
        assert!(matches!(
            c.store,
            StoreConfig::Redis {
                mode: RedisMode::Standalone,
                ..
            }
        ));
    }

    #[test]
    fn per_tenant_routes_override_global_ones() {
        let text = format!(
            "{MINIMAL}\n[passthrough]\nupstream = \"https://api.gameball.co\"\n[routes]\nburn = \"passthrough\"\n[tenants.shop.routes]\nvalidate = \"passthrough\"\nburn = \"translate\"\n"
        );
        let c = Config::from_toml(&text).unwrap();
        let r = c.tenants[0].routes;
        assert_eq!(r.validate, RouteMode::Passthrough);
        assert_eq!(r.burn, RouteMode::Translate);
        assert_eq!(r.release, RouteMode::Translate);
    }
}
