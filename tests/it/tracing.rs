//! Traces across the hop: W3C `traceparent` from the merchant reaches
//! Voucherify and the pass-through upstream with the same trace id, and
//! with `[telemetry] otlp_endpoint` spans arrive at an OTLP/HTTP receiver
//! this test runs, none of them carrying a secret or a lock reference.
//!
//! Export installs a process-wide tracer, so that test drives the real
//! binary; the propagation-only test runs in-process.

use std::time::{Duration, Instant};

use bytes::Bytes;
use couponbridge::sim::DEFAULT_APP_TOKEN;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::json;

use crate::common::Client;
use crate::common::binary::{self, Serve, free_port, with_server_keys};
use crate::common::env::{API_KEY, AUTH, Env, SECRET_KEY, StoreKind, V};
use crate::common::upstream::{Fixed, Upstream};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A Voucherify that finds AMOUNT10 applicable.
const VALIDATION: &str = r#"{"valid":true,"redeemables":[{"status":"APPLICABLE","id":"AMOUNT10","object":"voucher",
  "result":{"discount":{"type":"AMOUNT","amount_off":1000,"effect":"APPLY_TO_ORDER"}}}],"tracking_id":"t"}"#;

/// The binary's configuration with its spans exported to `otlp`.
fn exporting(listen: u16, voucherify: &str, otlp: &str, flush_every: &str, extra: &str) -> String {
    binary::config(
        listen,
        None,
        "url = \"memory://\"",
        voucherify,
        &format!("[telemetry]\notlp_endpoint = \"{otlp}\"\nflush_every = \"{flush_every}\"\n{extra}"),
    )
}

fn trace_id_of(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_export_the_merchants_traceparent_is_sent_on() {
    let voucherify = Fixed::start(VALIDATION).await;
    let upstream = Upstream::start().await;
    let env = Env::builder(StoreKind::Memory)
        .voucherify_url(&voucherify.url)
        .toml(&format!("[passthrough]\nupstream = \"{}\"\n", upstream.url()))
        .start()
        .await;
    let auth = [
        AUTH[0],
        AUTH[1],
        ("traceparent", TRACEPARENT),
        ("tracestate", "vendor=x"),
    ];
    let r = env
        .gb_as(
            &auth,
            "POST",
            &format!("{V}/coupons/validate"),
            Some(json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = voucherify.received.lock().unwrap().clone();
    assert_eq!(
        sent[0].0.get("traceparent").and_then(|v| v.to_str().ok()),
        Some(TRACEPARENT),
        "Voucherify got the merchant's context"
    );
    let through = env
        .gb_as(&auth, "GET", "/api/v4.0/integrations/customers/1", None)
        .await
        .json();
    assert_eq!(through["headers"]["traceparent"], TRACEPARENT);
    assert_eq!(through["headers"]["tracestate"], "vendor=x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_receiver_and_the_trace_continues_downstream() {
    let voucherify = Fixed::start(VALIDATION).await;
    let otlp = Fixed::start("").await;
    let upstream = Upstream::start().await;
    let listen = free_port();
    let passthrough = format!("[passthrough]\nupstream = \"{}\"\n", upstream.url());
    let text = exporting(listen, &voucherify.url, &otlp.url, "50ms", &passthrough);
    let serve = Serve::start(&text, listen).await;
    let client = Client::new();
    let base = serve.base.clone();
    let auth = [AUTH[0], AUTH[1], ("traceparent", TRACEPARENT)];
    let r = client
        .send(
            "POST",
            &format!("{base}{V}/coupons/validate"),
            &auth,
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"], "lock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reference = r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();

    let to_voucherify = voucherify.received.lock().unwrap()[0]
        .0
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("a traceparent to Voucherify");
    assert_eq!(trace_id_of(&to_voucherify), TRACE_ID, "the same trace");
    assert_ne!(to_voucherify, TRACEPARENT, "sent from couponbridge's own span");
    let through = client
        .send("GET", &format!("{base}/api/v4.0/integrations/customers/1"), &auth, None)
        .await
        .json();
    assert_eq!(
        trace_id_of(through["headers"]["traceparent"].as_str().unwrap()),
        TRACE_ID
    );

    // The spans of that trace, as the collector receives them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let bodies: Vec<Bytes> = otlp.received.lock().unwrap().iter().map(|(_, b)| b.clone()).collect();
        let mut spans = Vec::new();
        for b in bodies {
            let req = ExportTraceServiceRequest::decode(b).expect("OTLP protobuf");
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    spans.extend(ss.spans);
                }
            }
        }
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        if ["request", "voucherify", "lock_store"]
            .iter()
            .all(|n| names.contains(n))
        {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans so far: {names:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let request = spans.iter().find(|s| s.name == "request").unwrap();
    assert_eq!(
        hex(&request.trace_id),
        TRACE_ID,
        "the request span continues the merchant's trace"
    );
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7");
    let all = format!("{spans:?}");
    for secret in [SECRET_KEY, API_KEY, DEFAULT_APP_TOKEN, reference.as_str()] {
        assert!(!all.contains(secret), "a span carries {secret}");
    }
}

// worker_threads = 1 is tokio's current-thread runtime, where the span
// exporter's batch task shares the one thread with the shutdown that waits
// for it: the process must still end on SIGTERM, its last spans sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_thread_ends_on_sigterm_and_flushes_its_last_spans() {
    let voucherify = Fixed::start(VALIDATION).await;
    let otlp = Fixed::start("").await;
    let listen = free_port();
    // No periodic export within the test: only the flush at exit sends.
    let text = with_server_keys(
        &exporting(listen, &voucherify.url, &otlp.url, "1h", ""),
        "worker_threads = 1\n",
    );
    let mut serve = Serve::start(&text, listen).await;
    let r = Client::new()
        .send(
            "POST",
            &format!("{}{V}/coupons/validate", serve.base),
            &AUTH,
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        otlp.received.lock().unwrap().is_empty(),
        "nothing exported before the exit"
    );
    serve.terminate();
    let status = serve.exited().await;
    assert!(status.success(), "{status}:\n{}", serve.log());
    let exported = otlp.received.lock().unwrap().len();
    assert!(exported > 0, "the last spans were flushed at exit:\n{}", serve.log());
}
