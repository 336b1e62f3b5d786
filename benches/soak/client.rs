//! The client: Gameball calls over real sockets, and what their answers say.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::settings::{API_KEY, SECRET_KEY};

/// The Gameball integration API's path prefix.
pub const V: &str = "/api/v4.0/integrations";
/// The client's own deadline on one request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum Reply {
    Http(u16, Value),
    /// The connection failed or closed before an answer.
    Transport,
    Timeout,
}

impl Reply {
    /// 0 when there was no answer.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Http(s, _) => *s,
            Reply::Transport | Reply::Timeout => 0,
        }
    }

    /// The Gameball error code of the body, 0 without one.
    pub fn code(&self) -> i64 {
        match self {
            Reply::Http(_, b) => b["code"].as_i64().unwrap_or(0),
            _ => 0,
        }
    }

    fn no_answer(&self) -> Option<&'static str> {
        match self {
            Reply::Http(..) => None,
            Reply::Transport => Some("no answer (connection)"),
            Reply::Timeout => Some("no answer (client timeout)"),
        }
    }

    /// A 5xx or no answer, in a few words; `None` for any other answer.
    pub fn failure(&self) -> Option<String> {
        match self {
            Reply::Http(s, b) if *s >= 500 => Some(format!("{s} {}", b["message"].as_str().unwrap_or("?"))),
            _ => self.no_answer().map(str::to_owned),
        }
    }

    /// The answer in a few words, for a lock's history.
    pub fn describe(&self) -> String {
        match self {
            Reply::Http(200, b) if b["validCoupons"].is_array() => {
                let codes = |list: &Value| -> Vec<String> {
                    list.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["code"].as_str().map(str::to_owned))
                        .collect()
                };
                let (valid, invalid) = (codes(&b["validCoupons"]), codes(&b["invalidCoupons"]));
                format!("200 valid {valid:?} invalid {invalid:?}")
            }
            Reply::Http(s, b) if *s >= 400 => format!("{s}/{} {}", b["code"], b["message"].as_str().unwrap_or("")),
            Reply::Http(s, _) => s.to_string(),
            _ => self.no_answer().unwrap_or_default().to_owned(),
        }
    }

    /// The reference and the valid codes of a validate answer that locked.
    pub fn lock(&self) -> Option<(String, Vec<String>)> {
        let Reply::Http(200, body) = self else { return None };
        let valid = body["validCoupons"].as_array()?;
        let reference = valid.first()?["lockReference"].as_str()?.to_owned();
        let codes = valid
            .iter()
            .filter_map(|c| c["code"].as_str().map(str::to_owned))
            .collect();
        Some((reference, codes))
    }
}

#[derive(Clone)]
pub struct Http {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
    /// couponbridge's base URL, which changes when it restarts.
    base: Arc<RwLock<String>>,
}

impl Http {
    pub fn new(base: Arc<RwLock<String>>) -> Http {
        Http {
            inner: HyperClient::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http(),
            base,
        }
    }

    pub async fn send(&self, method: &Method, path: &str, body: Option<&Value>) -> Reply {
        let url = format!("{}{path}", self.base.read().unwrap());
        let bytes = body
            .map(|b| Bytes::from(serde_json::to_vec(b).expect("JSON")))
            .unwrap_or_default();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url)
            .header("apikey", API_KEY)
            .header("secretkey", SECRET_KEY);
        if !bytes.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Full::new(bytes)).expect("a valid request");
        let call = async {
            let res = self.inner.request(req).await.map_err(|_| ())?;
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.map_err(|_| ())?.to_bytes();
            Ok::<_, ()>((status, body))
        };
        match tokio::time::timeout(CLIENT_TIMEOUT, call).await {
            Err(_) => Reply::Timeout,
            Ok(Err(())) => Reply::Transport,
            Ok(Ok((status, body))) => Reply::Http(status, serde_json::from_slice(&body).unwrap_or(Value::Null)),
        }
    }
}
