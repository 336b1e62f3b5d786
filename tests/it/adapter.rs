//! The adapter over real sockets: a Gameball client → couponbridge (port 0)
//! → the simulator, with locks in a real redis-server or in memory. Every
//! scenario runs against both stores.

use std::sync::Arc;
use std::time::Duration;

use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::model::ApplicationMode;
use serde_json::{Value, json};

use crate::common::codes;
use crate::common::env::{AUTH, Env, StoreKind, V};

both_stores!(
    validate_many_locks_the_valid_coupons_and_lists_the_invalid,
    partial_mode_gives_the_same_answer,
    validate_single_answers_in_seed_001_shape,
    lock_duration_is_sent_as_the_session_ttl,
    two_customers_contend_for_a_single_use_code,
    lock_details_show_the_coupons_terms,
    release_frees_the_codes_and_answers_the_same_again,
    release_by_post_alias,
    burn_by_reference_consumes_the_lock_once,
    burn_by_codes_is_once_per_transaction,
    order_redeems_the_lock_and_refuses_a_repeat,
    order_with_codes_only,
    expired_locks_read_as_expired_and_cannot_be_burned,
    tenants_cannot_see_each_others_locks,
    concurrent_burn_release_and_order_have_one_winner,
    relocking_replaces_the_codes_in_the_same_session,
    every_error_row_has_gameballs_envelope,
    voucherify_failures_are_503_5003,
    money_follows_the_tenants_currency_decimals,
    a_lost_order_answer_is_confirmed_on_retry,
    a_lock_burned_by_a_lost_attempt_is_not_used_again,
    a_lost_locking_answer_leaves_no_session,
    a_validation_voucherify_refuses_is_the_clients_422,
);

fn validate_body(codes: &[&str], lock: bool) -> Value {
    json!({"customerId": "cust-1", "coupons": codes, "lock": lock, "totalPurchaseAmount": 250})
}

pub(crate) async fn lock(env: &Env, customer: &str, codes: &[&str]) -> (String, Value) {
    let r = env
        .validate(json!({"customerId": customer, "coupons": codes, "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let reference = body["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (reference, body)
}

pub(crate) async fn validate_many_locks_the_valid_coupons_and_lists_the_invalid(store: StoreKind) {
    let env = Env::start(store).await;
    let r = env
        .validate(json!({
            "customerId": "cust-1",
            "coupons": ["AMOUNT10", {"code": "NOPE", "pin": "1"}, "PERCENT20", "EXPIRED", "ONCE"],
            "lock": true, "totalPurchaseAmount": 250
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    let b = r.json();
    let valid = codes(&b["validCoupons"]);
    assert_eq!(valid, ["AMOUNT10", "PERCENT20", "ONCE"]);
    let reference = b["validCoupons"][0]["lockReference"].as_str().unwrap();
    assert_eq!(reference.len(), 32);
    assert!(
        b["validCoupons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["lockReference"] == reference),
        "one reference for the request"
    );
    assert_eq!(
        b["invalidCoupons"],
        json!([{"code": "NOPE", "error": "Coupon not found"}, {"code": "EXPIRED", "error": "Coupon has expired"}])
    );
    // Amounts in major units: 10.00 off 250, then 20 % (capped at 30.00) of 240, then 5.00.
    assert_eq!(b["validCoupons"][0]["discountAmount"], 10);
    assert_eq!(b["validCoupons"][0]["discountType"], "fixed");
    assert_eq!(b["validCoupons"][1]["discountAmount"], 30);
    assert_eq!(b["validCoupons"][1]["discountType"], "percentage");
    assert_eq!(b["validCoupons"][2]["discountAmount"], 5);
    // The valid coupons, and only they, are locked in Voucherify.
    let mut locked: Vec<String> = env
        .live_sessions()
        .iter()
        .map(|s| s["voucher"].as_str().unwrap().to_owned())
        .collect();
    locked.sort();
    assert_eq!(locked, ["AMOUNT10", "ONCE", "PERCENT20"]);

    // Without lock nothing is locked and lockReference is null.
    let plain = env.validate(validate_body(&["TWICE"], false)).await.json();
    assert_eq!(plain["validCoupons"][0]["lockReference"], Value::Null);
    assert_eq!(env.live_sessions().len(), 3);
}

async fn partial_mode_gives_the_same_answer(store: StoreKind) {
    let env = Env::builder(store).mode(ApplicationMode::Partial).start().await;
    let r = env
        .validate(validate_body(&["AMOUNT10", "NOPE", "PERCENT20"], true))
        .await
        .json();
    let valid = codes(&r["validCoupons"]);
    assert_eq!(valid, ["AMOUNT10", "PERCENT20"]);
    assert_eq!(r["invalidCoupons"][0]["code"], "NOPE");
    assert_eq!(env.live_sessions().len(), 2);
}

async fn validate_single_answers_in_seed_001_shape(store: StoreKind) {
    let env = Env::start(store).await;
    let ok = env
        .post("/coupons/PERCENT20/validate", json!({"customerId": "c1", "lock": true}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let b = ok.json();
    assert_eq!(b["isValid"], true);
    assert_eq!(b["discountType"], "percentage");
    assert_eq!(b["discountAmount"], 20, "no order amount: the coupon's percent");
    assert_eq!(b["lockReference"].as_str().unwrap().len(), 32);
    assert!(b.get("error").is_none());

    let bad = env.post("/coupons/LATER/validate", json!({"customerId": "c1"})).await;
    assert_eq!(bad.status, 200, "an invalid coupon is still HTTP 200");
    assert_eq!(
        bad.json(),
        json!({"isValid": false, "lockReference": null, "discountType": null, "discountAmount": 0, "error": "Coupon is not active yet"})
    );
    let min = env
        .post(
            "/coupons/MIN100/validate",
            json!({"customerId": "c1", "totalPurchaseAmount": 99.99}),
        )
        .await
        .json();
    assert_eq!(
        min["error"], "Order does not meet the coupon's conditions",
        "totalPurchaseAmount reaches the minimum-order rule"
    );
    let min_ok = env
        .post(
            "/coupons/MIN100/validate",
            json!({"customerId": "c1", "totalPurchaseAmount": 100}),
        )
        .await
        .json();
    assert_eq!(min_ok["isValid"], true);
    for (code, kind) in [
        ("FIXED50", "fixed_rate"),
        ("FREESHIP", "shipping"),
        ("GIFT100", "fixed"),
    ] {
        let r = env
            .post(&format!("/coupons/{code}/validate"), json!({"customerId": "c1"}))
            .await
            .json();
        assert_eq!(r["discountType"], kind, "{code}");
    }
}

async fn lock_duration_is_sent_as_the_session_ttl(store: StoreKind) {
    let env = Env::start(store).await;
    lock(&env, "c1", &["AMOUNT10"]).await;
    let r = env
        .post(
            "/coupons/TWICE/validate",
            json!({"customerId": "c1", "lock": true, "lockDuration": 15}),
        )
        .await;
    assert_eq!(r.status, 200);
    let sessions = env.live_sessions();
    let ttl = |code: &str| {
        let s = sessions.iter().find(|s| s["voucher"] == code).unwrap();
        (s["ttl"].as_i64().unwrap(), s["ttl_unit"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        ttl("AMOUNT10"),
        (10, "MINUTES".into()),
        "default_duration, never Voucherify's 7 days"
    );
    assert_eq!(ttl("TWICE"), (15, "MINUTES".into()));
    let bad = env
        .post(
            "/coupons/TWICE/validate",
            json!({"customerId": "c1", "lock": true, "lockDuration": -5}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["code"], 3003);
}

async fn two_customers_contend_for_a_single_use_code(store: StoreKind) {
    let env = Env::start(store).await;
    let (first, _) = lock(&env, "alice", &["ONCE"]).await;
    assert!(!first.is_empty());
    let (_, second) = lock(&env, "bob", &["ONCE"]).await;
    assert_eq!(second["validCoupons"], json!([]));
    assert_eq!(
        second["invalidCoupons"],
        json!([{"code": "ONCE", "error": "Coupon usage limit reached or it is held by another checkout"}])
    );
}

async fn lock_details_show_the_coupons_terms(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "cust-9", &["PERCENT20", "MIN100", "ONCE"]).await;
    let r = env.get(&format!("/locks/{reference}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(d["customerId"], "cust-9");
    assert_eq!(d["isUsed"], false);
    assert_eq!(d["usedAt"], Value::Null);
    assert_eq!(d["isExpired"], false);
    assert_eq!(d["expiredAt"], "2026-01-01T00:10:00.000Z");
    let coupons = d["coupons"].as_array().unwrap();
    assert_eq!(coupons.len(), 3);
    assert_eq!(
        coupons[0],
        json!({"code": "PERCENT20", "type": "percentage", "value": 20, "usageLimit": null, "limitPerCustomer": null,
               "startDate": null, "expiryDate": null, "capping": 30, "minReward": 0, "minOrderValue": 0,
               "entitledProductIds": [], "entitledVariantIds": [], "entitledCollectionIds": [], "entitledMerchantIds": [],
               "combinesWith": {"orderDiscounts": true, "productDiscounts": true, "shippingDiscounts": true}})
    );
    assert_eq!(coupons[1]["minOrderValue"], 100);
    assert_eq!(coupons[1]["value"], 20);
    assert_eq!(coupons[2]["usageLimit"], 1);
    let unknown = env.gb("GET", &format!("{V}/locks/{}", "0".repeat(32)), None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], 4004);
}

pub(crate) async fn release_frees_the_codes_and_answers_the_same_again(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "alice", &["ONCE", "AMOUNT10"]).await;
    let r = env.delete(&format!("/coupons/{reference}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json();
    assert_eq!(first["success"], true);
    assert_eq!(first["releasedCoupons"], json!(["ONCE", "AMOUNT10"]));
    assert_eq!(env.live_sessions().len(), 0, "the Voucherify sessions are released");
    env.advance(Duration::from_secs(5));
    let again = env.delete(&format!("/coupons/{reference}")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), first, "a retried release answers the same, later");
    // Released: the code can be locked again, by someone else.
    let (relock, _) = lock(&env, "bob", &["ONCE"]).await;
    assert_ne!(relock, "");
    let details = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(details["isExpired"], true, "a released lock no longer holds");
    assert_eq!(details["expiredAt"], first["releasedAt"]);
    let burn = env
        .post(
            "/coupons/burn",
            json!({"customerId": "alice", "lockReference": reference}),
        )
        .await;
    assert_eq!((burn.status, burn.json()["code"].clone()), (400, json!(4000)));
}

async fn release_by_post_alias(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "alice", &["ONCE"]).await;
    let r = env.post("/coupons/release", json!({"lockReference": reference})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["releasedCoupons"], json!(["ONCE"]));
    let missing = env.post("/coupons/release", json!({})).await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (400, json!(3000)));
}

pub(crate) async fn burn_by_reference_consumes_the_lock_once(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "alice", &["TWICE", "AMOUNT10"]).await;
    let burn = |tx: &str| json!({"customerId": "alice", "lockReference": reference, "transactionId": tx, "transactionTime": "2026-01-01T00:01:00.000Z"});
    let r = env.post("/coupons/burn", burn("tx-1")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["success"], true);
    assert_eq!(b["burnedAt"], "2026-01-01T00:00:00.000Z");
    assert_eq!(b["transactionId"], "tx-1");
    assert_eq!((env.redeemed("TWICE"), env.redeemed("AMOUNT10")), (1, 1));
    assert_eq!(env.live_sessions().len(), 0, "redeeming consumed the session");
    // The same burn again (a client retry) answers the same and burns nothing.
    let again = env.post("/coupons/burn", burn("tx-1")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["burnedAt"], b["burnedAt"]);
    assert_eq!(env.redeemed("TWICE"), 1, "never burned twice");
    // Another transaction on the same lock is a second burn: refused.
    let other = env.post("/coupons/burn", burn("tx-2")).await;
    assert_eq!((other.status, other.json()["code"].clone()), (400, json!(4000)));
    assert_eq!(env.redeemed("TWICE"), 1);
    let details = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(
        (details["isUsed"].clone(), details["usedAt"].clone()),
        (json!(true), json!("2026-01-01T00:00:00.000Z"))
    );
    let release = env.delete(&format!("/coupons/{reference}")).await;
    assert_eq!((release.status, release.json()["code"].clone()), (400, json!(4000)));
    let wrong_customer = {
        let (r2, _) = lock(&env, "alice", &["AMOUNT10"]).await;
        env.post("/coupons/burn", json!({"customerId": "mallory", "lockReference": r2}))
            .await
    };
    assert_eq!(wrong_customer.status, 422);
}

async fn burn_by_codes_is_once_per_transaction(store: StoreKind) {
    let env = Env::start(store).await;
    let body = json!({"customerId": "alice", "coupons": ["TWICE"], "transactionId": "inv-7"});
    let r = env.post("/coupons/burn", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let again = env.post("/coupons/burn", body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["burnedAt"], r.json()["burnedAt"]);
    assert_eq!(env.redeemed("TWICE"), 1, "the repeated transaction burned nothing");
    let expired = env
        .post("/coupons/burn", json!({"customerId": "alice", "coupons": ["EXPIRED"]}))
        .await;
    assert_eq!(expired.status, 400);
    assert_eq!(expired.json()["code"], 4000);
    assert!(expired.json()["message"].as_str().unwrap().contains("expired"));
    let both = env
        .post(
            "/coupons/burn",
            json!({"customerId": "a", "coupons": ["X"], "lockReference": "r"}),
        )
        .await;
    assert_eq!(both.status, 422);
    let neither = env.post("/coupons/burn", json!({"customerId": "a"})).await;
    assert_eq!((neither.status, neither.json()["code"].clone()), (400, json!(3000)));
}

pub(crate) async fn order_redeems_the_lock_and_refuses_a_repeat(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "cust-1", &["TWICE"]).await;
    let order = json!({"customerId": "cust-1", "orderId": "ORD-1", "orderDate": "2026-01-01T00:05:00Z",
                       "totalPrice": 250, "totalPaid": 225, "redemption": {"couponsLockReference": reference}});
    let r = env.post("/orders", order.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"customerId": "cust-1", "redeemedPoints": 0, "rewardedPoints": 0, "lineItems": []})
    );
    assert_eq!(env.redeemed("TWICE"), 1);
    let vf_order = env.project(|p| p.find_order("ORD-1").map(|o| (o.amount, o.redemptions.len())));
    assert_eq!(
        vf_order,
        Some((25000, 1)),
        "orderId is the Voucherify order's source id; amount from totalPrice"
    );
    let repeat = env.post("/orders", order).await;
    assert_eq!(repeat.status, 422);
    assert_eq!(repeat.json()["code"], 9004);
    assert_eq!(env.redeemed("TWICE"), 1, "a repeated orderId redeems nothing");
    let details = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(details["isUsed"], true);
}

async fn order_with_codes_only(store: StoreKind) {
    let env = Env::start(store).await;
    let r = env
        .post(
            "/orders",
            json!({"customerId": "c", "orderId": 42, "totalPaid": 99.5, "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1);
    let refused = env
        .post(
            "/orders",
            json!({"customerId": "c", "orderId": "43", "totalPaid": 10, "redemption": {"couponCodes": ["OFF"]}}),
        )
        .await;
    assert_eq!(refused.status, 400);
    // Refused orders are not remembered: the merchant may fix and resend.
    let retry = env
        .post(
            "/orders",
            json!({"customerId": "c", "orderId": "43", "totalPaid": 10, "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    let missing = env.post("/orders", json!({"customerId": "c"})).await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (400, json!(3000)));
}

pub(crate) async fn expired_locks_read_as_expired_and_cannot_be_burned(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "alice", &["ONCE"]).await;
    env.advance(Duration::from_secs(10 * 60));
    let d = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(d["isExpired"], true);
    assert_eq!(d["expiredAt"], "2026-01-01T00:10:00.000Z");
    let burn = env
        .post(
            "/coupons/burn",
            json!({"customerId": "alice", "lockReference": reference}),
        )
        .await;
    assert_eq!((burn.status, burn.json()["code"].clone()), (400, json!(4000)));
    assert!(burn.json()["message"].as_str().unwrap().contains("expired"));
    assert_eq!(env.redeemed("ONCE"), 0);
    // The simulator's session expired with the same TTL: the code is free.
    let (other, _) = lock(&env, "bob", &["ONCE"]).await;
    assert!(!other.is_empty());
    let metrics = env.metrics().await;
    assert!(
        metrics.contains("couponbridge_locks_total{event=\"expired\"} 1"),
        "{metrics}"
    );
}

async fn tenants_cannot_see_each_others_locks(store: StoreKind) {
    let other = r#"
        [tenants.other]
        api_key = "other-api-key"
        secret_key = "other-secret"
        [tenants.other.voucherify]
        base_url = "http://127.0.0.1:9"
        app_id = "x"
        app_token = "y"
    "#;
    let env = Env::builder(store).toml(other).start().await;
    let (reference, _) = lock(&env, "alice", &["ONCE"]).await;
    let auth = [("apikey", "other-api-key"), ("secretkey", "other-secret")];
    for (method, path, body) in [
        ("GET", format!("{V}/locks/{reference}"), None),
        ("DELETE", format!("{V}/coupons/{reference}"), None),
        (
            "POST",
            format!("{V}/coupons/burn"),
            Some(json!({"customerId": "alice", "lockReference": reference})),
        ),
    ] {
        let r = env.gb_as(&auth, method, &path, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["code"], 4004);
    }
    assert_eq!(env.live_sessions().len(), 1, "still locked for its owner");
}

pub(crate) async fn concurrent_burn_release_and_order_have_one_winner(store: StoreKind) {
    let env = Arc::new(Env::start(store).await);
    for round in 0..4 {
        let (reference, _) = lock(&env, "alice", &["TWICE"]).await;
        let calls = [
            (
                "POST",
                format!("{V}/coupons/burn"),
                json!({"customerId": "alice", "lockReference": reference}),
            ),
            ("DELETE", format!("{V}/coupons/{reference}"), Value::Null),
            (
                "POST",
                format!("{V}/orders"),
                json!({"customerId": "alice", "orderId": format!("race-{round}"), "totalPaid": 10,
                                                    "redemption": {"couponsLockReference": reference}}),
            ),
            (
                "POST",
                format!("{V}/coupons/burn"),
                json!({"customerId": "alice", "lockReference": reference, "transactionId": "other"}),
            ),
        ];
        let tasks: Vec<_> = calls
            .into_iter()
            .map(|(m, p, b)| {
                let env = env.clone();
                tokio::spawn(async move { env.gb(m, &p, (!b.is_null()).then_some(b)).await.status })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(statuses.iter().all(|s| [200, 400, 422].contains(s)), "{statuses:?}");
        // Release the slot if the winner was a burn (TWICE has two uses).
        env.project(|p| p.vouchers.get_mut("TWICE").unwrap().redeemed_quantity = 0);
    }
}

pub(crate) async fn relocking_replaces_the_codes_in_the_same_session(store: StoreKind) {
    let env = Env::start(store).await;
    let (reference, _) = lock(&env, "alice", &["ONCE", "AMOUNT10"]).await;
    let r = env
        .validate(json!({"customerId": "alice", "coupons": ["AMOUNT10", "PERCENT20"],
                                                                  "lock": true, "lockReference": reference}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(
        b["validCoupons"][0]["lockReference"],
        reference.as_str(),
        "the same reference"
    );
    let mut locked: Vec<String> = env
        .live_sessions()
        .iter()
        .map(|s| s["voucher"].as_str().unwrap().to_owned())
        .collect();
    locked.sort();
    assert_eq!(locked, ["AMOUNT10", "PERCENT20"], "ONCE was dropped and released");
    let d = env.get(&format!("/locks/{reference}")).await.json();
    let codes = codes(&d["coupons"]);
    assert_eq!(codes, ["AMOUNT10", "PERCENT20"]);
}

async fn every_error_row_has_gameballs_envelope(store: StoreKind) {
    let env = Env::start(store).await;
    let path = format!("{V}/coupons/validate");
    let body = Some(validate_body(&["AMOUNT10"], false));
    // (headers, raw body or the default one, status, Gameball code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>, u16, u64);
    let cases: Vec<Case> = vec![
        (vec![], None, 401, 1000),
        (vec![("apikey", "nope"), ("secretkey", "x")], None, 401, 1000),
        (vec![("APIKey", AUTH[0].1)], None, 401, 1001),
        (vec![("apikey", AUTH[0].1), ("secretkey", "wrong")], None, 401, 1000),
        (
            vec![("APIKey", AUTH[0].1), ("SecretKey", AUTH[1].1)],
            Some("{not json"),
            400,
            3016,
        ),
        (
            vec![("apiKey", AUTH[0].1), ("secretKey", AUTH[1].1)],
            Some(r#"{"coupons": ["A"]}"#),
            400,
            3000,
        ),
        (AUTH.to_vec(), Some(r#"{"customerId": "c"}"#), 400, 3000),
        (
            AUTH.to_vec(),
            Some(r#"{"customerId": "c", "coupons": ["A"], "lock": "maybe"}"#),
            422,
            3003,
        ),
    ];
    for (headers, raw, status, code) in cases {
        let r = match raw {
            Some(raw) => {
                env.client
                    .send_raw("POST", &env.url(&path), &headers, raw.to_owned().into())
                    .await
            }
            None => env.gb_as(&headers, "POST", &path, body.clone()).await,
        };
        assert_eq!(r.status, status, "{headers:?} {raw:?}: {}", r.text());
        let e = r.json();
        assert_eq!(e["code"], code, "{headers:?}");
        assert!(e["type"].is_string() && e["message"].is_string());
        assert_eq!(
            e["requestId"].as_str(),
            r.header("x-request-id"),
            "the request id is in the body and the header"
        );
    }
    let unknown = env.gb("DELETE", &format!("{V}/coupons/{}", "a".repeat(32)), None).await;
    assert_eq!(
        (
            unknown.status,
            unknown.json()["code"].clone(),
            unknown.json()["type"].clone()
        ),
        (404, json!(4004), json!("GENERAL_ERROR"))
    );
    let given = env
        .client
        .send(
            "GET",
            &env.url(&format!("{V}/locks/x")),
            &[AUTH[0], AUTH[1], ("x-request-id", "trace-me-1")],
            None,
        )
        .await;
    assert_eq!(given.header("x-request-id"), Some("trace-me-1"));
    assert_eq!(given.json()["requestId"], "trace-me-1");
    let no_route = env.gb("GET", "/api/v4.0/integrations/customers/c1", None).await;
    assert_eq!(
        (no_route.status, no_route.json()["code"].clone()),
        (404, json!(4004)),
        "no pass-through upstream configured"
    );
}

async fn voucherify_failures_are_503_5003(store: StoreKind) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = Env::builder(store)
        .voucherify_url(&format!("http://127.0.0.1:{port}"))
        .start()
        .await;
    let r = unreachable.validate(validate_body(&["A"], true)).await;
    assert_eq!(
        (r.status, r.json()["code"].clone(), r.json()["type"].clone()),
        (503, json!(5003), json!("SERVER_ERROR"))
    );

    let env = Env::builder(store).timeout("200ms").start().await;
    env.sim.sim.set_faults(Faults {
        latency_ms: 5_000,
        ..Faults::default()
    });
    let slow = env.validate(validate_body(&["AMOUNT10"], true)).await;
    assert_eq!(
        (slow.status, slow.json()["code"].clone()),
        (503, json!(5003)),
        "a timeout"
    );
    env.sim.sim.set_faults(Faults {
        script: [Fault::Error].into(),
        ..Faults::default()
    });
    let five = env.validate(validate_body(&["AMOUNT10"], true)).await;
    assert_eq!((five.status, five.json()["code"].clone()), (503, json!(5003)), "a 5xx");
    env.sim.sim.set_faults(Faults {
        script: [Fault::RateLimit].into(),
        retry_after_secs: 3,
        ..Faults::default()
    });
    let limited = env.validate(validate_body(&["AMOUNT10"], true)).await;
    assert_eq!((limited.status, limited.header("retry-after")), (503, Some("3")));
    // A dropped connection on redemption leaves the outcome unknown: the
    // burn answers 503, and the retry confirms instead of burning again.
    env.sim.sim.set_faults(Faults::default());
    let (reference, _) = lock(&env, "alice", &["TWICE"]).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::Error].into(),
        path_prefix: Some("/v1/redemptions".into()),
        ..Faults::default()
    });
    let burn = json!({"customerId": "alice", "lockReference": reference});
    let first = env.post("/coupons/burn", burn.clone()).await;
    assert_eq!(first.status, 503);
    let busy = env.post("/coupons/burn", burn.clone()).await;
    assert_eq!(
        (busy.status, busy.json()["code"].clone()),
        (422, json!(2001)),
        "the first attempt's lease is live"
    );
    env.advance(Duration::from_secs(10)); // past the lease: timeout x2 + Voucherify's late commits
    let retry = env.post("/coupons/burn", burn).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(env.redeemed("TWICE"), 1);

    // Voucherify redeems but the answer is lost: the retry finds the
    // redemption on the order and confirms it instead of burning again.
    let (reference, _) = lock(&env, "bob", &["AMOUNT10"]).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some("/v1/redemptions".into()),
        ..Faults::default()
    });
    let burn = json!({"customerId": "bob", "lockReference": reference, "transactionId": "t-9"});
    let lost = env.post("/coupons/burn", burn.clone()).await;
    assert_eq!(lost.status, 503);
    assert_eq!(env.redeemed("AMOUNT10"), 1, "Voucherify did redeem");
    env.advance(Duration::from_secs(10)); // past the lease: timeout x2 + Voucherify's late commits
    let confirmed = env.post("/coupons/burn", burn).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1, "never burned twice");
    let d = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(d["isUsed"], true);
}

async fn money_follows_the_tenants_currency_decimals(store: StoreKind) {
    let env = Env::builder(store).decimals(3).start().await;
    let r = env
        .validate(json!({"customerId": "c", "coupons": ["AMOUNT10", "PERCENT20"], "totalPurchaseAmount": 12.345}))
        .await
        .json();
    // AMOUNT10 is 1000 minor units: 1.000 at three decimals; 20 % of 11.345 is 2.269.
    assert_eq!(r["validCoupons"][0]["discountAmount"], 1);
    assert_eq!(r["validCoupons"][1]["discountAmount"].to_string(), "2.269");
    let bad = env
        .validate(json!({"customerId": "c", "coupons": ["AMOUNT10"], "totalPurchaseAmount": "lots"}))
        .await;
    assert_eq!((bad.status, bad.json()["code"].clone()), (422, json!(3003)));
}

async fn a_lost_order_answer_is_confirmed_on_retry(store: StoreKind) {
    let env = Env::builder(store).timeout("300ms").start().await;
    let (reference, _) = lock(&env, "cust-1", &["TWICE"]).await;
    let order = json!({"customerId": "cust-1", "orderId": "ORD-77", "totalPaid": 100,
                       "redemption": {"couponsLockReference": reference, "couponCodes": ["AMOUNT10"]}});
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some("/v1/redemptions".into()),
        ..Faults::default()
    });
    let lost = env.post("/orders", order.clone()).await;
    assert_eq!(lost.status, 503);
    env.advance(Duration::from_secs(10)); // past the lease: timeout x2 + Voucherify's late commits
    let retry = env.post("/orders", order.clone()).await;
    assert_eq!(retry.status, 200, "the retry completes the order: {}", retry.text());
    assert_eq!(
        (env.redeemed("TWICE"), env.redeemed("AMOUNT10")),
        (1, 1),
        "redeemed once"
    );
    let d = env.get(&format!("/locks/{reference}")).await.json();
    assert_eq!(d["isUsed"], true, "the lock is settled as used");
    let duplicate = env.post("/orders", order).await;
    assert_eq!(duplicate.json()["code"], 9004);
}

async fn a_lock_burned_by_a_lost_attempt_is_not_used_again(store: StoreKind) {
    let env = Env::builder(store).timeout("300ms").start().await;
    let (reference, _) = lock(&env, "cust-1", &["TWICE"]).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some("/v1/redemptions".into()),
        ..Faults::default()
    });
    let lost = env
        .post(
            "/coupons/burn",
            json!({"customerId": "cust-1", "lockReference": reference}),
        )
        .await;
    assert_eq!(lost.status, 503);
    env.advance(Duration::from_secs(10)); // past the lease: timeout x2 + Voucherify's late commits
    // An order that names the same lock finds the earlier burn on
    // Voucherify: the lock is used, by that burn, not by this order.
    let order = env
        .post(
            "/orders",
            json!({"customerId": "cust-1", "orderId": "ORD-9", "totalPaid": 10,
            "redemption": {"couponsLockReference": reference, "couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(
        (order.status, order.json()["code"].clone()),
        (400, json!(4000)),
        "{}",
        order.text()
    );
    assert_eq!(
        (env.redeemed("TWICE"), env.redeemed("AMOUNT10")),
        (1, 0),
        "nothing redeemed twice, nothing extra"
    );
    // The order was not recorded: the merchant may send it again.
    let retry = env
        .post(
            "/orders",
            json!({"customerId": "cust-1", "orderId": "ORD-9", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(retry.status, 200, "{}", retry.text());
}

async fn a_lost_locking_answer_leaves_no_session(store: StoreKind) {
    let env = Env::start(store).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    let r = env.validate(validate_body(&["ONCE", "AMOUNT10"], true)).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        env.live_sessions(),
        Vec::<Value>::new(),
        "the sessions Voucherify took were released"
    );
    let empty = env.post("/coupons/%20/validate", json!({"customerId": "c"})).await;
    assert_eq!((empty.status, empty.json()["code"].clone()), (400, json!(3000)));
}

/// Voucherify refusing the request itself (400) is about the client's
/// coupons, not an outage: 422/3003 naming `coupons`, and no lock.
async fn a_validation_voucherify_refuses_is_the_clients_422(store: StoreKind) {
    let env = Env::start(store).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::Error].into(),
        error_status: 400,
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    let r = env.validate(validate_body(&["AMOUNT10"], true)).await;
    let body = r.json();
    assert_eq!((r.status, body["code"].clone()), (422, json!(3003)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("coupons"), "{body}");
    assert_eq!(env.live_sessions(), Vec::<Value>::new());
    let again = env.validate(validate_body(&["AMOUNT10"], true)).await;
    assert_eq!(again.status, 200, "the next request is served: {}", again.text());
}

// Redis only: what survives and what fails with the store itself.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_survive_an_adapter_restart() {
    let mut env = Env::start(StoreKind::Redis).await;
    let (reference, _) = lock(&env, "alice", &["ONCE"]).await;
    env.restart().await;
    let d = env.get(&format!("/locks/{reference}")).await;
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(d.json()["customerId"], "alice");
    let r = env.delete(&format!("/coupons/{reference}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(env.live_sessions().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lock_write_leaves_no_voucherify_session() {
    let mut env = Env::start(StoreKind::Redis).await;
    env.redis.as_mut().unwrap().stop();
    let r = env.validate(validate_body(&["ONCE", "AMOUNT10"], true)).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["code"], 5003);
    assert!(r.json().get("validCoupons").is_none(), "no reference without a record");
    assert_eq!(
        env.live_sessions(),
        Vec::<Value>::new(),
        "the sessions just taken were released"
    );
}
