//! Bad input always gets a clear answer in the right shape: never a panic,
//! never a dropped connection, never a half-written lock. Seeded mutations
//! of valid bodies (truncation, flipped bytes, swapped types, nesting) go to
//! every translated endpoint and to the simulator.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::common::env::{AUTH, Env, StoreKind, V};
use crate::common::{Client, SIM_AUTH};

/// A mutation of `seed`: structure-aware often enough to reach deep into
/// the parsers, byte-level often enough to break them.
fn mutate(seed: &Value, rng: &mut StdRng) -> Vec<u8> {
    let text = seed.to_string().into_bytes();
    match rng.random_range(0..7) {
        0 => text[..rng.random_range(0..text.len())].to_vec(),
        1 => {
            let mut t = text;
            let i = rng.random_range(0..t.len());
            t[i] = rng.random();
            t
        }
        2 => {
            let mut t = text;
            let i = rng.random_range(0..t.len());
            t.insert(i, b"{}[]\",:0-e\\"[rng.random_range(0..11)]);
            t
        }
        3 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
        _ => {
            // Replace one value anywhere with a value of another type.
            let mut v = seed.clone();
            let replacement = [
                json!(null),
                json!(true),
                json!(-1),
                json!(1e308),
                json!("x"),
                json!(""),
                json!([]),
                json!({}),
                json!("0".repeat(300)),
                json!([{"code": 5}]),
            ][rng.random_range(0..10)]
            .clone();
            replace_random(&mut v, replacement, rng);
            v.to_string().into_bytes()
        }
    }
}

fn replace_random(v: &mut Value, with: Value, rng: &mut StdRng) {
    match v {
        Value::Object(m) if !m.is_empty() && rng.random_bool(0.7) => {
            let i = rng.random_range(0..m.len());
            let key = m.keys().nth(i).cloned().unwrap_or_default();
            replace_random(m.get_mut(&key).unwrap(), with, rng);
        }
        Value::Array(a) if !a.is_empty() && rng.random_bool(0.7) => {
            let i = rng.random_range(0..a.len());
            replace_random(&mut a[i], with, rng);
        }
        other => *other = with,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_gameball_errors_never_a_crash_or_a_half_lock() {
    let env = Env::start(StoreKind::Redis).await;
    let (reference, _) = crate::adapter::lock(&env, "cust-1", &["TWICE"]).await;
    let endpoints = [
        (
            format!("{V}/coupons/validate"),
            json!({"customerId": "c", "coupons": ["AMOUNT10", {"code": "ONCE"}], "lock": true, "lockDuration": 5, "totalPurchaseAmount": 120.5, "email": "a@b.c"}),
        ),
        (
            format!("{V}/coupons/PERCENT20/validate"),
            json!({"customerId": "c", "lock": true, "totalPurchaseAmount": 99.99}),
        ),
        (
            format!("{V}/coupons/burn"),
            json!({"customerId": "cust-1", "lockReference": reference, "transactionId": "t", "transactionTime": "2026-01-01T00:00:00Z"}),
        ),
        (
            format!("{V}/coupons/burn"),
            json!({"customerId": "c", "coupons": ["AMOUNT10"], "transactionId": "t2"}),
        ),
        (
            format!("{V}/orders"),
            json!({"customerId": "c", "orderId": "O1", "totalPaid": 10, "totalShipping": 2, "redemption": {"couponsLockReference": reference, "couponCodes": ["TWICE"]}}),
        ),
        (format!("{V}/coupons/release"), json!({"lockReference": reference})),
        (
            format!("{V}/coupons/predefined"),
            json!({"customerId": "c", "ruleId": 1, "email": "a@b.c"}),
        ),
        (
            format!("{V}/coupons/automatic"),
            json!({"customerId": "c", "cartId": "cart", "totalPrice": 120, "lineItems": [{"productId": "p", "quantity": 2, "price": 10.5}]}),
        ),
        (
            format!("{V}/payments"),
            json!({"customerId": "c", "paymentId": "P1", "paymentDate": "2026-01-01T00:00:00Z", "totalPaid": 10, "redemption": {"couponCodes": ["TWICE"]}}),
        ),
        (
            format!("{V}/transactions/refund"),
            json!({"customerId": "c", "refundTransactionId": "R1", "reverseTransactionId": "O1", "transactionTime": "2026-01-01T00:00:00Z", "refundAmount": 5}),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(20261121);
    let mut references = Vec::new();
    for round in 0..120 {
        for (path, seed) in &endpoints {
            let body = mutate(seed, &mut rng);
            let r = env
                .client
                .send_raw("POST", &env.url(path), &AUTH, body.clone().into())
                .await;
            let text = String::from_utf8_lossy(&body).into_owned();
            assert!(
                [200, 400, 404, 422].contains(&r.status),
                "round {round} {path} {text}: {} {}",
                r.status,
                r.text()
            );
            let answer = r.json();
            if r.status >= 400 {
                assert!(
                    answer["code"].is_u64() && answer["message"].is_string() && answer["requestId"].is_string(),
                    "{answer}"
                );
            }
            // validate-many answers in validCoupons, validate-single at the top.
            let found = answer
                .pointer("/validCoupons/0/lockReference")
                .or_else(|| answer.get("lockReference"));
            if let Some(Value::String(r)) = found {
                references.push(r.clone());
            }
        }
    }
    // Every reference handed out reads back whole.
    assert!(!references.is_empty(), "some mutations were still valid locks");
    for r in references {
        let d = env.gb("GET", &format!("{V}/locks/{r}"), None).await;
        assert_eq!(d.status, 200, "{}", d.text());
        assert!(d.json()["coupons"].as_array().is_some_and(|c| !c.is_empty()));
    }
    // And the adapter still serves normal traffic.
    let ok = env
        .gb(
            "POST",
            &format!("{V}/coupons/AMOUNT10/validate"),
            Some(json!({"customerId": "c"})),
        )
        .await;
    assert_eq!(ok.json()["isValid"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_answers_garbage_with_voucherify_errors() {
    let sim = crate::sim::Sim::start().await;
    let client = Client::new();
    let seeds = [
        (
            "/v1/validations",
            json!({"redeemables": [{"object": "voucher", "id": "AMOUNT10"}, {"object": "voucher", "id": "GIFT100", "gift": {"credits": 100}}],
                                   "customer": {"source_id": "c"}, "order": {"amount": 1000, "items": [{"price": 100, "quantity": 2}]},
                                   "session": {"type": "LOCK", "key": "k", "ttl": 5, "ttl_unit": "MINUTES"}}),
        ),
        (
            "/v1/redemptions",
            json!({"redeemables": [{"object": "voucher", "id": "TWICE"}], "order": {"source_id": "o", "amount": 1000}, "session": {"type": "LOCK", "key": "k"}}),
        ),
        (
            "/v1/vouchers",
            json!({"code": "NEW", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 5}, "redemption": {"quantity": 2},
                                "start_date": "2026-01-01T00:00:00Z", "validation_rules": [{"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5]}}}}]}),
        ),
        (
            "/v1/vouchers/ONCE/validate",
            json!({"customer": {"source_id": "c"}, "order": {"amount": 100}, "session": {"type": "LOCK"}}),
        ),
    ];
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..150 {
        for (path, seed) in &seeds {
            let body = mutate(seed, &mut rng);
            let url = format!("{}{path}", sim.running.base_url());
            let r = client.send_raw("POST", &url, &SIM_AUTH, body.clone().into()).await;
            assert!(
                [200, 400, 404, 409].contains(&r.status),
                "round {round} {path} {}: {} {}",
                String::from_utf8_lossy(&body),
                r.status,
                r.text()
            );
            let answer = r.json();
            if r.status >= 400 {
                assert!(answer["code"].is_u64() && answer["key"].is_string(), "{answer}");
            }
        }
    }
}
