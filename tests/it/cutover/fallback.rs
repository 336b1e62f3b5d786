//! Coupons only Gameball has (`[migration] coupon_fallback`): asked of
//! Gameball with the caller's request; a lock over both sides is one
//! couponbridge reference whose follow-ups reach both, Gameball always
//! with its own reference.

use serde_json::{Value, json};

use super::{gameball, gameball_calls, holds_nothing};
use crate::common::env::{Env, StoreKind, V};
use crate::common::gameball::Gameball;

both_stores!(
    a_coupon_only_gameball_has_is_gameballs_to_answer_and_to_burn,
    a_lock_over_both_sides_is_one_reference_whose_order_reaches_both,
    a_lock_over_both_sides_is_described_and_released_on_both,
    a_burn_gameball_refuses_rolls_back_voucherifys_part_and_says_so,
    published_validations_hold_on_both_sides_or_on_neither,
);

async fn with_fallback(store: StoreKind, gb: &Gameball, tenant: &str) -> Env {
    Env::builder(store)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[migration]\ncoupon_fallback = true\n",
            gb.url()
        ))
        .tenant(tenant)
        .start()
        .await
}

fn reference_of(v: &Value) -> String {
    v["validCoupons"][0]["lockReference"]
        .as_str()
        .or(v["lockReference"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn a_coupon_only_gameball_has_is_gameballs_to_answer_and_to_burn(store: StoreKind) {
    let gb = gameball().await;
    let env = with_fallback(store, &gb, "").await;
    let r = env
        .validate(json!({"customerId": "amy", "coupons": ["GB10"], "lock": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["validCoupons"][0]["code"], "GB10", "Gameball's answer: {answer}");
    let reference = reference_of(&answer);
    assert_eq!(gb.held(), ["GB10"], "Gameball holds its coupon under its own lock");
    assert!(
        gb.state.lock().unwrap().locks.contains_key(&reference),
        "the reference is Gameball's"
    );
    let single = env.post("/coupons/GB20/validate", json!({"customerId": "amy"})).await;
    assert_eq!(single.json()["isValid"], true, "{}", single.text());
    let order = env.order_with_lock("amy", "ORD-FB", 20, &reference).await;
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(gb.used("GB10"), 1, "burned at Gameball, which owns the lock");
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "validate", "fallback"), 1.0, "{m}");
    assert_eq!(gameball_calls(&m, "validate_single", "fallback"), 1.0, "{m}");
    assert_eq!(gameball_calls(&m, "orders", "reference"), 1.0, "{m}");
    // Known to neither: Voucherify's answer, as before.
    let neither = env.validate(json!({"customerId": "amy", "coupons": ["NOPE"]})).await;
    assert_eq!(
        neither.json()["invalidCoupons"][0]["code"],
        "NOPE",
        "{}",
        neither.text()
    );
    // Gameball down: Voucherify's answer, and the checkout goes on.
    gb.fail_next(&format!("{V}/coupons"), 1);
    let down = env.validate(json!({"customerId": "amy", "coupons": ["GB20"]})).await;
    assert_eq!(down.status, 200, "{}", down.text());
    assert_eq!(down.json()["invalidCoupons"][0]["code"], "GB20");
    holds_nothing(&env, &gb);
}

/// Locks AMOUNT10 (Voucherify's) and GB10 (Gameball's) in one call.
async fn lock_both(env: &Env, customer: &str) -> (String, Value) {
    let r = env
        .validate(json!({"customerId": customer, "coupons": ["AMOUNT10", "GB10"], "lock": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    let codes: Vec<&str> = answer["validCoupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["AMOUNT10", "GB10"], "{answer}");
    assert_eq!(answer["invalidCoupons"], json!([]), "{answer}");
    let reference = reference_of(&answer);
    assert_eq!(
        answer["validCoupons"][1]["lockReference"],
        reference.as_str(),
        "one reference for both"
    );
    (reference, answer)
}

fn gameballs_reference(gb: &Gameball) -> String {
    let s = gb.state.lock().unwrap();
    let mut held = s.locks.iter().filter(|(_, l)| l.codes == ["GB10"]);
    held.next()
        .map(|(r, _)| r.clone())
        .expect("Gameball took a lock for GB10")
}

async fn a_lock_over_both_sides_is_one_reference_whose_order_reaches_both(store: StoreKind) {
    let gb = gameball().await;
    let env = with_fallback(store, &gb, "").await;
    let (reference, _) = lock_both(&env, "bea").await;
    assert_eq!(env.live_sessions().len(), 1, "Voucherify holds its coupon");
    let theirs = gameballs_reference(&gb);
    assert_ne!(theirs, reference);
    let order = env
        .post(
            "/orders",
            json!({"customerId": "bea", "orderId": "ORD-MIX", "totalPaid": 80,
            "redemption": {"couponsLockReference": reference, "pointsHoldReference": "H-1"}}),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1, "Voucherify's part redeemed");
    assert_eq!(gb.used("GB10"), 1, "Gameball's part burned by the order");
    let at_gb = gb.orders("ORD-MIX");
    assert_eq!(
        at_gb[0]["redemption"],
        json!({"couponsLockReference": theirs, "pointsHoldReference": "H-1"}),
        "the order whole, naming Gameball's own reference"
    );
    let leaked: Vec<String> = gb
        .state
        .lock()
        .unwrap()
        .received
        .iter()
        .filter(|(_, p, b)| p.contains(&reference) || b.to_string().contains(&reference))
        .map(|(_, p, _)| p.clone())
        .collect();
    assert!(
        leaked.is_empty(),
        "couponbridge's reference never reached Gameball: {leaked:?}"
    );
    holds_nothing(&env, &gb);
}

async fn a_lock_over_both_sides_is_described_and_released_on_both(store: StoreKind) {
    let gb = gameball().await;
    let env = with_fallback(store, &gb, "").await;
    let (reference, _) = lock_both(&env, "cat").await;
    let details = env.get(&format!("/locks/{reference}")).await;
    assert_eq!(details.status, 200, "{}", details.text());
    let codes: Vec<Value> = details.json()["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].clone())
        .collect();
    assert_eq!(codes, [json!("AMOUNT10"), json!("GB10")], "{}", details.text());
    let released = env.delete(&format!("/coupons/{reference}")).await;
    assert_eq!(released.status, 200, "{}", released.text());
    assert!(gb.held().is_empty(), "Gameball's part released: {:?}", gb.held());
    assert!(env.live_sessions().is_empty());
    holds_nothing(&env, &gb);
}

async fn a_burn_gameball_refuses_rolls_back_voucherifys_part_and_says_so(store: StoreKind) {
    let gb = gameball().await;
    let env = with_fallback(store, &gb, "").await;
    let (reference, _) = lock_both(&env, "dan").await;
    // Gameball's part ends behind couponbridge's back.
    let theirs = gameballs_reference(&gb);
    assert_eq!(
        env.client
            .send(
                "DELETE",
                &format!("{}{V}/coupons/{theirs}", gb.url()),
                &[
                    ("apikey", crate::common::env::API_KEY),
                    ("secretkey", crate::common::env::SECRET_KEY)
                ],
                None
            )
            .await
            .status,
        200
    );
    let burn = burn_lock(&env, "dan", &reference).await;
    assert!((400..500).contains(&burn.status), "Gameball's refusal: {}", burn.text());
    assert!(burn.text().contains("rolled back"), "{}", burn.text());
    assert_eq!(env.redeemed("AMOUNT10"), 0, "Voucherify's part rolled back");
    assert_eq!(gb.used("GB10"), 0);
    // The merchant retries: the lock is used up, never "burned" with
    // nothing redeemed on either side.
    let again = burn_lock(&env, "dan", &reference).await;
    assert!((400..500).contains(&again.status), "{}", again.text());
    assert_eq!(env.redeemed("AMOUNT10"), 0);
    holds_nothing(&env, &gb);
}

async fn burn_lock(env: &Env, customer: &str, reference: &str) -> crate::common::Reply {
    env.post(
        "/coupons/burn",
        json!({"customerId": customer, "lockReference": reference}),
    )
    .await
}

async fn published_validations_hold_on_both_sides_or_on_neither(store: StoreKind) {
    let gb = gameball().await;
    gb.state.lock().unwrap().published = true;
    let env = with_fallback(store, &gb, "dialect = \"published\"").await;
    let both = env
        .validate(json!({"customerId": "eve", "coupons": ["AMOUNT10", "GB10"], "lock": true}))
        .await;
    assert_eq!(both.status, 200, "{}", both.text());
    let answer = both.json();
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["coupons"][0]["code"], "AMOUNT10");
    assert_eq!(answer["coupons"][1]["code"], "GB10");
    let reference = answer["lockReference"].as_str().unwrap().to_owned();
    assert_eq!(gb.held(), ["GB10"]);
    assert_eq!(env.delete(&format!("/coupons/{reference}")).await.status, 200);
    // One side refuses: nothing is held anywhere.
    let refused = env
        .validate(json!({"customerId": "eve", "coupons": ["AMOUNT10", "GB10", "NOPE"], "lock": true}))
        .await;
    assert_eq!(refused.status, 200, "{}", refused.text());
    let answer = refused.json();
    assert_eq!(answer["valid"], false, "{answer}");
    assert!(answer.get("lockReference").is_none(), "{answer}");
    assert!(gb.held().is_empty() && env.live_sessions().is_empty(), "{answer}");
    // Gameball down: its coupon has no verdict, so nothing is held here
    // either.
    gb.fail_next(&format!("{V}/coupons"), 1);
    let down = env
        .validate(json!({"customerId": "eve", "coupons": ["AMOUNT10", "GB10"], "lock": true}))
        .await;
    assert_eq!(down.status, 200, "{}", down.text());
    let answer = down.json();
    assert_eq!(answer["valid"], false, "{answer}");
    assert!(answer.get("lockReference").is_none(), "{answer}");
    assert!(env.live_sessions().is_empty(), "{answer}");
    holds_nothing(&env, &gb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_fallback_gameball_is_never_asked() {
    let gb = gameball().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!("[passthrough]\nupstream = \"{}\"\n", gb.url()))
        .start()
        .await;
    let r = env.validate(json!({"customerId": "fox", "coupons": ["GB10"]})).await;
    assert_eq!(r.json()["invalidCoupons"][0]["code"], "GB10", "{}", r.text());
    assert!(gb.received("/coupons/validate").is_empty());
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
