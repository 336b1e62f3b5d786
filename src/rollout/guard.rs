//! The guards of one tenant's operation under a rollout: tumbling windows
//! of `[rollout.guard] window` on the adapter's clock (so tests move time
//! instead of waiting), each counting what its calls showed:
//!
//! * shadow comparisons of the customers outside the share, and how many
//!   differed (`mismatch_rate`);
//! * answers to the translated customers, and how many were 5xx
//!   (`error_rate`; a Voucherify call that fails makes its request a 503,
//!   so those are in it);
//! * both cohorts' latencies in the buckets of the route's own histogram
//!   (`couponbridge_request_duration_seconds`), whose p99s give how much
//!   slower the translated customers are than Gameball (`p99_added`).
//!
//! A limit is crossed when the window holds at least `min_samples` of what
//! it judges (for `p99_added`, that many in each cohort) and its figure is
//! past the limit. It is judged at each call, not only when the window
//! ends: a regression trips as soon as there is enough to judge it by.
//! Pure: the caller says what time it is.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cohort::Cohort;
use crate::clock::{Millis, iso};
use crate::config::GuardConfig;

/// The three guards, as `[rollout.guard]` and the metrics name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    MismatchRate,
    ErrorRate,
    P99Added,
}

impl GuardKind {
    pub fn name(self) -> &'static str {
        match self {
            GuardKind::MismatchRate => "mismatch_rate",
            GuardKind::ErrorRate => "error_rate",
            GuardKind::P99Added => "p99_added",
        }
    }
}

/// What one window saw: what `GET /rollout` shows and a trip's log line
/// and record carry. Rates and p99s are absent with nothing to compute
/// them from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// When the window began (RFC 3339).
    pub started_at: String,
    /// Shadow comparisons, and those that differed.
    pub compared: u64,
    pub mismatched: u64,
    pub mismatch_rate: Option<f64>,
    /// Answers to the translated customers, and those that were 5xx.
    pub translated: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    /// Answers to the customers keeping the route's mode (Gameball's).
    pub route_mode_answers: u64,
    pub translated_p99_ms: Option<f64>,
    pub route_mode_p99_ms: Option<f64>,
    /// The translated p99 less the route mode's.
    pub p99_added_ms: Option<f64>,
}

/// A limit crossed, and the window that crossed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossed {
    pub guard: GuardKind,
    pub figures: Figures,
}

/// The counts of one window.
#[derive(Debug, Clone)]
struct Window {
    start: Millis,
    compared: u64,
    mismatched: u64,
    translated: u64,
    errors: u64,
    /// Per cohort (translated, route mode): answers per latency bucket,
    /// the last one past every bound.
    latency: [Vec<u64>; 2],
}

impl Window {
    fn new(start: Millis, buckets: usize) -> Self {
        Window {
            start,
            compared: 0,
            mismatched: 0,
            translated: 0,
            errors: 0,
            latency: [vec![0; buckets + 1], vec![0; buckets + 1]],
        }
    }
}

/// One tenant's operation's guards.
#[derive(Debug, Clone)]
pub struct Guard {
    limits: GuardConfig,
    /// The route histogram's bucket bounds, in seconds, ascending.
    bounds: Arc<[f64]>,
    window: Window,
    /// The window before the current one.
    last: Option<Figures>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The p99 of `counts` (per bucket of `bounds`, then past them), as the
/// bound of the bucket it falls in: what `histogram_quantile` over the
/// same buckets says, without interpolating. Past every bound it is the
/// last bound (the request timeout).
fn p99(counts: &[u64], bounds: &[f64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (total as f64 * 0.99).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return bounds.get(i).or(bounds.last()).copied();
        }
    }
    bounds.last().copied()
}

impl Guard {
    pub fn new(limits: GuardConfig, bounds: Arc<[f64]>, now: Millis) -> Self {
        let mut g = Guard {
            window: Window::new(0, bounds.len()),
            limits,
            bounds,
            last: None,
        };
        g.window.start = g.aligned(now);
        g
    }

    pub fn limits(&self) -> &GuardConfig {
        &self.limits
    }

    /// The start of the window `now` falls in: windows are aligned to the
    /// clock, so every replica's windows begin at the same instants.
    fn aligned(&self, now: Millis) -> Millis {
        let w = (self.limits.window.as_millis() as i64).max(1);
        now - now.rem_euclid(w)
    }

    /// Ends the current window when `now` is past it.
    fn roll(&mut self, now: Millis) {
        let w = (self.limits.window.as_millis() as i64).max(1);
        if now < self.window.start + w {
            return;
        }
        let start = self.aligned(now);
        self.last = Some(if self.window.start + w == start {
            self.figures_of(&self.window)
        } else {
            // A whole window passed without a call: that one was empty.
            self.figures_of(&Window::new(start - w, self.bounds.len()))
        });
        self.window = Window::new(start, self.bounds.len());
    }

    fn figures_of(&self, w: &Window) -> Figures {
        let ms = |s: Option<f64>| s.map(|s| s * 1000.0);
        let translated_p99 = p99(&w.latency[0], &self.bounds);
        let route_mode_p99 = p99(&w.latency[1], &self.bounds);
        Figures {
            started_at: iso(w.start),
            compared: w.compared,
            mismatched: w.mismatched,
            mismatch_rate: ratio(w.mismatched, w.compared),
            translated: w.translated,
            errors: w.errors,
            error_rate: ratio(w.errors, w.translated),
            route_mode_answers: w.latency[1].iter().sum(),
            translated_p99_ms: ms(translated_p99),
            route_mode_p99_ms: ms(route_mode_p99),
            p99_added_ms: ms(translated_p99.zip(route_mode_p99).map(|(t, r)| t - r)),
        }
    }

    /// The current window's figures, and the one before's.
    pub fn figures(&mut self, now: Millis) -> (Figures, Option<Figures>) {
        self.roll(now);
        (self.figures_of(&self.window), self.last.clone())
    }

    /// A shadow comparison of a customer outside the share.
    pub fn compared(&mut self, now: Millis, mismatch: bool) -> Option<Crossed> {
        self.roll(now);
        self.window.compared += 1;
        self.window.mismatched += u64::from(mismatch);
        self.crossed()
    }

    /// An answer to a customer of `cohort`, `error` when it was a 5xx,
    /// after `seconds`.
    pub fn answered(&mut self, now: Millis, cohort: Cohort, error: bool, seconds: f64) -> Option<Crossed> {
        self.roll(now);
        let bucket = self
            .bounds
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(self.bounds.len());
        match cohort {
            Cohort::Translated => {
                self.window.translated += 1;
                self.window.errors += u64::from(error);
                self.window.latency[0][bucket] += 1;
            }
            Cohort::RouteMode => self.window.latency[1][bucket] += 1,
        }
        self.crossed()
    }

    /// The first limit the current window is past, with enough samples.
    fn crossed(&self) -> Option<Crossed> {
        let l = &self.limits;
        let w = &self.window;
        let enough = |n: u64| n >= l.min_samples;
        let route_mode_answers: u64 = w.latency[1].iter().sum();
        let guard = if enough(w.translated) && ratio(w.errors, w.translated).is_some_and(|r| r > l.max_error_rate) {
            GuardKind::ErrorRate
        } else if enough(w.compared) && ratio(w.mismatched, w.compared).is_some_and(|r| r > l.max_mismatch_rate) {
            GuardKind::MismatchRate
        } else if enough(w.translated)
            && enough(route_mode_answers)
            && p99(&w.latency[0], &self.bounds)
                .zip(p99(&w.latency[1], &self.bounds))
                .is_some_and(|(t, r)| t - r > l.max_p99_added.as_secs_f64())
        {
            GuardKind::P99Added
        } else {
            return None;
        };
        Some(Crossed {
            guard,
            figures: self.figures_of(w),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T0: Millis = 1_700_000_100_000;

    fn limits() -> GuardConfig {
        GuardConfig {
            window: Duration::from_secs(300),
            min_samples: 10,
            max_mismatch_rate: 0.2,
            max_error_rate: 0.1,
            max_p99_added: Duration::from_millis(100),
        }
    }

    fn guard(now: Millis) -> Guard {
        let bounds: Arc<[f64]> = crate::metrics::latency_buckets(Duration::from_secs(30)).into();
        Guard::new(limits(), bounds, now)
    }

    #[test]
    fn a_rate_past_its_limit_trips_only_with_enough_samples() {
        let mut g = guard(T0);
        // 5 mismatches of 5: past 20 %, but 5 is not 10.
        for _ in 0..5 {
            assert_eq!(g.compared(T0, true), None);
        }
        for _ in 0..4 {
            assert_eq!(g.compared(T0 + 1_000, false), None);
        }
        let crossed = g.compared(T0 + 2_000, false).expect("10 samples, 50 % mismatched");
        assert_eq!(crossed.guard, GuardKind::MismatchRate);
        assert_eq!((crossed.figures.compared, crossed.figures.mismatched), (10, 5));
        assert_eq!(crossed.figures.mismatch_rate, Some(0.5));
    }

    #[test]
    fn a_rate_within_its_limit_never_trips() {
        let mut g = guard(T0);
        for i in 0..100 {
            // Every tenth is a 5xx: never past 10 %.
            assert_eq!(g.answered(T0, Cohort::Translated, i % 10 == 9, 0.01), None, "call {i}");
        }
        let (now, _) = g.figures(T0);
        assert_eq!((now.translated, now.errors, now.error_rate), (100, 10, Some(0.1)));
    }

    #[test]
    fn windows_tumble_on_the_clock_and_forget_what_came_before() {
        let w = 300_000;
        let start = T0 - T0.rem_euclid(w);
        let mut g = guard(T0);
        for _ in 0..9 {
            assert_eq!(g.answered(T0, Cohort::Translated, true, 0.01), None);
        }
        // The tenth error comes in the next window: 1 sample, no trip.
        let next = start + w;
        assert_eq!(g.answered(next, Cohort::Translated, true, 0.01), None);
        let (now, last) = g.figures(next + 1);
        assert_eq!(now.started_at, iso(next));
        assert_eq!(now.errors, 1);
        let last = last.expect("the first window ended");
        assert_eq!(
            (last.started_at, last.errors, last.error_rate),
            (iso(start), 9, Some(1.0))
        );
        // Two windows later with nothing in between: the last one is empty.
        let (_, last) = g.figures(next + 2 * w);
        assert_eq!(last.map(|f| (f.started_at, f.translated)), Some((iso(next + w), 0)));
        // Nine more errors in a fresh window: still short of ten.
        for _ in 0..9 {
            assert_eq!(g.answered(next + 3 * w, Cohort::Translated, true, 0.01), None);
        }
        let crossed = g.answered(next + 3 * w + 5, Cohort::Translated, true, 0.01);
        assert_eq!(crossed.map(|c| c.guard), Some(GuardKind::ErrorRate));
    }

    #[test]
    fn the_translated_p99_is_judged_against_the_route_modes() {
        let mut g = guard(T0);
        for _ in 0..20 {
            assert_eq!(g.answered(T0, Cohort::RouteMode, false, 0.010), None);
        }
        // 0.08 s against 0.01 s: bucket bounds 0.1024 and 0.0128, 90 ms
        // added, within 100 ms.
        for _ in 0..20 {
            assert_eq!(g.answered(T0, Cohort::Translated, false, 0.08), None);
        }
        let (f, _) = g.figures(T0);
        assert_eq!(f.translated_p99_ms, Some(102.4));
        assert_eq!(f.route_mode_p99_ms, Some(12.8));
        // One slow answer moves the translated p99 to 0.2048 s once it is
        // more than 1 % of them.
        let crossed = g.answered(T0, Cohort::Translated, false, 0.15);
        assert_eq!(crossed.map(|c| c.guard), Some(GuardKind::P99Added));
    }

    #[test]
    fn p99_needs_enough_answers_in_both_cohorts() {
        let mut g = guard(T0);
        for _ in 0..50 {
            assert_eq!(
                g.answered(T0, Cohort::Translated, false, 5.0),
                None,
                "no route-mode answers yet"
            );
        }
        for _ in 0..9 {
            assert_eq!(g.answered(T0, Cohort::RouteMode, false, 0.001), None);
        }
        assert!(g.answered(T0, Cohort::RouteMode, false, 0.001).is_some());
    }

    #[test]
    fn p99_is_the_bound_of_the_bucket_the_99th_percentile_falls_in() {
        let bounds = [0.1, 0.2, 0.4];
        assert_eq!(p99(&[0, 0, 0, 0], &bounds), None);
        assert_eq!(p99(&[99, 1, 0, 0], &bounds), Some(0.1));
        assert_eq!(p99(&[98, 2, 0, 0], &bounds), Some(0.2));
        assert_eq!(p99(&[0, 0, 0, 5], &bounds), Some(0.4), "past every bound: the last");
    }
}
