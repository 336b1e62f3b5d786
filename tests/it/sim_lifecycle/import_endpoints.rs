//! What the coupon import and Voucherify's own SDKs send beyond the
//! adapter's calls: a voucher created under a given code, nulls in a
//! voucher update, a validation rule's type, reward assignments in one
//! array, and a 429 scripted for the import's write alone.

use serde_json::{Value, json};

use super::Sim;
use super::loyalty::loyalty_setup;
use crate::common::{Client, SIM_AUTH};

fn percent_off(percent: i64) -> Value {
    json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": percent},
           "start_date": "2026-01-01T00:00:00.000Z", "expiration_date": "2026-12-31T23:59:59.000Z",
           "redemption": {"quantity": 1}, "metadata": {"gameball_coupon": "gb-7"}})
}

#[tokio::test]
async fn a_voucher_is_created_under_the_paths_code_and_a_taken_code_is_refused() {
    let sim = Sim::start().await;
    // The body's own code is not part of this request: the path's wins.
    let mut body = percent_off(20);
    body["code"] = "SOMETHING-ELSE".into();
    let created = sim.ok("POST", "/v1/vouchers/GB%2F7", Some(body)).await;
    assert_eq!(created["code"], "GB/7");
    assert_eq!(created["discount"]["percent_off"], 20);
    assert_eq!(created["redemption"]["quantity"], 1);
    assert_eq!(created["expiration_date"], "2026-12-31T23:59:59.000Z");
    assert_eq!(created["metadata"]["gameball_coupon"], "gb-7");
    assert_eq!(sim.ok("GET", "/v1/vouchers/GB%2F7", None).await["id"], created["id"]);
    sim.fails("GET", "/v1/vouchers/SOMETHING-ELSE", None, 404, "not_found")
        .await;

    let ship = json!({"type": "DISCOUNT_VOUCHER",
                      "discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"}});
    let shipped = sim.ok("POST", "/v1/vouchers/GB-SHIP", Some(ship)).await;
    assert_eq!(shipped["discount"]["unit_type"], "prod_5h1pp1ng");

    // Taken, whichever way it was created; the first definition stays.
    let dup = sim
        .fails(
            "POST",
            "/v1/vouchers/GB%2F7",
            Some(percent_off(5)),
            409,
            "duplicate_found",
        )
        .await;
    assert_eq!(
        (
            dup["message"].clone(),
            dup["resource_id"].clone(),
            dup["resource_type"].clone()
        ),
        (json!("Duplicated resource found"), json!("GB/7"), json!("voucher"))
    );
    let mut by_body = percent_off(5);
    by_body["code"] = "GB-SHIP".into();
    sim.fails("POST", "/v1/vouchers", Some(by_body), 409, "duplicate_found")
        .await;
    assert_eq!(
        sim.ok("GET", "/v1/vouchers/GB%2F7", None).await["discount"]["percent_off"],
        20
    );
    sim.fails("POST", "/v1/vouchers/GB-8", Some(json!([1])), 400, "invalid_payload")
        .await;
    assert!(sim.checked() >= 8, "answers were held to the spec");
}

#[tokio::test]
async fn a_voucher_update_takes_null_for_its_nullable_fields() {
    let sim = Sim::start().await;
    let mut body = percent_off(20);
    body["additional_info"] = "from Gameball".into();
    body["category"] = "imported".into();
    sim.ok("POST", "/v1/vouchers/GB-9", Some(body)).await;

    let every_null = json!({"category": null, "category_id": null, "start_date": null, "expiration_date": null,
                            "validity_timeframe": null, "validity_day_of_week": null, "validity_hours": null,
                            "active": null, "additional_info": null, "metadata": null, "type": null,
                            "discount": null, "redemption": {"quantity": null}});
    let updated = sim.ok("PUT", "/v1/vouchers/GB-9", Some(every_null)).await;
    // Cleared: what a voucher can hold empty (no quantity is unlimited).
    for cleared in ["start_date", "expiration_date", "additional_info", "category"] {
        assert!(updated.get(cleared).is_none_or(Value::is_null), "{cleared}: {updated}");
    }
    assert!(updated["redemption"]["quantity"].is_null(), "{updated}");
    // Kept: what a voucher always has.
    assert_eq!(updated["active"], true);
    assert_eq!(updated["metadata"], json!({"gameball_coupon": "gb-7"}));
    assert_eq!(updated["discount"]["percent_off"], 20);
    assert_eq!(updated["type"], "DISCOUNT_VOUCHER");

    let changed = sim
        .ok(
            "PUT",
            "/v1/vouchers/GB-9",
            Some(json!({"active": false, "start_date": "2026-02-01T00:00:00.000Z", "metadata": {"n": 1}})),
        )
        .await;
    assert_eq!(
        (
            changed["active"].clone(),
            changed["start_date"].clone(),
            changed["metadata"].clone()
        ),
        (json!(false), json!("2026-02-01T00:00:00.000Z"), json!({"n": 1}))
    );
    for wrong in [
        json!({"active": "no"}),
        json!({"metadata": "x"}),
        json!({"start_date": 5}),
    ] {
        sim.fails("PUT", "/v1/vouchers/GB-9", Some(wrong), 400, "invalid_payload")
            .await;
    }
    assert_eq!(sim.ok("GET", "/v1/vouchers/GB-9", None).await["active"], false);
}

#[tokio::test]
async fn validation_rules_keep_the_type_and_context_they_were_created_with() {
    let sim = Sim::start().await;
    let rule = |extra: Value| {
        let mut body = json!({"name": "Minimum order",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}, "logic": "1"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for (sent, kept) in [
        (json!({"type": "basic"}), "basic"),
        (json!({"type": "advanced"}), "advanced"),
        (json!({"type": "complex"}), "complex"),
        (json!({"type": "expression"}), "expression"),
        (json!({}), "expression"),
        (json!({"type": null}), "expression"),
    ] {
        let created = sim.ok("POST", "/v1/validation-rules", Some(rule(sent.clone()))).await;
        assert_eq!(created["type"], kept, "{sent}");
        let id = created["id"].as_str().unwrap();
        let read = sim.ok("GET", &format!("/v1/validation-rules/{id}"), None).await;
        assert_eq!(
            (read["type"].clone(), read["context_type"].clone()),
            (json!(kept), json!("global"))
        );
    }
    let in_context = sim
        .ok(
            "POST",
            "/v1/validation-rules",
            Some(rule(json!({"context_type": "reward_assignment.pay_with_points"}))),
        )
        .await;
    assert_eq!(in_context["context_type"], "reward_assignment.pay_with_points");
    sim.fails(
        "POST",
        "/v1/validation-rules",
        Some(rule(json!({"type": "simple"}))),
        400,
        "invalid_payload",
    )
    .await;
}

async fn create_reward(sim: &Sim, body: Value) -> String {
    let reward = sim.ok("POST", "/v1/rewards", Some(body)).await;
    reward["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rewards_are_assigned_to_a_program_in_one_array_all_or_none() {
    let sim = Sim::start().await;
    let (pid, card, first) = loyalty_setup(&sim, 1000).await;
    let mug = create_reward(
        &sim,
        json!({"name": "Mug", "parameters": {"product": {"id": "prod_mug"}}}),
    )
    .await;
    let coins = create_reward(
        &sim,
        json!({"name": "Coins", "parameters": {"coin": {"exchange_ratio": 0.1}}}),
    )
    .await;
    let path = format!("/v1/loyalties/{pid}/rewards");

    let assigned = sim
        .ok(
            "POST",
            &path,
            Some(json!([{"reward": mug, "parameters": {"loyalty": {"points": 300}}}, {"reward": coins}])),
        )
        .await;
    let priced: Vec<(&str, &str, i64)> = assigned
        .as_array()
        .expect("the created assignments, a list")
        .iter()
        .map(|a| {
            assert!(a["id"].as_str().unwrap().starts_with("rewa_"), "{a}");
            (
                a["reward_id"].as_str().unwrap(),
                a["related_object_id"].as_str().unwrap(),
                a["parameters"]["loyalty"]["points"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        priced,
        [(mug.as_str(), pid.as_str(), 300), (coins.as_str(), pid.as_str(), 0)]
    );
    assert_eq!(sim.ok("GET", &path, None).await["total"], 3);
    let affordable = sim
        .ok(
            "GET",
            &format!("/v1/loyalties/members/{card}/rewards?affordable_only=true"),
            None,
        )
        .await;
    assert_eq!(affordable["total"], 3);

    // One refused item refuses the array: nothing of it is assigned.
    let bread = create_reward(
        &sim,
        json!({"name": "Bread", "parameters": {"product": {"id": "prod_bread"}}}),
    )
    .await;
    sim.fails(
        "POST",
        &path,
        Some(json!([{"reward": bread, "parameters": {"loyalty": {"points": 50}}},
                    {"reward": "rew_unknown", "parameters": {"loyalty": {"points": 50}}}])),
        404,
        "not_found",
    )
    .await;
    sim.fails(
        "POST",
        &path,
        Some(json!([{"reward": bread, "parameters": {"loyalty": {"points": 50}}},
                    {"reward": first, "parameters": {"loyalty": {"points": 50}}}])),
        409,
        "duplicate_found",
    )
    .await;
    sim.fails("POST", &path, Some(json!([{"reward": bread}])), 400, "invalid_payload")
        .await;
    sim.fails("POST", &path, Some(json!({"reward": bread})), 400, "invalid_payload")
        .await;
    sim.fails(
        "POST",
        "/v1/loyalties/camp_unknown/rewards",
        Some(json!([])),
        404,
        "not_found",
    )
    .await;
    assert_eq!(sim.ok("GET", &path, None).await["total"], 3);
}

/// The import reads a code, then creates it: a 429 scripted for the POST
/// alone leaves the read alone and carries `Retry-After`.
#[tokio::test]
async fn a_429_with_retry_after_can_be_scripted_for_the_imports_write() {
    let sim = Sim::start().await;
    let client = Client::new();
    let base = sim.running.base_url();
    let faults =
        json!({"script": ["rate_limit"], "retry_after_secs": 7, "method": "POST", "path_prefix": "/v1/vouchers/GB-10"});
    let set = client
        .send("POST", &format!("{base}/_sim/faults"), &[], Some(&faults))
        .await;
    assert_eq!(set.status, 200, "{}", set.text());

    sim.fails("GET", "/v1/vouchers/GB-10", None, 404, "not_found").await;
    let limited = client
        .send(
            "POST",
            &format!("{base}/v1/vouchers/GB-10"),
            &SIM_AUTH,
            Some(&percent_off(10)),
        )
        .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "7");
    let retry_at: i64 = limited.headers["x-rate-limit-retry"].to_str().unwrap().parse().unwrap();
    let now = couponbridge::clock::parse_iso(super::T0).unwrap() / 1000;
    assert_eq!(retry_at, now + 7);
    assert_eq!(limited.json()["code"], 429);
    sim.fails("GET", "/v1/vouchers/GB-10", None, 404, "not_found").await;
    assert_eq!(
        sim.ok("POST", "/v1/vouchers/GB-10", Some(percent_off(10))).await["code"],
        "GB-10"
    );
}
