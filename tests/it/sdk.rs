//! Gameball's own Python SDK (PyPI `gb-alpha` 3.0.0), unchanged, against
//! couponbridge: the "change one base URL, change no code" promise, tested
//! with the client merchants really have. `tests/sdk/gb_alpha_driver.py`
//! feeds the SDK one call per line and reports what it returned; the
//! assertions are here.
//!
//! The interpreter is `GAMEBALL_SDK_PYTHON` when set (`.ci/run` sets
//! it), otherwise `tests/sdk/setup-venv.sh` makes the virtual environment
//! (idempotent; installs from PyPI the first time).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind};
use crate::common::sdk_python as python;

both_stores!(the_python_sdk_validates_redeems_and_creates);

/// Runs the SDK on `calls`, one result per call.
async fn run_sdk(env: &Env, calls: Vec<Value>) -> Vec<Value> {
    let base = env.url("/api/v3.0/");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/gb_alpha_driver.py");
    let python = python();
    let n = calls.len();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .env("GB_API_BASE", base)
            .env("GB_API_KEY", API_KEY)
            .env("GB_SECRET_KEY", SECRET_KEY)
            // The SDK (requests) honours proxy variables; this is loopback.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SDK driver starts");
        {
            let mut stdin = child.stdin.take().expect("stdin");
            for c in &calls {
                writeln!(stdin, "{c}").expect("the driver reads its calls");
            }
        }
        let out = child.wait_with_output().expect("the driver finishes");
        assert!(out.status.success(), "the SDK driver failed");
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), n, "one result per call: {lines:?}");
        lines
    })
    .await
    .expect("the driver thread")
}

async fn the_python_sdk_validates_redeems_and_creates(store: StoreKind) {
    let env = Env::start(store).await;
    let r = run_sdk(
        &env,
        vec![
            json!({"call": "validate", "player": "cust-1", "code": "PERCENT20"}),
            json!({"call": "validate", "player": "cust-1", "code": "NOPE"}),
            json!({"call": "redeem", "player": "cust-1", "code": "ONCE", "secret": "not-the-secret"}),
            json!({"call": "redeem", "player": "cust-1", "code": "ONCE"}),
            json!({"call": "redeem", "player": "cust-1", "code": "ONCE"}),
            json!({"call": "create", "player": "cust-1",
                   "coupon": {"code": "SDK10", "value": 10, "valueType": "percentage", "usageLimit": 1,
                              "startAt": "2026-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z"}}),
            json!({"call": "validate", "player": "cust-1", "code": "SDK10"}),
            json!({"call": "validate", "player": 42, "code": "AMOUNT10"}),
        ],
    )
    .await;
    let [
        valid,
        unknown,
        wrong_secret,
        redeemed,
        again,
        created,
        created_valid,
        numeric,
    ] = &r[..]
    else {
        unreachable!()
    };
    assert_eq!(valid["ok"], true, "{valid}");
    assert_eq!(valid["result"]["code"], "PERCENT20");
    assert_eq!(valid["result"]["valueType"], "percentage");
    // The SDK hands a non-200 {code, message} to the merchant as a
    // GameballException.
    assert_eq!(
        (
            unknown["exception"].clone(),
            unknown["code"].clone(),
            unknown["status"].clone()
        ),
        (json!("GameballException"), json!(3), json!(404)),
        "{unknown}"
    );
    assert_eq!(
        (wrong_secret["exception"].clone(), wrong_secret["status"].clone()),
        (json!("GameballException"), json!(401)),
        "a wrong secret is refused: {wrong_secret}"
    );
    assert_eq!(redeemed["ok"], true, "{redeemed}");
    assert_eq!(redeemed["result"]["success"], true);
    assert_eq!(
        (again["ok"].clone(), again["code"].clone()),
        (json!(false), json!(7)),
        "{again}"
    );
    assert!(again["message"].as_str().unwrap().contains("usage limit"), "{again}");
    assert_eq!(env.redeemed("ONCE"), 1, "Voucherify redeemed it once");
    assert_eq!(created["ok"], true, "{created}");
    assert_eq!(created["result"]["code"], "SDK10");
    assert_eq!(created_valid["result"]["value"], 10, "{created_valid}");
    assert_eq!(numeric["result"]["playerUniqueId"], "42", "{numeric}");
    assert_eq!(env.project(|p| p.vouchers["SDK10"].quantity), Some(1));
}
