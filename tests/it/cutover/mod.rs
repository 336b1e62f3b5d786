//! The cutover, run as a merchant runs it: a stand-in Gameball that keeps
//! its own locks, orders and wallets (and refuses what it never issued)
//! behind `[passthrough] upstream`, the simulator as Voucherify, a real
//! lock store. Every scenario ends by checking both sides: no Voucherify
//! session left held, no coupon redeemed twice or on one side only, every
//! order at Gameball exactly once.

mod fallback;
mod import;
mod journey;
mod orders;
mod ownership;

use serde_json::Value;

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};
use crate::common::gameball::{Gameball, GbCoupon};
use crate::common::metric;

pub(super) async fn gameball() -> Gameball {
    Gameball::start(vec![
        GbCoupon::new("GB10", "Fixed Rate Discount", 10.0),
        GbCoupon::new("GB20", "Percentage", 20.0),
    ])
    .await
}

/// An adapter with Gameball behind it and `routes` (TOML lines of
/// `[routes]`).
pub(super) async fn adapter(store: StoreKind, gb: &Gameball, routes: &str) -> Env {
    Env::builder(store)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\n{routes}\n",
            gb.url()
        ))
        .start()
        .await
}

/// A call straight to Gameball, as the merchant made it before the switch.
pub(super) async fn at_gameball(env: &Env, gb: &Gameball, method: &str, path: &str, body: Value) -> Value {
    let auth = [("apikey", API_KEY), ("secretkey", SECRET_KEY)];
    let r = env
        .client
        .send(method, &format!("{}{V}{path}", gb.url()), &auth, Some(&body))
        .await;
    assert!(r.status < 300, "{}", r.text());
    r.json()
}

pub(super) fn gameball_calls(m: &str, op: &str, reason: &str) -> f64 {
    metric(
        m,
        &format!("couponbridge_gameball_calls_total{{tenant=\"shop\",operation=\"{op}\",reason=\"{reason}\"}}"),
    )
}

/// The invariants on both sides, after a scenario: no Voucherify session
/// left held; no coupon redeemed twice for one order; every order whose
/// coupons stand redeemed in Voucherify is at Gameball (its points), and
/// Gameball holds no order whose coupons Voucherify rolled back unless it
/// took that order itself.
pub(super) fn holds_nothing(env: &Env, gb: &Gameball) {
    assert!(
        env.live_sessions().is_empty(),
        "Voucherify sessions left held: {:?}",
        env.live_sessions()
    );
    let standing: Vec<(String, String)> = env.project(|p| {
        p.redemptions
            .values()
            .filter(|r| r.rollback_id.is_none())
            .filter_map(|r| {
                let code = r.voucher_code.clone()?;
                let order = p.orders.get(&r.order_id)?.source_id.clone()?;
                Some((order, code))
            })
            .collect()
    });
    let mut seen = std::collections::HashSet::new();
    for pair in &standing {
        assert!(seen.insert(pair.clone()), "{pair:?} redeemed twice");
    }
    let s = gb.state.lock().unwrap();
    // A burn redeems under `cb-REFERENCE`: no order, nothing for Gameball.
    for (order, code) in standing.iter().filter(|(o, _)| !o.starts_with("cb-")) {
        assert!(
            s.orders.contains_key(order),
            "{code} redeemed for {order}, which Gameball never got"
        );
    }
}
