//! The translation between Gameball and Voucherify, in one place and pure:
//! no I/O, no clock, no randomness. Every function here is unit-tested
//! field by field; the operations in `crate::ops` call these and do the
//! I/O. Domain terms (`crate::domain`) on one side, Voucherify's wire
//! structs (`crate::voucherify`) on the other.

// The rest of the coupon lifecycle, in its own file beside this one.
pub mod lifecycle;

use std::time::Duration;

use serde_json::Value;

use crate::domain::{
    Applicable, CombinesWith, CouponDraft, CouponTerms, CustomerIds, DraftDiscount, FaceValue, InvalidReason, Outcome,
    discount_type,
};
use crate::money::DecimalNumber;
use crate::voucherify::{
    CustomerRef, Discount, Order, OrderItem, Redeemable, RedeemableRef, Session, StackableRequest, ValidationResponse,
    ValidationRule, Voucher,
};

/// PERCENT → percentage, AMOUNT → fixed, FIXED → fixed_rate, free-shipping
/// UNIT → shipping, other UNIT → product, gift card → fixed.
pub fn discount_type_of(discount: Option<&Discount>) -> &'static str {
    use discount_type::*;
    match discount {
        None => FIXED,
        Some(d) if d.is_free_shipping() => SHIPPING,
        Some(d) => match d.kind.as_deref() {
            Some("PERCENT") => PERCENTAGE,
            Some("FIXED") => FIXED_RATE,
            Some("UNIT") => PRODUCT,
            _ => FIXED,
        },
    }
}

/// Why a coupon is invalid, from Voucherify's error key.
pub fn invalid_reason(key: &str) -> InvalidReason {
    match key {
        "not_found" | "resource_not_found" => InvalidReason::NotFound,
        "voucher_expired" => InvalidReason::Expired,
        "voucher_not_active" | "voucher_not_active_now" | "promotion_not_active_now" | "promotion_inactive" => {
            InvalidReason::NotActive
        }
        "voucher_disabled" => InvalidReason::Disabled,
        "quantity_exceeded" | "gift_amount_exceeded" | "multiple_requests" => InvalidReason::Unavailable,
        "customer_rules_violated" | "referrer_not_permitted_to_redeem" | "missing_customer" => {
            InvalidReason::CustomerNotEligible
        }
        "order_rules_violated"
        | "redemption_rules_violated"
        | "missing_amount"
        | "missing_order_items"
        | "missing_order_items_amount" => InvalidReason::OrderConditionsNotMet,
        "applicable_redeemables_limit_exceeded"
        | "applicable_redeemables_per_category_limit_exceeded"
        | "applicable_exclusive_redeemables_limit_exceeded"
        | "applicable_exclusive_redeemables_per_category_limit_exceeded"
        | "exclusion_rules_not_met" => InvalidReason::NotCombinable,
        _ => InvalidReason::Invalid,
    }
}

fn applicable(r: &Redeemable) -> Applicable {
    let d = r.result.discount.as_ref();
    let gift = r.result.gift.as_ref();
    let discount_minor = match gift {
        Some(g) => g.credits.unwrap_or(0),
        None => r
            .order
            .as_ref()
            .and_then(|o| o.applied_discount_amount.or(o.total_applied_discount_amount))
            .unwrap_or(0),
    };
    let face_value = match (d, gift) {
        (_, Some(g)) => FaceValue::Minor(g.balance.unwrap_or(0)),
        (Some(d), None) => match d.kind.as_deref() {
            Some("PERCENT") => {
                FaceValue::Percent(d.percent_off.as_ref().map(DecimalNumber::from_json).unwrap_or_default())
            }
            Some("AMOUNT") => FaceValue::Minor(d.amount_off.unwrap_or(0)),
            Some("FIXED") => FaceValue::Minor(d.fixed_amount.unwrap_or(0)),
            _ => FaceValue::Minor(0),
        },
        (None, None) => FaceValue::Minor(0),
    };
    Applicable {
        code: r.id.clone(),
        discount_type: discount_type_of(d),
        discount_minor,
        face_value,
    }
}

fn error_key(r: &Redeemable) -> &str {
    r.result
        .error
        .as_ref()
        .and_then(|e| e.key.as_deref())
        .or_else(|| r.result.details.as_ref().and_then(|d| d.key.as_deref()))
        .unwrap_or("")
}

/// One outcome per requested code, in request order. PARTIAL mode splits
/// entries across `redeemables` and `inapplicable_redeemables`, ALL mode
/// repeats them; both are read into the same answer.
pub fn outcomes(codes: &[String], resp: &ValidationResponse) -> Vec<Outcome> {
    let find = |code: &str| {
        resp.redeemables
            .iter()
            .chain(&resp.inapplicable_redeemables)
            .chain(&resp.skipped_redeemables)
            .find(|r| r.id == code)
    };
    codes
        .iter()
        .map(|code| match find(code) {
            Some(r) if r.status == "APPLICABLE" => Outcome::Applicable(applicable(r)),
            Some(r) if r.status == "SKIPPED" => match error_key(r) {
                "preceding_validation_failed" | "" => Outcome::NotChecked { code: code.clone() },
                key => Outcome::Inapplicable {
                    code: code.clone(),
                    reason: invalid_reason(key),
                },
            },
            Some(r) => Outcome::Inapplicable {
                code: code.clone(),
                reason: invalid_reason(error_key(r)),
            },
            None => Outcome::Inapplicable {
                code: code.clone(),
                reason: InvalidReason::Invalid,
            },
        })
        .collect()
}

/// A session TTL in the largest unit that states it exactly, so Voucherify
/// is always told the TTL (never left to its 7-day default).
pub fn session_ttl(d: Duration) -> (u64, &'static str) {
    let ms = d.as_millis() as u64;
    for (unit_ms, unit) in [
        (86_400_000, "DAYS"),
        (3_600_000, "HOURS"),
        (60_000, "MINUTES"),
        (1_000, "SECONDS"),
    ] {
        if ms >= unit_ms && ms.is_multiple_of(unit_ms) {
            return (ms / unit_ms, unit);
        }
    }
    (ms.max(1), "MILLISECONDS")
}

fn customer_ref(c: &CustomerIds) -> CustomerRef {
    CustomerRef {
        source_id: c.id.clone(),
        email: c.email.clone(),
        phone: c.mobile.clone(),
    }
}

/// `POST /v1/validations`, locking under `session` when given.
pub fn validation_request(
    codes: &[String],
    customer: &CustomerIds,
    amount_minor: Option<i64>,
    session: Option<(&str, Duration)>,
) -> StackableRequest {
    StackableRequest {
        redeemables: codes.iter().map(|c| RedeemableRef::voucher(c)).collect(),
        customer: Some(customer_ref(customer)),
        order: amount_minor.map(|amount| Order {
            amount: Some(amount),
            ..Default::default()
        }),
        session: session.map(|(key, ttl)| {
            let (ttl, unit) = session_ttl(ttl);
            Session {
                kind: "LOCK",
                key: key.to_owned(),
                ttl: Some(ttl),
                ttl_unit: Some(unit),
            }
        }),
        metadata: None,
    }
}

/// The order a redemption carries: the merchant's order id as `source_id`
/// (so the redemption can be found again), the amount, and shipping as
/// Voucherify's free-shipping line so a shipping coupon has something to
/// discount.
pub struct RedemptionOrder<'a> {
    pub source_id: &'a str,
    pub amount_minor: Option<i64>,
    pub shipping_minor: Option<i64>,
}

/// `POST /v1/redemptions`, consuming `session_key`'s locks when given.
pub fn redemption_request(
    codes: &[String],
    customer: &CustomerIds,
    order: &RedemptionOrder<'_>,
    session_key: Option<&str>,
    metadata: Option<Value>,
) -> StackableRequest {
    let items = order
        .shipping_minor
        .filter(|s| *s > 0)
        .map(|price| OrderItem {
            source_id: crate::voucherify::FREE_SHIPPING_UNIT.to_owned(),
            related_object: "product",
            quantity: 1,
            price,
        })
        .into_iter()
        .collect();
    StackableRequest {
        redeemables: codes.iter().map(|c| RedeemableRef::voucher(c)).collect(),
        customer: Some(customer_ref(customer)),
        order: Some(Order {
            source_id: Some(order.source_id.to_owned()),
            amount: order.amount_minor,
            items,
            status: Some("PAID"),
        }),
        session: session_key.map(|key| Session {
            kind: "LOCK",
            key: key.to_owned(),
            ttl: None,
            ttl_unit: None,
        }),
        metadata,
    }
}

/// `POST /v1/vouchers` for a new coupon: a DISCOUNT_VOUCHER with the
/// draft's discount, limit and dates; the code is Voucherify's to generate
/// when the draft has none. The customer is kept in metadata, since an
/// SDK-era coupon is created for a player.
pub fn voucher_request(draft: &CouponDraft) -> Value {
    let discount = match &draft.discount {
        DraftDiscount::Percent { percent, cap_minor } => {
            let mut d = serde_json::json!({"type": "PERCENT", "percent_off": serde_json::to_value(percent).unwrap_or_default()});
            if let Some(cap) = cap_minor {
                d["amount_limit"] = (*cap).into();
            }
            d
        }
        DraftDiscount::Amount { minor } => serde_json::json!({"type": "AMOUNT", "amount_off": minor}),
        DraftDiscount::FreeShipping => serde_json::json!({
            "type": "UNIT", "unit_off": 1, "unit_type": crate::voucherify::FREE_SHIPPING_UNIT, "effect": "ADD_MISSING_ITEMS"
        }),
    };
    let mut body = serde_json::json!({
        "type": "DISCOUNT_VOUCHER",
        "discount": discount,
        "metadata": {"source": "couponbridge", "gameball_player_unique_id": draft.customer_id},
    });
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            body[key] = v;
        }
    };
    set("code", draft.code.clone().map(Value::from));
    set("start_date", draft.start_date.clone().map(Value::from));
    set("expiration_date", draft.expiration_date.clone().map(Value::from));
    set(
        "redemption",
        draft.usage_limit.map(|q| serde_json::json!({"quantity": q})),
    );
    body
}

/// A bound from a validation rule: `order.amount` → minimum order,
/// `redemption.count.per_customer` → per-customer limit.
fn rule_bound(rules: &[ValidationRule], name: &str) -> Option<(String, i64)> {
    rules.iter().find_map(|r| {
        r.rules.as_object()?.values().find_map(|entry| {
            if entry.get("name")?.as_str()? != name {
                return None;
            }
            let (op, values) = entry.get("conditions")?.as_object()?.iter().next()?;
            let bound = values.as_array()?.first()?.as_f64()? as i64;
            Some((op.clone(), bound))
        })
    })
}

/// Gameball's `Coupon` object from a Voucherify voucher and its rules.
pub fn coupon(v: &Voucher, rules: &[ValidationRule], decimals: u32) -> CouponTerms {
    let money = |minor: Option<i64>| DecimalNumber::from_minor(minor.unwrap_or(0), decimals);
    let d = v.discount.as_ref();
    let is_gift = v.kind.as_deref() == Some("GIFT_VOUCHER") || v.gift.is_some() && d.is_none();
    let kind = if is_gift {
        discount_type::FIXED
    } else {
        discount_type_of(d)
    };
    let value = match (is_gift, d) {
        (true, _) => money(v.gift.as_ref().and_then(|g| g.balance.or(g.amount))),
        (false, Some(d)) => match d.kind.as_deref() {
            Some("PERCENT") => d.percent_off.as_ref().map(DecimalNumber::from_json).unwrap_or_default(),
            Some("AMOUNT") => money(d.amount_off),
            Some("FIXED") => money(d.fixed_amount),
            Some("UNIT") if !d.is_free_shipping() => {
                d.unit_off.as_ref().map(DecimalNumber::from_json).unwrap_or_default()
            }
            _ => DecimalNumber::default(),
        },
        (false, None) => DecimalNumber::default(),
    };
    let capping = match d {
        Some(d) if d.kind.as_deref() == Some("PERCENT") => money(d.amount_limit),
        _ => DecimalNumber::default(),
    };
    let min_order_value = rule_bound(rules, "order.amount")
        .filter(|(op, _)| op == "$more_than_or_equal" || op == "$more_than")
        .map(|(_, b)| money(Some(b)))
        .unwrap_or_default();
    let limit_per_customer = rule_bound(rules, "redemption.count.per_customer").and_then(|(op, b)| match op.as_str() {
        "$less_than_or_equal" | "$is" => Some(b),
        "$less_than" => Some(b - 1),
        _ => None,
    });
    CouponTerms {
        code: v.code.clone(),
        kind,
        value,
        usage_limit: v.redemption.as_ref().and_then(|r| r.quantity),
        limit_per_customer,
        start_date: v.start_date.clone(),
        expiry_date: v.expiration_date.clone(),
        capping,
        min_reward: DecimalNumber::default(),
        min_order_value,
        entitled_product_ids: Vec::new(),
        entitled_variant_ids: Vec::new(),
        entitled_collection_ids: Vec::new(),
        entitled_merchant_ids: Vec::new(),
        // Voucherify stacks any applicable coupons (its stacking rules,
        // not the coupon, decide), so each coupon combines with all kinds.
        combines_with: CombinesWith {
            order_discounts: true,
            product_discounts: true,
            shipping_discounts: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redeemable(v: Value) -> Redeemable {
        serde_json::from_value(v).unwrap()
    }

    fn discount(v: Value) -> Discount {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn discount_types_map_as_documented() {
        assert_eq!(
            discount_type_of(Some(&discount(json!({"type": "PERCENT", "percent_off": 10})))),
            "percentage"
        );
        assert_eq!(
            discount_type_of(Some(&discount(json!({"type": "AMOUNT", "amount_off": 100})))),
            "fixed"
        );
        assert_eq!(
            discount_type_of(Some(&discount(json!({"type": "FIXED", "fixed_amount": 100})))),
            "fixed_rate"
        );
        assert_eq!(
            discount_type_of(Some(&discount(
                json!({"type": "UNIT", "unit_type": "prod_5h1pp1ng", "unit_off": 1})
            ))),
            "shipping"
        );
        assert_eq!(
            discount_type_of(Some(&discount(
                json!({"type": "UNIT", "unit_type": "prod_mug", "unit_off": 1})
            ))),
            "product"
        );
        assert_eq!(discount_type_of(None), "fixed", "gift cards are fixed amounts");
    }

    #[test]
    fn every_voucherify_key_has_a_reason() {
        for (key, msg) in [
            ("not_found", "Coupon not found"),
            ("resource_not_found", "Coupon not found"),
            ("voucher_expired", "Coupon has expired"),
            ("voucher_not_active", "Coupon is not active yet"),
            ("voucher_disabled", "Coupon is disabled"),
            (
                "quantity_exceeded",
                "Coupon usage limit reached or it is held by another checkout",
            ),
            ("customer_rules_violated", "Customer is not eligible for this coupon"),
            ("order_rules_violated", "Order does not meet the coupon's conditions"),
            ("something_new", "Coupon is not valid"),
        ] {
            assert_eq!(invalid_reason(key).default_message(), msg, "{key}");
        }
    }

    #[test]
    fn outcomes_follow_request_order_across_partial_lists() {
        let resp: ValidationResponse = serde_json::from_value(json!({
            "valid": true,
            "redeemables": [
                {"status": "APPLICABLE", "id": "B", "order": {"applied_discount_amount": 500},
                 "result": {"discount": {"type": "AMOUNT", "amount_off": 500}}}
            ],
            "inapplicable_redeemables": [
                {"status": "INAPPLICABLE", "id": "A", "result": {"error": {"code": 404, "key": "not_found"}}}
            ],
            "skipped_redeemables": [
                {"status": "SKIPPED", "id": "C", "result": {"details": {"key": "preceding_validation_failed"}}},
                {"status": "SKIPPED", "id": "D", "result": {"details": {"key": "applicable_redeemables_limit_exceeded"}}}
            ]
        }))
        .unwrap();
        let codes: Vec<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
        let out = outcomes(&codes, &resp);
        assert_eq!(
            out[0],
            Outcome::Inapplicable {
                code: "A".into(),
                reason: InvalidReason::NotFound
            }
        );
        assert!(matches!(&out[1], Outcome::Applicable(a) if a.discount_minor == 500 && a.discount_type == "fixed"));
        assert_eq!(out[2], Outcome::NotChecked { code: "C".into() });
        assert_eq!(
            out[3],
            Outcome::Inapplicable {
                code: "D".into(),
                reason: InvalidReason::NotCombinable
            }
        );
    }

    #[test]
    fn discount_amount_is_the_order_discount_or_the_face_value() {
        let pct = applicable(&redeemable(json!({"status": "APPLICABLE", "id": "P",
            "order": {"applied_discount_amount": 2500}, "result": {"discount": {"type": "PERCENT", "percent_off": 12.5}}})));
        assert_eq!(pct.discount_amount(true, 2).to_text(), "25");
        assert_eq!(pct.discount_amount(false, 2).to_text(), "12.5");
        let amt = applicable(&redeemable(json!({"status": "APPLICABLE", "id": "A",
            "result": {"discount": {"type": "AMOUNT", "amount_off": 2000}}})));
        assert_eq!(amt.discount_amount(false, 2).to_text(), "20");
        assert_eq!(amt.discount_amount(false, 3).to_text(), "2", "three-decimal currencies");
        let gift = applicable(&redeemable(json!({"status": "APPLICABLE", "id": "G",
            "result": {"gift": {"credits": 1500, "balance": 10000}}})));
        assert_eq!(gift.discount_amount(true, 2).to_text(), "15");
        assert_eq!(gift.discount_type, "fixed");
    }

    #[test]
    fn session_ttls_use_the_largest_exact_unit() {
        assert_eq!(session_ttl(Duration::from_secs(600)), (10, "MINUTES"));
        assert_eq!(session_ttl(Duration::from_secs(90)), (90, "SECONDS"));
        assert_eq!(session_ttl(Duration::from_secs(7200)), (2, "HOURS"));
        assert_eq!(session_ttl(Duration::from_secs(86_400)), (1, "DAYS"));
        assert_eq!(session_ttl(Duration::from_millis(1500)), (1500, "MILLISECONDS"));
    }

    #[test]
    fn validation_requests_always_name_the_session_ttl() {
        let c = CustomerIds {
            id: "cust-1".into(),
            email: Some("a@b.c".into()),
            mobile: None,
        };
        let req = validation_request(
            &["SAVE10".into()],
            &c,
            Some(25000),
            Some(("cbs_1", Duration::from_secs(600))),
        );
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"redeemables": [{"object": "voucher", "id": "SAVE10"}],
                   "customer": {"source_id": "cust-1", "email": "a@b.c"},
                   "order": {"amount": 25000},
                   "session": {"type": "LOCK", "key": "cbs_1", "ttl": 10, "ttl_unit": "MINUTES"}})
        );
        let plain = validation_request(&["X".into()], &c, None, None);
        assert!(serde_json::to_value(&plain).unwrap().get("session").is_none());
    }

    #[test]
    fn redemption_requests_carry_the_order_and_session() {
        let c = CustomerIds {
            id: "cust-1".into(),
            email: None,
            mobile: None,
        };
        let order = RedemptionOrder {
            source_id: "ORD-1",
            amount_minor: Some(52500),
            shipping_minor: Some(700),
        };
        let req = redemption_request(&["A".into()], &c, &order, Some("cbs_1"), None);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["order"]["source_id"], "ORD-1");
        assert_eq!(v["order"]["amount"], 52500);
        assert_eq!(v["order"]["status"], "PAID");
        assert_eq!(v["order"]["items"][0]["source_id"], "prod_5h1pp1ng");
        assert_eq!(v["session"], json!({"type": "LOCK", "key": "cbs_1"}));
    }

    #[test]
    fn coupons_are_built_from_the_voucher_and_its_rules() {
        let v: Voucher = serde_json::from_value(json!({
            "code": "SAVE10", "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000},
            "start_date": "2026-01-01T00:00:00.000Z", "redemption": {"quantity": 100, "redeemed_quantity": 3}
        }))
        .unwrap();
        let rules: Vec<ValidationRule> = serde_json::from_value(json!([
            {"id": "val_1", "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}, "logic": "1"}},
            {"id": "val_2", "rules": {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than_or_equal": [1]}}}}
        ]))
        .unwrap();
        let c = coupon(&v, &rules, 2);
        assert_eq!(c.code, "SAVE10");
        assert_eq!(c.kind, "percentage");
        assert_eq!(c.value.to_text(), "10");
        assert_eq!(c.capping.to_text(), "50");
        assert_eq!(c.min_order_value.to_text(), "100");
        assert_eq!(c.limit_per_customer, Some(1));
        assert_eq!(c.usage_limit, Some(100));
        assert_eq!(c.start_date.as_deref(), Some("2026-01-01T00:00:00.000Z"));
        assert_eq!(c.expiry_date, None);
        let gift: Voucher = serde_json::from_value(
            json!({"code": "G", "type": "GIFT_VOUCHER", "gift": {"amount": 5000, "balance": 4200}}),
        )
        .unwrap();
        let g = coupon(&gift, &[], 2);
        assert_eq!((g.kind, g.value.to_text().as_str()), ("fixed", "42"));
        assert_eq!(g.usage_limit, None, "unlimited");
    }
}
