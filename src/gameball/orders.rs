//! Orders and payments with coupons: `POST …/integrations/orders` and
//! `POST …/integrations/payments`. Both redeem their coupons (by lock, by
//! codes, or both) once per order or payment id; only the published
//! reference describes payments, so both v4 dialects speak them alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::endpoint::{Wire, unexpected};
use super::request::{ParseCtx, Parsed, RequestView};
use super::wire::{
    LineItem, OrderRedemption, StringOrNumber, codes_of, customer, minor, optional, parse_body, required, to_json,
};
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, Operation, OrderCmd, Transaction};
use crate::error::Failure;
use crate::money::DecimalNumber;

pub static ORDERS: Wire<V4Dialect> = Wire {
    op: Operation::Orders,
    parse: |_, req, cx| parse_order(req, cx),
    render: |_, answer, _| render(answer),
};

pub static PAYMENTS: Wire<V4Dialect> = Wire {
    op: Operation::Payments,
    parse: |_, req, cx| parse_payment(req, cx),
    render: |_, answer, _| render(answer),
};

/// `POST …/integrations/orders`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderRequest {
    customer_id: Option<StringOrNumber>,
    order_id: Option<StringOrNumber>,
    // Read only so a value of the wrong type is refused, as Gameball does.
    #[allow(dead_code)]
    order_date: Option<String>,
    total_paid: Option<DecimalNumber>,
    total_price: Option<DecimalNumber>,
    total_shipping: Option<DecimalNumber>,
    #[allow(dead_code)]
    line_items: Option<Vec<LineItem>>,
    redemption: Option<OrderRedemption>,
    email: Option<String>,
    mobile: Option<String>,
}

/// `POST …/payments`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentRequest {
    customer_id: Option<StringOrNumber>,
    payment_id: Option<StringOrNumber>,
    #[allow(dead_code)]
    payment_date: Option<String>,
    total_paid: Option<DecimalNumber>,
    total_amount: Option<DecimalNumber>,
    redemption: Option<OrderRedemption>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse_order(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let body: OrderRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let order_id = required(body.order_id.as_ref(), "orderId")?;
    let amount = minor(body.total_price.or(body.total_paid), "totalPrice", cx.decimals)?;
    let shipping = minor(body.total_shipping, "totalShipping", cx.decimals)?;
    let redemption = body.redemption.unwrap_or_default();
    Ok(Command::Order(OrderCmd {
        kind: Transaction::Order,
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        order_id,
        paid_minor: minor(body.total_paid, "totalPaid", cx.decimals)?,
        amount_minor: amount,
        shipping_minor: shipping,
        reference: optional(redemption.coupons_lock_reference.as_deref()),
        codes: codes_of(redemption.coupon_codes.as_ref()),
    })
    .into())
}

fn parse_payment(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let body: PaymentRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let payment_id = required(body.payment_id.as_ref(), "paymentId")?;
    let redemption = body.redemption.unwrap_or_default();
    Ok(Command::Order(OrderCmd {
        kind: Transaction::Payment,
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        order_id: payment_id,
        paid_minor: minor(body.total_paid, "totalPaid", cx.decimals)?,
        amount_minor: minor(body.total_amount.or(body.total_paid), "totalAmount", cx.decimals)?,
        shipping_minor: None,
        reference: optional(redemption.coupons_lock_reference.as_deref()),
        codes: codes_of(redemption.coupon_codes.as_ref()),
    })
    .into())
}

/// Gameball's order-tracking answer. couponbridge redeems coupons, it does
/// not award points, so the point fields are zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderResponse<'a> {
    customer_id: &'a str,
    redeemed_points: u64,
    rewarded_points: u64,
    line_items: Vec<Value>,
}

/// Gameball's payment-tracking answer, likewise without points.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentResponse<'a> {
    customer_id: &'a str,
    redeemed_points: u64,
    rewarded_points: u64,
    payment_details: Vec<Value>,
}

fn render(answer: &Answer) -> Result<Vec<u8>, Failure> {
    match answer {
        Answer::Ordered { customer_id } => to_json(&OrderResponse {
            customer_id,
            redeemed_points: 0,
            rewarded_points: 0,
            line_items: Vec::new(),
        }),
        Answer::Paid { customer_id } => to_json(&PaymentResponse {
            customer_id,
            redeemed_points: 0,
            rewarded_points: 0,
            payment_details: Vec::new(),
        }),
        other => Err(unexpected("orders", other)),
    }
}
