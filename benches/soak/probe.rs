//! A probe beside the traffic, for the second-by-second table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use couponbridge::sim::Simulator;

use crate::redis_server::redis_conn;

/// Once every 200 ms while the traffic runs: how long one Redis write
/// takes (fsynced, with `appendfsync always`), and how many requests the
/// simulator has begun.
pub struct Probe {
    /// Since the traffic began.
    pub at_ms: u32,
    /// `None`: the write failed or took over a second.
    pub redis_write_ms: Option<f64>,
    pub sim_begun: u64,
}

pub async fn probe(sim: Arc<Simulator>, url: String, t0: Instant, traffic_end: Instant) -> Vec<Probe> {
    let begun = sim.requests_begun();
    let mut out = Vec::new();
    let mut conn = None;
    while Instant::now() < traffic_end {
        let at_ms = t0.elapsed().as_millis() as u32;
        if conn.is_none() {
            conn = redis_conn(&url).await;
        }
        let t = Instant::now();
        let mut redis_write_ms = None;
        if let Some(c) = conn.as_mut() {
            let mut set = redis::cmd("SET");
            set.arg("soak:probe").arg(at_ms);
            match tokio::time::timeout(Duration::from_secs(1), set.query_async::<()>(c)).await {
                Ok(Ok(())) => redis_write_ms = Some(t.elapsed().as_secs_f64() * 1000.0),
                _ => conn = None,
            }
        }
        out.push(Probe {
            at_ms,
            redis_write_ms,
            sim_begun: *begun.borrow(),
        });
        tokio::time::sleep_until((t + Duration::from_millis(200)).into()).await;
    }
    out
}
