//! State follows its owner: checkouts in flight at the switch finish where
//! their lock was taken, and couponbridge's references never reach
//! Gameball, whatever the routes say.

use serde_json::json;

use super::{adapter, at_gameball, gameball, gameball_calls, holds_nothing};
use crate::common::env::{Env, StoreKind};
use crate::common::gameball::{Gameball, GbCoupon};

both_stores!(
    a_checkout_locked_at_gameball_finishes_there_after_the_switch,
    references_couponbridge_issued_never_reach_gameball,
);

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
    let order = env.order_with_lock("alice", "GB-ORD-1", 90, &reference).await;
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
    // And one placed there is cancelled there.
    at_gameball(
        &env,
        &gb,
        "POST",
        "/orders",
        json!({"customerId": "alice", "orderId": "GB-ORD-2", "totalPaid": 5}),
    )
    .await;
    let cancel = env.delete("/orders/GB-ORD-2/transactions").await;
    assert_eq!(cancel.status, 200, "{}", cancel.text());
    assert!(gb.state.lock().unwrap().refunds.contains_key("GB-ORD-2"));
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
    assert_eq!(
        gameball_calls(&m, "refunds", "reference"),
        2.0,
        "the refund and the cancellation: {m}"
    );
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

/// One follow-up of a lock, as a checkout makes it.
async fn follow_up(env: &Env, op: &str, customer: &str, reference: &str, n: usize) -> u16 {
    let r = match op {
        "lock_details" => env.get(&format!("/locks/{reference}")).await,
        "release" => env.delete(&format!("/coupons/{reference}")).await,
        "burn" => {
            env.post(
                "/coupons/burn",
                json!({"customerId": customer, "lockReference": reference}),
            )
            .await
        }
        "orders" => {
            env.post(
                "/orders",
                json!({"customerId": customer, "orderId": format!("ORD-C{n}"), "totalPaid": 10,
                "redemption": {"couponsLockReference": reference}}),
            )
            .await
        }
        _ => {
            env.post(
                "/payments",
                json!({"customerId": customer, "paymentId": format!("PAY-C{n}"), "totalPaid": 10,
                "paymentDate": "2026-01-01T00:00:00Z", "redemption": {"couponsLockReference": reference}}),
            )
            .await
        }
    };
    assert!(r.status < 300, "{op}: {}", r.text());
    r.status
}

/// Every combination of where `validate` goes and where each follow-up
/// goes, switched by reload between checkouts: the follow-up always
/// reaches the side that issued the lock, and succeeds there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_split_in_every_combination_of_validate_and_its_follow_ups() {
    let gb = Gameball::start(
        (0..40)
            .map(|i| GbCoupon::new(&format!("GBC{i}"), "Percentage", 5.0))
            .collect(),
    )
    .await;
    let mut env = adapter(StoreKind::Redis, &gb, "").await;
    let mut n = 0;
    for validate in ["translate", "passthrough"] {
        for op in ["lock_details", "release", "burn", "orders", "payments"] {
            for mode in ["translate", "passthrough"] {
                n += 1;
                let upstream = format!("[passthrough]\nupstream = \"{}\"\n", gb.url());
                env.reload_with(&format!(
                    "{upstream}[routes]\nvalidate = \"{validate}\"\n{op} = \"{mode}\"\n"
                ))
                .await;
                let customer = format!("c{n}");
                let code = if validate == "translate" {
                    "AMOUNT10".to_owned()
                } else {
                    format!("GBC{n}")
                };
                let r = env
                    .validate(json!({"customerId": customer, "coupons": [code], "lock": true}))
                    .await;
                assert_eq!(r.status, 200, "{validate}/{op}={mode}: {}", r.text());
                let reference = r.json()["validCoupons"][0]["lockReference"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                follow_up(&env, op, &customer, &reference, n).await;
                let at_gameball = !gb.received(&reference).is_empty()
                    || gb
                        .state
                        .lock()
                        .unwrap()
                        .received
                        .iter()
                        .any(|(_, _, b)| b.to_string().contains(&reference));
                assert_eq!(
                    at_gameball,
                    validate == "passthrough",
                    "{validate}/{op}={mode}: the follow-up reached the side that issued the lock"
                );
                if op == "lock_details" {
                    // The checkout ends: nothing may stay held.
                    follow_up(&env, "release", &customer, &reference, n).await;
                }
            }
        }
    }
    assert!(env.live_sessions().is_empty(), "{:?}", env.live_sessions());
    assert!(gb.held().is_empty(), "{:?}", gb.held());
}
