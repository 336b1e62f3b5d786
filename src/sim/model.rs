//! What the simulator stores, and how it looks on Voucherify's wire.
//!
//! The rule model is deliberately small but real: start and expiration
//! dates, the active flag, the redemption quantity (live session locks count
//! against it, as Voucherify's locking guide says), and validation rules of
//! two kinds, `order.amount` (minimum order) and
//! `redemption.count.per_customer` (per-customer limit), created through
//! `POST /v1/validation-rules` and attached by id, as in Voucherify.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::{Millis, iso};

/// Voucherify's free-shipping pseudo product, the `unit_type` of a
/// free-shipping UNIT discount.
pub const FREE_SHIPPING_UNIT: &str = "prod_5h1pp1ng";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VoucherKind {
    DiscountVoucher,
    GiftVoucher,
    LoyaltyCard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DiscountKind {
    Amount,
    Percent,
    Fixed,
    Unit,
}

/// Voucherify's `Discount` object. Money fields are minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    #[serde(rename = "type")]
    pub kind: DiscountKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "compact_opt_number"
    )]
    pub percent_off: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_off: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// `7.0` as `7`: whole numbers are written as integers, as Voucherify does.
pub fn compact(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

pub fn compact_number<S: serde::Serializer>(n: &f64, s: S) -> Result<S::Ok, S::Error> {
    compact(*n).serialize(s)
}

fn compact_opt_number<S: serde::Serializer>(n: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    n.map(compact).serialize(s)
}

impl Discount {
    pub fn is_free_shipping(&self) -> bool {
        self.kind == DiscountKind::Unit && self.unit_type.as_deref() == Some(FREE_SHIPPING_UNIT)
    }
}

/// A live reservation of one use of a voucher by one session.
#[derive(Debug, Clone)]
pub struct Lock {
    pub expires_at: Millis,
    pub credits: i64,
    pub customer: Option<String>,
    pub ttl: f64,
    pub ttl_unit: TtlUnit,
}

#[derive(Debug, Clone)]
pub struct Voucher {
    pub id: String,
    pub code: String,
    pub kind: VoucherKind,
    pub discount: Option<Discount>,
    /// Gift card: initial amount and current balance (minor units).
    pub gift: Option<(i64, i64)>,
    pub campaign: Option<String>,
    pub campaign_id: Option<String>,
    pub category: Option<String>,
    pub start_date: Option<Millis>,
    pub expiration_date: Option<Millis>,
    pub active: bool,
    /// Redemption limit; `None` is unlimited.
    pub quantity: Option<i64>,
    pub redeemed_quantity: i64,
    pub redeemed_amount: i64,
    pub metadata: Map<String, Value>,
    pub additional_info: Option<String>,
    pub assignments: Vec<Assignment>,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
    /// The customer (`cust_…`) the code was published to.
    pub holder_id: Option<String>,
    /// Times the code was published.
    pub publish_count: i64,
    /// A loyalty card's points.
    pub loyalty: Option<LoyaltyCard>,
    /// Insertion order, the tie-break of every listing.
    pub seq: u64,
    /// Live and not yet swept session locks, by session key. A B-tree, not
    /// a hash map: a popular voucher holds millions of locks under load, and
    /// rehashing them would stall every request behind the project's mutex.
    pub locks: BTreeMap<String, Lock>,
}

impl Voucher {
    pub fn live_locks(&self, now: Millis) -> impl Iterator<Item = (&String, &Lock)> {
        self.locks.iter().filter(move |(_, l)| l.expires_at > now)
    }

    pub fn live_lock(&self, key: &str, now: Millis) -> Option<&Lock> {
        self.locks.get(key).filter(|l| l.expires_at > now)
    }

    /// Gift credits held by sessions other than `session`.
    pub fn locked_credits_excluding(&self, session: Option<&str>, now: Millis) -> i64 {
        self.live_locks(now)
            .filter(|(k, _)| Some(k.as_str()) != session)
            .map(|(_, l)| l.credits)
            .sum()
    }

    /// Uses taken by redemptions plus live locks of other sessions.
    pub fn uses_excluding(&self, session: Option<&str>, now: Millis) -> i64 {
        self.redeemed_quantity
            + self
                .live_locks(now)
                .filter(|(k, _)| Some(k.as_str()) != session)
                .count() as i64
    }
}

/// A loyalty card's points, as Voucherify counts them: `balance` =
/// `points` - `subtracted_points` - `redeemed_points`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoyaltyCard {
    /// Every point ever added.
    pub points: i64,
    pub balance: i64,
    pub subtracted_points: i64,
    pub redeemed_points: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assignment {
    pub id: String,
    pub rule_id: String,
    pub related_object_id: String,
    pub related_object_type: &'static str,
    pub created_at: String,
    pub object: &'static str,
}

/// One condition of a validation rule, e.g. `order.amount >= 10000`.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleCheck {
    OrderAmount(Comparison, i64),
    /// Redemptions by one customer, counting the one being made.
    PerCustomer(Comparison, i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    MoreThan,
    MoreThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Is,
}

impl Comparison {
    pub fn from_key(k: &str) -> Option<Self> {
        Some(match k {
            "$more_than" => Comparison::MoreThan,
            "$more_than_or_equal" => Comparison::MoreThanOrEqual,
            "$less_than" => Comparison::LessThan,
            "$less_than_or_equal" => Comparison::LessThanOrEqual,
            "$is" => Comparison::Is,
            _ => return None,
        })
    }

    pub fn holds(self, actual: i64, bound: i64) -> bool {
        match self {
            Comparison::MoreThan => actual > bound,
            Comparison::MoreThanOrEqual => actual >= bound,
            Comparison::LessThan => actual < bound,
            Comparison::LessThanOrEqual => actual <= bound,
            Comparison::Is => actual == bound,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub name: Option<String>,
    /// As the client sent it, returned unchanged by `GET`.
    pub rules_json: Value,
    pub error_message: Option<String>,
    pub checks: Vec<RuleCheck>,
    /// `type` and `context_type` as the client sent them (or Voucherify's
    /// defaults); they describe the rule and change nothing simulated.
    pub kind: String,
    pub context_type: String,
    pub created_at: Millis,
}

impl Rule {
    /// Parses Voucherify's numbered-rule object. Only conjunctions of the
    /// two supported rule names are simulated; anything else is refused
    /// loudly rather than silently ignored.
    pub fn parse_checks(rules: &Value) -> Result<Vec<RuleCheck>, String> {
        let obj = rules.as_object().ok_or("Property .rules should be an object")?;
        let mut checks = Vec::new();
        for (key, rule) in obj {
            if key == "logic" {
                let logic = rule.as_str().unwrap_or_default().to_ascii_lowercase();
                if logic.split_whitespace().any(|w| w == "or" || w == "not") {
                    return Err("the simulator supports only 'and' logic between rules".into());
                }
                continue;
            }
            let name = rule.get("name").and_then(Value::as_str).unwrap_or_default();
            let conditions = rule
                .get("conditions")
                .and_then(Value::as_object)
                .ok_or_else(|| format!("Property .rules.{key} should have required property 'conditions'"))?;
            for (op, values) in conditions {
                let cmp =
                    Comparison::from_key(op).ok_or_else(|| format!("unsupported condition {op} in rule {key}"))?;
                let bound = values
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_f64)
                    .ok_or_else(|| format!("condition {op} in rule {key} needs a number"))?
                    as i64;
                checks.push(match name {
                    "order.amount" => RuleCheck::OrderAmount(cmp, bound),
                    "redemption.count.per_customer" => RuleCheck::PerCustomer(cmp, bound),
                    other => {
                        return Err(format!(
                            "rule name '{other}' is not simulated (supported: order.amount, redemption.count.per_customer)"
                        ));
                    }
                });
            }
        }
        Ok(checks)
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "rules": self.rules_json,
            "error": self.error_message.as_ref().map(|m| serde_json::json!({"message": m})),
            "applicable_to": {"excluded": [], "included": [], "included_all": false},
            "created_at": iso(self.created_at),
            "type": self.kind,
            "context_type": self.context_type,
            "object": "validation_rules",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TtlUnit {
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl TtlUnit {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    /// The length of `ttl` units in milliseconds, rounded down: a session of
    /// one nanosecond is gone by the next request, as on Voucherify.
    pub fn millis(self, ttl: f64) -> i64 {
        let per_unit = match self {
            TtlUnit::Days => 86_400_000.0,
            TtlUnit::Hours => 3_600_000.0,
            TtlUnit::Minutes => 60_000.0,
            TtlUnit::Seconds => 1_000.0,
            TtlUnit::Milliseconds => 1.0,
            TtlUnit::Microseconds => 0.001,
            TtlUnit::Nanoseconds => 0.000_001,
        };
        (ttl * per_unit).floor() as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ApplicationMode {
    All,
    Partial,
}

/// A simulated Voucherify project's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectSettings {
    pub redeemables_application_mode: ApplicationMode,
    pub redeemables_limit: usize,
    pub applicable_redeemables_limit: usize,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings {
            redeemables_application_mode: ApplicationMode::All,
            redeemables_limit: 30,
            applicable_redeemables_limit: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StackingRules {
    pub redeemables_limit: usize,
    pub applicable_redeemables_limit: usize,
    pub applicable_redeemables_per_category_limit: usize,
    pub applicable_exclusive_redeemables_limit: usize,
    pub applicable_exclusive_redeemables_per_category_limit: usize,
    pub exclusive_categories: [String; 0],
    pub joint_categories: [String; 0],
    pub redeemables_application_mode: ApplicationMode,
    pub redeemables_sorting_rule: &'static str,
    pub redeemables_products_application_mode: &'static str,
    pub redeemables_no_effect_rule: &'static str,
    pub no_effect_skip_categories: [String; 0],
    pub no_effect_redeem_anyway_categories: [String; 0],
    pub redeemables_rollback_order_mode: &'static str,
}

impl From<&ProjectSettings> for StackingRules {
    fn from(s: &ProjectSettings) -> Self {
        StackingRules {
            redeemables_limit: s.redeemables_limit,
            applicable_redeemables_limit: s.applicable_redeemables_limit,
            applicable_redeemables_per_category_limit: 1,
            applicable_exclusive_redeemables_limit: 1,
            applicable_exclusive_redeemables_per_category_limit: 1,
            exclusive_categories: [],
            joint_categories: [],
            redeemables_application_mode: s.redeemables_application_mode,
            redeemables_sorting_rule: "REQUESTED_ORDER",
            redeemables_products_application_mode: "STACK",
            redeemables_no_effect_rule: "REDEEM_ANYWAY",
            no_effect_skip_categories: [],
            no_effect_redeem_anyway_categories: [],
            redeemables_rollback_order_mode: "WITH_ORDER",
        }
    }
}

/// A registered redemption (`r_…`), child or parent.
#[derive(Debug, Clone)]
pub struct Redemption {
    pub id: String,
    pub date: Millis,
    pub parent: Option<String>,
    pub children: Vec<String>,
    /// `None` for a parent redemption.
    pub voucher_code: Option<String>,
    pub customer_source_id: Option<String>,
    pub customer_id: Option<String>,
    pub tracking_id: String,
    pub order_id: String,
    pub session_key: Option<String>,
    pub credits: i64,
    pub applied_discount: i64,
    pub metadata: Value,
    pub rollback_id: Option<String>,
    pub rollback_date: Option<Millis>,
    /// Loyalty points a reward redemption took from the card.
    pub points: i64,
    pub reward: Option<RewardRedeemed>,
    /// The promotion tier redeemed, when it is not a voucher.
    pub promotion_tier: Option<String>,
}

/// An order as Voucherify keeps it: the amounts and the redemptions made on it.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub source_id: Option<String>,
    pub status: String,
    pub amount: i64,
    pub discount_amount: i64,
    pub customer_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
    pub metadata: Value,
    /// Redemption ids keyed on the order, in insertion order.
    pub redemptions: Vec<String>,
}

/// A simulated customer, created on first sight of a `source_id`.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub source_id: String,
}

/// What a loyalty reward redemption took and gave, kept on its redemption.
#[derive(Debug, Clone)]
pub struct RewardRedeemed {
    pub reward_id: String,
    pub assignment_id: String,
    pub points: i64,
    /// The code published to the card's holder, for a CAMPAIGN reward.
    pub voucher_code: Option<String>,
}
