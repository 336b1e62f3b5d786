//! The translated flow of one request: authenticate, parse, apply (live
//! effects, in its own task, under the request deadline), render, and the
//! recording when one is on. The body was read by the request phase.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::Instrument;

use super::{Call, Generation, log_failure};
use crate::domain::{Answer, Command};
use crate::error::{Failure, Kind, Origin, Retry};
use crate::gameball::endpoint::Spoken;
use crate::gameball::errors::error;
use crate::gameball::routes::Matched;
use crate::gameball::{JSON_UTF8, RenderCtx, RequestView};
use crate::intake::{authenticate, parse_command};
use crate::net::headers::full_url;
use crate::net::{Body, ReadBodyError, full, read_body};
use crate::ops::{self, Cx};
use crate::record::{RequestParts, ResponseParts};
use crate::tenant::Tenant;

/// A request's intake, as the request phase may have done it already (to
/// learn who owns the state the call names).
pub(super) struct Intake {
    pub parts: Parts,
    pub body: Result<Bytes, Failure>,
    /// Authenticated and parsed already.
    pub command: Option<Result<(std::sync::Arc<Tenant>, Command), Failure>>,
}

/// Authenticate and parse: the tenant and the command, or why not.
pub(super) fn admit(
    call: &Call,
    matched: &Matched,
    parts: &Parts,
    body: &Result<Bytes, Failure>,
) -> Result<(std::sync::Arc<Tenant>, Command), Failure> {
    let tenant = authenticate(&parts.headers, call.tenant.as_ref(), matched.row)?;
    let body = body.as_ref().map_err(Clone::clone)?;
    let view = view(parts, matched, body);
    let reach_gameball = call.cfg.passthrough.is_some() && tenant.migration.forward_orders;
    let command = parse_command(spoken(call, matched), &view, &tenant, &call.cfg.locks, reach_gameball)?;
    Ok((tenant, command))
}

fn view<'a>(parts: &'a Parts, matched: &'a Matched, body: &'a [u8]) -> RequestView<'a> {
    RequestView {
        method: parts.method.as_str(),
        path: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        params: &matched.params,
        query: parts.uri.query(),
        headers: &parts.headers,
        body,
    }
}

pub(super) fn spoken(call: &Call, matched: &Matched) -> Spoken {
    matched.row.endpoint.spoken(call.tenant.as_ref().map(|t| t.dialect))
}

pub(super) async fn serve(call: &Call, matched: &Matched, intake: Intake) -> Response<Body> {
    let cfg = &call.cfg;
    let spoken = spoken(call, matched);
    let recording = cfg.recorder.as_ref().and_then(|r| r.begin());
    let Intake { parts, body, command } = intake;
    let url = recording.as_ref().map(|_| full_url(&parts, call.conn.tls));
    let req_body = body.as_ref().cloned().unwrap_or_default();
    let admitted = command.unwrap_or_else(|| admit(call, matched, &parts, &body));
    let outcome = match admitted {
        Err(f) => Err(f),
        Ok((tenant, command)) => {
            let cx = Cx {
                tenant,
                locks: cfg.locks.clone(),
                clock: call.app.clock.clone(),
                request_id: call.request_id.clone(),
                voucherify: call.app.voucherify.clone(),
                tap: recording.as_ref().map(|r| r.tap()),
                trace: call.trace.clone(),
                gameball: cfg.passthrough.clone(),
                call: cfg
                    .passthrough
                    .as_ref()
                    .map(|_| std::sync::Arc::new(view(&parts, matched, &req_body).call())),
                fx: call.app.live.clone(),
            };
            apply(cx, spoken, command, cfg).await
        }
    };
    let (status, headers, res_body) = match outcome {
        Ok(Reply::Json(json)) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, JSON_UTF8);
            say_unused(call, matched, &req_body, &mut headers);
            (StatusCode::OK, headers, Bytes::from(json))
        }
        Ok(Reply::Gameball(status, headers, body)) => (status, headers, body),
        Err(f) => {
            log_failure(&f, &call.request_id);
            let (status, headers, body) = error(spoken.dialect(), &f, &call.request_id);
            (status, headers, Bytes::from(body))
        }
    };
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
            call.tenant.as_ref().map(|t| t.name.as_str()),
            &call.request_id,
        );
    }
    let mut res = Response::new(full(res_body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A call answered here that carried Gameball fields couponbridge does
/// not act on says so (`x-couponbridge-unused`) and counts them
/// (`crate::gameball::unused`): never a field dropped silently.
fn say_unused(call: &Call, matched: &Matched, body: &[u8], headers: &mut HeaderMap) {
    let op = matched.op();
    let unused = crate::gameball::unused::unused_in(op, body);
    if unused.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&unused.join(", ")) {
        headers.insert(HeaderName::from_static("x-couponbridge-unused"), v);
    }
    let tenant = call.tenant.as_ref().map_or("-", |t| t.name.as_str());
    for field in unused {
        call.app.metrics.unused_field(tenant, op.name(), field);
    }
}

/// The body, bounded in size and in time.
pub(super) async fn read(body: Incoming, cfg: &Generation) -> Result<Bytes, Failure> {
    match tokio::time::timeout(cfg.body_read_timeout, read_body(body, cfg.max_body)).await {
        Err(_) => Err(Failure::client(
            Kind::BodyTimeout,
            format!(
                "The request body did not arrive within {}",
                humantime::format_duration(cfg.body_read_timeout)
            ),
        )),
        Ok(Ok(b)) => Ok(b),
        Ok(Err(ReadBodyError::TooLarge(limit))) => Err(Failure::client(
            Kind::TooLarge,
            format!("The request body is larger than {limit} bytes"),
        )),
        Ok(Err(ReadBodyError::Io(e))) => {
            Err(Failure::client(Kind::MalformedJson, format!("Reading the body failed: {e}")).caused_by_box(e))
        }
    }
}

/// What the merchant is answered: couponbridge's JSON, or Gameball's own
/// answer to a call passed on to it.
enum Reply {
    Json(Vec<u8>),
    Gameball(StatusCode, HeaderMap, Bytes),
}

/// Apply (in its own task, waiting at most the request deadline), render.
async fn apply(cx: Cx, spoken: Spoken, command: Command, cfg: &Generation) -> Result<Reply, Failure> {
    let tenant = cx.tenant.clone();
    let request_timeout = cfg.request_timeout;
    // The operation's future is large (every operation's state); boxed,
    // the spawn moves a pointer, not the state (memmove was 8.6 % of the
    // CPU in the profile, see docs/performance.md).
    let task = tokio::spawn(async move { Box::pin(ops::apply(&cx, command)).await }.in_current_span());
    let answer = match tokio::time::timeout(request_timeout, task).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => {
            return Err(Failure::internal("the request failed unexpectedly").caused_by(join));
        }
        Err(_) => {
            return Err(Failure::new(
                Kind::UpstreamUnavailable,
                Origin::Internal,
                "The request did not finish in time; retry later",
            )
            .retry(Retry::Safe)
            .because(format!("request_timeout ({request_timeout:?}) reached")));
        }
    };
    if let Answer::PassedOn(a) = answer {
        let mut headers = HeaderMap::new();
        for (n, v) in &a.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_str(v)) {
                headers.append(n, v);
            }
        }
        let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
        return Ok(Reply::Gameball(status, headers, Bytes::from(a.body)));
    }
    spoken
        .render(
            &answer,
            &RenderCtx {
                decimals: tenant.decimals,
                messages: &tenant.messages,
            },
        )
        .map(Reply::Json)
}
