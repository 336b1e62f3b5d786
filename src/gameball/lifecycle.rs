//! The v4 wire format of the rest of the coupon lifecycle: coupons from
//! points (`coupons/predefined`), the customer's coupons, automatic coupons,
//! payments, refunds and cancellations. Only Gameball's published reference
//! describes these (the seed pages do not), so the seed and published
//! dialects speak them alike, in the reference's shapes; a field
//! Voucherify has no value for is left out, never `null` (the reference's
//! schema types them as strings and numbers).

use serde::{Deserialize, Serialize};

use super::v4::{LineItem, OrderRedemption, customer, minor};
use super::{ParseCtx, RequestView, StringOrNumber, codes_of, optional, parse_body, required, to_json};
use crate::adapter::error::Failure;
use crate::adapter::ops::{
    Answer, AutomaticCmd, CartItem, Command, OrderCmd, PredefinedCmd, RefundCmd, Transaction, WalletCoupon,
};
use crate::adapter::routes::Operation;
use crate::clock::iso;
use crate::money::DecimalNumber;

/// `POST …/coupons/predefined`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredefinedRequest {
    pub customer_id: Option<StringOrNumber>,
    /// An integer in the reference; the tutorials send `"12345"`.
    pub rule_id: Option<StringOrNumber>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

/// `POST …/coupons/automatic`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticRequest {
    pub customer_id: Option<StringOrNumber>,
    pub cart_id: Option<StringOrNumber>,
    pub total_price: Option<DecimalNumber>,
    pub total_shipping: Option<DecimalNumber>,
    pub line_items: Option<Vec<LineItem>>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

/// `POST …/payments`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub customer_id: Option<StringOrNumber>,
    pub payment_id: Option<StringOrNumber>,
    pub payment_date: Option<String>,
    pub total_paid: Option<DecimalNumber>,
    pub total_amount: Option<DecimalNumber>,
    pub redemption: Option<OrderRedemption>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

/// `POST …/transactions/refund`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    pub customer_id: Option<StringOrNumber>,
    pub refund_transaction_id: Option<StringOrNumber>,
    pub reverse_transaction_id: Option<StringOrNumber>,
    pub transaction_time: Option<String>,
    pub refund_amount: Option<DecimalNumber>,
    /// Only these items are refunded (Gameball): a partial refund.
    pub line_items: Option<Vec<serde_json::Value>>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

/// The `Idempotency-Key` header, when the client sends one.
fn idempotency_key(req: &RequestView<'_>) -> Option<String> {
    let v = req.headers.get("idempotency-key")?.to_str().ok()?;
    optional(Some(v))
}

/// A count: a whole number, never rounded.
fn whole(n: Option<DecimalNumber>, field: &str) -> Result<Option<i64>, Failure> {
    let Some(q) = n else { return Ok(None) };
    let w = q.to_minor(0).map_err(|e| Failure::invalid(field, e))?;
    if DecimalNumber::from_minor(w, 0) != q {
        return Err(Failure::invalid(field, "must be a whole number"));
    }
    Ok(Some(w))
}

/// A lifecycle request as a command; `None` for the other operations.
pub fn parse(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Option<Result<Command, Failure>> {
    Some(match req.op() {
        Operation::Predefined => predefined(req),
        Operation::CustomerCoupons => {
            let id = req.param("customerId");
            if id.is_empty() {
                Err(Failure::missing("customerId"))
            } else {
                Ok(Command::CustomerCoupons { customer_id: id })
            }
        }
        Operation::Automatic => automatic(req, cx),
        Operation::Payments => payment(req, cx),
        Operation::Refunds => refund(req, cx),
        _ => return None,
    })
}

fn predefined(req: &RequestView<'_>) -> Result<Command, Failure> {
    let body: PredefinedRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let rule = required(body.rule_id.as_ref(), "ruleId")?;
    let rule_id = rule
        .parse::<u64>()
        .map_err(|_| Failure::invalid("ruleId", "must be a whole number (a redemption rule id)"))?;
    Ok(Command::Predefined(PredefinedCmd {
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        rule_id,
        idempotency_key: idempotency_key(req),
    }))
}

fn automatic(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Command, Failure> {
    let body: AutomaticRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let cart_id = required(body.cart_id.as_ref(), "cartId")?;
    let mut items = Vec::new();
    for (i, line) in body.line_items.iter().flatten().enumerate() {
        let product = line
            .product_id
            .as_ref()
            .map(|p| p.0.trim().to_owned())
            .or_else(|| optional(line.sku.as_deref()))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Failure::missing(&format!("lineItems[{i}].productId")))?;
        items.push(CartItem {
            product_id: product,
            quantity: whole(line.quantity, &format!("lineItems[{i}].quantity"))?,
            price_minor: minor(line.price, &format!("lineItems[{i}].price"), cx.decimals)?,
        });
    }
    Ok(Command::Automatic(AutomaticCmd {
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        cart_id,
        amount_minor: minor(body.total_price, "totalPrice", cx.decimals)?,
        shipping_minor: minor(body.total_shipping, "totalShipping", cx.decimals)?,
        items,
    }))
}

fn payment(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Command, Failure> {
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
    }))
}

fn refund(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Command, Failure> {
    if req.matched.param("orderId").is_some() {
        let order_id = req.param("orderId");
        if order_id.is_empty() {
            return Err(Failure::missing("orderId"));
        }
        return Ok(Command::Refund(RefundCmd {
            customer: None,
            refund_id: format!("cancel-{order_id}"),
            reverse_id: order_id,
            amount_minor: None,
            items_only: false,
            cancel: true,
        }));
    }
    let body: RefundRequest = parse_body(req.body)?;
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let refund_id = required(body.refund_transaction_id.as_ref(), "refundTransactionId")?;
    let reverse_id = required(body.reverse_transaction_id.as_ref(), "reverseTransactionId")?;
    if optional(body.transaction_time.as_deref()).is_none() {
        return Err(Failure::missing("transactionTime"));
    }
    let amount_minor = minor(body.refund_amount, "refundAmount", cx.decimals)?;
    if amount_minor.is_some_and(|a| a < 0) {
        return Err(Failure::invalid("refundAmount", "must not be negative"));
    }
    Ok(Command::Refund(RefundCmd {
        customer: Some(customer(id, body.email.as_deref(), body.mobile.as_deref())),
        refund_id,
        reverse_id,
        amount_minor,
        items_only: body.line_items.as_ref().is_some_and(|l| !l.is_empty()),
        cancel: false,
    }))
}

/// `coupons/predefined` → 200.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PredefinedResponse<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_date: Option<&'a str>,
}

/// `CustomerCouponsResponse`.
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AutomaticResponse<'a> {
    is_applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupon_name: Option<&'a str>,
    discount_amount: DecimalNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount_type: Option<&'static str>,
    discounted_items: Vec<DiscountedItemBody<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DiscountedItemBody<'a> {
    product_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<i64>,
    discount: DecimalNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<DecimalNumber>,
}

/// Gameball's payment-tracking answer; couponbridge awards no points.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentResponse<'a> {
    customer_id: &'a str,
    redeemed_points: u64,
    rewarded_points: u64,
    payment_details: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RefundResponse<'a> {
    gameball_transaction_id: &'a str,
    refund_transaction_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_amount: Option<DecimalNumber>,
    refund_equivalent_points: u64,
}

/// The cancellation's answer (the reference documents none): release's
/// shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelResponse<'a> {
    success: bool,
    order_id: &'a str,
    cancelled_at: String,
}

/// The lifecycle answers, alike in every v4 dialect; `None` for the others.
pub fn render(answer: &Answer, decimals: u32) -> Option<Result<Vec<u8>, Failure>> {
    let money = |minor: i64| DecimalNumber::from_minor(minor, decimals);
    Some(match answer {
        Answer::CouponIssued(c) => to_json(&PredefinedResponse {
            code: &c.code,
            start_date: c.start_date.as_deref(),
            expiry_date: c.expiry_date.as_deref(),
        }),
        Answer::CustomerCoupons(list) => to_json(&CustomerCouponsResponse {
            coupons: list.iter().map(CustomerCoupon::from).collect(),
        }),
        Answer::Automatic(None) => to_json(&AutomaticResponse {
            is_applied: false,
            coupon_name: None,
            discount_amount: DecimalNumber::default(),
            discount_type: None,
            discounted_items: Vec::new(),
        }),
        Answer::Automatic(Some(p)) => to_json(&AutomaticResponse {
            is_applied: true,
            coupon_name: Some(&p.name),
            discount_amount: money(p.discount_minor),
            discount_type: Some(p.discount_type),
            discounted_items: p
                .items
                .iter()
                .map(|i| DiscountedItemBody {
                    product_id: &i.product_id,
                    quantity: i.quantity,
                    discount: money(i.discount_minor),
                    price: i.price_minor.map(money),
                })
                .collect(),
        }),
        Answer::Paid { customer_id } => to_json(&PaymentResponse {
            customer_id,
            redeemed_points: 0,
            rewarded_points: 0,
            payment_details: Vec::new(),
        }),
        Answer::Refunded(r) if r.cancel => to_json(&CancelResponse {
            success: true,
            order_id: &r.reverse_id,
            cancelled_at: iso(r.at),
        }),
        Answer::Refunded(r) => to_json(&RefundResponse {
            gameball_transaction_id: &r.transaction_id,
            refund_transaction_id: &r.refund_id,
            refund_amount: r.amount_minor.map(money),
            refund_equivalent_points: 0,
        }),
        _ => return None,
    })
}
