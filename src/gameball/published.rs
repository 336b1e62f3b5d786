//! The published dialect: Gameball's current v4.0 reference
//! (`shared/reference/gameball/openapi.json`), and the v3.0 hold API, whose
//! answers are the same with `holdReference` for `lockReference` (the v3.0
//! GitBook sample; notes §8.1).
//!
//! - Validate single: `{valid, coupon, lockReference, dateToExpire}`;
//!   multiple: `{valid, coupons, lockReference, dateToExpire}`, all or
//!   nothing (the parse asked the operation for [`Validity::Atomic`]).
//! - Coupons are full Coupon objects. Values Voucherify does not give are
//!   left out, not `null`: the schema types them string or number.
//! - An invalid coupon also carries `valid: false` and a `reason` slug, as
//!   Gameball's validate-and-lock tutorial shows ("the failed coupon is
//!   listed with error metadata"); the schema allows extra properties.
//!
//! [`Validity::Atomic`]: crate::adapter::ops::Validity::Atomic

use serde_json::{Map, Value, json};

use super::seed::{LockDetails, reason_of};
use super::{Coupon, Dialect, RenderCtx, to_json, v4};
use crate::adapter::error::Failure;
use crate::adapter::ops::{Answer, Validation, Verdict};
use crate::adapter::routes::Operation;
use crate::clock::iso;
use crate::translate::{InvalidReason, Outcome, discount_type};

/// The `reason` slug of an invalid coupon.
pub fn reason_slug(reason: InvalidReason) -> &'static str {
    match reason {
        InvalidReason::NotFound => "not_found",
        InvalidReason::Expired => "expired",
        InvalidReason::NotActive => "not_active",
        InvalidReason::Disabled => "disabled",
        InvalidReason::Unavailable => "usage_limit_reached",
        InvalidReason::CustomerNotEligible => "not_eligible",
        InvalidReason::OrderConditionsNotMet => "order_conditions_not_met",
        InvalidReason::NotCombinable => "not_combinable",
        InvalidReason::Invalid => "invalid",
    }
}

/// A Coupon object with absent values left out. The published `type`
/// enum has no fixed-price kind: Voucherify's FIXED (order total set to an
/// amount) is written `fixed`.
fn coupon_json(c: &Coupon) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if c.kind == discount_type::FIXED_RATE {
        v["type"] = discount_type::FIXED.into();
    }
    omit_nulls(v)
}

fn omit_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, omit_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

fn verdict_json(verdict: &Verdict) -> Value {
    let mut v = match &verdict.terms {
        Some(terms) => coupon_json(terms),
        None => json!({"code": verdict.outcome.code()}),
    };
    let reason = match &verdict.outcome {
        Outcome::Applicable(_) => None,
        // Valid alone, not applied because another coupon failed.
        Outcome::NotChecked { .. } => Some("not_applied"),
        other => Some(reason_slug(reason_of(other))),
    };
    if let Some(reason) = reason {
        v["valid"] = false.into();
        v["reason"] = reason.into();
    }
    v
}

fn validation(dialect: Dialect, v: &Validation, op: Operation) -> Value {
    let mut out = Map::new();
    out.insert("valid".into(), v.all_valid().into());
    if op == Operation::ValidateSingle {
        if let Some(first) = v.verdicts.first() {
            out.insert("coupon".into(), verdict_json(first));
        }
    } else {
        out.insert("coupons".into(), v.verdicts.iter().map(verdict_json).collect());
    }
    let reference_key = if dialect == Dialect::Hold {
        "holdReference"
    } else {
        "lockReference"
    };
    if let Some(r) = &v.reference {
        out.insert(reference_key.into(), r.clone().into());
    }
    if let Some(at) = v.expires_at {
        out.insert("dateToExpire".into(), iso(at).into());
    }
    Value::Object(out)
}

pub fn render(dialect: Dialect, answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    if let Some(shared) = v4::render_shared(answer, cx.decimals) {
        return shared;
    }
    match answer {
        Answer::Validated(v) => to_json(&validation(dialect, v, cx.op)),
        Answer::LockDetails(view) => {
            let mut details = omit_nulls(serde_json::to_value(LockDetails::of(view)).unwrap_or_default());
            details["coupons"] = view.coupons.iter().map(coupon_json).collect();
            to_json(&details)
        }
        other => Err(Failure::internal(format!(
            "the published dialect has no answer for {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gameball::CombinesWith;
    use crate::money::DecimalNumber;
    use crate::translate::{Applicable, FaceValue};

    fn coupon(code: &str) -> Coupon {
        Coupon {
            code: code.into(),
            kind: discount_type::FIXED_RATE,
            value: DecimalNumber::from_minor(500, 2),
            usage_limit: None,
            limit_per_customer: Some(1),
            start_date: None,
            expiry_date: None,
            capping: DecimalNumber::default(),
            min_reward: DecimalNumber::default(),
            min_order_value: DecimalNumber::default(),
            entitled_product_ids: vec![],
            entitled_variant_ids: vec![],
            entitled_collection_ids: vec![],
            entitled_merchant_ids: vec![],
            combines_with: CombinesWith {
                order_discounts: true,
                product_discounts: true,
                shipping_discounts: true,
            },
        }
    }

    fn applicable(code: &str) -> Outcome {
        Outcome::Applicable(Applicable {
            code: code.into(),
            discount_type: "fixed",
            discount_minor: 500,
            face_value: FaceValue::Percent(DecimalNumber::default()),
        })
    }

    #[test]
    fn absent_values_are_left_out_and_fixed_rate_is_fixed() {
        let v = coupon_json(&coupon("A"));
        assert!(v.get("usageLimit").is_none() && v.get("startDate").is_none(), "{v}");
        assert_eq!(v["limitPerCustomer"], 1);
        assert_eq!(v["type"], "fixed");
    }

    #[test]
    fn hold_answers_name_the_hold_reference() {
        let v = Validation {
            customer_id: "c".into(),
            reference: Some("r".into()),
            expires_at: Some(0),
            verdicts: vec![Verdict {
                outcome: applicable("A"),
                terms: Some(coupon("A")),
            }],
            amount_known: false,
        };
        let hold = validation(Dialect::Hold, &v, Operation::ValidateSingle);
        assert_eq!(hold["holdReference"], "r");
        assert!(hold.get("lockReference").is_none());
        assert_eq!(hold["coupon"]["code"], "A");
        assert_eq!(hold["dateToExpire"], "1970-01-01T00:00:00.000Z");
        let published = validation(Dialect::Published, &v, Operation::Validate);
        assert_eq!(published["lockReference"], "r");
        assert_eq!(published["coupons"][0]["code"], "A");
        assert_eq!(published["valid"], true);
    }

    #[test]
    fn an_invalid_coupon_says_why() {
        let v = Validation {
            customer_id: "c".into(),
            reference: None,
            expires_at: None,
            verdicts: vec![Verdict {
                outcome: Outcome::Inapplicable {
                    code: "X".into(),
                    reason: InvalidReason::Expired,
                },
                terms: None,
            }],
            amount_known: false,
        };
        let out = validation(Dialect::Published, &v, Operation::Validate);
        assert_eq!(
            out,
            json!({"valid": false, "coupons": [{"code": "X", "valid": false, "reason": "expired"}]})
        );
    }
}
