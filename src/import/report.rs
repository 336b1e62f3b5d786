//! What the import says: one entry per coupon (and one per customer whose
//! wallet could not be read), the counts and their closing line, the
//! `--report` JSON, and the progress line on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::mapping::Difference;

/// What became of one coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Created (in a dry run: would be).
    Created,
    /// Voucherify holds this very voucher already.
    AlreadyThere,
    Skipped,
    /// Voucherify holds another voucher under this code: left as it is.
    Conflict,
    Failed,
    /// `--verify`: Voucherify holds what Gameball says.
    Verified,
    /// `--verify`: it does not.
    Different,
}

/// What was done about the coupon's publication to its customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Publication {
    Published,
    AlreadyPublished,
    WouldPublish,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub customer: String,
    /// `None` for a customer whose wallet could not be read.
    pub code: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publication: Option<Publication>,
    /// The `429`s waited out for this coupon.
    #[serde(skip_serializing_if = "is_zero")]
    pub rate_limited: u32,
    /// The coupon as Gameball listed it.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub gameball: Value,
    /// The body the import sends (or would) to `POST /v1/vouchers/{code}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voucher: Option<Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Entry {
    pub fn new(customer: &str, code: Option<String>, outcome: Outcome) -> Entry {
        Entry {
            customer: customer.to_owned(),
            code,
            outcome,
            reason: None,
            differences: Vec::new(),
            publication: None,
            rate_limited: 0,
            gameball: Value::Null,
            voucher: None,
        }
    }

    pub fn because(mut self, reason: impl Into<String>) -> Entry {
        self.reason = Some(reason.into());
        self
    }

    /// The line printed for a conflict, a failure or a difference.
    pub fn problem(&self) -> Option<String> {
        let what = match self.outcome {
            Outcome::Conflict => "conflict",
            Outcome::Failed => "failed",
            Outcome::Different => "different",
            _ => return None,
        };
        let mut line = format!("{what}: customer {}", self.customer);
        if let Some(code) = &self.code {
            line.push_str(&format!(", coupon {code}"));
        }
        let details: Vec<String> = self
            .reason
            .iter()
            .cloned()
            .chain(self.differences.iter().map(ToString::to_string))
            .collect();
        if !details.is_empty() {
            line.push_str(": ");
            line.push_str(&details.join("; "));
        }
        Some(line)
    }
}

/// The counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub created: usize,
    pub already_there: usize,
    pub skipped: usize,
    pub conflicts: usize,
    pub failed: usize,
    pub verified: usize,
    pub different: usize,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        let n = match outcome {
            Outcome::Created => &mut self.created,
            Outcome::AlreadyThere => &mut self.already_there,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Conflict => &mut self.conflicts,
            Outcome::Failed => &mut self.failed,
            Outcome::Verified => &mut self.verified,
            Outcome::Different => &mut self.different,
        };
        *n += 1;
    }

    /// The import's closing line.
    pub fn import_line(&self) -> String {
        format!(
            "created {}, already there {}, skipped {}, conflicts {}, failed {}",
            self.created, self.already_there, self.skipped, self.conflicts, self.failed
        )
    }

    /// `--verify`'s closing line.
    pub fn verify_line(&self) -> String {
        format!(
            "verified {}, different {}, skipped {}, failed {}",
            self.verified, self.different, self.skipped, self.failed
        )
    }
}

/// The `--report` document.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// `import`, `dry_run` or `verify`.
    pub mode: &'static str,
    pub tenant: &'a str,
    pub counts: Tally,
    pub coupons: &'a [Entry],
}

/// Writes `report` to `path` whole: beside it first, then renamed over,
/// so a reader never sees half a report.
pub fn write(path: &Path, report: &Report<'_>) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The running counts, and a line on standard error that shows them while
/// it is a terminal (nothing otherwise: a log is no place for a counter).
pub struct Progress {
    tally: Mutex<Tally>,
    customers: usize,
    done: AtomicUsize,
    terminal: bool,
    /// Counting `--verify`'s outcomes, whose line differs.
    verify: bool,
}

impl Progress {
    pub fn new(customers: usize, verify: bool) -> Progress {
        Progress {
            tally: Mutex::new(Tally::default()),
            customers,
            done: AtomicUsize::new(0),
            terminal: std::io::stderr().is_terminal(),
            verify,
        }
    }

    /// The closing line of the counts so far.
    pub fn line(&self) -> String {
        let t = self.tally();
        if self.verify { t.verify_line() } else { t.import_line() }
    }

    pub fn tally(&self) -> Tally {
        *self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `entry`; a problem is printed on standard output at once.
    pub fn record(&self, entry: &Entry) {
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).add(entry.outcome);
        if let Some(line) = entry.problem() {
            self.clear();
            println!("{line}");
            self.draw();
        }
    }

    pub fn customer_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Redraws the line every 200 ms until `stop` is cancelled, then
    /// clears it.
    pub async fn show(&self, stop: tokio_util::sync::CancellationToken) {
        if !self.terminal {
            return;
        }
        loop {
            self.draw();
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        self.clear();
    }

    fn draw(&self) {
        if !self.terminal {
            return;
        }
        let line = self.line();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kcustomers {}/{}: {line}",
            self.done.load(Ordering::Relaxed),
            self.customers
        );
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_closing_lines_count_every_outcome() {
        let mut t = Tally::default();
        for o in [
            Outcome::Created,
            Outcome::Created,
            Outcome::AlreadyThere,
            Outcome::Skipped,
            Outcome::Conflict,
            Outcome::Failed,
            Outcome::Verified,
            Outcome::Different,
        ] {
            t.add(o);
        }
        assert_eq!(
            t.import_line(),
            "created 2, already there 1, skipped 1, conflicts 1, failed 1"
        );
        assert_eq!(t.verify_line(), "verified 1, different 1, skipped 1, failed 1");
    }

    #[test]
    fn an_entry_says_what_it_is_and_only_what_it_has() {
        let mut e = Entry::new("c-1", Some("A".into()), Outcome::Conflict);
        e.differences.push(Difference {
            field: "discount.percent_off",
            voucherify: "10".into(),
            gameball: "20".into(),
        });
        assert_eq!(
            e.problem().unwrap(),
            "conflict: customer c-1, coupon A: discount.percent_off: Voucherify has 10, Gameball's coupon makes 20"
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"customer": "c-1", "code": "A", "outcome": "conflict",
                   "differences": [{"field": "discount.percent_off", "voucherify": "10", "gameball": "20"}]})
        );
        let failed = Entry::new("c-2", None, Outcome::Failed).because("Gameball answered 404");
        assert_eq!(failed.problem().unwrap(), "failed: customer c-2: Gameball answered 404");
        assert_eq!(Entry::new("c", None, Outcome::Created).problem(), None);
    }
}
