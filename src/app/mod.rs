//! The application: Gameball's coupon API in, each call through its named
//! phases (pingora's model) to an answer in the caller's dialect.
//!
//! 1. route: [`routes::route`] finds the row, and with it the endpoint
//!    family's typed wire and the operation;
//! 2. mode: the tenant's `[routes]` says translate, pass through or shadow;
//!    on a route that forwards, a rollout's share of the customers is
//!    translated ([`cohort`]); a call that names existing state goes where
//!    that state is ([`owner`]), whatever the mode;
//! 3. authenticate ([`crate::intake`]): `apikey` names the tenant,
//!    `secretkey` is checked;
//! 4. read the body, bounded ([`translated`]);
//! 5. parse ([`crate::intake`]): the family makes a typed command (and
//!    the SDK-era body `hash` is checked);
//! 6. apply: [`ops::apply`] runs the operation with live effects, in its
//!    own task: a client that hangs up mid-request does not cancel a
//!    half-done lock or burn, which finishes (or compensates) on its own;
//!    the per-request deadline only stops the waiting;
//! 7. render: the family writes the answer, or `gameball::errors` the
//!    failure;
//! 8. respond: request id, metrics, access log, recording.
//!
//! So an endpoint's whole path is its row in `gameball/routes.rs`, its
//! family in `gameball/`, and its operation in `ops/`.

mod cohort;
mod forward;
mod owner;
mod translated;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{LockConfig, RouteMode, Routes};
use crate::error::Failure;
use crate::gameball::Dialect;
use crate::gameball::routes::{self, Matched};
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::net::headers::{X_REQUEST_ID, text, usable_request_id};
use crate::net::server::ConnInfo;
use crate::net::{Body, stream};
use crate::ops::Cx;
use crate::ops::effects::{Effects, Live};
use crate::passthrough::Passthrough;
use crate::record::Recorder;
use crate::rollout::Rollout;
use crate::shadow::Shadow;
use crate::telemetry::{self, TraceHeaders};
use crate::tenant::Tenant;
use crate::voucherify::client::VoucherifyClient;

/// What a reload replaces, whole. A request reads it once, at its start,
/// so it finishes on the configuration it started with.
pub struct Generation {
    /// By `apikey`.
    pub tenants: HashMap<String, Arc<Tenant>>,
    /// For callers whose `apikey` names no tenant.
    pub routes: Routes,
    pub passthrough: Option<Arc<Passthrough>>,
    pub recorder: Option<Recorder>,
    /// For routes in `shadow` mode.
    pub shadow: Option<Shadow>,
    pub locks: LockConfig,
    pub max_body: usize,
    pub body_read_timeout: Duration,
    pub request_timeout: Duration,
}

/// Everything the requests share: what outlives a reload (the lock store,
/// the Voucherify client's connection pool, the clock, the metrics, the
/// live effects, the rollout's guards) and the current [`Generation`].
pub struct App {
    current: ArcSwap<Generation>,
    pub store: Store,
    pub voucherify: VoucherifyClient,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub live: Arc<dyn Effects>,
    pub rollout: Rollout,
}

impl App {
    pub fn new(
        cfg: Generation,
        store: Store,
        voucherify: VoucherifyClient,
        clock: Clock,
        metrics: Arc<Metrics>,
        rollout: Rollout,
    ) -> Self {
        App {
            current: ArcSwap::from_pointee(cfg),
            live: Arc::new(Live::new(store.clone(), metrics.clone())),
            store,
            voucherify,
            clock,
            metrics,
            rollout,
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

    /// An operation's context for `tenant`, on the configuration in force,
    /// with live effects (the sweeper's; a request builds its own).
    pub fn cx(&self, tenant: Arc<Tenant>, request_id: &str) -> Cx {
        Cx {
            tenant,
            locks: self.current().locks.clone(),
            clock: self.clock.clone(),
            request_id: request_id.to_owned(),
            voucherify: self.voucherify.clone(),
            tap: None,
            trace: None,
            gameball: self.current().passthrough.clone(),
            call: None,
            fx: self.live.clone(),
        }
    }

    /// The sweeper's contexts: one per tenant in force, read at each round.
    pub fn sweep_tenants(self: &Arc<Self>) -> crate::ops::sweep::Tenants {
        let app = self.clone();
        Box::new(move || {
            app.current()
                .tenants
                .values()
                .map(|t| app.cx(t.clone(), "release-sweeper"))
                .collect()
        })
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
        let tenant_dialect = tenant.as_ref().map(|t| t.dialect);
        // Errors of a pass-through (or an unknown path) are written in the
        // dialect the path's family speaks too.
        let dialect = matched
            .as_ref()
            .map_or(Dialect::Seed, |m| m.row.endpoint.spoken(tenant_dialect).dialect());
        let routes = tenant.as_ref().map_or(&cfg.routes, |t| &t.routes);
        let mode = match &matched {
            // Validated: a forwarding mode has an upstream.
            Some(m) if cfg.passthrough.is_some() => routes.mode(m.op()),
            Some(_) => RouteMode::Translate,
            None => RouteMode::Passthrough,
        };
        let call = Call {
            app: self.clone(),
            cfg: cfg.clone(),
            matched,
            tenant,
            dialect,
            conn,
            request_id,
            trace,
        };
        // A share of the customers is translated only where the route
        // forwards; elsewhere the body is not read for it.
        let shared = match (&call.matched, &call.tenant) {
            (Some(m), Some(t)) => mode.forwards() && t.rollout.of(m.op()) > 0.0,
            _ => false,
        };
        let mut assigned = None;
        let mut res = match (mode, &call.matched) {
            (mode, Some(m)) if shared => {
                // Boxed: only a route with a rollout share takes it, and
                // its future would size every request's.
                let (res, cohort) = Box::pin(cohort::serve(&call, m, mode, req)).await;
                assigned = cohort;
                res
            }
            (mode, Some(m)) if m.op().may_name_state() => owner::serve(&call, m, mode, req).await,
            (RouteMode::Translate, Some(m)) => {
                let (parts, body) = req.into_parts();
                let body = translated::read(body, &cfg).await;
                let intake = translated::Intake {
                    parts,
                    body,
                    command: None,
                };
                translated::serve(&call, m, intake).await
            }
            (mode, _) => forward::serve(&call, mode, forward::Reason::Route, req.map(stream)).await,
        };
        if let Ok(v) = HeaderValue::from_str(&call.request_id) {
            res.headers_mut().insert(X_REQUEST_ID, v);
        }
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics.request(route_name, status, elapsed.as_secs_f64());
        if let (Some(cohort), Some(m), Some(t)) = (assigned, &call.matched, &call.tenant) {
            self.rollout
                .answered(&t.name, m.op(), cohort, status, elapsed.as_secs_f64())
                .await;
        }
        tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "answered");
        res
    }
}

/// One request, as the phases after routing see it.
pub(crate) struct Call {
    app: Arc<App>,
    cfg: Arc<Generation>,
    matched: Option<Matched>,
    tenant: Option<Arc<Tenant>>,
    /// What errors are written in.
    dialect: Dialect,
    conn: ConnInfo,
    request_id: String,
    trace: Option<Arc<TraceHeaders>>,
}

/// The error log line: a server-side failure with its whole cause chain
/// at `warn`, a refused request at `debug`.
fn log_failure(f: &Failure, request_id: &str) {
    let (status, code) = f.kind.status_and_code();
    let origin = f.origin.name();
    if status.is_server_error() {
        tracing::warn!(request_id, origin, code, error = %f.chain(), retryable = f.retryable(), "request failed");
    } else {
        tracing::debug!(request_id, origin, code, error = %f.chain(), "request refused");
    }
}
