//! The seed dialect: the v4.0 answers of the seed pages (seed 001's
//! `isValid`, seed 004's `validCoupons`/`invalidCoupons`, seed 003's lock
//! details), the default for every tenant.
//!
//! A released lock reads as expired at its release time: the seed shape has
//! no "released" field and strict clients (Jackson's default) reject fields
//! they do not know, so the documented fields carry the meaning.

use serde::Serialize;

use super::{Coupon, RenderCtx, to_json, v4};
use crate::adapter::error::Failure;
use crate::adapter::ops::{Answer, LockView, Validation};
use crate::adapter::routes::Operation;
use crate::clock::iso;
use crate::locks::LockState;
use crate::money::DecimalNumber;
use crate::translate::{self, InvalidReason, Outcome};

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

impl LockDetails {
    /// Also the published dialect's lock details (Gameball's reference had
    /// the same fields while it listed the call).
    pub fn of(view: &LockView) -> Self {
        let record = &view.record;
        let used = record.state == LockState::Used;
        let ended = record.state == LockState::Released || record.is_expired(view.now);
        LockDetails {
            customer_id: record.customer_id.clone(),
            is_used: used,
            used_at: record.used_at.filter(|_| used).map(iso),
            is_expired: ended && !used,
            expired_at: Some(iso(record.ended_at())),
            coupons: view.coupons.clone(),
        }
    }
}

/// Why a coupon is not in `validCoupons`.
pub fn reason_of(outcome: &Outcome) -> InvalidReason {
    match outcome {
        Outcome::Inapplicable { reason, .. } => *reason,
        _ => InvalidReason::Invalid,
    }
}

fn validate_many(v: &Validation, cx: &RenderCtx<'_>) -> ValidateResponse {
    let mut answer = ValidateResponse::default();
    for verdict in &v.verdicts {
        match &verdict.outcome {
            Outcome::Applicable(a) => answer.valid_coupons.push(ValidCoupon {
                discount_amount: translate::discount_amount(a, v.amount_known, cx.decimals),
                discount_type: a.discount_type,
                lock_reference: v.reference.clone(),
                code: a.code.clone(),
            }),
            other => answer.invalid_coupons.push(InvalidCoupon {
                code: other.code().to_owned(),
                error: reason_of(other).message(cx.messages),
            }),
        }
    }
    answer
}

fn validate_one(v: &Validation, cx: &RenderCtx<'_>) -> ValidateSingleResponse {
    match v.verdicts.first().map(|x| &x.outcome) {
        Some(Outcome::Applicable(a)) => ValidateSingleResponse {
            is_valid: true,
            lock_reference: v.reference.clone(),
            discount_type: Some(a.discount_type),
            discount_amount: translate::discount_amount(a, v.amount_known, cx.decimals),
            error: None,
        },
        other => ValidateSingleResponse {
            is_valid: false,
            lock_reference: None,
            discount_type: None,
            discount_amount: DecimalNumber::default(),
            error: Some(other.map_or(InvalidReason::Invalid, reason_of).message(cx.messages)),
        },
    }
}

pub fn render(answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    if let Some(shared) = v4::render_shared(answer, cx.decimals) {
        return shared;
    }
    match answer {
        // A list request always answers in the list shape, even for one code.
        Answer::Validated(v) if cx.op == Operation::ValidateSingle => to_json(&validate_one(v, cx)),
        Answer::Validated(v) => to_json(&validate_many(v, cx)),
        Answer::LockDetails(view) => to_json(&LockDetails::of(view)),
        other => Err(Failure::internal(format!(
            "the seed dialect has no answer for {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::ops::Verdict;
    use crate::config::Messages;
    use crate::translate::{Applicable, FaceValue};
    use serde_json::{Value, json};

    #[test]
    fn a_multiple_validation_lists_valid_and_invalid_coupons() {
        let v = Validation {
            customer_id: "c".into(),
            reference: Some("r".into()),
            expires_at: Some(0),
            verdicts: vec![
                Verdict {
                    outcome: Outcome::Applicable(Applicable {
                        code: "SAVE10".into(),
                        discount_type: "percentage",
                        discount_minor: 1050,
                        face_value: FaceValue::Percent(DecimalNumber::default()),
                    }),
                    terms: None,
                },
                Verdict {
                    outcome: Outcome::Inapplicable {
                        code: "X".into(),
                        reason: InvalidReason::NotFound,
                    },
                    terms: None,
                },
            ],
            amount_known: true,
        };
        let messages = Messages::default();
        let cx = RenderCtx {
            decimals: 2,
            messages: &messages,
            op: Operation::Validate,
        };
        let body: Value = serde_json::from_slice(&render(&Answer::Validated(v), &cx).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"validCoupons": [{"code": "SAVE10", "lockReference": "r", "discountAmount": 10.5, "discountType": "percentage"}],
                   "invalidCoupons": [{"code": "X", "error": "Coupon not found"}]})
        );
    }
}
