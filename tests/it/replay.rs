//! Record and replay: a recording made by `serve` replays clean against a
//! fresh adapter, a changed expectation fails with its path, a browser HAR
//! replays with the lock reference carried forward, offline replay catches
//! an unrecorded Voucherify call, a HAR whose answers have fewer fields than
//! couponbridge's passes with the additions listed (and fails with
//! `--strict`), and no secret reaches a recording.

use std::path::{Path, PathBuf};
use std::process::Command;

use couponbridge::compare::{Change, RulesFile};
use couponbridge::replay::{Auth, load, replay_against, replay_offline};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};
use serde_json::{Value, json};
use sha1::Digest;

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};
use crate::common::upstream::Upstream;

fn auth() -> Auth {
    Auth {
        apikey: Some(API_KEY.into()),
        secretkey: Some(SECRET_KEY.into()),
    }
}

fn recording_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Checkout traffic through a recording adapter; returns the recording.
async fn record(dir: &Path) -> Vec<PathBuf> {
    let toml = format!("\n[record]\nenabled = true\npath = \"{}\"\n", dir.display());
    let mut env = Env::builder(StoreKind::Redis).toml(&toml).start().await;
    let r = env
        .validate(json!({
            "customerId": "cust-1", "email": "jane@example.com", "mobile": "+201001234567",
            "coupons": ["PERCENT20", "NOPE", "AMOUNT10"], "lock": true, "totalPurchaseAmount": 250
        }))
        .await;
    let first = r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    env.gb("GET", &format!("{V}/locks/{first}"), None).await;
    env.gb(
        "POST",
        &format!("{V}/coupons/burn"),
        Some(json!({"customerId": "cust-1", "lockReference": first, "transactionId": "t-1"})),
    )
    .await;
    let r = env
        .gb(
            "POST",
            &format!("{V}/coupons/ONCE/validate"),
            Some(json!({"customerId": "cust-2", "lock": true})),
        )
        .await;
    let second = r.json()["lockReference"].as_str().unwrap().to_owned();
    env.gb("DELETE", &format!("{V}/coupons/{second}"), None).await;
    env.gb(
        "POST",
        &format!("{V}/orders"),
        Some(json!({"customerId": "cust-3", "orderId": "O-1", "totalPaid": 40,
                                                       "redemption": {"couponCodes": ["TWICE"]}})),
    )
    .await;
    env.gb("GET", &format!("{V}/locks/{}", "0".repeat(32)), None).await;
    // An SDK-era validation: its body hash is recorded redacted, and
    // replay signs the body again with --secretkey.
    let hash: String = sha1::Sha1::digest(format!("cust-4:::{SECRET_KEY}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = env
        .gb_as(
            &[("APIKey", API_KEY)],
            "POST",
            "/api/v3.0/integrations/coupon/validate",
            Some(json!({"playerUniqueId": "cust-4", "code": "PERCENT20", "hash": hash})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    env.stop_adapter().await;
    let files = recording_files(dir);
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(!text.contains(&hash), "the SDK hash is not recorded");
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_made_by_serve_replays_clean_against_a_fresh_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let files = record(dir.path()).await;
    let loaded = load::load(&files).unwrap();
    let labels: Vec<String> = loaded
        .exchanges
        .iter()
        .map(|e| format!("{} {}", e.label(), e.answer.status))
        .collect();
    assert_eq!(loaded.exchanges.len(), 8, "{labels:#?}");
    assert!(
        loaded.exchanges[0].legs.len() >= 2,
        "ALL mode validated twice: {:?}",
        loaded.exchanges[0].legs.len()
    );

    let fresh = Env::start(StoreKind::Memory).await;
    let report = replay_against(
        &loaded,
        &fresh.adapter().base_url(),
        &auth(),
        &RulesFile::default(),
        None,
    )
    .await;
    assert_eq!((report.passed, report.failed), (8, 0), "{}", report.text());
    assert!(report.text().ends_with("8 passed, 0 failed\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_expectation_fails_with_a_report_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let files = record(dir.path()).await;
    // Edit the recorded answer of the first exchange: 20 % of 250 is capped at 30.00; say 35.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let answer = lines[0]["response"]["content"]["text"]
        .as_str()
        .unwrap()
        .replace("\"discountAmount\":30", "\"discountAmount\":35");
    assert_ne!(
        answer,
        lines[0]["response"]["content"]["text"].as_str().unwrap(),
        "the edit applies"
    );
    lines[0]["response"]["content"]["text"] = answer.into();
    let edited = dir.path().join("edited.jsonl");
    std::fs::write(&edited, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();

    let fresh = Env::start(StoreKind::Memory).await;
    let report = replay_against(
        &load::load(&[&edited]).unwrap(),
        &fresh.adapter().base_url(),
        &auth(),
        &RulesFile::default(),
        None,
    )
    .await;
    assert_eq!(report.failed, 1, "{}", report.text());
    let failure = report.results.iter().find(|r| !r.passed).unwrap();
    assert_eq!(failure.index, 1);
    assert_eq!((failure.failures.len(), failure.additions.len()), (1, 0));
    assert_eq!(failure.failures[0].path, "$.validCoupons[0].discountAmount");
    assert_eq!(failure.failures[0].change, Change::Differs);
    assert_eq!(
        (failure.failures[0].expected.clone(), failure.failures[0].got.clone()),
        (json!(35), json!(30))
    );
    assert!(
        report
            .text()
            .contains("FAIL #1 POST /api/v4.0/integrations/coupons/validate")
    );
    assert!(
        report
            .text()
            .contains("$.validCoupons[0].discountAmount: differs: expected 35, got 30")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_har_replays_with_the_lock_reference_carried_forward() {
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/browser-export.har");
    let loaded = load::load(&[&har]).unwrap();
    assert_eq!((loaded.exchanges.len(), loaded.skipped), (3, 1));
    let env = Env::start(StoreKind::Redis).await;
    let report = replay_against(&loaded, &env.adapter().base_url(), &auth(), &RulesFile::default(), None).await;
    assert_eq!((report.passed, report.failed), (3, 0), "{}", report.text());
    // The release used the live reference: the code is free again.
    assert_eq!(env.live_sessions().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_replay_passes_untouched_and_fails_on_an_unrecorded_call() {
    let dir = tempfile::tempdir().unwrap();
    let files = record(dir.path()).await;
    let loaded = load::load(&files).unwrap();
    let clean = replay_offline(&loaded, None, None, &RulesFile::default())
        .await
        .unwrap();
    assert_eq!((clean.passed, clean.failed), (8, 0), "{}", clean.text());

    // The same recording, but the checkout asks for another coupon: the
    // adapter's validation is not in the recording.
    let mut changed = loaded.clone();
    changed.exchanges[3].path = changed.exchanges[3].path.replace("ONCE", "TWICE");
    let report = replay_offline(&changed, None, None, &RulesFile::default())
        .await
        .unwrap();
    let failure = report.results.iter().find(|r| r.index == 4).unwrap();
    assert!(!failure.passed);
    assert!(
        failure
            .failures
            .iter()
            .any(|m| m.path == "voucherify" && m.got.as_str().unwrap().starts_with("POST /v1/validations")),
        "{}",
        report.text()
    );

    // And from the command line: exit status 0 on a clean replay, 1 on a failure.
    let bin = env!("CARGO_BIN_EXE_couponbridge");
    let ok = Command::new(bin)
        .arg("replay")
        .arg("--offline")
        .args(&files)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).ends_with("8 passed, 0 failed\n"));
    let edited = dir.path().join("edited.har.jsonl");
    let text = std::fs::read_to_string(&files[0])
        .unwrap()
        .replacen("Coupon not found", "Coupon gone", 1);
    std::fs::write(&edited, text).unwrap();
    let bad = Command::new(bin)
        .args(["replay", "--offline", "--format", "json"])
        .arg(&edited)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!((json["passed"].clone(), json["failed"].clone()), (json!(7), json!(1)));
}

/// `files` as one HAR document, as a browser exports it (with a request to
/// another host among the API calls), each lock-details answer passed
/// through `edit`.
fn as_browser_har(files: &[PathBuf], path: &Path, edit: impl Fn(&mut Value)) -> PathBuf {
    let mut entries = vec![json!({
        "request": {"method": "GET", "url": "https://shop.example/static/checkout.js", "headers": []},
        "response": {"status": 200, "content": {"mimeType": "application/javascript", "text": "console.log()"}}
    })];
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let mut entry: Value = serde_json::from_str(line).unwrap();
            let url = entry["request"]["url"].as_str().unwrap_or_default();
            if entry["request"]["method"] == "GET"
                && url.contains("/integrations/locks/")
                && entry["response"]["status"] == 200
            {
                let text = entry["response"]["content"]["text"].as_str().unwrap();
                let mut answer: Value = serde_json::from_str(text).unwrap();
                edit(&mut answer);
                entry["response"]["content"]["text"] = answer.to_string().into();
            }
            entries.push(entry);
        }
    }
    let har = json!({"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": entries}});
    std::fs::write(path, har.to_string()).unwrap();
    path.to_owned()
}

/// What Gameball's lock details said of each coupon in this export: its
/// code, type and value, none of the limits couponbridge adds.
fn only_code_type_value(answer: &mut Value) {
    for coupon in answer["coupons"].as_array_mut().unwrap() {
        let keep = ["code", "type", "value"];
        coupon
            .as_object_mut()
            .unwrap()
            .retain(|k, _| keep.contains(&k.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_har_with_fewer_fields_passes_offline_with_additions_listed_and_fails_strict() {
    let dir = tempfile::tempdir().unwrap();
    let files = record(dir.path()).await;
    let har = as_browser_har(&files, &dir.path().join("export.har"), only_code_type_value);
    let bin = env!("CARGO_BIN_EXE_couponbridge");
    let replay = |args: &[&str], har: &Path| {
        let out = Command::new(bin)
            .arg("replay")
            .arg("--offline")
            .args(args)
            .arg(har)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };

    let (code, text) = replay(&[], &har);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    let additions = text
        .split_once("Additions (not failures; --strict fails on them):\n")
        .expect("an additions section")
        .1;
    assert!(
        additions.starts_with("  #2 GET /api/v4.0/integrations/locks/"),
        "{text}"
    );
    assert!(additions.contains("     $.coupons[0].capping: added: 30"), "{text}");
    assert!(
        text.contains("(1 entries skipped: not Gameball coupon calls)"),
        "{text}"
    );
    assert!(!text.contains("expected null"), "{text}");
    let summary = text.lines().last().unwrap();
    assert!(summary.starts_with("8 passed, 0 failed, "), "{summary}");
    assert!(summary.ends_with(" additions"), "{summary}");

    let (code, json) = replay(&["--format", "json"], &har);
    assert_eq!(code, Some(0));
    let json: Value = serde_json::from_str(&json).unwrap();
    let lock_details = &json["results"][1];
    assert_eq!(lock_details["route"], "lock_details");
    assert_eq!(lock_details["passed"], true);
    assert_eq!(lock_details["failures"], json!([]));
    let added = lock_details["additions"].as_array().unwrap();
    assert!(added.iter().all(|m| m["change"] == "added"), "{added:?}");
    assert_eq!(json["additions"].as_u64().unwrap(), added.len() as u64);
    assert_eq!((json["passed"].clone(), json["failed"].clone()), (json!(8), json!(0)));

    let (code, strict) = replay(&["--strict"], &har);
    assert_eq!(code, Some(1), "{strict}");
    assert!(strict.contains("FAIL #2 GET /api/v4.0/integrations/locks/"), "{strict}");
    assert!(strict.contains("     $.coupons[0].capping: added: 30"), "{strict}");
    assert!(
        strict.lines().last().unwrap().starts_with("7 passed, 1 failed, "),
        "{strict}"
    );

    // A changed value is a failure, strict or not, and names its path.
    let changed = as_browser_har(&files, &dir.path().join("changed.har"), |answer| {
        only_code_type_value(answer);
        answer["coupons"][0]["value"] = json!(25);
    });
    let (code, text) = replay(&[], &changed);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("FAIL #2 GET /api/v4.0/integrations/locks/"), "{text}");
    assert!(
        text.contains("     $.coupons[0].value: differs: expected 25, got 20\n"),
        "{text}"
    );

    // The same report as one page, to a file.
    let page = dir.path().join("replay.html");
    let out = Command::new(bin)
        .args(["replay", "--offline", "--format", "html", "--output"])
        .arg(&page)
        .arg(&changed)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "the page goes to --output, not stdout");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for text in [
        "lock_details",
        "$.coupons[0].value",
        "$.coupons[0].capping",
        "Additions (not failures",
    ] {
        assert!(html.contains(text), "{text} not in the page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_hold_no_secret_and_read_as_har() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("\n[passthrough]\nupstream = \"{}\"\n", up.url());
    let toml = format!(
        "\n[record]\nenabled = true\npath = \"{}\"\n{extra}",
        dir.path().display()
    );
    let mut env = Env::builder(StoreKind::Memory).toml(&toml).start().await;
    env.validate(json!({
        "customerId": "c", "email": "jane@example.com", "mobile": "+201001234567", "coupons": ["AMOUNT10"], "lock": true
    }))
    .await;
    // A pass-through call whose upstream echoes the credentials it received.
    env.gb(
        "POST",
        "/api/v4.0/integrations/customers",
        Some(json!({"customerId": "c", "email": "jane@example.com", "note": SECRET_KEY})),
    )
    .await;
    env.gb_as(
        &[("APIKey", API_KEY), ("SecretKey", "a-wrong-secret-value")],
        "POST",
        &format!("{V}/coupons/burn"),
        None,
    )
    .await;
    env.stop_adapter().await;

    let files = recording_files(dir.path());
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(text.contains("<redacted>"), "redaction happened");
    for secret in [
        API_KEY,
        SECRET_KEY,
        DEFAULT_APP_ID,
        DEFAULT_APP_TOKEN,
        "jane@example.com",
        "+201001234567",
        "a-wrong-secret-value",
    ] {
        assert!(!text.contains(secret), "{secret} is in the recording");
    }
    // Wrapped as docs/record-replay-shadow.md's jq line does it, the lines are a HAR 1.2 log.
    let entries: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        entries
            .iter()
            .any(|e| e["_kind"] == "voucherify" && e["_parent"].is_string())
    );
    assert!(entries.iter().any(|e| {
        e["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/integrations/customers")
    }));
    for e in &entries {
        for field in ["startedDateTime", "time", "request", "response", "cache", "timings"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        for field in [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ] {
            assert!(e["request"].get(field).is_some(), "request.{field} missing");
        }
        for field in [
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        ] {
            assert!(e["response"].get(field).is_some(), "response.{field} missing");
        }
        assert!(couponbridge::clock::parse_iso(e["startedDateTime"].as_str().unwrap()).is_some());
    }
}
