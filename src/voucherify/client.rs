//! The Voucherify client: one pooled hyper-util client for every tenant,
//! typed calls, and errors that say where they came from and whether the
//! request may have reached Voucherify (pingora's lesson: the retry decision
//! needs both).
//!
//! Retry policy. A connection that could not be made (nothing was sent) is
//! tried once more, for every call, within the same deadline: one call never
//! takes longer than the tenant's timeout. Nothing else is retried here; a
//! redemption whose answer is lost is reconciled by the caller, who reads
//! the order back before trying again (Voucherify has no idempotency key).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Redeemable;
use super::definitions::Definitions;
use crate::config::{Http2, VoucherifyConfig};
use crate::metrics::Metrics;
use crate::net::client::HttpClient;
use crate::net::headers::X_REQUEST_ID;
use crate::net::{self, read_body};
use crate::record::UpstreamTap;
use crate::telemetry::TraceHeaders;
use tracing::Instrument;

// The calls themselves, by what they are about, beside this transport.
mod coupons;
mod error;
mod lifecycle;
pub use coupons::{CreateOutcome, RedeemOutcome};
pub use error::{ErrorKind, UpstreamError};
pub use lifecycle::Written;

/// Path segments keep unreserved characters only; everything else is
/// percent-encoded (codes may contain `/`, `#`, `?`, spaces...).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const MAX_RESPONSE: usize = 4 << 20;
const X_APP_ID: HeaderName = HeaderName::from_static("x-app-id");
const X_APP_TOKEN: HeaderName = HeaderName::from_static("x-app-token");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// One tenant's Voucherify project.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
    app_id: HeaderValue,
    app_token: HeaderValue,
    timeout: Duration,
    http2: Http2,
    /// Voucher definitions lock details reuse (see `definitions`); the
    /// validations and redemptions this client makes keep it current.
    pub definitions: Arc<Definitions>,
}

impl Upstream {
    pub fn new(cfg: &VoucherifyConfig) -> Result<Self, http::header::InvalidHeaderValue> {
        let mut token = HeaderValue::from_str(cfg.app_token.expose())?;
        token.set_sensitive(true);
        Ok(Upstream {
            base: cfg.base_url.to_string().trim_end_matches('/').to_owned(),
            app_id: HeaderValue::from_str(&cfg.app_id)?,
            app_token: token,
            timeout: cfg.timeout,
            http2: cfg.http2,
            definitions: Arc::new(Definitions::new(cfg.definitions_ttl)),
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Validate,
    Redeem,
    Release,
    GetVoucher,
    GetRule,
    GetOrder,
    CreateVoucher,
    ListMembers,
    GetReward,
    RedeemReward,
    GetRedemption,
    ListVouchers,
    Qualify,
    Rollback,
}

impl Op {
    /// The call's name in a failure's chain: `voucherify.validate`.
    pub fn call_name(self) -> &'static str {
        match self {
            Op::Validate => "voucherify.validate",
            Op::Redeem => "voucherify.redeem",
            Op::Release => "voucherify.release",
            Op::GetVoucher => "voucherify.get_voucher",
            Op::GetRule => "voucherify.get_rule",
            Op::GetOrder => "voucherify.get_order",
            Op::CreateVoucher => "voucherify.create_voucher",
            Op::ListMembers => "voucherify.list_members",
            Op::GetReward => "voucherify.get_reward",
            Op::RedeemReward => "voucherify.redeem_reward",
            Op::GetRedemption => "voucherify.get_redemption",
            Op::ListVouchers => "voucherify.list_vouchers",
            Op::Qualify => "voucherify.qualify",
            Op::Rollback => "voucherify.rollback",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Validate => "validate",
            Op::Redeem => "redeem",
            Op::Release => "release",
            Op::GetVoucher => "get_voucher",
            Op::GetRule => "get_rule",
            Op::GetOrder => "get_order",
            Op::CreateVoucher => "create_voucher",
            Op::ListMembers => "list_members",
            Op::GetReward => "get_reward",
            Op::RedeemReward => "redeem_reward",
            Op::GetRedemption => "get_redemption",
            Op::ListVouchers => "list_vouchers",
            Op::Qualify => "qualify",
            Op::Rollback => "rollback",
        }
    }
}

/// What one request is, for logs, Voucherify, traces and the recording.
#[derive(Clone, Copy)]
pub struct CallCtx<'a> {
    pub request_id: &'a str,
    pub tap: Option<&'a UpstreamTap>,
    /// The merchant's trace context, sent on (see `crate::telemetry`).
    pub trace: Option<&'a TraceHeaders>,
}

#[derive(Clone)]
pub struct VoucherifyClient {
    http: HttpClient,
    metrics: Arc<Metrics>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl VoucherifyClient {
    pub fn new(http: HttpClient, metrics: Arc<Metrics>) -> Self {
        VoucherifyClient { http, metrics }
    }

    /// The calls to `up`'s project, for one request.
    pub fn project<'a>(&'a self, up: &'a Upstream, call: CallCtx<'a>) -> Project<'a> {
        Project { client: self, up, call }
    }

    /// One call, in its own span (`voucherify`, with the operation and the
    /// outcome: never a path, which can hold a code or a session key).
    async fn call(
        &self,
        up: &Upstream,
        op: Op,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        ctx: CallCtx<'_>,
    ) -> Result<Answer, UpstreamError> {
        let span = crate::call_span!("voucherify", op = op.name(), outcome = tracing::field::Empty);
        let started = Instant::now();
        let deadline = started + up.timeout;
        let body = body.map(Bytes::from);
        let url = format!("{}{}", up.base, path);
        let result = async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let r = self
                    .send_once(up, op, &method, &url, body.as_ref(), deadline, ctx)
                    .await;
                match r {
                    Err(UpstreamError {
                        kind: ErrorKind::Connect,
                        ..
                    }) if attempt == 1 => continue,
                    other => break other,
                }
            }
        }
        .instrument(span.clone())
        .await;
        let outcome = match &result {
            Ok(a) => a.status.as_str().to_owned(),
            Err(e) => e.kind_label().to_owned(),
        };
        span.record("outcome", outcome.as_str());
        self.metrics
            .voucherify_call(op.name(), outcome, started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            self.metrics.upstream_error(e.kind_label());
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_once(
        &self,
        up: &Upstream,
        op: Op,
        method: &Method,
        url: &str,
        body: Option<&Bytes>,
        deadline: Instant,
        ctx: CallCtx<'_>,
    ) -> Result<Answer, UpstreamError> {
        let err = |kind| UpstreamError::new(op, kind);
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url)
            .header(X_APP_ID, up.app_id.clone())
            .header(X_APP_TOKEN, up.app_token.clone())
            .header(header::ACCEPT, APPLICATION_JSON)
            .header(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        if let Ok(rid) = HeaderValue::from_str(ctx.request_id) {
            req = req.header(X_REQUEST_ID, rid);
        }
        if let Some(headers) = req.headers_mut() {
            crate::telemetry::outgoing(ctx.trace, headers);
        }
        let bytes = body.cloned().unwrap_or_default();
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, APPLICATION_JSON);
        }
        let req = req
            .body(net::full(bytes.clone()))
            .map_err(|e| err(ErrorKind::BadResponse(e.to_string())))?;
        let started = Instant::now();
        let sent = async {
            let res = self.http.version(up.http2).request(req).await.map_err(|e| {
                let kind = if e.is_connect() {
                    ErrorKind::Connect
                } else {
                    ErrorKind::Transport
                };
                err(kind).with_source(e)
            })?;
            let (parts, body) = res.into_parts();
            let body = read_body(body, MAX_RESPONSE)
                .await
                .map_err(|e| err(ErrorKind::Transport).with_source(e.to_string()))?;
            Ok::<_, UpstreamError>(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let answer = match tokio::time::timeout_at(deadline.into(), sent).await {
            Ok(r) => r,
            Err(_) => Err(err(ErrorKind::Timeout)),
        };
        if let Some(tap) = ctx.tap {
            tap.record(
                method,
                url,
                &bytes,
                answer.as_ref().ok().map(|a| (a.status, &a.headers, &a.body)),
                started,
            );
        }
        let answer = answer?;
        match answer.status.as_u16() {
            429 => Err(err(ErrorKind::RateLimited(
                answer
                    .headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            ))),
            500..=599 => Err(err(ErrorKind::Unavailable(answer.status.as_u16()))),
            401 | 403 => Err(err(ErrorKind::Unauthorized(answer.status.as_u16()))),
            _ => Ok(answer),
        }
    }
}

/// The writing calls of a [`Project`].
#[derive(Clone, Copy)]
pub struct Writes<'a>(Project<'a>);

impl<'a> std::ops::Deref for Writes<'a> {
    type Target = Project<'a>;

    fn deref(&self) -> &Project<'a> {
        &self.0
    }
}

/// One tenant's Voucherify project, as one request sees it: every call
/// below goes through here, in the request's span, with its id and trace.
#[derive(Clone, Copy)]
pub struct Project<'a> {
    client: &'a VoucherifyClient,
    up: &'a Upstream,
    call: CallCtx<'a>,
}

impl<'a> Project<'a> {
    pub fn definitions(&self) -> &'a Definitions {
        &self.up.definitions
    }

    /// The calls that change Voucherify. Only an operation's effects use
    /// them (a test holds every other caller to that).
    pub fn writes(self) -> Writes<'a> {
        Writes(self)
    }

    async fn call(&self, op: Op, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer, UpstreamError> {
        self.client.call(self.up, op, method, path, body, self.call).await
    }

    async fn get_optional<T: DeserializeOwned>(&self, op: Op, path: String) -> Result<Option<T>, UpstreamError> {
        let a = self.call(op, Method::GET, &path, None).await?;
        match a.status.as_u16() {
            200 => parse(op, &a).map(Some),
            404 => Ok(None),
            _ => Err(unexpected(op, &a)),
        }
    }
}

fn parse<T: DeserializeOwned>(op: Op, a: &Answer) -> Result<T, UpstreamError> {
    serde_json::from_slice(&a.body).map_err(|e| UpstreamError::new(op, ErrorKind::BadResponse(e.to_string())))
}

fn unexpected(op: Op, a: &Answer) -> UpstreamError {
    UpstreamError::new(
        op,
        ErrorKind::Unexpected(a.status.as_u16(), serde_json::from_slice(&a.body).ok().map(Box::new)),
    )
}

fn json<T: Serialize>(op: Op, body: &T) -> Result<Vec<u8>, UpstreamError> {
    serde_json::to_vec(body).map_err(|e| UpstreamError::new(op, ErrorKind::BadResponse(e.to_string())))
}

/// Tells the definitions cache the state a redeemable came back in: its
/// status and its error key.
fn observe(up: &Upstream, code: &str, r: &Redeemable) {
    let key = r
        .result
        .error
        .as_ref()
        .and_then(|e| e.key.as_deref())
        .or_else(|| r.result.details.as_ref().and_then(|d| d.key.as_deref()))
        .unwrap_or("");
    up.definitions.observe(code, &r.status, key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::utf8_percent_encode;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(utf8_percent_encode("A/B C#1", SEGMENT).to_string(), "A%2FB%20C%231");
        assert_eq!(
            utf8_percent_encode("cbs_abc-1.2~x", SEGMENT).to_string(),
            "cbs_abc-1.2~x"
        );
    }
}
