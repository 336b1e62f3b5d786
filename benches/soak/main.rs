//! Soak: mixed Gameball traffic from many customers against couponbridge on
//! a Redis with AOF (`appendfsync always`), while Redis is killed -9 and
//! restarted on the same port and directory, couponbridge is restarted, and
//! the Voucherify simulator injects faults (latency, 5xx, dropped
//! connections, redemptions whose answer is lost). When the traffic stops,
//! every outcome left unknown is retried until it settles; then the
//! invariants are checked against the store and the simulator's state and
//! printed as a Markdown table (also written to `bench-results/soak.md`;
//! every lock's history, one JSON object a line, to
//! `bench-results/soak-locks.jsonl`).
//!
//!     benches/soak.sh --seconds 60 --seed 7
//!     cargo bench --bench soak -- --seconds 20
//!
//! Options: `--seconds N` (default 60), `--seed N` (default: from the
//! clock, printed), `--workers N` (default 32), `--pace-ms N` (pause per
//! checkout and worker, default 20).
//!
//! Loopback only, and bounded: whatever happens, the process ends at
//! seconds + 30. Exit status: 0 when every invariant count is zero, 1 when
//! one is not, 2 when the run could not check everything in time (an
//! outcome still unknown, a reference not read), 3 on the hard stop.
//!
//! Everything (simulator, couponbridge, the clients) runs in this process
//! on a real clock, except redis-server, which is a child process. Under
//! `cargo test --all-targets` (no `--bench` argument) it does nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use couponbridge::clock::Clock;
use couponbridge::locks::{LockRecord, LockState};
use couponbridge::sim::faults::Faults;
use couponbridge::sim::{DEFAULT_APP_ID, RunningSim};

mod adapter;
mod args;
mod catalogue;
mod client;
mod disrupt;
mod log;
mod probe;
mod redis_server;
mod settings;
mod settle;
mod stack;
mod text;
mod timeline;
mod traffic;

use crate::args::{Args, parse_args};
use crate::catalogue::{LIMITED, SINGLES};
use crate::disrupt::disrupt;
use crate::log::{End, EndOp, Outcome};
use crate::probe::probe;
use crate::redis_server::{Redis, all_records, redis_config};
use crate::settings::UPSTREAM_TIMEOUT_MS;
use crate::settle::{read_back, settle};
use crate::stack::Stack;
use crate::text::{examples, state_name, table};
use crate::timeline::Traffic;
use crate::traffic::{Shared, drain, spawn_workers};

/// Beyond `--seconds`, the whole run (drain, settle, checks) fits in this.
const HARD_MARGIN: Duration = Duration::from_secs(30);
/// A `locked` record past its expiry by less than this may still have its
/// Voucherify session (the simulator's TTL starts a moment later).
const EXPIRY_GRACE_MS: i64 = 2_000;

// ---------------------------------------------------------------------------
// The checks.

/// What the simulated Voucherify holds at the end.
struct SimView {
    redeemed: BTreeMap<String, i64>,
    /// Live (not rolled back) top-level redemptions per order source id.
    per_order: HashMap<String, usize>,
    /// Live top-level redemptions per lock reference (from their metadata).
    per_lock: HashMap<String, usize>,
    /// Live per-voucher redemptions per lock reference.
    codes_per_lock: HashMap<String, Vec<String>>,
    /// Top-level redemptions naming no lock reference.
    without_lock: usize,
    rolled_back: usize,
    /// (session key, voucher) of every live session.
    sessions: Vec<(String, String)>,
}

fn sim_view(sim: &RunningSim) -> SimView {
    let now = Clock::System.now();
    let project = sim.sim.project(DEFAULT_APP_ID).expect("the default project");
    project.with(|p| {
        let mut v = SimView {
            redeemed: p
                .vouchers
                .iter()
                .map(|(code, v)| (code.clone(), v.redeemed_quantity))
                .collect(),
            per_order: HashMap::new(),
            per_lock: HashMap::new(),
            codes_per_lock: HashMap::new(),
            without_lock: 0,
            rolled_back: 0,
            sessions: Vec::new(),
        };
        for r in p.redemptions.values() {
            if r.rollback_id.is_some() {
                v.rolled_back += 1;
                continue;
            }
            let lock = r.metadata["gameball_lock_reference"].as_str().map(str::to_owned);
            if let (Some(code), Some(lock)) = (&r.voucher_code, &lock) {
                v.codes_per_lock.entry(lock.clone()).or_default().push(code.clone());
            }
            if r.parent.is_none() {
                let source = p
                    .orders
                    .get(&r.order_id)
                    .and_then(|o| o.source_id.clone())
                    .unwrap_or_else(|| r.order_id.clone());
                *v.per_order.entry(source).or_default() += 1;
                match lock {
                    Some(l) => *v.per_lock.entry(l).or_default() += 1,
                    None => v.without_lock += 1,
                }
            }
        }
        v.sessions = p
            .live_sessions(now)
            .iter()
            .map(|s| {
                (
                    s["key"].as_str().unwrap_or_default().to_owned(),
                    s["voucher"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        v
    })
}

struct Check {
    name: String,
    count: usize,
    detail: String,
}

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`:
    // the soak is for `cargo bench` (or benches/soak.sh) only.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("soak: not run under cargo test; run benches/soak.sh or cargo bench --bench soak");
        return;
    }
    let args = parse_args();
    let hard_stop = Instant::now() + Duration::from_secs(args.seconds) + HARD_MARGIN;
    std::thread::spawn(move || {
        std::thread::sleep(hard_stop.saturating_duration_since(Instant::now()));
        eprintln!("soak: hard stop at seconds + {} s", HARD_MARGIN.as_secs());
        Redis::kill9_and_remove_dir();
        std::process::exit(3);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = rt.block_on(run(args, hard_stop));
    rt.shutdown_timeout(Duration::from_secs(2));
    Redis::kill9();
    std::process::exit(code);
}

async fn run(args: Args, hard_stop: Instant) -> i32 {
    eprintln!(
        "soak: {} s, {} workers, seed {} (repeat with --seed {})",
        args.seconds, args.workers, args.seed, args.seed
    );
    let stack = match Stack::start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak: {e}");
            return 2;
        }
    };
    let (redis, sim, adapter) = (&stack.redis, &stack.sim, &stack.adapter);
    let appendonly = redis_config(&redis.url(), "appendonly").await;
    let appendfsync = redis_config(&redis.url(), "appendfsync").await;

    let sh = Arc::new(Shared::new(adapter.base.clone(), args.seconds, args.pace_ms));
    let probes = tokio::spawn(probe(sim.sim.clone(), redis.url(), sh.t0, sh.traffic_end));
    let workers = spawn_workers(args.workers, args.seed, &sh);
    let windows = disrupt(&stack, sh.t0, sh.traffic_end, args.seconds).await;
    // Drain: the workers finish the checkout they are in (bounded).
    drain(workers, sh.traffic_end + Duration::from_secs(6)).await;
    let probes = probes.await.unwrap_or_default();
    sim.sim.set_faults(Faults::default());

    let settle_rounds = settle(&sh, hard_stop - Duration::from_secs(12)).await;
    // (a) Every reference answered 200 reads back 200.
    let reads = read_back(&sh, hard_stop - Duration::from_secs(5)).await;
    let unread = reads.iter().filter(|(_, s)| s.is_none()).count();
    // The references behind each violation, whose histories the report shows.
    let mut suspects: Vec<(&'static str, String)> = reads
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| s != 200))
        .map(|(r, _)| ("(a) not readable", r.clone()))
        .collect();
    let not_readable: Vec<String> = reads
        .iter()
        .filter(|(_, s)| s.is_some_and(|s| s != 200))
        .map(|(r, s)| format!("{r} → {}", s.unwrap_or(0)))
        .collect();

    adapter.stop().await;
    let records = match all_records(&redis.url()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: cannot read the store: {e}");
            HashMap::new()
        }
    };
    let view = sim_view(sim);
    let now = Clock::System.now();

    let log = sh.log.lock().unwrap();
    let answered: HashSet<&str> = log.locks.iter().map(|l| l.reference.as_str()).collect();
    let mut checks: Vec<Check> = Vec::new();
    let missing_in_store: Vec<&str> = answered
        .iter()
        .filter(|r| !records.contains_key(**r))
        .copied()
        .collect();
    checks.push(Check {
        name: "(a) references answered 200, not readable (`GET …/locks/REF` ≠ 200)".into(),
        count: not_readable.len(),
        detail: format!(
            "{} references read; {} absent from Redis; {}",
            reads.len() - unread,
            missing_in_store.len(),
            examples(&not_readable)
        ),
    });

    // (b) At most one redemption per order and per lock.
    let our_orders: HashSet<String> = log
        .ops
        .iter()
        .filter(|o| o.kind == End::Order)
        .filter_map(|o| o.body.as_ref()?["orderId"].as_str().map(str::to_owned))
        .collect();
    let twice_orders: Vec<String> = view
        .per_order
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    let twice_locks: Vec<String> = view
        .per_lock
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect();
    let orders_redeemed = our_orders.iter().filter(|o| view.per_order.contains_key(*o)).count();
    checks.push(Check {
        name: "(b) orders (orderId, or `cb-REF` of a burn) redeemed more than once".into(),
        count: twice_orders.len(),
        detail: format!(
            "{} Voucherify orders with redemptions; {orders_redeemed} of the {} orderIds sent; {}",
            view.per_order.len(),
            our_orders.len(),
            examples(&twice_orders)
        ),
    });
    checks.push(Check {
        name: "(b) lock references redeemed more than once".into(),
        count: twice_locks.len(),
        detail: examples(&twice_locks),
    });

    // (c) Redeemed counts match the locks couponbridge holds used.
    let mut used_per_voucher: BTreeMap<String, i64> = BTreeMap::new();
    let mut answered_per_voucher: BTreeMap<String, i64> = BTreeMap::new();
    let answered_used: HashSet<&str> = log
        .ops
        .iter()
        .filter(|o| o.outcome == Outcome::Used)
        .map(|o| o.reference.as_str())
        .collect();
    // From the answers alone: the codes of each lock a client was told is
    // used (as the store has them, or as last answered).
    for reference in &answered_used {
        let codes = match records.get(*reference) {
            Some(r) => r.codes.clone(),
            None => log
                .by_reference
                .get(*reference)
                .map(|i| log.locks[*i].codes.clone())
                .unwrap_or_default(),
        };
        for c in codes {
            *answered_per_voucher.entry(c).or_default() += 1;
        }
    }
    let mut used_not_redeemed = Vec::new();
    let mut redeemed_not_used = Vec::new();
    let mut codes_differ = Vec::new();
    let mut unsettled = Vec::new();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for (reference, rec) in &records {
        *states.entry(state_name(rec.state)).or_default() += 1;
        let mut vf: Vec<String> = view.codes_per_lock.get(reference).cloned().unwrap_or_default();
        vf.sort();
        match rec.state {
            LockState::Used => {
                for c in &rec.codes {
                    *used_per_voucher.entry(c.clone()).or_default() += 1;
                }
                let mut mine = rec.codes.clone();
                mine.sort();
                if vf.is_empty() {
                    used_not_redeemed.push(reference.clone());
                    suspects.push(("(c) used, not redeemed", reference.clone()));
                } else if vf != mine {
                    codes_differ.push(format!("{reference} {mine:?} vs {vf:?}"));
                    suspects.push(("(c) redeemed codes differ", reference.clone()));
                }
            }
            LockState::Burning => unsettled.push(format!("{reference} (redeemed in Voucherify: {})", !vf.is_empty())),
            s => {
                if !vf.is_empty() {
                    redeemed_not_used.push(format!("{reference} ({})", state_name(s)));
                    suspects.push(("(c) redeemed, not used", reference.clone()));
                }
            }
        }
    }
    let answered_not_redeemed: Vec<&str> = answered_used
        .iter()
        .filter(|r| !view.codes_per_lock.contains_key(**r))
        .copied()
        .collect();
    let unknown_lock_redemptions: Vec<&String> = view.per_lock.keys().filter(|r| !records.contains_key(*r)).collect();
    let mut voucher_rows = Vec::new();
    let mut voucher_mismatch = Vec::new();
    let mut single = (0i64, 0i64, 0i64, 0usize);
    for (code, redeemed) in &view.redeemed {
        let used = used_per_voucher.get(code).copied().unwrap_or(0);
        let ans = answered_per_voucher.get(code).copied().unwrap_or(0);
        if *redeemed != used {
            voucher_mismatch.push(format!("{code}: {redeemed} redeemed, {used} used"));
        }
        if code.starts_with("SINGLE_") {
            single.0 += redeemed;
            single.1 += used;
            single.2 += ans;
            single.3 += usize::from(*redeemed != used);
        } else {
            let limit = LIMITED
                .iter()
                .find(|(c, _)| c == code)
                .map_or("∞".to_owned(), |(_, q)| q.to_string());
            voucher_rows.push(vec![
                format!("`{code}`"),
                limit,
                redeemed.to_string(),
                used.to_string(),
                ans.to_string(),
                if *redeemed == used { "0" } else { "1" }.into(),
            ]);
        }
    }
    voucher_rows.push(vec![
        format!("`SINGLE_000`…`SINGLE_{:03}` (sum)", SINGLES - 1),
        "1 each".into(),
        single.0.to_string(),
        single.1.to_string(),
        single.2.to_string(),
        single.3.to_string(),
    ]);
    checks.push(Check {
        name: "(c) vouchers whose redeemed count ≠ locks couponbridge holds used".into(),
        count: voucher_mismatch.len(),
        detail: examples(&voucher_mismatch),
    });
    checks.push(Check {
        name: "(c) locks used in the store, nothing redeemed in Voucherify".into(),
        count: used_not_redeemed.len(),
        detail: examples(&used_not_redeemed),
    });
    checks.push(Check {
        name: "(c) locks redeemed in Voucherify, not used in the store".into(),
        count: redeemed_not_used.len(),
        detail: examples(&redeemed_not_used),
    });
    checks.push(Check {
        name: "(c) locks whose redeemed codes differ from their codes".into(),
        count: codes_differ.len(),
        detail: examples(&codes_differ),
    });
    checks.push(Check {
        name: "(c) burns/orders answered used, nothing redeemed".into(),
        count: answered_not_redeemed.len(),
        detail: examples(&answered_not_redeemed),
    });
    checks.push(Check {
        name: "(c) redemptions naming a lock the store does not have".into(),
        count: unknown_lock_redemptions.len() + view.without_lock,
        detail: format!(
            "{} without any lock reference; {}",
            view.without_lock,
            examples(&unknown_lock_redemptions)
        ),
    });

    // (d) No live session on an ended lock.
    let by_session: HashMap<&str, (&String, &LockRecord)> = records
        .iter()
        .map(|(r, rec)| (rec.session_key.as_str(), (r, rec)))
        .collect();
    let mut on_ended = Vec::new();
    let mut on_dropped_code = Vec::new();
    let mut orphans = Vec::new();
    let mut on_burning = 0;
    let mut on_live = 0;
    for (key, voucher) in &view.sessions {
        match by_session.get(key.as_str()) {
            None => orphans.push(format!("{voucher} {key}")),
            Some((reference, rec)) => {
                let ended = match rec.state {
                    LockState::Used | LockState::Released | LockState::Expired => true,
                    LockState::Locked => rec.expires_at + EXPIRY_GRACE_MS <= now,
                    LockState::Burning => {
                        on_burning += 1;
                        continue;
                    }
                };
                let lifetime = |rec: &LockRecord| {
                    format!(
                        "{} {voucher} on {reference} ({}, codes {:?})",
                        key,
                        state_name(rec.state),
                        rec.codes
                    )
                };
                if ended {
                    on_ended.push(lifetime(rec));
                    suspects.push(("(d) session on an ended lock", reference.to_string()));
                } else if rec.state == LockState::Locked && rec.expires_at <= now {
                    // Within the grace: the simulator's TTL ends a moment later.
                } else if !rec.codes.contains(voucher) {
                    on_dropped_code.push(lifetime(rec));
                    suspects.push(("(d) session on a dropped code", reference.to_string()));
                } else {
                    on_live += 1;
                }
            }
        }
    }
    checks.push(Check {
        name: "(d) live Voucherify sessions on ended (used/released/expired) locks".into(),
        count: on_ended.len(),
        detail: examples(&on_ended),
    });
    checks.push(Check {
        name: "(d) live sessions on a code a live lock no longer holds".into(),
        count: on_dropped_code.len(),
        detail: examples(&on_dropped_code),
    });

    let violations: usize = checks.iter().map(|c| c.count).sum();
    let pending_left = log.ops.iter().filter(|o| o.outcome == Outcome::Pending).count();
    let inconclusive = unread + pending_left + unsettled.len();

    // --- The report.
    let mut md = String::new();
    md.push_str(&format!(
        "## Soak: {} s, {} workers, seed {}\n\n\
         couponbridge in-process on Redis {} (`appendonly {appendonly}`, `appendfsync {appendfsync}`), \
         the Voucherify simulator in-process (upstream deadline {UPSTREAM_TIMEOUT_MS} ms), \
         all on loopback. Repeat: `benches/soak.sh --seconds {} --seed {}`.\n\n",
        args.seconds,
        args.workers,
        args.seed,
        redis.url(),
        args.seconds,
        args.seed
    ));
    md.push_str("### Invariants\n\n");
    md.push_str(&table(
        &["invariant", "count", "detail"],
        &checks
            .iter()
            .map(|c| vec![c.name.clone(), c.count.to_string(), c.detail.replace('|', "\\|")])
            .collect::<Vec<_>>(),
    ));
    md.push_str(&format!(
        "\n**{}**: {violations} violation(s); {inconclusive} left unchecked \
         (outcomes still unknown {pending_left}, locks still `burning` {}, references not read {unread}).\n\n",
        if violations == 0 && inconclusive == 0 {
            "HELD"
        } else if violations == 0 {
            "INCONCLUSIVE"
        } else {
            "VIOLATED"
        },
        unsettled.len()
    ));

    md.push_str("### Redemptions per voucher\n\n");
    md.push_str(&table(
        &[
            "voucher",
            "limit",
            "redeemed in Voucherify",
            "locks used in store",
            "answered used to a client",
            "mismatching vouchers",
        ],
        &voucher_rows,
    ));

    // Outcomes.
    let count_ops = |kind: End, f: &dyn Fn(&EndOp) -> bool| log.ops.iter().filter(|o| o.kind == kind && f(o)).count();
    let mut outcome_rows = Vec::new();
    for (kind, name) in [(End::Burn, "burn"), (End::Order, "order"), (End::Release, "release")] {
        let total = count_ops(kind, &|_| true);
        let first = count_ops(kind, &|o| o.attempts.len() == 1 && o.outcome.is_done());
        let done = count_ops(kind, &|o| o.outcome.is_done());
        let refused = count_ops(kind, &|o| matches!(o.outcome, Outcome::Refused(..)));
        let not_found = count_ops(kind, &|o| o.outcome == Outcome::NotFound);
        let pending = count_ops(kind, &|o| o.outcome == Outcome::Pending);
        let raced = count_ops(kind, &|o| o.raced);
        let settled_later = count_ops(kind, &|o| o.attempts.len() > 1 && o.outcome.is_done());
        outcome_rows.push(vec![
            name.to_owned(),
            total.to_string(),
            first.to_string(),
            settled_later.to_string(),
            (done).to_string(),
            refused.to_string(),
            not_found.to_string(),
            pending.to_string(),
            raced.to_string(),
        ]);
    }
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    for o in &log.ops {
        if let Outcome::Refused(s, c) = o.outcome {
            *refusals.entry(format!("{s}/{c}")).or_default() += 1;
        }
    }
    md.push_str("\n### Outcomes of the end of each lock\n\n");
    md.push_str(&table(
        &[
            "operation",
            "sent",
            "done on the first answer",
            "done after a retry",
            "done (total)",
            "refused",
            "404",
            "never settled",
            "raced by a re-lock",
        ],
        &outcome_rows,
    ));
    let repeats_other: Vec<String> = log.repeats_other.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let mut states_text: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
    states_text.sort();
    md.push_str(&format!(
        "\nRefusals (status/code): {}. Locks answered 200: {}; in the store at the end: {} ({}); \
         created but never answered to a client: {}. Re-locks that released the lock (nothing valid left): {}. \
         Repeats of a done burn/order answered like the first: {} (other: {}). \
         Lock details 404 during traffic: {}. Settling rounds: {settle_rounds}. \
         Live sessions at the end: {} on live locks, {on_burning} on `burning` locks, {} with no lock record{}. \
         Redemptions rolled back: {}.\n\n",
        if refusals.is_empty() {
            "none".to_owned()
        } else {
            refusals
                .iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        answered.len(),
        records.len(),
        states_text.join(", "),
        records.keys().filter(|r| !answered.contains(r.as_str())).count(),
        log.relock_released,
        log.repeats_as_first,
        if repeats_other.is_empty() {
            "none".to_owned()
        } else {
            repeats_other.join(", ")
        },
        log.details_404_live,
        on_live,
        orphans.len(),
        if orphans.is_empty() {
            String::new()
        } else {
            format!(
                " (left by a validation whose release failed; they end at their TTL: {})",
                examples(&orphans)
            )
        },
        view.rolled_back,
    ));

    let traffic = Traffic::new(&log, args.seconds);
    md.push_str(&timeline::per_operation(&log, &traffic));
    md.push_str(&timeline::faults(&windows, &traffic));
    let seen = adapter.upstream_errors.lock().unwrap().clone();
    md.push_str(&format!(
        "\ncouponbridge's own count of failed Voucherify calls (`couponbridge_upstream_errors_total`, all instances): {}.\n",
        if seen.is_empty() {
            "none".to_owned()
        } else {
            seen.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        }
    ));
    if !unsettled.is_empty() {
        md.push_str(&format!("\nStill `burning`: {}\n", examples(&unsettled)));
    }

    md.push_str(&timeline::failures(&log));
    md.push_str(&timeline::seconds(&traffic, &probes, &windows));

    // The histories of the locks behind the violations.
    if !suspects.is_empty() {
        md.push_str("\n### Locks behind the violations (first 8)\n\n");
        for (why, reference) in suspects.iter().take(8) {
            let rec = records.get(reference);
            md.push_str(&format!(
                "- {why}: `{reference}`, in the store: {}\n",
                rec.map_or("absent".to_owned(), |r| format!(
                    "{} codes {:?} session `{}`",
                    state_name(r.state),
                    r.codes,
                    r.session_key
                ))
            ));
            if let Some(i) = log.by_reference.get(reference) {
                for h in &log.locks[*i].history {
                    md.push_str(&format!("  - {h}\n"));
                }
            }
            let sessions: Vec<&str> = rec
                .map(|r| {
                    view.sessions
                        .iter()
                        .filter(|(k, _)| *k == r.session_key)
                        .map(|(_, v)| v.as_str())
                        .collect()
                })
                .unwrap_or_default();
            md.push_str(&format!("  - live sessions at the end: {sessions:?}\n"));
        }
    }
    // Every lock answered, with what was asked and answered about it and
    // its state at the end: one JSON object a line.
    let mut lines = String::new();
    for l in &log.locks {
        let rec = records.get(&l.reference);
        let line = json!({
            "reference": l.reference,
            "codes_answered": l.codes,
            "state": rec.map(|r| state_name(r.state)),
            "codes_stored": rec.map(|r| r.codes.clone()),
            "redeemed_in_voucherify": view.codes_per_lock.get(&l.reference),
            "history": l.history,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    drop(log);

    println!("{md}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join("soak-locks.jsonl"), &lines))
        .and_then(|_| std::fs::write(dir.join("soak.md"), &md));
    match written {
        Ok(()) => eprintln!("soak: wrote {}", dir.join("soak.md").display()),
        Err(e) => eprintln!("soak: cannot write {}: {e}", dir.display()),
    }
    if violations > 0 {
        1
    } else if inconclusive > 0 {
        2
    } else {
        0
    }
}
