//! What the file and the environment say, every field optional, read
//! section by section so one bad value does not hide the problems in
//! other sections.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::Figment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::{ConfigError, Errors};
use super::routes::{RawRoutes, V4Dialect};
use super::secret::{Secret, opt_string_like};
use crate::domain::InvalidReason;
use crate::net::tls::Roots;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawServer {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_connections: Option<u64>,
    pub shutdown_grace: Option<String>,
    pub shutdown_delay: Option<String>,
    pub worker_threads: Option<u64>,
    /// Reload when the config file changes (besides SIGHUP).
    pub watch_config: Option<bool>,
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
    /// `none`, `warn` (default) or `require`: what to do when Redis would
    /// lose acknowledged locks on a crash.
    pub durability: Option<String>,
    /// Replicas that must acknowledge a lock write (`WAIT`) before its
    /// reference is returned; 0 (default) waits for none.
    pub wait_replicas: Option<u32>,
    pub wait_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawLocks {
    pub default_duration: Option<String>,
    pub max_duration: Option<String>,
    pub retention: Option<String>,
    pub order_retention: Option<String>,
    pub release_retry_every: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `[telemetry]`: traces to an OTLP/HTTP collector (off without an
/// endpoint).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTelemetry {
    pub otlp_endpoint: Option<String>,
    pub service_name: Option<String>,
    pub queue: Option<u64>,
    pub flush_every: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawPassthrough {
    pub upstream: Option<String>,
    pub timeout: Option<String>,
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
pub struct RawShadow {
    /// A folder for mismatch lines; without it only metrics are kept.
    pub path: Option<PathBuf>,
    pub sample: Option<f64>,
    pub queue: Option<u64>,
    /// Comparisons running at once.
    pub concurrency: Option<u64>,
    /// A rules file, as `replay --rules` takes.
    pub rules: Option<PathBuf>,
    /// Bytes of Gameball's locks and orders the shadow remembers.
    pub book_max_bytes: Option<u64>,
    /// Bytes of exchanges waiting for comparison.
    pub queue_max_bytes: Option<u64>,
    /// Bytes of mismatch files kept in `path`; the oldest go first.
    pub path_max_bytes: Option<u64>,
    /// Bytes of one written example's bodies (larger ones are cut).
    pub example_max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawVoucherify {
    pub base_url: Option<String>,
    #[serde(deserialize_with = "opt_string_like")]
    pub app_id: Option<String>,
    pub app_token: Option<Secret>,
    pub timeout: Option<String>,
    /// `"auto"` (default), `"always"` or `"never"`.
    pub http2: Option<String>,
    /// How long a voucher definition read for lock details is reused.
    pub definitions_ttl: Option<String>,
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

impl Messages {
    /// The `error` text for `reason`: the tenant's override, or the default.
    pub fn text(&self, reason: InvalidReason) -> String {
        let custom = match reason {
            InvalidReason::NotFound => &self.not_found,
            InvalidReason::Expired => &self.expired,
            InvalidReason::NotActive => &self.not_active,
            InvalidReason::Disabled => &self.disabled,
            InvalidReason::Unavailable => &self.unavailable,
            InvalidReason::CustomerNotEligible => &self.customer_not_eligible,
            InvalidReason::OrderConditionsNotMet => &self.order_conditions_not_met,
            InvalidReason::NotCombinable => &self.not_combinable,
            InvalidReason::Invalid => &self.invalid,
        };
        custom.clone().unwrap_or_else(|| reason.default_message().to_owned())
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTenant {
    #[serde(deserialize_with = "opt_string_like")]
    pub api_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub currency_decimals: Option<u32>,
    /// The v4 wire dialect: `seed` (default) or `published`.
    pub dialect: Option<V4Dialect>,
    pub voucherify: RawVoucherify,
    pub routes: RawRoutes,
    pub messages: Messages,
    pub loyalty: RawLoyalty,
    /// Gameball redemption rule id → Voucherify reward id.
    pub rewards: BTreeMap<String, String>,
}

/// `[tenants.NAME.loyalty]`: the Voucherify loyalty program whose cards
/// hold the customers' points (coupons from points).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLoyalty {
    pub campaign: Option<String>,
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
    pub shadow: RawShadow,
    pub telemetry: RawTelemetry,
    pub tenants: BTreeMap<String, RawTenant>,
    /// SHA-256 (12 hex digits) of the whole effective document, secrets
    /// included as part of the digest (never as values): it changes when
    /// anything does, and names the configuration in force.
    #[serde(skip)]
    pub fingerprint: String,
}

fn fingerprint(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    // serde_json's maps are sorted: the same document, the same bytes.
    let digest = Sha256::digest(serde_json::to_vec(value).unwrap_or_default());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Reads `parent[key]` on its own; problems are reported under `label`.
pub(super) fn section<T: DeserializeOwned + Default>(parent: &Value, key: &str, label: &str, errors: &mut Errors) -> T {
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
            const KNOWN: [&str; 12] = [
                "shadow",
                "telemetry",
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
            shadow: section(value, "shadow", "shadow", errors),
            telemetry: section(value, "telemetry", "telemetry", errors),
            tenants,
            fingerprint: String::new(),
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
        let mut raw = RawConfig::from_value(&value, &mut errors);
        raw.fingerprint = fingerprint(&value);
        (raw, errors.0)
    }
}
