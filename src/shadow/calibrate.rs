//! Noise learned, not guessed (Diffy's idea): with `[shadow] calibrate`,
//! that share of the shadowed calls is sent to Gameball a second time, and
//! the JSON paths where Gameball's two answers differ (a timestamp, a
//! request id) are noise of that route: left out of its comparisons from
//! then on, so neither a mismatch count nor a rollout guard moves on them.
//! Only where asking again changes nothing at Gameball: a validation
//! without a lock, and the reads (the customer's coupons, a lock's
//! details). Any other call is never sent twice.
//!
//! A path is learned with its array indices as `[*]` (a field that changes
//! in every coupon of a list is one path), and counted per calibration
//! that saw it differ; the tally line carries the counts, and
//! `shadow-report` lists them. At most [`MAX_NOISE_PATHS`] paths a route:
//! an answer whose keys are ids cannot grow the shadow without end. Each
//! second call is counted in `couponbridge_gameball_calls_total` with the
//! reason `calibration`, and bounded by the request deadline as the
//! comparison is.

use std::collections::BTreeSet;

use http::Method;
use rand::Rng;
use serde_json::Value;

use super::{Queued, Shared};

/// The noise paths one route learns, at most.
const MAX_NOISE_PATHS: usize = 256;
use crate::compare::{Comparer, Mismatch, body_value, compare_answers};
use crate::domain::{Operation, PassOn};

impl Shared {
    /// Whether this comparison is one of the calibrated share.
    pub(super) fn calibrating(&self) -> bool {
        self.calibrate > 0.0 && rand::rng().random::<f64>() < self.calibrate
    }

    /// Asks Gameball the call again, when that is dry, and learns where
    /// its two answers differ.
    pub(super) async fn calibrate(&self, q: &Queued) {
        let Some(gameball) = q.job.gameball.as_ref() else {
            return;
        };
        if !dry_at_gameball(q) {
            return;
        }
        let call = PassOn {
            method: q.method.to_string(),
            path: q.job.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            headers: q
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: q.body.to_vec(),
        };
        let route = q.job.matched.op().name();
        let tenant = q.job.tenant.as_ref().map_or("-", |t| t.name.as_str());
        self.metrics.gameball_call(tenant, route, "calibration");
        let asked = tokio::time::timeout(q.job.request_timeout, gameball.send(&call, &q.job.request_id));
        let again = match asked.await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "shadow calibration: Gameball did not answer the second time");
                return;
            }
            Err(_) => {
                tracing::debug!(
                    "shadow calibration: Gameball did not answer the second time within the request deadline"
                );
                return;
            }
        };
        // Another status is Gameball's state moving, not noise.
        if again.status != q.gameball.0 {
            return;
        }
        let differences = compare_answers(
            &mut Comparer::new(&[]),
            "",
            (q.gameball.0, &body_value(&q.gameball.1)),
            (again.status, &body_value(&again.body)),
        );
        // A body that is not JSON differs at `$` as a whole: that is not a
        // field to leave out.
        let paths: BTreeSet<String> = differences
            .iter()
            .filter(|d| d.path.len() > 1 && d.path.starts_with('$'))
            .map(|d| noise_path(&d.path))
            .collect();
        if paths.is_empty() {
            return;
        }
        let mut t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let learned = t.noise.entry(route.to_owned()).or_default();
        for path in paths {
            if learned.len() < MAX_NOISE_PATHS || learned.contains_key(&path) {
                *learned.entry(path).or_default() += 1;
            }
        }
        t.changed = true;
    }

    /// `differences` less those at a noise path of `route`.
    pub(super) fn without_noise(&self, route: &str, differences: Vec<Mismatch>) -> Vec<Mismatch> {
        let t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match t.noise.get(route) {
            None => differences,
            Some(noise) => differences
                .into_iter()
                .filter(|d| !noise.contains_key(&noise_path(&d.path)))
                .collect(),
        }
    }
}

/// Whether sending the call to Gameball again leaves Gameball as it was.
fn dry_at_gameball(q: &Queued) -> bool {
    match q.job.matched.op() {
        Operation::Validate | Operation::ValidateSingle => {
            let body: Value = serde_json::from_slice(&q.body).unwrap_or(Value::Null);
            q.method == Method::POST && body.get("lock").and_then(Value::as_bool) != Some(true)
        }
        Operation::CustomerCoupons | Operation::LockDetails => q.method == Method::GET,
        _ => false,
    }
}

/// A difference's path with every array index as `[*]`.
fn noise_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if !after[..close].is_empty() && after[..close].bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str("[*]");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_become_wildcards() {
        assert_eq!(noise_path("$.validCoupons[0].checkedAt"), "$.validCoupons[*].checkedAt");
        assert_eq!(noise_path("$.a[12][3].b"), "$.a[*][*].b");
        assert_eq!(noise_path("$.traceToken"), "$.traceToken");
        assert_eq!(noise_path("$.odd[x]"), "$.odd[x]");
    }
}
