//! `[rollout.guard]`: the limits past which a share steps back by itself.
//! (The shares themselves are checked with the routes they ride on, in
//! [`super::super::routes::Shares`].)

use super::super::errors::Errors;
use super::super::raw::{RawGuard, RawTenantGuard};
use super::super::runtime::GuardConfig;

pub(super) fn guard(g: &RawGuard, e: &mut Errors) -> GuardConfig {
    let limits = GuardConfig {
        window: e.duration("rollout.guard.window", &g.window),
        min_samples: g.min_samples,
        max_mismatch_rate: g.max_mismatch_rate,
        max_error_rate: g.max_error_rate,
        max_p99_added: e.duration("rollout.guard.max_p99_added", &g.max_p99_added),
    };
    // A window that is not a duration has its error already.
    let parsed = humantime::parse_duration(&g.window).is_ok();
    check(&limits, "rollout.guard", |key| key != "window" || parsed, e);
    limits
}

/// `[tenants.NAME.rollout.guard]` over `global`: each key the tenant sets
/// replaces the global one, and only those are checked here (a bad global
/// value is reported once, at its own key).
pub(super) fn tenant_guard(global: &GuardConfig, t: &RawTenantGuard, prefix: &str, e: &mut Errors) -> GuardConfig {
    let mut duration = |key: &str, text: &Option<String>, inherited: std::time::Duration| match text {
        Some(text) => e.duration(&format!("{prefix}.{key}"), text),
        None => inherited,
    };
    let limits = GuardConfig {
        window: duration("window", &t.window, global.window),
        max_p99_added: duration("max_p99_added", &t.max_p99_added, global.max_p99_added),
        min_samples: t.min_samples.unwrap_or(global.min_samples),
        max_mismatch_rate: t.max_mismatch_rate.unwrap_or(global.max_mismatch_rate),
        max_error_rate: t.max_error_rate.unwrap_or(global.max_error_rate),
    };
    let set = |key: &str| match key {
        "window" => t
            .window
            .as_deref()
            .is_some_and(|w| humantime::parse_duration(w).is_ok()),
        "min_samples" => t.min_samples.is_some(),
        "max_mismatch_rate" => t.max_mismatch_rate.is_some(),
        _ => t.max_error_rate.is_some(),
    };
    check(&limits, prefix, set, e);
    limits
}

/// The limits' own rules, for the keys `checked` says are set here.
fn check(g: &GuardConfig, prefix: &str, checked: impl Fn(&str) -> bool, e: &mut Errors) {
    if checked("window") && g.window.is_zero() {
        e.push(format!("{prefix}.window"), "must be longer than zero");
    }
    if checked("min_samples") && g.min_samples == 0 {
        // One call would decide: a guard needs a sample to judge by.
        e.push(format!("{prefix}.min_samples"), "must be at least 1");
    }
    for (key, rate) in [
        ("max_mismatch_rate", g.max_mismatch_rate),
        ("max_error_rate", g.max_error_rate),
    ] {
        if checked(key) && !(0.0..=1.0).contains(&rate) {
            e.push(
                format!("{prefix}.{key}"),
                "must be between 0 and 1 (1 turns this guard off)",
            );
        }
    }
}
