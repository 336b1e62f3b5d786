//! Operations: pass-through, per-route switches, health and metrics, logs,
//! shutdown, limits, HTTP/2, TLS both ways.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use couponbridge::net::client::{self, ClientOptions};
use couponbridge::net::tls;
use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::env::{API_KEY, AUTH, Env, SECRET_KEY, StoreKind, V};
use crate::common::upstream::Upstream;

fn passthrough(upstream: &Upstream, routes: &str) -> String {
    format!(
        "\n[passthrough]\nupstream = \"{}\"\ntimeout = \"5s\"\n{routes}\n",
        upstream.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untranslated_calls_stream_through_to_gameball() {
    let up = Upstream::start().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&passthrough(&up, ""))
        .start()
        .await;
    // Larger than the translated routes' 64 KiB limit: it streams through.
    let big = Bytes::from(vec![7u8; 200_000]);
    let headers = [
        AUTH[0],
        AUTH[1],
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "1"),
        ("x-forwarded-for", "203.0.113.9"),
        ("host", "shop.example"),
    ];
    let r = env
        .client
        .send_raw(
            "POST",
            &env.url("/api/v4.0/integrations/events?from=checkout"),
            &headers,
            big,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.json();
    assert_eq!(echo["path"], "/api/v4.0/integrations/events");
    assert_eq!(echo["query"], "from=checkout");
    assert_eq!(echo["body_len"], 200_000);
    assert_eq!(echo["body_sum"], 1_400_000);
    let h = &echo["headers"];
    assert!(h.get("x-hop").is_none(), "headers named by Connection are hop-by-hop");
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "shop.example");
    assert_eq!(h["host"], up.addr.to_string(), "Host names the upstream");
    assert_eq!(h["apikey"], API_KEY, "Gameball authenticates its own calls");
    assert_eq!(h["x-request-id"].as_str(), r.header("x-request-id"));

    let big_answer = env.gb("GET", "/big/300000", None).await;
    assert_eq!(big_answer.body.len(), 300_000);
    let teapot = env.gb("GET", "/status/418", None).await;
    assert_eq!(
        (teapot.status, teapot.text(), teapot.header("x-upstream")),
        (418, "upstream says 418".into(), Some("1"))
    );
    let unavailable = env.gb("GET", "/status/503", None).await;
    assert_eq!(
        unavailable.text(),
        "upstream says 503",
        "upstream errors come back unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_switch_between_translate_and_passthrough() {
    let up = Upstream::start().await;
    let routes = "[routes]\nburn = \"passthrough\"\n[tenants.shop.routes]\nvalidate_single = \"passthrough\"\nburn = \"translate\"\n";
    let env = Env::builder(StoreKind::Memory)
        .toml(&passthrough(&up, routes))
        .start()
        .await;
    let single = env
        .gb(
            "POST",
            &format!("{V}/coupons/AMOUNT10/validate"),
            Some(json!({"customerId": "c"})),
        )
        .await
        .json();
    assert_eq!(
        single["path"], "/api/v4.0/integrations/coupons/AMOUNT10/validate",
        "went to Gameball"
    );
    let many = env
        .validate(json!({"customerId": "c", "coupons": ["AMOUNT10"]}))
        .await
        .json();
    assert_eq!(many["validCoupons"][0]["code"], "AMOUNT10", "translated");
    // The tenant overrides the global switch for burn...
    let burn = env
        .gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert!(burn.json().get("success").is_some(), "{}", burn.text());
    // ...while a caller whose apikey names no tenant follows the global one.
    let anon = env
        .gb_as(
            &[("apikey", "someone-else")],
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "c"})),
        )
        .await
        .json();
    assert_eq!(anon["path"], "/api/v4.0/integrations/coupons/burn");
    let down = Env::builder(StoreKind::Memory)
        .toml("\n[passthrough]\nupstream = \"http://127.0.0.1:9\"\ntimeout = \"2s\"\n")
        .start()
        .await;
    let r = down.gb("GET", "/api/v4.0/integrations/customers/c1", None).await;
    assert_eq!((r.status, r.json()["code"].clone()), (503, json!(5003)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_lock_store_and_liveness_does_not() {
    let mut env = Env::start(StoreKind::Redis).await;
    let (readyz, livez, client) = (env.admin_url("/readyz"), env.admin_url("/livez"), env.client.clone());
    assert_eq!(client.send("GET", &readyz, &[], None).await.status, 200);
    env.redis.as_mut().unwrap().stop();
    let ready = client.send("GET", &readyz, &[], None).await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("lock store"));
    assert_eq!(
        client.send("GET", &livez, &[], None).await.status,
        200,
        "liveness never touches Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_upstream_calls_and_locks() {
    let env = Env::start(StoreKind::Redis).await;
    let scrape = || env.metrics();
    let before = scrape().await;
    let series = [
        r#"couponbridge_requests_total{route="validate",status="200"}"#,
        r#"couponbridge_requests_total{route="release",status="200"}"#,
        r#"couponbridge_locks_total{event="created"}"#,
        r#"couponbridge_locks_total{event="released"}"#,
        r#"couponbridge_voucherify_request_duration_seconds_count{op="validate",outcome="200"}"#,
        r#"couponbridge_voucherify_request_duration_seconds_count{op="release",outcome="204"}"#,
        r#"couponbridge_lock_store_call_duration_seconds_count{op="create",store="redis"}"#,
        r#"couponbridge_request_duration_seconds_count{route="validate"}"#,
    ];
    let r = env
        .validate(json!({"customerId": "c", "coupons": ["ONCE"], "lock": true}))
        .await
        .json();
    let reference = r["validCoupons"][0]["lockReference"].as_str().unwrap();
    assert_eq!(
        env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await.status,
        200
    );
    let after = scrape().await;
    for s in series {
        assert_eq!(
            crate::common::metric(&after, s) - crate::common::metric(&before, s),
            1.0,
            "{s} did not move by one:\n{after}"
        );
    }
    assert!(
        after
            .lines()
            .any(|l| l == "couponbridge_recording_dropped_entries_total 0"),
        "exported, and nothing dropped without a recorder:\n{after}"
    );
    env.sim.sim.set_faults(Faults {
        script: [Fault::Error].into(),
        ..Faults::default()
    });
    let failed = env
        .gb(
            "POST",
            &format!("{V}/coupons/AMOUNT10/validate"),
            Some(json!({"customerId": "c"})),
        )
        .await;
    assert_eq!(failed.status, 503);
    let errors = scrape().await;
    let series = r#"couponbridge_upstream_errors_total{kind="unavailable"}"#;
    assert_eq!(
        crate::common::metric(&errors, series) - crate::common::metric(&after, series),
        1.0,
        "{errors}"
    );
}

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: the thread-local subscriber sees every task.
#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let logs = Logs::default();
    let sink = logs.clone();
    for json in [false, true] {
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer({
                let sink = sink.clone();
                move || sink.clone()
            });
        let _guard = if json {
            tracing::subscriber::set_default(builder.json().with_span_list(true).finish())
        } else {
            tracing::subscriber::set_default(builder.finish())
        };
        let up = Upstream::start().await;
        let env = Env::builder(StoreKind::Redis).toml(&passthrough(&up, "")).start().await;
        let r = env
            .validate(json!({"customerId": "c", "coupons": ["TWICE"], "lock": true}))
            .await
            .json();
        let reference = r["validCoupons"][0]["lockReference"].as_str().unwrap().to_owned();
        env.gb("GET", &format!("{V}/locks/{reference}"), None).await;
        env.gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "c", "lockReference": reference})),
        )
        .await;
        env.gb_as(
            &[("apikey", API_KEY), ("secretkey", "guess-the-secret-1")],
            "POST",
            &format!("{V}/orders"),
            None,
        )
        .await;
        env.gb(
            "POST",
            "/api/v4.0/integrations/customers",
            Some(json!({"customerId": "c"})),
        )
        .await;
        drop(env);
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("request_id") && text.contains("answered"),
        "the logs were captured:\n{text}"
    );
    for secret in [
        SECRET_KEY,
        API_KEY,
        DEFAULT_APP_TOKEN,
        DEFAULT_APP_ID,
        "guess-the-secret-1",
    ] {
        assert!(!text.contains(secret), "{secret} appears in the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_the_request_in_flight() {
    let mut env = Env::start(StoreKind::Memory).await;
    env.sim.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    let mut begun = env.sim.sim.requests_begun();
    let seen = *begun.borrow_and_update();
    let url = env.url(&format!("{V}/coupons/validate"));
    let client = env.client.clone();
    let in_flight = tokio::spawn(async move {
        client
            .send(
                "POST",
                &url,
                &AUTH,
                Some(&json!({"customerId": "c", "coupons": ["ONCE"], "lock": true})),
            )
            .await
    });
    begun.wait_for(|n| *n > seen).await.unwrap();
    let addr = env.adapter().addr;
    let admin = env.admin_url("/readyz");
    env.adapter().handle().shutdown();
    assert_eq!(
        env.client.send("GET", &admin, &[], None).await.status,
        503,
        "not ready from the first moment"
    );
    assert!(
        !in_flight.is_finished(),
        "held by the simulator while the adapter drains"
    );
    env.sim.sim.set_faults(Faults::default());
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the request in flight finished: {}", answer.text());
    assert_eq!(answer.json()["validCoupons"][0]["code"], "ONCE");
    env.stop_adapter().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_the_connection_closes() {
    let env = Env::start(StoreKind::Memory).await;
    let body = json!({"customerId": "c", "coupons": ["AMOUNT10"], "padding": "x".repeat(70_000)});
    let r = env.validate(body).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], 3011);
    assert_eq!(r.header("connection"), Some("close"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_finish_their_headers_are_cut_off() {
    let env = Env::builder(StoreKind::Memory)
        .server("header_read_timeout = \"200ms\"")
        .start()
        .await;
    let mut s = tokio::net::TcpStream::connect(env.adapter().addr).await.unwrap();
    s.write_all(b"POST /api/v4.0/integrations/coupons/validate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The safety net is generous; the server closes after 200 ms.
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_without_tls_is_served() {
    let env = Env::start(StoreKind::Memory).await;
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let req = Request::post(env.url(&format!("{V}/coupons/AMOUNT10/validate")))
        .header("apikey", API_KEY)
        .header("secretkey", SECRET_KEY)
        .body(Full::new(Bytes::from(r#"{"customerId":"c"}"#)))
        .unwrap();
    let res = h2.request(req).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    let body: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["isValid"], true);
}

/// A self-signed certificate for localhost, written to a temporary folder.
fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::File::create(&cert)
        .unwrap()
        .write_all(ck.cert.pem().as_bytes())
        .unwrap();
    std::fs::File::create(&key)
        .unwrap()
        .write_all(ck.signing_key.serialize_pem().as_bytes())
        .unwrap();
    (cert, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_inbound_with_http2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let env = Env::builder(StoreKind::Memory)
        .server(&format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"{}\"",
            cert.display(),
            key.display()
        ))
        .start()
        .await;
    let port = env.adapter().addr.port();
    let https = client::build(&ClientOptions {
        extra_ca: tls::load_certs(&cert).unwrap(),
        ..ClientOptions::default()
    })
    .unwrap();
    for version in [Version::HTTP_2, Version::HTTP_11] {
        let req = Request::post(format!("https://localhost:{port}{V}/coupons/AMOUNT10/validate"))
            .version(version)
            .header("apikey", API_KEY)
            .header("secretkey", SECRET_KEY)
            .body(couponbridge::net::full(r#"{"customerId":"c"}"#))
            .unwrap();
        let res = https.request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.version(), Version::HTTP_2, "ALPN offers h2 and the client takes it");
        let body: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(body["isValid"], true);
    }
    // A client that does not trust the certificate cannot connect.
    let untrusting = client::build(&ClientOptions::default()).unwrap();
    let req = Request::get(format!("https://localhost:{port}/"))
        .body(couponbridge::net::empty())
        .unwrap();
    assert!(untrusting.request(req).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_outbound_to_voucherify() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let sim = couponbridge::sim::SimBuilder::new()
        .seed(crate::sim::catalogue())
        .tls(tls::server_config(&cert, &key).unwrap())
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://localhost:{}", sim.addr.port());
    let env = Env::builder(StoreKind::Memory)
        .voucherify_url(&url)
        .toml(&format!("\n[upstream_tls]\nextra_ca = [\"{}\"]\n", cert.display()))
        .start()
        .await;
    let r = env
        .gb(
            "POST",
            &format!("{V}/coupons/AMOUNT10/validate"),
            Some(json!({"customerId": "c", "lock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["isValid"], true);
    assert!(
        sim.sim
            .request_ids()
            .contains(&r.header("x-request-id").unwrap().to_owned()),
        "the request id is sent on to Voucherify"
    );
}
