//! What the file and the environment say, read key by key ([`read`]):
//! every value as written, not yet parsed or checked, with the default in
//! place of a key that is not set. The defaults live here, once: the
//! effective configuration `check-config --effective` prints is what this
//! reads, and validation ([`super::validate`]) only checks and converts.
//!
//! [`read`]: super::read

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::messages::Messages;
use super::read::{Entry, Reading, Table};
use super::routes::{RawRoutes, V4Dialect};
use super::runtime::ShadowConfig;
use super::secret::Secret;
use super::source::Document;
use crate::net::tls::Roots;

#[derive(Debug, Clone, Default)]
pub struct RawServer {
    pub listen: String,
    pub max_body_bytes: u64,
    pub header_read_timeout: String,
    pub body_read_timeout: String,
    pub idle_timeout: String,
    pub request_timeout: String,
    pub max_connections: u64,
    pub shutdown_grace: String,
    pub shutdown_delay: String,
    pub worker_threads: Option<u64>,
    /// Reload when the config file changes (besides SIGHUP).
    pub watch_config: bool,
    pub tls: RawTls,
}

/// `[server.tls]`: both, or neither.
#[derive(Debug, Clone, Default)]
pub struct RawTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct RawAdmin {
    pub listen: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RawStore {
    pub url: Secret,
    pub mode: String,
    pub nodes: Vec<Secret>,
    pub master_name: Option<String>,
    pub response_timeout: String,
    pub connect_timeout: String,
    /// `none`, `warn` or `require`: what to do when Redis would lose
    /// acknowledged locks on a crash.
    pub durability: String,
    /// Replicas that must acknowledge a lock write (`WAIT`) before its
    /// reference is returned.
    pub wait_replicas: u32,
    pub wait_timeout: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawLocks {
    pub default_duration: String,
    pub max_duration: String,
    pub retention: String,
    pub order_retention: String,
    pub release_retry_every: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

/// `[telemetry]`: traces to an OTLP/HTTP collector (off without an
/// endpoint).
#[derive(Debug, Clone, Default)]
pub struct RawTelemetry {
    pub otlp_endpoint: Option<String>,
    pub service_name: String,
    pub queue: u64,
    pub flush_every: String,
    pub timeout: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawPassthrough {
    pub upstream: Option<String>,
    pub timeout: String,
}

/// `[migration]`, and `[tenants.NAME.migration]` over it (unset there:
/// the global value).
#[derive(Debug, Clone, Default)]
pub struct RawMigration {
    pub coupon_fallback: Option<bool>,
    pub forward_orders: Option<bool>,
}

impl RawMigration {
    fn read(t: &mut Table<'_>, unset: &'static str) -> RawMigration {
        RawMigration {
            coupon_fallback: t.get("coupon_fallback", unset),
            forward_orders: t.get("forward_orders", unset),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RawUpstreamTls {
    pub roots: Roots,
    pub extra_ca: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct RawRecord {
    pub enabled: bool,
    pub path: Option<PathBuf>,
    pub sample: f64,
    pub max_file_bytes: u64,
    pub queue: u64,
    /// JSONPath queries (RFC 9535), checked by validation.
    pub redact_json: Vec<String>,
    pub hash_key: Option<Secret>,
}

#[derive(Debug, Clone, Default)]
pub struct RawShadow {
    /// A folder for mismatch lines; without it only metrics are kept.
    pub path: Option<PathBuf>,
    pub sample: f64,
    pub queue: u64,
    /// Comparisons running at once.
    pub concurrency: u64,
    /// A rules file, as `replay --rules` takes.
    pub rules: Option<PathBuf>,
    /// Bytes of Gameball's locks and orders the shadow remembers.
    pub book_max_bytes: u64,
    /// Bytes of exchanges waiting for comparison.
    pub queue_max_bytes: u64,
    /// Bytes of mismatch files kept in `path`; the oldest go first.
    pub path_max_bytes: u64,
    /// Bytes of one written example's bodies (larger ones are cut).
    pub example_max_bytes: u64,
    /// The share of shadowed calls asked of Gameball a second time, to
    /// learn which of its answer's fields change by themselves.
    pub calibrate: f64,
}

/// `[rollout]`: each operation's share of customers translated while its
/// route passes through or shadows, and `[rollout.guard]`.
#[derive(Debug, Clone, Default)]
pub struct RawRollout {
    /// Operation name → share (0 to 1), as written; checked by validation.
    pub shares: BTreeMap<String, f64>,
    pub guard: RawGuard,
}

/// `[rollout.guard]`: when a share falls back to 0 by itself.
#[derive(Debug, Clone, Default)]
pub struct RawGuard {
    pub window: String,
    pub min_samples: u64,
    pub max_mismatch_rate: f64,
    pub max_error_rate: f64,
    pub max_p99_added: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawVoucherify {
    pub base_url: Option<String>,
    pub app_id: Option<String>,
    pub app_token: Option<Secret>,
    pub timeout: String,
    /// `"auto"`, `"always"` or `"never"`.
    pub http2: String,
    /// How long a voucher definition read for lock details is reused.
    pub definitions_ttl: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawTenant {
    pub api_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub currency_decimals: u32,
    /// The v4 wire dialect.
    pub dialect: V4Dialect,
    pub voucherify: RawVoucherify,
    pub routes: RawRoutes,
    pub messages: Messages,
    pub loyalty: RawLoyalty,
    pub migration: RawMigration,
    /// Gameball redemption rule id → Voucherify reward id.
    pub rewards: BTreeMap<String, String>,
    /// Operation name → share, over `[rollout]`'s.
    pub rollout: BTreeMap<String, f64>,
    /// `[tenants.NAME.rollout.guard]`, over `[rollout.guard]`.
    pub rollout_guard: RawTenantGuard,
}

/// `[tenants.NAME.rollout.guard]`: a merchant's own limits (a small shop
/// needs fewer samples, a cautious one a lower rate); each key unset
/// keeps `[rollout.guard]`'s.
#[derive(Debug, Clone, Default)]
pub struct RawTenantGuard {
    pub window: Option<String>,
    pub min_samples: Option<u64>,
    pub max_mismatch_rate: Option<f64>,
    pub max_error_rate: Option<f64>,
    pub max_p99_added: Option<String>,
}

/// `[tenants.NAME.loyalty]`: the Voucherify loyalty program whose cards
/// hold the customers' points (coupons from points).
#[derive(Debug, Clone, Default)]
pub struct RawLoyalty {
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    pub server: RawServer,
    pub admin: RawAdmin,
    pub store: RawStore,
    pub locks: RawLocks,
    pub log: RawLog,
    pub passthrough: RawPassthrough,
    pub migration: RawMigration,
    pub routes: RawRoutes,
    pub upstream_tls: RawUpstreamTls,
    pub record: RawRecord,
    pub shadow: RawShadow,
    pub rollout: RawRollout,
    pub telemetry: RawTelemetry,
    pub tenants: BTreeMap<String, RawTenant>,
    /// SHA-256 (12 hex digits) of the whole merged document, secrets
    /// included in the digest (never as values): it changes when anything
    /// does, and names the configuration in force.
    pub fingerprint: String,
}

/// The JSON fields redacted when `[record] redact_json` does not say.
pub const DEFAULT_REDACT_JSON: [&str; 3] = ["$..email", "$..mobile", "$..phone"];

impl RawConfig {
    /// Reads every section of `doc`, each key on its own.
    pub(super) fn read(doc: &Document, reading: &RefCell<Reading>) -> RawConfig {
        let mut root = Table::root(doc, reading);
        let raw = RawConfig {
            server: root.table("server", read_server),
            admin: root.table("admin", |t| RawAdmin {
                listen: t.or("listen", "127.0.0.1:9901".to_owned()),
                enabled: t.or("enabled", true),
            }),
            store: root.table("store", read_store),
            locks: root.table("locks", |t| RawLocks {
                default_duration: t.duration("default_duration", "10m"),
                max_duration: t.duration("max_duration", "7d"),
                retention: t.duration("retention", "24h"),
                order_retention: t.duration("order_retention", "30d"),
                release_retry_every: t.duration("release_retry_every", "1s"),
            }),
            log: root.table("log", |t| RawLog {
                format: t.or("format", "pretty".to_owned()),
                level: t.or("level", "info".to_owned()),
            }),
            telemetry: root.table("telemetry", |t| RawTelemetry {
                otlp_endpoint: t.get("otlp_endpoint", "no spans are exported"),
                service_name: t.or("service_name", "couponbridge".to_owned()),
                queue: t.or("queue", 2048),
                flush_every: t.duration("flush_every", "1s"),
                timeout: t.duration("timeout", "5s"),
            }),
            passthrough: root.table("passthrough", |t| RawPassthrough {
                upstream: t.get("upstream", "untranslated paths get a Gameball-shaped 404"),
                timeout: t.duration("timeout", "30s"),
            }),
            migration: root.table("migration", |t| RawMigration::read(t, "the default")),
            routes: root.map("routes"),
            upstream_tls: root.table("upstream_tls", |t| RawUpstreamTls {
                roots: t.or("roots", Roots::default()),
                extra_ca: t.or("extra_ca", Vec::new()),
            }),
            record: root.table("record", read_record),
            shadow: root.table("shadow", read_shadow),
            rollout: root.table("rollout", |t| {
                // Named first: every other key is an operation's share.
                let guard = t.table("guard", read_guard);
                RawRollout {
                    shares: t.rest(),
                    guard,
                }
            }),
            tenants: root.tables("tenants", |_, t| read_tenant(t)),
            fingerprint: doc.fingerprint(),
        };
        root.finish();
        raw
    }

    /// Every key path the configuration knows (`tenants.*.api_key`; `*`
    /// stands for a map's key), as the reader asks for them.
    pub fn key_patterns() -> BTreeSet<String> {
        let reading = RefCell::new(Reading::default());
        Table::schema(&reading);
        let doc = Document::load(None, false).expect("an empty document loads");
        RawConfig::read(&doc, &reading);
        reading.into_inner().entries.into_iter().map(|e: Entry| e.key).collect()
    }
}

fn read_server(t: &mut Table<'_>) -> RawServer {
    let mut server = RawServer {
        listen: t.or("listen", "0.0.0.0:8080".to_owned()),
        max_body_bytes: t.or("max_body_bytes", 64 * 1024),
        header_read_timeout: t.duration("header_read_timeout", "10s"),
        body_read_timeout: t.duration("body_read_timeout", "10s"),
        idle_timeout: t.duration("idle_timeout", "60s"),
        request_timeout: t.duration("request_timeout", "30s"),
        max_connections: t.or("max_connections", 10_000),
        shutdown_grace: t.duration("shutdown_grace", "15s"),
        shutdown_delay: t.duration("shutdown_delay", "0s"),
        worker_threads: t.get("worker_threads", "one per core"),
        watch_config: t.or("watch_config", false),
        tls: RawTls::default(),
    };
    server.tls = t.table("tls", |t| RawTls {
        cert: t.get("cert", "plain HTTP, h2c by prior knowledge"),
        key: t.get("key", "plain HTTP"),
    });
    server
}

fn read_store(t: &mut Table<'_>) -> RawStore {
    RawStore {
        url: t.secret_or("url", "redis://127.0.0.1:6379/0"),
        mode: t.or("mode", "standalone".to_owned()),
        nodes: t.or("nodes", Vec::new()),
        master_name: t.get("master_name", "required in sentinel mode"),
        response_timeout: t.duration("response_timeout", "500ms"),
        connect_timeout: t.duration("connect_timeout", "1s"),
        durability: t.or("durability", "warn".to_owned()),
        wait_replicas: t.or("wait_replicas", 0),
        wait_timeout: t.duration("wait_timeout", "1s"),
    }
}

fn read_record(t: &mut Table<'_>) -> RawRecord {
    RawRecord {
        enabled: t.or("enabled", false),
        path: t.get("path", "required when enabled"),
        sample: t.or("sample", 1.0),
        max_file_bytes: t.or("max_file_bytes", 64 * 1024 * 1024),
        queue: t.or("queue", 4096),
        redact_json: t.or("redact_json", DEFAULT_REDACT_JSON.map(String::from).to_vec()),
        hash_key: t.secret("hash_key", "redacted values are written as <redacted>"),
    }
}

fn read_shadow(t: &mut Table<'_>) -> RawShadow {
    let d = ShadowConfig::default();
    RawShadow {
        path: t.get("path", "metrics only"),
        sample: t.or("sample", d.sample),
        queue: t.or("queue", d.queue as u64),
        concurrency: t.or("concurrency", d.concurrency as u64),
        rules: t.get("rules", "the built-in rules only"),
        book_max_bytes: t.or("book_max_bytes", d.book_max_bytes as u64),
        queue_max_bytes: t.or("queue_max_bytes", d.queue_max_bytes as u64),
        path_max_bytes: t.or("path_max_bytes", d.path_max_bytes),
        example_max_bytes: t.or("example_max_bytes", d.example_max_bytes as u64),
        calibrate: t.or("calibrate", d.calibrate),
    }
}

/// The guards' defaults suit the ramp's early steps (docs/cutover.md):
/// a few minutes of traffic, enough calls to mean something, and limits a
/// route proven in shadow mode should never reach.
fn read_guard(t: &mut Table<'_>) -> RawGuard {
    RawGuard {
        window: t.duration("window", "5m"),
        min_samples: t.or("min_samples", 50),
        max_mismatch_rate: t.or("max_mismatch_rate", 0.05),
        max_error_rate: t.or("max_error_rate", 0.02),
        max_p99_added: t.duration("max_p99_added", "250ms"),
    }
}

fn read_tenant(t: &mut Table<'_>) -> RawTenant {
    let mut tenant = RawTenant {
        api_key: t.text("api_key", "required"),
        secret_key: t.secret("secret_key", "required"),
        currency_decimals: t.or("currency_decimals", 2),
        dialect: t.or("dialect", V4Dialect::default()),
        voucherify: t.table("voucherify", |t| RawVoucherify {
            base_url: t.get("base_url", "required"),
            app_id: t.text("app_id", "required"),
            app_token: t.secret("app_token", "required"),
            timeout: t.duration("timeout", "5s"),
            http2: t.or("http2", "auto".to_owned()),
            definitions_ttl: t.duration("definitions_ttl", "5s"),
        }),
        routes: t.map("routes"),
        messages: t.table("messages", Messages::read),
        loyalty: t.table("loyalty", |t| RawLoyalty {
            campaign: t.get("campaign", "no loyalty program"),
        }),
        migration: t.table("migration", |t| RawMigration::read(t, "the [migration] value")),
        rewards: t.map("rewards"),
        ..RawTenant::default()
    };
    (tenant.rollout, tenant.rollout_guard) = read_tenant_rollout(t);
    tenant
}

/// `[tenants.NAME.rollout]`: shares by operation, and its `guard` table.
fn read_tenant_rollout(t: &mut Table<'_>) -> (BTreeMap<String, f64>, RawTenantGuard) {
    t.table("rollout", |t| {
        // Named first: every other key is an operation's share.
        const INHERITED: &str = "the [rollout.guard] value";
        let rollout_guard = t.table("guard", |g| RawTenantGuard {
            window: g.duration_or_inherited("window", INHERITED),
            min_samples: g.get("min_samples", INHERITED),
            max_mismatch_rate: g.get("max_mismatch_rate", INHERITED),
            max_error_rate: g.get("max_error_rate", INHERITED),
            max_p99_added: g.duration_or_inherited("max_p99_added", INHERITED),
        });
        (t.rest(), rollout_guard)
    })
}
