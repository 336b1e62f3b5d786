//! `shadow-report --fail-on`: a report that can fail a CI job. Without it
//! the report only reports (exit 0 whatever it found), as before.

use super::ShadowReport;

/// What `--fail-on` fails a run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any call whose answers differed.
    Mismatch,
    /// Any call the shadow could not compare.
    Error,
}

impl ShadowReport {
    /// Calls found of `what`: the larger of the tallies' count and the
    /// lines' (a line written after a run's last tally is in no tally).
    pub fn found(&self, what: FailOn) -> u64 {
        match what {
            FailOn::Mismatch => self.totals.counts.mismatch.max(self.lines.mismatch),
            FailOn::Error => self.totals.counts.error.max(self.lines.error),
        }
    }

    /// Why `--fail-on` fails this report, when it does.
    pub fn failing(&self, fail_on: &[FailOn]) -> Option<String> {
        let found: Vec<String> = fail_on
            .iter()
            .map(|w| (w, self.found(*w)))
            .filter(|(_, n)| *n > 0)
            .map(|(w, n)| match w {
                FailOn::Mismatch => format!("{n} mismatch{}", if n == 1 { "" } else { "es" }),
                FailOn::Error => format!("{n} error{}", if n == 1 { "" } else { "s" }),
            })
            .collect();
        (!found.is_empty()).then(|| found.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::record::Counts;

    #[test]
    fn fail_on_counts_tallies_and_lines_alike() {
        let mut r = super::super::Collector::default().finish();
        assert_eq!(r.failing(&[FailOn::Mismatch, FailOn::Error]), None, "nothing found");
        r.lines.mismatch = 2;
        assert_eq!(r.failing(&[FailOn::Error]), None);
        assert_eq!(r.failing(&[]), None, "without --fail-on nothing fails");
        assert_eq!(r.failing(&[FailOn::Mismatch]).as_deref(), Some("2 mismatches"));
        r.totals.counts = Counts {
            error: 1,
            mismatch: 3,
            ..Counts::default()
        };
        assert_eq!(
            r.failing(&[FailOn::Mismatch, FailOn::Error]).as_deref(),
            Some("3 mismatches and 1 error")
        );
    }
}
