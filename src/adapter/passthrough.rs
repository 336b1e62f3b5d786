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
use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::adapter::error::{Failure, Kind, Source};
use crate::config::PassthroughConfig;
use crate::net::client::HttpClient;
use crate::net::headers::{X_REQUEST_ID, add_forwarded, remove_hop_by_hop};
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

    pub async fn forward(
        &self,
        recorder: Option<&Recorder>,
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
        let recording = recorder.and_then(|r| r.begin());
        let record_url = recording.as_ref().map(|_| super::full_url_parts(&parts, conn.tls));
        let original_headers = recording.as_ref().map(|_| parts.headers.clone());

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

        // Recording: the request body is copied as it streams; the exchange
        // is written when the response body ends.
        let shared = recording.map(|r| Arc::new(Mutex::new((Some(r), Bytes::new()))));
        let body: Body = match &shared {
            Some(slot) => {
                let slot = slot.clone();
                Tee::new(body, RECORD_CAP, move |copy, _| {
                    slot.lock().unwrap_or_else(|p| p.into_inner()).1 = copy;
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
                    Source::Upstream,
                    "Gameball is unavailable; retry later",
                )
                .caused_by(format!("pass-through: {e}")));
            }
            Err(_) => {
                return Err(Failure::new(
                    Kind::UpstreamUnavailable,
                    Source::Upstream,
                    "Gameball did not answer in time",
                )
                .caused_by(format!("pass-through: no answer in {:?}", self.timeout)));
            }
        };
        let (mut rparts, rbody) = res.into_parts();
        remove_hop_by_hop(&mut rparts.headers);
        let body: Body = match shared {
            Some(slot) => {
                let status = rparts.status;
                let res_headers = rparts.headers.clone();
                let req_headers = original_headers.unwrap_or_default();
                let url = record_url.unwrap_or_default();
                let request_id = request_id.to_owned();
                Tee::new(rbody, RECORD_CAP, move |copy, _| {
                    let (rec, req_body) = {
                        let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
                        (g.0.take(), std::mem::take(&mut g.1))
                    };
                    if let Some(rec) = rec {
                        let req = RequestParts {
                            method: &method,
                            url: &url,
                            version,
                            headers: &req_headers,
                            body: &req_body,
                        };
                        let res = ResponseParts {
                            status,
                            headers: &res_headers,
                            body: &copy,
                        };
                        rec.finish(req, res, None, &request_id);
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
