//! Voucherify's official Python SDK (PyPI `voucherify` 6.1.1), unchanged,
//! against the simulator: every endpoint the adapter and the coupon import
//! call, sent the way Voucherify's own client sends it and read back into
//! that client's models. `tests/sdk/voucherify_driver.py` makes one SDK
//! call per line it reads and reports what the SDK returned or raised; the
//! assertions are here.
//!
//! The interpreter is `GAMEBALL_SDK_PYTHON` when set (`.ci/run` sets it to
//! the venv that holds both SDKs), otherwise `tests/sdk/setup-venv.sh`
//! makes the venv.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use couponbridge::clock::{Clock, parse_iso};
use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN, RunningSim, SimBuilder};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::common::sdk_python as python;

const T0: &str = "2026-01-01T00:00:00.000Z";

async fn start_sim() -> RunningSim {
    SimBuilder::new()
        .clock(Clock::manual(parse_iso(T0).unwrap()))
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

/// One driver process: the SDK, configured for the simulator.
struct Sdk {
    _child: Child,
    calls: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
}

impl Sdk {
    fn start(sim: &RunningSim) -> Sdk {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/voucherify_driver.py");
        let mut child = Command::new(python())
            .arg(script)
            .env("VF_API_BASE", sim.base_url())
            .env("VF_APP_ID", DEFAULT_APP_ID)
            .env("VF_APP_TOKEN", DEFAULT_APP_TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the SDK driver starts");
        Sdk {
            calls: child.stdin.take().expect("stdin"),
            answers: BufReader::new(child.stdout.take().expect("stdout")).lines(),
            _child: child,
        }
    }

    async fn send(&mut self, cmd: Value) -> Value {
        self.calls
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .expect("the driver reads its calls");
        self.calls.flush().await.unwrap();
        // The first answer waits for the SDK's import (seconds).
        let line = tokio::time::timeout(Duration::from_secs(120), self.answers.next_line())
            .await
            .expect("the driver answers within 120 s")
            .expect("the driver's stdout")
            .expect("the driver is still running");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    async fn call(&mut self, api: &str, call: &str, args: Value) -> Value {
        self.send(json!({"api": api, "call": call, "args": args})).await
    }

    /// A call the SDK must complete; what it returned, as its model's dict.
    async fn ok(&mut self, api: &str, call: &str, args: Value) -> Value {
        let r = self.call(api, call, args).await;
        assert_eq!(r["ok"], true, "{api}.{call}: {r}");
        r["result"].clone()
    }

    /// A call the SDK must raise for with `status` and Voucherify's `key`;
    /// the error body.
    async fn refused(&mut self, api: &str, call: &str, args: Value, status: u16, key: &str) -> Value {
        let r = self.call(api, call, args).await;
        assert_eq!(
            (r["ok"].clone(), r["status"].clone()),
            (json!(false), json!(status)),
            "{api}.{call}: {r}"
        );
        assert_eq!(r["body"]["key"], key, "{api}.{call}: {r}");
        r["body"].clone()
    }
}

fn import_body(discount: Value) -> Value {
    json!({"type": "DISCOUNT_VOUCHER", "discount": discount,
           "start_date": "2026-01-01T00:00:00Z", "expiration_date": "2026-12-31T23:59:59Z",
           "redemption": {"quantity": 1}, "metadata": {"gameball_coupon": "gb-1", "source": "gameball"}})
}

/// What `couponbridge import-coupons` does per coupon: create it under its
/// Gameball code, read it back, publish it to the player; and the voucher
/// and rule writes the SDK sends nulls in.
#[tokio::test]
async fn the_import_creates_reads_and_publishes_vouchers_through_the_sdk() {
    let sim = start_sim().await;
    let mut sdk = Sdk::start(&sim);
    let create = |code: &str, discount: Value| json!({"code": code, "vouchers_create_with_specific_code_request_body": import_body(discount)});

    let percent = sdk
        .ok(
            "VouchersApi",
            "create_voucher",
            create("GB-PCT", json!({"type": "PERCENT", "percent_off": 20})),
        )
        .await;
    assert_eq!(percent["code"], "GB-PCT");
    assert_eq!(percent["discount"]["percent_off"], 20);
    assert_eq!(percent["redemption"]["quantity"], 1);
    assert_eq!(percent["start_date"], "2026-01-01T00:00:00+00:00");
    assert_eq!(percent["expiration_date"], "2026-12-31T23:59:59+00:00");
    assert_eq!(
        percent["metadata"],
        json!({"gameball_coupon": "gb-1", "source": "gameball"})
    );
    sdk.ok(
        "VouchersApi",
        "create_voucher",
        create("GB-AMT", json!({"type": "AMOUNT", "amount_off": 1500})),
    )
    .await;
    let ship = json!({"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"});
    sdk.ok("VouchersApi", "create_voucher", create("GB-SHIP", ship)).await;

    // Read back, as the import does to stay idempotent.
    let read = sdk.ok("VouchersApi", "get_voucher", json!({"code": "GB-SHIP"})).await;
    assert_eq!(read["discount"]["type"], "UNIT");
    assert_eq!(read["discount"]["unit_type"], "prod_5h1pp1ng");
    assert_eq!(read["discount"]["effect"], "ADD_MISSING_ITEMS");
    assert_eq!(read["active"], true);
    let amount = sdk.ok("VouchersApi", "get_voucher", json!({"code": "GB-AMT"})).await;
    assert_eq!(amount["discount"]["amount_off"], 1500);
    sdk.refused(
        "VouchersApi",
        "get_voucher",
        json!({"code": "GB-NONE"}),
        404,
        "not_found",
    )
    .await;

    // A code that exists is refused as Voucherify refuses it, and kept.
    let dup = sdk
        .refused(
            "VouchersApi",
            "create_voucher",
            create("GB-PCT", json!({"type": "AMOUNT", "amount_off": 1})),
            409,
            "duplicate_found",
        )
        .await;
    assert_eq!(dup["resource_id"], "GB-PCT");
    assert_eq!(
        sim.sim
            .project(DEFAULT_APP_ID)
            .unwrap()
            .with(|p| p.vouchers["GB-PCT"].discount.clone())
            .unwrap()
            .percent_off,
        Some(20.0)
    );

    // Published to the player, then found in the player's wallet.
    let published = sdk
        .ok(
            "PublicationsApi",
            "create_publication",
            json!({"publications_create_request_body": {"customer": {"source_id": "player-1"}, "voucher": "GB-PCT"}}),
        )
        .await;
    assert_eq!(published["voucher"]["code"], "GB-PCT");
    assert_eq!(published["customer"]["source_id"], "player-1");
    let wallet = sdk
        .ok(
            "VouchersApi",
            "list_vouchers",
            json!({"customer": "player-1", "limit": 10, "page": 1, "order": "created_at"}),
        )
        .await;
    let codes: Vec<&str> = wallet["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["GB-PCT"]);
    let publications = sdk
        .ok("PublicationsApi", "list_publications", json!({"customer": "player-1"}))
        .await;
    assert_eq!(publications["total"], 1, "{publications}");

    // The applied discount: 20 % of 100.00.
    let valid = sdk
        .ok(
            "ValidationsApi",
            "validate_stacked_discounts",
            json!({"validations_validate_request_body": {"redeemables": [{"object": "voucher", "id": "GB-PCT"}],
                   "order": {"amount": 10000}, "customer": {"source_id": "player-1"}}}),
        )
        .await;
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(valid["order"]["total_discount_amount"], 2000);

    // A body built from a dict sends null for every nullable field it left
    // out: accepted, active and discount kept, dates cleared.
    let updated = sdk
        .ok(
            "VouchersApi",
            "update_voucher",
            json!({"code": "GB-AMT", "vouchers_update_request_body": {"metadata": {"note": "edited"}}}),
        )
        .await;
    assert_eq!(updated["active"], true);
    assert_eq!(updated["metadata"], json!({"note": "edited"}));
    assert_eq!(updated["discount"]["amount_off"], 1500);
    assert!(updated.get("start_date").is_none_or(Value::is_null), "{updated}");
    let disabled = sdk
        .ok(
            "VouchersApi",
            "update_voucher",
            json!({"code": "GB-AMT", "vouchers_update_request_body": {"active": false}}),
        )
        .await;
    assert_eq!(disabled["active"], false);
    assert_eq!(
        disabled["metadata"],
        json!({"note": "edited"}),
        "metadata: null keeps it"
    );
}

/// Every call the adapter makes, through the SDK.
#[tokio::test]
async fn the_adapters_calls_work_through_the_sdk() {
    let sim = start_sim().await;
    let mut sdk = Sdk::start(&sim);
    let body = json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000}, "redemption": {"quantity": 1}});
    sdk.ok(
        "VouchersApi",
        "generate_random_code",
        json!({"vouchers_create_request_body": body}),
    )
    .await;
    sdk.ok(
        "VouchersApi",
        "create_voucher",
        json!({"code": "ONCE", "vouchers_create_with_specific_code_request_body": body}),
    )
    .await;
    let order = |source_id: &str| json!({"amount": 5000, "source_id": source_id});
    let stackable = |extra: Value| json!({"redeemables": [{"object": "voucher", "id": "ONCE"}], "customer": {"source_id": "cust-1"}, "order": extra});

    // A locking validation, released.
    let mut locking = stackable(order("ord-0"));
    locking["session"] = json!({"type": "LOCK", "key": "sess-1"});
    let valid = sdk
        .ok(
            "ValidationsApi",
            "validate_stacked_discounts",
            json!({"validations_validate_request_body": locking}),
        )
        .await;
    assert_eq!(valid["redeemables"][0]["status"], "APPLICABLE", "{valid}");
    assert_eq!(valid["session"]["key"], "sess-1");
    let released = sdk
        .call(
            "VouchersApi",
            "release_validation_session",
            json!({"code": "ONCE", "session_key": "sess-1"}),
        )
        .await;
    assert_eq!(
        (released["ok"].clone(), released["status"].clone()),
        (json!(true), json!(204)),
        "{released}"
    );
    sdk.refused(
        "VouchersApi",
        "release_validation_session",
        json!({"code": "ONCE", "session_key": "sess-1"}),
        404,
        "not_found",
    )
    .await;

    // Redeemed, read back by redemption and by order, rolled back once.
    let redeemed = sdk
        .ok(
            "RedemptionsApi",
            "redeem_stacked_discounts",
            json!({"redemptions_redeem_request_body": stackable(order("ord-1"))}),
        )
        .await;
    let id = redeemed["redemptions"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(redeemed["redemptions"][0]["result"], "SUCCESS", "{redeemed}");
    // Single use: a second redemption is refused.
    sdk.refused(
        "RedemptionsApi",
        "redeem_stacked_discounts",
        json!({"redemptions_redeem_request_body": stackable(order("ord-2"))}),
        400,
        "quantity_exceeded",
    )
    .await;
    let read = sdk
        .ok("RedemptionsApi", "get_redemption", json!({"redemption_id": id}))
        .await;
    assert_eq!(read["voucher"]["code"], "ONCE", "{read}");
    let by_order = sdk.ok("OrdersApi", "get_order", json!({"order_id": "ord-1"})).await;
    assert!(by_order["redemptions"].get(&id).is_some(), "{by_order}");
    let rollback = sdk
        .ok(
            "RedemptionsApi",
            "rollback_redemption",
            json!({"redemption_id": id, "reason": "refund"}),
        )
        .await;
    assert_eq!(
        (rollback["redemption"].clone(), rollback["reason"].clone()),
        (json!(id), json!("refund"))
    );
    sdk.refused(
        "RedemptionsApi",
        "rollback_stacked_redemptions",
        json!({"parent_redemption_id": id, "reason": "again"}),
        400,
        "already_rolled_back",
    )
    .await;
    assert_eq!(
        sim.sim
            .project(DEFAULT_APP_ID)
            .unwrap()
            .with(|p| p.vouchers["ONCE"].redeemed_quantity),
        0
    );

    // The rule the voucher names, with the type it was created with.
    let mut rule_ids = Vec::new();
    for kind in [Some("basic"), Some("advanced"), Some("complex"), None] {
        let mut body = json!({"name": "min", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1000]}}, "logic": "1"}});
        if let Some(kind) = kind {
            body["type"] = kind.into();
        }
        let rule = sdk
            .ok(
                "ValidationRulesApi",
                "create_validation_rules",
                json!({"validation_rules_create_request_body": body}),
            )
            .await;
        rule_ids.push((kind.unwrap_or("expression"), rule["id"].as_str().unwrap().to_owned()));
    }
    for (kind, id) in rule_ids {
        let rule = sdk
            .ok(
                "ValidationRulesApi",
                "get_validation_rule",
                json!({"validation_rule_id": id}),
            )
            .await;
        assert_eq!(
            (rule["type"].clone(), rule["context_type"].clone()),
            (json!(kind), json!("global"))
        );
    }

    // The customer's wallet, qualified.
    sdk.ok(
        "PublicationsApi",
        "create_publication",
        json!({"publications_create_request_body": {"customer": {"source_id": "cust-1"}, "voucher": "ONCE"}}),
    )
    .await;
    let qualified = sdk
        .ok(
            "QualificationsApi",
            "check_eligibility",
            json!({"qualifications_check_eligibility_request_body":
                   {"customer": {"source_id": "cust-1"}, "order": {"amount": 5000}, "scenario": "CUSTOMER_WALLET"}}),
        )
        .await;
    assert_eq!(qualified["redeemables"]["data"][0]["id"], "ONCE", "{qualified}");
}

/// A loyalty program built and spent through the SDK: members, points,
/// rewards assigned in one array, a member's reward redemption.
#[tokio::test]
async fn loyalty_members_rewards_and_redemptions_work_through_the_sdk() {
    let sim = start_sim().await;
    let mut sdk = Sdk::start(&sim);
    let program = sdk
        .ok(
            "LoyaltiesApi",
            "create_loyalty_program",
            json!({"loyalties_create_campaign_request_body": {"name": "Club", "type": "AUTO_UPDATE",
                   "voucher": {"type": "LOYALTY_CARD", "loyalty_card": {"points": 0}, "code_config": {"prefix": "LC-"}}}}),
        )
        .await;
    let pid = program["id"].as_str().unwrap().to_owned();
    let card = sdk
        .ok(
            "LoyaltiesApi",
            "add_member",
            json!({"campaign_id": pid, "loyalties_members_create_request_body": {"customer": {"source_id": "cust-1"}}}),
        )
        .await;
    let code = card["code"].as_str().unwrap().to_owned();
    let balance = sdk
        .ok(
            "LoyaltiesApi",
            "update_loyalty_card_balance1",
            json!({"campaign_id": pid, "member_id": code, "loyalties_members_balance_update_request_body": {"points": 500}}),
        )
        .await;
    assert_eq!(balance["balance"], 500);
    let members = sdk
        .ok(
            "LoyaltiesApi",
            "list_members",
            json!({"campaign_id": pid, "customer": "cust-1"}),
        )
        .await;
    assert_eq!(members["vouchers"][0]["code"], code.as_str(), "{members}");
    let member = sdk
        .ok(
            "LoyaltiesApi",
            "get_member1",
            json!({"campaign_id": pid, "member_id": code}),
        )
        .await;
    assert_eq!(member["loyalty_card"]["balance"], 500);

    let campaign = sdk
        .ok(
            "CampaignsApi",
            "create_campaign",
            json!({"campaigns_create_request_body": {"name": "Reward codes", "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
                   "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1500},
                               "redemption": {"quantity": 1}, "code_config": {"prefix": "RW-"}}}}),
        )
        .await;
    let codes_reward = sdk
        .ok(
            "RewardsApi",
            "create_reward",
            json!({"rewards_create_request_body": {"name": "15 off", "type": "CAMPAIGN", "parameters": {"campaign": {"id": campaign["id"]}}}}),
        )
        .await;
    let mug = sdk
        .ok(
            "RewardsApi",
            "create_reward",
            json!({"rewards_create_request_body": {"name": "Mug", "type": "MATERIAL", "parameters": {"product": {"id": "prod_mug"}}}}),
        )
        .await;
    let (rid, mug_id) = (codes_reward["id"].as_str().unwrap(), mug["id"].as_str().unwrap());
    let read = sdk.ok("RewardsApi", "get_reward", json!({"reward_id": rid})).await;
    assert_eq!(read["type"], "CAMPAIGN");

    // An array of assignments in, the created assignments out: a list, as
    // the spec's description and example say. The SDK's model follows the
    // spec's schema (one object) instead, so the answer is read as JSON.
    let assignments = json!([{"reward": rid, "parameters": {"loyalty": {"points": 100}}},
                             {"reward": mug_id, "parameters": {"loyalty": {"points": 300}}}]);
    let args = json!({"campaign_id": pid, "loyalties_rewards_create_assignment_item_request_body": assignments});
    let assigned = sdk
        .send(json!({"api": "LoyaltiesApi", "call": "create_reward_assignment1", "args": args, "raw": true}))
        .await;
    assert_eq!(assigned["status"], 200, "{assigned}");
    let created = assigned["result"].as_array().expect("a list of assignments");
    let priced: Vec<(&str, i64)> = created
        .iter()
        .map(|a| {
            assert_eq!(a["related_object_id"], pid.as_str());
            (
                a["reward_id"].as_str().unwrap(),
                a["parameters"]["loyalty"]["points"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(priced, [(rid, 100), (mug_id, 300)]);
    let typed = sdk
        .call("LoyaltiesApi", "create_reward_assignment1", args.clone())
        .await;
    assert_eq!(typed["exception"], "ApiException", "assigned once only: {typed}");
    assert_eq!(
        (typed["status"].clone(), typed["body"]["key"].clone()),
        (json!(409), json!("duplicate_found"))
    );

    let affordable = sdk
        .ok(
            "LoyaltiesApi",
            "list_member_rewards",
            json!({"member_id": code, "affordable_only": true}),
        )
        .await;
    assert_eq!(affordable["total"], 2, "{affordable}");
    let redeemed = sdk
        .ok(
            "LoyaltiesApi",
            "redeem_reward1",
            json!({"campaign_id": pid, "member_id": code, "loyalties_members_redemption_redeem_request_body": {"reward": {"id": rid}}}),
        )
        .await;
    assert_eq!(redeemed["result"], "SUCCESS", "{redeemed}");
    let member = sdk.ok("LoyaltiesApi", "get_member", json!({"member_id": code})).await;
    assert_eq!(member["loyalty_card"]["balance"], 400);
}

/// A 429 with `Retry-After`, scripted on the import's routes, reaches the
/// SDK: a refused create raises with the header (nothing is created); a
/// refused read is retried by the SDK's HTTP client after the wait the
/// header asks for.
#[tokio::test]
async fn a_scripted_429_reaches_the_sdk_with_retry_after() {
    let sim = start_sim().await;
    let mut sdk = Sdk::start(&sim);
    let rate_limited = |method: &str| Faults {
        script: [Fault::RateLimit].into(),
        retry_after_secs: 1,
        path_prefix: Some("/v1/vouchers/GB-429".into()),
        method: Some(method.into()),
        ..Faults::default()
    };
    let create = json!({"code": "GB-429", "vouchers_create_with_specific_code_request_body":
                        import_body(json!({"type": "AMOUNT", "amount_off": 500}))});

    sim.sim.set_faults(rate_limited("POST"));
    // The read before the write is not limited.
    sdk.refused(
        "VouchersApi",
        "get_voucher",
        json!({"code": "GB-429"}),
        404,
        "not_found",
    )
    .await;
    let limited = sdk.call("VouchersApi", "create_voucher", create.clone()).await;
    assert_eq!(
        (limited["status"].clone(), limited["retry_after"].clone()),
        (json!(429), json!("1")),
        "{limited}"
    );
    assert_eq!(limited["body"]["code"], 429);
    assert!(
        sim.sim
            .project(DEFAULT_APP_ID)
            .unwrap()
            .with(|p| !p.vouchers.contains_key("GB-429"))
    );
    let created = sdk.ok("VouchersApi", "create_voucher", create).await;
    assert_eq!(created["code"], "GB-429");

    sim.sim.set_faults(rate_limited("GET"));
    let r = sdk.call("VouchersApi", "get_voucher", json!({"code": "GB-429"})).await;
    assert_eq!(
        (r["ok"].clone(), r["result"]["code"].clone()),
        (json!(true), json!("GB-429")),
        "{r}"
    );
    assert!(r["elapsed_ms"].as_u64().unwrap() >= 1000, "waited Retry-After: {r}");
    assert!(sim.sim.faults().script.is_empty(), "the 429 was answered");
}
