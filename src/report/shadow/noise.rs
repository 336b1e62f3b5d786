//! The noise the shadow learned (`[shadow] calibrate`): per route, each
//! JSON path at which Gameball's two answers to one call differed, and in
//! how many calibrations. Those paths were left out of the comparisons.
//! From each run's last tally (tallies are cumulative), summed over runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::report::{Cell, Page};
use crate::shadow::record::Tally;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnedNoise {
    pub route: String,
    pub path: String,
    /// Calibrations that saw it differ.
    pub count: u64,
}

/// The noise of every run's last tally, by route, then most seen first.
pub fn learned<'a>(last_tallies: impl Iterator<Item = &'a Tally>) -> Vec<LearnedNoise> {
    let mut sum: BTreeMap<(String, String), u64> = BTreeMap::new();
    for tally in last_tallies {
        for (route, paths) in &tally.noise {
            for (path, n) in paths {
                *sum.entry((route.clone(), path.clone())).or_default() += n;
            }
        }
    }
    let mut out: Vec<LearnedNoise> = sum
        .into_iter()
        .map(|((route, path), count)| LearnedNoise { route, path, count })
        .collect();
    out.sort_by(|a, b| (&a.route, b.count, &a.path).cmp(&(&b.route, a.count, &b.path)));
    out
}

pub fn text(out: &mut String, noise: &[LearnedNoise]) {
    if noise.is_empty() {
        return;
    }
    out.push_str("\nNoise learned by calibration (left out of comparisons):\n");
    for n in noise {
        let _ = writeln!(out, "  {} {} x{}", n.route, n.path, n.count);
    }
}

pub fn html(page: &mut Page, noise: &[LearnedNoise]) {
    if noise.is_empty() {
        return;
    }
    page.heading("Noise learned by calibration");
    page.note("Paths where Gameball's two answers to one call differed: left out of the comparisons.");
    let rows: Vec<Vec<Cell>> = noise
        .iter()
        .map(|n| {
            vec![
                n.route.as_str().into(),
                n.path.as_str().into(),
                n.count.to_string().into(),
            ]
        })
        .collect();
    page.table(&["route", "path", "calibrations"], &[2], &rows);
}
