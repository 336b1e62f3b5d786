//! The traffic: workers, each one checkout after another, every call and
//! its answer written to the shared log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::catalogue::{pick_codes, relock_codes};
use crate::client::{Http, Reply, V};
use crate::log::{End, EndOp, Event, LockSeen, Log, Op, Outcome};

/// What the workers, the settling and the final reads share.
pub struct Shared {
    http: Http,
    pub log: Mutex<Log>,
    /// When the traffic began: the zero of every `at_ms`.
    pub t0: Instant,
    pub traffic_end: Instant,
    /// The pause after each checkout.
    pace: Duration,
    /// Set once the traffic is over: attempts count as settling retries.
    settling: AtomicBool,
}

impl Shared {
    /// The traffic begins now and lasts `seconds`.
    pub fn new(base: Arc<RwLock<String>>, seconds: u64, pace_ms: u64) -> Shared {
        let t0 = Instant::now();
        Shared {
            http: Http::new(base),
            log: Mutex::new(Log::default()),
            t0,
            traffic_end: t0 + Duration::from_secs(seconds),
            pace: Duration::from_millis(pace_ms),
            settling: AtomicBool::new(false),
        }
    }

    pub fn start_settling(&self) {
        self.settling.store(true, Ordering::Relaxed);
    }

    /// One request, logged.
    pub async fn call(&self, op: Op, method: &Method, path: &str, body: Option<&Value>) -> Reply {
        let started = Instant::now();
        let reply = self.http.send(method, path, body).await;
        let event = Event {
            op,
            at_ms: started.duration_since(self.t0).as_millis() as u32,
            micros: started.elapsed().as_micros().min(u32::MAX as u128) as u32,
            status: reply.status(),
        };
        let mut log = self.log.lock().unwrap();
        log.events.push(event);
        if let Some(f) = reply.failure() {
            *log.failures.entry((op, f)).or_default() += 1;
        }
        reply
    }

    /// Adds a line to lock `i`'s history.
    fn note(&self, i: usize, what: String) {
        let at = self.t0.elapsed().as_millis();
        self.log.lock().unwrap().locks[i]
            .history
            .push(format!("{:.3}s {what}", at as f64 / 1000.0));
    }

    fn push_op(&self, op: EndOp) -> usize {
        let mut log = self.log.lock().unwrap();
        log.ops.push(op);
        log.ops.len() - 1
    }

    /// One attempt of end operation `i`, its outcome recorded.
    pub async fn attempt(&self, i: usize) -> Outcome {
        let (kind, lock, method, path, body, earlier) = {
            let log = self.log.lock().unwrap();
            let o = &log.ops[i];
            (
                o.kind,
                o.lock,
                o.method.clone(),
                o.path.clone(),
                o.body.clone(),
                !o.attempts.is_empty(),
            )
        };
        let op = if self.settling.load(Ordering::Relaxed) {
            Op::Settle
        } else {
            kind.op()
        };
        let reply = self.call(op, &method, &path, body.as_ref()).await;
        let outcome = classify(kind, &reply, earlier);
        self.note(lock, format!("{} → {}", op.name(), reply.describe()));
        let mut log = self.log.lock().unwrap();
        let o = &mut log.ops[i];
        o.attempts.push(reply.status());
        o.last_attempt = Instant::now();
        if o.outcome == Outcome::Pending {
            o.outcome = outcome;
        }
        outcome
    }
}

/// What an answer says about the operation; `Pending` when it says nothing
/// for sure (5xx, 2001 in progress, no answer).
fn classify(kind: End, reply: &Reply, earlier_attempt: bool) -> Outcome {
    match (reply.status(), reply.code()) {
        (200, _) if kind == End::Release => Outcome::Released,
        (200, _) => Outcome::Used,
        // "Already tracked": an earlier attempt of this (unique) order
        // was redeemed and recorded.
        (422, 9004) if kind == End::Order && earlier_attempt => Outcome::Used,
        (422, 2001) => Outcome::Pending,
        (404, _) => Outcome::NotFound,
        (s, c) if (400..500).contains(&s) => Outcome::Refused(s, c),
        _ => Outcome::Pending,
    }
}

/// `workers` workers, each with its own random stream from `seed`.
pub fn spawn_workers(workers: usize, seed: u64, sh: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    (0..workers)
        .map(|w| tokio::spawn(worker(w, seed, sh.clone())))
        .collect()
}

/// Waits until `until` for the workers to finish the checkout they are
/// in; those still running then are aborted.
pub async fn drain(workers: Vec<JoinHandle<()>>, until: Instant) {
    for w in workers {
        let left = until.saturating_duration_since(Instant::now());
        let abort = w.abort_handle();
        if tokio::time::timeout(left, w).await.is_err() {
            abort.abort();
        }
    }
}

async fn worker(id: usize, seed: u64, sh: Arc<Shared>) {
    let mut rng = StdRng::seed_from_u64(seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut n = 0u64;
    while Instant::now() < sh.traffic_end {
        n += 1;
        checkout(id, n, &mut rng, &sh).await;
        tokio::time::sleep(sh.pace).await;
    }
}

/// A lock a checkout holds.
struct Held {
    customer: String,
    reference: String,
    /// Its index in `Log::locks`.
    index: usize,
    codes: Vec<String>,
}

/// The request that ends a lock.
struct Ending {
    kind: End,
    method: Method,
    path: String,
    body: Option<Value>,
}

/// Validate and lock, read the lock, perhaps re-lock, then end it (or
/// abandon it), perhaps repeat the end. The random draws are in a fixed
/// order, so a seed repeats the same checkouts.
async fn checkout(id: usize, n: u64, rng: &mut StdRng, sh: &Shared) {
    let customer = format!("soak-{id}-{}", n % 16);
    let Some(mut held) = lock(sh, rng, customer).await else {
        return;
    };
    let details = sh
        .call(
            Op::Details,
            &Method::GET,
            &format!("{V}/locks/{}", held.reference),
            None,
        )
        .await;
    if details.status() == 404 {
        sh.log.lock().unwrap().details_404_live += 1;
    }
    if rng.random_bool(0.15) {
        relock(sh, rng, &mut held).await;
    }
    let Some(ending) = choose_ending(rng, id, n, &held) else {
        return; // abandoned: it stays locked until it expires
    };
    let outcome = end(sh, rng, &held, &ending).await;
    if outcome == Outcome::Used && rng.random_bool(0.1) {
        repeat(sh, &ending).await;
    }
}

fn validate_path() -> String {
    format!("{V}/coupons/validate")
}

/// Validates one to three codes with `lock`; the lock, logged, when the
/// answer is a 200 that locked.
async fn lock(sh: &Shared, rng: &mut StdRng, customer: String) -> Option<Held> {
    let how_many = rng.random_range(1..=3);
    let codes = pick_codes(rng, how_many);
    let mut body = json!({"customerId": customer, "coupons": codes, "lock": true, "totalPurchaseAmount": 250});
    if rng.random_bool(0.1) {
        // 6 seconds: some locks expire while the soak runs.
        body["lockDuration"] = json!(0.1);
    }
    let r = sh.call(Op::Lock, &Method::POST, &validate_path(), Some(&body)).await;
    let (reference, codes) = r.lock()?;
    let index = {
        let mut log = sh.log.lock().unwrap();
        log.locks.push(LockSeen {
            reference: reference.clone(),
            codes: codes.clone(),
            history: Vec::new(),
        });
        let i = log.locks.len() - 1;
        log.by_reference.insert(reference.clone(), i);
        i
    };
    sh.note(index, format!("lock {} → {}", body["coupons"], r.describe()));
    Some(Held {
        customer,
        reference,
        index,
        codes,
    })
}

/// A re-lock's body: the lock's codes, perhaps one dropped, one added.
fn relock_body(rng: &mut StdRng, held: &Held) -> Value {
    json!({"customerId": held.customer, "coupons": relock_codes(rng, &held.codes), "lock": true,
           "lockReference": held.reference, "totalPurchaseAmount": 250})
}

/// Re-locks with the same reference; on a 200 the lock holds the codes
/// answered valid.
async fn relock(sh: &Shared, rng: &mut StdRng, held: &mut Held) {
    let body = relock_body(rng, held);
    let r = sh.call(Op::Relock, &Method::POST, &validate_path(), Some(&body)).await;
    sh.note(held.index, format!("re-lock {} → {}", body["coupons"], r.describe()));
    if let Reply::Http(200, _) = &r {
        match r.lock() {
            Some((_, valid)) => {
                held.codes = valid;
                sh.log.lock().unwrap().locks[held.index].codes = held.codes.clone();
            }
            // Nothing valid any more: the re-lock released the lock.
            None => sh.log.lock().unwrap().relock_released += 1,
        }
    }
}

/// How the checkout ends its lock: release, burn or order; `None` when it
/// abandons it.
fn choose_ending(rng: &mut StdRng, id: usize, n: u64, held: &Held) -> Option<Ending> {
    let (customer, reference) = (&held.customer, &held.reference);
    let roll: f64 = rng.random();
    let kind = if roll < 0.08 {
        return None;
    } else if roll < 0.36 {
        End::Release
    } else if roll < 0.68 {
        End::Burn
    } else {
        End::Order
    };
    let (method, path, body) = match kind {
        End::Release => (Method::DELETE, format!("{V}/coupons/{reference}"), None),
        End::Burn => {
            let mut b = json!({"customerId": customer, "lockReference": reference});
            if rng.random_bool(0.5) {
                b["transactionId"] = json!(format!("tx-{id}-{n}"));
            }
            (Method::POST, format!("{V}/coupons/burn"), Some(b))
        }
        End::Order => (
            Method::POST,
            format!("{V}/orders"),
            Some(json!({"customerId": customer, "orderId": format!("soak-{id}-{n}"),
                        "totalPrice": 250, "totalPaid": 225,
                        "redemption": {"couponsLockReference": reference}})),
        ),
    };
    Some(Ending {
        kind,
        method,
        path,
        body,
    })
}

/// Sends the end of the lock (sometimes racing a re-lock of it) and, when
/// the answer says nothing for sure, retries once.
async fn end(sh: &Shared, rng: &mut StdRng, held: &Held, ending: &Ending) -> Outcome {
    let raced = rng.random_bool(0.04);
    let i = sh.push_op(EndOp {
        kind: ending.kind,
        lock: held.index,
        reference: held.reference.clone(),
        method: ending.method.clone(),
        path: ending.path.clone(),
        body: ending.body.clone(),
        attempts: Vec::new(),
        last_attempt: Instant::now(),
        outcome: Outcome::Pending,
        raced,
    });
    let outcome = if raced {
        let relock = relock_body(rng, held);
        let validate = validate_path();
        let (o, r) = tokio::join!(
            sh.attempt(i),
            sh.call(Op::RaceRelock, &Method::POST, &validate, Some(&relock))
        );
        sh.note(
            held.index,
            format!("racing re-lock {} → {}", relock["coupons"], r.describe()),
        );
        o
    } else {
        sh.attempt(i).await
    };
    if outcome != Outcome::Pending {
        return outcome;
    }
    // What a client does: one retry soon; the rest after the lease.
    tokio::time::sleep(Duration::from_millis(250)).await;
    sh.attempt(i).await
}

/// Sends a done burn or order again: it should be answered like the first
/// (a burn 200, an order 9004 "already tracked").
async fn repeat(sh: &Shared, ending: &Ending) {
    let op = if ending.kind == End::Burn {
        Op::RepeatBurn
    } else {
        Op::RepeatOrder
    };
    let r = sh.call(op, &ending.method, &ending.path, ending.body.as_ref()).await;
    let expected = match ending.kind {
        End::Burn => r.status() == 200,
        _ => (r.status(), r.code()) == (422, 9004),
    };
    let mut log = sh.log.lock().unwrap();
    if expected {
        log.repeats_as_first += 1;
    } else {
        *log.repeats_other
            .entry(format!("{} {}", r.status(), r.code()))
            .or_default() += 1;
    }
}
