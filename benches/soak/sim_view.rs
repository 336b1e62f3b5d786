//! What the simulated Voucherify holds at the end.

use std::collections::{BTreeMap, HashMap};

use couponbridge::clock::Clock;
use couponbridge::sim::{DEFAULT_APP_ID, RunningSim};

pub struct SimView {
    /// Redeemed quantity per voucher code.
    pub redeemed: BTreeMap<String, i64>,
    /// Live (not rolled back) top-level redemptions per order source id.
    pub per_order: HashMap<String, usize>,
    /// Live top-level redemptions per lock reference (from their metadata).
    pub per_lock: HashMap<String, usize>,
    /// Live per-voucher redemptions per lock reference.
    pub codes_per_lock: HashMap<String, Vec<String>>,
    /// Top-level redemptions naming no lock reference.
    pub without_lock: usize,
    pub rolled_back: usize,
    /// (session key, voucher) of every live session.
    pub sessions: Vec<(String, String)>,
}

pub fn sim_view(sim: &RunningSim) -> SimView {
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
