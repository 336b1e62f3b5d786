//! Response wire types: the validation answer exactly as Voucherify
//! serializes it, apart from the logic in `evaluate` that fills it in.

use serde::Serialize;
use serde_json::{Map, Value};

use super::wire::{ApiError, OrderIn};
use crate::sim::model::{Discount, StackingRules, TtlUnit, compact_number};

#[derive(Debug, Clone, Serialize)]
pub struct EmptyList {
    pub data: [Value; 0],
    pub total: u8,
    pub data_ref: &'static str,
    pub object: &'static str,
}

pub(super) const EMPTY_LIST: EmptyList = EmptyList {
    data: [],
    total: 0,
    data_ref: "data",
    object: "list",
};

#[derive(Debug, Clone, Serialize)]
pub struct OrderOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub amount: i64,
    pub discount_amount: i64,
    pub items_discount_amount: i64,
    pub total_discount_amount: i64,
    pub total_amount: i64,
    pub applied_discount_amount: i64,
    pub items_applied_discount_amount: i64,
    pub total_applied_discount_amount: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Value>,
    pub metadata: Value,
    pub customer_id: Option<String>,
    pub referrer_id: Option<String>,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redemptions: Option<Map<String, Value>>,
}

impl OrderOut {
    pub(super) fn calculated(order: &OrderIn, discount_so_far: i64, applied: i64, customer_id: Option<&str>) -> Self {
        let amount = order.amount();
        OrderOut {
            id: order.id.clone(),
            source_id: order.source_id.clone(),
            status: order.status.clone(),
            amount,
            discount_amount: discount_so_far,
            items_discount_amount: 0,
            total_discount_amount: discount_so_far,
            total_amount: amount - discount_so_far,
            applied_discount_amount: applied,
            items_applied_discount_amount: 0,
            total_applied_discount_amount: applied,
            items: order.items.iter().map(order_item_out).collect(),
            metadata: object_or_empty(order.metadata.as_ref()),
            customer_id: customer_id.map(str::to_owned),
            referrer_id: None,
            object: "order",
            created_at: None,
            redemptions: None,
        }
    }
}

fn order_item_out(item: &Value) -> Value {
    let mut out = item.as_object().cloned().unwrap_or_default();
    out.insert("object".into(), Value::from("order_item"));
    if !out.contains_key("amount") {
        let price = out.get("price").and_then(Value::as_i64);
        let qty = out.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        if let Some(p) = price {
            out.insert("amount".into(), Value::from(p * qty));
        }
    }
    Value::Object(out)
}

pub(super) fn object_or_empty(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Details {
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GiftResult {
    pub balance: i64,
    pub credits: i64,
    pub locked_credits: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RedeemableResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gift: Option<GiftResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Applicable,
    Inapplicable,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedeemableOut {
    pub status: Status,
    pub id: String,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicable_to: Option<EmptyList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inapplicable_to: Option<EmptyList>,
    pub result: RedeemableResult,
    pub metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionOut {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(serialize_with = "compact_number")]
    pub ttl: f64,
    pub ttl_unit: TtlUnit,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidationResponse {
    pub id: String,
    pub valid: bool,
    pub redeemables: Vec<RedeemableOut>,
    pub inapplicable_redeemables: Vec<RedeemableOut>,
    pub skipped_redeemables: Vec<RedeemableOut>,
    pub order: OrderOut,
    pub tracking_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionOut>,
    pub stacking_rules: StackingRules,
}
