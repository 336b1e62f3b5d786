//! The published v4.0 dialect, the v3.0 hold API and the SDK-era
//! discount-coupon API, over real sockets, on both lock stores. Published
//! answers are held to Gameball's own OpenAPI schemas.

use std::time::Duration;

use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::model::ApplicationMode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::common::codes;
use crate::common::env::{API_KEY, AUTH, Env, SECRET_KEY, StoreKind, V};
use crate::common::gameball_schema::assert_matches;

both_stores!(
    published_single_validation_matches_gameballs_schema,
    published_multiple_validation_is_atomic_in_all_mode,
    published_multiple_validation_is_atomic_in_partial_mode,
    published_lock_then_burn_and_release_match_the_schema,
    published_relock_with_an_invalid_coupon_changes_nothing,
    hold_validate_then_burn_by_hold_reference,
    hold_validate_then_release_by_hold_reference,
    hold_reference_re_holds_in_the_same_session,
    sdk_validate_redeem_and_create,
    sdk_wrong_hash_redeems_nothing,
    sdk_redeem_after_a_lost_answer_is_reconciled,
);

const SINGLE: &str = "/api/v4.0/integrations/coupons/{code}/validate";
const MULTIPLE: &str = "/api/v4.0/integrations/coupons/validate";
const V3: &str = "/api/v3.0/integrations";

async fn published(store: StoreKind, mode: ApplicationMode) -> Env {
    Env::builder(store)
        .mode(mode)
        .tenant("dialect = \"published\"")
        .start()
        .await
}

async fn published_single_validation_matches_gameballs_schema(store: StoreKind) {
    let env = published(store, ApplicationMode::All).await;
    let body = json!({"customerId": "cust-1", "lock": true, "totalPurchaseAmount": 250});
    let r = env
        .gb("POST", &format!("{V}/coupons/PERCENT20/validate"), Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_matches("post", SINGLE, &v);
    assert_eq!(v["valid"], true);
    assert_eq!(v["coupon"]["code"], "PERCENT20");
    assert_eq!(v["coupon"]["type"], "percentage");
    assert_eq!(v["coupon"]["value"], 20);
    assert_eq!(v["coupon"]["capping"], 30);
    assert!(v["lockReference"].is_string() && v["dateToExpire"].is_string(), "{v}");
    assert!(
        v.get("isValid").is_none() && v.get("validCoupons").is_none(),
        "no seed fields: {v}"
    );
    assert_eq!(env.live_sessions().len(), 1);

    for (code, reason) in [("EXPIRED", "expired"), ("NOPE", "not_found")] {
        let r = env
            .gb(
                "POST",
                &format!("{V}/coupons/{code}/validate"),
                Some(json!({"customerId": "cust-1", "lock": true})),
            )
            .await;
        let v = r.json();
        assert_matches("post", SINGLE, &v);
        assert_eq!(
            (v["valid"].clone(), v["coupon"]["reason"].clone()),
            (json!(false), json!(reason)),
            "{v}"
        );
        assert!(v.get("lockReference").is_none(), "nothing locked: {v}");
        assert!(!v.to_string().contains("null"), "absent values are left out: {v}");
    }
    assert_eq!(env.live_sessions().len(), 1, "the invalid codes took no session");
}

async fn atomic(env: &Env) {
    let body = json!({"customerId": "cust-1", "coupons": ["AMOUNT10", "EXPIRED", "PERCENT20"], "lock": true});
    let r = env.validate(body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_matches("post", MULTIPLE, &v);
    assert_eq!(v["valid"], false);
    assert!(v.get("lockReference").is_none(), "no reference: {v}");
    let codes = codes(&v["coupons"]);
    assert_eq!(codes, ["AMOUNT10", "EXPIRED", "PERCENT20"]);
    assert_eq!(v["coupons"][1]["reason"], "expired");
    assert!(
        env.live_sessions().is_empty(),
        "nothing stays locked: {:?}",
        env.live_sessions()
    );
}

async fn published_multiple_validation_is_atomic_in_all_mode(store: StoreKind) {
    atomic(&published(store, ApplicationMode::All).await).await;
}

async fn published_multiple_validation_is_atomic_in_partial_mode(store: StoreKind) {
    // PARTIAL mode locks the valid ones; couponbridge gives them back.
    atomic(&published(store, ApplicationMode::Partial).await).await;
}

async fn published_lock_then_burn_and_release_match_the_schema(store: StoreKind) {
    let env = published(store, ApplicationMode::All).await;
    let lock = |codes: Value| env.validate(json!({"customerId": "cust-1", "coupons": codes, "lock": true}));
    let v = lock(json!(["AMOUNT10", "FIXED50", "FREESHIP"])).await.json();
    assert_matches("post", MULTIPLE, &v);
    assert_eq!(v["valid"], true);
    let types: Vec<&str> = v["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["fixed", "fixed", "shipping"],
        "FIXED is written in the reference's enum"
    );
    let reference = v["lockReference"].as_str().unwrap().to_owned();

    let burn = env
        .gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "cust-1", "lockReference": reference})),
        )
        .await;
    assert_eq!(burn.status, 200, "{}", burn.text());
    assert_matches("post", "/api/v4.0/integrations/coupons/burn", &burn.json());
    assert_eq!(env.redeemed("AMOUNT10"), 1);

    let second = lock(json!(["PERCENT20"])).await.json();
    let reference = second["lockReference"].as_str().unwrap();
    let released = env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await;
    assert_eq!(released.status, 200, "{}", released.text());
    assert_matches(
        "delete",
        "/api/v4.0/integrations/coupons/{lockReference}",
        &released.json(),
    );
    let details = env.gb("GET", &format!("{V}/locks/{reference}"), None).await.json();
    assert_matches("get", "/api/v4.0/integrations/locks/{lockReference}", &details);
    assert_eq!(details["isExpired"], true, "{details}");
    assert!(details.get("usedAt").is_none(), "absent values are left out: {details}");
    assert!(env.live_sessions().is_empty());
}

async fn published_relock_with_an_invalid_coupon_changes_nothing(store: StoreKind) {
    let env = published(store, ApplicationMode::Partial).await;
    let first = env
        .validate(json!({"customerId": "cust-1", "coupons": ["AMOUNT10"], "lock": true}))
        .await
        .json();
    let reference = first["lockReference"].as_str().unwrap().to_owned();
    let body = json!({"customerId": "cust-1", "coupons": ["AMOUNT10", "PERCENT20", "EXPIRED"], "lock": true,
                      "lockReference": reference});
    let v = env.validate(body).await.json();
    assert_matches("post", MULTIPLE, &v);
    assert_eq!(v["valid"], false);
    assert!(v.get("lockReference").is_none(), "{v}");
    assert_eq!(v["coupons"][1]["reason"], "not_applied");
    let held: Vec<String> = env
        .live_sessions()
        .iter()
        .map(|s| s["voucher"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(held, ["AMOUNT10"], "the lock keeps what it had, nothing added");
    let details = env.gb("GET", &format!("{V}/locks/{reference}"), None).await.json();
    assert_eq!(details["coupons"].as_array().unwrap().len(), 1, "{details}");
}

async fn hold(env: &Env, path: &str, body: Value) -> crate::common::Reply {
    let auth = [("APIKey", API_KEY), ("SecretKey", SECRET_KEY)];
    env.gb_as(&auth, "POST", &format!("{V3}{path}"), Some(body)).await
}

async fn hold_validate_then_burn_by_hold_reference(store: StoreKind) {
    let env = Env::start(store).await;
    let r = hold(
        &env,
        "/coupons/ONCE/validate",
        json!({"customerId": "cust-1", "lock": true, "holdReference": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["coupon"]["code"], "ONCE");
    assert!(v.get("lockReference").is_none(), "v3.0 calls it holdReference: {v}");
    let reference = v["holdReference"].as_str().expect("a hold reference").to_owned();
    assert!(v["dateToExpire"].is_string());

    let burn = hold(
        &env,
        &format!("/coupons/{reference}/burn"),
        json!({"customerId": "cust-1"}),
    )
    .await;
    assert_eq!(burn.status, 200, "{}", burn.text());
    assert_eq!(burn.json()["success"], true);
    assert_eq!(env.redeemed("ONCE"), 1);
    assert!(env.live_sessions().is_empty());

    let retry = hold(
        &env,
        &format!("/coupons/{reference}/burn"),
        json!({"customerId": "cust-1"}),
    )
    .await;
    assert_eq!(retry.status, 200, "the same burn again is its retry: {}", retry.text());
    let again = hold(
        &env,
        &format!("/coupons/{reference}/burn"),
        json!({"customerId": "cust-2"}),
    )
    .await;
    assert_eq!(again.status, 400);
    let e = again.json();
    assert_eq!(e["code"], 7, "the legacy envelope: {e}");
    assert!(e["message"].as_str().unwrap().contains("used"), "{e}");
    assert!(e.get("requestId").is_none(), "{e}");
    assert_eq!(env.redeemed("ONCE"), 1, "burned once");

    let missing = hold(&env, "/coupons/cbl_nope/burn", json!({"customerId": "cust-1"})).await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (404, json!(3)));
}

async fn hold_validate_then_release_by_hold_reference(store: StoreKind) {
    let env = Env::start(store).await;
    let r = hold(
        &env,
        "/coupons/validate",
        json!({"customerId": "cust-1", "coupons": ["AMOUNT10", "PERCENT20"], "lock": true}),
    )
    .await;
    let v = r.json();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["coupons"].as_array().unwrap().len(), 2);
    let reference = v["holdReference"].as_str().unwrap().to_owned();
    assert_eq!(env.live_sessions().len(), 2);

    let auth = [("APIKey", API_KEY), ("SecretKey", SECRET_KEY)];
    let released = env
        .gb_as(&auth, "DELETE", &format!("{V3}/coupons/{reference}/release"), None)
        .await;
    assert_eq!(released.status, 200, "{}", released.text());
    assert_eq!(released.json()["releasedCoupons"], json!(["AMOUNT10", "PERCENT20"]));
    assert!(env.live_sessions().is_empty());
    let burn = hold(
        &env,
        &format!("/coupons/{reference}/burn"),
        json!({"customerId": "cust-1"}),
    )
    .await;
    assert_eq!(burn.status, 400, "a released hold cannot be burned: {}", burn.text());
}

async fn hold_reference_re_holds_in_the_same_session(store: StoreKind) {
    let env = Env::start(store).await;
    let first = hold(
        &env,
        "/coupons/validate",
        json!({"customerId": "c", "coupons": ["AMOUNT10"], "lock": true}),
    )
    .await;
    let reference = first.json()["holdReference"].as_str().unwrap().to_owned();
    let body = json!({"customerId": "c", "coupons": ["PERCENT20"], "lock": true, "holdReference": reference});
    let second = hold(&env, "/coupons/validate", body).await.json();
    assert_eq!(second["holdReference"], json!(reference), "the same hold: {second}");
    let held: Vec<String> = env
        .live_sessions()
        .iter()
        .map(|s| s["voucher"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(held, ["PERCENT20"], "the dropped code was released");
}

pub(crate) fn sdk_hash(player: &str, secret: &str) -> String {
    Sha1::digest(format!("{player}:::{secret}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An SDK-era call as gb-alpha sends it (APIKey, secretKey, body hash).
async fn sdk(env: &Env, version: &str, path: &str, player: &str, mut body: Value) -> crate::common::Reply {
    body["playerUniqueId"] = player.into();
    body["transactionTime"] = "2026-12-02T06:22:52.090945Z".into();
    if body.get("hash").is_none() {
        body["hash"] = sdk_hash(player, SECRET_KEY).into();
    }
    let auth = [("APIKey", API_KEY)];
    env.gb_as(
        &auth,
        "POST",
        &format!("/api/{version}/integrations/{path}"),
        Some(body),
    )
    .await
}

async fn sdk_validate_redeem_and_create(store: StoreKind) {
    let env = Env::start(store).await;
    let ok = sdk(&env, "v3.0", "coupon/validate", "cust-1", json!({"code": "PERCENT20"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let v = ok.json();
    assert_eq!(
        (v["code"].clone(), v["valueType"].clone(), v["value"].clone()),
        (json!("PERCENT20"), json!("percentage"), json!(20))
    );
    assert_eq!(v["playerUniqueId"], "cust-1");
    assert!(env.live_sessions().is_empty(), "an SDK validation takes no session");

    let unknown = sdk(&env, "v3.0", "coupon/validate", "cust-1", json!({"code": "NOPE"})).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json(), json!({"code": 3, "message": "Coupon not found"}));
    let expired = sdk(&env, "v3.0", "coupon/validate", "cust-1", json!({"code": "EXPIRED"})).await;
    assert_eq!((expired.status, expired.json()["code"].clone()), (400, json!(7)));

    let redeemed = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "ONCE"})).await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.text());
    assert_eq!(redeemed.json()["success"], true);
    let again = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "ONCE"})).await;
    assert_eq!(again.status, 400, "{}", again.text());
    assert_eq!(again.json()["code"], 7);
    assert_eq!(env.redeemed("ONCE"), 1);

    // A multi-use code may be redeemed again by the same player.
    for _ in 0..2 {
        let r = sdk(&env, "v2.0", "Coupon/Redeem", "cust-2", json!({"code": "TWICE"})).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(env.redeemed("TWICE"), 2);

    let created = sdk(
        &env,
        "v3.0",
        "coupon",
        "cust-1",
        json!({"code": "NEW15", "value": 15, "valueType": "percentage", "cap": 40, "usageLimit": 1,
               "startAt": "2026-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(created.status, 200, "the SDKs take only 200: {}", created.text());
    let c = created.json();
    assert_eq!(
        (
            c["code"].clone(),
            c["value"].clone(),
            c["cap"].clone(),
            c["usageLimit"].clone()
        ),
        (json!("NEW15"), json!(15), json!(40), json!(1))
    );
    let valid = sdk(&env, "v3.0", "coupon/validate", "cust-1", json!({"code": "NEW15"})).await;
    assert_eq!(valid.status, 200, "{}", valid.text());
    let duplicate = sdk(&env, "v3.0", "coupon", "cust-1", json!({"code": "NEW15", "value": 1})).await;
    assert_eq!((duplicate.status, duplicate.json()["code"].clone()), (422, json!(14)));
    let generated = sdk(
        &env,
        "v2.0",
        "Coupon",
        "cust-1",
        json!({"value": 5, "valueType": "fixed_amount"}),
    )
    .await;
    assert_eq!(generated.status, 200, "{}", generated.text());
    assert!(
        !generated.json()["code"].as_str().unwrap().is_empty(),
        "Voucherify made a code"
    );
}

async fn sdk_wrong_hash_redeems_nothing(store: StoreKind) {
    let env = Env::start(store).await;
    let wrong = sdk(
        &env,
        "v3.0",
        "coupon/redeem",
        "cust-1",
        json!({"code": "ONCE", "hash": sdk_hash("cust-1", "guess")}),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["code"], 11);
    let other_player = sdk(
        &env,
        "v3.0",
        "coupon/redeem",
        "cust-1",
        json!({"code": "ONCE", "hash": sdk_hash("cust-2", SECRET_KEY)}),
    )
    .await;
    assert_eq!(other_player.json()["code"], 11, "the hash names the player");
    let missing = env
        .gb_as(
            &[("APIKey", API_KEY)],
            "POST",
            &format!("{V3}/coupon/redeem"),
            Some(json!({"playerUniqueId": "cust-1", "code": "ONCE"})),
        )
        .await;
    assert_eq!((missing.status, missing.json()["code"].clone()), (400, json!(4)));
    let bad_header = env
        .gb_as(
            &[("APIKey", API_KEY), ("secretKey", "nope")],
            "POST",
            &format!("{V3}/coupon/redeem"),
            Some(json!({"playerUniqueId": "cust-1", "code": "ONCE", "hash": sdk_hash("cust-1", SECRET_KEY)})),
        )
        .await;
    assert_eq!((bad_header.status, bad_header.json()["code"].clone()), (401, json!(10)));
    assert_eq!(env.redeemed("ONCE"), 0, "nothing was redeemed");
    // The v4 routes still want the secret header.
    let v4 = env
        .gb_as(
            &[("apikey", API_KEY)],
            "POST",
            &format!("{V}/coupons/validate"),
            Some(json!({})),
        )
        .await;
    assert_eq!(v4.json()["code"], 1001);
    let _ = AUTH;
}

async fn sdk_redeem_after_a_lost_answer_is_reconciled(store: StoreKind) {
    let env = Env::builder(store).timeout("300ms").start().await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::LoseAnswer].into(),
        path_prefix: Some("/v1/redemptions".into()),
        ..Faults::default()
    });
    let lost = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "TWICE"})).await;
    assert_eq!(lost.status, 503, "{}", lost.text());
    assert_eq!(lost.json()["code"], 13);
    assert_eq!(env.redeemed("TWICE"), 1, "Voucherify did redeem");
    let early = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "TWICE"})).await;
    assert_eq!(
        early.status,
        422,
        "within the lease the outcome is still open: {}",
        early.text()
    );
    env.advance(Duration::from_secs(10)); // past the lease
    // The retry's look-up fails too: the claim must still lead the next
    // retry to the first attempt's order.
    env.sim.sim.set_faults(Faults {
        script: [Fault::Error].into(),
        path_prefix: Some("/v1/orders".into()),
        ..Faults::default()
    });
    let failed_lookup = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "TWICE"})).await;
    assert_eq!(failed_lookup.status, 503, "{}", failed_lookup.text());
    env.advance(Duration::from_secs(10));
    let retry = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "TWICE"})).await;
    assert_eq!(retry.status, 200, "the retry is the lost redemption: {}", retry.text());
    assert_eq!(env.redeemed("TWICE"), 1, "redeemed once, not twice");
    let next = sdk(&env, "v3.0", "coupon/redeem", "cust-1", json!({"code": "TWICE"})).await;
    assert_eq!(next.status, 200, "a later redemption is a new one: {}", next.text());
    assert_eq!(env.redeemed("TWICE"), 2);
}
