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
use hyper::body::Incoming;

use crate::config::PassthroughConfig;
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

    fn upstream_uri(&self, original: &Uri) -> Result<Uri, http::Error> {
        let pq = original.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{pq}", self.base_path))
            .build()
    }

    /// Forwards one request. Each observer (the recording, the shadow) is
    /// handed the whole exchange once the answer's body has streamed to
    /// the client: nothing waits for them.
    pub async fn forward(
        &self,
        recorder: Option<&Recorder>,
        mut observers: Vec<Observer>,
        req: Request<Incoming>,
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
                .map_err(|e| Box::new(e) as BoxError)
                .boxed()
            }
            None => stream(body),
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
