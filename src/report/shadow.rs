//! `couponbridge shadow-report FILE…`: what shadow mode found, from the
//! JSON lines it wrote ([`crate::shadow::record`]).
//!
//! Lines are read one at a time and folded into counts and groups, so a
//! large folder needs memory for the groups only. A line that does not
//! parse (a half-written last line, a stray edit) is counted and named, not
//! fatal: the rest of the file still says what happened.
//!
//! Counts per route come from each run's last tally (tallies are
//! cumulative), summed over runs; a run that wrote no tally (it was killed
//! before its first one) is counted from its mismatch and error lines, so
//! its matches are unknown and count as none.
//!
//! `--format json` writes [`ShadowReport`]:
//!
//! ```json
//! {
//!   "files": ["shadow/a.jsonl"],
//!   "lines": {"mismatch": 2, "error": 1, "tally": 3, "unparseable": 1},
//!   "unparseable": [{"file": "shadow/a.jsonl", "line": 7, "error": "…"}],
//!   "runs": [{"run": "r1", "counted_from": "tally"}],
//!   "routes": [{"route": "validate", "match": 98, "mismatch": 2, "error": 0, "dropped": 0, "total": 100}],
//!   "totals": {"match": 98, "mismatch": 2, "error": 1, "dropped": 0, "total": 101},
//!   "mismatches": [{"route": "validate", "path": "$.validCoupons[0].discountAmount", "change": "differs",
//!                   "count": 2, "first_seen": "…", "last_seen": "…",
//!                   "example": {"at": "…", "request_id": "…",
//!                               "request": {"method": "POST", "path": "/api/…", "body": {}},
//!                               "gameball": {"status": 200, "body": {}},
//!                               "couponbridge": {"status": 200, "body": {}},
//!                               "expected": 25, "got": 20}}],
//!   "errors": [{"route": "burn", "error": "…", "count": 1, "first_seen": "…", "last_seen": "…",
//!               "example": {"at": "…", "request_id": "…", "request": {…}, "gameball": {…}}}],
//!   "noise": [{"route": "validate", "path": "$.validCoupons[*].checkedAt", "count": 12}]
//! }
//! ```
//!
//! `unparseable` holds the first [`UNPARSEABLE_NAMED`] such lines; groups
//! are sorted by route, then most frequent first; `example` is the group's
//! first seen occurrence; `note` appears in an example when the comparison
//! gave one.

mod gate;
mod noise;
mod paths;
mod render;
mod unseen;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use super::Format;
use super::Progress;
use crate::compare::{Change, Mismatch};
use crate::shadow::record::{Answered, Compared, Counts, Failed, Line, Tally};
pub use gate::FailOn;
pub use noise::LearnedNoise;
pub use paths::files;

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
        gate::failing(fail_on, self.found(FailOn::Mismatch), self.found(FailOn::Error))
    }
}

#[derive(clap::Args, Debug)]
pub struct ShadowReportArgs {
    /// Shadow files (JSON lines) or folders (every *.jsonl in them, by name).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Exit 1 when the shadow found any of these (for CI): mismatch, error, or both (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub fail_on: Vec<FailOn>,
}

/// How many unparseable lines are named; the rest are only counted.
pub const UNPARSEABLE_NAMED: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LineCounts {
    pub mismatch: u64,
    pub error: u64,
    pub tally: u64,
    pub unparseable: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unparseable {
    pub file: String,
    /// From 1.
    pub line: usize,
    pub error: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountedFrom {
    /// The run's last tally.
    Tally,
    /// The run wrote no tally: its mismatch and error lines.
    Lines,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub run: String,
    pub counted_from: CountedFrom,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteCounts {
    /// Empty for the totals.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub total: u64,
}

/// The request as an example shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExampleRequest {
    pub method: String,
    pub path: String,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MismatchExample {
    pub at: String,
    pub request_id: String,
    pub request: ExampleRequest,
    pub gameball: Answered,
    pub couponbridge: Answered,
    pub expected: Value,
    pub got: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MismatchGroup {
    pub route: String,
    pub path: String,
    pub change: Change,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub example: MismatchExample,
}

impl MismatchGroup {
    /// The example's difference, as replay words it.
    pub fn describe(&self) -> String {
        Mismatch {
            path: self.path.clone(),
            change: self.change,
            expected: self.example.expected.clone(),
            got: self.example.got.clone(),
            note: self.example.note.clone(),
        }
        .describe()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorExample {
    pub at: String,
    pub request_id: String,
    pub request: ExampleRequest,
    pub gameball: Answered,
    /// The line's own words (the group's `error` is the report's label,
    /// which differs for the shadow's unseen-lock lines).
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorGroup {
    pub route: String,
    pub error: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub example: ErrorExample,
}

/// What `shadow-report` found; `--format json` writes it as it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    pub files: Vec<String>,
    pub lines: LineCounts,
    pub unparseable: Vec<Unparseable>,
    pub runs: Vec<Run>,
    pub routes: Vec<RouteCounts>,
    pub totals: RouteCounts,
    pub mismatches: Vec<MismatchGroup>,
    pub errors: Vec<ErrorGroup>,
    /// What `[shadow] calibrate` learned to leave out.
    pub noise: Vec<LearnedNoise>,
}

/// When a line was written, ordered: its time, then its place in the
/// reading (a later line wins a tie). Unreadable times sort first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp {
    millis: i64,
    seq: u64,
    at: String,
}

/// A group's count, first and last sighting, and its first example.
#[derive(Debug)]
struct Seen<E> {
    count: u64,
    first: Stamp,
    last: Stamp,
    example: E,
}

impl<E> Seen<E> {
    fn new(stamp: Stamp, example: E) -> Self {
        Seen {
            count: 1,
            first: stamp.clone(),
            last: stamp,
            example,
        }
    }

    fn see(&mut self, stamp: Stamp, example: impl FnOnce() -> E) {
        self.count += 1;
        if stamp < self.first {
            self.first = stamp.clone();
            self.example = example();
        }
        if stamp > self.last {
            self.last = stamp;
        }
    }
}

fn request_of(r: &crate::shadow::record::ShadowRequest) -> ExampleRequest {
    ExampleRequest {
        method: r.method.clone(),
        path: r.path.clone(),
        body: r.body.clone(),
    }
}

/// Route, JSON path and change kind (by name: names order).
type MismatchKey = (String, String, &'static str);

/// Folds lines, as they are read, into a [`ShadowReport`].
#[derive(Debug, Default)]
pub struct Collector {
    files: Vec<String>,
    lines: LineCounts,
    unparseable: Vec<Unparseable>,
    seq: u64,
    /// Each run's latest tally so far.
    tallies: HashMap<String, (Stamp, Tally)>,
    /// Each run's counts from its mismatch and error lines.
    from_lines: BTreeMap<String, BTreeMap<String, Counts>>,
    mismatches: BTreeMap<MismatchKey, Seen<(Change, MismatchExample)>>,
    errors: BTreeMap<(String, String), Seen<ErrorExample>>,
    /// Each run's Gameball lock references in its lines, first seen when.
    references: unseen::Sightings<Stamp>,
    /// Unseen-lock lines, labelled once every line is read.
    unseen: Vec<(Stamp, Failed, unseen::Unseen)>,
}

impl Collector {
    fn stamp(&mut self, at: &str) -> Stamp {
        self.seq += 1;
        Stamp {
            millis: crate::clock::parse_iso(at).unwrap_or(i64::MIN),
            seq: self.seq,
            at: at.to_owned(),
        }
    }

    /// Reads one file, line by line.
    pub fn read_file(&mut self, path: &Path) -> Result<(), String> {
        self.read_file_shown(path, &Progress::hidden())
    }

    /// Reads one file, line by line, each line's bytes added to `progress`.
    pub fn read_file_shown(&mut self, path: &Path, progress: &Progress) -> Result<(), String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path.display().to_string();
        self.files.push(name.clone());
        for (i, bytes) in std::io::BufReader::new(file).split(b'\n').enumerate() {
            let bytes = bytes.map_err(|e| format!("{name}: {e}"))?;
            progress.inc(bytes.len() as u64 + 1);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Line>(&bytes) {
                Ok(line) => self.add(line),
                Err(e) => self.add_unparseable(&name, i + 1, e.to_string()),
            }
        }
        Ok(())
    }

    pub fn add_unparseable(&mut self, file: &str, line: usize, error: String) {
        self.lines.unparseable += 1;
        if self.unparseable.len() < UNPARSEABLE_NAMED {
            self.unparseable.push(Unparseable {
                file: file.to_owned(),
                line,
                error,
            });
        }
    }

    pub fn add(&mut self, line: Line) {
        match line {
            Line::Mismatch(c) => self.add_mismatch(c),
            Line::Error(f) => self.add_error(f),
            Line::Tally(t) => {
                self.lines.tally += 1;
                let stamp = self.stamp(&t.at);
                match self.tallies.get(&t.run) {
                    Some((latest, _)) if *latest > stamp => {}
                    _ => {
                        self.tallies.insert(t.run.clone(), (stamp, t));
                    }
                }
            }
        }
    }

    fn add_mismatch(&mut self, compared: Compared) {
        let c = &compared.call;
        self.lines.mismatch += 1;
        self.counted(&c.run, &c.route).mismatch += 1;
        let stamp = self.stamp(&c.at);
        self.references.note(&c.run, &c.gameball.body, &stamp);
        for d in &compared.differences {
            let example = || {
                (
                    d.change,
                    MismatchExample {
                        at: c.at.clone(),
                        request_id: c.request_id.clone(),
                        request: request_of(&c.request),
                        gameball: c.gameball.clone(),
                        couponbridge: compared.couponbridge.clone(),
                        expected: d.expected.clone(),
                        got: d.got.clone(),
                        note: d.note.clone(),
                    },
                )
            };
            let key = (c.route.clone(), d.path.clone(), d.change.name());
            match self.mismatches.get_mut(&key) {
                Some(seen) => seen.see(stamp.clone(), example),
                None => {
                    self.mismatches.insert(key, Seen::new(stamp.clone(), example()));
                }
            }
        }
    }

    fn add_error(&mut self, failed: Failed) {
        let f = &failed.call;
        self.lines.error += 1;
        self.counted(&f.run, &f.route).error += 1;
        let stamp = self.stamp(&f.at);
        self.references.note(&f.run, &f.gameball.body, &stamp);
        if let Some(u) = unseen::parse(&failed.error) {
            self.unseen.push((stamp, failed, u));
            return;
        }
        let label = failed.error.clone();
        self.group_error(stamp, &failed, label);
    }

    fn group_error(&mut self, stamp: Stamp, failed: &Failed, label: String) {
        let f = &failed.call;
        let example = || ErrorExample {
            at: f.at.clone(),
            request_id: f.request_id.clone(),
            request: request_of(&f.request),
            gameball: f.gameball.clone(),
            error: failed.error.clone(),
        };
        let key = (f.route.clone(), label);
        match self.errors.get_mut(&key) {
            Some(seen) => seen.see(stamp, example),
            None => {
                self.errors.insert(key, Seen::new(stamp, example()));
            }
        }
    }

    fn counted(&mut self, run: &str, route: &str) -> &mut Counts {
        self.from_lines
            .entry(run.to_owned())
            .or_default()
            .entry(route.to_owned())
            .or_default()
    }

    /// Labels the unseen-lock lines with what the run's lines show.
    fn label_unseen(&mut self) {
        for (stamp, failed, u) in std::mem::take(&mut self.unseen) {
            let seen = self
                .references
                .before(&failed.call.run, &u, &stamp)
                .map(|s| s.at.clone());
            self.group_error(stamp, &failed, unseen::label(&u, seen.as_deref()));
        }
    }

    pub fn finish(mut self) -> ShadowReport {
        self.label_unseen();
        let noise = noise::learned(self.tallies.values().map(|(_, t)| t));
        let mut runs: Vec<Run> = Vec::new();
        let mut per_route: BTreeMap<String, Counts> = BTreeMap::new();
        let mut add = |route: &str, c: &Counts| {
            let sum = per_route.entry(route.to_owned()).or_default();
            sum.matched += c.matched;
            sum.mismatch += c.mismatch;
            sum.error += c.error;
            sum.dropped += c.dropped;
        };
        for (run, (_, tally)) in &self.tallies {
            runs.push(Run {
                run: run.clone(),
                counted_from: CountedFrom::Tally,
            });
            for (route, c) in &tally.routes {
                add(route, c);
            }
        }
        for (run, routes) in self.from_lines.iter().filter(|(r, _)| !self.tallies.contains_key(*r)) {
            runs.push(Run {
                run: run.clone(),
                counted_from: CountedFrom::Lines,
            });
            for (route, c) in routes {
                add(route, c);
            }
        }
        // Routes seen only in lines of a run whose tally came before them.
        for (route, _, _) in self.mismatches.keys() {
            per_route.entry(route.clone()).or_default();
        }
        for (route, _) in self.errors.keys() {
            per_route.entry(route.clone()).or_default();
        }
        runs.sort_by(|a, b| a.run.cmp(&b.run));
        let routes: Vec<RouteCounts> = per_route
            .into_iter()
            .map(|(route, counts)| RouteCounts {
                route,
                total: counts.total(),
                counts,
            })
            .collect();
        let mut totals = Counts::default();
        for r in &routes {
            totals.matched += r.counts.matched;
            totals.mismatch += r.counts.mismatch;
            totals.error += r.counts.error;
            totals.dropped += r.counts.dropped;
        }
        let mut mismatches: Vec<MismatchGroup> = self
            .mismatches
            .into_iter()
            .map(|((route, path, _), seen)| MismatchGroup {
                route,
                path,
                change: seen.example.0,
                count: seen.count,
                first_seen: seen.first.at,
                last_seen: seen.last.at,
                example: seen.example.1,
            })
            .collect();
        mismatches.sort_by(|a, b| (&a.route, b.count, &a.path).cmp(&(&b.route, a.count, &b.path)));
        let mut errors: Vec<ErrorGroup> = self
            .errors
            .into_iter()
            .map(|((route, error), seen)| ErrorGroup {
                route,
                error,
                count: seen.count,
                first_seen: seen.first.at,
                last_seen: seen.last.at,
                example: seen.example,
            })
            .collect();
        errors.sort_by(|a, b| (&a.route, b.count, &a.error).cmp(&(&b.route, a.count, &b.error)));
        ShadowReport {
            files: self.files,
            lines: self.lines,
            unparseable: self.unparseable,
            runs,
            routes,
            totals: RouteCounts {
                route: String::new(),
                total: totals.total(),
                counts: totals,
            },
            mismatches,
            errors,
            noise,
        }
    }
}

/// Reads every file the paths name.
pub fn read(paths: &[PathBuf]) -> Result<ShadowReport, String> {
    read_shown(paths, false)
}

/// [`read`], with a progress bar over the files' bytes when `shown` and
/// stderr is a terminal.
fn read_shown(paths: &[PathBuf], shown: bool) -> Result<ShadowReport, String> {
    let files = files(paths)?;
    let progress = if shown {
        let bytes = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Progress::bytes_on_terminal(bytes, "shadow-report")
    } else {
        Progress::hidden()
    };
    let mut collector = Collector::default();
    for file in files {
        collector.read_file_shown(&file, &progress)?;
    }
    progress.finish();
    Ok(collector.finish())
}

/// Exit 0, or 1 when `--fail-on` finds what it names, or 2 when a path
/// cannot be read or the report cannot be written.
pub fn run(args: ShadowReportArgs) -> ExitCode {
    let report = match read_shown(&args.paths, true) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shadow-report: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        Format::Text => render::text(&report),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Html => render::html(&report),
    };
    if let Err(e) = super::write_output(args.output.as_deref(), &text) {
        eprintln!("shadow-report: {e}");
        return ExitCode::from(2);
    }
    match report.failing(&args.fail_on) {
        Some(found) => {
            eprintln!("shadow-report: failing: the shadow found {found} (--fail-on)");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests;
