//! A lock by its reference: its details (`GET …/locks/{reference}`) and its
//! release (`DELETE …/coupons/{reference}`, seed 001's `POST
//! …/coupons/release` alias, v3.0's `DELETE …/coupons/{holdReference}/release`).
//!
//! Lock details are seed 003's `{customerId, isUsed, usedAt, isExpired,
//! expiredAt, coupons}` (the published reference had the same fields while
//! it listed the call; there absent values are left out). A released lock
//! reads as expired at its release time: the seed shape has no "released"
//! field and strict clients (Jackson's default) reject fields they do not
//! know, so the documented fields carry the meaning.

use serde::{Deserialize, Serialize};

use super::endpoint::{HoldApi, Wire, unexpected};
use super::request::{ParseCtx, Parsed, RenderCtx, RequestView};
use super::wire::{CouponObject, omit_nulls, optional, parse_body, published_coupon, to_json};
use crate::clock::iso;
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, LockState, LockView, Operation};
use crate::error::Failure;

pub static DETAILS: Wire<V4Dialect> = Wire {
    op: Operation::LockDetails,
    parse: |_, req, _| parse_details(req),
    render: |d, answer, _| render_details(d, answer),
};

pub static RELEASE: Wire<V4Dialect> = Wire {
    op: Operation::Release,
    parse: |_, req, cx| parse_release(req, cx),
    render: |_, answer, cx| render_release(answer, cx),
};

pub static RELEASE_HOLD: Wire<HoldApi> = Wire {
    op: Operation::Release,
    parse: |_, req, cx| parse_release(req, cx),
    render: |_, answer, cx| render_release(answer, cx),
};

/// `POST …/coupons/release` (the body form of `DELETE …/coupons/{ref}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseRequest {
    lock_reference: Option<String>,
}

fn parse_details(req: &RequestView<'_>) -> Result<Parsed, Failure> {
    Ok(Command::LockDetails {
        reference: req.param("reference"),
    }
    .into())
}

fn parse_release(req: &RequestView<'_>, _: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let reference = if req.has_param("reference") {
        req.param("reference")
    } else {
        optional(parse_body::<ReleaseRequest>(req.body)?.lock_reference.as_deref())
            .ok_or_else(|| Failure::missing("lockReference"))?
    };
    Ok(Command::Release { reference }.into())
}

/// Seed 003's lock details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct LockDetails<'a> {
    customer_id: &'a str,
    is_used: bool,
    used_at: Option<String>,
    is_expired: bool,
    expired_at: Option<String>,
    coupons: Vec<CouponObject<'a>>,
}

impl<'a> LockDetails<'a> {
    fn of(view: &'a LockView) -> Self {
        let lock = &view.lock;
        let used = lock.state == LockState::Used;
        let ended = lock.state == LockState::Released || lock.is_expired(view.now);
        LockDetails {
            customer_id: &lock.customer_id,
            is_used: used,
            used_at: lock.used_at.filter(|_| used).map(iso),
            is_expired: ended && !used,
            expired_at: Some(iso(lock.ended_at())),
            coupons: view.coupons.iter().map(CouponObject::from).collect(),
        }
    }
}

fn render_details(d: V4Dialect, answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::LockDetails(view) = answer else {
        return Err(unexpected("locks", answer));
    };
    if let (V4Dialect::Seed, None) = (d, &view.gameball) {
        // Straight from the struct: its field order, and no JSON tree
        // built only to be written out.
        return to_json(&LockDetails::of(view));
    }
    let details = serde_json::to_value(LockDetails::of(view)).unwrap_or_default();
    let ours = match d {
        V4Dialect::Seed => details,
        V4Dialect::Published => {
            let mut v = omit_nulls(details);
            v["coupons"] = view.coupons.iter().map(published_coupon).collect();
            v
        }
    };
    match &view.gameball {
        Some(theirs) => to_json(&super::fallback::merge_details(ours, theirs)),
        None => to_json(&ours),
    }
}

/// Seed 000's release answer (the published reference's too).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseResponse<'a> {
    success: bool,
    released_at: String,
    released_coupons: &'a [String],
}

fn render_release(answer: &Answer, _: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    let Answer::Released(r) = answer else {
        return Err(unexpected("locks", answer));
    };
    to_json(&ReleaseResponse {
        success: true,
        released_at: iso(r.at),
        released_coupons: &r.codes,
    })
}
