//! Reports for people: one self-contained HTML page builder shared by
//! `replay` and `shadow-report`, where a report goes (stdout or a file), and
//! the progress both show on a terminal while they work.
//!
//! A page has no script, no external stylesheet, font or image: it is
//! attached to tickets and opened from CI artifacts, often with no network,
//! so everything it needs is inline. Every piece of text that reaches it is
//! escaped: the bodies it shows are merchants' and Gameball's answers.

pub mod shadow;

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr, drawn only when stderr is a terminal: a CI
/// log or a file gets nothing from it, not even a carriage return.
///
/// indicatif rather than a hand-written `\r` line: it redraws at a bounded
/// rate from any thread, fits the terminal's width, estimates the time
/// left, and clears itself at the end, none of which a few lines here
/// would do as well; it is widely used and kept up (console-rs).
pub struct Progress(ProgressBar);

impl Progress {
    /// Draws nothing.
    pub fn hidden() -> Progress {
        Progress(ProgressBar::hidden())
    }

    /// `len` steps of `what`, when stderr is a terminal.
    pub fn on_terminal(len: u64, what: &str) -> Progress {
        Self::new(len, what, std::io::stderr().is_terminal(), false)
    }

    /// `len` bytes of `what`, when stderr is a terminal.
    pub fn bytes_on_terminal(len: u64, what: &str) -> Progress {
        Self::new(len, what, std::io::stderr().is_terminal(), true)
    }

    /// A bar when `terminal`, else [`Progress::hidden`].
    pub fn new(len: u64, what: &str, terminal: bool, bytes: bool) -> Progress {
        if !terminal {
            return Self::hidden();
        }
        let template = if bytes {
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} (eta {eta})"
        } else {
            "{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})"
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_owned());
        Progress(bar)
    }

    pub fn is_hidden(&self) -> bool {
        self.0.is_hidden()
    }

    /// `done` steps so far, `failed` of them without an answer.
    pub fn advance(&self, done: usize, unanswered: usize) {
        self.0.set_position(done as u64);
        if unanswered > 0 {
            self.0.set_message(format!("{unanswered} unanswered"));
        }
    }

    /// Adds `n` to the position (bytes read).
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// Clears the bar, so the report that follows starts on a clean line.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// One self-contained HTML page.
    Html,
}

/// Writes `text` to `output`, or to stdout when there is none.
pub fn write_output(output: Option<&Path>, text: &str) -> Result<(), String> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("stdout: {e}"))
        }
    }
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What share of a route's calls a bar segment stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Match,
    Mismatch,
    Error,
    Dropped,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::Error => "error",
            Outcome::Dropped => "dropped",
        }
    }

    /// Colours that stay apart for the common colour-vision deficiencies.
    fn colour(self) -> &'static str {
        match self {
            Outcome::Match => "#1a7f37",
            Outcome::Mismatch => "#d4a72c",
            Outcome::Error => "#cf222e",
            Outcome::Dropped => "#8c959f",
        }
    }
}

/// One row of a bar chart: a label and the count of each outcome.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub parts: Vec<(Outcome, u64)>,
}

/// A table cell: plain text, or preformatted text (JSON, an example call).
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Pre(String),
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1f2328;background:#fff}\
h1{font-size:22px;margin:0 0 16px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}\
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}\
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}\
pre{margin:0;font-size:12px;white-space:pre-wrap;word-break:break-all;max-width:560px}\
.bars{margin-bottom:12px;display:grid;grid-template-columns:max-content 1fr max-content;gap:6px 12px;align-items:center;max-width:1000px}\
.bar{display:flex;height:18px;border:1px solid #d0d7de;background:#f6f8fa}.bar div{height:100%}\
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}\
p.note{color:#59636e;font-size:13px}";

/// A page under construction: sections are appended in reading order.
#[derive(Debug)]
pub struct Page {
    title: String,
    body: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_owned(),
            body: format!("<h1>{}</h1>\n", escape(title)),
        }
    }

    pub fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    pub fn subheading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", escape(text));
    }

    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
    }

    /// A two-column table of names and values.
    pub fn summary(&mut self, rows: &[(&str, String)]) {
        self.body.push_str("<table class=\"summary\">\n");
        for (name, value) in rows {
            let _ = writeln!(
                self.body,
                "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
                escape(name),
                escape(value)
            );
        }
        self.body.push_str("</table>\n");
    }

    /// One horizontal bar per row, each outcome's share as a coloured
    /// segment, with the counts beside it and a legend above.
    pub fn bars(&mut self, bars: &[Bar]) {
        let mut outcomes: Vec<Outcome> = Vec::new();
        for (o, _) in bars.iter().flat_map(|b| &b.parts) {
            if !outcomes.contains(o) {
                outcomes.push(*o);
            }
        }
        self.body.push_str("<p class=\"legend\">");
        for o in &outcomes {
            let _ = write!(
                self.body,
                "<span style=\"background:{}\"></span>{}",
                o.colour(),
                o.name()
            );
        }
        self.body.push_str("</p>\n<div class=\"bars\">\n");
        for bar in bars {
            let total: u64 = bar.parts.iter().map(|(_, n)| n).sum();
            let _ = write!(self.body, "<div>{}</div><div class=\"bar\">", escape(&bar.label));
            for &(outcome, n) in bar.parts.iter().filter(|(_, n)| *n > 0) {
                let share = n as f64 * 100.0 / total as f64;
                let _ = write!(
                    self.body,
                    "<div style=\"width:{share:.3}%;background:{}\" title=\"{} {n} ({share:.1}%)\"></div>",
                    outcome.colour(),
                    outcome.name()
                );
            }
            let counts: Vec<String> = bar.parts.iter().map(|(o, n)| format!("{} {n}", o.name())).collect();
            let _ = writeln!(self.body, "</div><div>{}</div>", escape(&counts.join(" · ")));
        }
        self.body.push_str("</div>\n");
    }

    /// A table; `numeric` names the columns aligned right.
    pub fn table(&mut self, headers: &[&str], numeric: &[usize], rows: &[Vec<Cell>]) {
        self.body.push_str("<table>\n<tr>");
        for h in headers {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let class = if numeric.contains(&i) { " class=\"num\"" } else { "" };
                let _ = match cell {
                    Cell::Text(t) => write!(self.body, "<td{class}>{}</td>", escape(t)),
                    Cell::Pre(t) => write!(self.body, "<td{class}><pre>{}</pre></td>", escape(t)),
                };
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</table>\n");
    }

    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
            escape(&self.title),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_reaches_the_page_is_escaped() {
        let hostile = "<script>alert('x')</script>&\"";
        let mut page = Page::new(hostile);
        page.heading(hostile);
        page.subheading(hostile);
        page.note(hostile);
        page.summary(&[(hostile, hostile.to_owned())]);
        page.bars(&[Bar {
            label: hostile.to_owned(),
            parts: vec![(Outcome::Match, 1)],
        }]);
        page.table(
            &[hostile],
            &[],
            &[vec![Cell::Text(hostile.into()), Cell::Pre(hostile.into())]],
        );
        let html = page.finish();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert('x')"), "quotes are escaped too");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
    }

    #[test]
    fn progress_draws_only_on_a_terminal() {
        assert!(Progress::new(10, "replay", false, false).is_hidden());
        assert!(Progress::new(10, "shadow-report", false, true).is_hidden());
        // The test's stderr is captured, not a terminal.
        assert!(Progress::on_terminal(10, "replay").is_hidden() || std::io::stderr().is_terminal());
    }

    #[test]
    fn the_page_is_self_contained() {
        let mut page = Page::new("t");
        page.bars(&[Bar {
            label: "validate".into(),
            parts: vec![(Outcome::Match, 3), (Outcome::Mismatch, 1), (Outcome::Error, 0)],
        }]);
        let html = page.finish();
        for outside in ["<script", "<link", "@import", "url(", "http://", "https://"] {
            assert!(!html.contains(outside), "{outside} in {html}");
        }
        assert!(html.contains("width:75.000%"), "{html}");
        assert!(html.contains("width:25.000%"));
        assert!(!html.contains("title=\"error"), "an empty share draws no segment");
    }
}
