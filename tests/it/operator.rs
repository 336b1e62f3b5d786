//! What an operator reads, from the real binary where only a process shows
//! it: JSON log lines with the request's fields at the top level and no
//! Rust Debug text, pretty logs without ANSI codes in a file, the start-up
//! warning (an error under `durability = "require"`) when the lock store
//! does not answer; and metrics whose every family is there before the
//! first request, the lock-store histogram named for what it times, the
//! build's version and commit, latency buckets up to the request timeout.

use serde_json::{Value, json};

use crate::common::binary::{self, Serve, free_port};
use crate::common::env::{AUTH, Env, StoreKind, V};
use crate::common::{Client, RedisServer, metric};

fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_requests_fields_at_the_top_level() {
    let sim = crate::sim::Sim::start().await;
    let listen = free_port();
    let config = binary::config(listen, None, "url = \"memory://\"", &sim.running.base_url(), "");
    let serve = Serve::start(&config, listen).await;
    let client = Client::new();
    let r = client
        .send(
            "POST",
            &format!("{}{V}/coupons/validate", serve.base),
            &[AUTH[0], AUTH[1], ("x-request-id", "req-json-1")],
            Some(&json!({"customerId": "c", "coupons": ["NOPE"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let log = serve.wait_log("req-json-1").await;
    let lines = json_lines(&log);
    let answered = lines
        .iter()
        .find(|l| l["message"] == "answered" && l["request_id"] == "req-json-1")
        .unwrap_or_else(|| panic!("no answered line:\n{log}"));
    assert_eq!(answered["route"], "validate", "{answered}");
    assert_eq!(answered["tenant"], "shop", "{answered}");
    assert_eq!(answered["status"], 200, "a number: {answered}");
    assert_eq!(answered["level"], "INFO");
    assert!(
        answered["ms"].is_number() && answered["timestamp"].is_string(),
        "{answered}"
    );
    for l in &lines {
        assert!(
            l.get("spans").is_none() && l.get("span").is_none(),
            "nested span fields: {l}"
        );
    }
    let serving = lines
        .iter()
        .find(|l| l["message"] == "couponbridge serving")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(serving["admin"], "off", "{serving}");
    assert!(
        !log.contains("Some(") && !log.contains("None"),
        "Rust Debug text:\n{log}"
    );
}

/// A source scan: no tracing call formats a field with `?` (Debug), which
/// would print `Some(…)`, quotes and struct syntax into log fields.
#[test]
fn no_log_field_is_debug_formatted() {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in tracing_calls(&text) {
                if debug_field(call) {
                    found.push(format!("{}: {call}", path.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "Debug-formatted log fields:\n{}", found.join("\n"));
}

/// The argument text of each `tracing` event or span macro call.
fn tracing_calls(text: &str) -> Vec<&str> {
    const MACROS: [&str; 10] = [
        "trace!(",
        "debug!(",
        "info!(",
        "warn!(",
        "error!(",
        "trace_span!(",
        "debug_span!(",
        "info_span!(",
        "warn_span!(",
        "error_span!(",
    ];
    let mut calls = Vec::new();
    for m in MACROS {
        let mut from = 0;
        while let Some(i) = text[from..].find(m) {
            let start = from + i + m.len();
            let mut depth = 1;
            let mut end = start;
            for (j, c) in text[start..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = start + j;
                    break;
                }
            }
            calls.push(&text[start..end]);
            from = end.max(start);
        }
    }
    calls
}

/// `?name`, `name = ?value`: a `?` that starts a field, not a try.
fn debug_field(call: &str) -> bool {
    let bytes = call.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let before = call[..i].trim_end();
        b == b'?'
            && (before.is_empty() || before.ends_with(',') || before.ends_with('='))
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
    })
}

#[test]
fn the_debug_field_scan_finds_what_it_should() {
    assert!(debug_field("admin = ?running.admin_addr, \"x\""));
    assert!(debug_field("?why, \"reloaded\""));
    assert!(debug_field("a = 1,\n ?why"));
    assert!(!debug_field("error = %e, \"failed: {}\", f()?"));
    assert!(!debug_field("\"what?\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_logs_in_a_file_carry_no_ansi_codes() {
    let sim = crate::sim::Sim::start().await;
    let listen = free_port();
    let config = binary::config(listen, None, "url = \"memory://\"", &sim.running.base_url(), "")
        .replace("format = \"json\"", "format = \"pretty\"");
    let serve = Serve::start(&config, listen).await;
    let r = Client::new()
        .send(
            "GET",
            &format!("{}{V}/locks/{}", serve.base, "0".repeat(32)),
            &[AUTH[0], AUTH[1]],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let log = serve.wait_log("answered").await;
    assert!(
        log.contains("couponbridge serving") && log.contains("answered"),
        "{log}"
    );
    assert!(!log.contains('\x1b'), "ANSI codes in a file: {log:?}");
    assert!(log.contains("route=\"lock_details\" tenant=\"shop\""), "{log}");
}

/// Redis that is not there at start: a warning, the adapter still starts
/// (the connection is lazy) and `/readyz` says so; under `require`, an
/// error, and readiness stays 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_lock_store_at_start_is_a_warning_or_under_require_an_error() {
    let sim = crate::sim::Sim::start().await;
    let client = Client::new();
    for (mode, level) in [("warn", "WARN"), ("require", "ERROR")] {
        let (listen, admin) = (free_port(), free_port());
        let store = format!(
            "url = \"redis://127.0.0.1:{}\"\ndurability = \"{mode}\"\nconnect_timeout = \"200ms\"",
            free_port()
        );
        let serve = Serve::start(
            &binary::config(listen, Some(admin), &store, &sim.running.base_url(), ""),
            listen,
        )
        .await;
        let log = serve.wait_log("lock store unreachable at start").await;
        let line = json_lines(&log)
            .into_iter()
            .find(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("lock store unreachable at start"))
            })
            .unwrap_or_else(|| panic!("{mode}: no start-up line:\n{log}"));
        assert_eq!(line["level"], level, "{mode}: {line}");
        assert_eq!(line["store"], "redis", "{line}");
        assert!(line["error"].as_str().is_some_and(|e| !e.is_empty()), "{line}");
        let ready = client
            .send("GET", &format!("http://127.0.0.1:{admin}/readyz"), &[], None)
            .await;
        assert_eq!(ready.status, 503, "{mode}: {}", ready.text());
        assert_eq!(
            log.matches("lock store unreachable at start").count(),
            1,
            "said once:\n{log}"
        );
    }
}

/// Every family is exported before any request, its known label sets at 0;
/// the lock-store histogram is labelled with the store; build_info names
/// the version and commit; the largest latency bucket is the request
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_is_there_from_start_with_its_known_label_sets() {
    for (kind, store, ping) in [(StoreKind::Memory, "memory", false), (StoreKind::Redis, "redis", true)] {
        let env = Env::builder(kind).server("request_timeout = \"7s\"").start().await;
        let text = env.metrics().await;
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
        let families: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `couponbridge_"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert!(families.len() >= 14, "{families:?}");
        for f in &families {
            let base = f.strip_suffix("_total").unwrap_or(f);
            assert!(
                text.contains(&format!("# TYPE couponbridge_{base} ")),
                "{store}: couponbridge_{f} is not exported before the first request:\n{text}"
            );
        }
        for route in couponbridge::domain::Operation::ALL
            .iter()
            .map(|o| o.name())
            .chain(["passthrough"])
        {
            for series in [
                format!("couponbridge_requests_total{{route=\"{route}\",status=\"200\"}}"),
                format!("couponbridge_requests_total{{route=\"{route}\",status=\"503\"}}"),
                format!("couponbridge_request_duration_seconds_count{{route=\"{route}\"}}"),
                format!("couponbridge_shadow_comparisons_total{{route=\"{route}\",result=\"mismatch\"}}"),
            ] {
                assert!(text.contains(&format!("{series} 0")), "{store}: {series} 0 in\n{text}");
            }
        }
        for series in [
            "couponbridge_voucherify_request_duration_seconds_count{op=\"validate\",outcome=\"200\"} 0",
            "couponbridge_voucherify_request_duration_seconds_count{op=\"rollback\",outcome=\"200\"} 0",
            "couponbridge_upstream_errors_total{kind=\"timeout\"} 0",
            "couponbridge_locks_total{event=\"created\"} 0",
            "couponbridge_config_reloads_total{result=\"error\"} 0",
            "couponbridge_session_release_retries_total{result=\"deferred\"} 0",
        ] {
            assert!(text.contains(series), "{store}: {series} in\n{text}");
        }
        let create = format!("couponbridge_lock_store_call_duration_seconds_count{{op=\"create\",store=\"{store}\"}}");
        assert!(text.contains(&format!("{create} 0")), "{store}:\n{text}");
        assert_eq!(
            text.contains(&format!(
                "couponbridge_lock_store_call_duration_seconds_count{{op=\"ping\",store=\"{store}\"}}"
            )),
            ping,
            "only Redis is pinged:\n{text}"
        );
        assert!(!text.contains("redis_command"), "the old name is gone");
        let build = format!(
            "couponbridge_build_info{{version=\"{}\",commit=\"",
            env!("CARGO_PKG_VERSION")
        );
        let line = text
            .lines()
            .find(|l| l.starts_with(&build))
            .unwrap_or_else(|| panic!("{build} in\n{text}"));
        assert!(line.ends_with("\"} 1"), "{line}");
        let buckets: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("couponbridge_request_duration_seconds_bucket{") && l.contains("route=\"validate\"")
            })
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(buckets.last(), Some(&"+Inf"), "{buckets:?}");
        assert_eq!(
            buckets[buckets.len() - 2],
            "7.0",
            "the request timeout is the largest bucket: {buckets:?}"
        );
        assert_eq!(buckets[0], "0.00005", "{buckets:?}");

        // The first lock counts on its store's series.
        let r = env
            .validate(json!({"customerId": "c", "coupons": ["PERCENT20"], "lock": true, "totalPurchaseAmount": 100}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let after = env.metrics().await;
        assert_eq!(metric(&after, &create), 1.0, "{store}:\n{after}");
    }
}

/// The readiness probe of a Redis that answers: no start-up warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_lock_store_gets_no_start_up_warning() {
    let redis = RedisServer::start();
    let sim = crate::sim::Sim::start().await;
    let listen = free_port();
    let store = format!("url = \"{}\"\ndurability = \"warn\"", redis.url());
    let serve = Serve::start(
        &binary::config(listen, None, &store, &sim.running.base_url(), ""),
        listen,
    )
    .await;
    // The durability line comes once the store has answered its first
    // calls (the start-up check's ping among them).
    let log = serve.wait_log("lock store is not durable").await;
    assert!(log.contains("lock store is not durable"), "{log}");
    assert!(!log.contains("unreachable at start"), "{log}");
}
