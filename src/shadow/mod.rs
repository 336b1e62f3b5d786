//! Shadow mode (route mode `shadow`): Gameball answers the merchant, as in
//! pass-through; once that answer has streamed back, the same call runs
//! through the very same phases and operations as a translated call, with
//! dry effects ([`effects`]: reads and validations only, locks and claims in
//! the shadow's own store), and the two answers are compared with replay's
//! comparer ([`compare`]).
//!
//! Off the request path throughout, and bounded in entries and in bytes:
//! the exchange is handed to a queue with `try_send` (full, or past
//! `queue_max_bytes`: dropped and counted), comparisons run at most
//! `[shadow] concurrency` at once, the shadow's store holds at most
//! `book_max_bytes`, and mismatches go to a writer thread (`[shadow] path`,
//! at most `path_max_bytes` of files, bodies cut past `example_max_bytes`),
//! redacted as recordings are. Results are counted in
//! `couponbridge_shadow_comparisons_total{route, result}`, and reported to
//! the rollout's guards (`crate::rollout`): the shadowed customers are the
//! ones a rollout's share leaves out. With `[shadow] calibrate`, some calls
//! are asked of Gameball twice, to learn which of its fields change by
//! themselves ([`calibrate`]).

mod calibrate;
mod compare;
pub mod effects;
pub mod record;
mod turns;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use rand::Rng;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::compare::{Comparer, How, RuleSpec};
use crate::config::{LockConfig, ShadowConfig};
use crate::domain::Operation;
use crate::gameball::endpoint::Spoken;
use crate::gameball::routes::Matched;
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::passthrough::{Observer, Passthrough, Seen};
use crate::record::redact::Redactor;
use crate::record::writer;
use crate::rollout::Rollout;
use crate::tenant::Tenant;
use crate::voucherify::client::VoucherifyClient;
use record::Counts;
use turns::Turns;

/// Shadow files are rotated at this size.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What shadow compares by kind on top of replay's built-in rules: each
/// side hands out its own references.
fn shadow_rules() -> Vec<RuleSpec> {
    let rule = RuleSpec::new;
    vec![
        rule("$..lockReference", How::Type),
        rule("$..holdReference", How::Type),
        rule("$..redeemedAt", How::Timestamp),
    ]
}

/// One call to shadow: what the translated phases need to run it again.
pub struct Job {
    pub tenant: Option<Arc<Tenant>>,
    pub matched: Matched,
    pub spoken: Spoken,
    pub request_id: String,
    pub uri: Uri,
    pub locks: LockConfig,
    pub request_timeout: Duration,
    /// Gameball, for the calls a translated flow passes on (answered dry
    /// with what Gameball answered the merchant).
    pub gameball: Option<Arc<Passthrough>>,
}

/// A completed exchange waiting to be compared.
struct Queued {
    job: Job,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
    gameball: (u16, Bytes),
    /// Gameball's answer parsed (`Null` when it is not JSON).
    gameball_json: Value,
    answered: Instant,
    /// What it counts against `queue_max_bytes` until it is compared.
    bytes: usize,
}

/// The shadow of one configuration; kept across reloads while `[shadow]`
/// and the secrets it redacts stay the same.
#[derive(Clone)]
pub struct Shadow {
    tx: mpsc::Sender<Queued>,
    sample: f64,
    shared: Arc<Shared>,
}

/// What the comparisons share.
struct Shared {
    /// The locks and claims the dry runs made: Gameball's references, as
    /// the shadow saw them locked.
    store: Store,
    turns: Turns,
    voucherify: VoucherifyClient,
    comparer: Comparer,
    /// Coupon creation's: Voucherify generates the code when none is given.
    create_comparer: Comparer,
    redactor: Redactor,
    metrics: Arc<Metrics>,
    clock: Clock,
    run: String,
    counts: Mutex<Tallies>,
    lines: Option<SyncSender<Vec<u8>>>,
    queued_bytes: AtomicUsize,
    queue_max_bytes: usize,
    example_max_bytes: usize,
    /// The share of dry calls asked of Gameball a second time.
    calibrate: f64,
    rollout: Rollout,
}

#[derive(Default)]
struct Tallies {
    routes: BTreeMap<String, Counts>,
    /// Route → noise path → calibrations it differed in: the paths left
    /// out of this route's comparisons.
    noise: BTreeMap<String, BTreeMap<String, u64>>,
    changed: bool,
}

/// How one comparison came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowResult {
    Match,
    Mismatch,
    Error,
    Dropped,
}

impl ShadowResult {
    pub fn name(self) -> &'static str {
        match self {
            ShadowResult::Match => "match",
            ShadowResult::Mismatch => "mismatch",
            ShadowResult::Error => "error",
            ShadowResult::Dropped => "dropped",
        }
    }
}

/// Stops the shadow: the comparisons running finish, the queued ones are
/// dropped (and counted), the last tally is written.
pub struct ShadowHandle {
    stop: CancellationToken,
    worker: std::thread::JoinHandle<()>,
    writer: Option<(SyncSender<Vec<u8>>, std::thread::JoinHandle<()>)>,
}

impl ShadowHandle {
    pub async fn finish(self) {
        self.stop.cancel();
        let worker = self.worker;
        let writer = self.writer;
        let _ = tokio::task::spawn_blocking(move || {
            let _ = worker.join();
            if let Some((tx, thread)) = writer {
                let _ = tx.send(Vec::new());
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl Shadow {
    pub fn start(
        cfg: &ShadowConfig,
        redactor: Redactor,
        metrics: Arc<Metrics>,
        clock: Clock,
        voucherify: VoucherifyClient,
        rollout: Rollout,
    ) -> std::io::Result<(Shadow, ShadowHandle)> {
        let (lines, writer) = match &cfg.path {
            None => (None, None),
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let (tx, rx) = sync_channel::<Vec<u8>>(cfg.queue.max(1));
                (Some(tx.clone()), Some((tx, rx, dir.clone())))
            }
        };
        let mut rules = shadow_rules();
        rules.extend(cfg.rules.iter().cloned());
        let comparer = Comparer::new(&rules);
        rules.push(RuleSpec::new("$..code", How::Type));
        let shared = Arc::new(Shared {
            store: Store::private(clock.clone(), cfg.book_max_bytes),
            turns: Turns::default(),
            voucherify,
            comparer,
            create_comparer: Comparer::new(&rules),
            redactor,
            metrics,
            clock,
            run: ids::prefixed_hex("run_", 8),
            counts: Mutex::new(Tallies::default()),
            lines,
            queued_bytes: AtomicUsize::new(0),
            queue_max_bytes: cfg.queue_max_bytes,
            example_max_bytes: cfg.example_max_bytes,
            calibrate: cfg.calibrate,
            rollout,
        });
        let writer = match writer {
            None => None,
            Some((tx, rx, dir)) => {
                let tally = shared.clone();
                let keep = cfg.path_max_bytes;
                let thread = std::thread::Builder::new()
                    .name("couponbridge-shadow".into())
                    .spawn(move || {
                        idle_priority();
                        writer::write_lines(
                            rx,
                            &dir,
                            "shadow",
                            writer::Limits {
                                file_bytes: MAX_FILE_BYTES.min(keep.max(1)),
                                folder_bytes: Some(keep),
                            },
                            writer::Hooks {
                                written: Box::new(|| {}),
                                dropped: Box::new(|| {}),
                                tick: Box::new(move || tally.tally_line()),
                            },
                        )
                    })?;
                Some((tx, thread))
            }
        };
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let stop = CancellationToken::new();
        // Comparisons run on a runtime of their own, on their own thread:
        // the merchant's requests never wait behind a comparison's CPU on
        // the serving runtime's workers (the benchmark showed they did).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let worker = {
            let (shared, stop, concurrency) = (shared.clone(), stop.clone(), cfg.concurrency.max(1));
            std::thread::Builder::new()
                .name("couponbridge-shadow-compare".into())
                .spawn(move || {
                    idle_priority();
                    runtime.block_on(work(rx, shared, concurrency, stop))
                })?
        };
        Ok((
            Shadow {
                tx,
                sample: cfg.sample,
                shared,
            },
            ShadowHandle { stop, worker, writer },
        ))
    }

    /// The observer a pass-through hands the exchange to, if this call
    /// falls in the sample.
    pub fn observer(&self, job: Job) -> Option<Observer> {
        if self.sample < 1.0 && rand::rng().random::<f64>() >= self.sample {
            return None;
        }
        let shadow = self.clone();
        Some(Box::new(move |seen: &Seen<'_>| shadow.enqueue(job, seen)))
    }

    fn enqueue(&self, job: Job, seen: &Seen<'_>) {
        let route = job.matched.op().name();
        let shared = &self.shared;
        if !seen.complete {
            // A body cut short (or too large to copy) cannot be compared;
            // the client's answer was not affected.
            shared.count(route, ShadowResult::Dropped);
            return;
        }
        let bytes = seen.request_body.len() + seen.response_body.len() + job.uri.path().len();
        if !shared.reserve(bytes) {
            shared.count(route, ShadowResult::Dropped);
            return;
        }
        let queued = Queued {
            job,
            method: seen.method.clone(),
            headers: seen.request_headers.clone(),
            body: seen.request_body.clone(),
            gameball: (seen.status.as_u16(), seen.response_body.clone()),
            gameball_json: Value::Null,
            answered: Instant::now(),
            bytes,
        };
        if let Err(e) = self.tx.try_send(queued) {
            let q = match e {
                mpsc::error::TrySendError::Full(q) | mpsc::error::TrySendError::Closed(q) => q,
            };
            shared.unreserve(q.bytes);
            shared.count(route, ShadowResult::Dropped);
        }
    }
}

impl Shared {
    /// Takes `bytes` of the queue's budget, if they fit.
    fn reserve(&self, bytes: usize) -> bool {
        self.queued_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.queue_max_bytes).then_some(used + bytes)
            })
            .is_ok()
    }

    fn unreserve(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Puts the calling thread at idle priority: the kernel runs it only when
/// no other thread wants the core, so a shadow's comparisons can never take
/// CPU from the merchant's requests (they are dropped and counted when the
/// queue fills instead). Best effort: where the call is refused, the shadow
/// still runs at normal priority, on its own thread.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain syscall on the calling thread (pid 0) with a valid,
        // initialised `sched_param`; it touches no memory of ours after.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if rc != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "shadow thread stays at normal priority");
        }
    }
}

async fn work(mut rx: mpsc::Receiver<Queued>, shared: Arc<Shared>, concurrency: usize, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let running = TaskTracker::new();
    loop {
        let mut queued = tokio::select! {
            _ = stop.cancelled() => break,
            q = rx.recv() => match q {
                Some(q) => q,
                None => break,
            },
        };
        // Parsed here, on the shadow's thread, never on the merchant's path.
        queued.gameball_json = serde_json::from_slice(&queued.gameball.1).unwrap_or(Value::Null);
        let slot = tokio::select! {
            _ = stop.cancelled() => {
                shared.unreserve(queued.bytes);
                shared.count(queued.job.matched.op().name(), ShadowResult::Dropped);
                break;
            }
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
        };
        // The turns are taken now, in queue order, so comparisons of one
        // lock or one transaction run in the order the merchant made the
        // calls (a lock before its burn, an order before its refund).
        let mut turns: Vec<_> = turn_keys(&queued).iter().map(|k| shared.turns.take(k)).collect();
        let shared = shared.clone();
        running.spawn(async move {
            for t in &mut turns {
                t.wait().await;
            }
            let bytes = queued.bytes;
            shared.compare(queued).await;
            shared.unreserve(bytes);
            drop(turns);
            drop(slot);
        });
    }
    rx.close();
    while let Ok(q) = rx.try_recv() {
        shared.unreserve(q.bytes);
        shared.count(q.job.matched.op().name(), ShadowResult::Dropped);
    }
    running.close();
    running.wait().await;
}

/// The first lock reference in a Gameball body (request or answer), under
/// any of the names the dialects give it.
pub fn find_reference(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) => ["lockReference", "holdReference", "couponsLockReference"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str))
            .or_else(|| m.values().find_map(find_reference)),
        Value::Array(a) => a.iter().find_map(find_reference),
        _ => None,
    }
}

/// What a queued call waits its turn on: the Gameball lock it is about
/// (the one a validation's answer handed out, or the one the request names
/// in its path or body), and the order or payment it makes or reverses.
fn turn_keys(q: &Queued) -> Vec<String> {
    let body: Value = serde_json::from_slice(&q.body).unwrap_or(Value::Null);
    let validates = matches!(q.job.matched.op(), Operation::Validate | Operation::ValidateSingle);
    let lock = validates
        .then(|| find_reference(&q.gameball_json))
        .flatten()
        .or_else(|| q.job.matched.param("reference"))
        .or_else(|| find_reference(&body));
    let id = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let transaction = ["orderId", "paymentId", "reverseTransactionId"]
        .iter()
        .find_map(|k| body.get(*k).and_then(id))
        .or_else(|| q.job.matched.param("orderId").map(|o| o.trim().to_owned()));
    let mut keys: Vec<String> = lock.map(|r| format!("lock:{r}")).into_iter().collect();
    keys.extend(transaction.map(|t| format!("tx:{t}")));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gameballs_reference_is_found_wherever_the_dialect_puts_it() {
        let seed = json!({"validCoupons": [{"code": "A", "lockReference": "R1"}]});
        let published = json!({"lockReference": "R2", "coupons": []});
        let hold = json!({"holdReference": "H3"});
        for (body, want) in [
            (seed, Some("R1")),
            (published, Some("R2")),
            (hold, Some("H3")),
            (json!({}), None),
        ] {
            assert_eq!(find_reference(&body), want);
        }
    }
}
