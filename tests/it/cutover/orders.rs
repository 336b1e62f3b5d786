//! Orders keep their points: redeemed in Voucherify, then passed on to
//! Gameball without their coupon part, exactly once per order id.

use serde_json::json;

use super::{adapter, at_gameball, gameball, gameball_calls, holds_nothing};
use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};

both_stores!(
    orders_keep_their_points_exactly_once_on_both_sides,
    a_refund_of_a_forwarded_order_gives_coupons_back_here_and_points_back_at_gameball,
    an_order_gameball_fails_is_passed_on_by_its_retry_without_redeeming_again,
);

async fn orders_keep_their_points_exactly_once_on_both_sides(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    let order = json!({"customerId": "dave", "orderId": "ORD-P", "totalPaid": 120, "totalPrice": 130,
        "lineItems": [{"productId": "p-1", "price": 130, "quantity": 1}],
        "redemption": {"couponCodes": ["ONCE"], "pointsHoldReference": "HOLD-7"}});
    let r = env.post("/orders", order.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["rewardedPoints"],
        120,
        "Gameball's answer, points and all: {}",
        r.text()
    );
    assert_eq!(env.redeemed("ONCE"), 1);
    let at_gb = gb.orders("ORD-P");
    assert_eq!(at_gb.len(), 1);
    assert_eq!(at_gb[0]["redemption"], json!({"pointsHoldReference": "HOLD-7"}));
    assert_eq!(at_gb[0]["lineItems"][0]["productId"], "p-1", "everything else as sent");
    // The same order id again: nothing more redeemed, nothing more sent.
    let again = env.post("/orders", order).await;
    assert_eq!((again.status, again.json()["code"].clone()), (422, json!(9004)));
    assert_eq!((env.redeemed("ONCE"), gb.orders("ORD-P").len()), (1, 1));
    // gb-alpha's send_order: discountCodes redeemed here, the points hold
    // and redeemed amount at Gameball.
    let send_order = env
        .gb_as(
            &[("APIKey", API_KEY), ("secretKey", SECRET_KEY)],
            "POST",
            "/api/v3.0/integrations/order",
            Some(
                json!({"playerUniqueId": "erin", "orderId": "SDK-1", "totalPaid": 40, "discountCodes": ["TWICE"],
                "holdReference": "HOLD-8", "redeemedAmount": 5}),
            ),
        )
        .await;
    assert_eq!(send_order.status, 200, "{}", send_order.text());
    assert_eq!(env.redeemed("TWICE"), 1);
    let sdk = gb.orders("SDK-1");
    assert_eq!(sdk.len(), 1);
    assert!(
        sdk[0].get("discountCodes").is_none() && sdk[0]["holdReference"] == "HOLD-8",
        "{}",
        sdk[0]
    );
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "orders", "forward"), 2.0, "{m}");
    holds_nothing(&env, &gb);
}

async fn an_order_gameball_fails_is_passed_on_by_its_retry_without_redeeming_again(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    let order = json!({"customerId": "fay", "orderId": "ORD-F", "totalPaid": 60,
        "redemption": {"couponCodes": ["ONCE"]}});
    gb.fail_next(&format!("{V}/orders"), 1);
    let failed = env.post("/orders", order.clone()).await;
    assert_eq!(failed.status, 500, "Gameball's own failure: {}", failed.text());
    assert_eq!(env.redeemed("ONCE"), 1, "the coupon stays redeemed for the retry");
    let retried = env.post("/orders", order.clone()).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(env.redeemed("ONCE"), 1, "not redeemed again");
    assert_eq!(gb.received("/orders").len(), 2, "the failed attempt and the retry");
    assert_eq!(gb.orders("ORD-F").len(), 1, "kept once");
    let third = env.post("/orders", order).await;
    assert_eq!(third.json()["code"], 9004);
    // Its refund reaches Gameball too, though the retry (not the first
    // attempt) passed it on.
    let refund = env
        .post(
            "/transactions/refund",
            json!({"customerId": "fay", "refundTransactionId": "RF-F", "reverseTransactionId": "ORD-F",
                "transactionTime": "2026-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text());
    assert!(
        gb.state.lock().unwrap().refunds.contains_key("ORD-F"),
        "points reversed at Gameball"
    );
    assert_eq!(env.redeemed("ONCE"), 0, "the coupon given back");
    // Gameball refuses an order outright: the redemption is rolled back,
    // the merchant told so, and may send the order again.
    let dup = at_gameball(
        &env,
        &gb,
        "POST",
        "/orders",
        json!({"customerId": "gus", "orderId": "ORD-X"}),
    )
    .await;
    assert_eq!(dup["customerId"], "gus");
    let refused = env
        .post(
            "/orders",
            json!({"customerId": "gus", "orderId": "ORD-X", "totalPaid": 10,
            "redemption": {"couponCodes": ["TWICE"]}}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.json()["message"].as_str().unwrap().contains("rolled back"),
        "{}",
        refused.text()
    );
    assert_eq!(
        env.redeemed("TWICE"),
        0,
        "no coupon redeemed for an order Gameball refused"
    );
    holds_nothing(&env, &gb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_gameball_an_order_with_points_is_refused_and_one_without_is_kept() {
    let env = Env::start(StoreKind::Memory).await;
    let points = env
        .post(
            "/orders",
            json!({"customerId": "hal", "orderId": "O-1", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"], "pointsHoldReference": "H"}}),
        )
        .await;
    assert_eq!(points.status, 422, "{}", points.text());
    assert!(points.json()["message"].as_str().unwrap().contains("points"));
    assert_eq!(env.redeemed("AMOUNT10"), 0, "refused before anything is redeemed");
    let plain = env
        .post(
            "/orders",
            json!({"customerId": "hal", "orderId": "O-2", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(plain.json()["rewardedPoints"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_orders_off_keeps_orders_from_gameball_and_refuses_points() {
    let gb = gameball().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[migration]\nforward_orders = false\n",
            gb.url()
        ))
        .start()
        .await;
    let plain = env
        .post(
            "/orders",
            json!({"customerId": "ivy", "orderId": "ORD-N", "totalPaid": 10,
            "redemption": {"couponCodes": ["AMOUNT10"]}}),
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(env.redeemed("AMOUNT10"), 1);
    assert!(gb.received("/orders").is_empty(), "not forwarded");
    let points = env
        .post(
            "/orders",
            json!({"customerId": "ivy", "orderId": "ORD-M", "totalPaid": 10,
            "redemption": {"couponCodes": ["TWICE"], "pointsHoldReference": "HOLD-9"}}),
        )
        .await;
    assert_eq!(points.status, 422, "{}", points.text());
    assert_eq!(env.redeemed("TWICE"), 0);
}

async fn a_refund_of_a_forwarded_order_gives_coupons_back_here_and_points_back_at_gameball(store: StoreKind) {
    let gb = gameball().await;
    let env = adapter(store, &gb, "").await;
    let order = env
        .post(
            "/orders",
            json!({"customerId": "kim", "orderId": "ORD-R", "totalPaid": 30,
            "redemption": {"couponCodes": ["ONCE"]}}),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    let refund = json!({"customerId": "kim", "refundTransactionId": "RF-1", "reverseTransactionId": "ORD-R",
        "transactionTime": "2026-01-02T00:00:00Z"});
    gb.fail_next(&format!("{V}/transactions/refund"), 1);
    let failed = env.post("/transactions/refund", refund.clone()).await;
    assert_eq!(failed.status, 503, "{}", failed.text());
    assert!(failed.text().contains("the points were not"), "{}", failed.text());
    assert_eq!(env.redeemed("ONCE"), 0, "the coupon given back already");
    let retried = env.post("/transactions/refund", refund).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(
        retried.json()["gameballTransactionId"],
        "gb-ORD-R",
        "Gameball's answer: {}",
        retried.text()
    );
    assert!(
        gb.state.lock().unwrap().refunds.contains_key("ORD-R"),
        "points reversed at Gameball"
    );
    assert_eq!(env.redeemed("ONCE"), 0, "given back once");
    let m = env.metrics().await;
    assert_eq!(gameball_calls(&m, "refunds", "forward"), 2.0, "{m}");
}

/// Gameball fields couponbridge does not act on, when it answers the call
/// itself, are named in the answer and counted; forwarded, they are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_answered_here_but_not_acted_on_are_named_and_counted() {
    let env = Env::start(StoreKind::Memory).await;
    let v = env
        .validate(json!({"customerId": "lia", "coupons": ["AMOUNT10"], "merchantId": "m-1", "collectionsIds": ["c"]}))
        .await;
    assert_eq!(v.status, 200, "{}", v.text());
    assert_eq!(v.header("x-couponbridge-unused"), Some("merchantId, collectionsIds"));
    let order = env
        .post(
            "/orders",
            json!({"customerId": "lia", "orderId": "O-U", "totalPaid": 10, "channel": "web",
            "lineItems": [{"productId": "p", "price": 10, "quantity": 1}]}),
        )
        .await;
    assert_eq!(order.header("x-couponbridge-unused"), Some("lineItems, channel"));
    let plain = env
        .validate(json!({"customerId": "lia", "coupons": ["AMOUNT10"]}))
        .await;
    assert!(plain.header("x-couponbridge-unused").is_none());
    let m = env.metrics().await;
    let unused = |route: &str, field: &str| {
        crate::common::metric(
            &m,
            &format!("couponbridge_unused_fields_total{{tenant=\"shop\",route=\"{route}\",field=\"{field}\"}}"),
        )
    };
    assert_eq!(
        (unused("validate", "merchantId"), unused("orders", "lineItems")),
        (1.0, 1.0),
        "{m}"
    );
    // Forwarded to Gameball, the order loses nothing and says nothing.
    let gb = gameball().await;
    let env = adapter(StoreKind::Memory, &gb, "").await;
    let order = env
        .post(
            "/orders",
            json!({"customerId": "lia", "orderId": "O-F", "totalPaid": 10, "channel": "web"}),
        )
        .await;
    assert!(order.header("x-couponbridge-unused").is_none());
    assert_eq!(gb.orders("O-F")[0]["channel"], "web");
}

/// Gameball takes no answer in time: the merchant gets the timeout, the
/// coupons stay redeemed, and the retry only sends the order on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_gameball_does_not_answer_in_time_is_finished_by_its_retry() {
    let gb = gameball().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\ntimeout = \"300ms\"\n",
            gb.url()
        ))
        .start()
        .await;
    gb.hang_next(&format!("{V}/orders"));
    let order = json!({"customerId": "max", "orderId": "ORD-H", "totalPaid": 20,
        "redemption": {"couponCodes": ["ONCE"], "pointsHoldReference": "H-9"}});
    let first = env.post("/orders", order.clone()).await;
    assert!(
        first.status >= 500,
        "Gameball's silence is an error to retry: {}",
        first.text()
    );
    assert_eq!(env.redeemed("ONCE"), 1, "the coupon stays redeemed for the retry");
    let retried = env.post("/orders", order).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(env.redeemed("ONCE"), 1, "not redeemed again");
    assert_eq!(gb.orders("ORD-H").len(), 1, "at Gameball once");
    holds_nothing(&env, &gb);
}
