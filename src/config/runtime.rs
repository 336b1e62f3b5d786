//! The validated runtime configuration (rust-rpxy's split: these types
//! hold only values that passed every check).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;

use super::messages::Messages;
use super::routes::{Routes, Shares, V4Dialect};
use super::secret::Secret;
use crate::compare::JsonPath;
pub use crate::net::client::Http2;
use crate::net::tls::Roots;

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    /// A connection must show its protocol and send its request headers
    /// within this.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this (408 past it).
    pub body_read_timeout: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// After SIGTERM, keep serving (with `/readyz` at 503) this long before
    /// closing the listener, so load balancers stop sending first.
    pub shutdown_delay: Duration,
    /// Runtime worker threads; `None` is one per core.
    pub worker_threads: Option<usize>,
    /// Reload when the config file changes (besides SIGHUP).
    pub watch_config: bool,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisMode {
    Standalone,
    Cluster,
    Sentinel,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    Memory,
    Redis {
        mode: RedisMode,
        /// Standalone: one URL. Cluster: seed nodes. Sentinel: sentinels.
        urls: Vec<Secret>,
        master_name: Option<String>,
        response_timeout: Duration,
        connect_timeout: Duration,
        /// 0: no `WAIT`.
        wait_replicas: u32,
        wait_timeout: Duration,
    },
}

/// What couponbridge does when the lock store would lose acknowledged
/// locks on a crash (`[store] durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurabilityMode {
    /// Say nothing.
    None,
    /// Log a warning at start (the default).
    Warn,
    /// Also refuse readiness while it is so.
    Require,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LockConfig {
    pub default_duration: Duration,
    pub max_duration: Duration,
    pub retention: Duration,
    pub order_retention: Duration,
    /// How often session releases that failed are retried.
    pub release_retry_every: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassthroughConfig {
    pub upstream: Uri,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VoucherifyConfig {
    pub base_url: Uri,
    pub app_id: String,
    pub app_token: Secret,
    pub timeout: Duration,
    pub http2: Http2,
    /// Zero: every lock-details read asks Voucherify.
    pub definitions_ttl: Duration,
}

/// How a tenant's cutover from Gameball behaves (`[migration]`, and
/// `[tenants.NAME.migration]` over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationConfig {
    /// A validation whose coupon Voucherify does not have asks Gameball.
    pub coupon_fallback: bool,
    /// Orders and payments go on to Gameball (for its points) once their
    /// coupons are redeemed, when there is a `[passthrough] upstream`.
    pub forward_orders: bool,
}

impl Default for MigrationConfig {
    fn default() -> Self {
        MigrationConfig {
            coupon_fallback: false,
            forward_orders: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    pub name: String,
    pub api_key: String,
    pub secret_key: Secret,
    pub currency_decimals: u32,
    pub dialect: V4Dialect,
    pub voucherify: VoucherifyConfig,
    pub routes: Routes,
    pub messages: Messages,
    pub migration: MigrationConfig,
    pub rewards: RewardsConfig,
    /// `[rollout]` with `[tenants.NAME.rollout]` over it.
    pub rollout: Shares,
    /// `[rollout.guard]` with `[tenants.NAME.rollout.guard]` over it.
    pub rollout_guard: GuardConfig,
}

/// Coupons from points: the loyalty program and each Gameball redemption
/// rule's Voucherify reward.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RewardsConfig {
    /// The loyalty campaign id (`[tenants.NAME.loyalty] campaign`).
    pub loyalty_campaign: Option<String>,
    /// Gameball `ruleId` → Voucherify reward id.
    pub by_rule: std::collections::BTreeMap<u64, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTlsConfig {
    pub roots: Roots,
    pub extra_ca: Vec<PathBuf>,
}

/// What recordings and shadow files hide beyond credentials and the
/// values derived from them (`[record] redact_json` and `hash_key`): the
/// shadow redacts with it whether recording is on or not.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactionConfig {
    pub json: Vec<JsonPath>,
    pub hash_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordConfig {
    pub path: PathBuf,
    pub sample: f64,
    pub max_file_bytes: u64,
    pub queue: usize,
}

/// `[shadow]`: used by routes in `shadow` mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowConfig {
    pub path: Option<PathBuf>,
    /// The share of shadow-mode calls compared, 0 to 1.
    pub sample: f64,
    /// Comparisons waiting; beyond this they are dropped and counted.
    pub queue: usize,
    pub concurrency: usize,
    /// The rules file's rules, read at load time.
    pub rules: Vec<crate::compare::RuleSpec>,
    /// What the shadow remembers of Gameball's locks and orders, at most.
    pub book_max_bytes: usize,
    /// Exchanges waiting for comparison, at most (beyond: dropped, counted).
    pub queue_max_bytes: usize,
    /// Mismatch files kept in `path`, at most; the oldest are deleted.
    pub path_max_bytes: u64,
    /// One written example's bodies, at most; a larger body is cut.
    pub example_max_bytes: usize,
    /// The share (0 to 1) of shadowed calls Gameball is asked a second
    /// time, when asking again changes nothing there; what differs between
    /// its two answers is noise, left out of comparisons.
    pub calibrate: f64,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        ShadowConfig {
            path: None,
            sample: 1.0,
            queue: 1024,
            concurrency: 8,
            rules: Vec::new(),
            book_max_bytes: 64 << 20,
            queue_max_bytes: 64 << 20,
            path_max_bytes: 1 << 30,
            example_max_bytes: 64 << 10,
            calibrate: 0.0,
        }
    }
}

/// `[rollout.guard]`: a tenant's share of an operation falls to 0 when,
/// within one `window` of at least `min_samples` calls, one limit is
/// crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    pub window: Duration,
    pub min_samples: u64,
    /// Shadow comparisons of the customers outside the share that differ.
    pub max_mismatch_rate: f64,
    /// 5xx answers of the translated customers.
    pub max_error_rate: f64,
    /// How much slower the translated customers' p99 may be than
    /// Gameball's.
    pub max_p99_added: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// The collector's base URL; spans go to `{otlp_endpoint}/v1/traces`.
    pub otlp_endpoint: String,
    pub service_name: String,
    /// Spans waiting for export; beyond this they are dropped.
    pub queue: usize,
    pub flush_every: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// See [`RawConfig::fingerprint`](super::RawConfig::fingerprint).
    pub fingerprint: String,
    pub server: ServerConfig,
    pub admin: Option<SocketAddr>,
    pub store: StoreConfig,
    pub durability: DurabilityMode,
    pub locks: LockConfig,
    pub log: LogConfig,
    pub passthrough: Option<PassthroughConfig>,
    /// Route modes for callers whose apikey names no tenant.
    pub routes: Routes,
    pub upstream_tls: UpstreamTlsConfig,
    pub record: Option<RecordConfig>,
    pub redaction: RedactionConfig,
    pub shadow: ShadowConfig,
    pub rollout_guard: GuardConfig,
    pub telemetry: Option<TelemetryConfig>,
    pub tenants: Vec<TenantConfig>,
}
