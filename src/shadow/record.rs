//! What shadow mode writes to `[shadow] path`, and `shadow-report` reads:
//! JSON lines, one [`Line`] each, tagged by `kind`.
//!
//! * `mismatch`: one shadowed call whose translated answer differs from
//!   Gameball's: the route, the request and both answers (redacted as
//!   recordings are), and the differences by JSON path;
//! * `error`: one shadowed call the translated flow could not run (parse
//!   refused, Voucherify unreachable, ...);
//! * `tally`: the writer's counts per route since it started (`run`),
//!   written every few seconds and at shutdown. Matches are only counted,
//!   never written one by one; the last tally of each run is its total.
//!   With `[shadow] calibrate`, it also holds the noise learned per route:
//!   each JSON path Gameball's two answers to one call differed at, and
//!   how many calibrations saw it differ.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compare::Mismatch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Mismatch(Compared),
    Error(Failed),
    Tally(Tally),
}

/// The request as the merchant sent it, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lowercase names; credentials masked.
    pub headers: BTreeMap<String, String>,
    /// JSON when the body is JSON, else its text; null when empty.
    pub body: Value,
}

/// One side's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub status: u16,
    /// JSON when the body is JSON, else its text.
    pub body: Value,
}

/// One shadowed call: what both kinds of line say of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// RFC 3339, when the comparison was made.
    pub at: String,
    /// The writer that wrote it (one per process start).
    pub run: String,
    /// The operation's name in the route table (`validate`, `burn`, ...).
    pub route: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub request_id: String,
    pub request: ShadowRequest,
    pub gameball: Answered,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    #[serde(flatten)]
    pub call: Call,
    pub couponbridge: Answered,
    pub differences: Vec<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failed {
    #[serde(flatten)]
    pub call: Call,
    /// What failed, and where.
    pub error: String,
}

/// Counts per route of one run, cumulative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub at: String,
    pub run: String,
    pub routes: BTreeMap<String, Counts>,
    /// Route → JSON path (indices as `[*]`) → calibrations it differed in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub noise: BTreeMap<String, BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(rename = "match")]
    pub matched: u64,
    pub mismatch: u64,
    pub error: u64,
    pub dropped: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.matched + self.mismatch + self.error + self.dropped
    }
}
