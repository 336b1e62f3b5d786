//! `couponbridge demo`: the adapter, the in-process Voucherify simulator and
//! the `memory://` store in one process, with one tenant and a handful of
//! coupons, so a newcomer sees a lock taken, read and released in a minute.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::clock::{Clock, iso};
use crate::config::Config;
use crate::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN, RunningSim, SimBuilder};

pub const API_KEY: &str = "demo-api-key";
pub const SECRET_KEY: &str = "demo-secret-key";

/// The demo's customer, who holds a loyalty card and a published coupon.
pub const CUSTOMER: &str = "cust-1";
/// The loyalty program (a Voucherify `LOYALTY_PROGRAM` campaign id).
pub const LOYALTY_CAMPAIGN_ID: &str = "camp_demo_loyalty";
/// `cust-1`'s loyalty card in that program, and its starting points.
pub const LOYALTY_CARD_CODE: &str = "LOYAL-CUST-1";
pub const LOYALTY_POINTS: i64 = 1000;
/// The reward Gameball `ruleId` 1 maps to: a CAMPAIGN reward that
/// publishes a code of `REWARD_CAMPAIGN_ID` (15.00 off, single use).
pub const REWARD_ID: &str = "rew_demo_1";
pub const REWARD_RULE_ID: u32 = 1;
/// The reward's assignment to the loyalty program, and its price.
pub const REWARD_ASSIGNMENT_ID: &str = "rewa_demo_1";
pub const REWARD_POINTS: i64 = 100;
/// The DISCOUNT_COUPONS campaign the reward's codes come from.
pub const REWARD_CAMPAIGN_ID: &str = "camp_demo_rewards";
pub const REWARD_CAMPAIGN_NAME: &str = "Demo reward coupons";
/// The automatic promotion (a PROMOTION campaign) and its one tier:
/// 10 % off orders over 50.00.
pub const PROMOTION_CAMPAIGN_ID: &str = "camp_demo_auto";
pub const PROMOTION_TIER_ID: &str = "promo_demo_10_over_50";
/// A coupon published to `cust-1` (10.00 off, single use).
pub const PUBLISHED_CODE: &str = "WELCOME-CUST-1";

/// The demo's coupons: SAVE10 (10 % off, capped at 50.00, unlimited),
/// TAKE20 (20.00 off orders of 100.00 or more), FREESHIP (free shipping),
/// ONCE (single use), EXPIRED (expired yesterday), LATER (starts in a year),
/// WELCOME-CUST-1 (10.00 off, single use, published to cust-1 by `seed`).
pub fn coupons(now: i64) -> Value {
    let day = 86_400_000;
    json!([
        {"code": "SAVE10", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000, "effect": "APPLY_TO_ORDER"}},
        {"code": "TAKE20", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "AMOUNT", "amount_off": 2000, "effect": "APPLY_TO_ORDER"},
         "validation_rules": [{"name": "Orders of 100.00 or more",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}, "logic": "1"}}]},
        {"code": "FREESHIP", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"}},
        {"code": "ONCE", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ORDER"}, "redemption": {"quantity": 1}},
        {"code": "EXPIRED", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "AMOUNT", "amount_off": 500}, "expiration_date": iso(now - day)},
        {"code": "LATER", "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "AMOUNT", "amount_off": 500}, "start_date": iso(now + 365 * day)},
        {"code": PUBLISHED_CODE, "type": "DISCOUNT_VOUCHER",
         "discount": {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"}, "redemption": {"quantity": 1}},
    ])
}

/// The demo's simulated Voucherify project: `coupons` plus the loyalty
/// program, reward, automatic promotion and published coupon named by the
/// constants above.
pub fn seed(now: i64) -> Value {
    json!({
        "vouchers": coupons(now),
        "campaigns": [
            {"id": REWARD_CAMPAIGN_ID, "name": REWARD_CAMPAIGN_NAME, "campaign_type": "DISCOUNT_COUPONS",
             "voucher": {"type": "DISCOUNT_VOUCHER",
                         "discount": {"type": "AMOUNT", "amount_off": 1500, "effect": "APPLY_TO_ORDER"},
                         "redemption": {"quantity": 1}, "code_config": {"length": 8, "prefix": "GB-"}}},
            {"id": PROMOTION_CAMPAIGN_ID, "name": "Demo automatic promotion", "campaign_type": "PROMOTION",
             "promotion": {"tiers": [{"id": PROMOTION_TIER_ID, "name": "10% off orders over 50.00",
                "banner": "10% off orders over 50.00",
                "action": {"discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}},
                "validation_rules": [{"name": "Orders over 50.00",
                    "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}, "logic": "1"}}]}]}}
        ],
        "loyalties": [
            {"id": LOYALTY_CAMPAIGN_ID, "name": "Demo loyalty program", "join_once": true,
             "members": [{"customer": {"source_id": CUSTOMER}, "code": LOYALTY_CARD_CODE, "points": LOYALTY_POINTS}]}
        ],
        "rewards": [
            {"id": REWARD_ID, "name": "15.00 off coupon", "parameters": {"campaign": {"id": REWARD_CAMPAIGN_ID}},
             "assignments": [{"id": REWARD_ASSIGNMENT_ID, "campaign": LOYALTY_CAMPAIGN_ID,
                              "parameters": {"loyalty": {"points": REWARD_POINTS}}}]}
        ],
        "publications": [
            {"customer": {"source_id": CUSTOMER}, "voucher": PUBLISHED_CODE}
        ],
    })
}

/// The demo configuration, pointing at a simulator on `sim_base`.
pub fn config(listen: SocketAddr, admin: Option<SocketAddr>, sim_base: &str) -> Config {
    let admin = match admin {
        Some(a) => format!("listen = \"{a}\""),
        None => "enabled = false".to_owned(),
    };
    let text = format!(
        r#"
        [server]
        listen = "{listen}"
        [admin]
        {admin}
        [store]
        url = "memory://"
        # The demo says it keeps locks in memory; no start-up warning.
        durability = "none"
        [tenants.demo]
        api_key = "{API_KEY}"
        secret_key = "{SECRET_KEY}"
        [tenants.demo.voucherify]
        base_url = "{sim_base}"
        app_id = "{DEFAULT_APP_ID}"
        app_token = "{DEFAULT_APP_TOKEN}"
        [tenants.demo.loyalty]
        campaign = "{LOYALTY_CAMPAIGN_ID}"
        [tenants.demo.rewards]
        "{REWARD_RULE_ID}" = "{REWARD_ID}"
        "#
    );
    Config::from_toml(&text).expect("the demo configuration is valid")
}

/// Starts the simulator with the demo project on a free loopback port.
pub async fn simulator(clock: Clock) -> Result<RunningSim, Box<dyn std::error::Error + Send + Sync>> {
    SimBuilder::new()
        .seed(seed(clock.now()))
        .clock(clock)
        .start("127.0.0.1:0")
        .await
}

/// What the demo prints: where it listens and five copy-paste lines.
pub fn instructions(addr: SocketAddr, admin: Option<SocketAddr>) -> String {
    let base = format!("http://{addr}/api/v4.0/integrations");
    let v3 = format!("http://{addr}/api/v3.0/integrations");
    // The SDK-era body hash for cust-1, as Gameball's SDKs compute it.
    let hash: String = {
        use sha1::{Digest, Sha1};
        Sha1::digest(format!("cust-1:::{SECRET_KEY}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let auth = format!("-H 'apikey: {API_KEY}' -H 'secretkey: {SECRET_KEY}'");
    let admin = admin
        .map(|a| format!("Metrics: http://{a}/metrics   Readiness: http://{a}/readyz\n"))
        .unwrap_or_default();
    format!(
        "couponbridge demo: Gameball coupon API on http://{addr} (tenant apikey {API_KEY}), \
         Voucherify simulated in-process, locks in memory.\n{admin}\
         Coupons: SAVE10 (10% off, max 50.00), TAKE20 (20.00 off orders >= 100.00), FREESHIP, ONCE (single use), EXPIRED, LATER, \
         {PUBLISHED_CODE} (10.00 off, published to {CUSTOMER}).\n\
         Loyalty: program {LOYALTY_CAMPAIGN_ID}, card {LOYALTY_CARD_CODE} with {LOYALTY_POINTS} points for {CUSTOMER}; \
         ruleId {REWARD_RULE_ID} = reward {REWARD_ID} ({REWARD_POINTS} points, a 15.00-off code of {REWARD_CAMPAIGN_ID}); \
         automatic promotion {PROMOTION_CAMPAIGN_ID}, tier {PROMOTION_TIER_ID} (10% off orders over 50.00).\n\n\
         # 1. validate SAVE10 and lock it (prints the answer, keeps the lockReference in $REF)\n\
         REF=$(curl -s -X POST {base}/coupons/validate {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"coupons\":[\"SAVE10\"],\"lock\":true,\"totalPurchaseAmount\":250}}' \
         | tee /dev/stderr | sed -E 's/.*\"lockReference\":\"([0-9a-f]+)\".*/\\1/'); echo\n\
         # 2. read the lock\n\
         curl -s {base}/locks/$REF {auth}; echo\n\
         # 3. release it\n\
         curl -s -X DELETE {base}/coupons/$REF {auth}; echo\n\
         # 4. the v3.0 hold API: validate and hold FREESHIP (answers a holdReference)\n\
         curl -s -X POST {v3}/coupons/FREESHIP/validate {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"lock\":true}}'; echo\n\
         # 5. the SDK-era API (what Gameball's SDKs call): validate SAVE10 with the body hash\n\
         curl -s -X POST {v3}/coupon/validate -H 'APIKey: {API_KEY}' -H 'content-type: application/json' \
         -d '{{\"playerUniqueId\":\"cust-1\",\"code\":\"SAVE10\",\"hash\":\"{hash}\"}}'; echo\n\
         # 6. spend {REWARD_POINTS} points on ruleId {REWARD_RULE_ID}: a coupon for cust-1\n\
         curl -s -X POST {base}/coupons/predefined {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"ruleId\":{REWARD_RULE_ID}}}'; echo\n\
         # 7. cust-1's coupons\n\
         curl -s {base}/customers/cust-1/coupons {auth}; echo\n\
         # 8. the automatic promotion for a 120.00 cart\n\
         curl -s -X POST {base}/coupons/automatic {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"cartId\":\"cart-1\",\"totalPrice\":120}}'; echo\n\
         # 9. pay with {PUBLISHED_CODE}\n\
         curl -s -X POST {base}/payments {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"paymentId\":\"pay-1\",\"paymentDate\":\"2026-01-01T12:00:00Z\",\"totalPaid\":110,\"redemption\":{{\"couponCodes\":[\"{PUBLISHED_CODE}\"]}}}}'; echo\n\
         # 10. refund that payment\n\
         curl -s -X POST {base}/transactions/refund {auth} -H 'content-type: application/json' \
         -d '{{\"customerId\":\"cust-1\",\"refundTransactionId\":\"refund-1\",\"reverseTransactionId\":\"pay-1\",\"transactionTime\":\"2026-01-01T13:00:00Z\"}}'; echo\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_project_has_the_ids_the_adapter_is_configured_with() {
        let sim = SimBuilder::new().seed(seed(0)).build().expect("the demo seed loads");
        let project = sim.project(DEFAULT_APP_ID).expect("the default project");
        project.with(|p| {
            assert!(p.campaign(LOYALTY_CAMPAIGN_ID).is_some());
            assert!(p.campaign(REWARD_CAMPAIGN_ID).is_some());
            assert!(p.tiers.contains_key(PROMOTION_TIER_ID));
            assert!(p.rewards.contains_key(REWARD_ID));
            let a = &p.reward_assignments[REWARD_ASSIGNMENT_ID];
            assert_eq!((a.campaign_id.as_str(), a.points), (LOYALTY_CAMPAIGN_ID, REWARD_POINTS));
            let card = p.voucher(LOYALTY_CARD_CODE).expect("the card");
            assert_eq!(card.loyalty.map(|l| l.balance), Some(LOYALTY_POINTS));
            let holder = card.holder_id.clone();
            assert!(holder.is_some());
            assert_eq!(p.voucher(PUBLISHED_CODE).and_then(|v| v.holder_id.clone()), holder);
        });
        let text = instructions("127.0.0.1:1".parse().unwrap(), None);
        for id in [
            LOYALTY_CAMPAIGN_ID,
            REWARD_ID,
            PROMOTION_TIER_ID,
            "/coupons/predefined",
            "/transactions/refund",
        ] {
            assert!(text.contains(id), "{id} is printed");
        }
    }
}
