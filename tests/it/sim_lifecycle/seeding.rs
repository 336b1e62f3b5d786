//! Seed files that declare the lifecycle, and faults on its endpoints.

use serde_json::json;

use super::{Sim, codes};
use couponbridge::sim::SimBuilder;

use crate::common::Client;

// 7. Seeding and faults ------------------------------------------------------

#[tokio::test]
async fn a_seed_file_declares_the_whole_lifecycle() {
    let sim = Sim::seeded(json!({
        "validation_rules": [{"id": "val_min50", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}, "logic": "1"}}],
        "campaigns": [
            {"id": "camp_codes", "name": "Codes", "campaign_type": "DISCOUNT_COUPONS",
             "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1000}}, "validation_rules": ["val_min50"]},
            {"name": "Promo", "campaign_type": "PROMOTION", "promotion": {"tiers": [
                {"id": "promo_seeded", "name": "Five off", "action": {"discount": {"type": "AMOUNT", "amount_off": 500}}}]}}
        ],
        "loyalties": [{"id": "camp_club", "name": "Club", "members": [
            {"customer": {"source_id": "cust-1"}, "code": "CLUB-1", "points": 1000},
            {"customer": {"source_id": "cust-2"}, "points": 10}]}],
        "vouchers": [{"code": "PLAIN", "discount": {"type": "PERCENT", "percent_off": 5}}],
        "rewards": [{"id": "rew_seeded", "name": "Ten off", "parameters": {"campaign": {"id": "camp_codes"}},
                     "assignments": [{"campaign": "camp_club", "parameters": {"loyalty": {"points": 100}}}]}],
        "publications": [{"customer": {"source_id": "cust-1"}, "voucher": "PLAIN"}]
    }))
    .await;
    let card = sim.ok("GET", "/v1/loyalties/camp_club/members/CLUB-1", None).await;
    assert_eq!(card["loyalty_card"]["balance"], 1000);
    let members = sim.ok("GET", "/v1/loyalties/camp_club/members", None).await;
    assert_eq!(members["total"], 2);
    assert_eq!(
        sim.ok("GET", "/v1/loyalties/camp_club/rewards", None).await["data"][0]["reward_id"],
        "rew_seeded"
    );
    assert_eq!(
        sim.ok("GET", "/v1/campaigns/Promo", None).await["promotion"]["tiers"][0]["id"],
        "promo_seeded"
    );
    assert_eq!(
        codes(&sim.ok("GET", "/v1/vouchers?customer=cust-1", None).await),
        vec!["PLAIN", "CLUB-1"]
    );
    let r = sim
        .ok(
            "POST",
            "/v1/loyalties/members/CLUB-1/redemption",
            Some(json!({"reward": {"id": "rew_seeded"}})),
        )
        .await;
    let code = r["reward"]["voucher"]["code"].as_str().unwrap().to_owned();
    // The reward code inherits its campaign's rule.
    let small = sim
        .ok(
            "POST",
            "/v1/validations",
            Some(json!({"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 4000}})),
        )
        .await;
    assert_eq!(
        small["redeemables"][0]["result"]["error"]["key"],
        "order_rules_violated"
    );
}

#[tokio::test]
async fn a_bad_seed_names_the_entry() {
    let err = SimBuilder::new()
        .seed(json!({"rewards": [{"name": "x", "parameters": {"campaign": {"id": "camp_missing"}}}]}))
        .build()
        .err()
        .expect("an unknown campaign is refused");
    assert_eq!(err.key, "not_found");
    assert!(err.details.unwrap().starts_with("reward #0"));
}

#[tokio::test]
async fn faults_apply_to_the_new_endpoints() {
    let sim = Sim::start().await;
    let set = Client::new()
        .send(
            "POST",
            &format!("{}/_sim/faults", sim.running.base_url()),
            &[],
            Some(&json!({"script": ["error"], "path_prefix": "/v1/loyalties"})),
        )
        .await;
    assert_eq!(set.status, 200);
    assert_eq!(
        sim.call("GET", "/v1/campaigns", None).await.status,
        200,
        "another prefix"
    );
    assert_eq!(sim.call("GET", "/v1/loyalties", None).await.status, 503);
    assert_eq!(sim.call("GET", "/v1/loyalties", None).await.status, 200);
}
