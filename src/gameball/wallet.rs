//! The customer's coupons: `GET …/customers/{customerId}/coupons`, in the
//! published reference's `CustomerCouponsResponse` (both v4 dialects; a
//! value Voucherify does not give is left out, never `null`).

use serde::Serialize;

use super::endpoint::{Wire, unexpected};
use super::request::{Parsed, RequestView};
use super::wire::to_json;
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, Operation, WalletCoupon};
use crate::error::Failure;
use crate::money::DecimalNumber;

pub static CUSTOMER_COUPONS: Wire<V4Dialect> = Wire {
    op: Operation::CustomerCoupons,
    parse: |_, req, _| parse(req),
    render: |_, answer, _| render(answer),
};

fn parse(req: &RequestView<'_>) -> Result<Parsed, Failure> {
    let id = req.param("customerId");
    if id.is_empty() {
        return Err(Failure::missing("customerId"));
    }
    Ok(Command::CustomerCoupons { customer_id: id }.into())
}

#[derive(Debug, Serialize)]
struct CustomerCouponsResponse<'a> {
    coupons: Vec<CustomerCoupon<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerCoupon<'a> {
    name: &'a str,
    code: &'a str,
    value: DecimalNumber,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_date: Option<&'a str>,
    is_expired: bool,
    is_active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_limit: Option<i64>,
    used_count: i64,
    customer_used_count: i64,
    is_available_to_use: bool,
}

impl<'a> From<&'a WalletCoupon> for CustomerCoupon<'a> {
    fn from(c: &'a WalletCoupon) -> Self {
        CustomerCoupon {
            name: &c.name,
            code: &c.code,
            value: c.value,
            kind: c.kind,
            start_date: c.start_date.as_deref(),
            expiry_date: c.expiry_date.as_deref(),
            is_expired: c.is_expired,
            is_active: c.is_active,
            usage_limit: c.usage_limit,
            used_count: c.used_count,
            customer_used_count: c.customer_used_count,
            is_available_to_use: c.is_available_to_use,
        }
    }
}

fn render(answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::CustomerCoupons(list) = answer else {
        return Err(unexpected("wallet", answer));
    };
    to_json(&CustomerCouponsResponse {
        coupons: list.iter().map(CustomerCoupon::from).collect(),
    })
}
