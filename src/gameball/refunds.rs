//! Refunds and cancellations: `POST …/transactions/refund` and `DELETE
//! …/orders/{orderId}/transactions` (in Gameball's spec as a broken copy of
//! "delete a customer"; here it cancels the order). The cancellation's
//! answer, which the reference does not document, has release's shape.

use serde::{Deserialize, Serialize};

use super::endpoint::{Wire, unexpected};
use super::request::{ParseCtx, Parsed, RenderCtx, RequestView};
use super::wire::{StringOrNumber, customer, minor, optional, parse_body, required, to_json};
use crate::clock::iso;
use crate::config::V4Dialect;
use crate::domain::{Answer, Command, Operation, RefundCmd};
use crate::error::Failure;
use crate::money::DecimalNumber;

pub static REFUND: Wire<V4Dialect> = Wire {
    op: Operation::Refunds,
    parse: |_, req, cx| parse_refund(req, cx),
    render: |_, answer, cx| render(answer, cx),
};

pub static CANCEL: Wire<V4Dialect> = Wire {
    op: Operation::Refunds,
    parse: |_, req, _| parse_cancel(req),
    render: |_, answer, cx| render(answer, cx),
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundRequest {
    customer_id: Option<StringOrNumber>,
    refund_transaction_id: Option<StringOrNumber>,
    reverse_transaction_id: Option<StringOrNumber>,
    transaction_time: Option<String>,
    refund_amount: Option<DecimalNumber>,
    /// Only these items are refunded (Gameball): a partial refund.
    line_items: Option<Vec<serde_json::Value>>,
    email: Option<String>,
    mobile: Option<String>,
}

fn parse_cancel(req: &RequestView<'_>) -> Result<Parsed, Failure> {
    let order_id = req.param("orderId");
    if order_id.is_empty() {
        return Err(Failure::missing("orderId"));
    }
    Ok(Command::Refund(RefundCmd {
        customer: None,
        refund_id: format!("cancel-{order_id}"),
        reverse_id: order_id,
        amount_minor: None,
        items_only: false,
        cancel: true,
    })
    .into())
}

fn parse_refund(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
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
    })
    .into())
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelResponse<'a> {
    success: bool,
    order_id: &'a str,
    cancelled_at: String,
}

fn render(answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    let Answer::Refunded(r) = answer else {
        return Err(unexpected("refunds", answer));
    };
    if r.cancel {
        return to_json(&CancelResponse {
            success: true,
            order_id: &r.reverse_id,
            cancelled_at: iso(r.at),
        });
    }
    to_json(&RefundResponse {
        gameball_transaction_id: &r.transaction_id,
        refund_transaction_id: &r.refund_id,
        refund_amount: r.amount_minor.map(|m| DecimalNumber::from_minor(m, cx.decimals)),
        refund_equivalent_points: 0,
    })
}
