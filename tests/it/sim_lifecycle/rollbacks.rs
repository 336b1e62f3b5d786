//! Rollbacks: a single-use code usable again, points given back.

use serde_json::json;

use super::loyalty::loyalty_setup;
use super::{Sim, codes, discount_campaign};

// 6. Rollbacks ---------------------------------------------------------------

#[tokio::test]
async fn a_rollback_frees_a_single_use_code_once() {
    let sim = Sim::seeded(json!({
        "campaigns": [discount_campaign("Single")],
        "publications": [{"customer": {"source_id": "alice"}, "campaign": {"name": "Single"}}]
    }))
    .await;
    let code = codes(&sim.ok("GET", "/v1/vouchers?customer=alice", None).await)[0].clone();
    let redeem = |who: &str, order: &str| {
        json!({"redeemables": [{"object": "voucher", "id": code}], "customer": {"source_id": who},
               "order": {"source_id": order, "amount": 4000}})
    };
    let r = sim.ok("POST", "/v1/redemptions", Some(redeem("alice", "o-1"))).await;
    let id = r["redemptions"][0]["id"].as_str().unwrap().to_owned();
    sim.fails(
        "POST",
        "/v1/redemptions",
        Some(redeem("bob", "o-2")),
        400,
        "quantity_exceeded",
    )
    .await;
    let rb = sim
        .ok("POST", &format!("/v1/redemptions/{id}/rollback?reason=refund"), None)
        .await;
    assert_eq!(rb["object"], "redemption_rollback");
    assert_eq!(rb["redemption"], id.as_str());
    assert_eq!(rb["reason"], "refund");
    let v = sim.ok("GET", &format!("/v1/vouchers/{code}"), None).await;
    assert_eq!(v["redemption"]["redeemed_quantity"], 0, "the use is restored");
    let order = sim.ok("GET", "/v1/orders/o-1", None).await;
    assert_eq!(order["status"], "CANCELED");
    assert_eq!(order["redemptions"][&id]["rollback_id"], rb["id"]);
    assert!(order["redemptions"][&id]["rollback_date"].is_string());
    let second = sim
        .fails(
            "POST",
            &format!("/v1/redemptions/{id}/rollback"),
            None,
            400,
            "already_rolled_back",
        )
        .await;
    assert_eq!(second["details"], "Redemption has been already rolled back.");
    assert!(second["resource_id"].as_str().unwrap().starts_with("rrf_"));
    assert_eq!(second["resource_type"], "redemption_rollback");
    // Anyone may use the single-use code again.
    sim.ok("POST", "/v1/redemptions", Some(redeem("bob", "o-2"))).await;
    let got = sim.ok("GET", &format!("/v1/redemptions/{id}"), None).await;
    assert_eq!(got["status"], "ROLLED_BACK");
}

#[tokio::test]
async fn rolling_back_a_reward_redemption_returns_the_points() {
    let sim = Sim::start().await;
    let (pid, card, rid) = loyalty_setup(&sim, 100).await;
    let r = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/{pid}/members/{card}/redemption"),
            Some(json!({"reward": {"id": rid}, "order": {"source_id": "gb-1"}})),
        )
        .await;
    let id = r["id"].as_str().unwrap();
    let rb = sim.ok("POST", &format!("/v1/redemptions/{id}/rollback"), None).await;
    assert_eq!(rb["amount"], -100);
    assert!(rb["reward"]["voucher"]["code"].is_string());
    let member = sim.ok("GET", &format!("/v1/loyalties/members/{card}"), None).await;
    assert_eq!(member["loyalty_card"]["balance"], 100);
    sim.fails(
        "POST",
        &format!("/v1/redemptions/{id}/rollback"),
        None,
        400,
        "already_rolled_back",
    )
    .await;
    // Without an order, through the stacked endpoint (what a refund uses).
    let bare = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/members/{card}/redemption"),
            Some(json!({"reward": {"id": rid}})),
        )
        .await;
    let bare_id = bare["id"].as_str().unwrap();
    let rbs = sim
        .ok("POST", &format!("/v1/redemptions/{bare_id}/rollbacks"), None)
        .await;
    assert_eq!(rbs["rollbacks"][0]["amount"], -100);
    assert_eq!(rbs["parent_rollback"]["redemption"], bare_id);
    let member = sim.ok("GET", &format!("/v1/loyalties/members/{card}"), None).await;
    assert_eq!(member["loyalty_card"]["balance"], 100);
}
