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

/// The demo's coupons: SAVE10 (10 % off, capped at 50.00, unlimited),
/// TAKE20 (20.00 off orders of 100.00 or more), FREESHIP (free shipping),
/// ONCE (single use), EXPIRED (expired yesterday), LATER (starts in a year).
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
    ])
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
        "#
    );
    Config::from_toml(&text).expect("the demo configuration is valid")
}

/// Starts the simulator with the demo coupons on a free loopback port.
pub async fn simulator(clock: Clock) -> Result<RunningSim, Box<dyn std::error::Error + Send + Sync>> {
    SimBuilder::new()
        .seed(coupons(clock.now()))
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
         Coupons: SAVE10 (10% off, max 50.00), TAKE20 (20.00 off orders >= 100.00), FREESHIP, ONCE (single use), EXPIRED, LATER.\n\n\
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
         -d '{{\"playerUniqueId\":\"cust-1\",\"code\":\"SAVE10\",\"hash\":\"{hash}\"}}'; echo\n"
    )
}
