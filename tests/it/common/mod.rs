//! Test harness: an HTTP client over real sockets, a real `redis-server` on
//! a free port, and the simulator in-process.

pub mod binary;
pub mod contract;
pub mod env;
pub mod gameball;
pub mod gameball_schema;
pub mod redis_server;
pub mod upstream;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use redis_server::RedisServer;

/// Calls `call` until `done` holds for its answer (or a 10 s deadline):
/// waiting on a state, not on time.
pub async fn wait_for<F, Fut>(mut call: F, done: impl Fn(&Reply) -> bool) -> Reply
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = call().await;
        if done(&r) || std::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// One series' value in a Prometheus text exposition (0 when absent).
pub fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

pub const SIM_AUTH: [(&str, &str); 2] = [
    ("x-app-id", couponbridge::sim::DEFAULT_APP_ID),
    ("x-app-token", couponbridge::sim::DEFAULT_APP_TOKEN),
];

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A plain HTTP/1.1 client.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Self {
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
        let bytes = body
            .map(|b| Bytes::from(serde_json::to_vec(b).unwrap()))
            .unwrap_or_default();
        self.send_raw(method, url, headers, bytes).await
    }

    pub async fn send_raw(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Bytes) -> Reply {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(url);
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self
            .inner
            .request(req.body(Full::new(body)).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e:?}"));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body }
    }
}

/// The interpreter of the venv that holds both SDKs (Gameball's gb-alpha
/// and Voucherify's): `GAMEBALL_SDK_PYTHON`, or the one
/// `tests/sdk/setup-venv.sh` makes.
pub fn sdk_python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(p) = std::env::var("GAMEBALL_SDK_PYTHON") {
            return p;
        }
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash")
            .arg(root.join("tests/sdk/setup-venv.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("bash runs tests/sdk/setup-venv.sh");
        assert!(out.status.success(), "tests/sdk/setup-venv.sh failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout.lines().last().expect("the venv's python").trim().to_owned()
    })
}

/// The `code` of every coupon of a JSON list, in order.
pub fn codes(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|c| c["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}
