//! What `GET /rollout` on the admin listener answers, and how
//! `couponbridge rollout status` prints it: per tenant and operation under
//! a rollout, the share configured, the share in force, the guards' state
//! with the current and last window's figures, and the last trip. It is
//! one replica's view: a trip another replica made shows here once this
//! one has asked the store (at its next call of that operation).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::guard::Figures;
use super::trip::Trip;
use crate::config::GuardConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutStatus {
    /// When this was read (RFC 3339, the adapter's clock).
    pub at: String,
    pub guard: GuardSettings,
    pub operations: Vec<OperationStatus>,
}

/// `[rollout.guard]` in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardSettings {
    pub window_seconds: f64,
    pub min_samples: u64,
    pub max_mismatch_rate: f64,
    pub max_error_rate: f64,
    pub max_p99_added_ms: f64,
}

impl From<&GuardConfig> for GuardSettings {
    fn from(g: &GuardConfig) -> Self {
        GuardSettings {
            window_seconds: g.window.as_secs_f64(),
            min_samples: g.min_samples,
            max_mismatch_rate: g.max_mismatch_rate,
            max_error_rate: g.max_error_rate,
            max_p99_added_ms: g.max_p99_added.as_secs_f64() * 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationStatus {
    pub tenant: String,
    pub operation: String,
    /// The route's mode, which customers outside the share keep.
    pub mode: String,
    pub configured_share: f64,
    /// 0 while a guard's trip holds.
    pub share_in_force: f64,
    pub guard: GuardState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trip: Option<Trip>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// `watching`, or `tripped`.
    pub state: String,
    /// The limits this tenant's operation is held to: `[rollout.guard]`,
    /// with `[tenants.NAME.rollout.guard]` over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<GuardSettings>,
    pub window: Figures,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_window: Option<Figures>,
}

fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}ms"))
}

/// A table, one line per tenant and operation, columns aligned; the
/// figures are the current window's (the last window's when the current
/// one has nothing yet).
pub fn table(s: &RolloutStatus) -> String {
    let mut rows = vec![
        [
            "TENANT",
            "OPERATION",
            "MODE",
            "SHARE",
            "IN FORCE",
            "GUARD",
            "COMPARED",
            "MISMATCH",
            "TRANSLATED",
            "ERRORS",
            "P99 ADDED",
            "LAST TRIP",
        ]
        .map(String::from),
    ];
    for o in &s.operations {
        let quiet = o.guard.window.compared == 0 && o.guard.window.translated == 0;
        let f = match (&o.guard.last_window, quiet) {
            (Some(last), true) => last,
            _ => &o.guard.window,
        };
        let trip = o.last_trip.as_ref().map_or_else(
            || "-".to_owned(),
            |t| format!("{} at {} (share {})", t.guard, t.at, t.share),
        );
        rows.push([
            o.tenant.clone(),
            o.operation.clone(),
            o.mode.clone(),
            format!("{}", o.configured_share),
            format!("{}", o.share_in_force),
            o.guard.state.clone(),
            f.compared.to_string(),
            rate(f.mismatch_rate),
            f.translated.to_string(),
            rate(f.error_rate),
            ms(f.p99_added_ms),
            trip,
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let g = &s.guard;
    let _ = writeln!(
        out,
        "\nguards: window {}s, at least {} samples, mismatch over {}, errors over {}, p99 added over {}ms",
        g.window_seconds,
        g.min_samples,
        rate(Some(g.max_mismatch_rate)),
        rate(Some(g.max_error_rate)),
        g.max_p99_added_ms
    );
    if s.operations.is_empty() {
        out.insert_str(
            0,
            "no operation has a rollout share ([rollout] and [tenants.NAME.rollout])\n\n",
        );
    }
    out
}

/// Reads `GET /rollout` from the admin listener at `admin`
/// (`http://HOST:PORT`).
pub async fn fetch(admin: &str) -> Result<RolloutStatus, String> {
    let url = format!("{}/rollout", admin.trim_end_matches('/'));
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let client = crate::net::client::build(&Default::default()).map_err(|e| e.to_string())?;
    let req = http::Request::get(uri)
        .body(crate::net::empty())
        .map_err(|e| format!("{url}: {e}"))?;
    let wait = Duration::from_secs(10);
    let res = tokio::time::timeout(wait, client.request(req))
        .await
        .map_err(|_| format!("{url}: no answer within {}s", wait.as_secs()))?
        .map_err(|e| format!("{url}: {e}"))?;
    let status = res.status();
    let body = crate::net::read_body(res.into_body(), 16 << 20)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status} (is this couponbridge's admin listener?)"
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: not a rollout status: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_line_per_operation_under_its_header() {
        let status = RolloutStatus {
            at: "2026-01-01T00:00:00.000Z".into(),
            guard: GuardSettings {
                window_seconds: 300.0,
                min_samples: 50,
                max_mismatch_rate: 0.05,
                max_error_rate: 0.02,
                max_p99_added_ms: 250.0,
            },
            operations: vec![OperationStatus {
                tenant: "shop".into(),
                operation: "validate".into(),
                mode: "shadow".into(),
                configured_share: 0.1,
                share_in_force: 0.0,
                guard: GuardState {
                    state: "tripped".into(),
                    limits: None,
                    window: Figures {
                        compared: 60,
                        mismatched: 6,
                        mismatch_rate: Some(0.1),
                        ..Figures::default()
                    },
                    last_window: None,
                },
                last_trip: Some(Trip {
                    share: 0.1,
                    guard: "mismatch_rate".into(),
                    at: "2026-01-01T00:00:00.000Z".into(),
                    figures: Figures::default(),
                    here: true,
                }),
            }],
        };
        let text = table(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("TENANT  OPERATION  MODE"), "{text}");
        for cell in [
            "shop",
            "validate",
            "shadow",
            "0.1",
            "tripped",
            "60",
            "10.0%",
            "mismatch_rate at",
        ] {
            assert!(lines[1].contains(cell), "{cell} not in {}", lines[1]);
        }
        assert!(text.contains("window 300s, at least 50 samples"), "{text}");
    }
}
