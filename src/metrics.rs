//! Metrics, served on the admin listener as Prometheus/OpenMetrics text.
//!
//! `prometheus-client` with one registry per adapter instance (no global
//! recorder), so tests that run several adapters in one process each see
//! their own numbers.

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
struct Operation {
    op: &'static str,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteResult {
    route: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConfigHash {
    hash: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
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
    request_seconds: Family<Route, Histogram, fn() -> Histogram>,
    voucherify_seconds: Family<Call, Histogram, fn() -> Histogram>,
    redis_seconds: Family<Operation, Histogram, fn() -> Histogram>,
    locks: Family<Event, Counter>,
    upstream_errors: Family<Kind, Counter>,
    recording_dropped: Counter,
    recording_written: Counter,
    config_reloads: Family<Outcome, Counter>,
    config_info: Family<ConfigHash, Gauge>,
    release_retries: Family<Outcome, Counter>,
    shadow_comparisons: Family<RouteResult, Counter>,
    gameball_calls: Family<GameballCall, Counter>,
    shadow_lag: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("couponbridge"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            voucherify_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            redis_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            locks: Family::default(),
            upstream_errors: Family::default(),
            recording_dropped: Counter::default(),
            recording_written: Counter::default(),
            config_reloads: Family::default(),
            config_info: Family::default(),
            release_retries: Family::default(),
            shadow_comparisons: Family::default(),
            gameball_calls: Family::default(),
            // From Gameball's answer to the comparison's end: milliseconds
            // normally, seconds when the queue backs up.
            shadow_lag: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
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
            "redis_command_duration_seconds",
            "Lock-store call latency by operation",
            m.redis_seconds.clone(),
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
            "Calls that went to Gameball, by tenant, operation and reason (route: the route's mode; reference: state Gameball owns; fallback: a coupon only Gameball has; forward: an order or payment passed on for its points)",
            m.gameball_calls.clone(),
        );
        m.registry.register(
            "recording_written_entries",
            "Recording entries written to disk",
            m.recording_written.clone(),
        );
        m
    }

    pub fn release_retry(&self, result: &'static str) {
        self.release_retries.get_or_create(&Outcome { result }).inc();
    }

    pub fn shadow_compared(&self, route: &'static str, result: &'static str) {
        self.shadow_comparisons
            .get_or_create(&RouteResult { route, result })
            .inc();
    }

    pub fn gameball_call(&self, tenant: &str, operation: &'static str, reason: &'static str) {
        self.gameball_calls
            .get_or_create(&GameballCall {
                tenant: tenant.to_owned(),
                operation,
                reason,
            })
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

    pub fn redis_call(&self, op: &'static str, seconds: f64) {
        self.redis_seconds.get_or_create(&Operation { op }).observe(seconds);
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
        m.redis_call("create", 0.0001);
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
            "couponbridge_redis_command_duration_seconds_count{op=\"create\"} 1",
            "couponbridge_locks_total{event=\"created\"} 1",
            "couponbridge_upstream_errors_total{kind=\"timeout\"} 1",
            "couponbridge_recording_dropped_entries_total 1",
            "couponbridge_shadow_comparisons_total{route=\"validate\",result=\"mismatch\"} 1",
            "couponbridge_shadow_lag_seconds_count 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
