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

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::definitions::Definitions;
use super::{
    ErrorObject, OrderInfo, RedeemResponse, Redeemable, StackableRequest, ValidationResponse, ValidationRule, Voucher,
};
use crate::config::{Http2, VoucherifyConfig};
use crate::metrics::Metrics;
use crate::net::client::HttpClient;
use crate::net::headers::X_REQUEST_ID;
use crate::net::{self, read_body};
use crate::record::UpstreamTap;
use crate::telemetry::TraceHeaders;
use tracing::Instrument;

// The lifecycle calls (loyalty, wallet, qualifications, rollbacks), in
// their own file beside this one.
mod lifecycle;
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

#[derive(Debug)]
pub enum ErrorKind {
    /// The connection could not be made: nothing reached Voucherify.
    Connect(String),
    /// No answer within the tenant's timeout: the outcome is unknown.
    Timeout,
    /// The connection broke after the request was sent: outcome unknown.
    Transport(String),
    /// 429, with the `Retry-After` seconds when given.
    RateLimited(Option<u64>),
    /// 5xx.
    Unavailable(u16),
    /// 401/403: our credentials were refused (a configuration problem).
    Unauthorized(u16),
    /// Another status this call does not expect.
    Unexpected(u16, Option<Box<ErrorObject>>),
    /// A 2xx whose body could not be read.
    BadResponse(String),
}

#[derive(Debug)]
pub struct UpstreamError {
    pub op: Op,
    pub kind: ErrorKind,
}

impl UpstreamError {
    /// Whether Voucherify may have acted on the request. Refusals before
    /// any work (no connection, 429, 401/403) are the only certain no's; a
    /// 5xx may come after the work was committed.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Connect(_) | ErrorKind::RateLimited(_) | ErrorKind::Unauthorized(_)
        )
    }

    /// A short label for metrics.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            ErrorKind::Connect(_) => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport(_) => "transport",
            ErrorKind::RateLimited(_) => "rate_limited",
            ErrorKind::Unavailable(_) => "unavailable",
            ErrorKind::Unauthorized(_) => "unauthorized",
            ErrorKind::Unexpected(..) => "unexpected_status",
            ErrorKind::BadResponse(_) => "bad_response",
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op.name();
        match &self.kind {
            ErrorKind::Connect(e) => write!(f, "Voucherify {op}: cannot connect ({e})"),
            ErrorKind::Timeout => write!(f, "Voucherify {op}: no answer in time"),
            ErrorKind::Transport(e) => write!(f, "Voucherify {op}: connection failed ({e})"),
            ErrorKind::RateLimited(_) => write!(f, "Voucherify {op}: rate limit reached"),
            ErrorKind::Unavailable(s) => write!(f, "Voucherify {op}: answered {s}"),
            ErrorKind::Unauthorized(s) => write!(f, "Voucherify {op}: credentials refused ({s})"),
            ErrorKind::Unexpected(s, e) => write!(
                f,
                "Voucherify {op}: unexpected {s} ({})",
                e.as_ref().and_then(|e| e.key.as_deref()).unwrap_or("no error key")
            ),
            ErrorKind::BadResponse(e) => write!(f, "Voucherify {op}: unreadable answer ({e})"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// What one request is, for logs, Voucherify, traces and the recording.
#[derive(Clone, Copy)]
pub struct CallCtx<'a> {
    pub request_id: &'a str,
    pub tap: Option<&'a UpstreamTap>,
    /// The merchant's trace context, sent on (see `crate::telemetry`).
    pub trace: Option<&'a TraceHeaders>,
}

/// The outcome of a voucher creation that Voucherify answered.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Box<Voucher>),
    /// A 4xx (a duplicate code, a value it refuses): nothing was created.
    Refused(u16, ErrorObject),
}

/// The outcome of a redemption that Voucherify answered.
#[derive(Debug)]
pub enum RedeemOutcome {
    Redeemed(RedeemResponse),
    /// A 4xx: Voucherify refused it and redeemed nothing.
    Refused(u16, ErrorObject),
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
                        kind: ErrorKind::Connect(_),
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
        let err = |kind| UpstreamError { op, kind };
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
                if e.is_connect() {
                    err(ErrorKind::Connect(source_text(&e)))
                } else {
                    err(ErrorKind::Transport(source_text(&e)))
                }
            })?;
            let (parts, body) = res.into_parts();
            let body = read_body(body, MAX_RESPONSE)
                .await
                .map_err(|e| err(ErrorKind::Transport(e.to_string())))?;
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

    fn parse<T: DeserializeOwned>(op: Op, a: &Answer) -> Result<T, UpstreamError> {
        serde_json::from_slice(&a.body).map_err(|e| UpstreamError {
            op,
            kind: ErrorKind::BadResponse(e.to_string()),
        })
    }

    fn unexpected(op: Op, a: &Answer) -> UpstreamError {
        UpstreamError {
            op,
            kind: ErrorKind::Unexpected(a.status.as_u16(), serde_json::from_slice(&a.body).ok().map(Box::new)),
        }
    }

    fn json<T: Serialize>(op: Op, body: &T) -> Result<Vec<u8>, UpstreamError> {
        serde_json::to_vec(body).map_err(|e| UpstreamError {
            op,
            kind: ErrorKind::BadResponse(e.to_string()),
        })
    }

    /// `POST /v1/validations`.
    pub async fn validate(
        &self,
        up: &Upstream,
        req: &StackableRequest,
        ctx: CallCtx<'_>,
    ) -> Result<ValidationResponse, UpstreamError> {
        let op = Op::Validate;
        let a = self
            .call(up, op, Method::POST, "/v1/validations", Some(Self::json(op, req)?), ctx)
            .await?;
        match a.status {
            StatusCode::OK => {
                let r: ValidationResponse = Self::parse(op, &a)?;
                if up.definitions.enabled() {
                    for list in [&r.redeemables, &r.inapplicable_redeemables, &r.skipped_redeemables] {
                        for x in list {
                            observe(up, &x.id, x);
                        }
                    }
                }
                Ok(r)
            }
            _ => Err(Self::unexpected(op, &a)),
        }
    }

    /// `POST /v1/redemptions`. Never retried after the request may have
    /// been sent; see the module comment.
    pub async fn redeem(
        &self,
        up: &Upstream,
        req: &StackableRequest,
        ctx: CallCtx<'_>,
    ) -> Result<RedeemOutcome, UpstreamError> {
        let op = Op::Redeem;
        let a = self
            .call(up, op, Method::POST, "/v1/redemptions", Some(Self::json(op, req)?), ctx)
            .await?;
        let outcome = match a.status.as_u16() {
            200 => Self::parse(op, &a).map(RedeemOutcome::Redeemed),
            400..=499 => Ok(RedeemOutcome::Refused(
                a.status.as_u16(),
                Self::parse(op, &a).unwrap_or_default(),
            )),
            _ => Err(Self::unexpected(op, &a)),
        };
        if up.definitions.enabled() {
            match &outcome {
                // What was not redeemed is in the answer; the rest was
                // applicable.
                Ok(RedeemOutcome::Redeemed(r)) => {
                    for x in &req.redeemables {
                        match r.inapplicable_redeemables.iter().find(|i| i.id == x.id) {
                            Some(i) => observe(up, &x.id, i),
                            None => up.definitions.observe(&x.id, "APPLICABLE", ""),
                        }
                    }
                }
                // A refusal does not say which coupon changed.
                Ok(RedeemOutcome::Refused(..)) => {
                    for x in &req.redeemables {
                        up.definitions.forget(&x.id);
                    }
                }
                Err(_) => {}
            }
        }
        outcome
    }

    /// `POST /v1/vouchers`. Not retried once it may have been sent: a
    /// second try of a generated code would create a second coupon.
    pub async fn create_voucher(
        &self,
        up: &Upstream,
        body: &serde_json::Value,
        ctx: CallCtx<'_>,
    ) -> Result<CreateOutcome, UpstreamError> {
        let op = Op::CreateVoucher;
        let a = self
            .call(up, op, Method::POST, "/v1/vouchers", Some(Self::json(op, body)?), ctx)
            .await?;
        match a.status.as_u16() {
            200 | 201 => Self::parse(op, &a).map(|v| CreateOutcome::Created(Box::new(v))),
            400..=499 => Ok(CreateOutcome::Refused(
                a.status.as_u16(),
                Self::parse(op, &a).unwrap_or_default(),
            )),
            _ => Err(Self::unexpected(op, &a)),
        }
    }

    /// `DELETE /v1/vouchers/{code}/sessions/{key}`: `true` when released,
    /// `false` when Voucherify no longer knows the session (already
    /// released, consumed or expired), which is as good.
    pub async fn release(&self, up: &Upstream, code: &str, key: &str, ctx: CallCtx<'_>) -> Result<bool, UpstreamError> {
        let path = format!(
            "/v1/vouchers/{}/sessions/{}",
            utf8_percent_encode(code, SEGMENT),
            utf8_percent_encode(key, SEGMENT)
        );
        let a = self.call(up, Op::Release, Method::DELETE, &path, None, ctx).await?;
        match a.status.as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(Self::unexpected(Op::Release, &a)),
        }
    }

    async fn get_optional<T: DeserializeOwned>(
        &self,
        up: &Upstream,
        op: Op,
        path: String,
        ctx: CallCtx<'_>,
    ) -> Result<Option<T>, UpstreamError> {
        let a = self.call(up, op, Method::GET, &path, None, ctx).await?;
        match a.status.as_u16() {
            200 => Self::parse(op, &a).map(Some),
            404 => Ok(None),
            _ => Err(Self::unexpected(op, &a)),
        }
    }

    /// `GET /v1/vouchers/{code}`.
    pub async fn voucher(&self, up: &Upstream, code: &str, ctx: CallCtx<'_>) -> Result<Option<Voucher>, UpstreamError> {
        let path = format!("/v1/vouchers/{}", utf8_percent_encode(code, SEGMENT));
        self.get_optional(up, Op::GetVoucher, path, ctx).await
    }

    /// `GET /v1/validation-rules/{id}`.
    pub async fn rule(
        &self,
        up: &Upstream,
        id: &str,
        ctx: CallCtx<'_>,
    ) -> Result<Option<ValidationRule>, UpstreamError> {
        let path = format!("/v1/validation-rules/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(up, Op::GetRule, path, ctx).await
    }

    /// `GET /v1/orders/{id}`: by Voucherify id or by the merchant's source id.
    pub async fn order(&self, up: &Upstream, id: &str, ctx: CallCtx<'_>) -> Result<Option<OrderInfo>, UpstreamError> {
        let path = format!("/v1/orders/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(up, Op::GetOrder, path, ctx).await
    }
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

fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(utf8_percent_encode("A/B C#1", SEGMENT).to_string(), "A%2FB%20C%231");
        assert_eq!(
            utf8_percent_encode("cbs_abc-1.2~x", SEGMENT).to_string(),
            "cbs_abc-1.2~x"
        );
    }

    #[test]
    fn only_refusals_before_any_work_are_certain() {
        let e = |kind| UpstreamError { op: Op::Redeem, kind };
        assert!(e(ErrorKind::Timeout).outcome_unknown());
        assert!(e(ErrorKind::Transport("reset".into())).outcome_unknown());
        assert!(e(ErrorKind::Unavailable(503)).outcome_unknown());
        assert!(!e(ErrorKind::Connect("refused".into())).outcome_unknown());
        assert!(!e(ErrorKind::RateLimited(Some(1))).outcome_unknown());
        assert!(!e(ErrorKind::Unauthorized(401)).outcome_unknown());
    }
}
