//! The adapter: Gameball's coupon API in, Voucherify validation sessions
//! out, lock references in the lock store.
//!
//! A request passes named phases (pingora's model): route → authenticate →
//! read the body (bounded) → the operation's flow → respond (status
//! mapping, request id, metrics, access log, recording). Each Gameball
//! operation is one flow in its own file:
//!
//! | Gameball call | flow |
//! |---|---|
//! | `POST …/coupons/validate`, `POST …/coupons/{code}/validate` | [`validate`] |
//! | `GET …/locks/{lockReference}` | [`details`] |
//! | `DELETE …/coupons/{lockReference}`, `POST …/coupons/release` | [`release`] |
//! | `POST …/coupons/burn`, `POST …/orders` | [`redeem`] |
//! | anything else | [`passthrough`] |
//!
//! Flows run in their own task: a client that hangs up mid-request does
//! not cancel a half-done lock or burn, which finishes (or compensates) on
//! its own; the per-request deadline only stops the waiting.

pub mod details;
pub mod error;
pub mod passthrough;
pub mod redeem;
pub mod release;
pub mod validate;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::clock::{Clock, Millis};
use crate::config::{LockConfig, Messages, RouteMode, Routes, TenantConfig};
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::net::headers::{X_REQUEST_ID, text, usable_request_id};
use crate::net::server::ConnInfo;
use crate::net::{Body, ReadBodyError, full, read_body};
use crate::record::{Recorder, RequestParts, ResponseParts, UpstreamTap};
use crate::voucherify::client::{CallCtx, Upstream, VoucherifyClient};
use error::{Failure, Kind};
use passthrough::Passthrough;

/// A translated Gameball call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ValidateMany,
    ValidateOne(String),
    LockDetails(String),
    /// `DELETE …/coupons/{ref}` names the reference; `POST …/release` does not.
    Release(Option<String>),
    Burn,
    Orders,
}

impl Route {
    /// The route's name in `[routes]` and in metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Route::ValidateMany => "validate",
            Route::ValidateOne(_) => "validate_single",
            Route::LockDetails(_) => "lock_details",
            Route::Release(_) => "release",
            Route::Burn => "burn",
            Route::Orders => "orders",
        }
    }

    fn mode(&self, routes: &Routes) -> RouteMode {
        match self {
            Route::ValidateMany => routes.validate,
            Route::ValidateOne(_) => routes.validate_single,
            Route::LockDetails(_) => routes.lock_details,
            Route::Release(_) => routes.release,
            Route::Burn => routes.burn,
            Route::Orders => routes.orders,
        }
    }
}

/// Which Gameball call a method and path are. Accepts the `/api/v4.0/`,
/// `/api/v4/` and `/api/v4.1/` prefixes; literal segments match without
/// regard to case (Gameball's older SDKs wrote `Integrations`).
pub fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/api/")?;
    let (version, rest) = rest.split_once('/')?;
    if !["v4.0", "v4", "v4.1"].iter().any(|v| v.eq_ignore_ascii_case(version)) {
        return None;
    }
    let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let is = |i: usize, lit: &str| segs.get(i).is_some_and(|s| s.eq_ignore_ascii_case(lit));
    let decoded = |i: usize| percent_decode_str(segs[i]).decode_utf8_lossy().into_owned();
    if !is(0, "integrations") {
        return None;
    }
    match (method, segs.len()) {
        (&Method::POST, 2) if is(1, "orders") => Some(Route::Orders),
        (&Method::POST, 3) if is(1, "coupons") && is(2, "validate") => Some(Route::ValidateMany),
        (&Method::POST, 3) if is(1, "coupons") && is(2, "burn") => Some(Route::Burn),
        (&Method::POST, 3) if is(1, "coupons") && is(2, "release") => Some(Route::Release(None)),
        (&Method::POST, 4) if is(1, "coupons") && is(3, "validate") && !segs[2].is_empty() => {
            Some(Route::ValidateOne(decoded(2)))
        }
        (&Method::DELETE, 3) if is(1, "coupons") && !segs[2].is_empty() => Some(Route::Release(Some(decoded(2)))),
        (&Method::GET, 3) if is(1, "locks") && !segs[2].is_empty() => Some(Route::LockDetails(decoded(2))),
        _ => None,
    }
}

/// One merchant, as the adapter uses it.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    secret_digest: SecretDigest,
    pub decimals: u32,
    pub upstream: Upstream,
    pub routes: Routes,
    pub messages: Messages,
}

impl Tenant {
    pub fn new(cfg: &TenantConfig) -> Result<Self, String> {
        Ok(Tenant {
            name: cfg.name.clone(),
            secret_digest: SecretDigest(Sha256::digest(cfg.secret_key.expose().as_bytes()).into()),
            decimals: cfg.currency_decimals,
            upstream: Upstream::new(&cfg.voucherify).map_err(|e| format!("tenants.{}.voucherify: {e}", cfg.name))?,
            routes: cfg.routes,
            messages: cfg.messages.clone(),
        })
    }

    pub fn upstream_timeout_ms(&self) -> i64 {
        self.upstream.timeout().as_millis() as i64
    }

    /// Constant time, and over digests, so not even the secret's length
    /// shows in the timing.
    fn secret_matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        bool::from(self.secret_digest.0.ct_eq(&given))
    }
}

/// The SHA-256 of a tenant's secret key, made once at start-up. Never
/// printed: an unsalted digest of a weak secret can be reversed.
struct SecretDigest([u8; 32]);

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the flows share.
pub struct App {
    tenants: HashMap<String, Arc<Tenant>>,
    routes: Routes,
    pub store: Store,
    pub voucherify: VoucherifyClient,
    pub passthrough: Option<Passthrough>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub recorder: Option<Recorder>,
    pub locks: LockConfig,
    max_body: usize,
    request_timeout: Duration,
}

pub struct AppParts {
    pub tenants: Vec<Tenant>,
    pub api_keys: Vec<String>,
    pub routes: Routes,
    pub store: Store,
    pub voucherify: VoucherifyClient,
    pub passthrough: Option<Passthrough>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub recorder: Option<Recorder>,
    pub locks: LockConfig,
    pub max_body: usize,
    pub request_timeout: Duration,
}

/// What one flow needs: the app, the tenant, and who is asking.
#[derive(Clone)]
pub struct Ctx {
    pub app: Arc<App>,
    pub tenant: Arc<Tenant>,
    pub request_id: String,
    pub tap: Option<Arc<UpstreamTap>>,
}

impl Ctx {
    pub fn call(&self) -> CallCtx<'_> {
        CallCtx {
            request_id: &self.request_id,
            tap: self.tap.as_deref(),
        }
    }

    pub fn now(&self) -> Millis {
        self.app.clock.now()
    }

    /// How long from now a record of a lock ending at `expires_at` is kept.
    pub fn keep_for(&self, expires_at: Millis) -> Duration {
        let ttl = Duration::from_millis((expires_at - self.now()).max(0) as u64);
        ttl + self.app.locks.retention
    }
}

/// A 200 JSON answer, kept as bytes so it can be recorded as sent.
pub struct Json {
    pub body: Vec<u8>,
}

impl Json {
    pub fn ok<T: Serialize>(value: &T) -> Result<Json, Failure> {
        serde_json::to_vec(value)
            .map(|body| Json { body })
            .map_err(|e| Failure::internal(format!("cannot encode the answer: {e}")))
    }
}

/// A required id field (a string or a number in Gameball's API), trimmed.
pub(crate) fn required(id: Option<&crate::gameball::StringOrNumber>, field: &str) -> Result<String, Failure> {
    id.map(|c| c.0.trim())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Failure::missing(field))
}

/// The coupon codes of a request, trimmed, each once, in the order given;
/// empty ones are left out.
pub(crate) fn codes_of(list: Option<&Vec<crate::gameball::CouponRef>>) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for c in list.into_iter().flatten() {
        let code = c.code().trim();
        if !code.is_empty() && !codes.iter().any(|x| x == code) {
            codes.push(code.to_owned());
        }
    }
    codes
}

/// Parses a request body, telling malformed JSON (3016) from a
/// well-formed body with a wrong value (3003, naming the field).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            Failure::invalid(&path, inner)
        } else {
            Failure::client(
                Kind::MalformedJson,
                format!("The request body is not valid JSON: {inner}"),
            )
        }
    })
}

impl App {
    pub fn new(p: AppParts) -> Self {
        let tenants = p
            .api_keys
            .into_iter()
            .zip(p.tenants)
            .map(|(k, t)| (k, Arc::new(t)))
            .collect();
        App {
            tenants,
            routes: p.routes,
            store: p.store,
            voucherify: p.voucherify,
            passthrough: p.passthrough,
            clock: p.clock,
            metrics: p.metrics,
            recorder: p.recorder,
            locks: p.locks,
            max_body: p.max_body,
            request_timeout: p.request_timeout,
        }
    }

    /// The authenticate phase: the tenant whose `apikey` this is, with the
    /// secret checked in constant time.
    fn authenticate(&self, headers: &HeaderMap, tenant: Option<&Arc<Tenant>>) -> Result<Arc<Tenant>, Failure> {
        let Some(tenant) = tenant else {
            let message = match text(headers, "apikey") {
                None => "The apikey header is required",
                Some(_) => "The apikey is not valid",
            };
            return Err(Failure::client(Kind::Unauthorized, message));
        };
        match text(headers, "secretkey") {
            None => Err(Failure::client(
                Kind::SecretRequired,
                "The secretkey header is required",
            )),
            Some(s) if tenant.secret_matches(s) => Ok(tenant.clone()),
            Some(_) => Err(Failure::client(Kind::Unauthorized, "The secretkey is not valid")),
        }
    }

    /// Serves one request on the Gameball listener.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>, conn: ConnInfo) -> Response<Body> {
        let request_id = usable_request_id(req.headers()).unwrap_or_else(ids::request_id);
        // One span per request. Its fields are the request id, the route's
        // name and the tenant's name: never a header value or a path, which
        // could carry a credential or a lock reference.
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            route = tracing::field::Empty,
            tenant = tracing::field::Empty
        );
        self.handle_in_span(req, conn, request_id).instrument(span).await
    }

    async fn handle_in_span(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: String,
    ) -> Response<Body> {
        let started = Instant::now();
        let route = route(req.method(), req.uri().path());
        let tenant = text(req.headers(), "apikey").and_then(|k| self.tenants.get(k)).cloned();
        let span = tracing::Span::current();
        span.record("route", route.as_ref().map_or("passthrough", |r| r.name()));
        span.record("tenant", tenant.as_ref().map_or("-", |t| t.name.as_str()));

        let translated = route.clone().filter(|r| {
            let routes = tenant.as_ref().map_or(&self.routes, |t| &t.routes);
            r.mode(routes) == RouteMode::Translate || self.passthrough.is_none()
        });
        let (route_name, mut res) = match translated {
            Some(route) => {
                let name = route.name();
                (
                    name,
                    self.translated(route, tenant.clone(), req, conn, &request_id).await,
                )
            }
            None => {
                let name = route.as_ref().map_or("passthrough", |r| r.name());
                let res = match &self.passthrough {
                    Some(p) => p.forward(&self, req, conn, &request_id).await,
                    None => Failure::client(
                        Kind::NotFound,
                        format!(
                            "{} {} is not a Gameball coupon endpoint couponbridge serves",
                            req.method(),
                            req.uri().path()
                        ),
                    )
                    .to_response(&request_id),
                };
                (name, res)
            }
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut().insert(X_REQUEST_ID, v);
        }
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics.request(route_name, status, elapsed.as_secs_f64());
        tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "answered");
        res
    }

    async fn translated(
        self: &Arc<Self>,
        route: Route,
        tenant: Option<Arc<Tenant>>,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: &str,
    ) -> Response<Body> {
        let recording = self.recorder.as_ref().and_then(Recorder::begin);
        let (parts, body) = req.into_parts();
        let url = recording.as_ref().map(|_| full_url_parts(&parts, conn.tls));

        let body = match read_body(body, self.max_body).await {
            Ok(b) => Ok(b),
            Err(ReadBodyError::TooLarge(limit)) => Err(Failure::client(
                Kind::TooLarge,
                format!("The request body is larger than {limit} bytes"),
            )),
            Err(ReadBodyError::Io(e)) => Err(Failure::client(
                Kind::MalformedJson,
                format!("Reading the body failed: {e}"),
            )),
        };
        let outcome = match (self.authenticate(&parts.headers, tenant.as_ref()), body) {
            (Err(f), _) | (Ok(_), Err(f)) => Err(f),
            (Ok(tenant), Ok(body)) => {
                let ctx = Ctx {
                    app: self.clone(),
                    tenant,
                    request_id: request_id.to_owned(),
                    tap: recording.as_ref().map(|r| r.tap()),
                };
                self.run_flow(ctx, route, body.clone()).await.map(|j| (j, body))
            }
        };

        let (status, mut headers, res_body, req_body) = match outcome {
            Ok((json, req_body)) => (StatusCode::OK, HeaderMap::new(), Bytes::from(json.body), req_body),
            Err(f) => {
                log_failure(&f, request_id);
                let (status, headers, body) = f.parts(request_id);
                (status, headers, Bytes::from(body), Bytes::new())
            }
        };
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let (Some(rec), Some(url)) = (recording, url) {
            rec.finish(
                RequestParts {
                    method: &parts.method,
                    url: &url,
                    version: parts.version,
                    headers: &parts.headers,
                    body: &req_body,
                },
                ResponseParts {
                    status,
                    headers: &headers,
                    body: &res_body,
                },
                tenant.as_ref().map(|t| t.name.as_str()),
                request_id,
            );
        }
        let mut res = Response::new(full(res_body));
        *res.status_mut() = status;
        *res.headers_mut() = headers;
        res
    }

    /// Runs a flow in its own task, waiting at most the request deadline.
    async fn run_flow(&self, ctx: Ctx, route: Route, body: Bytes) -> Result<Json, Failure> {
        let task = tokio::spawn(
            async move {
                match route {
                    Route::ValidateMany => validate::many(&ctx, &body).await,
                    Route::ValidateOne(code) => validate::one(&ctx, code, &body).await,
                    Route::LockDetails(reference) => details::lock_details(&ctx, &reference).await,
                    Route::Release(reference) => release::release(&ctx, reference, &body).await,
                    Route::Burn => redeem::burn(&ctx, &body).await,
                    Route::Orders => redeem::order(&ctx, &body).await,
                }
            }
            .in_current_span(),
        );
        match tokio::time::timeout(self.request_timeout, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(Failure::internal(format!("the request failed unexpectedly: {join}"))),
            Err(_) => Err(Failure::new(
                Kind::UpstreamUnavailable,
                error::Source::Internal,
                "The request did not finish in time; retry later",
            )),
        }
    }
}

/// The URL a client asked for, for recordings.
pub(crate) fn full_url_parts(parts: &http::request::Parts, tls: bool) -> String {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("couponbridge");
    let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}://{host}{pq}", if tls { "https" } else { "http" })
}

fn log_failure(f: &Failure, request_id: &str) {
    let (status, code) = f.kind.status_and_code();
    if status.is_server_error() {
        tracing::warn!(request_id, source = ?f.source, code, message = %f.message, "request failed");
    } else {
        tracing::debug!(request_id, source = ?f.source, code, message = %f.message, "request refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gameball::CouponRef;

    #[test]
    fn codes_are_trimmed_and_deduplicated() {
        let list = vec![
            CouponRef::Code(" A ".into()),
            CouponRef::Code("A".into()),
            CouponRef::Code("".into()),
            CouponRef::Code("B".into()),
        ];
        assert_eq!(codes_of(Some(&list)), vec!["A".to_string(), "B".to_string()]);
        assert!(codes_of(None).is_empty());
    }

    #[test]
    fn routes_accept_every_documented_prefix_and_spelling() {
        for prefix in ["/api/v4.0", "/api/v4", "/api/v4.1", "/api/V4.0"] {
            assert_eq!(
                route(&Method::POST, &format!("{prefix}/integrations/coupons/validate")),
                Some(Route::ValidateMany)
            );
        }
        for (m, p, want) in [
            (
                Method::POST,
                "/api/v4.0/Integrations/Coupons/SAVE%2010/validate",
                Route::ValidateOne("SAVE 10".into()),
            ),
            (
                Method::DELETE,
                "/api/v4.0/integrations/coupons/abc",
                Route::Release(Some("abc".into())),
            ),
            (
                Method::POST,
                "/api/v4.0/integrations/coupons/release",
                Route::Release(None),
            ),
            (Method::POST, "/api/v4.0/integrations/coupons/burn", Route::Burn),
            (
                Method::GET,
                "/api/v4.0/integrations/locks/abc",
                Route::LockDetails("abc".into()),
            ),
            (Method::POST, "/api/v4.0/integrations/orders", Route::Orders),
        ] {
            assert_eq!(route(&m, p), Some(want), "{m} {p}");
        }
    }

    #[test]
    fn everything_else_is_not_translated() {
        for (m, p) in [
            (Method::GET, "/api/v4.0/integrations/coupons/validate"),
            (Method::POST, "/api/v3.0/integrations/coupons/validate"),
            (Method::POST, "/api/v4.0/integrations/customers"),
            (Method::POST, "/api/v4.0/integrations/coupons/predefined/x"),
            (Method::GET, "/api/v4.0/integrations/locks/"),
            (Method::POST, "/healthz"),
        ] {
            assert_eq!(route(&m, p), None, "{m} {p}");
        }
    }

    #[test]
    fn bodies_tell_malformed_json_from_wrong_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            lock: Option<bool>,
        }
        assert_eq!(parse_body::<B>(b"{oops").unwrap_err().kind, Kind::MalformedJson);
        let wrong = parse_body::<B>(br#"{"lock": "yes"}"#).unwrap_err();
        assert_eq!(wrong.kind, Kind::InvalidValue);
        assert!(wrong.message.contains("lock"), "{}", wrong.message);
        assert!(parse_body::<B>(b"").is_ok(), "an empty body is an empty object");
    }
}
