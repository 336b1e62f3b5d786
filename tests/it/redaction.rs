//! Redaction, checked on the bytes on disk: personal data in every shape a
//! JSONPath query can name (a nested object, each item of a list, a list of
//! lists, a key at any depth), in requests and answers, on translated and
//! passed-through routes, in recordings and shadow files; and the SDK-era
//! body `hash`, which is redacted whatever `redact_json` says.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind};
use crate::common::metric;
use crate::common::upstream::Fixed;

/// What `[record] redact_json` names, one query per shape.
const QUERIES: &str = r#"redact_json = [
    "$.customer.email",
    "$.items[*].owner.email",
    "$.grid[*][*].name",
    "$..phone",
    "$.playerUniqueId",
    "$..source_id",
]"#;

/// Personal data in every shape the queries name, with `tag` in each value
/// (so request and answer values are told apart), and one value beside
/// each that must stay.
fn personal(tag: &str) -> Value {
    json!({
        "customer": {"email": format!("nested-{tag}@example.com"), "tier": "gold"},
        "items": [
            {"owner": {"email": format!("item0-{tag}@example.com")}, "sku": "SKU-1"},
            {"owner": {"email": format!("item1-{tag}@example.com")}, "sku": "SKU-2"}
        ],
        "grid": [[{"name": format!("Grid Zero {tag}")}], [{"name": format!("Grid One {tag}")}, {"name": format!("Grid Two {tag}")}]],
        "contact": {"deep": {"phone": format!("+20100000{tag}")}}
    })
}

fn clear_values(tag: &str) -> Vec<String> {
    vec![
        format!("nested-{tag}@example.com"),
        format!("item0-{tag}@example.com"),
        format!("item1-{tag}@example.com"),
        format!("Grid Zero {tag}"),
        format!("Grid One {tag}"),
        format!("Grid Two {tag}"),
        format!("+20100000{tag}"),
    ]
}

/// Gameball's pass-through answer: the same shapes, tagged `answer`.
const PASSED_ANSWER: &str = r#"{"customer": {"email": "nested-answer@example.com", "tier": "gold"},
 "items": [{"owner": {"email": "item0-answer@example.com"}, "sku": "SKU-1"}, {"owner": {"email": "item1-answer@example.com"}, "sku": "SKU-2"}],
 "grid": [[{"name": "Grid Zero answer"}], [{"name": "Grid One answer"}, {"name": "Grid Two answer"}]],
 "contact": {"deep": {"phone": "+20100000answer"}}}"#;

const PLAYER: &str = "player-pii-7";

fn sdk_hash(player: &str) -> String {
    Sha1::digest(format!("{player}:::{SECRET_KEY}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn files_text(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
}

fn assert_hidden(text: &str, values: &[String], what: &str) {
    for v in values {
        assert!(!text.contains(v.as_str()), "{v} is in the {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_redact_every_shape_in_requests_and_answers_translated_and_passed_through() {
    let gameball = Fixed::start(PASSED_ANSWER).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "\n[passthrough]\nupstream = \"{}\"\n[record]\nenabled = true\npath = \"{}\"\n{QUERIES}\n",
        gameball.url,
        dir.path().display()
    );
    let mut env = Env::builder(StoreKind::Memory).toml(&toml).start().await;

    // Translated, seed v4: the request carries every shape.
    let mut body = personal("v4");
    body["customerId"] = "cust-1".into();
    body["coupons"] = json!(["AMOUNT10"]);
    let r = env.validate(body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Translated, SDK-era: the player id is in the request, the answer and
    // Voucherify's calls (as source_id); the hash is in the request.
    let mut body = personal("sdk");
    body["playerUniqueId"] = PLAYER.into();
    body["code"] = "PERCENT20".into();
    body["hash"] = sdk_hash(PLAYER).into();
    let r = env
        .gb_as(
            &[("APIKey", API_KEY)],
            "POST",
            "/api/v3.0/integrations/coupon/validate",
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["playerUniqueId"],
        PLAYER,
        "the client gets its answer unredacted"
    );
    // Passed through: every shape in the request and in Gameball's answer.
    let r = env
        .gb("POST", "/api/v4.0/integrations/customers", Some(personal("passed")))
        .await;
    assert_eq!(r.json()["customer"]["email"], "nested-answer@example.com");
    env.stop_adapter().await;

    let text = files_text(dir.path());
    for tag in ["v4", "sdk", "passed", "answer"] {
        assert_hidden(&text, &clear_values(tag), "recording");
    }
    assert_hidden(&text, &[PLAYER.to_owned(), sdk_hash(PLAYER)], "recording");
    let entries: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let gameball_side: Vec<&Value> = entries.iter().filter(|e| e["_kind"] == "gameball").collect();
    assert_eq!(gameball_side.len(), 3, "{text}");
    for e in &gameball_side {
        let request: Value = serde_json::from_str(e["request"]["postData"]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            request["customer"],
            json!({"email": "<redacted>", "tier": "gold"}),
            "{request}"
        );
        assert_eq!(
            request["items"][1],
            json!({"owner": {"email": "<redacted>"}, "sku": "SKU-2"})
        );
        assert_eq!(
            request["grid"],
            json!([[{"name": "<redacted>"}], [{"name": "<redacted>"}, {"name": "<redacted>"}]])
        );
        assert_eq!(request["contact"]["deep"]["phone"], "<redacted>");
    }
    let sdk = gameball_side[1];
    let request: Value = serde_json::from_str(sdk["request"]["postData"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        (request["hash"].clone(), request["code"].clone()),
        (json!("<redacted>"), json!("PERCENT20"))
    );
    let answer: Value = serde_json::from_str(sdk["response"]["content"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer["playerUniqueId"], "<redacted>", "{answer}");
    let passed: Value =
        serde_json::from_str(gameball_side[2]["response"]["content"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(passed["grid"][1][1]["name"], "<redacted>", "{passed}");
    assert_eq!(passed["items"][0]["sku"], "SKU-1");
    assert!(
        entries.iter().any(|e| e["_kind"] == "voucherify"),
        "the Voucherify calls were recorded (and checked above)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_files_redact_like_recordings_with_recording_off() {
    let gameball = Fixed::start(PASSED_ANSWER).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "\n[passthrough]\nupstream = \"{}\"\n[routes]\nvalidate = \"shadow\"\ncoupon_validate = \"shadow\"\n\
         [shadow]\npath = \"{}\"\n[record]\n{QUERIES}\n",
        gameball.url,
        dir.path().display()
    );
    let mut env = Env::builder(StoreKind::Memory).toml(&toml).start().await;
    let mut body = personal("v4");
    body["customerId"] = "cust-1".into();
    body["coupons"] = json!(["AMOUNT10"]);
    env.validate(body).await;
    let mut body = personal("sdk");
    body["playerUniqueId"] = PLAYER.into();
    body["code"] = "PERCENT20".into();
    body["hash"] = sdk_hash(PLAYER).into();
    env.gb_as(
        &[("APIKey", API_KEY)],
        "POST",
        "/api/v3.0/integrations/coupon/validate",
        Some(body),
    )
    .await;
    // Both comparisons done (Gameball's fixed answer never matches).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = env.metrics().await;
        let done = ["validate", "coupon_validate"].iter().all(|r| {
            metric(
                &m,
                &format!("couponbridge_shadow_comparisons_total{{route=\"{r}\",result=\"mismatch\"}}"),
            ) >= 1.0
        });
        assert!(Instant::now() < deadline, "no mismatches counted:\n{m}");
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.stop_adapter().await;

    let text = files_text(dir.path());
    let mismatches = text.lines().filter(|l| l.contains("\"mismatch\"")).count();
    assert!(mismatches >= 2, "{text}");
    for tag in ["v4", "sdk", "answer"] {
        assert_hidden(&text, &clear_values(tag), "shadow file");
    }
    assert_hidden(
        &text,
        &[PLAYER.to_owned(), sdk_hash(PLAYER), SECRET_KEY.to_owned()],
        "shadow file",
    );
    assert!(
        text.contains("<redacted>") && text.contains("\"tier\":\"gold\""),
        "{text}"
    );
}
