//! The simulator's coupon-lifecycle resources against Voucherify's
//! contract: campaigns, publications, voucher lists, loyalty programs and
//! rewards, qualifications, and rollbacks. Every `/v1` answer is held to
//! the whole-API production spec (`spec`), or to the split specs for an
//! operation it lacks.

mod spec;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use couponbridge::clock::{Clock, parse_iso};
use couponbridge::sim::{RunningSim, SimBuilder};
use serde_json::{Value, json};

use crate::common::contract::Contract;
use crate::common::{Client, Reply, SIM_AUTH};
use spec::ReadOnlySpec;

const T0: &str = "2026-01-01T00:00:00.000Z";

pub struct Sim {
    pub running: RunningSim,
    client: Client,
    checked: Arc<AtomicUsize>,
}

impl Sim {
    async fn start() -> Sim {
        Self::seeded(json!([])).await
    }

    async fn seeded(seed: Value) -> Sim {
        let clock = Clock::manual(parse_iso(T0).unwrap());
        let running = SimBuilder::new()
            .seed(seed)
            .clock(clock)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        Sim {
            running,
            client: Client::new(),
            checked: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.running.base_url());
        let reply = self.client.send(method, &url, &SIM_AUTH, body.as_ref()).await;
        if path.starts_with("/v1/") && !reply.body.is_empty() {
            let path_only = path.split('?').next().unwrap();
            // The production spec where it has the operation; the split
            // specs (legacy endpoints) otherwise. The split specs' reward
            // result requires members no reward has (`reward` inside
            // itself, `product`, `sku` and `loyalty_tier_id` at once).
            let spec = ReadOnlySpec::get();
            let checked = if spec.template(method, path_only).is_some() {
                spec.check(method, path_only, reply.status, &reply.body)
            } else {
                Contract::get().check(method, path_only, reply.status, &reply.body)
            };
            if checked {
                self.checked.fetch_add(1, Ordering::Relaxed);
            }
        }
        reply
    }

    /// A call that must answer 200; its JSON.
    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
        r.json()
    }

    /// A call that must fail with `status` and `key`; the error.
    async fn fails(&self, method: &str, path: &str, body: Option<Value>, status: u16, key: &str) -> Value {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        let e = r.json();
        assert_eq!(e["key"], key, "{method} {path}: {e}");
        e
    }

    fn checked(&self) -> usize {
        self.checked.load(Ordering::Relaxed)
    }
}

fn discount_campaign(name: &str) -> Value {
    json!({"name": name, "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
           "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1500, "effect": "APPLY_TO_ORDER"},
                       "redemption": {"quantity": 1}, "code_config": {"length": 10, "prefix": "RW-"}}})
}

fn codes(list: &Value) -> Vec<String> {
    list["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}

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

// 4. Loyalty -----------------------------------------------------------------

/// A loyalty program with a member card of `points` for `cust-1`, and a
/// CAMPAIGN reward costing 100 assigned to it. Returns (program, card,
/// reward).
async fn loyalty_setup(sim: &Sim, points: i64) -> (String, String, String) {
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
}

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
