//! A stand-in for Gameball's own API behind the pass-through: it answers
//! with what it received, or with the status a path asks for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use couponbridge::net::server::{self, ServeOptions};
use couponbridge::net::{full, read_body};
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct Upstream {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Upstream {
    /// `GET /status/{code}` answers that status; `GET /big/{n}` answers n
    /// bytes; anything else answers a JSON echo of the request
    /// (`method`, `path`, `headers`, `body_len`, `body_sum`).
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(server::serve(
            listener,
            ServeOptions::default(),
            stop.clone(),
            |req, _| async move {
                let path = req.uri().path().to_owned();
                if let Some(code) = path.strip_prefix("/status/") {
                    let status = StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap();
                    let mut res = Response::new(full(format!("upstream says {code}")));
                    *res.status_mut() = status;
                    res.headers_mut().insert("x-upstream", "1".parse().unwrap());
                    return Ok(res);
                }
                if let Some(n) = path.strip_prefix("/big/") {
                    let n: usize = n.parse().unwrap_or(0);
                    return Ok(Response::new(full(Bytes::from(vec![b'x'; n]))));
                }
                let method = req.method().to_string();
                let query = req.uri().query().unwrap_or("").to_owned();
                let headers: serde_json::Map<String, serde_json::Value> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                let body = read_body(req.into_body(), 64 << 20).await.unwrap_or_default();
                let sum = body.iter().fold(0u64, |a, b| a.wrapping_add(*b as u64));
                let echo = json!({"method": method, "path": path, "query": query, "headers": headers,
                              "body_len": body.len(), "body_sum": sum});
                Ok(couponbridge::net::json_response(StatusCode::OK, &echo))
            },
        ));
        Upstream { addr, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// What a [`Fixed`] stand-in received: each request's headers and body.
pub type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A stand-in (for Gameball, Voucherify or an OTLP receiver) that answers
/// every request 200 with one fixed JSON body and an `x-stand-in: fixed`
/// header, and keeps what it received.
pub struct Fixed {
    pub url: String,
    pub received: Received,
    stop: CancellationToken,
}

impl Drop for Fixed {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Fixed {
    pub async fn start(answer: &'static str) -> Fixed {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let received: Received = Arc::new(Mutex::new(Vec::new()));
        let keep = received.clone();
        tokio::spawn(server::serve(
            listener,
            ServeOptions::default(),
            stop.clone(),
            move |req, _| {
                let keep = keep.clone();
                async move {
                    let headers = req.headers().clone();
                    let body = read_body(req.into_body(), 16 << 20).await.unwrap_or_default();
                    keep.lock().unwrap().push((headers, body));
                    let mut res = Response::new(full(Bytes::from_static(answer.as_bytes())));
                    res.headers_mut()
                        .insert("content-type", "application/json; charset=utf-8".parse().unwrap());
                    res.headers_mut().insert("x-stand-in", "fixed".parse().unwrap());
                    Ok(res)
                }
            },
        ));
        Fixed { url, received, stop }
    }
}
