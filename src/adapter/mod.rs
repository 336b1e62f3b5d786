//! The adapter: Gameball's coupon API in, Voucherify validation sessions
//! out, lock references in the lock store.
//!
//! A request passes named phases (pingora's model), each in one place:
//!
//! 1. route: [`routes::route`] finds the row (operation + who speaks it);
//! 2. mode: the tenant's `[routes]` says translate or pass through;
//! 3. authenticate: `apikey` names the tenant, `secretkey` is checked;
//! 4. read the body, bounded;
//! 5. parse: the dialect ([`crate::gameball::Dialect`]) makes a typed
//!    command (and checks the SDK-era body `hash`);
//! 6. apply: [`ops::apply`] runs the operation, in its own task: a client
//!    that hangs up mid-request does not cancel a half-done lock or burn,
//!    which finishes (or compensates) on its own; the per-request deadline
//!    only stops the waiting;
//! 7. render: the dialect writes the answer or the failure;
//! 8. respond: request id, metrics, access log, recording.
//!
//! So an endpoint's whole path is its row in [`routes`], its parse/render
//! in `crate::gameball`, and its operation in [`ops`].

pub mod error;
pub mod ops;
pub mod passthrough;
pub mod routes;
pub mod sweep;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use crate::clock::{Clock, Millis};
use arc_swap::ArcSwap;

use crate::config::{LockConfig, Messages, RewardsConfig, RouteMode, Routes, Secret, TenantConfig, V4Dialect};
use crate::gameball::{self, Dialect, ParseCtx, Parsed, RenderCtx, RequestView};
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::net::headers::{X_REQUEST_ID, text, usable_request_id};
use crate::net::server::ConnInfo;
use crate::net::{Body, ReadBodyError, full, read_body};
use crate::record::{Recorder, RequestParts, ResponseParts, UpstreamTap};
use crate::shadow::{Job, Shadow};
use crate::telemetry::{self, TraceHeaders};
use crate::voucherify::client::{CallCtx, Upstream, VoucherifyClient};
use error::{Failure, Kind};
use passthrough::Passthrough;
use routes::{Matched, Row, Speaker};

/// One merchant, as the adapter uses it.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    secret_digest: SecretDigest,
    /// Kept for the SDK-era body `hash` (a SHA-1 over it); never printed.
    secret: Secret,
    pub decimals: u32,
    pub dialect: V4Dialect,
    pub upstream: Upstream,
    pub routes: Routes,
    pub messages: Messages,
    pub rewards: RewardsConfig,
}

impl Tenant {
    pub fn new(cfg: &TenantConfig) -> Result<Self, String> {
        Ok(Tenant {
            name: cfg.name.clone(),
            secret_digest: SecretDigest(Sha256::digest(cfg.secret_key.expose().as_bytes()).into()),
            secret: cfg.secret_key.clone(),
            decimals: cfg.currency_decimals,
            dialect: cfg.dialect,
            upstream: Upstream::new(&cfg.voucherify).map_err(|e| format!("tenants.{}.voucherify: {e}", cfg.name))?,
            routes: cfg.routes,
            messages: cfg.messages.clone(),
            rewards: cfg.rewards.clone(),
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

/// What a reload replaces, whole. A request reads it once, at its start,
/// so it finishes on the configuration it started with.
pub struct Generation {
    /// By `apikey`.
    pub tenants: HashMap<String, Arc<Tenant>>,
    /// For callers whose `apikey` names no tenant.
    pub routes: Routes,
    pub passthrough: Option<Passthrough>,
    pub recorder: Option<Recorder>,
    /// For routes in `shadow` mode.
    pub shadow: Option<Shadow>,
    pub locks: LockConfig,
    pub max_body: usize,
    pub body_read_timeout: Duration,
    pub request_timeout: Duration,
}

/// Everything the flows share: what outlives a reload (the lock store, the
/// Voucherify client's connection pool, the clock, the metrics) and the
/// current [`Generation`].
pub struct App {
    current: ArcSwap<Generation>,
    pub store: Store,
    pub voucherify: VoucherifyClient,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

/// What one flow needs: the app, the configuration it started on, the
/// tenant, and who is asking.
#[derive(Clone)]
pub struct Ctx {
    pub app: Arc<App>,
    pub cfg: Arc<Generation>,
    pub tenant: Arc<Tenant>,
    pub request_id: String,
    pub tap: Option<Arc<UpstreamTap>>,
    pub trace: Option<Arc<TraceHeaders>>,
}

impl Ctx {
    pub fn call(&self) -> CallCtx<'_> {
        CallCtx {
            request_id: &self.request_id,
            tap: self.tap.as_deref(),
            trace: self.trace.as_deref(),
        }
    }

    pub fn now(&self) -> Millis {
        self.app.clock.now()
    }

    /// How long from now a record of a lock ending at `expires_at` is kept.
    pub fn keep_for(&self, expires_at: Millis) -> Duration {
        let ttl = Duration::from_millis((expires_at - self.now()).max(0) as u64);
        ttl + self.cfg.locks.retention
    }
}

impl App {
    pub fn new(
        cfg: Generation,
        store: Store,
        voucherify: VoucherifyClient,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Self {
        App {
            current: ArcSwap::from_pointee(cfg),
            store,
            voucherify,
            clock,
            metrics,
        }
    }

    /// The configuration requests start on now.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Makes `cfg` the configuration of every request from now on; the
    /// ones in flight finish on theirs. Returns the one replaced.
    pub fn swap(&self, cfg: Generation) -> Arc<Generation> {
        self.current.swap(Arc::new(cfg))
    }

    /// The authenticate phase: the tenant whose `apikey` this is, with the
    /// secret checked in constant time. The SDK-era API proves the secret
    /// with the body's `hash` instead (checked after the parse), so there
    /// the `secretkey` header is optional, but checked when sent.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        tenant: Option<&Arc<Tenant>>,
        row: &Row,
    ) -> Result<Arc<Tenant>, Failure> {
        let Some(tenant) = tenant else {
            let message = match text(headers, "apikey") {
                None => "The apikey header is required",
                Some(_) => "The apikey is not valid",
            };
            return Err(Failure::client(Kind::Unauthorized, message));
        };
        match text(headers, "secretkey") {
            None if row.secret_optional() => Ok(tenant.clone()),
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
        let trace = telemetry::continue_trace(req.headers(), &span).map(Arc::new);
        self.handle_in_span(req, conn, request_id, trace).instrument(span).await
    }

    async fn handle_in_span(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: String,
        trace: Option<Arc<TraceHeaders>>,
    ) -> Response<Body> {
        let started = Instant::now();
        let cfg = self.current();
        let matched = routes::route(req.method(), req.uri().path());
        let tenant = text(req.headers(), "apikey").and_then(|k| cfg.tenants.get(k)).cloned();
        let route_name = matched.as_ref().map_or("passthrough", |m| m.op().name());
        let span = tracing::Span::current();
        span.record("route", route_name);
        span.record("tenant", tenant.as_ref().map_or("-", |t| t.name.as_str()));
        // Errors of a pass-through (or an unknown path) are written in the
        // dialect the path's family speaks too.
        let speaker = matched.as_ref().map_or(Speaker::TenantV4, |m| m.row.speaker);
        let dialect = Dialect::for_route(speaker, tenant.as_ref().map(|t| t.dialect));

        let routes = tenant.as_ref().map_or(&cfg.routes, |t| &t.routes);
        let mode = match &matched {
            // Validated: a forwarding mode has an upstream.
            Some(m) if cfg.passthrough.is_some() => routes.mode(m.op()),
            Some(_) => RouteMode::Translate,
            None => RouteMode::Passthrough,
        };
        let mut res = match (mode, matched) {
            (RouteMode::Translate, Some(m)) => {
                self.translated(&cfg, m, dialect, tenant.clone(), req, conn, &request_id, trace)
                    .await
            }
            (mode, matched) => {
                // Shadow: the merchant gets Gameball's answer; the shadow
                // sees the exchange after it has streamed back.
                let observers: Vec<_> = match (mode, matched, &cfg.shadow) {
                    (RouteMode::Shadow, Some(m), Some(shadow)) => shadow
                        .observer(Job {
                            app: self.clone(),
                            cfg: cfg.clone(),
                            tenant: tenant.clone(),
                            matched: m,
                            dialect,
                            request_id: request_id.clone(),
                            uri: req.uri().clone(),
                        })
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                };
                let forwarded = match &cfg.passthrough {
                    Some(p) => {
                        p.forward(cfg.recorder.as_ref(), observers, req, conn, &request_id)
                            .await
                    }
                    None => Err(Failure::client(
                        Kind::NotFound,
                        format!(
                            "{} {} is not a Gameball coupon endpoint couponbridge serves",
                            req.method(),
                            req.uri().path()
                        ),
                    )),
                };
                forwarded.unwrap_or_else(|f| {
                    log_failure(&f, &request_id);
                    dialect.error_response(&f, &request_id)
                })
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

    #[allow(clippy::too_many_arguments)] // the phases' inputs, each once
    async fn translated(
        self: &Arc<Self>,
        cfg: &Arc<Generation>,
        matched: Matched,
        dialect: Dialect,
        tenant: Option<Arc<Tenant>>,
        req: Request<Incoming>,
        conn: ConnInfo,
        request_id: &str,
        trace: Option<Arc<TraceHeaders>>,
    ) -> Response<Body> {
        let recording = cfg.recorder.as_ref().and_then(Recorder::begin);
        let (parts, body) = req.into_parts();
        let url = recording.as_ref().map(|_| full_url_parts(&parts, conn.tls));

        let body = match tokio::time::timeout(cfg.body_read_timeout, read_body(body, cfg.max_body)).await {
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
            Ok(Err(ReadBodyError::Io(e))) => Err(Failure::client(
                Kind::MalformedJson,
                format!("Reading the body failed: {e}"),
            )),
        };
        let req_body = body.as_ref().cloned().unwrap_or_default();
        let outcome = match (self.authenticate(&parts.headers, tenant.as_ref(), matched.row), body) {
            (Err(f), _) | (Ok(_), Err(f)) => Err(f),
            (Ok(tenant), Ok(body)) => {
                let view = RequestView {
                    matched: &matched,
                    query: parts.uri.query(),
                    headers: &parts.headers,
                    body: &body,
                };
                let ctx = Ctx {
                    app: self.clone(),
                    cfg: cfg.clone(),
                    tenant,
                    request_id: request_id.to_owned(),
                    tap: recording.as_ref().map(|r| r.tap()),
                    trace,
                };
                self.parse_and_apply(ctx, dialect, &view).await
            }
        };

        let (status, headers, res_body) = match outcome {
            Ok(json) => {
                let mut headers = HeaderMap::new();
                headers.insert(header::CONTENT_TYPE, gameball::JSON_UTF8);
                (StatusCode::OK, headers, Bytes::from(json))
            }
            Err(f) => {
                log_failure(&f, request_id);
                let (status, headers, body) = dialect.error(&f, request_id);
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

    /// Parse, check the body's proof, apply (in its own task, waiting at
    /// most the request deadline), render.
    async fn parse_and_apply(&self, ctx: Ctx, dialect: Dialect, view: &RequestView<'_>) -> Result<Vec<u8>, Failure> {
        let tenant = ctx.tenant.clone();
        let request_timeout = ctx.cfg.request_timeout;
        let command = parse_command(dialect, view, &tenant, &ctx.cfg)?;
        // The operation's future is large (every operation's state); boxed,
        // the spawn moves a pointer, not the state (memmove was 8.6 % of the
        // CPU in the profile, see README, Performance).
        let task = tokio::spawn(async move { Box::pin(ops::apply(&ctx, command)).await }.in_current_span());
        let answer = match tokio::time::timeout(request_timeout, task).await {
            Ok(Ok(result)) => result?,
            Ok(Err(join)) => return Err(Failure::internal(format!("the request failed unexpectedly: {join}"))),
            Err(_) => {
                return Err(Failure::new(
                    Kind::UpstreamUnavailable,
                    error::Source::Internal,
                    "The request did not finish in time; retry later",
                )
                .caused_by(format!("request_timeout ({request_timeout:?}) reached")));
            }
        };
        dialect.render(
            &answer,
            &RenderCtx {
                decimals: tenant.decimals,
                messages: &tenant.messages,
                op: view.op(),
            },
        )
    }
}

/// The parse phase: the dialect's typed command, with the SDK-era body's
/// proof checked against the tenant's secret.
pub(crate) fn parse_command(
    dialect: Dialect,
    view: &RequestView<'_>,
    tenant: &Tenant,
    cfg: &Generation,
) -> Result<ops::Command, Failure> {
    let Parsed { command, proof } = dialect.parse(
        view,
        &ParseCtx {
            decimals: tenant.decimals,
            locks: &cfg.locks,
        },
    )?;
    if let Some(proof) = proof
        && !gameball::legacy::hash_matches(&proof, tenant.secret.expose())
    {
        return Err(Failure::client(
            Kind::HashInvalid,
            "The hash is not valid for this playerUniqueId and secret key",
        ));
    }
    Ok(command)
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
    let cause = f.cause.as_deref().unwrap_or("-");
    if status.is_server_error() {
        tracing::warn!(request_id, source = ?f.source, code, message = %f.message, cause, retryable = f.retryable(), "request failed");
    } else {
        tracing::debug!(request_id, source = ?f.source, code, message = %f.message, cause, "request refused");
    }
}
