//! The replay report for people: text for a terminal, one HTML page for a
//! ticket or a CI artifact. Both name every failure by exchange and JSON
//! path, and list additions apart unless `--strict` made them failures.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::{ExchangeResult, Report};
use crate::compare::{Change, Mismatch};
use crate::report::{Bar, Cell, Outcome, Page};

const ADDITIONS: &str = "Additions (not failures; --strict fails on them)";

impl ExchangeResult {
    fn label(&self) -> String {
        format!("#{} {} {}", self.index, self.method, self.path)
    }

    /// What failed this exchange: its failures, and its additions when strict.
    fn failing(&self, strict: bool) -> impl Iterator<Item = &Mismatch> {
        let additions = if strict { &self.additions[..] } else { &[] };
        self.failures.iter().chain(additions)
    }
}

impl Report {
    /// `N passed, M failed`, and the additions when there are any.
    fn summary_line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        match self.additions {
            0 => {}
            1 => line.push_str(", 1 addition"),
            n => line.push_str(&format!(", {n} additions")),
        }
        if self.unanswered > 0 {
            line.push_str(&format!(", {} unanswered", self.unanswered));
        }
        line
    }

    fn with_additions(&self) -> impl Iterator<Item = &ExchangeResult> {
        // With --strict, additions are listed with the failures instead.
        self.results.iter().filter(|r| !self.strict && !r.additions.is_empty())
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in self.results.iter().filter(|r| !r.passed) {
            let _ = writeln!(out, "FAIL {}", r.label());
            for m in r.failing(self.strict) {
                let _ = writeln!(out, "     {}: {}", m.path, m.describe());
            }
        }
        if self.with_additions().next().is_some() {
            let _ = writeln!(out, "{ADDITIONS}:");
            for r in self.with_additions() {
                let _ = writeln!(out, "  {}", r.label());
                for m in &r.additions {
                    let _ = writeln!(out, "     {}: {}", m.path, m.describe());
                }
            }
        }
        if self.skipped > 0 {
            let _ = writeln!(out, "({} entries skipped: not Gameball coupon calls)", self.skipped);
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "stopped: {why}");
        }
        let _ = writeln!(out, "{}", self.summary_line());
        out
    }

    pub fn html(&self) -> String {
        let mut page = Page::new("couponbridge replay");
        page.note(&self.summary_line());
        if let Some(why) = &self.stopped {
            page.note(&format!("stopped: {why}"));
        }
        page.summary(&[
            ("exchanges", self.results.len().to_string()),
            ("passed", self.passed.to_string()),
            ("failed", self.failed.to_string()),
            ("additions", self.additions.to_string()),
            ("skipped", self.skipped.to_string()),
            ("unanswered", self.unanswered.to_string()),
            ("strict", if self.strict { "yes" } else { "no" }.to_owned()),
        ]);

        page.heading("Routes");
        let mut per_route: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for r in &self.results {
            let (passed, failed) = per_route.entry(&r.route).or_default();
            if r.passed {
                *passed += 1;
            } else {
                *failed += 1;
            }
        }
        let bars: Vec<Bar> = per_route
            .into_iter()
            .map(|(route, (passed, failed))| Bar {
                label: route.to_owned(),
                parts: vec![(Outcome::Match, passed), (Outcome::Mismatch, failed)],
            })
            .collect();
        page.bars(&bars);

        page.heading("Failures");
        if self.failed == 0 {
            page.note("None.");
        }
        for r in self.results.iter().filter(|r| !r.passed) {
            page.subheading(&r.label());
            page.table(&HEADERS, &[], &rows(r.failing(self.strict)));
        }
        if self.with_additions().next().is_some() {
            page.heading(ADDITIONS);
            for r in self.with_additions() {
                page.subheading(&r.label());
                page.table(&HEADERS, &[], &rows(&r.additions));
            }
        }
        page.finish()
    }
}

const HEADERS: [&str; 5] = ["path", "change", "expected", "got", "note"];

fn rows<'a>(mismatches: impl IntoIterator<Item = &'a Mismatch>) -> Vec<Vec<Cell>> {
    let value = |v: &Value, absent: bool| {
        if absent {
            Cell::Text("(absent)".into())
        } else {
            Cell::Pre(serde_json::to_string_pretty(v).unwrap_or_default())
        }
    };
    mismatches
        .into_iter()
        .map(|m| {
            vec![
                m.path.as_str().into(),
                m.change.name().into(),
                value(&m.expected, m.change == Change::Added),
                value(&m.got, m.change == Change::Missing),
                m.note.as_deref().unwrap_or("").into(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(index: usize, mismatches: Vec<Mismatch>) -> ExchangeResult {
        let (additions, failures) = mismatches.into_iter().partition(|m| m.change == Change::Added);
        ExchangeResult {
            index,
            method: "GET".into(),
            path: "/api/v4.0/integrations/locks/R".into(),
            route: "lock_details".into(),
            passed: false,
            failures,
            additions,
        }
    }

    fn added(path: &str, v: Value) -> Mismatch {
        Mismatch {
            path: path.into(),
            change: Change::Added,
            expected: Value::Null,
            got: v,
            note: None,
        }
    }

    #[test]
    fn additions_pass_and_are_listed_apart_unless_strict() {
        let report = Report {
            results: vec![
                result(1, vec![added("$.coupons[0].capping", json!(30.0))]),
                result(
                    2,
                    vec![Mismatch::differs("$.coupons[0].value", json!(25), json!(20), None)],
                ),
            ],
            ..Report::default()
        };
        let lenient = report.clone().judged(false);
        assert_eq!((lenient.passed, lenient.failed, lenient.additions), (1, 1, 1));
        let text = lenient.text();
        assert!(text.contains("FAIL #2 GET"), "{text}");
        assert!(!text.contains("FAIL #1"), "{text}");
        assert!(
            text.contains("$.coupons[0].value: differs: expected 25, got 20"),
            "{text}"
        );
        assert!(text.contains(&format!("{ADDITIONS}:\n  #1 GET")), "{text}");
        assert!(text.contains("$.coupons[0].capping: added: 30.0"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed, 1 addition\n"), "{text}");
        assert!(!text.contains("expected null"), "{text}");

        let strict = report.judged(true);
        assert_eq!((strict.passed, strict.failed), (0, 2));
        let text = strict.text();
        assert!(text.contains("FAIL #1 GET /api/v4.0/integrations/locks/R\n     $.coupons[0].capping: added: 30.0"));
        assert!(!text.contains(ADDITIONS), "{text}");
        let html = strict.html();
        assert!(html.contains("lock_details") && html.contains("$.coupons[0].capping"));
    }
}
