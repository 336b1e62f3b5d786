//! A coupon bought with points: `POST …/coupons/predefined` (a Gameball
//! redemption rule). An `Idempotency-Key` header makes a retry answer the
//! coupon the first attempt bought.

use serde::{Deserialize, Serialize};

use super::endpoint::{Wire, unexpected};
use super::request::{Parsed, RequestView};
use super::wire::{StringOrNumber, customer, idempotency_key, parse_body, required, to_json};
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, Operation, PredefinedCmd};
use crate::error::Failure;

pub static PREDEFINED: Wire<V4Dialect> = Wire {
    op: Operation::Predefined,
    parse: |_, req, _| parse(req),
    render: |_, answer, _| render(answer),
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PredefinedRequest {
    customer_id: Option<StringOrNumber>,
    /// An integer in the reference; the tutorials send `"12345"`.
    rule_id: Option<StringOrNumber>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse(req: &RequestView<'_>) -> Result<Parsed, Failure> {
    let body: PredefinedRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let rule = required(body.rule_id.as_ref(), "ruleId")?;
    let rule_id = rule
        .parse::<u64>()
        .map_err(|_| Failure::invalid("ruleId", "must be a whole number (a redemption rule id)"))?;
    Ok(Command::Predefined(PredefinedCmd {
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        rule_id,
        idempotency_key: idempotency_key(req.headers),
    })
    .into())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PredefinedResponse<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_date: Option<&'a str>,
}

fn render(answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::CouponIssued(c) = answer else {
        return Err(unexpected("points", answer));
    };
    to_json(&PredefinedResponse {
        code: &c.code,
        start_date: c.start_date.as_deref(),
        expiry_date: c.expiry_date.as_deref(),
    })
}
