//! Automatic coupons: `POST …/coupons/automatic`, the best promotion a cart
//! qualifies for (nothing is held or redeemed).

use serde::{Deserialize, Serialize};

use super::endpoint::{Wire, unexpected};
use super::request::{ParseCtx, Parsed, RenderCtx, RequestView};
use super::wire::{LineItem, StringOrNumber, customer, minor, optional, parse_body, required, to_json, whole};
use crate::config::V4Dialect;
use crate::domain::{Answer, AutomaticCmd, CartItem, Command, Operation};
use crate::error::Failure;
use crate::money::DecimalNumber;

pub static AUTOMATIC: Wire<V4Dialect> = Wire {
    op: Operation::Automatic,
    parse: |_, req, cx| parse(req, cx),
    render: |_, answer, cx| render(answer, cx),
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutomaticRequest {
    customer_id: Option<StringOrNumber>,
    cart_id: Option<StringOrNumber>,
    total_price: Option<DecimalNumber>,
    total_shipping: Option<DecimalNumber>,
    line_items: Option<Vec<LineItem>>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
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
    })
    .into())
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

fn render(answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    let money = |minor: i64| DecimalNumber::from_minor(minor, cx.decimals);
    match answer {
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
        other => Err(unexpected("automatic", other)),
    }
}
