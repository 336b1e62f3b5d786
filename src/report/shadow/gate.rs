//! `shadow-report --fail-on`: a report that can fail a CI job. Without it
//! the report only reports (exit 0 whatever it found), as before.

/// What `--fail-on` fails a run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any call whose answers differed.
    Mismatch,
    /// Any call the shadow could not compare.
    Error,
}

/// Why `--fail-on` fails a report that found `mismatches` and `errors`,
/// when it does.
pub fn failing(fail_on: &[FailOn], mismatches: u64, errors: u64) -> Option<String> {
    let found: Vec<String> = fail_on
        .iter()
        .map(|w| match w {
            FailOn::Mismatch => (mismatches, "mismatch", "mismatches"),
            FailOn::Error => (errors, "error", "errors"),
        })
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
    (!found.is_empty()).then(|| found.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_names_what_was_found() {
        assert_eq!(failing(&[FailOn::Mismatch, FailOn::Error], 0, 0), None, "nothing found");
        assert_eq!(failing(&[FailOn::Error], 2, 0), None);
        assert_eq!(failing(&[], 2, 1), None, "without --fail-on nothing fails");
        assert_eq!(failing(&[FailOn::Mismatch], 2, 0).as_deref(), Some("2 mismatches"));
        assert_eq!(
            failing(&[FailOn::Mismatch, FailOn::Error], 3, 1).as_deref(),
            Some("3 mismatches and 1 error")
        );
    }
}
