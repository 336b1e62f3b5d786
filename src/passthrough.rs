//! Calls couponbridge does not translate (customers, events, points, and
//! any route switched to `passthrough`) go to the original Gameball API,
//! as a reverse proxy does it: bodies stream both ways without buffering,
//! hop-by-hop headers are dropped, `X-Forwarded-For/-Proto/-Host` are added,
//! `Host` names the upstream (the client's is kept in `X-Forwarded-Host`),
//! and upstream answers, errors included, come back unchanged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::BodyExt;

use crate::config::PassthroughConfig;
use crate::domain::{GameballAnswer, PassOn};
use crate::error::{Failure, Kind, Origin, Retry};
use crate::net::client::HttpClient;
use crate::net::headers::{X_REQUEST_ID, add_forwarded, full_url, remove_hop_by_hop};
use crate::net::server::ConnInfo;
use crate::net::tee::Tee;
use crate::net::{Body, BoxError, stream};
use crate::record::{Recorder, RequestParts, ResponseParts};

/// Recorded bodies are cut at this size.
const RECORD_CAP: usize = 1 << 20;

pub struct Passthrough {
    client: HttpClient,
    scheme: Scheme,
    authority: Authority,
    base_path: String,
    timeout: Duration,
}

impl Passthrough {
    pub fn new(cfg: &PassthroughConfig, client: HttpClient) -> Self {
        let parts = cfg.upstream.clone().into_parts();
        Passthrough {
            client,
            scheme: parts.scheme.unwrap_or(Scheme::HTTPS),
            authority: parts.authority.expect("validated: the upstream URL has a host"),
            base_path: parts
                .path_and_query
                .map(|p| p.path().trim_end_matches('/').to_owned())
                .unwrap_or_default(),
            timeout: cfg.timeout,
        }
    }

    /// How long a call to Gameball may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn upstream_uri(&self, original: &Uri) -> Result<Uri, http::Error> {
        let pq = original.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{pq}", self.base_path))
            .build()
    }

    /// Forwards one request (its body streamed as it arrives, or read
    /// already when the request phase had to look at it). Each observer (the recording, the shadow) is
    /// handed the whole exchange once the answer's body has streamed to
    /// the client: nothing waits for them.
    pub async fn forward(
        &self,
        recorder: Option<&Recorder>,
        mut observers: Vec<Observer>,
        req: Request<Body>,
        conn: ConnInfo,
        request_id: &str,
    ) -> Result<Response<Body>, Failure> {
        let (mut parts, body) = req.into_parts();
        let uri = match self.upstream_uri(&parts.uri) {
            Ok(u) => u,
            Err(e) => {
                return Err(Failure::client(
                    Kind::NotFound,
                    format!("Cannot forward this path: {e}"),
                ));
            }
        };
        if let Some(rec) = recorder.and_then(|r| r.begin()) {
            let url = full_url(&parts, conn.tls);
            let request_id = request_id.to_owned();
            observers.push(Box::new(move |seen: &Seen<'_>| {
                rec.finish(
                    RequestParts {
                        method: seen.method,
                        url: &url,
                        version: seen.version,
                        headers: seen.request_headers,
                        body: seen.request_body,
                    },
                    ResponseParts {
                        status: seen.status,
                        headers: seen.response_headers,
                        body: seen.response_body,
                    },
                    None,
                    &request_id,
                )
            }));
        }
        let original_headers = (!observers.is_empty()).then(|| parts.headers.clone());

        let original_host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let headers = &mut parts.headers;
        remove_hop_by_hop(headers);
        headers.remove(header::HOST);
        add_forwarded(headers, conn.peer.ip(), conn.tls, original_host.as_deref());
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(X_REQUEST_ID, v);
        }
        // The merchant's own traceparent passes through as any header; with
        // export on, it becomes this hop's span.
        crate::telemetry::outgoing(None, headers);
        let method = parts.method.clone();
        let version = parts.version;
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;

        // Observed: the request body is copied as it streams; the exchange
        // is handed over when the response body ends.
        let shared = (!observers.is_empty()).then(|| Arc::new(Mutex::new((observers, Bytes::new(), false))));
        let body: Body = match &shared {
            Some(slot) => {
                let slot = slot.clone();
                Tee::new(body, RECORD_CAP, move |copy, truncated| {
                    let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
                    g.1 = copy;
                    g.2 = truncated;
                })
                .boxed()
            }
            None => body,
        };
        let upstream = Request::from_parts(parts, body);

        let res = match tokio::time::timeout(self.timeout, self.client.request(upstream)).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => {
                return Err(Failure::new(
                    Kind::UpstreamUnavailable,
                    Origin::Gameball,
                    "Gameball is unavailable; retry later",
                )
                .at("gameball.forward")
                .retry(Retry::Safe)
                .caused_by(e));
            }
            Err(_) => {
                return Err(Failure::new(
                    Kind::UpstreamUnavailable,
                    Origin::Gameball,
                    "Gameball did not answer in time",
                )
                .at("gameball.forward")
                .because(format!("no answer in {:?}", self.timeout)));
            }
        };
        let (mut rparts, rbody) = res.into_parts();
        remove_hop_by_hop(&mut rparts.headers);
        let body: Body = match shared {
            Some(slot) => {
                let status = rparts.status;
                let res_headers = rparts.headers.clone();
                let req_headers = original_headers.unwrap_or_default();
                Tee::new(rbody, RECORD_CAP, move |copy, truncated| {
                    let (observers, req_body, req_truncated) = {
                        let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
                        (std::mem::take(&mut g.0), std::mem::take(&mut g.1), g.2)
                    };
                    let seen = Seen {
                        method: &method,
                        version,
                        request_headers: &req_headers,
                        request_body: &req_body,
                        status,
                        response_headers: &res_headers,
                        response_body: &copy,
                        complete: !truncated && !req_truncated,
                    };
                    for observe in observers {
                        observe(&seen);
                    }
                })
                .map_err(|e| Box::new(e) as BoxError)
                .boxed()
            }
            None => stream(rbody),
        };
        Ok(Response::from_parts(rparts, body))
    }
}

/// Gameball's answers to calls made for the merchant are read whole, up to
/// this size.
const ANSWER_CAP: usize = 4 << 20;

impl Passthrough {
    /// Makes one call for the merchant (an order passed on once its
    /// coupons are redeemed) and reads the answer whole. The failure says
    /// whether Gameball may have acted on it: a connection never made did
    /// not; an answer that did not come in time may have.
    pub async fn send(&self, call: &PassOn, request_id: &str) -> Result<GameballAnswer, Sent> {
        let original: Uri = call
            .path
            .parse()
            .map_err(|e: http::uri::InvalidUri| Sent::NotSent(e.to_string()))?;
        let uri = self.upstream_uri(&original).map_err(|e| Sent::NotSent(e.to_string()))?;
        let mut req = Request::builder()
            .method(Method::from_bytes(call.method.as_bytes()).unwrap_or(Method::POST))
            .uri(uri);
        let headers = req.headers_mut().expect("a fresh builder");
        for (name, value) in &call.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        remove_hop_by_hop(headers);
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(X_REQUEST_ID, v);
        }
        let req = req
            .body(crate::net::full(Bytes::from(call.body.clone())))
            .map_err(|e| Sent::NotSent(e.to_string()))?;
        let exchange = async {
            let res = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    Sent::NotSent(e.to_string())
                } else {
                    Sent::Unknown(e.to_string())
                }
            })?;
            let (parts, body) = res.into_parts();
            let body = crate::net::read_body(body, ANSWER_CAP)
                .await
                .map_err(|e| Sent::Unknown(e.to_string()))?;
            Ok(GameballAnswer {
                status: parts.status.as_u16(),
                headers: parts
                    .headers
                    .iter()
                    .filter(|(n, _)| !matches!(n.as_str(), "content-length" | "transfer-encoding" | "connection"))
                    .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect(),
                body: body.to_vec(),
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Sent::Unknown(format!("no answer in {:?}", self.timeout))),
        }
    }
}

/// A call to Gameball that got no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Sent {
    /// Nothing reached Gameball (no connection, a request that could not
    /// be made).
    #[error("not sent to Gameball: {0}")]
    NotSent(String),
    /// It may have reached Gameball: the connection broke or the answer
    /// did not come in time.
    #[error("no answer from Gameball: {0}")]
    Unknown(String),
}

impl From<Sent> for Failure {
    fn from(e: Sent) -> Failure {
        Failure::new(
            Kind::UpstreamUnavailable,
            Origin::Gameball,
            "Gameball is unavailable; retry later",
        )
        .at("gameball.call")
        .retry(Retry::Safe)
        .caused_by(e)
    }
}

/// One forwarded exchange, as an observer sees it.
pub struct Seen<'a> {
    pub method: &'a Method,
    pub version: http::Version,
    /// As the client sent them.
    pub request_headers: &'a HeaderMap,
    pub request_body: &'a Bytes,
    pub status: StatusCode,
    pub response_headers: &'a HeaderMap,
    pub response_body: &'a Bytes,
    /// Both bodies whole: they ended, and fit under the copy limit.
    pub complete: bool,
}

pub type Observer = Box<dyn FnOnce(&Seen<'_>) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(upstream: &str) -> Passthrough {
        Passthrough::new(
            &PassthroughConfig {
                upstream: upstream.parse().unwrap(),
                timeout: Duration::from_secs(1),
            },
            crate::net::client::build(&Default::default()).unwrap(),
        )
    }

    #[test]
    fn upstream_uris_keep_path_and_query_under_the_base_path() {
        let uri: Uri = "/api/v4.0/integrations/customers/c1?x=1".parse().unwrap();
        assert_eq!(
            p("https://api.gameball.co").upstream_uri(&uri).unwrap().to_string(),
            "https://api.gameball.co/api/v4.0/integrations/customers/c1?x=1"
        );
        assert_eq!(
            p("http://127.0.0.1:9000/gb/").upstream_uri(&uri).unwrap().to_string(),
            "http://127.0.0.1:9000/gb/api/v4.0/integrations/customers/c1?x=1"
        );
    }
}
