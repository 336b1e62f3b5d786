//! The simulator against Voucherify's contract: every `/v1` answer in these
//! tests is validated against the official OpenAPI schemas, and each
//! numbered point of the simulator issue has its behaviour test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use couponbridge::clock::{Clock, parse_iso};
use couponbridge::sim::model::ApplicationMode;
use couponbridge::sim::{RunningSim, SimBuilder};
use serde_json::{Value, json};

use crate::common::contract::{Contract, fixture};
use crate::common::{Client, Reply, SIM_AUTH};

const T0: &str = "2026-01-01T00:00:00.000Z";

pub fn catalogue() -> Value {
    let min_order = json!({"name": "Minimum order 100.00",
        "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}, "logic": "1"}});
    let once_per_customer = json!({"name": "Once per customer",
        "rules": {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than_or_equal": [1]}}, "logic": "1"}});
    json!([
        {"code": "AMOUNT10", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"}},
        {"code": "PERCENT20", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 3000, "effect": "APPLY_TO_ORDER"}},
        {"code": "FIXED50", "type": "DISCOUNT_VOUCHER", "discount": {"type": "FIXED", "fixed_amount": 5000, "effect": "APPLY_TO_ORDER"}},
        {"code": "FREESHIP", "type": "DISCOUNT_VOUCHER", "discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"}},
        {"code": "GIFT100", "type": "GIFT_VOUCHER", "gift": {"amount": 10000}},
        {"code": "ONCE", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}, "redemption": {"quantity": 1}},
        {"code": "TWICE", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}, "redemption": {"quantity": 2}},
        {"code": "EXPIRED", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}, "expiration_date": "2025-12-31T00:00:00.000Z"},
        {"code": "LATER", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}, "start_date": "2027-01-01T00:00:00.000Z"},
        {"code": "OFF", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}, "active": false},
        {"code": "MIN100", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 2000}, "validation_rules": [min_order]},
        {"code": "PERCUST", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}, "validation_rules": [once_per_customer]},
    ])
}

/// A simulator with the test catalogue on a manual clock, and a client that
/// validates every `/v1` answer against the official schemas.
pub struct Sim {
    pub running: RunningSim,
    pub clock: Clock,
    client: Client,
    checked: Arc<AtomicUsize>,
}

impl Sim {
    pub async fn start() -> Sim {
        Self::with(ApplicationMode::All).await
    }

    pub async fn with(mode: ApplicationMode) -> Sim {
        let clock = Clock::manual(parse_iso(T0).unwrap());
        let running = SimBuilder::new()
            .mode(mode)
            .seed(catalogue())
            .clock(clock.clone())
            .start("127.0.0.1:0")
            .await
            .unwrap();
        Sim {
            running,
            clock,
            client: Client::new(),
            checked: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.running.base_url());
        let reply = self.client.send(method, &url, &SIM_AUTH, body.as_ref()).await;
        if path.starts_with("/v1/") && !reply.body.is_empty() {
            let path_only = path.split('?').next().unwrap();
            if Contract::get().check(method, path_only, reply.status, &reply.body) {
                self.checked.fetch_add(1, Ordering::Relaxed);
            }
        }
        reply
    }

    pub fn checked(&self) -> usize {
        self.checked.load(Ordering::Relaxed)
    }

    pub async fn validate(&self, body: Value) -> Value {
        let r = self.call("POST", "/v1/validations", Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

fn vouchers(codes: &[&str]) -> Value {
    Value::Array(codes.iter().map(|c| json!({"object": "voucher", "id": c})).collect())
}

fn lock(codes: &[&str], key: Option<&str>, customer: &str, amount: i64) -> Value {
    let mut session = json!({"type": "LOCK", "ttl": 10, "ttl_unit": "MINUTES"});
    if let Some(k) = key {
        session["key"] = k.into();
    }
    json!({"redeemables": vouchers(codes), "customer": {"source_id": customer},
           "order": {"amount": amount}, "session": session})
}

fn statuses(res: &Value) -> Vec<(String, String)> {
    res["redeemables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn error_key(res: &Value, code: &str) -> String {
    let all = res["redeemables"]
        .as_array()
        .unwrap()
        .iter()
        .chain(res["inapplicable_redeemables"].as_array().unwrap());
    all.filter(|r| r["id"] == code)
        .find_map(|r| r["result"]["error"]["key"].as_str())
        .unwrap_or_default()
        .to_owned()
}

// 1. Vouchers --------------------------------------------------------------

#[tokio::test]
async fn vouchers_are_created_read_updated_disabled_and_enabled() {
    let sim = Sim::start().await;
    let created = sim
        .call(
            "POST",
            "/v1/vouchers",
            Some(json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 700}})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let code = created.json()["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8, "a generated code");
    assert!(created.json()["id"].as_str().unwrap().starts_with("v_"));

    let named = sim
        .call(
            "POST",
            "/v1/vouchers",
            Some(
                json!({"code": "NAMED", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 5}}),
            ),
        )
        .await;
    assert_eq!(named.json()["code"], "NAMED");
    let dup = sim
        .call(
            "POST",
            "/v1/vouchers",
            Some(
                json!({"code": "NAMED", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 5}}),
            ),
        )
        .await;
    assert_eq!(dup.status, 409);

    let got = sim.call("GET", "/v1/vouchers/NAMED", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["discount"]["percent_off"], 5);
    assert_eq!(got.json()["redemption"]["quantity"], Value::Null);

    let put = sim
        .call(
            "PUT",
            "/v1/vouchers/NAMED",
            Some(json!({"active": false, "expiration_date": "2030-01-01T00:00:00Z", "redemption": {"quantity": 3}})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let v = put.json();
    assert_eq!(v["active"], false);
    assert_eq!(v["expiration_date"], "2030-01-01T00:00:00.000Z");
    assert_eq!(v["redemption"]["quantity"], 3);

    let enabled = sim.call("POST", "/v1/vouchers/NAMED/enable", None).await;
    assert_eq!(enabled.json()["active"], true);
    let disabled = sim.call("POST", "/v1/vouchers/NAMED/disable", None).await;
    assert_eq!(disabled.json()["active"], false);

    let missing = sim.call("GET", "/v1/vouchers/NOPE", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["key"], "not_found");
    assert_eq!(missing.json()["resource_type"], "voucher");
    assert!(sim.checked() >= 7, "responses were schema-checked");
}

#[tokio::test]
async fn credentials_are_required() {
    let sim = Sim::start().await;
    let url = format!("{}/v1/vouchers/AMOUNT10", sim.running.base_url());
    let client = Client::new();
    for headers in [vec![], vec![("x-app-id", "sim-app-id"), ("x-app-token", "wrong")]] {
        let r = client.send("GET", &url, &headers, None).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["code"], 401);
        assert!(r.json()["message"].is_string());
    }
}

// 2. Validations -------------------------------------------------------------

#[tokio::test]
async fn validation_payload_errors_are_voucherify_400s() {
    let sim = Sim::start().await;
    let cases = [
        (json!({}), "invalid_payload"),
        (json!({"redeemables": []}), "invalid_payload"),
        (json!({"redeemables": [{"object": "voucher"}]}), "invalid_payload"),
        (
            json!({"redeemables": [{"object": "coupon", "id": "X"}]}),
            "invalid_payload",
        ),
        (json!({"redeemables": vouchers(&["A"; 31])}), "invalid_payload"),
        (
            json!({"redeemables": vouchers(&["AMOUNT10", "AMOUNT10"])}),
            "duplicated_redeemables",
        ),
        (
            json!({"redeemables": vouchers(&["AMOUNT10"]), "session": {"type": "LOCK", "ttl": 5, "ttl_unit": "WEEKS"}}),
            "invalid_payload",
        ),
    ];
    for (body, key) in cases {
        let r = sim.call("POST", "/v1/validations", Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["key"], key, "{body}: {}", r.text());
    }
    let missing_id = sim
        .call(
            "POST",
            "/v1/validations",
            Some(json!({"redeemables": [{"object": "voucher", "id": "A"}, {"object": "voucher"}]})),
        )
        .await;
    assert_eq!(
        missing_id.json()["details"],
        "Property .redeemables[1] should have required property 'id'"
    );
    let not_json = Client::new()
        .send_raw(
            "POST",
            &format!("{}/v1/validations", sim.running.base_url()),
            &SIM_AUTH,
            "{oops".into(),
        )
        .await;
    assert_eq!(not_json.status, 400);
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_thirty_redeemables_are_accepted() {
    let sim = Sim::start().await;
    let codes: Vec<String> = (0..30).map(|i| format!("UNKNOWN{i}")).collect();
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let res = sim
        .validate(
            json!({"redeemables": vouchers(&refs), "future_field": {"x": 1}, "options": {"expand": ["redeemable"]}}),
        )
        .await;
    assert_eq!(res["valid"], false);
    assert_eq!(res["redeemables"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn all_mode_fails_the_whole_request_and_skips_the_rest() {
    let sim = Sim::start().await;
    let locked = sim
        .validate(json!({"redeemables": vouchers(&["ONCE", "NOPE"]), "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}}))
        .await;
    assert_eq!(locked["valid"], false);
    assert_eq!(
        sim.call("GET", "/_sim/sessions", None).await.json()["total"],
        0,
        "nothing is locked"
    );
    let res = sim
        .validate(json!({"redeemables": vouchers(&["AMOUNT10", "NOPE", "PERCENT20"]), "order": {"amount": 10000}}))
        .await;
    assert_eq!(res["valid"], false);
    // Checked before the failure: APPLICABLE, but nothing applies; after
    // it: not checked.
    assert_eq!(
        statuses(&res),
        vec![
            ("AMOUNT10".into(), "APPLICABLE".into()),
            ("NOPE".into(), "INAPPLICABLE".into()),
            ("PERCENT20".into(), "SKIPPED".into())
        ]
    );
    assert_eq!(
        res["order"]["total_discount_amount"], 0,
        "an invalid request applies nothing"
    );
    assert_eq!(
        res["skipped_redeemables"][0]["result"]["details"]["key"],
        "preceding_validation_failed"
    );
    assert_eq!(res["inapplicable_redeemables"][0]["id"], "NOPE");
    assert_eq!(res["stacking_rules"]["redeemables_application_mode"], "ALL");
    assert!(res["tracking_id"].as_str().unwrap().starts_with("track_"));
}

#[tokio::test]
async fn partial_mode_applies_what_it_can() {
    let sim = Sim::with(ApplicationMode::Partial).await;
    let res = sim
        .validate(
            json!({"redeemables": vouchers(&["AMOUNT10", "NOPE", "PERCENT20"]), "order": {"amount": 10000},
                         "session": {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}}),
        )
        .await;
    assert_eq!(res["valid"], true);
    assert_eq!(
        statuses(&res),
        vec![
            ("AMOUNT10".into(), "APPLICABLE".into()),
            ("PERCENT20".into(), "APPLICABLE".into())
        ]
    );
    assert_eq!(
        res["inapplicable_redeemables"][0]["result"]["error"]["key"],
        "not_found"
    );
    assert_eq!(res["stacking_rules"]["redeemables_application_mode"], "PARTIAL");
    // 10.00 off, then 20 % of the remaining 90.00.
    assert_eq!(res["order"]["total_discount_amount"], 1000 + 1800);
    // Only the applicable vouchers are locked.
    let sessions = sim.call("GET", "/_sim/sessions", None).await.json();
    let locked: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["voucher"].as_str().unwrap())
        .collect();
    assert_eq!(locked, vec!["AMOUNT10", "PERCENT20"]);
}

#[tokio::test]
async fn applicable_limit_skips_beyond_five() {
    let sim = Sim::with(ApplicationMode::Partial).await;
    for i in 0..6 {
        sim.call("POST", "/v1/vouchers", Some(json!({"code": format!("S{i}"), "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}})))
            .await;
    }
    let res = sim
        .validate(json!({"redeemables": vouchers(&["S0", "S1", "S2", "S3", "S4", "S5"]), "order": {"amount": 100}}))
        .await;
    assert_eq!(res["skipped_redeemables"][0]["id"], "S5");
    assert_eq!(
        res["skipped_redeemables"][0]["result"]["details"]["key"],
        "applicable_redeemables_limit_exceeded"
    );
}

// 3. Inapplicable reasons ----------------------------------------------------

#[tokio::test]
async fn each_inapplicable_reason_has_voucherifys_key() {
    let sim = Sim::start().await;
    let cases = [
        ("NOPE", "not_found", 404),
        ("EXPIRED", "voucher_expired", 400),
        ("LATER", "voucher_not_active", 400),
        ("OFF", "voucher_disabled", 400),
        ("MIN100", "order_rules_violated", 400),
    ];
    for (code, key, code_status) in cases {
        let res = sim
            .validate(
                json!({"redeemables": vouchers(&[code]), "customer": {"source_id": "c1"}, "order": {"amount": 5000}}),
            )
            .await;
        assert_eq!(res["valid"], false, "{code}");
        let err = &res["redeemables"][0]["result"]["error"];
        assert_eq!(err["key"], key, "{code}: {res}");
        assert_eq!(err["code"], code_status, "{code}");
        assert_eq!(res["redeemables"][0]["result"]["details"]["key"], key);
    }
    let nf = sim.validate(json!({"redeemables": vouchers(&["NOPE"])})).await;
    assert_eq!(
        nf["redeemables"][0]["result"]["error"]["details"],
        "Cannot find voucher with id NOPE"
    );
    assert_eq!(nf["redeemables"][0]["result"]["error"]["resource_type"], "voucher");
    // The minimum order is met at 100.00.
    let ok = sim
        .validate(json!({"redeemables": vouchers(&["MIN100"]), "order": {"amount": 10000}}))
        .await;
    assert_eq!(ok["valid"], true);
}

#[tokio::test]
async fn quantity_counts_redemptions_and_live_locks() {
    let sim = Sim::start().await;
    let first = sim.validate(lock(&["TWICE"], Some("a"), "c1", 1000)).await;
    assert_eq!(first["valid"], true);
    let redeem = sim
        .call(
            "POST",
            "/v1/redemptions",
            Some(
                json!({"redeemables": vouchers(&["ONCE"]), "customer": {"source_id": "c2"}, "order": {"amount": 1000}}),
            ),
        )
        .await;
    assert_eq!(redeem.status, 200, "{}", redeem.text());
    let second = sim.validate(lock(&["TWICE"], Some("b"), "c2", 1000)).await;
    assert_eq!(second["valid"], true, "one redemption slot left for TWICE");
    let third = sim.validate(lock(&["TWICE"], Some("c"), "c3", 1000)).await;
    assert_eq!(error_key(&third, "TWICE"), "quantity_exceeded");
    let used_up = sim.validate(json!({"redeemables": vouchers(&["ONCE"])})).await;
    assert_eq!(error_key(&used_up, "ONCE"), "quantity_exceeded");
}

#[tokio::test]
async fn per_customer_limit_is_customer_rules_violated() {
    let sim = Sim::start().await;
    let redeem = |c: &'static str| json!({"redeemables": vouchers(&["PERCUST"]), "customer": {"source_id": c}, "order": {"amount": 1000}});
    assert_eq!(
        sim.call("POST", "/v1/redemptions", Some(redeem("c1"))).await.status,
        200
    );
    let again = sim.validate(redeem("c1")).await;
    assert_eq!(error_key(&again, "PERCUST"), "customer_rules_violated");
    let other = sim.validate(redeem("c2")).await;
    assert_eq!(other["valid"], true, "another customer may still use it");
    let failed = sim.call("POST", "/v1/redemptions", Some(redeem("c1"))).await;
    assert_eq!(failed.status, 400);
    assert_eq!(failed.json()["key"], "customer_rules_violated");
}

// 4. Discounts ---------------------------------------------------------------

#[tokio::test]
async fn discounts_are_calculated_in_minor_units() {
    let sim = Sim::start().await;
    let one = |code: &str, amount: i64| json!({"redeemables": vouchers(&[code]), "order": {"amount": amount}});
    let amount = sim.validate(one("AMOUNT10", 5000)).await;
    assert_eq!(amount["order"]["total_discount_amount"], 1000);
    assert_eq!(amount["order"]["total_amount"], 4000);
    assert_eq!(amount["redeemables"][0]["order"]["applied_discount_amount"], 1000);
    assert_eq!(amount["redeemables"][0]["result"]["discount"]["amount_off"], 1000);

    let pct = sim.validate(one("PERCENT20", 10000)).await;
    assert_eq!(pct["order"]["total_discount_amount"], 2000);
    let capped = sim.validate(one("PERCENT20", 50000)).await;
    assert_eq!(
        capped["order"]["total_discount_amount"], 3000,
        "amount_limit caps the percentage"
    );

    let fixed = sim.validate(one("FIXED50", 8000)).await;
    assert_eq!(fixed["order"]["total_amount"], 5000, "FIXED sets the price");

    let ship = sim
        .validate(
            json!({"redeemables": vouchers(&["FREESHIP"]), "order": {"amount": 5700, "items": [
            {"source_id": "sku-1", "related_object": "product", "quantity": 1, "price": 5000},
            {"product_id": "prod_5h1pp1ng", "quantity": 1, "price": 700}]}}),
        )
        .await;
    assert_eq!(ship["order"]["total_discount_amount"], 700, "the shipping line is free");
    assert_eq!(
        ship["redeemables"][0]["result"]["discount"]["unit_type"],
        "prod_5h1pp1ng"
    );

    let gift = sim
        .validate(json!({"redeemables": [{"object": "voucher", "id": "GIFT100", "gift": {"credits": 2500}}], "order": {"amount": 4000}}))
        .await;
    assert_eq!(gift["redeemables"][0]["result"]["gift"]["credits"], 2500);
    assert_eq!(gift["redeemables"][0]["result"]["gift"]["balance"], 10000);
    assert_eq!(gift["order"]["total_discount_amount"], 2500);
    let too_much = sim
        .validate(json!({"redeemables": [{"object": "voucher", "id": "GIFT100", "gift": {"credits": 20000}}], "order": {"amount": 40000}}))
        .await;
    assert_eq!(error_key(&too_much, "GIFT100"), "gift_amount_exceeded");
}

// 5. Sessions ----------------------------------------------------------------

#[tokio::test]
async fn a_lock_without_ttl_lasts_seven_days_and_gets_a_generated_key() {
    let sim = Sim::start().await;
    let res = sim
        .validate(json!({"redeemables": vouchers(&["ONCE"]), "session": {"type": "LOCK"}}))
        .await;
    assert_eq!(res["session"]["ttl"], 7.0);
    assert_eq!(res["session"]["ttl_unit"], "DAYS");
    assert!(res["session"]["key"].as_str().unwrap().starts_with("ssn_"));
    sim.clock.advance(Duration::from_secs(7 * 86_400 - 1));
    let held = sim.validate(lock(&["ONCE"], Some("other"), "c2", 100)).await;
    assert_eq!(error_key(&held, "ONCE"), "quantity_exceeded");
    sim.clock.advance(Duration::from_secs(1));
    let free = sim.validate(lock(&["ONCE"], Some("other"), "c2", 100)).await;
    assert_eq!(free["valid"], true, "the 7-day session has expired");
}

#[tokio::test]
async fn every_ttl_unit_is_accepted_and_expiry_frees_the_slot() {
    let sim = Sim::start().await;
    for (i, unit) in [
        "DAYS",
        "HOURS",
        "MINUTES",
        "SECONDS",
        "MILLISECONDS",
        "MICROSECONDS",
        "NANOSECONDS",
    ]
    .iter()
    .enumerate()
    {
        let res = sim
            .validate(json!({"redeemables": vouchers(&["AMOUNT10"]), "session": {"type": "LOCK", "key": format!("k{i}"), "ttl": 2, "ttl_unit": unit}}))
            .await;
        assert_eq!(res["session"]["ttl_unit"], *unit);
        assert_eq!(res["session"]["key"], format!("k{i}"), "a client key is used as given");
    }
    let held = sim.validate(lock(&["ONCE"], Some("s1"), "c1", 100)).await;
    assert_eq!(held["valid"], true);
    sim.clock.advance(Duration::from_secs(9 * 60));
    let still = sim.validate(lock(&["ONCE"], Some("s2"), "c2", 100)).await;
    assert_eq!(error_key(&still, "ONCE"), "quantity_exceeded");
    sim.clock.advance(Duration::from_secs(60));
    let freed = sim.validate(lock(&["ONCE"], Some("s2"), "c2", 100)).await;
    assert_eq!(freed["valid"], true, "a 10-minute lock is gone after 10 minutes");
}

#[tokio::test]
async fn revalidating_with_the_same_key_takes_no_second_slot() {
    let sim = Sim::start().await;
    for _ in 0..3 {
        let res = sim.validate(lock(&["ONCE"], Some("cart-1"), "c1", 100)).await;
        assert_eq!(res["valid"], true, "the same session overrides itself");
    }
    let sessions = sim.call("GET", "/_sim/sessions", None).await.json();
    assert_eq!(sessions["total"], 1);
    let other = sim.validate(lock(&["ONCE"], Some("cart-2"), "c2", 100)).await;
    assert_eq!(error_key(&other, "ONCE"), "quantity_exceeded");
    assert_eq!(
        other["session"]["key"], "cart-2",
        "the session object is still returned"
    );
}

#[tokio::test]
async fn concurrent_locks_on_a_single_use_code_have_one_winner() {
    let sim = Arc::new(Sim::start().await);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let sim = sim.clone();
        tasks.push(tokio::spawn(async move {
            sim.validate(lock(&["ONCE"], Some(&format!("race-{i}")), &format!("c{i}"), 1000))
                .await["valid"]
                == true
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
}

// 6. Releasing sessions ------------------------------------------------------

#[tokio::test]
async fn releasing_a_session_frees_the_slot_and_unknowns_are_404() {
    let sim = Sim::start().await;
    sim.validate(lock(&["ONCE"], Some("cart-1"), "c1", 100)).await;
    let released = sim.call("DELETE", "/v1/vouchers/ONCE/sessions/cart-1", None).await;
    assert_eq!(released.status, 204);
    assert!(released.body.is_empty());
    let again = sim.call("DELETE", "/v1/vouchers/ONCE/sessions/cart-1", None).await;
    assert_eq!(again.status, 404);
    let body = again.json();
    assert_eq!(body["key"], "not_found");
    assert_eq!(body["resource_type"], "session");
    assert_eq!(body["details"], "Cannot find session with id cart-1");
    let no_voucher = sim.call("DELETE", "/v1/vouchers/NOPE/sessions/cart-1", None).await;
    assert_eq!(no_voucher.status, 404);
    assert_eq!(no_voucher.json()["resource_type"], "voucher");
    assert_eq!(no_voucher.json()["resource_id"], "NOPE");
    let relock = sim.validate(lock(&["ONCE"], Some("cart-2"), "c2", 100)).await;
    assert_eq!(relock["valid"], true);
}

// 7. Redemptions -------------------------------------------------------------

#[tokio::test]
async fn redeeming_under_a_session_consumes_the_lock() {
    let sim = Sim::start().await;
    sim.validate(lock(&["ONCE"], Some("cart-1"), "c1", 1000)).await;
    let r = sim
        .call(
            "POST",
            "/v1/redemptions",
            Some(
                json!({"redeemables": vouchers(&["ONCE"]), "customer": {"source_id": "c1"},
            "order": {"source_id": "order-1", "amount": 1000}, "session": {"type": "LOCK", "key": "cart-1"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let red = &body["redemptions"][0];
    assert!(red["id"].as_str().unwrap().starts_with("r_"));
    assert_eq!(red["result"], "SUCCESS");
    assert_eq!(red["voucher"]["redemption"]["redeemed_quantity"], 1);
    assert_eq!(red["session"]["key"], "cart-1");
    assert!(body.get("parent_redemption").is_none(), "one redeemable has no parent");
    assert_eq!(
        sim.call("GET", "/_sim/sessions", None).await.json()["total"],
        0,
        "the lock was consumed"
    );
    let v = sim.call("GET", "/v1/vouchers/ONCE", None).await.json();
    assert_eq!(v["redemption"]["redeemed_quantity"], 1);
    // The order is findable by the merchant's id, with its redemption.
    let order = Client::new()
        .send(
            "GET",
            &format!("{}/v1/orders/order-1", sim.running.base_url()),
            &SIM_AUTH,
            None,
        )
        .await
        .json();
    assert_eq!(order["redemptions"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn several_redeemables_get_a_parent_redemption_and_rollback_restores() {
    let sim = Sim::start().await;
    let r = sim
        .call("POST", "/v1/redemptions", Some(json!({"redeemables": vouchers(&["AMOUNT10", "TWICE"]), "customer": {"source_id": "c1"}, "order": {"amount": 5000}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let parent = body["parent_redemption"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["redemptions"].as_array().unwrap().len(), 2);
    assert_eq!(body["redemptions"][0]["redemption"], parent.as_str());
    assert_eq!(body["parent_redemption"]["related_object_type"], "redemption");
    let child = body["redemptions"][1]["id"].as_str().unwrap().to_owned();
    let wrong = sim
        .call("POST", &format!("/v1/redemptions/{child}/rollback"), None)
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["key"], "invalid_redemption_parent");
    let rb = sim
        .call("POST", &format!("/v1/redemptions/{parent}/rollbacks"), None)
        .await;
    assert_eq!(rb.status, 200, "{}", rb.text());
    assert_eq!(rb.json()["rollbacks"].as_array().unwrap().len(), 2);
    let v = sim.call("GET", "/v1/vouchers/TWICE", None).await.json();
    assert_eq!(v["redemption"]["redeemed_quantity"], 0, "the use is restored");
    let twice = sim
        .call("POST", &format!("/v1/redemptions/{parent}/rollbacks"), None)
        .await;
    assert_eq!(twice.json()["key"], "already_rolled_back");
}

#[tokio::test]
async fn a_single_redemption_rolls_back_with_rollback() {
    let sim = Sim::start().await;
    let r = sim
        .call(
            "POST",
            "/v1/redemptions",
            Some(
                json!({"redeemables": vouchers(&["ONCE"]), "customer": {"source_id": "c1"}, "order": {"amount": 1000}}),
            ),
        )
        .await
        .json();
    let id = r["redemptions"][0]["id"].as_str().unwrap();
    let rb = sim
        .call("POST", &format!("/v1/redemptions/{id}/rollback?reason=refund"), None)
        .await;
    assert_eq!(rb.status, 200, "{}", rb.text());
    assert_eq!(rb.json()["reason"], "refund");
    assert!(rb.json()["id"].as_str().unwrap().starts_with("rr_"));
    assert_eq!(
        sim.validate(json!({"redeemables": vouchers(&["ONCE"])})).await["valid"],
        true
    );
}

#[tokio::test]
async fn a_failed_redemption_is_a_400_with_the_reason() {
    let sim = Sim::start().await;
    sim.validate(lock(&["ONCE"], Some("theirs"), "c1", 100)).await;
    let r = sim
        .call(
            "POST",
            "/v1/redemptions",
            Some(
                json!({"redeemables": vouchers(&["ONCE"]), "customer": {"source_id": "c2"},
            "session": {"type": "LOCK", "key": "mine"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["key"], "quantity_exceeded");
    assert!(e["resource_id"].as_str().unwrap().starts_with("rf_"));
    assert_eq!(e["resource_type"], "redemption");
}

#[tokio::test]
async fn legacy_validate_and_redemption_support_sessions() {
    let sim = Sim::start().await;
    let v = sim
        .call(
            "POST",
            "/v1/vouchers/ONCE/validate",
            Some(json!({"customer": {"source_id": "c1"}, "order": {"amount": 1000},
            "session": {"type": "LOCK", "key": "legacy-1", "ttl": 5, "ttl_unit": "MINUTES"}})),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text());
    assert_eq!(v.json()["valid"], true);
    assert_eq!(v.json()["session"]["key"], "legacy-1");
    let blocked = sim
        .call(
            "POST",
            "/v1/vouchers/ONCE/validate",
            Some(json!({"customer": {"source_id": "c2"}})),
        )
        .await;
    assert_eq!(blocked.json()["valid"], false);
    assert_eq!(blocked.json()["error"]["key"], "quantity_exceeded");
    let expired = sim.call("POST", "/v1/vouchers/EXPIRED/validate", Some(json!({}))).await;
    assert_eq!(expired.json()["reason"], "voucher expired");
    let red = sim
        .call(
            "POST",
            "/v1/vouchers/ONCE/redemption",
            Some(json!({"customer": {"source_id": "c1"}, "order": {"amount": 1000},
            "session": {"type": "LOCK", "key": "legacy-1"}})),
        )
        .await;
    assert_eq!(red.status, 200, "{}", red.text());
    assert_eq!(red.json()["object"], "redemption");
    let off = sim.call("POST", "/v1/vouchers/OFF/redemption", Some(json!({}))).await;
    assert_eq!(off.status, 400);
    assert_eq!(off.json()["key"], "voucher_disabled");
}

// 8. Operator endpoints and faults --------------------------------------------

#[tokio::test]
async fn faults_inject_errors_rate_limits_and_dropped_connections() {
    let sim = Sim::start().await;
    let set = Client::new()
        .send(
            "POST",
            &format!("{}/_sim/faults", sim.running.base_url()),
            &[],
            Some(&json!({"script": ["error", "rate_limit", "drop"], "retry_after_secs": 7})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let url = format!("{}/v1/vouchers/AMOUNT10", sim.running.base_url());
    let client = Client::new();
    let e = client.send("GET", &url, &SIM_AUTH, None).await;
    assert_eq!(e.status, 503);
    let rl = client.send("GET", &url, &SIM_AUTH, None).await;
    assert_eq!(rl.status, 429);
    assert_eq!(rl.header("retry-after"), Some("7"));
    assert_eq!(rl.json()["message"], "Too many requests hit the API too quickly.");
    // A dropped connection is a transport error for the client.
    let raw = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = http::Request::get(&url)
        .header("x-app-id", "sim-app-id")
        .header("x-app-token", "sim-app-token")
        .body(Default::default())
        .unwrap();
    assert!(raw.request(req).await.is_err());
    assert_eq!(
        client.send("GET", &url, &SIM_AUTH, None).await.status,
        200,
        "the script is used up"
    );
    let bad = client
        .send(
            "POST",
            &format!("{}/_sim/faults", sim.running.base_url()),
            &[],
            Some(&json!({"error_rate": 2})),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn the_project_mode_and_clock_are_settable_at_run_time() {
    let sim = Sim::start().await;
    let base = sim.running.base_url();
    let client = Client::new();
    let p = client
        .send("POST", &format!("{base}/_sim/project"), &[], Some(&json!({"redeemables_application_mode": "PARTIAL", "redeemables_limit": 30, "applicable_redeemables_limit": 5})))
        .await;
    assert_eq!(p.json()["redeemables_application_mode"], "PARTIAL");
    let res = sim
        .validate(json!({"redeemables": vouchers(&["AMOUNT10", "NOPE"]), "order": {"amount": 5000}}))
        .await;
    assert_eq!(res["valid"], true);
    let before = sim.clock.now();
    let c = client
        .send(
            "POST",
            &format!("{base}/_sim/clock"),
            &[],
            Some(&json!({"advance": "1h"})),
        )
        .await;
    assert_eq!(c.status, 200);
    assert_eq!(sim.clock.now() - before, 3_600_000);
}

// The official request examples ----------------------------------------------

#[tokio::test]
async fn the_official_request_examples_are_answered_in_the_documented_shape() {
    let sim = Sim::start().await;
    for (code, body) in [
        (
            "voucher-code",
            json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}),
        ),
        (
            "BLCKFRDY",
            json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}),
        ),
        (
            "GNcuPKGe",
            json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}}),
        ),
        (
            "AnsvocvP",
            json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}),
        ),
        ("M3X8IwW8", json!({"type": "GIFT_VOUCHER", "gift": {"amount": 10000}})),
    ] {
        let mut b = body;
        b["code"] = code.into();
        assert_eq!(sim.call("POST", "/v1/vouchers", Some(b)).await.status, 200);
    }
    let index: Value = serde_json::from_slice(
        &std::fs::read(crate::common::contract::reference_dir().join("fixtures/openapi-examples/INDEX.json")).unwrap(),
    )
    .unwrap();
    let mut answered = 0;
    for entry in index.as_array().unwrap().iter().filter(|e| e["status"] == "request") {
        let file = entry["file"].as_str().unwrap();
        let body = fixture(file);
        let path = match entry["operation"].as_str().unwrap() {
            "POST /v1/validations" => "/v1/validations".to_owned(),
            "POST /v1/redemptions" => "/v1/redemptions".to_owned(),
            "POST /v1/vouchers/{code}/validate" => {
                let code = if file.contains("gift-card") {
                    "M3X8IwW8"
                } else {
                    "voucher-code"
                };
                format!("/v1/vouchers/{code}/validate")
            }
            // Rollback examples name redemptions from Voucherify's own
            // project; they are checked for a well-formed 404 instead.
            "POST /v1/redemptions/{redemptionId}/rollback" => "/v1/redemptions/r_unknown/rollback".to_owned(),
            "POST /v1/redemptions/{parentRedemptionId}/rollbacks" => "/v1/redemptions/r_unknown/rollbacks".to_owned(),
            other => panic!("unexpected operation {other}"),
        };
        let r = sim.call("POST", &path, Some(body)).await;
        if path.contains("r_unknown") {
            assert_eq!(r.status, 404, "{file}");
            assert_eq!(r.json()["key"], "not_found");
        } else {
            assert_eq!(r.status, 200, "{file}: {}", r.text());
        }
        answered += 1;
    }
    assert_eq!(answered, 16, "every request example in INDEX.json was sent");
}
