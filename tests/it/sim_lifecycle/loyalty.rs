//! Loyalty programs, members and points, rewards, member redemptions.

use serde_json::json;

use super::{Sim, codes, discount_campaign};
use std::sync::Arc;

// 4. Loyalty -----------------------------------------------------------------

/// A loyalty program with a member card of `points` for `cust-1`, and a
/// CAMPAIGN reward costing 100 assigned to it. Returns (program, card,
/// reward).
pub(super) async fn loyalty_setup(sim: &Sim, points: i64) -> (String, String, String) {
    let program = sim
        .ok(
            "POST",
            "/v1/loyalties",
            Some(json!({"name": "Club", "voucher": {"code_config": {"prefix": "LC-"}}})),
        )
        .await;
    let pid = program["id"].as_str().unwrap().to_owned();
    assert_eq!(program["campaign_type"], "LOYALTY_PROGRAM");
    assert_eq!(program["voucher"]["type"], "LOYALTY_CARD");
    let card = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/{pid}/members"),
            Some(json!({"customer": {"source_id": "cust-1"}})),
        )
        .await;
    let code = card["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("LC-"));
    assert_eq!(card["type"], "LOYALTY_CARD");
    assert!(card["holder_id"].as_str().unwrap().starts_with("cust_"));
    let balance = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/{pid}/members/{code}/balance"),
            Some(json!({"points": points})),
        )
        .await;
    assert_eq!(balance["balance"], points);
    assert_eq!(balance["object"], "balance");
    sim.ok("POST", "/v1/campaigns", Some(discount_campaign("Reward codes")))
        .await;
    let target = sim.ok("GET", "/v1/campaigns/Reward%20codes", None).await;
    let reward = sim
        .ok(
            "POST",
            "/v1/rewards",
            Some(json!({"name": "15 off", "parameters": {"campaign": {"id": target["id"]}}})),
        )
        .await;
    assert_eq!(reward["type"], "CAMPAIGN");
    assert_eq!(reward["object"], "reward");
    let rid = reward["id"].as_str().unwrap().to_owned();
    let assignment = sim
        .ok(
            "POST",
            &format!("/v1/rewards/{rid}/assignments"),
            Some(json!({"campaign": pid, "parameters": {"loyalty": {"points": 100}}})),
        )
        .await;
    assert_eq!(assignment["related_object_id"], pid.as_str());
    assert_eq!(assignment["parameters"]["loyalty"]["points"], 100);
    (pid, code, rid)
}

#[tokio::test]
async fn a_member_redeems_a_reward_for_points_and_gets_a_code() {
    let sim = Sim::start().await;
    let (pid, card, rid) = loyalty_setup(&sim, 1000).await;

    let members = sim
        .ok("GET", &format!("/v1/loyalties/{pid}/members?customer=cust-1"), None)
        .await;
    assert_eq!(members["total"], 1);
    assert_eq!(members["vouchers"][0]["code"], card.as_str());
    assert_eq!(members["vouchers"][0]["loyalty_card"]["balance"], 1000);
    assert_eq!(
        sim.ok("GET", &format!("/v1/loyalties/{pid}/members?customer=other"), None)
            .await["total"],
        0
    );
    assert_eq!(
        sim.ok("GET", &format!("/v1/loyalties/members/{card}"), None).await["code"],
        card.as_str()
    );
    assert_eq!(
        sim.ok("GET", &format!("/v1/loyalties/{pid}"), None).await["id"],
        pid.as_str()
    );
    assert_eq!(sim.ok("GET", "/v1/loyalties", None).await["total"], 1);
    assert_eq!(
        sim.ok("GET", &format!("/v1/loyalties/{pid}/rewards"), None).await["total"],
        1
    );
    assert_eq!(
        sim.ok("GET", &format!("/v1/rewards/{rid}/assignments"), None).await["total"],
        1
    );
    assert_eq!(
        sim.ok("GET", &format!("/v1/rewards/{rid}"), None).await["id"],
        rid.as_str()
    );
    assert_eq!(sim.ok("GET", "/v1/rewards", None).await["total"], 1);
    let offered = sim
        .ok(
            "GET",
            &format!("/v1/loyalties/members/{card}/rewards?affordable_only=true"),
            None,
        )
        .await;
    assert_eq!(offered["total"], 1);
    assert_eq!(offered["data"][0]["object"], "loyalty_reward");
    assert_eq!(offered["data"][0]["reward"]["id"], rid.as_str());
    assert_eq!(offered["data"][0]["assignment"]["parameters"]["loyalty"]["points"], 100);

    let r = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/{pid}/members/{card}/redemption"),
            Some(json!({"reward": {"id": rid}, "order": {"source_id": "gb-order-1", "amount": 5000}, "metadata": {"ruleId": 1}})),
        )
        .await;
    assert_eq!(r["object"], "redemption");
    assert_eq!(r["result"], "SUCCESS");
    assert_eq!(r["voucher"]["code"], card.as_str(), "the redeemed voucher is the card");
    assert_eq!(r["voucher"]["loyalty_card"]["balance"], 900);
    assert_eq!(r["loyalty_card"]["points"], 100);
    assert_eq!(r["reward"]["id"], rid.as_str());
    let code = r["reward"]["voucher"]["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("RW-"));
    assert!(r["reward"]["voucher"].get("expiration_date").is_some());
    assert!(r["reward"]["voucher"].get("start_date").is_some());
    assert_eq!(r["order"]["source_id"], "gb-order-1");
    let rid_redemption = r["id"].as_str().unwrap().to_owned();

    // The code is the customer's now, and usable.
    let held = sim.ok("GET", "/v1/vouchers?customer=cust-1", None).await;
    assert!(codes(&held).contains(&code));
    let v = sim
        .ok(
            "POST",
            "/v1/validations",
            Some(json!({"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 5000}})),
        )
        .await;
    assert_eq!(v["valid"], true);
    // The order and the redemption are found afterwards.
    let order = sim.ok("GET", "/v1/orders/gb-order-1", None).await;
    assert!(order["redemptions"].get(&rid_redemption).is_some());
    let got = sim.ok("GET", &format!("/v1/redemptions/{rid_redemption}"), None).await;
    assert_eq!(got["reward"]["voucher"]["code"], code.as_str());
    // The campaign-less path answers the same way.
    let again = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/members/{card}/redemption"),
            Some(json!({"reward": {"id": rid}})),
        )
        .await;
    assert_eq!(again["voucher"]["loyalty_card"]["balance"], 800);
    assert_ne!(
        again["reward"]["voucher"]["code"],
        code.as_str(),
        "a fresh code each time"
    );
    assert!(again.get("order").is_none());
    assert!(sim.checked() >= 20);
}

#[tokio::test]
async fn reward_errors_are_voucherifys_and_change_nothing() {
    let sim = Sim::start().await;
    let (pid, card, rid) = loyalty_setup(&sim, 150).await;
    let redeem = format!("/v1/loyalties/{pid}/members/{card}/redemption");
    sim.ok("POST", &redeem, Some(json!({"reward": {"id": rid}}))).await;
    let poor = sim
        .fails(
            "POST",
            &redeem,
            Some(json!({"reward": {"id": rid}})),
            400,
            "loyalty_card_points_exceeded",
        )
        .await;
    assert_eq!(poor["message"], "loyalty card points exceeded");
    assert_eq!(poor["details"], card.as_str());
    let member = sim
        .ok("GET", &format!("/v1/loyalties/{pid}/members/{card}"), None)
        .await;
    assert_eq!(
        member["loyalty_card"]["balance"], 50,
        "a refused redemption takes nothing"
    );
    assert_eq!(
        sim.ok("GET", "/v1/vouchers?customer=cust-1", None).await["total"],
        2,
        "card and one reward"
    );

    let nf = sim
        .fails(
            "POST",
            &format!("/v1/loyalties/{pid}/members/LC-NOPE/redemption"),
            Some(json!({"reward": {"id": rid}})),
            404,
            "not_found",
        )
        .await;
    assert_eq!(nf["resource_type"], "voucher");
    let nr = sim
        .fails(
            "POST",
            &redeem,
            Some(json!({"reward": {"id": "rew_nope"}})),
            404,
            "not_found",
        )
        .await;
    assert_eq!(nr["resource_type"], "reward");
    sim.fails("POST", &redeem, Some(json!({})), 400, "missing_reward").await;
    // A reward of no assignment in this program.
    let other = sim
        .ok(
            "POST",
            "/v1/rewards",
            Some(json!({"name": "Mug", "parameters": {"product": {"id": "prod_mug"}}})),
        )
        .await;
    let na = sim
        .fails(
            "POST",
            &redeem,
            Some(json!({"reward": {"id": other["id"]}})),
            404,
            "not_found",
        )
        .await;
    assert_eq!(na["resource_type"], "reward_assignment");
    sim.fails("GET", "/v1/loyalties/camp_nope/members", None, 404, "not_found")
        .await;
    sim.fails("GET", "/v1/rewards/rew_nope", None, 404, "not_found").await;
    sim.fails(
        "POST",
        &format!("/v1/loyalties/{pid}/members/{card}/balance"),
        Some(json!({"points": -51})),
        400,
        "loyalty_card_points_exceeded",
    )
    .await;
    sim.fails(
        "POST",
        &format!("/v1/loyalties/{pid}/members/{card}/balance"),
        Some(json!({})),
        400,
        "invalid_payload",
    )
    .await;
    let sub = sim
        .ok(
            "POST",
            &format!("/v1/loyalties/members/{card}/balance"),
            Some(json!({"points": -50})),
        )
        .await;
    assert_eq!(sub["balance"], 0);
    let affordable = format!("/v1/loyalties/members/{card}/rewards?affordable_only=true");
    assert_eq!(
        sim.ok("GET", &affordable, None).await["total"],
        0,
        "nothing is affordable at 0 points"
    );
    let all = format!("/v1/loyalties/members/{card}/rewards");
    assert_eq!(sim.ok("GET", &all, None).await["total"], 1);
}

#[tokio::test]
async fn concurrent_redemptions_take_each_point_once() {
    let sim = Arc::new(Sim::start().await);
    let (pid, card, rid) = loyalty_setup(&sim, 1000).await;
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let (sim, pid, card, rid) = (sim.clone(), pid.clone(), card.clone(), rid.clone());
        tasks.push(tokio::spawn(async move {
            sim.call(
                "POST",
                &format!("/v1/loyalties/{pid}/members/{card}/redemption"),
                Some(json!({"reward": {"id": rid}})),
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 10, "1,000 points buy ten 100-point rewards");
    let member = sim.ok("GET", &format!("/v1/loyalties/members/{card}"), None).await;
    assert_eq!(member["loyalty_card"]["balance"], 0);
    assert_eq!(member["redemption"]["redeemed_points"], 1000);
    assert_eq!(
        sim.ok("GET", "/v1/vouchers?customer=cust-1&limit=100", None).await["total"],
        11
    );
}
