//! Campaigns and their codes, publications, and listing vouchers.

use serde_json::{Value, json};

use super::{Sim, codes, discount_campaign};

// 1. Campaigns ---------------------------------------------------------------

#[tokio::test]
async fn campaigns_generate_codes_from_their_code_config_and_are_found_by_id_or_name() {
    let sim = Sim::start().await;
    let created = sim
        .ok(
            "POST",
            "/v1/campaigns",
            Some(
                json!({"name": "Spring", "campaign_type": "DISCOUNT_COUPONS", "vouchers_count": 5,
                "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 15},
                            "code_config": {"length": 6, "charset": "ABC", "prefix": "SP-", "postfix": "-26"}}}),
            ),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("camp_"));
    assert_eq!(created["campaign_type"], "DISCOUNT_COUPONS");
    assert_eq!(created["vouchers_count"], 5);
    assert_eq!(created["voucher"]["code_config"]["prefix"], "SP-");
    let list = sim.ok("GET", "/v1/vouchers?campaign=Spring&limit=100", None).await;
    assert_eq!(list["total"], 5);
    for code in codes(&list) {
        let body = code.strip_prefix("SP-").and_then(|c| c.strip_suffix("-26")).unwrap();
        assert!(body.len() == 6 && body.chars().all(|c| "ABC".contains(c)), "{code}");
    }
    assert_eq!(list["vouchers"][0]["campaign_id"], id.as_str());
    assert_eq!(list["vouchers"][0]["campaign"], "Spring");
    assert_eq!(
        sim.ok("GET", &format!("/v1/vouchers?campaign_id={id}"), None).await["total"],
        5
    );

    let patterned = sim
        .ok(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Pattern", "vouchers_count": 2,
                "voucher": {"discount": {"type": "AMOUNT", "amount_off": 100}, "code_config": {"pattern": "PAT-##-##", "charset": "0123456789"}}})),
        )
        .await;
    let pat = sim
        .ok(
            "GET",
            &format!("/v1/vouchers?campaign_id={}", patterned["id"].as_str().unwrap()),
            None,
        )
        .await;
    for code in codes(&pat) {
        assert!(
            code.len() == 9 && code.starts_with("PAT-") && &code[6..7] == "-",
            "{code}"
        );
    }

    assert_eq!(
        sim.ok("GET", &format!("/v1/campaigns/{id}"), None).await["name"],
        "Spring"
    );
    assert_eq!(sim.ok("GET", "/v1/campaigns/Spring", None).await["id"], id.as_str());
    let missing = sim.fails("GET", "/v1/campaigns/Nope", None, 404, "not_found").await;
    assert_eq!(missing["resource_type"], "campaign");
    sim.fails(
        "POST",
        "/v1/campaigns",
        Some(discount_campaign("Spring")),
        409,
        "duplicate_found",
    )
    .await;
    sim.fails(
        "POST",
        "/v1/campaigns",
        Some(json!({"campaign_type": "DISCOUNT_COUPONS"})),
        400,
        "invalid_payload",
    )
    .await;
    sim.fails(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "No discount", "campaign_type": "DISCOUNT_COUPONS", "voucher": {}})),
        400,
        "invalid_payload",
    )
    .await;

    sim.ok("POST", "/v1/loyalties", Some(json!({"name": "Points"}))).await;
    let all = sim.ok("GET", "/v1/campaigns", None).await;
    assert_eq!(all["data_ref"], "campaigns");
    assert_eq!(all["total"], 3);
    assert_eq!(all["campaigns"][0]["name"], "Points", "newest first");
    let only = sim.ok("GET", "/v1/campaigns?campaign_type=LOYALTY_PROGRAM", None).await;
    assert_eq!(only["total"], 1);
    assert!(sim.checked() >= 10);
}

#[tokio::test]
async fn a_promotion_campaign_has_tiers_with_their_own_rules() {
    let sim = Sim::start().await;
    let p = sim
        .ok(
            "POST",
            "/v1/campaigns",
            Some(json!({"name": "Auto", "campaign_type": "PROMOTION", "promotion": {"tiers": [
                {"name": "10% over 50", "banner": "Save 10%", "action": {"discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}},
                 "validation_rules": [{"name": "over 50", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}, "logic": "1"}}]}
            ]}})),
        )
        .await;
    let tier = &p["promotion"]["tiers"][0];
    assert!(tier["id"].as_str().unwrap().starts_with("promo_"));
    assert_eq!(tier["banner"], "Save 10%");
    assert_eq!(tier["action"]["discount"]["percent_off"], 10);
    assert_eq!(tier["validation_rule_assignments"]["total"], 1);
    assert!(p.get("voucher").is_none(), "a promotion has no code template");
    let tiers = sim.ok("GET", "/v1/promotions/Auto/tiers", None).await;
    assert_eq!(tiers["total"], 1);
    assert_eq!(tiers["tiers"][0]["id"], tier["id"]);
    assert_eq!(tiers["has_more"], false);
    sim.fails("GET", "/v1/promotions/camp_nope/tiers", None, 404, "not_found")
        .await;
    sim.fails(
        "POST",
        "/v1/publications",
        Some(json!({"customer": {"source_id": "c1"}, "campaign": {"name": "Auto"}})),
        400,
        "invalid_payload",
    )
    .await;
}

// 2. Publications ------------------------------------------------------------

#[tokio::test]
async fn publications_assign_distinct_codes_and_list_newest_first() {
    let sim = Sim::start().await;
    sim.ok("POST", "/v1/campaigns", Some(discount_campaign("Welcome")))
        .await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let p = sim
            .ok(
                "POST",
                "/v1/publications",
                Some(json!({"customer": {"source_id": format!("c{i}")}, "campaign": {"name": "Welcome"}})),
            )
            .await;
        assert_eq!(p["object"], "publication");
        assert_eq!(p["result"], "SUCCESS");
        assert!(p["id"].as_str().unwrap().starts_with("pub_"));
        let code = p["voucher"]["code"].as_str().unwrap().to_owned();
        assert!(code.starts_with("RW-"));
        assert_eq!(p["voucher"]["holder_id"], p["customer"]["id"]);
        assert_eq!(p["customer"]["source_id"], format!("c{i}"));
        assert!(seen.insert(code), "each publication gets a fresh code");
    }
    let c3 = sim.ok("GET", "/v1/vouchers?customer=c3", None).await;
    assert_eq!(c3["total"], 1);
    let c3_id = c3["vouchers"][0]["holder_id"].as_str().unwrap().to_owned();
    assert_eq!(
        sim.ok("GET", &format!("/v1/vouchers?customer={c3_id}"), None).await["total"],
        1
    );

    // A customer named by id is the same customer in a redemption.
    let c3_code = c3["vouchers"][0]["code"].as_str().unwrap().to_owned();
    let red = sim
        .ok(
            "POST",
            "/v1/redemptions",
            Some(json!({"redeemables": [{"object": "voucher", "id": c3_code}], "customer": {"id": c3_id}, "order": {"amount": 3000}})),
        )
        .await;
    assert_eq!(red["redemptions"][0]["customer"]["source_id"], "c3");

    // join_once: the same customer gets the same code again.
    let once = |q: &str| format!("/v1/publications{q}");
    let first = sim
        .ok(
            "POST",
            &once("?join_once=true"),
            Some(json!({"customer": {"source_id": "c3"}, "campaign": {"name": "Welcome"}})),
        )
        .await;
    assert_eq!(first["voucher"]["code"], c3["vouchers"][0]["code"]);
    let two = sim
        .ok(
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"source_id": "c3"}, "campaign": {"name": "Welcome", "count": 2}})),
        )
        .await;
    assert_eq!(two["vouchers"].as_array().unwrap().len(), 2);
    assert_eq!(sim.ok("GET", "/v1/vouchers?customer=c3", None).await["total"], 3);

    // A given code, to a customer named by id.
    sim.ok(
        "POST",
        "/v1/vouchers",
        Some(json!({"code": "HANDPICKED", "discount": {"type": "AMOUNT", "amount_off": 100}})),
    )
    .await;
    let given = sim
        .ok(
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"id": c3_id}, "voucher": "HANDPICKED"})),
        )
        .await;
    assert_eq!(given["voucher"]["code"], "HANDPICKED");
    assert_eq!(given["voucher"]["publish"]["count"], 1);

    let listed = sim.ok("GET", "/v1/publications?customer=c3&limit=2", None).await;
    assert_eq!(listed["data_ref"], "publications");
    assert_eq!(listed["total"], 4);
    assert_eq!(
        listed["publications"][0]["voucher"]["code"], "HANDPICKED",
        "newest first"
    );
    assert_eq!(listed["publications"].as_array().unwrap().len(), 2);
    // 20, then two more: join_once published nothing new.
    assert_eq!(
        sim.ok("GET", "/v1/publications?campaign=Welcome", None).await["total"],
        22
    );
    assert_eq!(
        sim.ok("GET", "/v1/publications?voucher=HANDPICKED", None).await["total"],
        1
    );

    sim.fails(
        "POST",
        "/v1/publications",
        Some(json!({"campaign": {"name": "Welcome"}})),
        400,
        "invalid_payload",
    )
    .await;
    let nf = sim
        .fails(
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"source_id": "c1"}, "voucher": "NOPE"})),
            404,
            "not_found",
        )
        .await;
    assert_eq!(nf["resource_type"], "voucher");
    sim.fails(
        "POST",
        "/v1/publications",
        Some(json!({"customer": {"id": "cust_unknown"}, "voucher": "HANDPICKED"})),
        404,
        "not_found",
    )
    .await;

    // A STATIC campaign runs out.
    let mut fixed = discount_campaign("Fixed");
    fixed["type"] = "STATIC".into();
    fixed["vouchers_count"] = 1.into();
    sim.ok("POST", "/v1/campaigns", Some(fixed)).await;
    let publish = json!({"customer": {"source_id": "c1"}, "campaign": {"name": "Fixed"}});
    sim.ok("POST", "/v1/publications", Some(publish.clone())).await;
    let out = sim
        .fails(
            "POST",
            "/v1/publications",
            Some(publish),
            400,
            "no_voucher_suitable_for_publication",
        )
        .await;
    assert_eq!(out["message"], "Couldn't find any voucher suitable for publication.");
}

// 3. Listing vouchers --------------------------------------------------------

#[tokio::test]
async fn a_thousand_vouchers_of_one_customer_page_correctly() {
    let mut publications: Vec<Value> = (0..1000)
        .map(|_| json!({"customer": {"source_id": "heavy"}, "campaign": {"name": "Bulk"}}))
        .collect();
    publications.extend((0..7).map(|_| json!({"customer": {"source_id": "light"}, "campaign": {"name": "Bulk"}})));
    let sim = Sim::seeded(json!({"campaigns": [discount_campaign("Bulk")], "publications": publications})).await;
    let mut all = Vec::new();
    for page in 1..=10 {
        let list = sim
            .ok(
                "GET",
                &format!("/v1/vouchers?customer=heavy&limit=100&page={page}"),
                None,
            )
            .await;
        assert_eq!(list["object"], "list");
        assert_eq!(list["data_ref"], "vouchers");
        assert_eq!(list["total"], 1000);
        let page_codes = codes(&list);
        assert_eq!(page_codes.len(), 100, "page {page}");
        all.extend(page_codes);
    }
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 1000, "no code twice, none missed");
    let past = sim
        .ok("GET", "/v1/vouchers?customer=heavy&limit=100&page=11", None)
        .await;
    assert!(past["vouchers"].as_array().unwrap().is_empty());
    assert_eq!(past["total"], 1000);
    // Newest first: the last published code leads page 1.
    let newest = sim.ok("GET", "/v1/publications?customer=heavy&limit=1", None).await;
    assert_eq!(all[0], newest["publications"][0]["voucher"]["code"].as_str().unwrap());
    let default = sim.ok("GET", "/v1/vouchers?customer=heavy", None).await;
    assert_eq!(codes(&default).len(), 10, "ten by default");
    assert_eq!(sim.ok("GET", "/v1/vouchers?customer=light", None).await["total"], 7);
    assert_eq!(sim.ok("GET", "/v1/vouchers?customer=nobody", None).await["total"], 0);
    for bad in ["limit=101", "limit=0", "page=0", "page=100", "order=sideways"] {
        sim.fails(
            "GET",
            &format!("/v1/vouchers?customer=heavy&{bad}"),
            None,
            400,
            "invalid_payload",
        )
        .await;
    }
}

#[tokio::test]
async fn a_published_code_is_active_for_the_campaigns_duration() {
    let sim = Sim::start().await;
    let mut c = discount_campaign("Month");
    c["activity_duration_after_publishing"] = "P30D".into();
    let created = sim.ok("POST", "/v1/campaigns", Some(c)).await;
    assert_eq!(created["activity_duration_after_publishing"], "P30D");
    let p = sim
        .ok(
            "POST",
            "/v1/publications",
            Some(json!({"customer": {"source_id": "c1"}, "campaign": {"name": "Month"}})),
        )
        .await;
    assert_eq!(p["voucher"]["expiration_date"], "2026-01-31T00:00:00.000Z");
    let mut bad = discount_campaign("Yearly");
    bad["activity_duration_after_publishing"] = "P1Y".into();
    sim.fails("POST", "/v1/campaigns", Some(bad), 400, "invalid_payload")
        .await;
}
