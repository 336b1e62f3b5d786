//! The translated flow of one request: body, authenticate, parse, apply
//! (live effects, in its own task, under the request deadline), render,
//! and the recording when one is on.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::Instrument;

use super::{App, Generation, log_failure};
use crate::error::{Failure, Kind, Origin, Retry};
use crate::gameball::endpoint::Spoken;
use crate::gameball::errors::error;
use crate::gameball::routes::Matched;
use crate::gameball::{JSON_UTF8, RenderCtx, RequestView};
use crate::intake::{authenticate, parse_command};
use crate::net::headers::full_url;
use crate::net::server::ConnInfo;
use crate::net::{Body, ReadBodyError, full, read_body};
use crate::ops::{self, Cx};
use crate::record::{RequestParts, ResponseParts};
use crate::telemetry::TraceHeaders;
use crate::tenant::Tenant;

#[allow(clippy::too_many_arguments)] // the phases' inputs, each once
pub(super) async fn serve(
    app: &Arc<App>,
    cfg: &Arc<Generation>,
    matched: Matched,
    spoken: Spoken,
    tenant: Option<Arc<Tenant>>,
    req: Request<Incoming>,
    conn: ConnInfo,
    request_id: &str,
    trace: Option<Arc<TraceHeaders>>,
) -> Response<Body> {
    let recording = cfg.recorder.as_ref().and_then(|r| r.begin());
    let (parts, body) = req.into_parts();
    let url = recording.as_ref().map(|_| full_url(&parts, conn.tls));
    let body = read(body, cfg).await;
    let req_body = body.as_ref().cloned().unwrap_or_default();
    let outcome = match (authenticate(&parts.headers, tenant.as_ref(), matched.row), body) {
        (Err(f), _) | (Ok(_), Err(f)) => Err(f),
        (Ok(tenant), Ok(body)) => {
            let view = RequestView {
                params: &matched.params,
                query: parts.uri.query(),
                headers: &parts.headers,
                body: &body,
            };
            let cx = Cx {
                tenant,
                locks: cfg.locks.clone(),
                clock: app.clock.clone(),
                request_id: request_id.to_owned(),
                voucherify: app.voucherify.clone(),
                tap: recording.as_ref().map(|r| r.tap()),
                trace,
                fx: app.live.clone(),
            };
            parse_and_apply(cx, spoken, &view, cfg).await
        }
    };

    let (status, headers, res_body) = match outcome {
        Ok(json) => {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, JSON_UTF8);
            (StatusCode::OK, headers, Bytes::from(json))
        }
        Err(f) => {
            log_failure(&f, request_id);
            let (status, headers, body) = error(spoken.dialect(), &f, request_id);
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
            tenant.as_ref().map(|t| t.name.as_str()),
            request_id,
        );
    }
    let mut res = Response::new(full(res_body));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// The body, bounded in size and in time.
async fn read(body: Incoming, cfg: &Generation) -> Result<Bytes, Failure> {
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

/// Parse, apply (in its own task, waiting at most the request deadline),
/// render.
async fn parse_and_apply(cx: Cx, spoken: Spoken, view: &RequestView<'_>, cfg: &Generation) -> Result<Vec<u8>, Failure> {
    let tenant = cx.tenant.clone();
    let request_timeout = cfg.request_timeout;
    let command = parse_command(spoken, view, &tenant, &cfg.locks)?;
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
    spoken.render(
        &answer,
        &RenderCtx {
            decimals: tenant.decimals,
            messages: &tenant.messages,
        },
    )
}
