//! The cutover, run as a merchant runs it: a stand-in Gameball that keeps
//! its own locks, orders and wallets (and refuses what it never issued)
//! behind `[passthrough] upstream`, the simulator as Voucherify, a real
//! lock store. Every scenario ends by checking both sides: no Voucherify
//! session left held, no coupon redeemed twice or on one side only, every
//! order at Gameball exactly once.

use serde_json::{Value, json};

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};
use crate::common::gameball::{Gameball, GbCoupon};
use crate::common::metric;

both_stores!(
    a_checkout_locked_at_gameball_finishes_there_after_the_switch,
    references_couponbridge_issued_never_reach_gameball,
    orders_keep_their_points_exactly_once_on_both_sides,
    an_order_gameball_fails_is_passed_on_by_its_retry_without_redeeming_again,
);

async fn gameball() -> Gameball {
    Gameball::start(vec![
        GbCoupon::new("GB10", "Fixed Rate Discount", 10.0),
        GbCoupon::new("GB20", "Percentage", 20.0),
    ])
    .await
}

/// An adapter with Gameball behind it and `routes` (TOML lines of
/// `[routes]`).
async fn adapter(store: StoreKind, gb: &Gameball, routes: &str) -> Env {
    Env::builder(store)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\n{routes}\n",
            gb.url()
        ))
        .start()
        .await
}

/// A call straight to Gameball, as the merchant made it before the switch.
async fn at_gameball(env: &Env, gb: &Gameball, method: &str, path: &str, body: Value) -> Value {
    let auth = [("apikey", API_KEY), ("secretkey", SECRET_KEY)];
    let r = env
        .client
        .send(method, &format!("{}{V}{path}", gb.url()), &auth, Some(&body))
        .await;
    assert!(r.status < 300, "{}", r.text());
    r.json()
}

fn gameball_calls(m: &str, op: &str, reason: &str) -> f64 {
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
fn holds_nothing(env: &Env, gb: &Gameball) {
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

async fn a_checkout_locked_at_gameball_finishes_there_after_the_switch(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    // Locked at Gameball just before the switch; the checkout goes on
    // against couponbridge.
    let locked = at_gameball(
        &env,
        &gb,
        "POST",
        "/coupons/validate",
        json!({"customerId": "alice", "coupons": ["GB10"], "lock": true}),
    )
    .await;
    let reference = locked["validCoupons"][0]["lockReference"].as_str().unwrap().to_owned();
    let details = env.get(&format!("/locks/{reference}")).await;
    assert_eq!(details.status, 200, "{}", details.text());
    assert_eq!(details.json()["customerId"], "alice", "Gameball's own details");
    let order = env
        .post(
            "/orders",
            json!({"customerId": "alice", "orderId": "GB-ORD-1", "totalPaid": 90,
            "redemption": {"couponsLockReference": reference}}),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(gb.used("GB10"), 1, "Gameball burned its own lock");
    // An order placed at Gameball before the switch is refunded there.
    let refund = env
        .post(
            "/transactions/refund",
            json!({"customerId": "alice", "refundTransactionId": "R-1",
            "reverseTransactionId": "GB-ORD-1", "transactionTime": "2026-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text());
    assert!(gb.state.lock().unwrap().refunds.contains_key("GB-ORD-1"));
    // A second lock at Gameball, released through couponbridge.
    let second = at_gameball(
        &env,
        &gb,
        "POST",
        "/coupons/validate",
        json!({"customerId": "bob", "coupons": ["GB20"], "lock": true}),
    )
    .await;
    let r2 = second["validCoupons"][0]["lockReference"].as_str().unwrap().to_owned();
    assert_eq!(env.delete(&format!("/coupons/{r2}")).await.status, 200);
    assert!(gb.held().is_empty(), "{:?}", gb.held());
    // A reference nobody issued is Gameball's 404, as before.
    let unknown = env.get("/locks/0123456789abcdef0123456789abcdef").await;
    assert_eq!(unknown.status, 404);
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "orders", "reference"), 1.0, "{m}");
    assert_eq!(gameball_calls(&m, "refunds", "reference"), 1.0, "{m}");
    assert_eq!(env.redeemed("AMOUNT10"), 0);
    holds_nothing(&env, &gb);
}

async fn references_couponbridge_issued_never_reach_gameball(store: StoreKind) {
    let gb = gameball().await;
    // Switched one call at a time: only validate translates so far.
    let env = adapter(
        store,
        &gb,
        "validate = \"translate\"\nlock_details = \"passthrough\"\nburn = \"passthrough\"\n\
         release = \"passthrough\"\norders = \"passthrough\"",
    )
    .await;
    let lock = |customer: &'static str, code: &'static str| {
        let env = &env;
        async move {
            let r = env
                .validate(json!({"customerId": customer, "coupons": [code], "lock": true}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["validCoupons"][0]["lockReference"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let r1 = lock("alice", "TWICE").await;
    assert_eq!(env.get(&format!("/locks/{r1}")).await.status, 200);
    let burned = env
        .post("/coupons/burn", json!({"customerId": "alice", "lockReference": r1}))
        .await;
    assert_eq!(burned.status, 200, "{}", burned.text());
    let r2 = lock("bob", "AMOUNT10").await;
    let order = env
        .post(
            "/orders",
            json!({"customerId": "bob", "orderId": "ORD-2", "totalPaid": 50,
            "redemption": {"couponsLockReference": r2}}),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    let r3 = lock("carol", "PERCENT20").await;
    assert_eq!(
        env.post("/coupons/release", json!({"lockReference": r3})).await.status,
        200
    );
    assert_eq!((env.redeemed("TWICE"), env.redeemed("AMOUNT10")), (1, 1));
    let references: Vec<String> = gb
        .state
        .lock()
        .unwrap()
        .received
        .iter()
        .map(|(_, p, b)| format!("{p} {b}"))
        .filter(|t| t.contains(&r1) || t.contains(&r2) || t.contains(&r3))
        .collect();
    assert!(
        references.is_empty(),
        "Gameball never saw couponbridge's references: {references:?}"
    );
    // The order (new state, born where its route says) went on to Gameball
    // for its points, without the reference.
    let at_gb = gb.orders("ORD-2");
    assert_eq!(at_gb.len(), 1, "{at_gb:?}");
    assert!(at_gb[0].get("redemption").is_none(), "{}", at_gb[0]);
    // Forgotten after its retention, a reference of couponbridge's is still
    // couponbridge's: a 404 here, never a question to Gameball.
    env.retention_passes(&r3).await;
    let gone = env.get(&format!("/locks/{r3}")).await;
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert!(gb.received(&format!("/locks/{r3}")).is_empty());
    holds_nothing(&env, &gb);
}

async fn orders_keep_their_points_exactly_once_on_both_sides(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    let order = json!({"customerId": "dave", "orderId": "ORD-P", "totalPaid": 120, "totalPrice": 130,
        "lineItems": [{"productId": "p-1", "price": 130, "quantity": 1}],
        "redemption": {"couponCodes": ["ONCE"], "pointsHoldReference": "HOLD-7"}});
    let r = env.post("/orders", order.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["rewardedPoints"],
        120,
        "Gameball's answer, points and all: {}",
        r.text()
    );
    assert_eq!(env.redeemed("ONCE"), 1);
    let at_gb = gb.orders("ORD-P");
    assert_eq!(at_gb.len(), 1);
    assert_eq!(at_gb[0]["redemption"], json!({"pointsHoldReference": "HOLD-7"}));
    assert_eq!(at_gb[0]["lineItems"][0]["productId"], "p-1", "everything else as sent");
    // The same order id again: nothing more redeemed, nothing more sent.
    let again = env.post("/orders", order).await;
    assert_eq!((again.status, again.json()["code"].clone()), (422, json!(9004)));
    assert_eq!((env.redeemed("ONCE"), gb.orders("ORD-P").len()), (1, 1));
    // gb-alpha's send_order: discountCodes redeemed here, the points hold
    // and redeemed amount at Gameball.
    let send_order = env
        .gb_as(
            &[("APIKey", API_KEY), ("secretKey", SECRET_KEY)],
            "POST",
            "/api/v3.0/integrations/order",
            Some(
                json!({"playerUniqueId": "erin", "orderId": "SDK-1", "totalPaid": 40, "discountCodes": ["TWICE"],
                "holdReference": "HOLD-8", "redeemedAmount": 5}),
            ),
        )
        .await;
    assert_eq!(send_order.status, 200, "{}", send_order.text());
    assert_eq!(env.redeemed("TWICE"), 1);
    let sdk = gb.orders("SDK-1");
    assert_eq!(sdk.len(), 1);
    assert!(
        sdk[0].get("discountCodes").is_none() && sdk[0]["holdReference"] == "HOLD-8",
        "{}",
        sdk[0]
    );
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "orders", "forward"), 2.0, "{m}");
    holds_nothing(&env, &gb);
}

async fn an_order_gameball_fails_is_passed_on_by_its_retry_without_redeeming_again(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    let order = json!({"customerId": "fay", "orderId": "ORD-F", "totalPaid": 60,
        "redemption": {"couponCodes": ["ONCE"]}});
    gb.fail_next(&format!("{V}/orders"), 1);
    let failed = env.post("/orders", order.clone()).await;
    assert_eq!(failed.status, 500, "Gameball's own failure: {}", failed.text());
    assert_eq!(env.redeemed("ONCE"), 1, "the coupon stays redeemed for the retry");
    let retried = env.post("/orders", order.clone()).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(env.redeemed("ONCE"), 1, "not redeemed again");
    assert_eq!(gb.received("/orders").len(), 2, "the failed attempt and the retry");
    assert_eq!(gb.orders("ORD-F").len(), 1, "kept once");
    let third = env.post("/orders", order).await;
    assert_eq!(third.json()["code"], 9004);
    // Gameball refuses an order outright: the redemption is rolled back,
    // the merchant told so, and may send the order again.
    let dup = at_gameball(
        &env,
        &gb,
        "POST",
        "/orders",
        json!({"customerId": "gus", "orderId": "ORD-X"}),
    )
    .await;
    assert_eq!(dup["customerId"], "gus");
    let refused = env
        .post(
            "/orders",
            json!({"customerId": "gus", "orderId": "ORD-X", "totalPaid": 10,
            "redemption": {"couponCodes": ["TWICE"]}}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.json()["message"].as_str().unwrap().contains("rolled back"),
        "{}",
        refused.text()
    );
    assert_eq!(
        env.redeemed("TWICE"),
        0,
        "no coupon redeemed for an order Gameball refused"
    );
    holds_nothing(&env, &gb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gameball_an_order_with_points_is_refused_and_one_without_is_kept() {
    let env = Env::start(StoreKind::Memory).await;
    let points = env
        .post(
            "/orders",
            json!({"customerId": "hal", "orderId": "O-1", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"], "pointsHoldReference": "H"}}),
        )
        .await;
    assert_eq!(points.status, 422, "{}", points.text());
    assert!(points.json()["message"].as_str().unwrap().contains("points"));
    assert_eq!(env.redeemed("AMOUNT10"), 0, "refused before anything is redeemed");
    let plain = env
        .post(
            "/orders",
            json!({"customerId": "hal", "orderId": "O-2", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(plain.json()["rewardedPoints"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_orders_off_keeps_orders_from_gameball_and_refuses_points() {
    let gb = gameball().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[migration]\nforward_orders = false\n",
            gb.url()
        ))
        .start()
        .await;
    let plain = env
        .post(
            "/orders",
            json!({"customerId": "ivy", "orderId": "ORD-N", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1);
    assert!(gb.received("/orders").is_empty(), "not forwarded");
    let points = env
        .post(
            "/orders",
            json!({"customerId": "ivy", "orderId": "ORD-M", "totalPaid": 10,
            "redemption": {"couponCodes": ["TWICE"], "pointsHoldReference": "HOLD-9"}}),
        )
        .await;
    assert_eq!(points.status, 422, "{}", points.text());
    assert_eq!(env.redeemed("TWICE"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_without_gameball_is_a_configuration_error() {
    let env = Env::start(StoreKind::Memory).await;
    let text = env.config_text() + "\n[migration]\ncoupon_fallback = true\n";
    let errors = couponbridge::config::Config::from_toml(&text).unwrap_err().to_string();
    assert!(
        errors.contains("migration.coupon_fallback") && errors.contains("[passthrough] upstream"),
        "{errors}"
    );
}
