//! Metrics, served on the admin listener as Prometheus/OpenMetrics text.
//!
//! `prometheus-client` with one registry per adapter instance (no global
//! recorder), so tests that run several adapters in one process each see
//! their own numbers.
//!
//! Every family is there from the first scrape: [`Metrics::with`] sets the
//! series of every label set known at start (each route, each Voucherify
//! and lock-store operation, each error kind, event and result) to zero, so
//! `rate()` and `increase()` see the first event as a change from 0 rather
//! than the birth of a series, and dashboards show 0 instead of "no data".
//! The latency histograms' buckets reach `server.request_timeout`: nothing a
//! request waits for is slower than that, and an answer slower than it (a
//! timeout) falls in `+Inf`.

mod cutover;
mod rollout;

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Call {
    op: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreCall {
    op: &'static str,
    store: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Event {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

/// Why a call went to Gameball (the cutover's measure of what is left).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GameballCall {
    tenant: String,
    operation: &'static str,
    reason: &'static str,
}

/// One tenant's operation under a rollout.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantOperation {
    tenant: String,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardTrip {
    tenant: String,
    operation: &'static str,
    guard: &'static str,
}

/// The customers a rollout translates (`translated`), or those keeping
/// the route's mode (`route_mode`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CohortAnswer {
    tenant: String,
    operation: &'static str,
    cohort: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteResult {
    route: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigHash {
    hash: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnusedField {
    tenant: String,
    route: &'static str,
    field: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildInfo {
    version: &'static str,
    commit: &'static str,
}

/// The version and the commit this binary was built from (`build.rs`;
/// `unknown` when neither git nor `COUPONBRIDGE_COMMIT` told it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = match option_env!("COUPONBRIDGE_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The smallest latency bucket: 50 µs (a memory-store call).
const FIRST_BUCKET: f64 = 0.000_05;

/// Latency buckets: 50 µs × 2^k below `up_to`, then `up_to` itself (the
/// request timeout), so the largest finite bucket is the longest a request
/// may take; what took longer timed out, in `+Inf`.
pub fn latency_buckets(up_to: Duration) -> Vec<f64> {
    let top = up_to.as_secs_f64().max(FIRST_BUCKET);
    let mut buckets: Vec<f64> = exponential_buckets(FIRST_BUCKET, 2.0, 40)
        .take_while(|b| *b < top * (1.0 - 1e-9))
        .collect();
    buckets.push(top);
    buckets
}

/// The default request timeout (`server.request_timeout`), for a registry
/// made without a configuration.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Label values fixed by couponbridge itself, listed here so that their
/// series exist from the start (docs/metrics.md names the same).
pub const LOCK_EVENTS: [&str; 4] = ["created", "released", "burned", "expired"];
pub const UPSTREAM_ERROR_KINDS: [&str; 8] = [
    "connect",
    "timeout",
    "transport",
    "rate_limited",
    "unavailable",
    "unauthorized",
    "unexpected_status",
    "bad_response",
];
pub const RELOAD_RESULTS: [&str; 2] = ["ok", "error"];
pub const RELEASE_RETRY_RESULTS: [&str; 5] = ["deferred", "released", "failed", "held_again", "given_up"];
pub const SHADOW_RESULTS: [&str; 4] = ["match", "mismatch", "error", "dropped"];
pub const ROLLOUT_GUARDS: [&str; 3] = ["mismatch_rate", "error_rate", "p99_added"];
pub const ROLLOUT_COHORTS: [&str; 2] = ["translated", "route_mode"];
/// The statuses a route's request counter starts with: an answer (200) and
/// couponbridge's own server errors (500, 503), what the error-ratio rules
/// divide. Others appear when first answered.
pub const INITIAL_STATUSES: [u16; 3] = [200, 500, 503];

/// The label values known at start, from the layers above (the route
/// table's operations, the Voucherify client's, the lock store in use).
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Every `route` label: each operation's name, and `passthrough`.
    pub routes: Vec<&'static str>,
    /// Every Voucherify operation (`op`).
    pub voucherify_ops: Vec<&'static str>,
    /// `server.request_timeout`: the largest latency bucket.
    pub request_timeout: Option<Duration>,
    /// The tenants configured at start.
    pub tenants: Vec<String>,
    /// Every (`operation`, `reason`) a call to Gameball can be counted
    /// under, for each tenant.
    pub gameball_calls: Vec<(&'static str, &'static str)>,
    /// Every (`route`, `field`) an unused field can be counted under, for
    /// each tenant.
    pub unused_fields: Vec<(&'static str, &'static str)>,
}

/// What happened to a lock, for `couponbridge_locks_total{event}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    Created,
    Released,
    Burned,
    /// Counted once per lock, when an operation first finds it expired.
    Expired,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    request_seconds: Family<Route, Histogram, Buckets>,
    voucherify_seconds: Family<Call, Histogram, Buckets>,
    store_seconds: Family<StoreCall, Histogram, Buckets>,
    locks: Family<Event, Counter>,
    upstream_errors: Family<Kind, Counter>,
    recording_dropped: Counter,
    recording_written: Counter,
    config_reloads: Family<Outcome, Counter>,
    config_info: Family<ConfigHash, Gauge>,
    release_retries: Family<Outcome, Counter>,
    shadow_comparisons: Family<RouteResult, Counter>,
    gameball_calls: Family<GameballCall, Counter>,
    unused_fields: Family<UnusedField, Counter>,
    shadow_lag: Histogram,
    build_info: Family<BuildInfo, Gauge>,
    rollout_share: Family<TenantOperation, Gauge<f64, AtomicU64>>,
    rollout_trips: Family<GuardTrip, Counter>,
    rollout_answers: Family<CohortAnswer, Counter>,
    rollout_errors: Family<CohortAnswer, Counter>,
}

/// Makes each histogram of a family with the registry's latency buckets.
#[derive(Clone, Debug)]
struct Buckets(std::sync::Arc<[f64]>);

impl prometheus_client::metrics::family::MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with the default buckets and no route or operation known
    /// in advance (the fixed label values are still set).
    pub fn new() -> Self {
        Self::with(&Known::default())
    }

    /// A registry whose series for every label set in `known` start at 0.
    pub fn with(known: &Known) -> Self {
        let buckets = Buckets(latency_buckets(known.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT)).into());
        let mut m = Metrics {
            registry: Registry::with_prefix("couponbridge"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(buckets.clone()),
            voucherify_seconds: Family::new_with_constructor(buckets.clone()),
            store_seconds: Family::new_with_constructor(buckets),
            locks: Family::default(),
            upstream_errors: Family::default(),
            recording_dropped: Counter::default(),
            recording_written: Counter::default(),
            config_reloads: Family::default(),
            config_info: Family::default(),
            release_retries: Family::default(),
            shadow_comparisons: Family::default(),
            gameball_calls: Family::default(),
            unused_fields: Family::default(),
            // From Gameball's answer to the comparison's end: milliseconds
            // normally, seconds when the queue backs up.
            shadow_lag: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            build_info: Family::default(),
            rollout_share: Family::default(),
            rollout_trips: Family::default(),
            rollout_answers: Family::default(),
            rollout_errors: Family::default(),
        };
        m.registry.register(
            "requests",
            "Gameball-side requests by route and HTTP status",
            m.requests.clone(),
        );
        m.registry.register(
            "request_duration_seconds",
            "Whole-request latency by route",
            m.request_seconds.clone(),
        );
        m.registry.register(
            "voucherify_request_duration_seconds",
            "Voucherify call latency by operation and outcome (HTTP status or error kind)",
            m.voucherify_seconds.clone(),
        );
        m.registry.register(
            "lock_store_call_duration_seconds",
            "Lock-store call latency by operation and store (memory, redis)",
            m.store_seconds.clone(),
        );
        m.registry.register(
            "locks",
            "Lock lifecycle events: created, released, burned, expired",
            m.locks.clone(),
        );
        m.registry.register(
            "upstream_errors",
            "Failed upstream calls by kind (connect, timeout, unavailable, rate_limited, ...)",
            m.upstream_errors.clone(),
        );
        m.registry.register(
            "recording_dropped_entries",
            "Recording entries dropped because the writer queue was full",
            m.recording_dropped.clone(),
        );
        m.registry.register(
            "config_reloads",
            "Configuration reloads by result (ok, error)",
            m.config_reloads.clone(),
        );
        m.registry.register(
            "session_release_retries",
            "Voucherify session releases that failed and were kept for the sweeper, by result (deferred, released, failed, given_up)",
            m.release_retries.clone(),
        );
        m.registry.register(
            "config_info",
            "The loaded configuration's fingerprint (1 for the one in force)",
            m.config_info.clone(),
        );
        m.registry.register(
            "shadow_comparisons",
            "Shadowed calls by route and result (match, mismatch, error, dropped)",
            m.shadow_comparisons.clone(),
        );
        m.registry.register(
            "shadow_lag_seconds",
            "Time from Gameball's answer to the end of its shadow comparison",
            m.shadow_lag.clone(),
        );
        m.registry.register(
            "gameball_calls",
            "Calls that went to Gameball, by tenant, operation and reason (route: the route's mode; reference: state Gameball owns; fallback: a coupon only Gameball has; forward: an order or payment passed on for its points; calibration: a shadowed call asked again)",
            m.gameball_calls.clone(),
        );
        m.registry.register(
            "unused_fields",
            "Gameball request fields couponbridge accepted but did not act on, by tenant, route and field (the answer's x-couponbridge-unused header names them)",
            m.unused_fields.clone(),
        );
        m.registry.register(
            "recording_written_entries",
            "Recording entries written to disk",
            m.recording_written.clone(),
        );
        m.registry.register(
            "build_info",
            "The running binary: its version and the commit it was built from (always 1)",
            m.build_info.clone(),
        );
        m.registry.register(
            "rollout_share",
            "The share of a tenant's customers an operation translates while its route forwards (0 after a guard tripped)",
            m.rollout_share.clone(),
        );
        m.registry.register(
            "rollout_guard_trips",
            "Rollout guards this instance tripped, by tenant, operation and guard (mismatch_rate, error_rate, p99_added)",
            m.rollout_trips.clone(),
        );
        m.registry.register(
            "rollout_answers",
            "Answers to a rollout's customers, by tenant, operation and cohort (translated, route_mode)",
            m.rollout_answers.clone(),
        );
        m.registry.register(
            "rollout_errors",
            "5xx answers to a rollout's customers, by tenant, operation and cohort (translated, route_mode)",
            m.rollout_errors.clone(),
        );
        m.build_info
            .get_or_create(&BuildInfo {
                version: VERSION,
                commit: COMMIT,
            })
            .set(1);
        m.preset(known);
        m
    }

    /// Creates every known series at zero (a `get_or_create` counts nothing).
    fn preset(&self, known: &Known) {
        for &route in &known.routes {
            for status in INITIAL_STATUSES {
                let _ = self.requests.get_or_create(&RouteStatus { route, status });
            }
            let _ = self.request_seconds.get_or_create(&Route { route });
            for result in SHADOW_RESULTS {
                let _ = self.shadow_comparisons.get_or_create(&RouteResult { route, result });
            }
        }
        for &op in &known.voucherify_ops {
            let _ = self.voucherify_seconds.get_or_create(&Call {
                op,
                outcome: "200".to_owned(),
            });
        }
        self.preset_cutover(known);
        for event in LOCK_EVENTS {
            let _ = self.locks.get_or_create(&Event { event });
        }
        for kind in UPSTREAM_ERROR_KINDS {
            let _ = self.upstream_errors.get_or_create(&Kind { kind });
        }
        for result in RELOAD_RESULTS {
            let _ = self.config_reloads.get_or_create(&Outcome { result });
        }
        for result in RELEASE_RETRY_RESULTS {
            let _ = self.release_retries.get_or_create(&Outcome { result });
        }
    }

    pub fn release_retry(&self, result: &'static str) {
        self.release_retries.get_or_create(&Outcome { result }).inc();
    }

    pub fn shadow_compared(&self, route: &'static str, result: &'static str) {
        self.shadow_comparisons
            .get_or_create(&RouteResult { route, result })
            .inc();
    }

    pub fn shadow_lag(&self, seconds: f64) {
        self.shadow_lag.observe(seconds);
    }

    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.config_reloads.get_or_create(&Outcome { result }).inc();
    }

    /// Marks `hash` as the configuration in force (and no other).
    pub fn config_loaded(&self, hash: &str) {
        self.config_info.clear();
        self.config_info
            .get_or_create(&ConfigHash { hash: hash.to_owned() })
            .set(1);
    }

    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RouteStatus { route, status }).inc();
        self.request_seconds.get_or_create(&Route { route }).observe(seconds);
    }

    pub fn voucherify_call(&self, op: &'static str, outcome: String, seconds: f64) {
        self.voucherify_seconds
            .get_or_create(&Call { op, outcome })
            .observe(seconds);
    }

    /// The lock store in use (`memory`, `redis`) and the calls it times:
    /// their series start at zero.
    pub fn store_in_use(&self, store: &'static str, ops: &[&'static str]) {
        for &op in ops {
            let _ = self.store_seconds.get_or_create(&StoreCall { op, store });
        }
    }

    /// One lock-store call: `store` is the backend (`memory`, `redis`).
    pub fn lock_store_call(&self, op: &'static str, store: &'static str, seconds: f64) {
        self.store_seconds
            .get_or_create(&StoreCall { op, store })
            .observe(seconds);
    }

    pub fn lock_event(&self, e: LockEvent) {
        let event = match e {
            LockEvent::Created => "created",
            LockEvent::Released => "released",
            LockEvent::Burned => "burned",
            LockEvent::Expired => "expired",
        };
        self.locks.get_or_create(&Event { event }).inc();
    }

    pub fn upstream_error(&self, kind: &'static str) {
        self.upstream_errors.get_or_create(&Kind { kind }).inc();
    }

    pub fn recording_dropped(&self) {
        self.recording_dropped.inc();
    }

    pub fn recording_written(&self) {
        self.recording_written.inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_labels() {
        let m = Metrics::new();
        m.request("validate", 200, 0.001);
        m.voucherify_call("validate", "200".into(), 0.0005);
        m.lock_store_call("create", "redis", 0.0001);
        m.lock_event(LockEvent::Created);
        m.upstream_error("timeout");
        m.recording_dropped();
        m.shadow_compared("validate", "mismatch");
        m.shadow_lag(0.002);
        let text = m.render();
        for needle in [
            "couponbridge_requests_total{route=\"validate\",status=\"200\"} 1",
            "couponbridge_request_duration_seconds_bucket{le=",
            "couponbridge_voucherify_request_duration_seconds_count{op=\"validate\",outcome=\"200\"} 1",
            "couponbridge_lock_store_call_duration_seconds_count{op=\"create\",store=\"redis\"} 1",
            "couponbridge_locks_total{event=\"created\"} 1",
            "couponbridge_upstream_errors_total{kind=\"timeout\"} 1",
            "couponbridge_recording_dropped_entries_total 1",
            "couponbridge_shadow_comparisons_total{route=\"validate\",result=\"mismatch\"} 1",
            "couponbridge_shadow_lag_seconds_count 1",
            "couponbridge_build_info{version=\"",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn latency_buckets_end_at_the_request_timeout() {
        let b = latency_buckets(Duration::from_secs(30));
        assert_eq!(b.first(), Some(&0.000_05));
        assert_eq!(b.last(), Some(&30.0));
        assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
        assert!(
            b[b.len() - 2] > 15.0,
            "the bucket before the timeout is 50 µs × 2^k: {b:?}"
        );
        let short = latency_buckets(Duration::from_millis(250));
        assert_eq!(short.last(), Some(&0.25));
        assert_eq!(short[short.len() - 2], 0.2048);
        let exact = latency_buckets(Duration::from_secs_f64(0.2048));
        assert_eq!(
            exact.last(),
            Some(&0.2048),
            "a timeout on a bucket is not repeated: {exact:?}"
        );
        assert_eq!(exact[exact.len() - 2], 0.1024);
    }

    #[test]
    fn known_label_sets_are_there_at_zero_before_any_event() {
        let m = Metrics::with(&Known {
            routes: vec!["validate", "passthrough"],
            voucherify_ops: vec!["validate", "redeem"],
            request_timeout: Some(Duration::from_secs(5)),
            tenants: vec!["shop".into()],
            gameball_calls: vec![("orders", "forward")],
            unused_fields: vec![("validate", "merchantId")],
        });
        m.store_in_use("memory", &["create", "get"]);
        let text = m.render();
        for needle in [
            "couponbridge_requests_total{route=\"validate\",status=\"200\"} 0",
            "couponbridge_requests_total{route=\"passthrough\",status=\"503\"} 0",
            "couponbridge_request_duration_seconds_count{route=\"validate\"} 0",
            "couponbridge_request_duration_seconds_bucket{le=\"5.0\",route=\"validate\"} 0",
            "couponbridge_voucherify_request_duration_seconds_count{op=\"redeem\",outcome=\"200\"} 0",
            "couponbridge_lock_store_call_duration_seconds_count{op=\"get\",store=\"memory\"} 0",
            "couponbridge_locks_total{event=\"expired\"} 0",
            "couponbridge_upstream_errors_total{kind=\"bad_response\"} 0",
            "couponbridge_config_reloads_total{result=\"error\"} 0",
            "couponbridge_session_release_retries_total{result=\"given_up\"} 0",
            "couponbridge_shadow_comparisons_total{route=\"validate\",result=\"dropped\"} 0",
            "couponbridge_gameball_calls_total{tenant=\"shop\",operation=\"orders\",reason=\"forward\"} 0",
            "couponbridge_unused_fields_total{tenant=\"shop\",route=\"validate\",field=\"merchantId\"} 0",
            "couponbridge_build_info{version=\"",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert!(!text.contains("le=\"6.5536\""), "no bucket past the timeout:\n{text}");
    }
}
