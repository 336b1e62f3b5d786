//! The disruptions, on a schedule: simulator faults, Redis kill -9 and
//! restart, couponbridge restart, one after another in a fixed cycle.

use std::time::{Duration, Instant};

use couponbridge::sim::Simulator;
use couponbridge::sim::faults::{Fault, Faults};

use crate::redis_server::{Redis, dbsize};
use crate::stack::Stack;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Disruption {
    SlowUpstream,
    RedisKill,
    UpstreamErrors,
    AdapterRestart,
    LostRedemptionAnswers,
    DroppedConnections,
    UpstreamTimeouts,
}

pub const CYCLE: [Disruption; 7] = [
    Disruption::SlowUpstream,
    Disruption::RedisKill,
    Disruption::UpstreamErrors,
    Disruption::AdapterRestart,
    Disruption::LostRedemptionAnswers,
    Disruption::DroppedConnections,
    Disruption::UpstreamTimeouts,
];

impl Disruption {
    pub fn name(self) -> &'static str {
        match self {
            Disruption::SlowUpstream => "Voucherify latency 300 ms (under the 1 s deadline)",
            Disruption::UpstreamTimeouts => "Voucherify latency 1500 ms (past the deadline)",
            Disruption::UpstreamErrors => "Voucherify 5xx (`Fault::Error`, 1 in 3)",
            Disruption::DroppedConnections => "Voucherify drops connections (`Fault::Drop`, 1 in 3)",
            Disruption::LostRedemptionAnswers => {
                "Voucherify redeems, answer lost (`Fault::LoseAnswer`, 1 in 2 on /v1/redemptions)"
            }
            Disruption::RedisKill => "redis-server kill -9, restart (AOF)",
            Disruption::AdapterRestart => "couponbridge restart (drain, start, new port)",
        }
    }

    /// What `Window::injected` counts.
    pub fn unit(self) -> &'static str {
        match self {
            Disruption::SlowUpstream | Disruption::UpstreamTimeouts => "requests delayed",
            Disruption::UpstreamErrors => "5xx answers",
            Disruption::DroppedConnections => "connections dropped",
            Disruption::LostRedemptionAnswers => "answers lost",
            Disruption::RedisKill => "kills",
            Disruption::AdapterRestart => "restarts",
        }
    }
}

/// One disruption, as it happened.
pub struct Window {
    pub kind: Disruption,
    /// Since the traffic began.
    pub from_ms: u32,
    pub to_ms: u32,
    pub injected: u64,
    pub note: String,
}

/// Runs the cycle of disruptions from 1 s after `t0`, evenly spaced, until
/// the next would not end before `traffic_end`.
pub async fn disrupt(stack: &Stack, t0: Instant, traffic_end: Instant, seconds: u64) -> Vec<Window> {
    let sim = &stack.sim.sim;
    let usable = seconds as f64 - 3.0;
    let n = ((seconds as f64 / 3.5) as usize).clamp(CYCLE.len(), 64);
    let period = usable / n as f64;
    let window = Duration::from_secs_f64((period * 0.6).min(1.5));
    let down = Duration::from_secs_f64((period * 0.4).min(1.0));
    let since = |t: Instant| t.duration_since(t0).as_millis() as u32;
    let mut out = Vec::new();
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(1.0 + period * i as f64);
        tokio::time::sleep_until(at.into()).await;
        if Instant::now() + window >= traffic_end {
            break;
        }
        let kind = CYCLE[i % CYCLE.len()];
        let from = Instant::now();
        let (injected, note) = match kind {
            Disruption::SlowUpstream => (slow_upstream(sim, 300, window).await, String::new()),
            Disruption::UpstreamTimeouts => (slow_upstream(sim, 1_500, window).await, String::new()),
            Disruption::UpstreamErrors => {
                let status = [500u16, 502, 503][i % 3];
                let plan = Scripted::new(Fault::Error, 3, status);
                (plan.inject(sim, window).await, format!("status {status}"))
            }
            Disruption::DroppedConnections => {
                let plan = Scripted::new(Fault::Drop, 3, 503);
                (plan.inject(sim, window).await, String::new())
            }
            Disruption::LostRedemptionAnswers => {
                let plan = Scripted {
                    path_prefix: Some("/v1/redemptions".to_owned()),
                    ..Scripted::new(Fault::LoseAnswer, 2, 503)
                };
                (plan.inject(sim, window).await, String::new())
            }
            Disruption::RedisKill => (1, kill_redis(stack, down).await),
            Disruption::AdapterRestart => (1, restart_adapter(stack).await),
        };
        out.push(Window {
            kind,
            from_ms: since(from),
            to_ms: since(Instant::now()),
            injected,
            note,
        });
    }
    sim.set_faults(Faults::default());
    out
}

/// Delays every Voucherify request by `latency_ms` for `window`; the
/// number of requests begun meanwhile.
async fn slow_upstream(sim: &Simulator, latency_ms: u64, window: Duration) -> u64 {
    let begun = sim.requests_begun();
    let before = *begun.borrow();
    sim.set_faults(Faults {
        latency_ms,
        ..Faults::default()
    });
    tokio::time::sleep(window).await;
    sim.set_faults(Faults::default());
    *begun.borrow() - before
}

/// A fault the simulator injects into one request in `every`.
struct Scripted {
    fault: Fault,
    every: usize,
    /// Only requests under this path count, if set.
    path_prefix: Option<String>,
    /// The status of a `Fault::Error`.
    error_status: u16,
}

impl Scripted {
    fn new(fault: Fault, every: usize, error_status: u16) -> Scripted {
        Scripted {
            fault,
            every,
            path_prefix: None,
            error_status,
        }
    }

    /// Injects it for `window`; how many times it was.
    async fn inject(self, sim: &Simulator, window: Duration) -> u64 {
        let plan: Vec<Fault> = (0..100_000)
            .map(|i| if i % self.every == 0 { self.fault } else { Fault::Ok })
            .collect();
        sim.set_faults(Faults {
            script: plan.iter().copied().collect(),
            path_prefix: self.path_prefix,
            error_status: self.error_status,
            ..Faults::default()
        });
        tokio::time::sleep(window).await;
        // Read what is left, then clear: a request arriving between
        // the two is not counted (at most a handful).
        let left = sim.faults().script.len();
        sim.set_faults(Faults::default());
        let used = plan.len() - left;
        plan[..used].iter().filter(|f| **f == self.fault).count() as u64
    }
}

/// kill -9, `down` without Redis, then a restart that reloads the AOF.
async fn kill_redis(stack: &Stack, down: Duration) -> String {
    let url = stack.redis.url();
    let before = dbsize(&url).await;
    Redis::kill9();
    let killed = Instant::now();
    tokio::time::sleep(down).await;
    let r = stack.redis.clone();
    let restarted = tokio::task::spawn_blocking(move || r.restart())
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let down_ms = killed.elapsed().as_millis();
    let after = dbsize(&url).await;
    let fmt = |n: Option<i64>| n.map_or("?".to_owned(), |n| n.to_string());
    match restarted {
        Ok(()) => format!(
            "down {down_ms} ms; keys {} before, {} after reload",
            fmt(before),
            fmt(after)
        ),
        Err(e) => format!("RESTART FAILED: {e}"),
    }
}

async fn restart_adapter(stack: &Stack) -> String {
    let t = Instant::now();
    match stack.adapter.restart().await {
        Ok(()) => format!("back in {} ms", t.elapsed().as_millis()),
        Err(e) => format!("RESTART FAILED: {e}"),
    }
}
