//! A call that goes on to Gameball (`[passthrough] upstream`) as the
//! merchant made it: a route in `passthrough` or `shadow` mode, state
//! Gameball owns, or any path couponbridge does not translate. In shadow
//! mode the shadow sees the exchange once Gameball's answer has streamed
//! back.

use http::{Request, Response};

use super::{Call, log_failure};
use crate::config::RouteMode;
use crate::error::{Failure, Kind};
use crate::gameball::errors::error_response;
use crate::net::Body;
use crate::shadow::Job;

/// Why a call went to Gameball, as `couponbridge_gameball_calls_total`
/// says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// The route's mode.
    Route,
    /// The state it names is Gameball's (a lock, a transaction).
    Reference,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Route => "route",
            Reason::Reference => "reference",
        }
    }
}

pub(super) async fn serve(call: &Call, mode: RouteMode, reason: Reason, req: Request<Body>) -> Response<Body> {
    let cfg = &call.cfg;
    if let Some(m) = &call.matched {
        let tenant = call.tenant.as_ref().map_or("-", |t| t.name.as_str());
        call.app.metrics.gameball_call(tenant, m.op().name(), reason.name());
    }
    let observers: Vec<_> = match (mode, &call.matched, &cfg.shadow) {
        (RouteMode::Shadow, Some(m), Some(shadow)) => shadow
            .observer(Job {
                locks: cfg.locks.clone(),
                request_timeout: cfg.request_timeout,
                gameball: cfg.passthrough.clone(),
                tenant: call.tenant.clone(),
                spoken: super::translated::spoken(call, m),
                matched: m.clone(),
                request_id: call.request_id.clone(),
                uri: req.uri().clone(),
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let forwarded = match &cfg.passthrough {
        Some(p) => {
            p.forward(cfg.recorder.as_ref(), observers, req, call.conn, &call.request_id)
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
        log_failure(&f, &call.request_id);
        error_response(call.dialect, &f, &call.request_id)
    })
}
