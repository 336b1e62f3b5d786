//! From a Gameball wallet coupon to the Voucherify voucher the import
//! makes of it, and back: pure (the time is given), unit-tested field by
//! field.
//!
//! * `Percentage` → `PERCENT` (`percent_off` is Gameball's value, more than
//!   0 and at most 100); `Fixed Rate Discount` → `AMOUNT` (`amount_off` is
//!   the value in minor units by the tenant's `currency_decimals`, and a
//!   value finer than the currency is refused, never rounded); `Free
//!   Shipping` → Voucherify's free-shipping `UNIT` discount. Any other type
//!   has no Voucherify equivalent the import can make (`Free Product` names
//!   no product) and is skipped with that reason.
//! * A coupon Gameball says is expired (`isExpired`, or its `expiryDate`
//!   has passed), used up (`usedCount` has reached `usageLimit`, or
//!   `customerUsedCount` its `limitPerCustomer`), inactive (`isActive`
//!   false, which also covers one that has not started yet) or otherwise
//!   not available (`isAvailableToUse` false) is skipped: the import never
//!   makes a coupon usable that Gameball would refuse.
//! * Uses left is `usageLimit - usedCount` as `redemption.quantity`, and
//!   no limit is unlimited. A coupon in one customer's wallet is used by
//!   that customer alone, so a `limitPerCustomer` bounds it too.
//! * Dates are written as instants (`2026-12-31T00:00:00.000Z`); Gameball's
//!   without an offset are UTC.
//! * Metadata names the origin: `{"source": "gameball-import",
//!   "gameball_customer_id": …, "gameball_type": …}`.
//!
//! The body is `translate::voucher_request`'s, so a coupon imported and a
//! coupon created through the SDK-era API are the same kind of voucher.

use serde::Serialize;
use serde_json::{Value, json};

use super::gameball::WalletCoupon;
use crate::clock::{Millis, iso, parse_iso};
use crate::domain::{CouponDraft, DraftDiscount};
use crate::money::DecimalNumber;
use crate::voucherify::client::VoucherDefinition;

/// `metadata.source` of every voucher the import makes.
pub const SOURCE: &str = "gameball-import";

/// Gameball's wallet types the import maps.
pub mod gameball_type {
    pub const PERCENTAGE: &str = "Percentage";
    pub const FIXED: &str = "Fixed Rate Discount";
    pub const FREE_SHIPPING: &str = "Free Shipping";
}

/// What becomes of one wallet coupon.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Create(Definition),
    Skip(Skip),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    pub why: Why,
    pub reason: String,
}

/// Why a coupon is skipped: Gameball would refuse it (so Voucherify must
/// not accept it either), or the import cannot express it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    NotUsable,
    NotMappable,
}

/// The voucher one wallet coupon becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub code: String,
    pub customer: String,
    pub gameball_type: String,
    pub discount: DraftDiscount,
    pub start_date: Option<Millis>,
    pub expiration_date: Option<Millis>,
    /// `None`: unlimited.
    pub uses_left: Option<i64>,
}

/// Which count of a held voucher is compared with the uses left: its
/// `redemption.quantity` (what it was created with: the import's check),
/// or what is left of it after its redemptions (`--verify`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uses {
    Quantity,
    Left,
}

/// One field where a voucher in Voucherify is not what the Gameball
/// coupon makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: &'static str,
    pub voucherify: String,
    pub gameball: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: Voucherify has {}, Gameball's coupon makes {}",
            self.field, self.voucherify, self.gameball
        )
    }
}

fn skip(why: Why, reason: impl Into<String>) -> Plan {
    Plan::Skip(Skip {
        why,
        reason: reason.into(),
    })
}

/// A Gameball date as Unix milliseconds; one without an offset is UTC.
fn instant(text: &str) -> Option<Millis> {
    parse_iso(text).or_else(|| parse_iso(&format!("{text}Z")))
}

/// Why Gameball would refuse this coupon now, if it would.
fn unusable(c: &WalletCoupon, now: Millis) -> Option<String> {
    if c.is_expired == Some(true) {
        return Some("expired (Gameball says isExpired)".into());
    }
    if let Some(e) = c.expiry_date.as_deref().and_then(instant).filter(|e| *e <= now) {
        return Some(format!("expired on {}", iso(e)));
    }
    let used = c.used_count.unwrap_or(0);
    if let Some(limit) = c.usage_limit.filter(|l| used >= *l) {
        return Some(format!("used up (usedCount {used} of usageLimit {limit})"));
    }
    let by_customer = c.customer_used_count.unwrap_or(0);
    if let Some(limit) = c.limit_per_customer.filter(|l| by_customer >= *l) {
        return Some(format!(
            "used up by this customer (customerUsedCount {by_customer} of limitPerCustomer {limit})"
        ));
    }
    if c.is_active == Some(false) {
        return Some("inactive (Gameball says isActive false)".into());
    }
    if c.is_available_to_use == Some(false) {
        return Some("not available to use (Gameball says isAvailableToUse false)".into());
    }
    None
}

/// The discount of a Gameball type and value, or why there is none.
fn discount(kind: &str, value: Option<DecimalNumber>, decimals: u32) -> Result<DraftDiscount, Skip> {
    let not_mappable = |reason: String| Skip {
        why: Why::NotMappable,
        reason,
    };
    let positive = |value: Option<DecimalNumber>| match value {
        Some(v) if v.0.is_sign_positive() && !v.0.is_zero() => Ok(v),
        Some(v) => Err(not_mappable(format!("a {kind} coupon of {v} gives nothing"))),
        None => Err(not_mappable(format!("a {kind} coupon without a value"))),
    };
    match kind {
        gameball_type::PERCENTAGE => {
            let v = positive(value)?;
            if v.0 > rust_decimal::Decimal::ONE_HUNDRED {
                return Err(not_mappable(format!("{v} % is more than 100 %")));
            }
            Ok(DraftDiscount::Percent {
                percent: v,
                cap_minor: None,
            })
        }
        gameball_type::FIXED => {
            let v = positive(value)?;
            if v.0.normalize().scale() > decimals {
                return Err(not_mappable(format!(
                    "{v} has more decimals than the currency's {decimals}"
                )));
            }
            let minor = v
                .to_minor(decimals)
                .map_err(|e| not_mappable(format!("{v} {e} in minor units")))?;
            Ok(DraftDiscount::Amount { minor })
        }
        gameball_type::FREE_SHIPPING => Ok(DraftDiscount::FreeShipping),
        other => Err(not_mappable(format!(
            "type \"{other}\" has no Voucherify equivalent the import can make"
        ))),
    }
}

/// What becomes of `c`, in `customer`'s wallet, at `now`, for a currency
/// with `decimals` fraction digits.
pub fn plan(c: &WalletCoupon, customer: &str, decimals: u32, now: Millis) -> Plan {
    let Some(code) = c.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
        return skip(Why::NotMappable, "no code");
    };
    if let Some(reason) = unusable(c, now) {
        return skip(Why::NotUsable, reason);
    }
    let Some(kind) = c.kind.as_deref() else {
        return skip(Why::NotMappable, "no type");
    };
    let discount = match discount(kind, c.value, decimals) {
        Ok(d) => d,
        Err(s) => return Plan::Skip(s),
    };
    let date = |field: &str, text: &Option<String>| match text {
        None => Ok(None),
        Some(t) => instant(t)
            .map(Some)
            .ok_or_else(|| format!("unreadable {field} \"{t}\"")),
    };
    let (start_date, expiration_date) = match (date("startDate", &c.start_date), date("expiryDate", &c.expiry_date)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(reason), _) | (_, Err(reason)) => return skip(Why::NotMappable, reason),
    };
    let left = c.usage_limit.map(|l| l - c.used_count.unwrap_or(0));
    let left_to_customer = c.limit_per_customer.map(|l| l - c.customer_used_count.unwrap_or(0));
    let uses_left = match (left, left_to_customer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Plan::Create(Definition {
        code: code.to_owned(),
        customer: customer.to_owned(),
        gameball_type: kind.to_owned(),
        discount,
        start_date,
        expiration_date,
        uses_left,
    })
}

impl Definition {
    pub fn metadata(&self) -> Value {
        json!({"source": SOURCE, "gameball_customer_id": self.customer, "gameball_type": self.gameball_type})
    }

    /// The body of `POST /v1/vouchers/{code}` (the code is in the path).
    pub fn body(&self) -> Value {
        let mut body = crate::translate::voucher_request(&CouponDraft {
            customer_id: self.customer.clone(),
            code: None,
            discount: self.discount.clone(),
            usage_limit: self.uses_left,
            start_date: self.start_date.map(iso),
            expiration_date: self.expiration_date.map(iso),
        });
        body["metadata"] = self.metadata();
        body
    }

    /// Where `held` is not this definition: its type, discount, dates,
    /// uses, whether it is active, and whether the import made it for this
    /// customer. Voucherify's own additions (an `effect` the import does
    /// not set, `redeemed_quantity`, other metadata) are no difference.
    pub fn differences(&self, held: &VoucherDefinition, uses: Uses) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut differ = |field: &'static str, voucherify: String, gameball: String| {
            if voucherify != gameball {
                out.push(Difference {
                    field,
                    voucherify,
                    gameball,
                });
            }
        };
        let body = self.body();
        differ(
            "type",
            shown(held.kind.as_ref().map(|k| json!(k))),
            shown(Some(body["type"].clone())),
        );
        let none = Value::Null;
        let held_discount = held.discount.as_ref().unwrap_or(&none);
        for key in [
            "type",
            "percent_off",
            "amount_off",
            "amount_limit",
            "fixed_amount",
            "unit_off",
            "unit_type",
            "effect",
        ] {
            let wanted = body["discount"].get(key);
            // An effect the import leaves to Voucherify is Voucherify's.
            if key == "effect" && wanted.is_none() {
                continue;
            }
            differ(
                discount_field(key),
                shown(held_discount.get(key).cloned()),
                shown(wanted.cloned()),
            );
        }
        let date = |d: &Option<String>| d.as_deref().map(|t| instant(t).map_or_else(|| t.to_owned(), iso));
        differ(
            "start_date",
            shown(date(&held.start_date).map(Value::from)),
            shown(self.start_date.map(|d| iso(d).into())),
        );
        differ(
            "expiration_date",
            shown(date(&held.expiration_date).map(Value::from)),
            shown(self.expiration_date.map(|d| iso(d).into())),
        );
        let quantity = held.redemption.as_ref().and_then(|r| r.quantity);
        let held_uses = match uses {
            Uses::Quantity => quantity,
            Uses::Left => quantity.map(|q| q - held.redemption.as_ref().and_then(|r| r.redeemed_quantity).unwrap_or(0)),
        };
        let field = match uses {
            Uses::Quantity => "redemption.quantity",
            Uses::Left => "uses left",
        };
        differ(field, uses_shown(held_uses), uses_shown(self.uses_left));
        differ("active", held.active.unwrap_or(true).to_string(), "true".to_owned());
        let meta = |key: &str| held.metadata.as_ref().and_then(|m| m.get(key)).cloned();
        differ("metadata.source", shown(meta("source")), shown(Some(SOURCE.into())));
        differ(
            "metadata.gameball_customer_id",
            shown(meta("gameball_customer_id")),
            shown(Some(self.customer.clone().into())),
        );
        out
    }
}

fn discount_field(key: &str) -> &'static str {
    match key {
        "type" => "discount.type",
        "percent_off" => "discount.percent_off",
        "amount_off" => "discount.amount_off",
        "amount_limit" => "discount.amount_limit",
        "fixed_amount" => "discount.fixed_amount",
        "unit_off" => "discount.unit_off",
        "unit_type" => "discount.unit_type",
        _ => "discount.effect",
    }
}

/// A value as a difference shows it: numbers by their exact decimal (so
/// Voucherify's `20.0` is Gameball's `20`), text bare, nothing as `none`.
fn shown(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => DecimalNumber::from_json(&n).to_text(),
        Some(other) => other.to_string(),
    }
}

fn uses_shown(uses: Option<i64>) -> String {
    uses.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

/// Whether Voucherify would accept `held` at `now`: active, started, not
/// expired, not used up.
pub fn usable(held: &VoucherDefinition, now: Millis) -> bool {
    let at = |d: &Option<String>| d.as_deref().and_then(instant);
    let used_up = held
        .redemption
        .as_ref()
        .is_some_and(|r| r.quantity.is_some_and(|q| r.redeemed_quantity.unwrap_or(0) >= q));
    held.active != Some(false)
        && at(&held.start_date).is_none_or(|s| s <= now)
        && at(&held.expiration_date).is_none_or(|e| e > now)
        && !used_up
}

#[cfg(test)]
mod tests;
