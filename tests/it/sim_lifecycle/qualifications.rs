//! `POST /v1/qualifications`, and redeeming a qualified promotion tier.

use serde_json::{Value, json};

use super::{Sim, discount_campaign};

// 5. Qualifications ----------------------------------------------------------

fn promotion() -> Value {
    json!({"name": "Automatic", "campaign_type": "PROMOTION", "promotion": {"tiers": [
        {"id": "promo_ten_over_fifty", "name": "10% off over 50", "banner": "10% off orders over 50",
         "action": {"discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}},
         "validation_rules": [{"name": "over 50", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}, "logic": "1"}}]},
        {"id": "promo_twenty_over_200", "name": "20 off over 200", "banner": "20.00 off orders over 200",
         "action": {"discount": {"type": "AMOUNT", "amount_off": 2000, "effect": "APPLY_TO_ORDER"}},
         "validation_rules": [{"name": "over 200", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [20000]}}, "logic": "1"}}]}
    ]}})
}

#[tokio::test]
async fn qualifications_return_the_tiers_and_wallet_codes_that_apply() {
    let sim = Sim::seeded(json!({
        "campaigns": [promotion(), discount_campaign("Wallet")],
        "vouchers": [{"code": "BIG-ONLY", "discount": {"type": "AMOUNT", "amount_off": 500},
                      "validation_rules": [{"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [100000]}}, "logic": "1"}}]}],
        "publications": [
            {"customer": {"source_id": "cust-1"}, "campaign": {"name": "Wallet"}},
            {"customer": {"source_id": "cust-1"}, "voucher": "BIG-ONLY"},
            {"customer": {"source_id": "cust-2"}, "campaign": {"name": "Wallet"}}
        ]
    }))
    .await;
    let q = sim
        .ok(
            "POST",
            "/v1/qualifications",
            Some(
                json!({"customer": {"source_id": "cust-1"}, "order": {"amount": 12000}, "scenario": "ALL",
                        "options": {"sorting_rule": "BEST_DEAL", "limit": 10}}),
            ),
        )
        .await;
    let data = q["redeemables"]["data"].as_array().unwrap();
    let ids: Vec<(&str, &str)> = data
        .iter()
        .map(|r| (r["object"].as_str().unwrap(), r["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0].0, "voucher", "15.00 off beats 10 % of 120.00: {ids:?}");
    assert_eq!(ids[1], ("promotion_tier", "promo_ten_over_fifty"));
    let tier = &data[1];
    assert_eq!(tier["result"]["discount"]["percent_off"], 10);
    assert_eq!(tier["order"]["discount_amount"], 1200);
    assert_eq!(tier["order"]["total_discount_amount"], 1200);
    assert_eq!(tier["order"]["total_amount"], 10800);
    assert_eq!(tier["banner"], "10% off orders over 50");
    assert_eq!(tier["name"], "10% off over 50");
    assert_eq!(tier["campaign_name"], "Automatic");
    assert_eq!(tier["applicable_to"]["object"], "list");
    assert_eq!(data[0]["order"]["total_amount"], 10500);
    assert_eq!(q["redeemables"]["has_more"], false);
    assert_eq!(q["order"]["amount"], 12000);

    let big = sim
        .ok("POST", "/v1/qualifications", Some(json!({"customer": {"source_id": "cust-1"}, "order": {"amount": 30000}, "options": {"sorting_rule": "BEST_DEAL"}})))
        .await;
    let tiers: Vec<&str> = big["redeemables"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["object"] == "promotion_tier")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        tiers,
        vec!["promo_ten_over_fifty", "promo_twenty_over_200"],
        "30.00 then 20.00 off"
    );

    let small = sim
        .ok(
            "POST",
            "/v1/qualifications",
            Some(json!({"customer": {"source_id": "cust-1"}, "order": {"amount": 4000}})),
        )
        .await;
    let small_ids: Vec<&str> = small["redeemables"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["object"].as_str().unwrap())
        .collect();
    assert_eq!(small_ids, vec!["voucher"], "no tier below 50.00");

    let wallet = sim
        .ok(
            "POST",
            "/v1/qualifications",
            Some(
                json!({"customer": {"source_id": "cust-1"}, "order": {"amount": 12000}, "scenario": "CUSTOMER_WALLET"}),
            ),
        )
        .await;
    assert_eq!(wallet["redeemables"]["total"], 1);
    assert_eq!(wallet["redeemables"]["data"][0]["object"], "voucher");
    let limited = sim
        .ok(
            "POST",
            "/v1/qualifications",
            Some(json!({"customer": {"source_id": "cust-1"}, "order": {"amount": 30000}, "options": {"limit": 1}})),
        )
        .await;
    assert_eq!(limited["redeemables"]["total"], 1);
    assert_eq!(limited["redeemables"]["has_more"], true);
    assert!(limited["redeemables"]["more_starting_after"].is_string());
    sim.fails(
        "POST",
        "/v1/qualifications",
        Some(json!({"scenario": "EVERYTHING"})),
        400,
        "invalid_payload",
    )
    .await;

    // A qualified tier validates and redeems like a code.
    let red = sim
        .ok(
            "POST",
            "/v1/redemptions",
            Some(
                json!({"redeemables": [{"object": "promotion_tier", "id": "promo_ten_over_fifty"}],
                        "customer": {"source_id": "cust-1"}, "order": {"source_id": "cart-1", "amount": 12000}}),
            ),
        )
        .await;
    assert_eq!(red["order"]["total_discount_amount"], 1200);
    assert_eq!(red["redemptions"][0]["related_object_type"], "promotion_tier");
    let order = sim.ok("GET", "/v1/orders/cart-1", None).await;
    let entry = order["redemptions"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(entry["related_object_type"], "promotion_tier");
    let low = sim
        .ok("POST", "/v1/validations", Some(json!({"redeemables": [{"object": "promotion_tier", "id": "promo_twenty_over_200"}], "order": {"amount": 12000}})))
        .await;
    assert_eq!(low["valid"], false);
    assert_eq!(low["redeemables"][0]["result"]["error"]["key"], "order_rules_violated");
}
