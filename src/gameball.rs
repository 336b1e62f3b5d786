//! Gameball's coupon API on the wire: request bodies, response bodies and
//! the v4 error envelope. Field names and shapes follow the seed pages
//! (`validCoupons`/`invalidCoupons`, `isValid`, lock details, release, burn);
//! requests also accept the documented variants (coupons as strings or
//! `{code, pin}` objects, `couponCodes`/`couponsLockReference` aliases).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::money::DecimalNumber;

/// Gameball's documentation link in every error body.
pub const DOCUMENTATION_URL: &str = "https://docs.gameball.co/api-reference/introduction";

/// An identifier (customer id, order id, product id). Gameball documents
/// strings; numbers are accepted because merchants send their database ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrNumber(pub String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(StringOrNumber(s)),
            Value::Number(n) => Ok(StringOrNumber(n.to_string())),
            other => Err(serde::de::Error::custom(format!("expected a string, found {other}"))),
        }
    }
}

/// A coupon in a request: `"SAVE10"` or `{"code": "SAVE10", "pin": "1234"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CouponRef {
    Code(String),
    Object {
        code: String,
        #[allow(dead_code)]
        pin: Option<String>,
    },
}

impl CouponRef {
    pub fn code(&self) -> &str {
        match self {
            CouponRef::Code(c) | CouponRef::Object { code: c, .. } => c,
        }
    }
}

/// `POST …/coupons/validate` and `POST …/coupons/{code}/validate` (the
/// single form takes the code from the path and ignores `coupons`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateRequest {
    pub customer_id: Option<StringOrNumber>,
    pub coupons: Option<Vec<CouponRef>>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub lock: Option<bool>,
    /// Minutes.
    pub lock_duration: Option<DecimalNumber>,
    pub lock_reference: Option<String>,
    pub total_purchase_amount: Option<DecimalNumber>,
}

/// `POST …/coupons/release` (the body form of `DELETE …/coupons/{ref}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRequest {
    pub lock_reference: Option<String>,
}

/// `POST …/coupons/burn`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRequest {
    pub customer_id: Option<StringOrNumber>,
    #[serde(alias = "couponsLockReference")]
    pub lock_reference: Option<String>,
    #[serde(alias = "couponCodes")]
    pub coupons: Option<Vec<CouponRef>>,
    pub transaction_id: Option<String>,
    pub transaction_time: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRedemption {
    #[serde(alias = "lockReference")]
    pub coupons_lock_reference: Option<String>,
    pub coupon_codes: Option<Vec<CouponRef>>,
    pub points_hold_reference: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub product_id: Option<StringOrNumber>,
    pub sku: Option<String>,
    pub quantity: Option<DecimalNumber>,
    pub price: Option<DecimalNumber>,
}

/// `POST …/integrations/orders`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    pub customer_id: Option<StringOrNumber>,
    pub order_id: Option<StringOrNumber>,
    pub order_date: Option<String>,
    pub total_paid: Option<DecimalNumber>,
    pub total_price: Option<DecimalNumber>,
    pub total_shipping: Option<DecimalNumber>,
    pub line_items: Option<Vec<LineItem>>,
    pub redemption: Option<OrderRedemption>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidCoupon {
    pub code: String,
    pub lock_reference: Option<String>,
    pub discount_amount: DecimalNumber,
    pub discount_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidCoupon {
    pub code: String,
    pub error: String,
}

/// Seed 004's answer to a multiple validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResponse {
    pub valid_coupons: Vec<ValidCoupon>,
    pub invalid_coupons: Vec<InvalidCoupon>,
}

/// Seed 001's answer to a single validation; `error` only when invalid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateSingleResponse {
    pub is_valid: bool,
    pub lock_reference: Option<String>,
    pub discount_type: Option<&'static str>,
    pub discount_amount: DecimalNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CombinesWith {
    pub order_discounts: bool,
    pub product_discounts: bool,
    pub shipping_discounts: bool,
}

/// Gameball's `Coupon` object (lock details).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: DecimalNumber,
    pub usage_limit: Option<i64>,
    pub limit_per_customer: Option<i64>,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub capping: DecimalNumber,
    pub min_reward: DecimalNumber,
    pub min_order_value: DecimalNumber,
    pub entitled_product_ids: Vec<String>,
    pub entitled_variant_ids: Vec<String>,
    pub entitled_collection_ids: Vec<String>,
    pub entitled_merchant_ids: Vec<String>,
    pub combines_with: CombinesWith,
}

/// Seed 003's lock details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockDetails {
    pub customer_id: String,
    pub is_used: bool,
    pub used_at: Option<String>,
    pub is_expired: bool,
    pub expired_at: Option<String>,
    pub coupons: Vec<Coupon>,
}

/// Seed 000's release answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseResponse {
    pub success: bool,
    pub released_at: String,
    pub released_coupons: Vec<String>,
}

/// The burn answer; the transaction fields are echoed when given, as
/// Gameball's 2026 changelog says the Burn API does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnResponse {
    pub success: bool,
    pub burned_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_time: Option<String>,
}

/// Gameball's order-tracking answer. couponbridge redeems coupons, it does
/// not award points, so the point fields are zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    pub customer_id: String,
    pub redeemed_points: u64,
    pub rewarded_points: u64,
    pub line_items: Vec<Value>,
}

/// Gameball's v4 error envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub code: u16,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    pub documentation_url: &'static str,
    pub request_id: String,
}

/// The category name Gameball gives each range of error codes.
pub fn error_type(code: u16) -> &'static str {
    match code / 1000 {
        1 => "AUTHENTICATION_ERROR",
        2 => "REQUEST_ERROR",
        3 => "PAYLOAD_ERROR",
        4 => "GENERAL_ERROR",
        5 => "SERVER_ERROR",
        6 => "CONFIGURATIONS_ERROR",
        7 => "CUSTOMER_ERROR",
        8 => "SUBSCRIPTION_ERROR",
        _ => "TRANSACTIONS_ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coupons_are_read_as_strings_or_objects() {
        let r: ValidateRequest = serde_json::from_value(json!({
            "customerId": 42, "coupons": ["A", {"code": "B", "pin": "1"}], "lock": true,
            "lockDuration": 15, "totalPurchaseAmount": 250.5
        }))
        .unwrap();
        assert_eq!(r.customer_id, Some(StringOrNumber("42".into())));
        let codes: Vec<&str> = r.coupons.as_ref().unwrap().iter().map(CouponRef::code).collect();
        assert_eq!(codes, ["A", "B"]);
        assert_eq!(r.total_purchase_amount.unwrap().to_minor(2), Ok(25050));
    }

    #[test]
    fn burn_accepts_the_order_api_aliases() {
        let r: BurnRequest =
            serde_json::from_value(json!({"customerId": "c", "couponCodes": ["X"], "couponsLockReference": "r"}))
                .unwrap();
        assert_eq!(r.lock_reference.as_deref(), Some("r"));
        assert_eq!(r.coupons.unwrap()[0].code(), "X");
    }

    #[test]
    fn responses_use_gameballs_field_names() {
        let v = serde_json::to_value(ValidateResponse {
            valid_coupons: vec![ValidCoupon {
                code: "SAVE10".into(),
                lock_reference: Some("r".into()),
                discount_amount: DecimalNumber::from_minor(1050, 2),
                discount_type: "percentage",
            }],
            invalid_coupons: vec![InvalidCoupon {
                code: "X".into(),
                error: "Coupon not found".into(),
            }],
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"validCoupons": [{"code": "SAVE10", "lockReference": "r", "discountAmount": 10.5, "discountType": "percentage"}],
                   "invalidCoupons": [{"code": "X", "error": "Coupon not found"}]})
        );
        let e = serde_json::to_value(ErrorEnvelope {
            code: 4004,
            kind: error_type(4004),
            message: "m".into(),
            documentation_url: DOCUMENTATION_URL,
            request_id: "rid".into(),
        })
        .unwrap();
        assert_eq!(e["type"], "GENERAL_ERROR");
        assert_eq!(e["requestId"], "rid");
    }
}
