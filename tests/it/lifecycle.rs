//! The rest of Gameball's coupon lifecycle on Voucherify: coupons from
//! points, the customer's coupons, automatic coupons, payments, refunds
//! and cancellations. What the simulator holds is made through Voucherify's
//! own API (loyalty programs, rewards, publications), as a merchant's
//! migration script would, then the adapter is pointed at it.

use std::time::Duration;

use couponbridge::sim::faults::{Fault, Faults};
use serde_json::{Value, json};

use crate::common::codes;
use crate::common::env::{Env, StoreKind, V};
use crate::common::gameball_schema::assert_matches;
use crate::common::{Reply, SIM_AUTH};

both_stores!(
    a_coupon_is_bought_with_points_once,
    points_are_spent_once_when_voucherifys_answer_is_lost,
    points_short_unmapped_rules_and_customers_without_a_card_are_refused,
    the_customers_coupons_are_listed,
    the_best_automatic_promotion_is_applied,
    a_payment_redeems_its_lock_once,
    a_refunded_order_gives_its_single_use_coupon_back_once,
    a_refund_racing_a_second_refund_is_refused_while_it_runs,
    a_cancelled_order_gives_its_coupon_back,
);

/// Past any claim's lease (a coupon purchase's is seven upstream timeouts
/// of 2 s plus 5 s).
const PAST_LEASE: Duration = Duration::from_secs(30);

/// A Voucherify call to the simulator.
async fn vf(env: &Env, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", env.sim.base_url());
    let r = env.client.send(method, &url, &SIM_AUTH, body.as_ref()).await;
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
    if r.body.is_empty() { Value::Null } else { r.json() }
}

/// What a loyalty program set up through Voucherify's API is called.
struct Loyalty {
    program: String,
    card: String,
}

/// A loyalty program with a card holding `points` for `customer`, and a
/// CAMPAIGN reward costing 100 points that publishes a 5.00-off coupon;
/// the adapter restarted with `[loyalty]` and `[rewards] "1"` naming them.
async fn loyalty(env: &mut Env, customer: &str, points: i64) -> Loyalty {
    let coupons = vf(
        env,
        "POST",
        "/v1/campaigns",
        Some(
            json!({"name": "Reward coupons", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500},
                        "redemption": {"quantity": 1}, "code_config": {"length": 8, "prefix": "PTS-"}}}),
        ),
    )
    .await;
    let program = vf(
        env,
        "POST",
        "/v1/loyalties",
        Some(json!({"name": "Points", "type": "AUTO_UPDATE",
            "voucher": {"type": "LOYALTY_CARD", "loyalty_card": {"points": 0}}})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let card = vf(
        env,
        "POST",
        &format!("/v1/loyalties/{program}/members"),
        Some(json!({"customer": {"source_id": customer}})),
    )
    .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    if points > 0 {
        vf(
            env,
            "POST",
            &format!("/v1/loyalties/{program}/members/{card}/balance"),
            Some(json!({"points": points})),
        )
        .await;
    }
    let reward = vf(
        env,
        "POST",
        "/v1/rewards",
        Some(json!({"name": "5 off", "type": "CAMPAIGN",
            "parameters": {"campaign": {"id": coupons["id"]}}})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vf(
        env,
        "POST",
        &format!("/v1/rewards/{reward}/assignments"),
        Some(json!({"campaign": program, "parameters": {"loyalty": {"points": 100}}})),
    )
    .await;
    // Rule 2 is mapped to a reward that gives no coupon (a material one).
    let material = vf(
        env,
        "POST",
        "/v1/rewards",
        Some(json!({"name": "A mug", "type": "MATERIAL", "parameters": {"product": {"id": "prod_mug"}}})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.add_toml(&format!(
        "[tenants.shop.loyalty]\ncampaign = \"{program}\"\n[tenants.shop.rewards]\n\"1\" = \"{reward}\"\n\"2\" = \"{material}\"\n"
    ));
    env.restart().await;
    Loyalty { program, card }
}

/// The card's spendable points (Voucherify's `balance`; `points` is what
/// it ever earned).
async fn points(env: &Env, l: &Loyalty) -> i64 {
    let card = vf(
        env,
        "GET",
        &format!("/v1/loyalties/{}/members/{}", l.program, l.card),
        None,
    )
    .await;
    card["loyalty_card"]["balance"].as_i64().unwrap()
}

async fn predefined(env: &Env, body: Value) -> Reply {
    env.post("/coupons/predefined", body).await
}

fn code_of(r: &Reply) -> (u16, Option<u64>) {
    (r.status, r.json()["code"].as_u64())
}

async fn a_coupon_is_bought_with_points_once(store: StoreKind) {
    let mut env = Env::start(store).await;
    let l = loyalty(&mut env, "cust-1", 250).await;
    let r = predefined(&env, json!({"customerId": "cust-1", "ruleId": 1})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_matches("post", "/api/v4.0/integrations/coupons/predefined", &r.json());
    let code = r.json()["code"].as_str().unwrap().to_owned();
    assert_eq!(points(&env, &l).await, 150);
    assert!(code.starts_with("PTS-"), "a code of the reward's campaign: {code}");
    // The coupon is the customer's, and it validates.
    let v = env
        .validate(json!({"customerId": "cust-1", "coupons": [code], "totalPurchaseAmount": 50}))
        .await;
    assert_eq!(v.status, 200, "{}", v.text());
    assert_eq!(
        v.json()["validCoupons"].as_array().map(Vec::len),
        Some(1),
        "{}",
        v.text()
    );
    // The rule id as the tutorials send it: a numeric string. A second
    // purchase is a new coupon.
    let again = predefined(&env, json!({"customerId": "cust-1", "ruleId": "1"})).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_ne!(again.json()["code"], r.json()["code"]);
    assert_eq!(points(&env, &l).await, 50);
    // Both are in the customer's wallet; the loyalty card is not.
    let wallet = env.get("/customers/cust-1/coupons").await.json();
    let codes = codes(&wallet["coupons"]);
    assert!(codes.contains(&code) && !codes.contains(&l.card), "{codes:?}");
}

async fn points_are_spent_once_when_voucherifys_answer_is_lost(store: StoreKind) {
    let mut env = Env::start(store).await;
    let l = loyalty(&mut env, "cust-1", 250).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some(format!("/v1/loyalties/{}/members/{}/redemption", l.program, l.card)),
        ..Faults::default()
    });
    let lost = predefined(&env, json!({"customerId": "cust-1", "ruleId": 1})).await;
    assert_eq!(lost.status, 503, "{}", lost.text());
    assert_eq!(points(&env, &l).await, 150, "Voucherify did redeem");
    // A retry while the lost attempt's lease runs is told to wait.
    let early = predefined(&env, json!({"customerId": "cust-1", "ruleId": 1})).await;
    assert_eq!(code_of(&early), (422, Some(2001)), "{}", early.text());
    env.advance(PAST_LEASE);
    let retry = predefined(&env, json!({"customerId": "cust-1", "ruleId": 1})).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(points(&env, &l).await, 150, "the retry found the lost redemption");
    let held = vf(&env, "GET", "/v1/vouchers?customer=cust-1&limit=100", None).await;
    let codes: Vec<&str> = held["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["code"].as_str())
        .filter(|c| c.starts_with("PTS-"))
        .collect();
    assert_eq!(
        codes,
        [retry.json()["code"].as_str().unwrap()],
        "one coupon, the one answered"
    );
    // With an idempotency key, a repeat answers the same coupon.
    let keyed = |key: &'static str| {
        let env = &env;
        async move {
            env.client
                .send(
                    "POST",
                    &env.url(&format!("{V}/coupons/predefined")),
                    &[
                        ("apikey", crate::common::env::API_KEY),
                        ("secretkey", crate::common::env::SECRET_KEY),
                        ("idempotency-key", key),
                    ],
                    Some(&json!({"customerId": "cust-1", "ruleId": 1})),
                )
                .await
        }
    };
    let first = keyed("k-1").await;
    let repeat = keyed("k-1").await;
    assert_eq!((first.status, repeat.status), (200, 200), "{}", repeat.text());
    assert_eq!(first.json()["code"], repeat.json()["code"]);
    assert_eq!(points(&env, &l).await, 50);
    // Another customer's same key is another purchase (and this one has no card).
    let other = env
        .client
        .send(
            "POST",
            &env.url(&format!("{V}/coupons/predefined")),
            &[
                ("apikey", crate::common::env::API_KEY),
                ("secretkey", crate::common::env::SECRET_KEY),
                ("idempotency-key", "k-1"),
            ],
            Some(&json!({"customerId": "cust-2", "ruleId": 1})),
        )
        .await;
    assert_eq!(
        code_of(&other),
        (404, Some(7000)),
        "never cust-1's coupon: {}",
        other.text()
    );
}

async fn points_short_unmapped_rules_and_customers_without_a_card_are_refused(store: StoreKind) {
    let mut env = Env::start(store).await;
    let l = loyalty(&mut env, "cust-1", 50).await;
    let short = predefined(&env, json!({"customerId": "cust-1", "ruleId": 1})).await;
    assert_eq!(code_of(&short), (422, Some(9008)), "{}", short.text());
    assert_eq!(points(&env, &l).await, 50, "nothing was spent");
    let unmapped = predefined(&env, json!({"customerId": "cust-1", "ruleId": 7})).await;
    assert_eq!(code_of(&unmapped), (404, Some(4004)), "{}", unmapped.text());
    assert!(
        unmapped.json()["message"].as_str().unwrap().contains('7'),
        "names the rule"
    );
    let mug = predefined(&env, json!({"customerId": "cust-1", "ruleId": 2})).await;
    assert_eq!(
        code_of(&mug),
        (500, Some(5000)),
        "a reward that gives no coupon is a configuration error: {}",
        mug.text()
    );
    assert_eq!(points(&env, &l).await, 50, "and spends nothing");
    let stranger = predefined(&env, json!({"customerId": "nobody", "ruleId": 1})).await;
    assert_eq!(code_of(&stranger), (404, Some(7000)), "{}", stranger.text());
    let missing = predefined(&env, json!({"customerId": "cust-1"})).await;
    assert_eq!(code_of(&missing), (400, Some(3000)), "{}", missing.text());
    let bad = predefined(&env, json!({"customerId": "cust-1", "ruleId": "one"})).await;
    assert_eq!(code_of(&bad), (422, Some(3003)), "{}", bad.text());
}

async fn the_customers_coupons_are_listed(store: StoreKind) {
    let env = Env::start(store).await;
    for code in ["PERCENT20", "ONCE"] {
        vf(
            &env,
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"source_id": "jane"}, "voucher": code})),
        )
        .await;
    }
    let path = format!("{V}/customers/jane/coupons");
    let r = env.gb("GET", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_matches(
        "get",
        "/api/v4.0/integrations/customers/{customerId}/coupons",
        &r.json(),
    );
    let mut coupons = r.json()["coupons"].as_array().unwrap().clone();
    coupons.sort_by_key(|c| c["code"].as_str().unwrap().to_owned());
    assert_eq!(coupons.len(), 2, "{}", r.text());
    assert_eq!(coupons[0]["code"], "ONCE");
    assert_eq!(coupons[0]["type"], "Fixed Rate Discount");
    assert_eq!(coupons[0]["value"], 5);
    assert_eq!(coupons[0]["usageLimit"], 1);
    assert_eq!(coupons[0]["isAvailableToUse"], true);
    assert_eq!(coupons[1]["type"], "Percentage");
    assert_eq!(coupons[1]["value"], 20);
    // Used up, it is still listed, not available.
    let burn = env
        .post("/coupons/burn", json!({"customerId": "jane", "coupons": ["ONCE"]}))
        .await;
    assert_eq!(burn.status, 200, "{}", burn.text());
    let after = env.gb("GET", &path, None).await.json();
    let once = after["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "ONCE")
        .unwrap()
        .clone();
    assert_eq!(
        (once["usedCount"].clone(), once["isAvailableToUse"].clone()),
        (json!(1), json!(false))
    );
    // Nobody's wallet is empty, not an error.
    let nobody = env.get("/customers/nobody/coupons").await;
    assert_eq!((nobody.status, nobody.json()), (200, json!({"coupons": []})));
}

#[tokio::test]
async fn a_customer_with_a_thousand_coupons_gets_them_all() {
    let env = Env::start(StoreKind::Memory).await;
    let campaign = vf(
        &env,
        "POST",
        "/v1/campaigns",
        Some(
            json!({"name": "Many", "campaign_type": "DISCOUNT_COUPONS", "type": "STATIC", "vouchers_count": 1000,
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}}),
        ),
    )
    .await;
    for _ in 0..1000 {
        vf(
            &env,
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"source_id": "collector"}, "campaign": {"id": campaign["id"]}})),
        )
        .await;
    }
    let r = env.get("/customers/collector/coupons").await;
    assert_eq!(r.status, 200);
    let coupons = r.json()["coupons"].as_array().unwrap().clone();
    let mut codes: Vec<&str> = coupons.iter().map(|c| c["code"].as_str().unwrap()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 1000, "every page was read, none twice");
}

async fn the_best_automatic_promotion_is_applied(store: StoreKind) {
    let env = Env::start(store).await;
    let over_50 = vf(
        &env,
        "POST",
        "/v1/validation-rules",
        Some(json!({"name": "Orders over 50",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [5000]}}, "logic": "1"}})),
    )
    .await;
    vf(
        &env,
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "Autumn", "campaign_type": "PROMOTION",
            "promotion": {"tiers": [
                {"name": "2 off anything", "banner": "2 off", "action": {"discount": {"type": "AMOUNT", "amount_off": 200}}},
                {"name": "10% off over 50", "banner": "10% off",
                 "action": {"discount": {"type": "PERCENT", "percent_off": 10}},
                 "validation_rules": [over_50["id"]]}
            ]}})),
    )
    .await;
    let auto = |total: f64| {
        let env = &env;
        async move {
            env.post(
                "/coupons/automatic",
                json!({"customerId": "cust-1", "cartId": "cart-1", "totalPrice": total}),
            )
            .await
        }
    };
    let big = auto(120.0).await;
    assert_eq!(big.status, 200, "{}", big.text());
    assert_matches("post", "/api/v4.0/integrations/coupons/automatic", &big.json());
    assert_eq!(big.json()["isApplied"], true);
    assert_eq!(big.json()["couponName"], "10% off over 50");
    assert_eq!(big.json()["discountAmount"], 12);
    assert_eq!(big.json()["discountType"], "percentage");
    let small = auto(30.0).await;
    assert_eq!(small.json()["couponName"], "2 off anything", "{}", small.text());
    assert_eq!(small.json()["discountAmount"], 2);
    // The API key alone is enough (Gameball's spec), and nothing held.
    let key_only = env
        .gb_as(
            &[("apikey", crate::common::env::API_KEY)],
            "POST",
            &format!("{V}/coupons/automatic"),
            Some(json!({"customerId": "cust-1", "cartId": "c", "totalPrice": 1})),
        )
        .await;
    assert_eq!(key_only.status, 200, "{}", key_only.text());
    assert_eq!(key_only.json()["discountAmount"], 1, "2 off, at most the order");
    assert!(env.live_sessions().is_empty());
    let missing = env.post("/coupons/automatic", json!({"customerId": "cust-1"})).await;
    assert_eq!(code_of(&missing), (400, Some(3000)));
}

#[tokio::test]
async fn nothing_applicable_is_not_applied() {
    let env = Env::start(StoreKind::Memory).await;
    let r = env
        .post(
            "/coupons/automatic",
            json!({"customerId": "cust-1", "cartId": "cart-1", "totalPrice": 120}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["isApplied"], false);
    assert_matches("post", "/api/v4.0/integrations/coupons/automatic", &r.json());
}

async fn lock(env: &Env, customer: &str, code: &str) -> String {
    let r = env
        .validate(json!({"customerId": customer, "coupons": [code], "lock": true, "totalPurchaseAmount": 100}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn a_payment_redeems_its_lock_once(store: StoreKind) {
    let env = Env::start(store).await;
    let reference = lock(&env, "alice", "TWICE").await;
    let pay = |id: &'static str, reference: String| {
        let env = &env;
        async move {
            env.post(
                "/payments",
                json!({"customerId": "alice", "paymentId": id, "paymentDate": "2026-01-01T00:00:00Z",
                    "totalPaid": 95, "redemption": {"couponsLockReference": reference}}),
            )
            .await
        }
    };
    let r = pay("PAY-1", reference.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_matches("post", "/api/v4.0/integrations/payments", &r.json());
    assert_eq!(r.json()["customerId"], "alice");
    assert_eq!(env.redeemed("TWICE"), 1);
    let again = pay("PAY-1", reference.clone()).await;
    assert_eq!(code_of(&again), (422, Some(9004)), "{}", again.text());
    assert_eq!(env.redeemed("TWICE"), 1, "a repeat redeems nothing");
    // An order with the same id as a payment is a different transaction.
    let order = env
        .post(
            "/orders",
            json!({"customerId": "bob", "orderId": "PAY-1", "totalPaid": 10, "redemption": {"couponCodes": ["TWICE"]}}),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(env.redeemed("TWICE"), 2);
    // By codes, without a lock.
    let by_codes = env
        .post(
            "/payments",
            json!({"customerId": "carol", "paymentId": "PAY-2", "paymentDate": "2026-01-01T00:00:00Z",
                "totalPaid": 10, "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(by_codes.status, 200, "{}", by_codes.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1);
    let missing = env.post("/payments", json!({"customerId": "carol"})).await;
    assert_eq!(code_of(&missing), (400, Some(3000)));
}

async fn order_with(env: &Env, customer: &str, order_id: &str, code: &str) {
    let r = env
        .post(
            "/orders",
            json!({"customerId": customer, "orderId": order_id, "totalPaid": 100,
                "redemption": {"couponCodes": [code]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn refund(env: &Env, refund_id: &str, order_id: &str) -> Reply {
    refund_as(env, "alice", refund_id, order_id, None).await
}

/// Whether `customer` can burn `code` now.
async fn burns(env: &Env, customer: &str, code: &str) -> bool {
    let r = env
        .post("/coupons/burn", json!({"customerId": customer, "coupons": [code]}))
        .await;
    r.status == 200
}

async fn a_refunded_order_gives_its_single_use_coupon_back_once(store: StoreKind) {
    let env = Env::start(store).await;
    order_with(&env, "alice", "ORD-1", "ONCE").await;
    assert_eq!(env.redeemed("ONCE"), 1);
    let r = refund(&env, "RF-1", "ORD-1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_matches("post", "/api/v4.0/integrations/transactions/refund", &r.json());
    assert_eq!(r.json()["refundTransactionId"], "RF-1");
    assert_eq!(env.redeemed("ONCE"), 0, "the use came back");
    // The same refund again changes nothing and answers the same.
    let same = refund(&env, "RF-1", "ORD-1").await;
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(same.json()["gameballTransactionId"], r.json()["gameballTransactionId"]);
    // Another refund of it: already reversed.
    let other = refund(&env, "RF-2", "ORD-1").await;
    assert_eq!(code_of(&other), (422, Some(9001)), "{}", other.text());
    assert_eq!(env.redeemed("ONCE"), 0);
    // Another customer may use the single-use coupon now, once.
    assert!(burns(&env, "bob", "ONCE").await);
    assert!(!burns(&env, "carol", "ONCE").await);
    order_with(&env, "dave", "ORD-D", "TWICE").await;
    let not_yours = refund(&env, "RF-D", "ORD-D").await;
    assert_eq!(
        code_of(&not_yours),
        (422, Some(3003)),
        "alice cannot refund dave's order: {}",
        not_yours.text()
    );
    assert_eq!(env.redeemed("TWICE"), 1);
    let unknown = refund(&env, "RF-3", "NO-SUCH-ORDER").await;
    assert_eq!(code_of(&unknown), (404, Some(9002)), "{}", unknown.text());
    let missing = env
        .post(
            "/transactions/refund",
            json!({"customerId": "alice", "refundTransactionId": "RF-9"}),
        )
        .await;
    assert_eq!(code_of(&missing), (400, Some(3000)));
}

#[tokio::test]
async fn a_refund_after_a_restart_knows_what_to_roll_back() {
    // The memory store does not outlive the process, by design.
    let mut env = Env::start(StoreKind::Redis).await;
    let reference = lock(&env, "alice", "ONCE").await;
    let r = env.order_with_lock("alice", "ORD-R", 100, &reference).await;
    assert_eq!(r.status, 200, "{}", r.text());
    env.restart().await;
    let r = refund(&env, "RF-R", "ORD-R").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(env.redeemed("ONCE"), 0);
    assert!(burns(&env, "bob", "ONCE").await);
}

#[tokio::test]
async fn a_partial_refund_keeps_the_coupon_used() {
    let env = Env::start(StoreKind::Memory).await;
    order_with(&env, "alice", "ORD-P", "ONCE").await;
    let r = refund_as(&env, "alice", "RF-P", "ORD-P", Some(40)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["refundAmount"], 40);
    assert_eq!(env.redeemed("ONCE"), 1);
    // The full refund afterwards gives it back.
    let full = refund(&env, "RF-F", "ORD-P").await;
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(env.redeemed("ONCE"), 0);
}

async fn a_refund_racing_a_second_refund_is_refused_while_it_runs(store: StoreKind) {
    let env = Env::start(store).await;
    order_with(&env, "alice", "ORD-2", "ONCE").await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        path_prefix: Some("/v1/redemptions/".into()),
        ..Faults::default()
    });
    let mut begun = env.sim.sim.requests_begun();
    let seen = *begun.borrow();
    let first = {
        let url = env.url(&format!("{V}/transactions/refund"));
        let client = env.client.clone();
        tokio::spawn(async move {
            client
                .send(
                    "POST",
                    &url,
                    &crate::common::env::AUTH,
                    Some(&json!({"customerId": "alice", "refundTransactionId": "RF-A",
                        "reverseTransactionId": "ORD-2", "transactionTime": "2026-01-02T00:00:00Z"})),
                )
                .await
        })
    };
    // The first refund's rollback is in Voucherify, held.
    tokio::time::timeout(Duration::from_secs(10), begun.wait_for(|n| *n > seen))
        .await
        .expect("the first rollback reaches Voucherify")
        .unwrap();
    let second = refund(&env, "RF-B", "ORD-2").await;
    assert_eq!(code_of(&second), (422, Some(2001)), "{}", second.text());
    env.sim.sim.set_faults(Faults::default());
    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(env.redeemed("ONCE"), 0, "rolled back once");
    let late = refund(&env, "RF-B", "ORD-2").await;
    assert_eq!(code_of(&late), (422, Some(9001)), "{}", late.text());
}

async fn a_cancelled_order_gives_its_coupon_back(store: StoreKind) {
    let env = Env::start(store).await;
    order_with(&env, "alice", "ORD-C", "ONCE").await;
    let r = env.delete("/orders/ORD-C/transactions").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["success"], true);
    assert_eq!(r.json()["orderId"], "ORD-C");
    assert_eq!(env.redeemed("ONCE"), 0);
    assert!(burns(&env, "bob", "ONCE").await, "another customer may use it now");
    let again = env.delete("/orders/ORD-C/transactions").await;
    assert_eq!(again.status, 200, "the same cancellation again changes nothing");
    assert!(!burns(&env, "carol", "ONCE").await);
    let unknown = env.delete("/orders/NOPE/transactions").await;
    assert_eq!(code_of(&unknown), (404, Some(9002)));
}

/// The demo's printed lines 6 to 10, as a new user would paste them.
#[tokio::test]
async fn the_demo_answers_every_lifecycle_call() {
    use couponbridge::demo;
    let clock = couponbridge::clock::Clock::System;
    let sim = demo::simulator(clock.clone()).await.unwrap();
    let cfg = demo::config("127.0.0.1:0".parse().unwrap(), None, &sim.base_url());
    let running = couponbridge::serve::start(&cfg, clock).await.unwrap();
    let client = crate::common::Client::new();
    let auth = [("apikey", demo::API_KEY), ("secretkey", demo::SECRET_KEY)];
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let url = format!("{}{V}{path}", running.base_url());
        let client = client.clone();
        async move { client.send(method, &url, &auth, body.as_ref()).await }
    };
    let bought = call(
        "POST",
        "/coupons/predefined".into(),
        Some(json!({"customerId": demo::CUSTOMER, "ruleId": demo::REWARD_RULE_ID})),
    )
    .await;
    assert_eq!(bought.status, 200, "{}", bought.text());
    let wallet = call("GET", format!("/customers/{}/coupons", demo::CUSTOMER), None).await;
    let codes: Vec<String> = wallet.json()["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(codes.contains(&demo::PUBLISHED_CODE.to_owned()), "{codes:?}");
    assert!(
        codes.contains(&bought.json()["code"].as_str().unwrap().to_owned()),
        "{codes:?}"
    );
    let auto = call(
        "POST",
        "/coupons/automatic".into(),
        Some(json!({"customerId": demo::CUSTOMER, "cartId": "cart-1", "totalPrice": 120})),
    )
    .await;
    assert_eq!(
        (auto.json()["isApplied"].clone(), auto.json()["discountAmount"].clone()),
        (json!(true), json!(12))
    );
    let paid = call(
        "POST",
        "/payments".into(),
        Some(
            json!({"customerId": demo::CUSTOMER, "paymentId": "pay-1", "paymentDate": "2026-01-01T12:00:00Z",
            "totalPaid": 110, "redemption": {"couponCodes": [demo::PUBLISHED_CODE]}}),
        ),
    )
    .await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    let refunded = call(
        "POST",
        "/transactions/refund".into(),
        Some(json!({"customerId": demo::CUSTOMER, "refundTransactionId": "refund-1",
            "reverseTransactionId": "pay-1", "transactionTime": "2026-01-01T13:00:00Z"})),
    )
    .await;
    assert_eq!(refunded.status, 200, "{}", refunded.text());
    running.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn refunds_tell_a_payment_from_an_order_and_a_full_refund_from_a_partial_one() {
    let env = Env::start(StoreKind::Redis).await;
    // A payment and an order share an id; the refund's customer picks.
    let paid = env
        .post(
            "/payments",
            json!({"customerId": "alice", "paymentId": "T-1", "paymentDate": "2026-01-01T00:00:00Z",
                "totalAmount": 100, "totalPaid": 95, "redemption": {"couponCodes": ["ONCE"]}}),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    order_with(&env, "bob", "T-1", "TWICE").await;
    // The whole of what alice paid: a full refund of her payment.
    let r = refund_as(&env, "alice", "RF-1", "T-1", Some(95)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (env.redeemed("ONCE"), env.redeemed("TWICE")),
        (0, 1),
        "alice's payment, not bob's order"
    );
    // Bob's order is still his to refund, once.
    let bob = refund_as(&env, "bob", "RF-2", "T-1", None).await;
    assert_eq!(bob.status, 200, "{}", bob.text());
    assert_eq!(env.redeemed("TWICE"), 0);
    // Only some line items: partial, the coupon stays used; and a partial
    // refund of a reversed transaction is refused like any other.
    order_with(&env, "carol", "O-2", "ONCE").await;
    let items = json!({"customerId": "carol", "refundTransactionId": "RF-3", "reverseTransactionId": "O-2",
        "transactionTime": "2026-01-02T00:00:00Z", "lineItems": [{"productId": "p", "quantity": 1}]});
    let part = env.post("/transactions/refund", items.clone()).await;
    assert_eq!(part.status, 200, "{}", part.text());
    let again = env.post("/transactions/refund", items).await;
    assert_eq!(
        again.json()["gameballTransactionId"],
        part.json()["gameballTransactionId"],
        "the same refund, the same id"
    );
    assert_eq!(env.redeemed("ONCE"), 1);
    let full = refund_as(&env, "carol", "RF-4", "O-2", None).await;
    assert_eq!(full.status, 200, "{}", full.text());
    let late = refund_as(&env, "carol", "RF-5", "O-2", Some(1)).await;
    assert_eq!(code_of(&late), (422, Some(9001)), "{}", late.text());
}

/// `customer`'s refund `refund_id` of `order_id`: the whole of it, or
/// `amount`.
async fn refund_as(env: &Env, customer: &str, refund_id: &str, order_id: &str, amount: Option<i64>) -> Reply {
    let mut body = json!({"customerId": customer, "refundTransactionId": refund_id,
        "reverseTransactionId": order_id, "transactionTime": "2026-01-02T00:00:00Z"});
    if let Some(a) = amount {
        body["refundAmount"] = a.into();
    }
    env.post("/transactions/refund", body).await
}

#[tokio::test]
async fn a_free_shipping_promotion_discounts_the_carts_shipping() {
    let env = Env::start(StoreKind::Memory).await;
    vf(
        &env,
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "Ship free", "campaign_type": "PROMOTION",
            "promotion": {"tiers": [{"name": "Free shipping", "banner": "Free shipping",
                "action": {"discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng",
                                        "effect": "ADD_MISSING_ITEMS"}}}]}})),
    )
    .await;
    let r = env
        .post(
            "/coupons/automatic",
            json!({"customerId": "cust-1", "cartId": "cart-1", "totalPrice": 30, "totalShipping": 7}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_matches("post", "/api/v4.0/integrations/coupons/automatic", &r.json());
    assert_eq!(r.json()["isApplied"], true, "{}", r.text());
    assert_eq!(r.json()["discountType"], "shipping");
    assert_eq!(r.json()["discountAmount"], 7);
}
