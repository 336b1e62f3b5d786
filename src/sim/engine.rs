//! The simulated Voucherify project: request parsing, rule checks, order
//! calculation, session locks and redemptions.
//!
//! Everything here runs under the project's mutex and does no I/O; time and
//! ids come in from the caller, so one validate-and-lock is one atomic step:
//! two concurrent locking validations of a single-use code see each other.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::model::*;
use crate::clock::{Millis, iso, parse_iso};
use crate::ids;

/// Voucherify's default session length when a LOCK names no TTL.
const DEFAULT_SESSION_TTL: (f64, TtlUnit) = (7.0, TtlUnit::Days);
/// Expired locks are swept from every voucher after this many new locks.
const SWEEP_EVERY: u32 = 4096;

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

    fn on_voucher(key: &str, message: &str, code: &str) -> Self {
        Self::new(400, key, message, Some(code.to_owned()))
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

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
    fn unit_price(&self, unit_type: &str) -> Option<i64> {
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

fn parse_order(body: &Value) -> Result<OrderIn, ApiError> {
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

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct EmptyList {
    pub data: [Value; 0],
    pub total: u8,
    pub data_ref: &'static str,
    pub object: &'static str,
}

const EMPTY_LIST: EmptyList = EmptyList {
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
    fn calculated(order: &OrderIn, discount_so_far: i64, applied: i64, customer_id: Option<&str>) -> Self {
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

fn object_or_empty(v: Option<&Value>) -> Value {
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

// ---------------------------------------------------------------------------
// The project
// ---------------------------------------------------------------------------

/// One simulated Voucherify project and everything it has recorded.
#[derive(Debug, Default)]
pub struct ProjectState {
    pub settings: ProjectSettings,
    pub vouchers: HashMap<String, Voucher>,
    voucher_ids: HashMap<String, String>,
    pub rules: HashMap<String, Rule>,
    pub redemptions: HashMap<String, Redemption>,
    pub orders: HashMap<String, Order>,
    order_ids_by_source: HashMap<String, String>,
    customers: HashMap<String, Customer>,
    per_customer: HashMap<(String, String), i64>,
    locks_since_sweep: u32,
}

/// The outcome of checking one redeemable.
#[derive(Debug, Clone)]
enum Verdict {
    Applicable { code: String, discount: i64, credits: i64 },
    Inapplicable(ApiError),
    Skipped(&'static str, &'static str),
}

struct Evaluation {
    verdicts: Vec<Verdict>,
    outs: Vec<RedeemableOut>,
    order: OrderOut,
    any_inapplicable: bool,
    applicable: usize,
}

fn kind_label(kind: VoucherKind) -> &'static str {
    match kind {
        VoucherKind::DiscountVoucher => "Discount Coupon",
        VoucherKind::GiftVoucher => "Gift Card",
        VoucherKind::LoyaltyCard => "Loyalty Card",
    }
}

/// `track_` plus a stable hash of the customer, as Voucherify derives it.
pub fn tracking_id(source_id: Option<&str>) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source_id.unwrap_or("").bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("track_{h:016x}")
}

impl ProjectState {
    pub fn new(settings: ProjectSettings) -> Self {
        ProjectState {
            settings,
            ..Default::default()
        }
    }

    /// Finds a voucher by code or by its `v_…` id.
    pub fn voucher(&self, code_or_id: &str) -> Option<&Voucher> {
        self.vouchers.get(code_or_id).or_else(|| {
            self.voucher_ids
                .get(code_or_id)
                .and_then(|code| self.vouchers.get(code))
        })
    }

    fn voucher_code(&self, code_or_id: &str) -> Option<String> {
        self.voucher(code_or_id).map(|v| v.code.clone())
    }

    pub fn insert_voucher(&mut self, v: Voucher) {
        self.voucher_ids.insert(v.id.clone(), v.code.clone());
        self.vouchers.insert(v.code.clone(), v);
    }

    pub fn remove_voucher(&mut self, code_or_id: &str) -> bool {
        match self.voucher_code(code_or_id) {
            Some(code) => {
                if let Some(v) = self.vouchers.remove(&code) {
                    self.voucher_ids.remove(&v.id);
                }
                true
            }
            None => false,
        }
    }

    fn customer_id(&mut self, source_id: &str) -> String {
        self.customers
            .entry(source_id.to_owned())
            .or_insert_with(|| Customer {
                id: ids::prefixed("cust_", 24),
                source_id: source_id.to_owned(),
            })
            .id
            .clone()
    }

    fn customer_json(&self, source_id: Option<&str>) -> Value {
        match source_id.and_then(|s| self.customers.get(s)) {
            Some(c) => {
                json!({"id": c.id, "source_id": c.source_id, "metadata": {}, "object": "customer"})
            }
            None => Value::Null,
        }
    }

    /// Checks one voucher for one request; `Ok` carries (discount, credits).
    #[allow(clippy::too_many_arguments)]
    fn check_voucher(
        &self,
        v: &Voucher,
        requested_credits: Option<i64>,
        customer: Option<&str>,
        session: Option<&str>,
        order: &OrderIn,
        running_total: i64,
        now: Millis,
    ) -> Result<(i64, i64), ApiError> {
        let order_amount = order.amount();
        if !v.active {
            return Err(ApiError::on_voucher("voucher_disabled", "voucher is disabled", &v.code));
        }
        if v.start_date.is_some_and(|s| s > now) {
            return Err(ApiError::on_voucher(
                "voucher_not_active",
                "voucher not active",
                &v.code,
            ));
        }
        if v.expiration_date.is_some_and(|e| e <= now) {
            return Err(ApiError::on_voucher("voucher_expired", "voucher expired", &v.code));
        }
        if let Some(q) = v.quantity
            && v.uses_excluding(session, now) >= q
        {
            return Err(ApiError::on_voucher("quantity_exceeded", "quantity exceeded", &v.code));
        }
        for a in &v.assignments {
            let Some(rule) = self.rules.get(&a.rule_id) else {
                continue;
            };
            for check in &rule.checks {
                let (ok, key, message) = match check {
                    RuleCheck::OrderAmount(cmp, bound) => (
                        cmp.holds(order_amount, *bound),
                        "order_rules_violated",
                        "order does not match validation rules",
                    ),
                    RuleCheck::PerCustomer(cmp, bound) => {
                        let used = customer
                            .and_then(|c| self.per_customer.get(&(v.code.clone(), c.to_owned())))
                            .copied()
                            .unwrap_or(0);
                        (
                            customer.is_some() && cmp.holds(used + 1, *bound),
                            "customer_rules_violated",
                            "customer does not match validation rules",
                        )
                    }
                };
                if !ok {
                    let mut e = ApiError::new(
                        400,
                        key,
                        message,
                        Some(format!(
                            "{} cannot be redeemed because of violated validation rules: {}",
                            kind_label(v.kind),
                            rule.id
                        )),
                    );
                    e.error = rule.error_message.clone().map(|message| CustomMessage { message });
                    return Err(e);
                }
            }
        }
        match v.kind {
            VoucherKind::GiftVoucher => {
                let balance = v.gift.map(|g| g.1).unwrap_or(0);
                let available = balance - v.locked_credits_excluding(session, now);
                let credits = requested_credits.unwrap_or_else(|| available.min(running_total).max(0));
                if credits > available || available <= 0 {
                    return Err(ApiError::on_voucher(
                        "gift_amount_exceeded",
                        "gift amount exceeded",
                        &v.code,
                    ));
                }
                Ok((credits.min(running_total), credits))
            }
            VoucherKind::LoyaltyCard => Err(ApiError::new(
                400,
                "missing_reward",
                "Missing reward",
                Some("Loyalty cards are not simulated".to_owned()),
            )),
            VoucherKind::DiscountVoucher => {
                let d = v
                    .discount
                    .as_ref()
                    .map_or(0, |d| discount_amount(d, order, running_total));
                Ok((d, 0))
            }
        }
    }

    fn evaluate(&self, req: &StackableRequest, session: Option<&str>, now: Millis) -> Evaluation {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.as_deref());
        let customer_id = customer.and_then(|c| self.customers.get(c)).map(|c| c.id.as_str());
        let amount = req.order.amount();
        let mode = self.settings.redeemables_application_mode;
        let mut verdicts = Vec::with_capacity(req.redeemables.len());
        let mut snapshots: Vec<Option<OrderOut>> = Vec::with_capacity(req.redeemables.len());
        let mut discount_so_far = 0i64;
        let mut applicable = 0usize;
        let mut first_failure = None;

        for (i, r) in req.redeemables.iter().enumerate() {
            if mode == ApplicationMode::All && first_failure.is_some() {
                verdicts.push(Verdict::Skipped(
                    "preceding_validation_failed",
                    "Redeemable cannot be applied due to preceding validation failure",
                ));
                snapshots.push(None);
                continue;
            }
            let checked = match r.object {
                RedeemableObject::Voucher => match self.voucher(&r.id) {
                    None => Err(ApiError::not_found("voucher", &r.id)),
                    Some(v) => self
                        .check_voucher(
                            v,
                            r.credits,
                            customer,
                            session,
                            &req.order,
                            amount - discount_so_far,
                            now,
                        )
                        .map(|(d, c)| (v.code.clone(), d, c)),
                },
                RedeemableObject::PromotionTier | RedeemableObject::PromotionStack => {
                    let kind = if r.object == RedeemableObject::PromotionTier {
                        "promotion_tier"
                    } else {
                        "promotion_stack"
                    };
                    Err(ApiError::not_found(kind, &r.id))
                }
            };
            match checked {
                Ok(_) if applicable >= self.settings.applicable_redeemables_limit => {
                    verdicts.push(Verdict::Skipped(
                        "applicable_redeemables_limit_exceeded",
                        "Applicable redeemables limit exceeded",
                    ));
                    snapshots.push(None);
                }
                Ok((code, d, credits)) => {
                    discount_so_far += d;
                    applicable += 1;
                    snapshots.push(Some(OrderOut::calculated(&req.order, discount_so_far, d, customer_id)));
                    verdicts.push(Verdict::Applicable {
                        code,
                        discount: d,
                        credits,
                    });
                }
                Err(e) => {
                    first_failure.get_or_insert(i);
                    verdicts.push(Verdict::Inapplicable(e));
                    snapshots.push(None);
                }
            }
        }

        if mode == ApplicationMode::All && first_failure.is_some() {
            // The whole request fails: the coupons checked before the failure
            // stay APPLICABLE in the answer, but nothing applies or is locked.
            applicable = 0;
            discount_so_far = 0;
        }

        let outs = verdicts
            .iter()
            .zip(snapshots)
            .zip(&req.redeemables)
            .map(|((verdict, snapshot), r)| self.redeemable_out(r, verdict, snapshot, req.expand_redeemable, now))
            .collect();
        Evaluation {
            order: OrderOut::calculated(&req.order, discount_so_far, discount_so_far, customer_id),
            any_inapplicable: first_failure.is_some(),
            verdicts,
            outs,
            applicable,
        }
    }

    fn redeemable_out(
        &self,
        r: &RedeemableRef,
        verdict: &Verdict,
        order: Option<OrderOut>,
        expand: bool,
        now: Millis,
    ) -> RedeemableOut {
        let voucher = self.voucher(&r.id);
        let object = match r.object {
            RedeemableObject::Voucher => "voucher",
            _ => "promotion_tier",
        };
        let (status, result) = match verdict {
            Verdict::Applicable { credits, .. } => {
                let v = voucher.expect("an applicable voucher exists");
                let result = match v.kind {
                    VoucherKind::GiftVoucher => RedeemableResult {
                        gift: Some(GiftResult {
                            balance: v.gift.map(|g| g.1).unwrap_or(0),
                            credits: *credits,
                            locked_credits: v.locked_credits_excluding(None, now),
                        }),
                        ..Default::default()
                    },
                    _ => RedeemableResult {
                        discount: v.discount.clone(),
                        ..Default::default()
                    },
                };
                (Status::Applicable, result)
            }
            Verdict::Inapplicable(e) => (
                Status::Inapplicable,
                RedeemableResult {
                    details: Some(Details {
                        key: e.key.clone(),
                        message: e.message.clone(),
                    }),
                    error: Some(e.clone()),
                    ..Default::default()
                },
            ),
            Verdict::Skipped(key, message) => (
                Status::Skipped,
                RedeemableResult {
                    details: Some(Details {
                        key: (*key).to_owned(),
                        message: (*message).to_owned(),
                    }),
                    ..Default::default()
                },
            ),
        };
        let applicable = status == Status::Applicable;
        RedeemableOut {
            status,
            id: r.id.clone(),
            object,
            order,
            applicable_to: applicable.then_some(EMPTY_LIST),
            inapplicable_to: applicable.then_some(EMPTY_LIST),
            result,
            metadata: Value::Object(voucher.map(|v| v.metadata.clone()).unwrap_or_default()),
            campaign_name: voucher.filter(|_| expand).and_then(|v| v.campaign.clone()),
            campaign_id: voucher.filter(|_| expand).and_then(|v| v.campaign_id.clone()),
        }
    }

    /// Takes a lock (or re-takes it, for the same key) on every applicable
    /// voucher of an evaluation.
    fn lock_applicable(
        &mut self,
        ev: &Evaluation,
        session: &SessionIn,
        key: &str,
        customer: Option<&str>,
        now: Millis,
    ) {
        let expires_at = now + session.ttl_unit.millis(session.ttl);
        for verdict in &ev.verdicts {
            if let Verdict::Applicable { code, credits, .. } = verdict
                && let Some(v) = self.vouchers.get_mut(code)
            {
                v.locks.insert(
                    key.to_owned(),
                    Lock {
                        expires_at,
                        credits: *credits,
                        customer: customer.map(str::to_owned),
                        ttl: session.ttl,
                        ttl_unit: session.ttl_unit,
                    },
                );
                self.locks_since_sweep += 1;
            }
        }
        if self.locks_since_sweep >= SWEEP_EVERY {
            self.locks_since_sweep = 0;
            for v in self.vouchers.values_mut() {
                v.locks.retain(|_, l| l.expires_at > now);
            }
        }
    }

    /// `POST /v1/validations`.
    pub fn validate(&mut self, req: &StackableRequest, now: Millis) -> ValidationResponse {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.clone());
        if let Some(c) = &customer {
            self.customer_id(c);
        }
        let session_key = req
            .session
            .as_ref()
            .map(|s| s.key.clone().unwrap_or_else(|| ids::prefixed("ssn_", 32)));
        let ev = self.evaluate(req, session_key.as_deref(), now);
        let mode = self.settings.redeemables_application_mode;
        let valid = match mode {
            ApplicationMode::All => !ev.any_inapplicable && ev.applicable > 0,
            ApplicationMode::Partial => ev.applicable > 0,
        };
        if let (Some(session), Some(key)) = (&req.session, &session_key)
            && valid
        {
            self.lock_applicable(&ev, session, key, customer.as_deref(), now);
        }
        let inapplicable: Vec<RedeemableOut> = ev
            .outs
            .iter()
            .filter(|o| o.status == Status::Inapplicable)
            .cloned()
            .collect();
        let skipped = ev
            .outs
            .iter()
            .filter(|o| o.status == Status::Skipped)
            .cloned()
            .collect();
        // PARTIAL mode lists only what applies; the rest have their own lists.
        let redeemables = if mode == ApplicationMode::Partial && valid {
            ev.outs.into_iter().filter(|o| o.status == Status::Applicable).collect()
        } else {
            ev.outs
        };
        ValidationResponse {
            id: ids::prefixed_hex("valid_", 18),
            valid,
            redeemables,
            inapplicable_redeemables: inapplicable,
            skipped_redeemables: skipped,
            order: ev.order,
            tracking_id: tracking_id(customer.as_deref()),
            session: req.session.as_ref().zip(session_key).map(|(s, key)| SessionOut {
                key,
                kind: "LOCK",
                ttl: s.ttl,
                ttl_unit: s.ttl_unit,
            }),
            stacking_rules: StackingRules::from(&self.settings),
        }
    }

    /// `POST /v1/redemptions`: consumes the session's locks and records the
    /// redemptions; a failure is a 400 with the first failing reason.
    pub fn redeem(&mut self, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.clone());
        let customer_id = customer.as_deref().map(|c| self.customer_id(c));
        let session_key = req.session.as_ref().and_then(|s| s.key.clone());
        let ev = self.evaluate(req, session_key.as_deref(), now);
        let mode = self.settings.redeemables_application_mode;
        let failed = ev.applicable == 0 || (mode == ApplicationMode::All && ev.any_inapplicable);
        if failed {
            let mut e = ev
                .verdicts
                .iter()
                .find_map(|v| match v {
                    Verdict::Inapplicable(e) => Some(e.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| ApiError::new(400, "no_applicable_redeemables", "No applicable redeemables", None));
            e.resource_id = Some(ids::prefixed_hex("rf_", 18));
            e.resource_type = Some("redemption".into());
            return Err(e);
        }

        let tracking = tracking_id(customer.as_deref());
        let order_id = self.upsert_order(&req.order, customer_id.as_deref(), ev.order.discount_amount, now);
        let applied: Vec<(String, i64, i64)> = ev
            .verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Applicable {
                    code,
                    discount,
                    credits,
                } => Some((code.clone(), *discount, *credits)),
                _ => None,
            })
            .collect();
        let parent_id = (applied.len() > 1).then(|| ids::prefixed_hex("r_", 18));
        let mut children = Vec::with_capacity(applied.len());
        for (code, discount, credits) in &applied {
            let id = ids::prefixed_hex("r_", 18);
            if let Some(v) = self.vouchers.get_mut(code) {
                v.redeemed_quantity += 1;
                v.updated_at = Some(now);
                if let Some(key) = &session_key {
                    v.locks.remove(key);
                }
                if let Some(g) = v.gift.as_mut() {
                    g.1 -= credits;
                    v.redeemed_amount += credits;
                }
            }
            if let Some(c) = &customer {
                *self.per_customer.entry((code.clone(), c.clone())).or_default() += 1;
            }
            self.redemptions.insert(
                id.clone(),
                Redemption {
                    id: id.clone(),
                    date: now,
                    parent: parent_id.clone(),
                    children: Vec::new(),
                    voucher_code: Some(code.clone()),
                    customer_source_id: customer.clone(),
                    customer_id: customer_id.clone(),
                    tracking_id: tracking.clone(),
                    order_id: order_id.clone(),
                    session_key: session_key.clone(),
                    credits: *credits,
                    applied_discount: *discount,
                    metadata: req.metadata.clone().unwrap_or(Value::Null),
                    rollback_id: None,
                },
            );
            children.push(id);
        }
        if let Some(pid) = &parent_id {
            self.redemptions.insert(
                pid.clone(),
                Redemption {
                    id: pid.clone(),
                    date: now,
                    parent: None,
                    children: children.clone(),
                    voucher_code: None,
                    customer_source_id: customer.clone(),
                    customer_id: customer_id.clone(),
                    tracking_id: tracking.clone(),
                    order_id: order_id.clone(),
                    session_key: session_key.clone(),
                    credits: 0,
                    applied_discount: ev.order.applied_discount_amount,
                    metadata: req.metadata.clone().unwrap_or(Value::Null),
                    rollback_id: None,
                },
            );
        }
        let top = parent_id.clone().unwrap_or_else(|| children[0].clone());
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.redemptions.push(top);
        }
        let order = self.order_json(&order_id);
        let mut out = json!({
            "redemptions": children.iter().map(|id| self.redemption_json(id, false)).collect::<Vec<_>>(),
            "order": order,
            "inapplicable_redeemables": ev.outs.iter().filter(|o| o.status == Status::Inapplicable).collect::<Vec<_>>(),
            "skipped_redeemables": ev.outs.iter().filter(|o| o.status == Status::Skipped).collect::<Vec<_>>(),
        });
        if let Some(pid) = &parent_id {
            out["parent_redemption"] = self.redemption_json(pid, false);
        }
        Ok(out)
    }

    fn upsert_order(&mut self, o: &OrderIn, customer_id: Option<&str>, discount: i64, now: Millis) -> String {
        let existing =
            o.id.as_ref()
                .filter(|id| self.orders.contains_key(*id))
                .cloned()
                .or_else(|| {
                    o.source_id
                        .as_ref()
                        .and_then(|s| self.order_ids_by_source.get(s))
                        .cloned()
                });
        match existing {
            Some(id) => {
                if let Some(order) = self.orders.get_mut(&id) {
                    order.amount = o.amount();
                    order.discount_amount = discount;
                    order.status = o.status.clone().unwrap_or_else(|| "PAID".into());
                    order.updated_at = Some(now);
                }
                id
            }
            None => {
                let id = ids::prefixed_hex("ord_", 18);
                if let Some(s) = &o.source_id {
                    self.order_ids_by_source.insert(s.clone(), id.clone());
                }
                self.orders.insert(
                    id.clone(),
                    Order {
                        id: id.clone(),
                        source_id: o.source_id.clone(),
                        status: o.status.clone().unwrap_or_else(|| "PAID".into()),
                        amount: o.amount(),
                        discount_amount: discount,
                        customer_id: customer_id.map(str::to_owned),
                        created_at: now,
                        updated_at: None,
                        metadata: object_or_empty(o.metadata.as_ref()),
                        redemptions: Vec::new(),
                    },
                );
                id
            }
        }
    }

    /// An order by Voucherify id or by the merchant's `source_id`.
    pub fn find_order(&self, id_or_source: &str) -> Option<&Order> {
        self.orders.get(id_or_source).or_else(|| {
            self.order_ids_by_source
                .get(id_or_source)
                .and_then(|id| self.orders.get(id))
        })
    }

    pub fn order_json(&self, id: &str) -> Value {
        let Some(o) = self.orders.get(id) else {
            return Value::Null;
        };
        let mut redemptions = Map::new();
        for rid in &o.redemptions {
            let Some(r) = self.redemptions.get(rid) else {
                continue;
            };
            let mut entry = json!({"date": iso(r.date)});
            if r.children.is_empty() {
                let v = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
                entry["related_object_type"] = "voucher".into();
                entry["related_object_id"] = v.map(|v| v.id.clone()).into();
                if let Some(campaign) = v.and_then(|v| v.campaign_id.clone()) {
                    entry["related_object_parent_id"] = campaign.into();
                }
            } else {
                entry["related_object_type"] = "redemption".into();
                entry["related_object_id"] = rid.clone().into();
                entry["stacked"] = r.children.clone().into();
            }
            if let Some(rb) = &r.rollback_id {
                entry["rollback_id"] = rb.clone().into();
            }
            redemptions.insert(rid.clone(), entry);
        }
        let mut out = json!({
            "id": o.id,
            "source_id": o.source_id,
            "created_at": iso(o.created_at),
            "updated_at": o.updated_at.map(iso),
            "status": o.status,
            "amount": o.amount,
            "discount_amount": o.discount_amount,
            "total_discount_amount": o.discount_amount,
            "total_amount": o.amount - o.discount_amount,
            "applied_discount_amount": o.discount_amount,
            "total_applied_discount_amount": o.discount_amount,
            "metadata": o.metadata,
            "customer_id": o.customer_id,
            "referrer_id": null,
            "object": "order",
            "redemptions": redemptions,
        });
        prune_nulls(&mut out);
        out
    }

    pub fn redemption_json(&self, id: &str, with_rollbacks: bool) -> Value {
        let Some(r) = self.redemptions.get(id) else {
            return Value::Null;
        };
        let voucher = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
        let (related_type, related_id) = match voucher {
            Some(v) => ("voucher", v.id.clone()),
            None => ("redemption", r.id.clone()),
        };
        let mut out = json!({
            "id": r.id,
            "object": "redemption",
            "date": iso(r.date),
            "customer_id": r.customer_id,
            "tracking_id": r.tracking_id,
            "metadata": object_or_empty(Some(&r.metadata)),
            "redemption": r.parent,
            "result": "SUCCESS",
            "status": if r.rollback_id.is_some() { "ROLLED_BACK" } else { "SUCCEEDED" },
            "order": self.order_json(&r.order_id),
            "channel": {"channel_id": "user_simulator", "channel_type": "API"},
            "customer": self.customer_json(r.customer_source_id.as_deref()),
            "related_object_type": related_type,
            "related_object_id": related_id,
        });
        if let Some(k) = &r.session_key {
            out["session"] = json!({"key": k});
        }
        if r.credits > 0 {
            out["amount"] = r.credits.into();
            out["gift"] = json!({"amount": r.credits});
        }
        if let Some(v) = voucher {
            out["voucher"] = voucher_json(v, &self.rules);
        }
        if with_rollbacks && let Some(rb) = &r.rollback_id {
            out["related_redemptions"] = json!({"rollbacks": [{"id": rb, "date": iso(r.date)}], "redemptions": []});
        }
        out
    }

    /// `POST /v1/redemptions/{id}/rollback` (single) and `/rollbacks`
    /// (a parent and all its children).
    pub fn rollback(
        &mut self,
        id: &str,
        reason: Option<String>,
        stacked: bool,
        now: Millis,
    ) -> Result<Value, ApiError> {
        let r = self
            .redemptions
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("redemption", id))?;
        if r.rollback_id.is_some() {
            let mut e = ApiError::new(
                400,
                "already_rolled_back",
                "Already rolled back",
                Some("Redemption has been already rolled back.".into()),
            );
            e.resource_id = Some(ids::prefixed_hex("rrf_", 18));
            e.resource_type = Some("redemption_rollback".into());
            return Err(e);
        }
        if !stacked && r.parent.is_some() {
            return Err(ApiError::new(
                400,
                "invalid_redemption_parent",
                "Invalid redemption parent",
                Some("You can rollback only a redemption that does not have parent redemption.".into()),
            ));
        }
        if !stacked && !r.children.is_empty() {
            return Err(ApiError::new(
                400,
                "invalid_redemption",
                "Invalid redemption",
                Some(
                    "You can rollback only a single redemption. Use different endpoint for stacked redemption.".into(),
                ),
            ));
        }
        if stacked && r.parent.is_some() {
            return Err(ApiError::new(
                400,
                "invalid_redemption_parent",
                "Invalid redemption parent",
                Some("You can rollback only a parent redemption.".into()),
            ));
        }
        let targets = if r.children.is_empty() {
            vec![r.id.clone()]
        } else {
            r.children.clone()
        };
        let mut rollbacks = Vec::new();
        for child_id in &targets {
            let rb_id = ids::prefixed_hex("rr_", 18);
            let Some(child) = self.redemptions.get_mut(child_id) else {
                continue;
            };
            child.rollback_id = Some(rb_id.clone());
            let child = child.clone();
            if let Some(code) = &child.voucher_code
                && let Some(v) = self.vouchers.get_mut(code)
            {
                v.redeemed_quantity = (v.redeemed_quantity - 1).max(0);
                if let Some(g) = v.gift.as_mut() {
                    g.1 += child.credits;
                    v.redeemed_amount -= child.credits;
                }
                if let Some(c) = &child.customer_source_id
                    && let Some(n) = self.per_customer.get_mut(&(code.clone(), c.clone()))
                {
                    *n = (*n - 1).max(0);
                }
            }
            rollbacks.push(self.rollback_json(&rb_id, &child, reason.as_deref(), now));
        }
        if !r.children.is_empty()
            && let Some(parent) = self.redemptions.get_mut(&r.id)
        {
            parent.rollback_id = Some(ids::prefixed_hex("rr_", 18));
        }
        if let Some(o) = self.orders.get_mut(&r.order_id) {
            o.status = "CANCELED".into();
            o.updated_at = Some(now);
        }
        if stacked {
            let parent_rb = match r.children.is_empty() {
                true => rollbacks[0].clone(),
                false => self.rollback_json(
                    self.redemptions[&r.id].rollback_id.clone().unwrap_or_default().as_str(),
                    &self.redemptions[&r.id].clone(),
                    reason.as_deref(),
                    now,
                ),
            };
            Ok(json!({
                "rollbacks": rollbacks,
                "parent_rollback": parent_rb,
                "order": self.order_json(&r.order_id),
            }))
        } else {
            Ok(rollbacks.into_iter().next().unwrap_or(Value::Null))
        }
    }

    fn rollback_json(&self, rb_id: &str, r: &Redemption, reason: Option<&str>, now: Millis) -> Value {
        let voucher = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
        let mut out = json!({
            "id": rb_id,
            "object": "redemption_rollback",
            "date": iso(now),
            "customer_id": r.customer_id,
            "tracking_id": r.tracking_id,
            "metadata": object_or_empty(Some(&r.metadata)),
            "redemption": r.id,
            "result": "SUCCESS",
            "status": "SUCCEEDED",
            "order": self.order_json(&r.order_id),
            "channel": {"channel_id": "user_simulator", "channel_type": "API"},
            "customer": self.customer_json(r.customer_source_id.as_deref()),
            "related_object_type": if voucher.is_some() { "voucher" } else { "redemption" },
            "related_object_id": voucher.map(|v| v.id.clone()).unwrap_or_else(|| r.id.clone()),
        });
        if let Some(reason) = reason {
            out["reason"] = reason.into();
        }
        if r.credits > 0 {
            out["amount"] = (-r.credits).into();
        }
        if let Some(v) = voucher {
            out["voucher"] = voucher_json(v, &self.rules);
        }
        out
    }

    /// `POST /v1/vouchers/{code}/validate` (legacy): one voucher, same rules.
    pub fn validate_legacy(&mut self, code: &str, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        let Some(v) = self.voucher(code) else {
            return Err(ApiError::not_found("voucher", code));
        };
        let voucher_code = v.code.clone();
        let res = self.validate(req, now);
        let customer = req.customer.as_ref().and_then(|c| c.source_id.as_deref());
        let v = &self.vouchers[&voucher_code];
        let r = &res.redeemables[0];
        if r.status == Status::Applicable {
            let mut out = json!({
                "valid": true,
                "code": v.code,
                "applicable_to": EMPTY_LIST,
                "inapplicable_to": EMPTY_LIST,
                "order": res.order,
                "tracking_id": res.tracking_id,
                "metadata": v.metadata,
                "start_date": v.start_date.map(iso),
                "expiration_date": v.expiration_date.map(iso),
                "campaign": v.campaign,
                "campaign_id": v.campaign_id,
            });
            if let Some(d) = &r.result.discount {
                out["discount"] = json!(d);
            }
            if let Some(g) = &r.result.gift {
                out["gift"] = json!({"amount": g.credits, "balance": g.balance, "effect": "APPLY_TO_ORDER"});
            }
            if let Some(s) = &res.session {
                out["session"] = json!(s);
            }
            Ok(out)
        } else {
            let e = r
                .result
                .error
                .clone()
                .unwrap_or_else(|| ApiError::new(400, "invalid_voucher", "invalid voucher", None));
            Ok(json!({
                "valid": false,
                "reason": e.message,
                "error": e,
                "tracking_id": tracking_id(customer),
                "code": v.code,
                "metadata": v.metadata,
            }))
        }
    }

    /// `POST /v1/vouchers/{code}/redemption` (legacy): one redemption object.
    pub fn redeem_legacy(&mut self, code: &str, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        if self.voucher(code).is_none() {
            return Err(ApiError::not_found("voucher", code));
        }
        let out = self.redeem(req, now)?;
        Ok(out["redemptions"][0].clone())
    }

    /// `DELETE /v1/vouchers/{code}/sessions/{key}`.
    pub fn release_session(&mut self, code: &str, key: &str, now: Millis) -> Result<(), ApiError> {
        let code = self
            .voucher_code(code)
            .ok_or_else(|| ApiError::not_found("voucher", code))?;
        let v = self.vouchers.get_mut(&code).expect("found above");
        match v.locks.remove(key) {
            Some(l) if l.expires_at > now => Ok(()),
            _ => Err(ApiError::not_found("session", key)),
        }
    }

    /// Live session locks, for `GET /_sim/sessions`.
    pub fn live_sessions(&self, now: Millis) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .vouchers
            .values()
            .flat_map(|v| {
                v.live_locks(now).map(move |(key, l)| {
                    json!({
                        "key": key,
                        "voucher": v.code,
                        "customer": l.customer,
                        "expires_at": iso(l.expires_at),
                        "ttl": compact(l.ttl),
                        "ttl_unit": l.ttl_unit,
                        "credits": l.credits,
                    })
                })
            })
            .collect();
        out.sort_by(|a, b| (a["key"].as_str(), a["voucher"].as_str()).cmp(&(b["key"].as_str(), b["voucher"].as_str())));
        out
    }
}

/// The discount one voucher gives on `remaining`, what is left to pay of
/// `order` before it.
fn discount_amount(d: &Discount, order: &OrderIn, remaining: i64) -> i64 {
    let total = remaining.max(0);
    let raw = match d.kind {
        DiscountKind::Amount => d.amount_off.unwrap_or(0),
        DiscountKind::Percent => {
            let pct = (total as f64 * d.percent_off.unwrap_or(0.0) / 100.0).round() as i64;
            d.amount_limit.map_or(pct, |cap| pct.min(cap))
        }
        DiscountKind::Fixed => (total - d.fixed_amount.unwrap_or(0)).max(0),
        DiscountKind::Unit => {
            let price = d.unit_type.as_deref().and_then(|u| order.unit_price(u)).unwrap_or(0);
            price * d.unit_off.unwrap_or(1)
        }
    };
    raw.clamp(0, total)
}

// ---------------------------------------------------------------------------
// Voucher JSON
// ---------------------------------------------------------------------------

/// Removes null members. Voucherify's examples show `"campaign": null`,
/// but its schema declares those fields non-nullable; absent satisfies both
/// the schema and every client that treats missing as null.
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// The voucher as `GET /v1/vouchers/{code}` returns it. An unlimited
/// voucher has no `redemption.quantity` (Voucherify writes `null`, its
/// schema allows only an integer).
pub fn voucher_json(v: &Voucher, rules: &HashMap<String, Rule>) -> Value {
    let assignments: Vec<&Assignment> = v
        .assignments
        .iter()
        .filter(|a| rules.contains_key(&a.rule_id))
        .collect();
    let mut out = json!({
        "id": v.id,
        "code": v.code,
        "campaign": v.campaign,
        "campaign_id": v.campaign_id,
        "category": v.category,
        "category_id": null,
        "type": v.kind,
        "discount": v.discount,
        "gift": v.gift.map(|(amount, balance)| json!({"amount": amount, "balance": balance, "effect": "APPLY_TO_ORDER"})),
        "loyalty_card": null,
        "start_date": v.start_date.map(iso),
        "expiration_date": v.expiration_date.map(iso),
        "validity_timeframe": null,
        "validity_day_of_week": null,
        "active": v.active,
        "additional_info": v.additional_info,
        "metadata": v.metadata,
        "is_referral_code": false,
        "created_at": iso(v.created_at),
        "updated_at": v.updated_at.map(iso),
        "validation_rules_assignments": {
            "object": "list",
            "data_ref": "data",
            "data": assignments,
            "total": assignments.len(),
        },
        "redemption": {
            "quantity": v.quantity,
            "redeemed_quantity": v.redeemed_quantity,
            "redeemed_amount": if v.kind == VoucherKind::GiftVoucher { Some(v.redeemed_amount) } else { None },
            "object": "list",
            "url": format!("/v1/vouchers/{}/redemptions?page=1&limit=10", v.code),
        },
        "publish": {
            "object": "list",
            "count": 0,
            "url": format!("/v1/vouchers/{}/publications?page=1&limit=10", v.code),
        },
        "object": "voucher",
    });
    prune_nulls(&mut out);
    out
}

/// A timestamp field of a voucher body: ISO text, `null`, or absent.
pub fn parse_date_field(v: Option<&Value>, name: &str) -> Result<Option<Millis>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_iso(s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_payload(format!("Property .{name} should match format \"date-time\""))),
        Some(_) => Err(ApiError::invalid_payload(format!("Property .{name} should be string"))),
    }
}
