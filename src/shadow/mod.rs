//! Shadow mode (route mode `shadow`): Gameball answers the merchant, as in
//! pass-through; once that answer has streamed back, the same call runs
//! through couponbridge's translated flow on the side, without side
//! effects ([`dry`]), and the two answers are compared with replay's
//! comparer.
//!
//! Off the request path throughout: the exchange is handed to a bounded
//! queue with `try_send` (full: dropped and counted), comparisons run at
//! most `[shadow] concurrency` at once, and mismatches go to a writer
//! thread (`[shadow] path`), redacted as recordings are. Results are
//! counted in `couponbridge_shadow_comparisons_total{route, result}`.

pub mod book;
pub mod dry;
pub mod record;

use std::collections::BTreeMap;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use rand::Rng;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapter::error::Failure;
use crate::adapter::ops::Command;
use crate::adapter::passthrough::{Observer, Seen};
use crate::adapter::routes::{Matched, Operation};
use crate::adapter::{App, Ctx, Generation, Tenant};
use crate::clock::{Clock, iso};
use crate::config::ShadowConfig;
use crate::gameball::{Dialect, RenderCtx, RequestView};
use crate::ids;
use crate::metrics::Metrics;
use crate::record::redact::Redactor;
use crate::record::writer;
use crate::replay::compare::{Comparer, How, RuleSpec, body_value, compare_answers};
use book::Book;
use dry::{Dry, GameballSaid};
use record::{Answered, Call, Compared, Counts, Failed, Line, ShadowRequest, Tally};

/// Shadow files are rotated at this size.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What shadow compares by kind on top of replay's built-in rules: each
/// side hands out its own references.
fn shadow_rules() -> Vec<RuleSpec> {
    let rule = RuleSpec::new;
    vec![
        rule("**.lockReference", How::Type),
        rule("**.holdReference", How::Type),
        rule("**.redeemedAt", How::Timestamp),
    ]
}

/// One call to shadow: what the translated flow needs to run it again.
pub struct Job {
    pub app: Arc<App>,
    pub cfg: Arc<Generation>,
    pub tenant: Option<Arc<Tenant>>,
    pub matched: Matched,
    pub dialect: Dialect,
    pub request_id: String,
    pub uri: Uri,
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
    book: Book,
    comparer: Comparer,
    /// Coupon creation's: Voucherify generates the code when none is given.
    create_comparer: Comparer,
    redactor: Redactor,
    metrics: Arc<Metrics>,
    clock: Clock,
    run: String,
    counts: Mutex<Tallies>,
    lines: Option<SyncSender<Vec<u8>>>,
}

#[derive(Default)]
struct Tallies {
    routes: BTreeMap<String, Counts>,
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
    ) -> std::io::Result<(Shadow, ShadowHandle)> {
        let run = ids::prefixed_hex("run_", 8);
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
        rules.push(RuleSpec::new("**.code", How::Type));
        let shared = Arc::new(Shared {
            book: Book::default(),
            comparer,
            create_comparer: Comparer::new(&rules),
            redactor,
            metrics,
            clock,
            run,
            counts: Mutex::new(Tallies::default()),
            lines,
        });
        let writer = match writer {
            None => None,
            Some((tx, rx, dir)) => {
                let tally = shared.clone();
                let thread = std::thread::Builder::new()
                    .name("couponbridge-shadow".into())
                    .spawn(move || {
                        idle_priority();
                        writer::write_lines(
                            rx,
                            &dir,
                            "shadow",
                            MAX_FILE_BYTES,
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
        Some(Box::new(move |seen: &Seen<'_>| {
            let route = job.matched.op().name();
            if !seen.complete {
                // A body cut short (or too large to copy) cannot be
                // compared; the client's answer was not affected.
                shadow.shared.count(route, ShadowResult::Dropped);
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
            };
            if let Err(e) = shadow.tx.try_send(queued) {
                let q = match e {
                    mpsc::error::TrySendError::Full(q) | mpsc::error::TrySendError::Closed(q) => q,
                };
                shadow.shared.count(q.job.matched.op().name(), ShadowResult::Dropped);
            }
        }))
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
                shared.count(queued.job.matched.op().name(), ShadowResult::Dropped);
                break;
            }
            s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
        };
        // The turn is taken now, in queue order, so comparisons of one lock
        // run in the order the merchant made the calls.
        let turn = lock_reference(&queued).map(|r| shared.book.turn(&r));
        let shared = shared.clone();
        running.spawn(async move {
            let _turn = match turn {
                Some(mut t) => {
                    t.wait().await;
                    Some(t)
                }
                None => None,
            };
            shared.compare(queued).await;
            drop(slot);
        });
    }
    rx.close();
    while let Ok(q) = rx.try_recv() {
        shared.count(q.job.matched.op().name(), ShadowResult::Dropped);
    }
    running.close();
    running.wait().await;
}

/// The Gameball lock a queued call is about: the one a validation's
/// answer handed out, or the one the request names (path or body).
fn lock_reference(q: &Queued) -> Option<String> {
    let validates = matches!(q.job.matched.op(), Operation::Validate | Operation::ValidateSingle);
    if validates && let Some(r) = dry::find_reference(&q.gameball_json) {
        return Some(r.to_owned());
    }
    if let Some(r) = q.job.matched.param("reference") {
        return Some(r.to_owned());
    }
    let body: Value = serde_json::from_slice(&q.body).ok()?;
    dry::find_reference(&body).map(str::to_owned)
}

/// What the translated flow answered.
enum Ours {
    Answer(u16, Vec<u8>),
    Unknowable(String),
}

impl Shared {
    fn count(&self, route: &'static str, result: ShadowResult) {
        self.metrics.shadow_compared(route, result.name());
        let mut t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let c = t.routes.entry(route.to_owned()).or_default();
        match result {
            ShadowResult::Match => c.matched += 1,
            ShadowResult::Mismatch => c.mismatch += 1,
            ShadowResult::Error => c.error += 1,
            ShadowResult::Dropped => c.dropped += 1,
        }
        t.changed = true;
    }

    /// The tally line, when the counts changed since the last one.
    fn tally_line(&self) -> Option<Vec<u8>> {
        let mut t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if !std::mem::take(&mut t.changed) {
            return None;
        }
        let line = Line::Tally(Tally {
            at: iso(self.clock.now()),
            run: self.run.clone(),
            routes: t.routes.clone(),
        });
        serde_json::to_vec(&line).ok()
    }

    fn write(&self, line: &Line) {
        if let (Some(tx), Ok(bytes)) = (&self.lines, serde_json::to_vec(line)) {
            // A full writer queue loses the line, never the count.
            if let Err(TrySendError::Full(_)) = tx.try_send(bytes) {
                tracing::debug!("shadow writer queue full; a mismatch line was not written");
            }
        }
    }

    async fn compare(&self, q: Queued) {
        let op = q.job.matched.op();
        let deadline = q.job.cfg.request_timeout;
        let ours = match tokio::time::timeout(deadline, self.translated(&q)).await {
            Ok(ours) => ours,
            Err(_) => Ours::Unknowable(format!("the translated flow did not finish within {deadline:?}")),
        };
        // Both sides redacted before they are compared, so a difference
        // never shows a secret either.
        let gameball = self.answered(q.gameball.0, &q.gameball.1);
        let result = match ours {
            Ours::Unknowable(error) => {
                self.write(&Line::Error(Failed {
                    call: self.call(&q, gameball),
                    error,
                }));
                ShadowResult::Error
            }
            Ours::Answer(status, body) => {
                let couponbridge = self.answered(status, &body);
                let mut comparer = match op {
                    Operation::CouponCreate => self.create_comparer.clone(),
                    _ => self.comparer.clone(),
                };
                let differences = compare_answers(
                    &mut comparer,
                    &format!("{} {}", q.method, q.job.uri.path()),
                    (gameball.status, &gameball.body),
                    (couponbridge.status, &couponbridge.body),
                );
                if differences.is_empty() {
                    ShadowResult::Match
                } else {
                    self.write(&Line::Mismatch(Compared {
                        call: self.call(&q, gameball),
                        couponbridge,
                        differences,
                    }));
                    ShadowResult::Mismatch
                }
            }
        };
        self.count(op.name(), result);
        self.metrics.shadow_lag(q.answered.elapsed().as_secs_f64());
    }

    /// What a written line says of the call (the request redacted only
    /// here: a match writes nothing).
    fn call(&self, q: &Queued, gameball: Answered) -> Call {
        Call {
            at: iso(self.clock.now()),
            run: self.run.clone(),
            route: q.job.matched.op().name().to_owned(),
            tenant: q.job.tenant.as_ref().map(|t| t.name.clone()),
            request_id: q.job.request_id.clone(),
            request: self.request(q),
            gameball,
        }
    }

    /// The request through the translated flow's phases (authenticate,
    /// parse, dry run, render), as the adapter would answer it.
    async fn translated(&self, q: &Queued) -> Ours {
        let job = &q.job;
        let view = RequestView {
            matched: &job.matched,
            query: job.uri.query(),
            headers: &q.headers,
            body: &q.body,
        };
        let refused = |f: Failure| {
            let (status, _, body) = job.dialect.error(&f, &job.request_id);
            Ours::Answer(status.as_u16(), body)
        };
        let tenant = match job.app.authenticate(&q.headers, job.tenant.as_ref(), job.matched.row) {
            Ok(t) => t,
            Err(f) => return refused(f),
        };
        let command: Command = match crate::adapter::parse_command(job.dialect, &view, &tenant, &job.cfg) {
            Ok(c) => c,
            Err(f) => return refused(f),
        };
        let ctx = Ctx {
            app: job.app.clone(),
            cfg: job.cfg.clone(),
            tenant: tenant.clone(),
            request_id: job.request_id.clone(),
            tap: None,
            trace: None,
        };
        let said = GameballSaid::of(q.gameball.0, &q.gameball_json);
        match dry::run(&ctx, &self.book, command, &said).await {
            Dry::Unknowable(why) => Ours::Unknowable(why),
            Dry::Ran(Err(f)) => refused(f),
            Dry::Ran(Ok(answer)) => match job.dialect.render(
                &answer,
                &RenderCtx {
                    decimals: tenant.decimals,
                    messages: &tenant.messages,
                    op: job.matched.op(),
                },
            ) {
                Ok(json) => Ours::Answer(200, json),
                Err(f) => refused(f),
            },
        }
    }

    fn request(&self, q: &Queued) -> ShadowRequest {
        let r = &self.redactor;
        ShadowRequest {
            method: q.method.to_string(),
            path: r.text(q.job.uri.path_and_query().map_or("/", |p| p.as_str())),
            headers: q
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        r.header(k.as_str(), &String::from_utf8_lossy(v.as_bytes())),
                    )
                })
                .collect(),
            body: self.body(&q.body),
        }
    }

    fn answered(&self, status: u16, body: &[u8]) -> Answered {
        Answered {
            status,
            body: self.body(body),
        }
    }

    fn body(&self, bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::Null;
        }
        body_value(self.redactor.body(bytes).as_bytes())
    }
}
