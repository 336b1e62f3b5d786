//! A rollout's phase (`[rollout]`): on a route that passes through or
//! shadows, a share of the tenant's customers is translated. The customer
//! is known only from the request, so its body is read first (bounded as a
//! translated call's, and only on routes with a share); the gameball layer
//! says which customer it names ([`crate::gameball::customer`]); the
//! customer's cohort ([`crate::rollout::cohort`]) at the share in force
//! picks the mode. Then the call goes on as any other in that mode: one
//! that may name existing state still goes to its owner ([`super::owner`]),
//! and a call that names no customer keeps the route's mode.

use http::Response;
use hyper::body::Incoming;

use super::forward::{self, Reason};
use super::owner::{self, Served};
use super::translated::{self, Intake};
use super::{Call, RouteMode};
use crate::gameball::customer::named_customer;
use crate::gameball::routes::Matched;
use crate::net::{Body, full};
use crate::rollout::{Cohort, cohort};

/// Serves the call in its customer's cohort's mode; the cohort, when the
/// call named a customer and went its cohort's way (one whose existing
/// state took it the other way is neither cohort's sample).
pub(super) async fn serve(
    call: &Call,
    matched: &Matched,
    mode: RouteMode,
    req: http::Request<Incoming>,
) -> (Response<Body>, Option<Cohort>) {
    let (parts, body) = req.into_parts();
    let body = translated::read(body, &call.cfg).await;
    let bytes = match &body {
        Ok(b) => b.clone(),
        // Too large or too slow: nothing left to pass on, so it is
        // answered here, as a translated call's would be.
        Err(_) => {
            let intake = Intake {
                parts,
                body,
                command: None,
            };
            return (translated::serve(call, matched, intake).await, None);
        }
    };
    let op = matched.op();
    let assigned = match (&call.tenant, named_customer(&matched.params, &bytes)) {
        (Some(tenant), Some(customer)) => {
            let configured = tenant.rollout.of(op);
            let share = call.app.rollout.share_in_force(&tenant.name, op, configured).await;
            Some(cohort(&tenant.name, &customer, share))
        }
        _ => None,
    };
    let mode = match assigned {
        Some(Cohort::Translated) => RouteMode::Translate,
        _ => mode,
    };
    let (res, served) = if op.may_name_state() {
        owner::serve_read(call, matched, mode, parts, body).await
    } else if mode == RouteMode::Translate {
        let intake = Intake {
            parts,
            body,
            command: None,
        };
        (translated::serve(call, matched, intake).await, Served::Here)
    } else {
        let req = http::Request::from_parts(parts, full(bytes));
        let res = forward::serve(call, mode, Reason::Route, req).await;
        (res, Served::Gameball(Reason::Route))
    };
    let counted = match (assigned, served) {
        (Some(Cohort::Translated), Served::Here) => assigned,
        (Some(Cohort::RouteMode), Served::Gameball(Reason::Route)) => assigned,
        _ => None,
    };
    (res, counted)
}
