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
//!
//! The modules, from the bottom up: `args`, `settings`, `catalogue`,
//! `text`; `redis_server` (the child process), `adapter` (couponbridge),
//! `stack` (both and the simulator); `client` and `log`, then `traffic`
//! (the workers) and `settle` (after them); `disrupt` and `probe` beside
//! the traffic; `sim_view` and `invariants` (the checks); `timeline` and
//! `report`. Each imports only from those before it.

mod adapter;
mod args;
mod catalogue;
mod client;
mod disrupt;
mod invariants;
mod log;
mod probe;
mod redis_server;
mod report;
mod settings;
mod settle;
mod sim_view;
mod stack;
mod text;
mod timeline;
mod traffic;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use couponbridge::clock::Clock;
use couponbridge::locks::LockRecord;
use couponbridge::sim::faults::Faults;

use crate::args::{Args, parse_args};
use crate::disrupt::{Window, disrupt};
use crate::invariants::{Evidence, Verdict, check_all};
use crate::probe::{Probe, probe};
use crate::redis_server::{Redis, all_records, redis_config};
use crate::report::Findings;
use crate::settle::{read_back, settle};
use crate::sim_view::{SimView, sim_view};
use crate::stack::Stack;
use crate::traffic::{Shared, drain, spawn_workers};

/// Beyond `--seconds`, the whole run (drain, settle, checks) fits in this.
const HARD_MARGIN: Duration = Duration::from_secs(30);
/// The settling retries end this long before the hard stop, the final reads
/// this long: the store is still read and the report written, with what
/// was left counted as unchecked, instead of the hard stop ending it all.
const SETTLE_UNTIL_STOP: Duration = Duration::from_secs(12);
const READ_UNTIL_STOP: Duration = Duration::from_secs(5);
/// After the traffic, how long the workers have to finish their checkout.
const DRAIN: Duration = Duration::from_secs(6);

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

/// The soak, phase by phase; its exit status.
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
    let redis_url = stack.redis.url();
    let appendonly = redis_config(&redis_url, "appendonly").await;
    let appendfsync = redis_config(&redis_url, "appendfsync").await;

    let sh = Arc::new(Shared::new(stack.adapter.base.clone(), args.seconds, args.pace_ms));
    let (windows, probes) = run_traffic(&stack, &sh, &args).await;
    let settle_rounds = settle(&sh, hard_stop - SETTLE_UNTIL_STOP).await;
    let reads = read_back(&sh, hard_stop - READ_UNTIL_STOP).await;

    let (records, view, now) = end_state(&stack).await;
    let log = sh.log.lock().unwrap();
    let evidence = Evidence::new(&log, &records, &view, &reads, now);
    let checks = check_all(&evidence);
    let verdict = Verdict::new(&evidence, &checks);
    let md = report::markdown(&Findings {
        args: &args,
        redis_url,
        appendonly,
        appendfsync,
        evidence: &evidence,
        checks: &checks,
        verdict: &verdict,
        settle_rounds,
        windows: &windows,
        probes: &probes,
        upstream_errors: stack.adapter.upstream_errors.lock().unwrap().clone(),
    });
    report::publish(&md, &report::locks_jsonl(&evidence));
    verdict.exit_code()
}

/// The workers for `--seconds`, the disruptions and the probe beside them;
/// then the workers drained and the simulator's faults cleared.
async fn run_traffic(stack: &Stack, sh: &Arc<Shared>, args: &Args) -> (Vec<Window>, Vec<Probe>) {
    let probes = tokio::spawn(probe(stack.sim.sim.clone(), stack.redis.url(), sh.t0, sh.traffic_end));
    let workers = spawn_workers(args.workers, args.seed, sh);
    let windows = disrupt(stack, sh.t0, sh.traffic_end, args.seconds).await;
    drain(workers, sh.traffic_end + DRAIN).await;
    let probes = probes.await.unwrap_or_default();
    stack.sim.sim.set_faults(Faults::default());
    (windows, probes)
}

/// couponbridge stopped, then what the store and the simulator hold, and
/// when they were read.
async fn end_state(stack: &Stack) -> (HashMap<String, LockRecord>, SimView, i64) {
    stack.adapter.stop().await;
    let records = all_records(&stack.redis.url()).await.unwrap_or_else(|e| {
        eprintln!("soak: cannot read the store: {e}");
        HashMap::new()
    });
    let view = sim_view(&stack.sim);
    (records, view, Clock::System.now())
}
