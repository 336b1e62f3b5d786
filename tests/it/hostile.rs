//! Hostile and broken clients over raw sockets: connections that send
//! nothing, half an HTTP/2 preface, a preface and nothing more, headers
//! whose body never comes. None of them may hold `max_connections` from a
//! normal client, and each gets closed (or a Gameball-shaped 408).
//!
//! No timing is asserted: each check waits for a state (an answer, a
//! closed socket) with a generous deadline.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::env::{Env, StoreKind};

const DEADLINE: Duration = Duration::from_secs(10);

async fn small_server() -> Env {
    Env::builder(StoreKind::Memory)
        .server("max_connections = 4")
        .server("header_read_timeout = \"300ms\"")
        .server("body_read_timeout = \"300ms\"")
        .server("idle_timeout = \"300ms\"")
        .start()
        .await
}

/// Reads until the server closes the socket; what it sent on the way.
async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server never closed the connection; it sent {got:?}"
    );
    got
}

async fn a_normal_validate_is_served(env: &Env) {
    let r = tokio::time::timeout(
        DEADLINE,
        env.validate(json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
    )
    .await
    .expect("a normal client is served while hostile ones hold connections");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_do_not_starve_others() {
    let env = small_server().await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(env.adapter().addr).await.unwrap());
    }
    a_normal_validate_is_served(&env).await;
    for s in &mut silent {
        assert!(until_closed(s).await.is_empty(), "closed without an answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_an_http2_preface_is_closed() {
    let env = small_server().await;
    let mut partial = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(env.adapter().addr).await.unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        partial.push(s);
    }
    a_normal_validate_is_served(&env).await;
    for s in &mut partial {
        until_closed(s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_that_opens_and_goes_quiet_is_closed() {
    let env = small_server().await;
    let mut quiet = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(env.adapter().addr).await.unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
        s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
        quiet.push(s);
    }
    a_normal_validate_is_served(&env).await;
    for s in &mut quiet {
        let types = frame_types(&until_closed(s).await);
        assert!(types.contains(&7), "a GOAWAY before the close: frame types {types:?}");
    }
}

/// The types of the HTTP/2 frames in `bytes` (9-byte headers: a 24-bit
/// length, then the type).
fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
        types.push(bytes[3]);
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_comes_is_a_gameball_408() {
    let env = small_server().await;
    let mut waiting = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(env.adapter().addr).await.unwrap();
        let head = format!(
            "POST /api/v4.0/integrations/coupons/validate HTTP/1.1\r\nHost: x\r\napikey: {}\r\nsecretkey: {}\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"cust",
            crate::common::env::API_KEY,
            crate::common::env::SECRET_KEY
        );
        s.write_all(head.as_bytes()).await.unwrap();
        waiting.push(s);
    }
    a_normal_validate_is_served(&env).await;
    for s in &mut waiting {
        let answer = String::from_utf8_lossy(&until_closed(s).await).into_owned();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("\"code\":3016") && answer.contains("\"requestId\""),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_numeric_ids_are_kept_exactly() {
    let env = Env::start(StoreKind::Memory).await;
    let owner = "123456789012345678901234567891";
    let body = format!(r#"{{"customerId": {owner}, "coupons": ["AMOUNT10"], "lock": true}}"#);
    let r = env
        .client
        .send_raw(
            "POST",
            &env.url(&format!("{}/coupons/validate", crate::common::env::V)),
            &crate::common::env::AUTH,
            bytes::Bytes::from(body),
        )
        .await;
    let reference = r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    let details = env
        .gb("GET", &format!("{}/locks/{reference}", crate::common::env::V), None)
        .await
        .json();
    assert_eq!(details["customerId"], owner, "the id's exact digits");
    // 1.2345678901234568e+29 as a float: the same number to an f64.
    let other = r#"{"customerId": 123456789012345678901234567999, "lockReference": "REF"}"#.replace("REF", &reference);
    let burn = env
        .client
        .send_raw(
            "POST",
            &env.url(&format!("{}/coupons/burn", crate::common::env::V)),
            &crate::common::env::AUTH,
            bytes::Bytes::from(other),
        )
        .await;
    assert_eq!(burn.status, 422, "another customer's burn is refused: {}", burn.text());
    assert_eq!(env.redeemed("AMOUNT10"), 0);
}
