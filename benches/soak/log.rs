//! What was asked and answered: the log the workers write and the checks
//! and the report read.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use http::Method;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Lock,
    Details,
    Relock,
    RaceRelock,
    Release,
    Burn,
    Order,
    RepeatBurn,
    RepeatOrder,
    Settle,
    FinalRead,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Lock => "validate + lock",
            Op::Details => "lock details",
            Op::Relock => "re-lock (same reference)",
            Op::RaceRelock => "re-lock racing the end",
            Op::Release => "release",
            Op::Burn => "burn by lockReference",
            Op::Order => "order with couponsLockReference",
            Op::RepeatBurn => "same burn repeated",
            Op::RepeatOrder => "same order repeated",
            Op::Settle => "settling retries (after)",
            Op::FinalRead => "final reads (after)",
        }
    }

    /// Sent while the traffic ran, not after it.
    pub fn is_traffic(self) -> bool {
        !matches!(self, Op::Settle | Op::FinalRead)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub op: Op,
    /// Since the traffic began.
    pub at_ms: u32,
    pub micros: u32,
    /// 0: no answer (connection failed or client timeout).
    pub status: u16,
}

/// How a lock ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Release,
    Burn,
    Order,
}

impl End {
    pub fn op(self) -> Op {
        match self {
            End::Release => Op::Release,
            End::Burn => Op::Burn,
            End::Order => Op::Order,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No definitive answer yet: retried until it settles.
    Pending,
    /// A burn or order answered 200 (or 9004 on a retry of the same order).
    Used,
    /// A release answered 200.
    Released,
    /// A definitive refusal (status, Gameball code).
    Refused(u16, i64),
    NotFound,
}

impl Outcome {
    /// The operation did what it was sent to do.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Used | Outcome::Released)
    }
}

/// The operation that ends a lock, with every attempt of it.
pub struct EndOp {
    pub kind: End,
    /// The lock's index in `Log::locks`.
    pub lock: usize,
    pub reference: String,
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    /// Statuses of every attempt, in order (0: no answer).
    pub attempts: Vec<u16>,
    pub last_attempt: Instant,
    pub outcome: Outcome,
    pub raced: bool,
}

/// A lock answered 200 to a client.
pub struct LockSeen {
    pub reference: String,
    /// The codes of the last 200 answer naming it.
    pub codes: Vec<String>,
    /// What was asked about it and answered, in order, for the report.
    pub history: Vec<String>,
}

#[derive(Default)]
pub struct Log {
    pub events: Vec<Event>,
    pub locks: Vec<LockSeen>,
    pub by_reference: HashMap<String, usize>,
    /// 5xx answers by operation and message.
    pub failures: BTreeMap<(Op, String), usize>,
    pub ops: Vec<EndOp>,
    pub relock_released: usize,
    pub details_404_live: usize,
    pub repeats_as_first: usize,
    pub repeats_other: BTreeMap<String, usize>,
}

impl Log {
    /// The indices of the end operations whose outcome is still unknown.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|i| self.ops[*i].outcome == Outcome::Pending)
            .collect()
    }
}
