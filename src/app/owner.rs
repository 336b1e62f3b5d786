//! State follows its owner. A route's mode decides where *new* state is
//! born (a lock, an order); a call that names existing state goes to the
//! side that issued it, whatever the route's mode:
//!
//! * a lock (or hold) reference this deployment issued is served here: its
//!   references carry a check under the deployment's key, which the lock
//!   store keeps (`crate::ids::issued_here`), so one that has left the
//!   store after `retention` is still known as ours and answered 404 here,
//!   never sent to Gameball; one without the check is ours when the store
//!   has it (issued before references carried it), and Gameball's
//!   otherwise;
//! * a refund or cancellation of a transaction couponbridge tracked is
//!   reversed here; of one it did not, at Gameball.
//!
//! Gameball's state goes to `[passthrough] upstream` unchanged; without
//! one, the call is translated (and answered 404, as a reference it does
//! not know). To tell, the body is read (bounded as a translated call's)
//! and parsed; a call that does not parse follows the route's mode, so
//! Gameball still gets what only it understands.

use http::Response;
use hyper::body::Incoming;

use super::forward::{self, Reason};
use super::translated::{self, Intake};
use super::{Call, RouteMode};
use crate::domain::{Command, Existing, Transaction};
use crate::gameball::routes::Matched;
use crate::ids;
use crate::locks::{OpOutcome, Store};
use crate::net::{Body, full};
use crate::ops::tracked::op_kind;

/// Whose state a call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Couponbridge,
    Gameball,
    /// It names none: it makes new state, where the route's mode says.
    Nobody,
}

pub(super) async fn serve(
    call: &Call,
    matched: &Matched,
    mode: RouteMode,
    req: http::Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = translated::read(body, &call.cfg).await;
    serve_read(call, matched, mode, parts, body).await.0
}

/// Where a call was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// Translated, here.
    Here,
    Gameball(Reason),
}

/// [`serve`], with the body read already (by a rollout's cohort phase),
/// and where the call went.
pub(super) async fn serve_read(
    call: &Call,
    matched: &Matched,
    mode: RouteMode,
    parts: http::request::Parts,
    body: Result<bytes::Bytes, crate::error::Failure>,
) -> (Response<Body>, Served) {
    let admitted = translated::admit(call, matched, &parts, &body);
    let upstream = call.cfg.passthrough.is_some();
    // Without an upstream every call is served here, so who owns the state
    // it names changes nothing: no store read to find out.
    let owner = match &admitted {
        Ok((tenant, command)) if upstream => owner_of(&call.app.store, &tenant.name, command).await,
        _ => Owner::Nobody,
    };
    let to_gameball = match (owner, mode) {
        (Owner::Gameball, _) if upstream => Some(Reason::Reference),
        (Owner::Nobody, RouteMode::Passthrough | RouteMode::Shadow) if upstream => Some(Reason::Route),
        _ => None,
    };
    match to_gameball {
        Some(reason) => {
            let bytes = body.unwrap_or_default();
            let req = http::Request::from_parts(parts, full(bytes));
            (forward::serve(call, mode, reason, req).await, Served::Gameball(reason))
        }
        None => {
            let intake = Intake {
                parts,
                body,
                command: Some(admitted),
            };
            (translated::serve(call, matched, intake).await, Served::Here)
        }
    }
}

async fn owner_of(store: &Store, tenant: &str, command: &Command) -> Owner {
    match command.existing() {
        None => Owner::Nobody,
        // A store that cannot answer now: served here, where it fails as
        // the store does (503), never guessed to be Gameball's.
        Some(Existing::Lock(r)) => match store.reference_key().await {
            Ok(key) if ids::issued_here(r, &key) => Owner::Couponbridge,
            Ok(_) => match store.get(tenant, r).await {
                Ok(None) => Owner::Gameball,
                _ => Owner::Couponbridge,
            },
            Err(_) => Owner::Couponbridge,
        },
        Some(Existing::Transaction(id)) => {
            for kind in [Transaction::Order, Transaction::Payment] {
                match store.outcome(tenant, op_kind(kind), id).await {
                    Ok(OpOutcome::Unknown) => {}
                    _ => return Owner::Couponbridge,
                }
            }
            Owner::Gameball
        }
    }
}
