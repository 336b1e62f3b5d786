//! The offline replay's Voucherify: it answers only from the recorded
//! Voucherify calls of the exchange being replayed, and notes every call the
//! recording does not contain, which fails that exchange.
//!
//! Calls match on method, path and JSON body after the values couponbridge
//! makes up afresh each time are masked: 32-hex tokens (lock references,
//! `cbs_` session keys, `cb-` order ids) and `cb-burn-` order ids. Within one
//! exchange calls match in any order (lock details reads vouchers
//! concurrently); each recorded call answers once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::load::Leg;
use crate::net::server::{self, ServeOptions};
use crate::net::{full, read_body};

/// A call as it is matched: method, masked path, masked body as JSON.
type CallKey = (String, String, Value);

#[derive(Default)]
struct State {
    /// Each recorded call with its key, made once when it is expected.
    expected: Vec<(CallKey, Leg)>,
    unrecorded: Vec<String>,
}

pub struct Stub {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Masks the values couponbridge generates per run.
pub fn mask(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let boundary = |j: usize| j >= bytes.len() || !bytes[j].is_ascii_alphanumeric();
    while i < bytes.len() {
        let start_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if start_ok && text[i..].starts_with("cb-burn-") {
            let j = i + 8;
            let k = j + bytes[j..].iter().take_while(|b| hex(**b)).count();
            if k - j == 16 && boundary(k) {
                out.push_str("cb-burn-{id}");
                i = k;
                continue;
            }
        }
        if start_ok && hex(bytes[i]) {
            let k = i + bytes[i..].iter().take_while(|b| hex(**b)).count();
            if k - i == 32 && boundary(k) {
                out.push_str("{id}");
                i = k;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn key(method: &str, path: &str, body: &str) -> CallKey {
    let body = mask(body);
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (method.to_owned(), mask(path), json)
}

impl Stub {
    pub async fn start() -> std::io::Result<Stub> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = CancellationToken::new();
        let shared = state.clone();
        tokio::spawn(server::serve(
            listener,
            ServeOptions::default(),
            stop.clone(),
            move |req, _| {
                let state = shared.clone();
                async move {
                    let method = req.method().to_string();
                    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                    let body = read_body(req.into_body(), 4 << 20).await.unwrap_or_default();
                    let body = String::from_utf8_lossy(&body).into_owned();
                    let wanted = key(&method, &path, &body);
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    let found = s.expected.iter().position(|(k, _)| *k == wanted);
                    let res = match found {
                        Some(i) => {
                            let (_, leg) = s.expected.remove(i);
                            let mut res = Response::new(full(leg.answer.body));
                            *res.status_mut() = StatusCode::from_u16(leg.answer.status).unwrap_or(StatusCode::OK);
                            res.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static("application/json"),
                            );
                            res
                        }
                        None => {
                            s.unrecorded.push(format!("{method} {path} {body}"));
                            let mut res = Response::new(full(
                                r#"{"code":500,"key":"unrecorded_call","message":"This call is not in the recording"}"#,
                            ));
                            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                            res
                        }
                    };
                    Ok(res)
                }
            },
        ));
        Ok(Stub { addr, state, stop })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The recorded calls the next exchange may make.
    pub fn expect(&self, legs: &[Leg]) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.expected = legs
            .iter()
            .map(|l| (key(&l.method, &l.path, &l.body), l.clone()))
            .collect();
        s.unrecorded.clear();
    }

    /// Calls made that the recording does not contain.
    pub fn unrecorded(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()).unrecorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_masked_and_others_kept() {
        let r = "5e21ff4baf5d4760a8a43c7b2513298e";
        assert_eq!(
            mask(&format!("/v1/vouchers/A/sessions/cbs_{r}")),
            "/v1/vouchers/A/sessions/cbs_{id}"
        );
        assert_eq!(
            mask(&format!(r#"{{"source_id":"cb-{r}","ref":"{r}"}}"#)),
            r#"{"source_id":"cb-{id}","ref":"{id}"}"#
        );
        assert_eq!(
            mask(r#"{"source_id":"cb-burn-0123456789abcdef"}"#),
            r#"{"source_id":"cb-burn-{id}"}"#
        );
        assert_eq!(mask("SAVE10 deadbeef café"), "SAVE10 deadbeef café");
        assert_eq!(mask(&format!("X{r}")), format!("X{r}"), "only whole tokens");
    }
}
