//! The shadow report for people: text for a terminal, one HTML page for a
//! ticket or a CI artifact.

use std::fmt::Write as _;

use serde_json::Value;

use super::ShadowReport;
use crate::report::{Bar, Cell, Outcome, Page};

/// Long values (a whole array that changed length) are cut in text, where
/// one line should stay one line; JSON and HTML keep them whole.
const TEXT_VALUE_CHARS: usize = 160;

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn share(part: u64, total: u64) -> String {
    if total == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / total as f64)
    }
}

fn header(r: &ShadowReport) -> String {
    format!(
        "{} file(s); lines: {} mismatch, {} error, {} tally, {} unparseable",
        r.files.len(),
        r.lines.mismatch,
        r.lines.error,
        r.lines.tally,
        r.lines.unparseable
    )
}

pub fn text(r: &ShadowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "shadow report: {}", header(r));
    for u in &r.unparseable {
        let _ = writeln!(out, "  unparseable {}:{}: {}", u.file, u.line, u.error);
    }
    if r.lines.unparseable > r.unparseable.len() as u64 {
        let _ = writeln!(
            out,
            "  ({} more unparseable lines)",
            r.lines.unparseable - r.unparseable.len() as u64
        );
    }
    let width = r.routes.iter().map(|c| c.route.len()).max().unwrap_or(0).max(5);
    let _ = writeln!(
        out,
        "\n{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "route", "match", "mismatch", "error", "dropped", "total", "match %"
    );
    for c in r.routes.iter().chain([&r.totals]) {
        let name = if c.route.is_empty() { "total" } else { &c.route };
        let _ = writeln!(
            out,
            "{name:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            c.counts.matched,
            c.counts.mismatch,
            c.counts.error,
            c.counts.dropped,
            c.total,
            share(c.counts.matched, c.total)
        );
    }
    if !r.mismatches.is_empty() {
        out.push_str("\nMismatches by route, path and change:\n");
    }
    for g in &r.mismatches {
        let e = &g.example;
        let _ = writeln!(
            out,
            "  {} {} {} x{} (first {}, last {})\n    e.g. {} {} (gameball {}, couponbridge {}): {}",
            g.route,
            g.path,
            g.change.name(),
            g.count,
            g.first_seen,
            g.last_seen,
            e.request.method,
            e.request.path,
            e.gameball.status,
            e.couponbridge.status,
            clip(&g.describe(), TEXT_VALUE_CHARS * 2)
        );
    }
    if !r.errors.is_empty() {
        out.push_str("\nErrors by route and message:\n");
    }
    for g in &r.errors {
        let e = &g.example;
        // Quoted, not Debug-formatted: the message as it was written.
        let _ = writeln!(
            out,
            "  {} \"{}\" x{} (first {}, last {})\n    e.g. {} {} (gameball {})",
            g.route,
            clip(&g.error, TEXT_VALUE_CHARS * 2),
            g.count,
            g.first_seen,
            g.last_seen,
            e.request.method,
            e.request.path,
            e.gameball.status
        );
    }
    super::noise::text(&mut out, &r.noise);
    out
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

pub fn html(r: &ShadowReport) -> String {
    let mut page = Page::new("couponbridge shadow report");
    page.note(&header(r));
    let t = &r.totals;
    page.summary(&[
        ("calls", t.total.to_string()),
        (
            "match",
            format!("{} ({})", t.counts.matched, share(t.counts.matched, t.total)),
        ),
        ("mismatch", t.counts.mismatch.to_string()),
        ("error", t.counts.error.to_string()),
        ("dropped", t.counts.dropped.to_string()),
        ("runs", r.runs.len().to_string()),
    ]);

    page.heading("Routes");
    let bars: Vec<Bar> = r
        .routes
        .iter()
        .map(|c| Bar {
            label: c.route.clone(),
            parts: vec![
                (Outcome::Match, c.counts.matched),
                (Outcome::Mismatch, c.counts.mismatch),
                (Outcome::Error, c.counts.error),
                (Outcome::Dropped, c.counts.dropped),
            ],
        })
        .collect();
    page.bars(&bars);
    let rows: Vec<Vec<Cell>> = r
        .routes
        .iter()
        .map(|c| {
            vec![
                c.route.as_str().into(),
                c.counts.matched.to_string().into(),
                c.counts.mismatch.to_string().into(),
                c.counts.error.to_string().into(),
                c.counts.dropped.to_string().into(),
                c.total.to_string().into(),
                share(c.counts.matched, c.total).into(),
            ]
        })
        .collect();
    page.table(
        &["route", "match", "mismatch", "error", "dropped", "total", "match %"],
        &[1, 2, 3, 4, 5, 6],
        &rows,
    );
    if r.runs.iter().any(|run| run.counted_from == super::CountedFrom::Lines) {
        page.note("Some runs wrote no tally; they are counted from their mismatch and error lines (matches unknown).");
    }

    page.heading("Mismatches by route, path and change");
    if r.mismatches.is_empty() {
        page.note("None.");
    }
    for route in unique(r.mismatches.iter().map(|g| g.route.as_str())) {
        page.subheading(route);
        let rows: Vec<Vec<Cell>> = r
            .mismatches
            .iter()
            .filter(|g| g.route == route)
            .map(|g| {
                let e = &g.example;
                vec![
                    g.path.as_str().into(),
                    g.change.name().into(),
                    g.count.to_string().into(),
                    g.first_seen.as_str().into(),
                    g.last_seen.as_str().into(),
                    Cell::Pre(format!(
                        "{} {}\n{}\n\ngameball {}:\n{}\n\ncouponbridge {}:\n{}\n\n{}",
                        e.request.method,
                        e.request.path,
                        pretty(&e.request.body),
                        e.gameball.status,
                        pretty(&e.gameball.body),
                        e.couponbridge.status,
                        pretty(&e.couponbridge.body),
                        g.describe()
                    )),
                ]
            })
            .collect();
        page.table(
            &["path", "change", "count", "first seen", "last seen", "example"],
            &[2],
            &rows,
        );
    }

    page.heading("Errors by route and message");
    if r.errors.is_empty() {
        page.note("None.");
    }
    for route in unique(r.errors.iter().map(|g| g.route.as_str())) {
        page.subheading(route);
        let rows: Vec<Vec<Cell>> = r
            .errors
            .iter()
            .filter(|g| g.route == route)
            .map(|g| {
                let e = &g.example;
                vec![
                    g.error.as_str().into(),
                    g.count.to_string().into(),
                    g.first_seen.as_str().into(),
                    g.last_seen.as_str().into(),
                    Cell::Pre(format!(
                        "{} {}\n{}\n\ngameball {}:\n{}\n\nthe line: {}",
                        e.request.method,
                        e.request.path,
                        pretty(&e.request.body),
                        e.gameball.status,
                        pretty(&e.gameball.body),
                        e.error
                    )),
                ]
            })
            .collect();
        page.table(&["error", "count", "first seen", "last seen", "example"], &[1], &rows);
    }

    super::noise::html(&mut page, &r.noise);
    if !r.unparseable.is_empty() {
        page.heading("Unparseable lines");
        let rows: Vec<Vec<Cell>> = r
            .unparseable
            .iter()
            .map(|u| {
                vec![
                    u.file.as_str().into(),
                    u.line.to_string().into(),
                    u.error.as_str().into(),
                ]
            })
            .collect();
        page.table(&["file", "line", "error"], &[1], &rows);
    }
    page.finish()
}

/// The distinct values, in their first order (groups come sorted by route).
fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if out.last() != Some(&item) {
            out.push(item);
        }
    }
    out
}
