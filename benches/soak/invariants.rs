//! The invariants, checked against the store and the simulator's state once
//! the traffic has stopped and every outcome has settled: one function per
//! invariant, each returning its `Check`.

use std::collections::{BTreeMap, HashMap, HashSet};

use couponbridge::locks::{LockRecord, LockState};

use crate::log::{End, Log, Outcome};
use crate::sim_view::SimView;
use crate::text::{examples, state_name};

/// A `locked` record past its expiry by less than this may still have its
/// Voucherify session (the simulator's TTL starts a moment later).
const EXPIRY_GRACE_MS: i64 = 2_000;

/// Why a reference is in the report's list of suspects, and which.
pub type Suspect = (&'static str, String);

pub struct Check {
    pub name: String,
    /// Violations; 0 when the invariant held.
    pub count: usize,
    pub detail: String,
    /// The references behind the violations, whose histories the report
    /// shows.
    pub suspects: Vec<Suspect>,
}

impl Check {
    fn new(name: &str, found: &[impl std::fmt::Display]) -> Check {
        Check {
            name: name.into(),
            count: found.len(),
            detail: examples(found),
            suspects: Vec::new(),
        }
    }

    fn with_suspects(self, suspects: Vec<Suspect>) -> Check {
        Check { suspects, ..self }
    }
}

/// Everything the checks look at.
pub struct Evidence<'a> {
    pub log: &'a Log,
    /// Every lock record in the store, by reference.
    pub records: &'a HashMap<String, LockRecord>,
    pub view: &'a SimView,
    /// Each reference answered 200 and the status of its final read
    /// (`None`: not read in time).
    pub reads: &'a [(String, Option<u16>)],
    pub sessions: Sessions,
}

impl<'a> Evidence<'a> {
    pub fn new(
        log: &'a Log,
        records: &'a HashMap<String, LockRecord>,
        view: &'a SimView,
        reads: &'a [(String, Option<u16>)],
        now: i64,
    ) -> Evidence<'a> {
        Evidence {
            sessions: Sessions::by_lock_state(records, view, now),
            log,
            records,
            view,
            reads,
        }
    }

    /// The references answered 200 to a client.
    pub fn answered(&self) -> HashSet<&'a str> {
        self.log.locks.iter().map(|l| l.reference.as_str()).collect()
    }

    /// The references a burn or order was answered used for.
    fn answered_used(&self) -> HashSet<&'a str> {
        self.log
            .ops
            .iter()
            .filter(|o| o.outcome == Outcome::Used)
            .map(|o| o.reference.as_str())
            .collect()
    }

    /// The codes Voucherify redeemed for a lock, sorted.
    fn redeemed_codes(&self, reference: &str) -> Vec<String> {
        let mut codes = self.view.codes_per_lock.get(reference).cloned().unwrap_or_default();
        codes.sort();
        codes
    }

    pub fn unread(&self) -> usize {
        self.reads.iter().filter(|(_, s)| s.is_none()).count()
    }
}

/// Every invariant, in the report's order.
pub fn check_all(e: &Evidence) -> Vec<Check> {
    vec![
        not_readable(e),
        orders_redeemed_twice(e),
        locks_redeemed_twice(e),
        vouchers_miscounted(e),
        used_not_redeemed(e),
        redeemed_not_used(e),
        redeemed_codes_differ(e),
        answered_used_not_redeemed(e),
        redemptions_of_unknown_locks(e),
        sessions_on_ended_locks(e),
        sessions_on_dropped_codes(e),
    ]
}

/// (a) Every reference answered 200 reads back 200.
fn not_readable(e: &Evidence) -> Check {
    let failed: Vec<(&String, u16)> = e
        .reads
        .iter()
        .filter_map(|(r, s)| s.filter(|s| *s != 200).map(|s| (r, s)))
        .collect();
    let shown: Vec<String> = failed.iter().map(|(r, s)| format!("{r} → {s}")).collect();
    let missing_in_store = e.answered().iter().filter(|r| !e.records.contains_key(**r)).count();
    Check {
        detail: format!(
            "{} references read; {missing_in_store} absent from Redis; {}",
            e.reads.len() - e.unread(),
            examples(&shown)
        ),
        ..Check::new(
            "(a) references answered 200, not readable (`GET …/locks/REF` ≠ 200)",
            &shown,
        )
    }
    .with_suspects(
        failed
            .iter()
            .map(|(r, _)| ("(a) not readable", r.to_string()))
            .collect(),
    )
}

/// "KEY ×N" for every key counted more than once.
fn more_than_once(counts: &HashMap<String, usize>) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect()
}

/// (b) At most one redemption per order.
fn orders_redeemed_twice(e: &Evidence) -> Check {
    let our_orders: HashSet<String> = e
        .log
        .ops
        .iter()
        .filter(|o| o.kind == End::Order)
        .filter_map(|o| o.body.as_ref()?["orderId"].as_str().map(str::to_owned))
        .collect();
    let orders_redeemed = our_orders.iter().filter(|o| e.view.per_order.contains_key(*o)).count();
    let twice = more_than_once(&e.view.per_order);
    Check {
        detail: format!(
            "{} Voucherify orders with redemptions; {orders_redeemed} of the {} orderIds sent; {}",
            e.view.per_order.len(),
            our_orders.len(),
            examples(&twice)
        ),
        ..Check::new(
            "(b) orders (orderId, or `cb-REF` of a burn) redeemed more than once",
            &twice,
        )
    }
}

/// (b) At most one redemption per lock.
fn locks_redeemed_twice(e: &Evidence) -> Check {
    Check::new(
        "(b) lock references redeemed more than once",
        &more_than_once(&e.view.per_lock),
    )
}

/// Per voucher, how many locks the store holds used with it.
pub fn used_per_voucher(e: &Evidence) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for rec in e.records.values().filter(|r| r.state == LockState::Used) {
        for c in &rec.codes {
            *out.entry(c.clone()).or_default() += 1;
        }
    }
    out
}

/// Per voucher, from the answers alone: the codes of each lock a client
/// was told is used (as the store has them, or as last answered).
pub fn answered_per_voucher(e: &Evidence) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for reference in e.answered_used() {
        let codes = match e.records.get(reference) {
            Some(r) => r.codes.clone(),
            None => e
                .log
                .by_reference
                .get(reference)
                .map(|i| e.log.locks[*i].codes.clone())
                .unwrap_or_default(),
        };
        for c in codes {
            *out.entry(c).or_default() += 1;
        }
    }
    out
}

/// (c) Redeemed counts match the locks couponbridge holds used.
fn vouchers_miscounted(e: &Evidence) -> Check {
    let used = used_per_voucher(e);
    let mismatch: Vec<String> = e
        .view
        .redeemed
        .iter()
        .map(|(code, redeemed)| (code, redeemed, used.get(code).copied().unwrap_or(0)))
        .filter(|(_, redeemed, used)| **redeemed != *used)
        .map(|(code, redeemed, used)| format!("{code}: {redeemed} redeemed, {used} used"))
        .collect();
    Check::new(
        "(c) vouchers whose redeemed count ≠ locks couponbridge holds used",
        &mismatch,
    )
}

/// (c) A lock used in the store has its redemption in Voucherify.
fn used_not_redeemed(e: &Evidence) -> Check {
    let found: Vec<String> = e
        .records
        .iter()
        .filter(|(r, rec)| rec.state == LockState::Used && !e.view.codes_per_lock.contains_key(*r))
        .map(|(r, _)| r.clone())
        .collect();
    let why = "(c) used, not redeemed";
    Check::new("(c) locks used in the store, nothing redeemed in Voucherify", &found)
        .with_suspects(found.iter().map(|r| (why, r.clone())).collect())
}

/// (c) A lock redeemed in Voucherify is used in the store (or, while
/// `burning`, not yet settled: see `still_burning`).
fn redeemed_not_used(e: &Evidence) -> Check {
    let found: Vec<(&String, &LockRecord)> = e
        .records
        .iter()
        .filter(|(_, rec)| !matches!(rec.state, LockState::Used | LockState::Burning))
        .filter(|(r, _)| e.view.codes_per_lock.contains_key(*r))
        .collect();
    let shown: Vec<String> = found
        .iter()
        .map(|(r, rec)| format!("{r} ({})", state_name(rec.state)))
        .collect();
    let why = "(c) redeemed, not used";
    Check::new("(c) locks redeemed in Voucherify, not used in the store", &shown)
        .with_suspects(found.iter().map(|(r, _)| (why, r.to_string())).collect())
}

/// (c) A used lock's redemption is of exactly its codes.
fn redeemed_codes_differ(e: &Evidence) -> Check {
    let mut shown = Vec::new();
    let mut suspects = Vec::new();
    for (reference, rec) in e.records.iter().filter(|(_, rec)| rec.state == LockState::Used) {
        let redeemed = e.redeemed_codes(reference);
        let mut mine = rec.codes.clone();
        mine.sort();
        if !redeemed.is_empty() && redeemed != mine {
            shown.push(format!("{reference} {mine:?} vs {redeemed:?}"));
            suspects.push(("(c) redeemed codes differ", reference.clone()));
        }
    }
    Check::new("(c) locks whose redeemed codes differ from their codes", &shown).with_suspects(suspects)
}

/// (c) A burn or order answered used was redeemed.
fn answered_used_not_redeemed(e: &Evidence) -> Check {
    let found: Vec<&str> = e
        .answered_used()
        .into_iter()
        .filter(|r| !e.view.codes_per_lock.contains_key(*r))
        .collect();
    Check::new("(c) burns/orders answered used, nothing redeemed", &found)
}

/// (c) Every redemption names a lock the store has.
fn redemptions_of_unknown_locks(e: &Evidence) -> Check {
    let unknown: Vec<&String> = e.view.per_lock.keys().filter(|r| !e.records.contains_key(*r)).collect();
    Check {
        name: "(c) redemptions naming a lock the store does not have".into(),
        count: unknown.len() + e.view.without_lock,
        detail: format!(
            "{} without any lock reference; {}",
            e.view.without_lock,
            examples(&unknown)
        ),
        suspects: Vec::new(),
    }
}

/// (d) No live session on an ended lock.
fn sessions_on_ended_locks(e: &Evidence) -> Check {
    let found = &e.sessions.on_ended;
    let shown: Vec<&String> = found.iter().map(|(s, _)| s).collect();
    let why = "(d) session on an ended lock";
    Check::new(
        "(d) live Voucherify sessions on ended (used/released/expired) locks",
        &shown,
    )
    .with_suspects(found.iter().map(|(_, r)| (why, r.clone())).collect())
}

/// (d) No live session on a code a live lock no longer holds.
fn sessions_on_dropped_codes(e: &Evidence) -> Check {
    let found = &e.sessions.on_dropped_code;
    let shown: Vec<&String> = found.iter().map(|(s, _)| s).collect();
    let why = "(d) session on a dropped code";
    Check::new("(d) live sessions on a code a live lock no longer holds", &shown)
        .with_suspects(found.iter().map(|(_, r)| (why, r.clone())).collect())
}

/// The live Voucherify sessions, by what the store says of their
/// lock.
pub struct Sessions {
    /// On a used, released or expired lock, or a locked one past its
    /// expiry and the grace: (description, reference).
    pub on_ended: Vec<(String, String)>,
    /// On a live lock that no longer holds the session's code.
    pub on_dropped_code: Vec<(String, String)>,
    /// With no lock record: "voucher key".
    pub orphans: Vec<String>,
    pub on_burning: usize,
    pub on_live: usize,
}

impl Sessions {
    fn by_lock_state(records: &HashMap<String, LockRecord>, view: &SimView, now: i64) -> Sessions {
        let by_session: HashMap<&str, (&String, &LockRecord)> = records
            .iter()
            .map(|(r, rec)| (rec.session_key.as_str(), (r, rec)))
            .collect();
        let mut s = Sessions {
            on_ended: Vec::new(),
            on_dropped_code: Vec::new(),
            orphans: Vec::new(),
            on_burning: 0,
            on_live: 0,
        };
        for (key, voucher) in &view.sessions {
            let Some((reference, rec)) = by_session.get(key.as_str()) else {
                s.orphans.push(format!("{voucher} {key}"));
                continue;
            };
            let ended = match rec.state {
                LockState::Used | LockState::Released | LockState::Expired => true,
                LockState::Locked => rec.expires_at + EXPIRY_GRACE_MS <= now,
                LockState::Burning => {
                    s.on_burning += 1;
                    continue;
                }
            };
            let lifetime = || {
                let state = state_name(rec.state);
                (
                    format!("{key} {voucher} on {reference} ({state}, codes {:?})", rec.codes),
                    reference.to_string(),
                )
            };
            if ended {
                s.on_ended.push(lifetime());
            } else if rec.state == LockState::Locked && rec.expires_at <= now {
                // Within the grace: the simulator's TTL ends a moment later.
            } else if !rec.codes.contains(voucher) {
                s.on_dropped_code.push(lifetime());
            } else {
                s.on_live += 1;
            }
        }
        s
    }
}

/// The checks' sum, and what could not be checked.
pub struct Verdict {
    pub violations: usize,
    /// End operations whose outcome is still unknown.
    pub pending_left: usize,
    /// Locks still `burning`: "REF (redeemed in Voucherify: BOOL)".
    pub burning: Vec<String>,
    /// References answered 200 and not read back in time.
    pub unread: usize,
}

impl Verdict {
    pub fn new(e: &Evidence, checks: &[Check]) -> Verdict {
        Verdict {
            violations: checks.iter().map(|c| c.count).sum(),
            pending_left: e.log.pending().len(),
            burning: e
                .records
                .iter()
                .filter(|(_, rec)| rec.state == LockState::Burning)
                .map(|(r, _)| {
                    format!(
                        "{r} (redeemed in Voucherify: {})",
                        e.view.codes_per_lock.contains_key(r)
                    )
                })
                .collect(),
            unread: e.unread(),
        }
    }

    pub fn inconclusive(&self) -> usize {
        self.unread + self.pending_left + self.burning.len()
    }

    pub fn word(&self) -> &'static str {
        if self.violations == 0 && self.inconclusive() == 0 {
            "HELD"
        } else if self.violations == 0 {
            "INCONCLUSIVE"
        } else {
            "VIOLATED"
        }
    }

    /// 0 when every invariant held, 1 when one did not, 2 when something
    /// could not be checked.
    pub fn exit_code(&self) -> i32 {
        if self.violations > 0 {
            1
        } else if self.inconclusive() > 0 {
            2
        } else {
            0
        }
    }
}
