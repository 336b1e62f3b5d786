//! `[rollout.guard]`: the limits past which a share steps back by itself.
//! (The shares themselves are checked with the routes they ride on, in
//! [`super::super::routes::Shares`].)

use super::super::errors::Errors;
use super::super::raw::RawGuard;
use super::super::runtime::GuardConfig;

pub(super) fn guard(g: &RawGuard, e: &mut Errors) -> GuardConfig {
    let window = e.duration("rollout.guard.window", &g.window);
    if window.is_zero() {
        e.push("rollout.guard.window", "must be longer than zero");
    }
    if g.min_samples == 0 {
        // One call would decide: a guard needs a sample to judge by.
        e.push("rollout.guard.min_samples", "must be at least 1");
    }
    for (key, rate) in [
        ("rollout.guard.max_mismatch_rate", g.max_mismatch_rate),
        ("rollout.guard.max_error_rate", g.max_error_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            e.push(key, "must be between 0 and 1 (1 turns this guard off)");
        }
    }
    GuardConfig {
        window,
        min_samples: g.min_samples,
        max_mismatch_rate: g.max_mismatch_rate,
        max_error_rate: g.max_error_rate,
        max_p99_added: e.duration("rollout.guard.max_p99_added", &g.max_p99_added),
    }
}
