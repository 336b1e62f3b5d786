//! Shadow runs the very same operations as a translated call, with dry
//! effects: so a couponbridge shadowing another couponbridge (each with a
//! simulator of its own, seeded alike) answers every route as that one
//! did, in every dialect. Whatever an operation answers, its shadow answers
//! too, with no code of its own to keep in step: `src/shadow/` reaches the
//! operations only through `ops::apply` (tests/it/architecture.rs holds it
//! to that). The writes a dry run cannot make (spending points, rolling
//! back a redemption) are counted as errors, and nothing is written to the
//! shadow's Voucherify.

use serde_json::{Value, json};

use crate::common::env::{API_KEY, Env, StoreKind};
use crate::common::metric;
use crate::dialects::sdk_hash;
use crate::shadow::{compared, lines, series, shadow_dir};

/// Every operation of the route table in shadow mode.
fn every_route_in_shadow(gameball: &str, dir: &std::path::Path) -> String {
    let routes: String = couponbridge::domain::Operation::ALL
        .iter()
        .map(|o| format!("{} = \"shadow\"\n", o.name()))
        .collect();
    format!(
        "[passthrough]\nupstream = \"{gameball}\"\n[routes]\n{routes}[shadow]\npath = \"{}\"\n",
        dir.display()
    )
}

/// One call: method, path, body (the SDK-era ones get their body hash).
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn call(method: &'static str, path: &str, body: Option<Value>) -> Call {
    Call {
        method,
        path: path.to_owned(),
        body,
    }
}

fn sdk(version: &str, path: &str, player: &str, mut body: Value) -> Call {
    body["playerUniqueId"] = player.into();
    body["hash"] = sdk_hash(player, crate::common::env::SECRET_KEY).into();
    call("POST", &format!("/api/{version}/integrations/{path}"), Some(body))
}

/// The lock reference an answer handed out, under any dialect's name.
fn reference(v: &Value) -> String {
    couponbridge::shadow::find_reference(v)
        .expect("a lock reference")
        .to_owned()
}

async fn send(env: &Env, c: &Call) -> (u16, Value) {
    let r = if c.path.contains("/v2.0/") || c.path.contains("/integrations/coupon/") || c.path.ends_with("/coupon") {
        env.gb_as(&[("APIKey", API_KEY)], c.method, &c.path, c.body.clone())
            .await
    } else {
        env.gb(c.method, &c.path, c.body.clone()).await
    };
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

/// The calls of one checkout's life and the lifecycle around it, in the
/// order a merchant makes them; locks are taken first, their follow-ups
/// built from the references Gameball (the other couponbridge) gave.
async fn every_route(env: &Env, v: &str) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    let mut go = async |c: Call| {
        let (status, body) = send(env, &c).await;
        seen.push((format!("{} {}", c.method, c.path), status));
        body
    };
    // Invalid coupons (the published dialect then locks nothing), then a lock.
    go(call(
        "POST",
        &format!("{v}/coupons/validate"),
        Some(json!({"customerId": "alice", "coupons": ["AMOUNT10", "NOPE", "EXPIRED"], "lock": true})),
    ))
    .await;
    let lock = go(call(
        "POST",
        &format!("{v}/coupons/validate"),
        Some(
            json!({"customerId": "alice", "coupons": ["AMOUNT10", "MIN100"], "lock": true, "totalPurchaseAmount": 250}),
        ),
    ))
    .await;
    let r1 = reference(&lock);
    go(call("GET", &format!("{v}/locks/{r1}"), None)).await;
    let single = go(call(
        "POST",
        &format!("{v}/coupons/PERCENT20/validate"),
        Some(json!({"customerId": "alice", "lock": true})),
    ))
    .await;
    let r2 = reference(&single);
    go(call("DELETE", &format!("{v}/coupons/{r2}"), None)).await;
    go(call(
        "POST",
        &format!("{v}/coupons/burn"),
        Some(json!({"customerId": "alice", "lockReference": r1, "transactionId": "tx-1"})),
    ))
    .await;
    go(call(
        "POST",
        &format!("{v}/coupons/burn"),
        Some(json!({"customerId": "bob", "coupons": ["AMOUNT10"]})),
    ))
    .await;
    let third = go(call(
        "POST",
        &format!("{v}/coupons/validate"),
        Some(json!({"customerId": "carol", "coupons": ["FIXED50"], "lock": true})),
    ))
    .await;
    let r3 = reference(&third);
    go(call(
        "POST",
        &format!("{v}/coupons/release"),
        Some(json!({"lockReference": r3})),
    ))
    .await;
    go(call(
        "POST",
        &format!("{v}/orders"),
        Some(json!({"customerId": "dave", "orderId": "ORD-1", "totalPaid": 120, "redemption": {"couponCodes": ["ONCE"]}})),
    ))
    .await;
    go(call(
        "POST",
        &format!("{v}/payments"),
        Some(json!({"customerId": "erin", "paymentId": "PAY-1", "totalPaid": 80, "redemption": {"couponCodes": ["TWICE"]}})),
    ))
    .await;
    go(call("GET", &format!("{v}/customers/dave/coupons"), None)).await;
    go(call(
        "POST",
        &format!("{v}/coupons/automatic"),
        Some(json!({"customerId": "dave", "cartId": "cart-1", "totalPrice": 40})),
    ))
    .await;
    go(call(
        "POST",
        &format!("{v}/coupons/predefined"),
        Some(json!({"customerId": "dave", "ruleId": 7})),
    ))
    .await;
    go(call(
        "POST",
        &format!("{v}/transactions/refund"),
        Some(
            json!({"customerId": "dave", "refundTransactionId": "R-1", "reverseTransactionId": "ORD-1",
                    "transactionTime": "2026-01-02T00:00:00Z"}),
        ),
    ))
    .await;
    let hold = go(call(
        "POST",
        "/api/v3.0/integrations/coupons/validate",
        Some(json!({"customerId": "frank", "coupons": ["PERCENT20"], "lock": true})),
    ))
    .await;
    let h = reference(&hold);
    go(call(
        "POST",
        &format!("/api/v3.0/integrations/coupons/{h}/burn"),
        Some(json!({"customerId": "frank"})),
    ))
    .await;
    go(sdk("v3.0", "coupon/validate", "gina", json!({"code": "AMOUNT10"}))).await;
    go(sdk("v2.0", "coupon/redeem", "gina", json!({"code": "AMOUNT10"}))).await;
    go(sdk(
        "v3.0",
        "coupon",
        "gina",
        json!({"code": "GINA-5", "value": 5, "valueType": "fixed_amount"}),
    ))
    .await;
    seen
}

async fn shadowed_against_couponbridge(dialect: &str) {
    let tenant = format!("dialect = \"{dialect}\"");
    let gameball = Env::builder(StoreKind::Memory).tenant(&tenant).start().await;
    let dir = shadow_dir(&format!("routes-{dialect}"));
    let env = Env::builder(StoreKind::Memory)
        .tenant(&tenant)
        .toml(&every_route_in_shadow(&gameball.url(""), &dir))
        .start()
        .await;
    let calls = every_route(&env, "/api/v4.0/integrations").await;
    assert!(
        calls.iter().all(|(_, s)| *s < 500),
        "Gameball (the other couponbridge) answered them all: {calls:?}"
    );
    let mut m = String::new();
    for op in couponbridge::domain::Operation::ALL {
        let n = calls.iter().filter(|(c, _)| route_of(c) == Some(op)).count();
        m = compared(&env, op.name(), n as f64).await;
    }
    let unmatched: Vec<String> = couponbridge::domain::Operation::ALL
        .iter()
        .flat_map(|op| ["mismatch", "error", "dropped"].map(|r| (op.name(), r)))
        .filter(|(route, result)| metric(&m, &series(route, result)) > 0.0)
        .map(|(route, result)| format!("{route}: {result} {}", metric(&m, &series(route, result))))
        .collect();
    // A refund rolls back redemptions: a dry run withholds that write.
    assert_eq!(unmatched, ["refunds: error 1"], "{dialect}:\n{:#?}", lines(&dir));
    // The shadow's Voucherify was only read.
    for code in ["AMOUNT10", "ONCE", "TWICE", "PERCENT20"] {
        assert_eq!(env.redeemed(code), 0, "{code} redeemed by the shadow");
    }
    assert!(env.live_sessions().is_empty(), "{:?}", env.live_sessions());
    assert!(
        env.project(|p| !p.vouchers.contains_key("GINA-5")),
        "the shadow created no coupon"
    );
}

fn route_of(call: &str) -> Option<couponbridge::domain::Operation> {
    let (method, path) = call.split_once(' ')?;
    couponbridge::gameball::routes::route(&method.parse().ok()?, path).map(|m| m.op())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_seed_dialect_matches_the_translated_flow() {
    shadowed_against_couponbridge("seed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_published_dialect_matches_the_translated_flow() {
    shadowed_against_couponbridge("published").await;
}
