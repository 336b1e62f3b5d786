//! Orders and payments with coupons: `POST …/integrations/orders`,
//! `POST …/integrations/payments`, and the SDK-era `POST
//! /api/v3.0/integrations/order` (gb-alpha's `send_order`: `discountCodes`,
//! a points `holdReference`, `redeemedAmount`). Each redeems its coupons
//! (by lock, by codes, or both) once per order or payment id; only the
//! published reference describes payments, so both v4 dialects speak them
//! alike.
//!
//! An order also carries what only Gameball acts on (points held or
//! redeemed, the cashback its line items earn): the parse keeps the order
//! as Gameball should get it once couponbridge has redeemed the coupons,
//! that is the merchant's body without its coupon part, every other field
//! as sent ([`without_coupons`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::endpoint::{SdkApi, Wire, unexpected};
use super::request::{ParseCtx, Parsed, RequestView};
use super::wire::{
    LineItem, OrderRedemption, StringOrNumber, codes_of, customer, minor, optional, parse_body, required, to_json,
};
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, Operation, OrderCmd, PassOn, Transaction};
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

pub static SEND_ORDER: Wire<SdkApi> = Wire {
    op: Operation::Orders,
    parse: |_, req, cx| parse_send_order(req, cx),
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
        points: optional(redemption.points_hold_reference.as_deref()).is_some(),
        pass_on: Some(pass_on(req, REDEMPTION_COUPONS)?),
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
        points: optional(redemption.points_hold_reference.as_deref()).is_some(),
        pass_on: Some(pass_on(req, REDEMPTION_COUPONS)?),
    })
    .into())
}

/// gb-alpha's `send_order` (`POST /api/v3.0/integrations/order`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendOrderRequest {
    player_unique_id: Option<StringOrNumber>,
    order_id: Option<StringOrNumber>,
    total_paid: Option<DecimalNumber>,
    total_price: Option<DecimalNumber>,
    total_shipping: Option<DecimalNumber>,
    discount_codes: Option<Vec<super::wire::CouponRef>>,
    /// A points hold (the Hold Points API's), not a coupon lock.
    hold_reference: Option<String>,
    redeemed_amount: Option<DecimalNumber>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse_send_order(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let body: SendOrderRequest = parse_body(req.body)?;
    let id = required(body.player_unique_id.as_ref(), "playerUniqueId")?;
    let order_id = required(body.order_id.as_ref(), "orderId")?;
    let redeemed = body.redeemed_amount.is_some_and(|a| !a.0.is_zero());
    Ok(Command::Order(OrderCmd {
        kind: Transaction::Order,
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        order_id,
        paid_minor: minor(body.total_paid, "totalPaid", cx.decimals)?,
        amount_minor: minor(body.total_price.or(body.total_paid), "totalPrice", cx.decimals)?,
        shipping_minor: minor(body.total_shipping, "totalShipping", cx.decimals)?,
        reference: None,
        codes: codes_of(body.discount_codes.as_ref()),
        points: redeemed || optional(body.hold_reference.as_deref()).is_some(),
        pass_on: Some(pass_on(req, SEND_ORDER_COUPONS)?),
    })
    .into())
}

/// Where an order's coupon part is: keys under `redemption` (v4 orders and
/// payments) or at the top (gb-alpha's order).
struct CouponPart {
    under: Option<&'static str>,
    keys: &'static [&'static str],
}

const REDEMPTION_COUPONS: CouponPart = CouponPart {
    under: Some("redemption"),
    keys: &["couponCodes", "couponsLockReference", "lockReference"],
};

const SEND_ORDER_COUPONS: CouponPart = CouponPart {
    under: None,
    keys: &["discountCodes"],
};

/// The call as Gameball gets it once couponbridge has redeemed the coupons.
fn pass_on(req: &RequestView<'_>, part: CouponPart) -> Result<PassOn, Failure> {
    Ok(req.call_with(without_coupons(req.body, &part)?))
}

/// `body` without its coupon part: every other value keeps its exact text
/// (an id of 30 digits stays 30 digits); an emptied `redemption` is left
/// out.
fn without_coupons(body: &[u8], part: &CouponPart) -> Result<Vec<u8>, Failure> {
    type Fields = BTreeMap<String, Box<RawValue>>;
    let mut top: Fields = parse_body(body)?;
    let strip = |fields: &mut Fields| {
        for k in part.keys {
            fields.remove(*k);
        }
    };
    match part.under {
        None => strip(&mut top),
        Some(under) => {
            if let Some(raw) = top.remove(under) {
                match serde_json::from_str::<Fields>(raw.get()) {
                    Ok(mut inner) => {
                        strip(&mut inner);
                        if !inner.is_empty() {
                            let text = serde_json::to_string(&inner).map_err(|e| Failure::internal(e.to_string()))?;
                            top.insert(
                                under.to_owned(),
                                RawValue::from_string(text).map_err(|e| Failure::internal(e.to_string()))?,
                            );
                        }
                    }
                    // Not an object (null): as it was.
                    Err(_) => {
                        top.insert(under.to_owned(), raw);
                    }
                }
            }
        }
    }
    to_json(&top)
}

/// Gameball's order-tracking answer when the order stays with couponbridge
/// (no upstream, or `forward_orders = false`): couponbridge redeems
/// coupons and awards no points, so the point fields are zero (an order
/// carrying points is refused then, never answered zero).
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
        // Gameball's own answer is written as it came, by the request phase.
        Answer::PassedOn(a) => Ok(a.body.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gameball_gets_the_order_without_its_coupon_part() {
        let body = br#"{"customerId":"c","orderId":123456789012345678901234567890,"totalPaid":10.50,
            "redemption":{"couponCodes":["A"],"couponsLockReference":"r","pointsHoldReference":"H1"},
            "lineItems":[{"productId":"p","price":1.10}]}"#;
        let out: Value = serde_json::from_slice(&without_coupons(body, &REDEMPTION_COUPONS).unwrap()).unwrap();
        assert_eq!(out["redemption"], json!({"pointsHoldReference": "H1"}));
        assert_eq!(out["lineItems"][0]["price"], json!(1.10));
        let text = String::from_utf8(without_coupons(body, &REDEMPTION_COUPONS).unwrap()).unwrap();
        assert!(
            text.contains("123456789012345678901234567890"),
            "ids keep their text: {text}"
        );
        let only_coupons = br#"{"orderId":"1","redemption":{"couponCodes":["A"]}}"#;
        let out: Value = serde_json::from_slice(&without_coupons(only_coupons, &REDEMPTION_COUPONS).unwrap()).unwrap();
        assert!(
            out.get("redemption").is_none(),
            "an emptied redemption is left out: {out}"
        );
        let v3 =
            br#"{"playerUniqueId":"p","orderId":"9","discountCodes":["A"],"holdReference":"H","redeemedAmount":5}"#;
        let out: Value = serde_json::from_slice(&without_coupons(v3, &SEND_ORDER_COUPONS).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"playerUniqueId": "p", "orderId": "9", "holdReference": "H", "redeemedAmount": 5})
        );
    }
}
