//! Request wire types: validation and redemption bodies parsed into typed
//! requests with Voucherify's own `invalid_payload` wording, and
//! [`ApiError`], the error object every failure is answered with.

use serde::Serialize;
use serde_json::Value;

use crate::ids;
use crate::sim::model::{ProjectSettings, TtlUnit};

/// Voucherify's default session length when a LOCK names no TTL.
const DEFAULT_SESSION_TTL: (f64, TtlUnit) = (7.0, TtlUnit::Days);

/// An error answered with Voucherify's Error object.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub key: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CustomMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomMessage {
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, key: &str, message: &str, details: impl Into<Option<String>>) -> Self {
        ApiError {
            code,
            key: key.to_owned(),
            message: message.to_owned(),
            details: details.into(),
            request_id: ids::prefixed_hex("v-", 18),
            resource_id: None,
            resource_type: None,
            error: None,
        }
    }

    pub fn invalid_payload(details: impl Into<String>) -> Self {
        Self::new(400, "invalid_payload", "Invalid payload", Some(details.into()))
    }

    pub fn not_found(resource_type: &str, id: &str) -> Self {
        let mut e = Self::new(
            404,
            "not_found",
            "Resource not found",
            Some(format!("Cannot find {resource_type} with id {id}")),
        );
        e.resource_id = Some(id.to_owned());
        e.resource_type = Some(resource_type.to_owned());
        e
    }

    /// Voucherify's 409 for a resource created under an id (or code) it
    /// already has.
    pub fn duplicate(resource_type: &str, id: &str) -> Self {
        let mut e = Self::new(
            409,
            "duplicate_found",
            "Duplicated resource found",
            Some(format!("Duplicated {resource_type} exists with id {id}")),
        );
        e.resource_id = Some(id.to_owned());
        e.resource_type = Some(resource_type.to_owned());
        e
    }

    pub(super) fn on_voucher(key: &str, message: &str, code: &str) -> Self {
        Self::new(400, key, message, Some(code.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RedeemableObject {
    Voucher,
    PromotionTier,
    PromotionStack,
}

#[derive(Debug, Clone)]
pub struct RedeemableRef {
    pub object: RedeemableObject,
    pub id: String,
    pub credits: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct OrderIn {
    pub id: Option<String>,
    pub source_id: Option<String>,
    pub amount: Option<i64>,
    pub items: Vec<Value>,
    pub status: Option<String>,
    pub metadata: Option<Value>,
}

impl OrderIn {
    /// The order amount: as given, else the sum of the items.
    pub fn amount(&self) -> i64 {
        self.amount.unwrap_or_else(|| {
            self.items
                .iter()
                .map(|i| {
                    i.get("amount").and_then(Value::as_i64).unwrap_or_else(|| {
                        i.get("price").and_then(Value::as_i64).unwrap_or(0)
                            * i.get("quantity").and_then(Value::as_i64).unwrap_or(1)
                    })
                })
                .sum()
        })
    }

    /// The unit price of the item that is product `unit_type`, if ordered.
    pub(super) fn unit_price(&self, unit_type: &str) -> Option<i64> {
        self.items.iter().find_map(|i| {
            let matches = ["product_id", "source_id", "sku_id"]
                .iter()
                .any(|k| i.get(*k).and_then(Value::as_str) == Some(unit_type));
            matches.then(|| i.get("price").and_then(Value::as_i64).unwrap_or(0))
        })
    }
}

#[derive(Debug, Clone)]
pub struct SessionIn {
    pub key: Option<String>,
    pub ttl: f64,
    pub ttl_unit: TtlUnit,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerIn {
    pub id: Option<String>,
    pub source_id: Option<String>,
}

/// A parsed `POST /v1/validations` or `POST /v1/redemptions` body.
#[derive(Debug, Clone, Default)]
pub struct StackableRequest {
    pub redeemables: Vec<RedeemableRef>,
    pub customer: Option<CustomerIn>,
    pub order: OrderIn,
    pub session: Option<SessionIn>,
    pub expand_redeemable: bool,
    pub metadata: Option<Value>,
}

fn parse_session(body: &Value) -> Result<Option<SessionIn>, ApiError> {
    let Some(s) = body.get("session").filter(|s| !s.is_null()) else {
        return Ok(None);
    };
    let s = s
        .as_object()
        .ok_or_else(|| ApiError::invalid_payload("Property .session should be object"))?;
    match s.get("type").and_then(Value::as_str) {
        Some("LOCK") => {}
        Some(_) => {
            return Err(ApiError::invalid_payload(
                "Property .session.type should be equal to one of the allowed values: LOCK",
            ));
        }
        None => {
            return Err(ApiError::invalid_payload(
                "Property .session should have required property 'type'",
            ));
        }
    }
    let key = match s.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if !k.is_empty() => Some(k.clone()),
        Some(_) => {
            return Err(ApiError::invalid_payload(
                "Property .session.key should be a non-empty string",
            ));
        }
    };
    let ttl_unit = match s.get("ttl_unit") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(TtlUnit::parse).ok_or_else(|| {
            ApiError::invalid_payload(
                "Property .session.ttl_unit should be equal to one of the allowed values: DAYS, HOURS, MINUTES, SECONDS, MILLISECONDS, MICROSECONDS, NANOSECONDS",
            )
        })?),
    };
    let ttl = match s.get("ttl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| *t > 0.0 && t.is_finite())
                .ok_or_else(|| ApiError::invalid_payload("Property .session.ttl should be a positive number"))?,
        ),
    };
    let (ttl, ttl_unit): (f64, TtlUnit) = match (ttl, ttl_unit) {
        (None, None) => DEFAULT_SESSION_TTL,
        (Some(t), Some(u)) => (t, u),
        (Some(_), None) => {
            return Err(ApiError::invalid_payload(
                "Property .session should have required property 'ttl_unit'",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid_payload(
                "Property .session should have required property 'ttl'",
            ));
        }
    };
    // Ten years: beyond any real session, and far from i64 overflow.
    if ttl_unit.millis(ttl) > 10 * 365 * 86_400_000 {
        return Err(ApiError::invalid_payload("Property .session.ttl is too large"));
    }
    Ok(Some(SessionIn { key, ttl, ttl_unit }))
}

fn parse_customer(body: &Value) -> Option<CustomerIn> {
    let c = body.get("customer")?.as_object()?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(CustomerIn {
        id: text("id"),
        source_id: text("source_id"),
    })
}

pub(super) fn parse_order(body: &Value) -> Result<OrderIn, ApiError> {
    let Some(o) = body.get("order").filter(|o| !o.is_null()) else {
        return Ok(OrderIn::default());
    };
    let o = o
        .as_object()
        .ok_or_else(|| ApiError::invalid_payload("Property .order should be object"))?;
    let amount = match o.get("amount") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|a| *a >= 0)
                .ok_or_else(|| ApiError::invalid_payload("Property .order.amount should be integer"))?,
        ),
    };
    let items = match o.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= 500 => items.clone(),
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_payload(
                "Property .order.items should not have more than 500 items",
            ));
        }
        Some(_) => {
            return Err(ApiError::new(
                400,
                "invalid_order",
                "Invalid order",
                Some("Property items should be an array".to_owned()),
            ));
        }
    };
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(OrderIn {
        id: text("id"),
        source_id: text("source_id"),
        amount,
        items,
        status: text("status"),
        metadata: o.get("metadata").cloned(),
    })
}

/// Parses a stackable body, with Voucherify's `invalid_payload`,
/// `duplicated_redeemables` and `invalid_redeemables` answers.
pub fn parse_stackable(body: &Value, settings: &ProjectSettings) -> Result<StackableRequest, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid_payload("Request body should be object"));
    }
    let list = match body.get("redeemables") {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ApiError::invalid_payload("Property .redeemables should be array"));
        }
        None => {
            return Err(ApiError::invalid_payload(
                "Request body should have required property 'redeemables'",
            ));
        }
    };
    if list.is_empty() {
        return Err(ApiError::invalid_payload(
            "Property .redeemables should not have fewer than 1 items",
        ));
    }
    if list.len() > settings.redeemables_limit {
        return Err(ApiError::invalid_payload(format!(
            "Property .redeemables should not have more than {} items",
            settings.redeemables_limit
        )));
    }
    let mut redeemables = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let object = match r.get("object").and_then(Value::as_str) {
            Some("voucher") => RedeemableObject::Voucher,
            Some("promotion_tier") => RedeemableObject::PromotionTier,
            Some("promotion_stack") => RedeemableObject::PromotionStack,
            Some(_) => {
                return Err(ApiError::invalid_payload(format!(
                    "Property .redeemables[{i}].object should be equal to one of the allowed values: voucher, promotion_tier, promotion_stack"
                )));
            }
            None => {
                return Err(ApiError::invalid_payload(format!(
                    "Property .redeemables[{i}] should have required property 'object'"
                )));
            }
        };
        let id = match r.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(_) => {
                return Err(ApiError::invalid_payload(format!(
                    "Property .redeemables[{i}].id should be string"
                )));
            }
            None => {
                return Err(ApiError::invalid_payload(format!(
                    "Property .redeemables[{i}] should have required property 'id'"
                )));
            }
        };
        let credits = match r.get("gift").and_then(|g| g.get("credits")) {
            None | Some(Value::Null) => None,
            Some(c) => Some(c.as_i64().filter(|c| *c >= 0).ok_or_else(|| {
                ApiError::invalid_payload(format!("Property .redeemables[{i}].gift.credits should be integer"))
            })?),
        };
        redeemables.push(RedeemableRef { object, id, credits });
    }
    for (i, a) in redeemables.iter().enumerate() {
        if redeemables[..i].iter().any(|b| b.object == a.object && b.id == a.id) {
            return Err(ApiError::new(
                400,
                "duplicated_redeemables",
                "Duplicated redeemables detected",
                Some("Duplicated redeemables detected in one redemption".to_owned()),
            ));
        }
    }
    if redeemables.len() > 1 && redeemables.iter().any(|r| r.object == RedeemableObject::PromotionStack) {
        return Err(ApiError::new(
            400,
            "invalid_redeemables",
            "Invalid redeemables",
            Some("Promotion Stack cannot be use with other redeemables".to_owned()),
        ));
    }
    let expand_redeemable = body
        .pointer("/options/expand")
        .and_then(Value::as_array)
        .is_some_and(|e| e.iter().any(|x| x == "redeemable"));
    Ok(StackableRequest {
        redeemables,
        customer: parse_customer(body),
        order: parse_order(body)?,
        session: parse_session(body)?,
        expand_redeemable,
        metadata: body.get("metadata").cloned(),
    })
}

/// Parses a legacy single-voucher body (`/v1/vouchers/{code}/validate` and
/// `/redemption`) into the stackable form with one redeemable.
pub fn parse_legacy(code: &str, body: &Value) -> Result<StackableRequest, ApiError> {
    if !body.is_object() && !body.is_null() {
        return Err(ApiError::invalid_payload("Request body should be object"));
    }
    let credits = body.pointer("/gift/credits").and_then(Value::as_i64);
    Ok(StackableRequest {
        redeemables: vec![RedeemableRef {
            object: RedeemableObject::Voucher,
            id: code.to_owned(),
            credits,
        }],
        customer: parse_customer(body),
        order: parse_order(body)?,
        session: parse_session(body)?,
        expand_redeemable: false,
        metadata: body.get("metadata").cloned(),
    })
}
