//! The runbook end to end, as one merchant runs it, with reloads between
//! the steps and checkouts in flight across each: everything passed
//! through, wallets imported, validation switched (coupons not imported
//! still found at Gameball), then everything switched. Each checkout
//! finishes where its lock was taken, Gameball keeps every order for its
//! points, and the share of calls sent to Gameball falls to what only it
//! can answer.

use serde_json::json;

use super::{gameball_calls, holds_nothing};
use crate::common::env::{Env, StoreKind};
use crate::common::gameball::{Gameball, GbCoupon};

both_stores!(the_runbook_switches_a_merchant_with_checkouts_in_flight);

const EVERY_ROUTE: [&str; 14] = [
    "validate",
    "validate_single",
    "lock_details",
    "release",
    "burn",
    "orders",
    "predefined",
    "customer_coupons",
    "automatic",
    "payments",
    "refunds",
    "coupon_validate",
    "coupon_redeem",
    "coupon_create",
];

/// `[passthrough]`, `[migration]` and the routes set to `mode` except
/// those in `translated`.
fn step(gb: &Gameball, translated: &[&str]) -> String {
    let mut text = format!(
        "[passthrough]\nupstream = \"{}\"\n[migration]\ncoupon_fallback = true\n[routes]\n",
        gb.url()
    );
    for op in EVERY_ROUTE {
        let mode = if translated.contains(&op) {
            "translate"
        } else {
            "passthrough"
        };
        text.push_str(&format!("{op} = \"{mode}\"\n"));
    }
    text
}

/// Runs `couponbridge import-coupons` on the adapter's own configuration.
async fn import(env: &Env, customers: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("couponbridge.toml");
    std::fs::write(&config, env.config_text()).unwrap();
    let list = dir.path().join("customers.txt");
    std::fs::write(&list, customers).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_couponbridge"))
        .arg("import-coupons")
        .arg("--config")
        .arg(&config)
        .args(["--tenant", "shop", "--customers"])
        .arg(&list)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().last().unwrap_or_default().to_owned()
}

async fn the_runbook_switches_a_merchant_with_checkouts_in_flight(store: StoreKind) {
    let gb = Gameball::start(vec![
        GbCoupon::new("ZOE-15", "Fixed Rate Discount", 15.0).owned_by("zoe"),
        GbCoupon::new("SPRING", "Percentage", 10.0),
    ])
    .await;
    let mut env = Env::builder(store).start().await;
    // 1. In front of Gameball, changing nothing.
    env.reload_with(&step(&gb, &[])).await;
    let early = env
        .validate(json!({"customerId": "amy", "coupons": ["SPRING"], "lock": true}))
        .await;
    let early_lock = early.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    // 2. The wallets copied (twice: the second run creates nothing).
    assert_eq!(
        import(&env, "zoe\n").await,
        "created 1, already there 0, skipped 0, conflicts 0, failed 0"
    );
    assert_eq!(
        import(&env, "zoe\n").await,
        "created 0, already there 1, skipped 0, conflicts 0, failed 0"
    );
    // 3. Validation switched; amy's checkout is in flight with Gameball's lock.
    env.reload_with(&step(&gb, &["validate", "validate_single"])).await;
    let zoe = env
        .validate(json!({"customerId": "zoe", "coupons": ["ZOE-15", "AMOUNT10"], "lock": true}))
        .await;
    assert_eq!(zoe.status, 200, "{}", zoe.text());
    let zoe_lock = zoe.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        gb.received(&zoe_lock).is_empty(),
        "an imported coupon is Voucherify's now"
    );
    // A coupon nobody imported (not in a wallet) is still Gameball's.
    let bob = env
        .validate(json!({"customerId": "bob", "coupons": ["SPRING"], "lock": true}))
        .await;
    assert_eq!(bob.json()["validCoupons"][0]["code"], "SPRING", "{}", bob.text());
    let bob_lock = bob.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    // 4. Everything switched, three checkouts in flight.
    env.reload_with(&step(&gb, &EVERY_ROUTE)).await;
    for (customer, order_id, lock) in [
        ("amy", "ORD-1", &early_lock),
        ("zoe", "ORD-2", &zoe_lock),
        ("bob", "ORD-3", &bob_lock),
    ] {
        let r = env
            .post(
                "/orders",
                json!({"customerId": customer, "orderId": order_id, "totalPaid": 50,
                "redemption": {"couponsLockReference": lock, "pointsHoldReference": format!("H-{customer}")}}),
            )
            .await;
        assert_eq!(r.status, 200, "{order_id}: {}", r.text());
        assert_eq!(gb.orders(order_id).len(), 1, "{order_id} at Gameball for its points");
    }
    assert_eq!(
        gb.used("SPRING"),
        2,
        "amy's and bob's burned at Gameball, which locked them"
    );
    assert_eq!(gb.used("ZOE-15"), 0, "zoe's is Voucherify's now");
    assert_eq!((env.redeemed("ZOE-15"), env.redeemed("AMOUNT10")), (1, 1));
    assert_eq!(
        gb.orders("ORD-2")[0]["redemption"],
        json!({"pointsHoldReference": "H-zoe"})
    );
    // 5. What is still sent to Gameball, and why.
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "validate", "route"), 1.0, "{m}");
    assert_eq!(gameball_calls(&m, "validate", "fallback"), 1.0, "{m}");
    assert_eq!(
        gameball_calls(&m, "orders", "reference"),
        2.0,
        "amy's and bob's locks: {m}"
    );
    assert_eq!(
        gameball_calls(&m, "orders", "forward"),
        1.0,
        "zoe's order, for its points: {m}"
    );
    holds_nothing(&env, &gb);
}
