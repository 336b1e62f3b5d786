//! The report's tables of the traffic over time: per operation, per
//! disruption, per failure message, and second by second.

use std::collections::BTreeMap;

use crate::disrupt::{CYCLE, Window};
use crate::log::{Event, Log, Op};
use crate::probe::Probe;
use crate::text::{percentile, table};

/// The events sent while the traffic ran, and their counts per second.
pub struct Traffic<'a> {
    events: Vec<&'a Event>,
    /// The traffic's length.
    seconds: usize,
    per_sec: Vec<usize>,
    ok_sec: Vec<usize>,
}

impl<'a> Traffic<'a> {
    pub fn new(log: &'a Log, seconds: u64) -> Traffic<'a> {
        let events: Vec<&Event> = log.events.iter().filter(|e| e.op.is_traffic()).collect();
        let seconds = seconds as usize;
        let mut per_sec = vec![0usize; seconds];
        let mut ok_sec = vec![0usize; seconds];
        for e in &events {
            let s = (e.at_ms / 1000) as usize;
            if s < seconds {
                per_sec[s] += 1;
                if (200..300).contains(&e.status) {
                    ok_sec[s] += 1;
                }
            }
        }
        Traffic {
            events,
            seconds,
            per_sec,
            ok_sec,
        }
    }

    fn in_second(&self, sec: usize) -> impl Iterator<Item = &&'a Event> {
        let (lo, hi) = (sec as u32 * 1000, sec as u32 * 1000 + 1000);
        self.events.iter().filter(move |e| e.at_ms >= lo && e.at_ms < hi)
    }
}

/// The events' latencies (µs), sorted for `percentile`.
fn sorted_micros<'e>(events: impl Iterator<Item = &'e &'e Event>) -> Vec<u32> {
    let mut lat: Vec<u32> = events.map(|e| e.micros).collect();
    lat.sort_unstable();
    lat
}

/// (e) Requests, answers and latencies per operation, then 2xx per second.
pub fn per_operation(log: &Log, traffic: &Traffic) -> String {
    let traffic_secs = traffic.seconds as f64;
    let mut per_op: BTreeMap<Op, Vec<&Event>> = BTreeMap::new();
    for e in &log.events {
        per_op.entry(e.op).or_default().push(e);
    }
    let mut rows = vec![operation_row("**all traffic**", &traffic.events, traffic_secs)];
    for (op, events) in &per_op {
        let secs = if op.is_traffic() {
            traffic_secs
        } else {
            let (a, b) = events.iter().fold((u32::MAX, 0u32), |(a, b), e| {
                (a.min(e.at_ms), b.max(e.at_ms + e.micros / 1000))
            });
            ((b.saturating_sub(a)) as f64 / 1000.0).max(0.001)
        };
        rows.push(operation_row(op.name(), events, secs));
    }
    let mut sorted_ok = traffic.ok_sec.clone();
    sorted_ok.sort_unstable();
    let buckets = traffic.seconds;
    let mut md = String::from("### (e) Traffic held\n\n");
    md.push_str(&table(
        &[
            "operation",
            "requests",
            "per s",
            "2xx",
            "4xx",
            "503",
            "other 5xx",
            "no answer",
            "p50 ms",
            "p99 ms",
        ],
        &rows,
    ));
    md.push_str(&format!(
        "\n2xx answers per second over the {} s: min {}, median {}, max {}; seconds without any 2xx: {}.\n\n",
        buckets,
        sorted_ok.first().unwrap_or(&0),
        sorted_ok.get(buckets / 2).unwrap_or(&0),
        sorted_ok.last().unwrap_or(&0),
        traffic.ok_sec.iter().filter(|n| **n == 0).count(),
    ));
    md
}

fn operation_row(name: &str, events: &[&Event], secs: f64) -> Vec<String> {
    let lat = sorted_micros(events.iter());
    let by = |f: &dyn Fn(u16) -> bool| events.iter().filter(|e| f(e.status)).count().to_string();
    vec![
        name.to_owned(),
        events.len().to_string(),
        format!("{:.0}", events.len() as f64 / secs.max(0.001)),
        by(&|s| (200..300).contains(&s)),
        by(&|s| (400..500).contains(&s)),
        by(&|s| s == 503),
        by(&|s| s >= 500 && s != 503),
        by(&|s| s == 0),
        format!("{:.1}", percentile(&lat, 0.5)),
        format!("{:.1}", percentile(&lat, 0.99)),
    ]
}

/// Each kind of disruption: its windows, what it injected, and the answers
/// during them.
pub fn faults(windows: &[Window], traffic: &Traffic) -> String {
    let rows: Vec<Vec<String>> = CYCLE
        .iter()
        .map(|kind| {
            let ws: Vec<&Window> = windows.iter().filter(|w| w.kind == *kind).collect();
            if ws.is_empty() {
                return vec![
                    kind.name().into(),
                    "0".into(),
                    "–".into(),
                    "–".into(),
                    "not reached".into(),
                ];
            }
            fault_row(&ws, traffic)
        })
        .collect();
    let mut md = String::from("### Faults injected and survived\n\n");
    md.push_str(&table(
        &[
            "disruption",
            "windows",
            "injected",
            "answers in and 2 s after (2xx / 4xx / 5xx / none)",
            "when",
        ],
        &rows,
    ));
    md
}

/// One kind's row, from its windows (at least one).
fn fault_row(ws: &[&Window], traffic: &Traffic) -> Vec<String> {
    let kind = ws[0].kind;
    let injected: u64 = ws.iter().map(|w| w.injected).sum();
    let (mut ok, mut client, mut unavailable, mut none) = (0, 0, 0, 0);
    for e in &traffic.events {
        // During the window and the 2 s after (answers in flight).
        if ws.iter().any(|w| e.at_ms >= w.from_ms && e.at_ms <= w.to_ms + 2_000) {
            match e.status {
                200..=299 => ok += 1,
                400..=499 => client += 1,
                0 => none += 1,
                _ => unavailable += 1,
            }
        }
    }
    let notes: Vec<String> = ws
        .iter()
        .map(|w| {
            let span = format!("{:.1}–{:.1} s", w.from_ms as f64 / 1000.0, w.to_ms as f64 / 1000.0);
            if w.note.is_empty() {
                span
            } else {
                format!("{span}: {}", w.note)
            }
        })
        .collect();
    vec![
        kind.name().into(),
        ws.len().to_string(),
        format!("{injected} {}", kind.unit()),
        format!("{ok} / {client} / {unavailable} / {none}"),
        notes.join("; "),
    ]
}

/// Why the 5xx answers were 5xx (and the unanswered unanswered).
pub fn failures(log: &Log) -> String {
    let mut failures: Vec<(&(Op, String), &usize)> =
        log.failures.iter().filter(|((op, _), _)| op.is_traffic()).collect();
    failures.sort_by(|a, b| b.1.cmp(a.1));
    let mut md = String::from("\n### 5xx and unanswered requests, by message\n\n");
    md.push_str(&table(
        &["operation", "answer", "count"],
        &failures
            .iter()
            .take(16)
            .map(|((op, what), n)| vec![op.name().to_owned(), what.replace('|', "\\|"), n.to_string()])
            .collect::<Vec<_>>(),
    ));
    md
}

/// Second by second, with a Redis write probe and the simulator's load.
pub fn seconds(traffic: &Traffic, probes: &[Probe], windows: &[Window]) -> String {
    let rows: Vec<Vec<String>> = (0..traffic.seconds)
        .map(|sec| second_row(sec, traffic, probes, windows))
        .collect();
    let mut md = String::from("\n### Second by second\n\n");
    md.push_str(&table(
        &[
            "s",
            "answers",
            "2xx",
            "5xx",
            "none",
            "p50 ms",
            "p90 ms",
            "Voucherify requests",
            "Redis write probe, max ms",
            "disruption",
        ],
        &rows,
    ));
    md
}

fn second_row(sec: usize, traffic: &Traffic, probes: &[Probe], windows: &[Window]) -> Vec<String> {
    let (lo, hi) = (sec as u32 * 1000, sec as u32 * 1000 + 1000);
    let lat = sorted_micros(traffic.in_second(sec));
    let count = |f: &dyn Fn(u16) -> bool| traffic.in_second(sec).filter(|e| f(e.status)).count();
    let ps: Vec<&Probe> = probes.iter().filter(|p| p.at_ms >= lo && p.at_ms < hi).collect();
    let writes: Vec<f64> = ps.iter().filter_map(|p| p.redis_write_ms).collect();
    let failed = ps.len() - writes.len();
    let begun = |at: u32| probes.iter().rev().find(|p| p.at_ms <= at).map_or(0, |p| p.sim_begun);
    let disruptions: Vec<&str> = windows
        .iter()
        .filter(|w| w.from_ms < hi && w.to_ms >= lo)
        .map(|w| w.kind.unit())
        .collect();
    vec![
        sec.to_string(),
        traffic.per_sec[sec].to_string(),
        traffic.ok_sec[sec].to_string(),
        count(&|s| s >= 500).to_string(),
        count(&|s| s == 0).to_string(),
        format!("{:.1}", percentile(&lat, 0.5)),
        format!("{:.1}", percentile(&lat, 0.9)),
        (begun(hi) - begun(lo)).to_string(),
        format!(
            "{:.1}{}",
            writes.iter().copied().fold(0.0, f64::max),
            if failed > 0 {
                format!(" ({failed} failed)")
            } else {
                String::new()
            }
        ),
        disruptions.join(", "),
    ]
}
