//! Voucherify on the wire, as couponbridge uses it: the stackable
//! validation and redemption bodies, session release, voucher and rule
//! reads, order reads.
//!
//! Response types are lenient on purpose: every field is optional and
//! unknown fields are ignored, because Voucherify adds fields in
//! backward-compatible releases and older responses omit newer ones.

pub mod client;
pub mod definitions;
pub mod lifecycle;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct RedeemableRef {
    pub object: &'static str,
    pub id: String,
}

impl RedeemableRef {
    pub fn voucher(code: &str) -> Self {
        RedeemableRef {
            object: "voucher",
            id: code.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerRef {
    pub source_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    pub source_id: String,
    pub related_object: &'static str,
    pub quantity: i64,
    pub price: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Order {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<OrderItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_unit: Option<&'static str>,
}

/// The body of `POST /v1/validations` and `POST /v1/redemptions`.
#[derive(Debug, Clone, Serialize)]
pub struct StackableRequest {
    pub redeemables: Vec<RedeemableRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// Minor units, written by Voucherify as integers (and, by some clients'
/// serializers, as `1000.0`): both read as an integer.
fn minor<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        _ => None,
    })
}

/// Voucherify's Error object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorObject {
    pub code: Option<u16>,
    pub key: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
    pub request_id: Option<String>,
    /// What a 404 did not find (`voucher`, `reward`, `reward_assignment`...).
    pub resource_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Details {
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Discount {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "minor")]
    pub amount_off: Option<i64>,
    pub percent_off: Option<serde_json::Number>,
    #[serde(deserialize_with = "minor")]
    pub amount_limit: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub fixed_amount: Option<i64>,
    pub unit_off: Option<serde_json::Number>,
    pub unit_type: Option<String>,
}

/// Voucherify's free-shipping pseudo product (`unit_type` of a UNIT discount).
pub const FREE_SHIPPING_UNIT: &str = "prod_5h1pp1ng";

impl Discount {
    pub fn is_free_shipping(&self) -> bool {
        self.kind.as_deref() == Some("UNIT") && self.unit_type.as_deref() == Some(FREE_SHIPPING_UNIT)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GiftResult {
    #[serde(deserialize_with = "minor")]
    pub credits: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub balance: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RedeemableResult {
    pub discount: Option<Discount>,
    pub gift: Option<GiftResult>,
    pub error: Option<ErrorObject>,
    pub details: Option<Details>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderCalculated {
    #[serde(deserialize_with = "minor")]
    pub amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub total_discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub applied_discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub total_applied_discount_amount: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Redeemable {
    pub status: String,
    pub id: String,
    pub order: Option<OrderCalculated>,
    pub result: RedeemableResult,
}

/// `POST /v1/validations` → 200.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ValidationResponse {
    pub valid: bool,
    pub redeemables: Vec<Redeemable>,
    pub inapplicable_redeemables: Vec<Redeemable>,
    pub skipped_redeemables: Vec<Redeemable>,
}

/// `POST /v1/redemptions` → 200: what was not redeemed, and the
/// redemption to roll back on a refund (the parent of a stacked one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RedeemResponse {
    pub inapplicable_redeemables: Vec<Redeemable>,
    pub parent_redemption: Option<RedemptionId>,
    pub redemptions: Vec<RedemptionId>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RedemptionId {
    pub id: String,
}

impl RedeemResponse {
    /// The one id whose rollback undoes this whole redemption.
    pub fn rollback_id(&self) -> Option<&str> {
        match &self.parent_redemption {
            Some(p) if !p.id.is_empty() => Some(&p.id),
            _ => self
                .redemptions
                .first()
                .map(|r| r.id.as_str())
                .filter(|id| !id.is_empty()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RedemptionSummary {
    pub quantity: Option<i64>,
    pub redeemed_quantity: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Gift {
    #[serde(deserialize_with = "minor")]
    pub amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub balance: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Assignment {
    pub rule_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AssignmentList {
    pub data: Vec<Assignment>,
}

/// `GET /v1/vouchers/{code}` → 200 (and each of `GET /v1/vouchers`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Voucher {
    pub code: String,
    /// The campaign's name.
    pub campaign: Option<String>,
    pub active: Option<bool>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub discount: Option<Discount>,
    pub gift: Option<Gift>,
    pub start_date: Option<String>,
    pub expiration_date: Option<String>,
    pub redemption: Option<RedemptionSummary>,
    pub validation_rules_assignments: Option<AssignmentList>,
}

/// `GET /v1/validation-rules/{id}` → 200; `rules` stays raw JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ValidationRule {
    pub id: String,
    pub rules: Value,
}

/// `GET /v1/orders/{id}` → 200: only what reconciliation needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderInfo {
    pub redemptions: serde_json::Map<String, Value>,
}

impl OrderInfo {
    /// Whether a redemption is recorded on the order and not rolled back.
    pub fn has_live_redemption(&self) -> bool {
        self.redemptions.values().any(|r| r.get("rollback_id").is_none())
    }

    /// The order's redemptions not rolled back yet (for a stacked one, its
    /// parent's id, which rolls back every child).
    pub fn live_redemptions(&self) -> Vec<String> {
        self.redemptions
            .iter()
            .filter(|(_, r)| r.get("rollback_id").is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_voucherifys_recorded_validation_responses() {
        // Abridged from the commercetools connector's recorded mock.
        let body = r#"{"valid":false,"redeemables":[{"status":"INAPPLICABLE","id":"AMOUNT20","object":"voucher",
            "result":{"error":{"code":400,"key":"quantity_exceeded","message":"quantity exceeded","details":"AMOUNT20"}}}],
            "tracking_id":"track_x","session":{"key":"ssn_1","type":"LOCK","ttl":7,"ttl_unit":"DAYS"},"future":1}"#;
        let r: ValidationResponse = serde_json::from_str(body).unwrap();
        assert!(!r.valid);
        assert_eq!(
            r.redeemables[0].result.error.as_ref().unwrap().key.as_deref(),
            Some("quantity_exceeded")
        );
        assert!(r.inapplicable_redeemables.is_empty(), "missing lists default to empty");
    }

    #[test]
    fn minor_units_accept_integral_floats() {
        let d: Discount = serde_json::from_str(r#"{"type":"AMOUNT","amount_off":1000.0}"#).unwrap();
        assert_eq!(d.amount_off, Some(1000));
    }

    #[test]
    fn request_bodies_omit_what_is_not_set() {
        let r = StackableRequest {
            redeemables: vec![RedeemableRef::voucher("A")],
            customer: None,
            order: Some(Order {
                amount: Some(100),
                ..Default::default()
            }),
            session: None,
            metadata: None,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"redeemables": [{"object": "voucher", "id": "A"}], "order": {"amount": 100}})
        );
    }
}
