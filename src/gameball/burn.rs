//! Burn coupons: `POST …/coupons/burn` (by lock reference or by codes) and
//! v3.0's `POST …/coupons/{holdReference}/burn`. The answer echoes the
//! transaction fields when given, as Gameball's 2026 changelog says the
//! Burn API does.

use serde::{Deserialize, Serialize};

use super::endpoint::{HoldApi, Wire, unexpected};
use super::request::{Parsed, RequestView};
use super::wire::{CouponRef, StringOrNumber, codes_of, customer, optional, parse_body, required, to_json};
use crate::clock::iso;
use crate::config::V4Dialect;
use crate::domain::{Answer, BurnCmd, BurnTarget, Command, Operation};
use crate::error::Failure;

pub static BURN: Wire<V4Dialect> = Wire {
    op: Operation::Burn,
    parse: |_, req, _| parse(req, "lockReference"),
    render: |_, answer, _| render(answer),
};

pub static BURN_HOLD: Wire<HoldApi> = Wire {
    op: Operation::Burn,
    parse: |_, req, _| parse(req, "holdReference"),
    render: |_, answer, _| render(answer),
};

/// `POST …/coupons/burn` (and v3.0's `…/coupons/{holdReference}/burn`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BurnRequest {
    customer_id: Option<StringOrNumber>,
    #[serde(alias = "couponsLockReference")]
    lock_reference: Option<String>,
    #[serde(alias = "couponCodes")]
    coupons: Option<Vec<CouponRef>>,
    transaction_id: Option<StringOrNumber>,
    transaction_time: Option<String>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse(req: &RequestView<'_>, reference_field: &str) -> Result<Parsed, Failure> {
    let body: BurnRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let in_path = req.has_param("reference").then(|| req.param("reference"));
    let reference = in_path.or_else(|| optional(body.lock_reference.as_deref()));
    let codes = codes_of(body.coupons.as_ref());
    let target = match (reference, codes.is_empty()) {
        (Some(_), false) => {
            return Err(Failure::invalid(
                "coupons",
                format!("send either {reference_field} or coupons, not both"),
            ));
        }
        (None, true) => return Err(Failure::missing(&format!("{reference_field} or coupons"))),
        (Some(reference), true) => BurnTarget::Lock(reference),
        (None, false) => BurnTarget::Codes(codes),
    };
    Ok(Command::Burn(BurnCmd {
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        target,
        transaction_id: body.transaction_id.and_then(|t| optional(Some(&t.0))),
        transaction_time: body.transaction_time,
    })
    .into())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct BurnResponse<'a> {
    success: bool,
    burned_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_time: Option<&'a str>,
}

fn render(answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::Burned(b) = answer else {
        return Err(unexpected("burn", answer));
    };
    to_json(&BurnResponse {
        success: true,
        burned_at: iso(b.at),
        transaction_id: b.transaction_id.as_deref(),
        transaction_time: b.transaction_time.as_deref(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn burn_accepts_the_order_api_aliases() {
        let r: BurnRequest =
            serde_json::from_value(json!({"customerId": "c", "couponCodes": ["X"], "couponsLockReference": "r"}))
                .unwrap();
        assert_eq!(r.lock_reference.as_deref(), Some("r"));
        assert_eq!(r.coupons.unwrap()[0].code(), "X");
    }
}
