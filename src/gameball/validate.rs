//! Validate (and lock) coupons: `POST …/coupons/validate` (a list) and
//! `POST …/coupons/{code}/validate` (one), in v4.0 (seed and published)
//! and in the v3.0 hold API.
//!
//! - Seed: seed 004's `{validCoupons, invalidCoupons}` for a list, seed
//!   001's `{isValid, lockReference, discountType, discountAmount}` for one;
//!   valid coupons are locked beside invalid ones ([`Validity::Partial`]).
//! - Published (and hold, with `holdReference`): `{valid, coupons |
//!   coupon, lockReference, dateToExpire}` with full Coupon objects; a list
//!   is validated all or nothing ([`Validity::Atomic`]). An invalid coupon
//!   also carries `valid: false` and a `reason` slug, as Gameball's
//!   validate-and-lock tutorial shows ("the failed coupon is listed with
//!   error metadata"); the schema allows extra properties.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::endpoint::{HoldApi, Wire, unexpected};
use super::fallback;
use super::request::{ParseCtx, Parsed, RenderCtx, RequestView};
use super::wire::{
    CouponRef, MAX_COUPONS, StringOrNumber, codes_of, customer, lock_duration, minor, optional, parse_body,
    published_coupon, required, to_json,
};
use crate::clock::iso;
use crate::config::V4Dialect;
use crate::domain::{
    Answer, Command, Fallback, InvalidReason, Operation, Outcome, ValidateCmd, Validation, Validity, Verdict,
};
use crate::error::Failure;
use crate::money::DecimalNumber;

pub static MULTI: Wire<V4Dialect> = Wire {
    op: Operation::Validate,
    parse: |d, req, cx| parse(Shape::of(d), false, req, cx),
    render: |d, answer, cx| render(Shape::of(d), false, answer, cx),
};

pub static SINGLE: Wire<V4Dialect> = Wire {
    op: Operation::ValidateSingle,
    parse: |d, req, cx| parse(Shape::of(d), true, req, cx),
    render: |d, answer, cx| render(Shape::of(d), true, answer, cx),
};

pub static MULTI_HOLD: Wire<HoldApi> = Wire {
    op: Operation::Validate,
    parse: |_, req, cx| parse(Shape::Hold, false, req, cx),
    render: |_, answer, cx| render(Shape::Hold, false, answer, cx),
};

pub static SINGLE_HOLD: Wire<HoldApi> = Wire {
    op: Operation::ValidateSingle,
    parse: |_, req, cx| parse(Shape::Hold, true, req, cx),
    render: |_, answer, cx| render(Shape::Hold, true, answer, cx),
};

/// The three answer shapes of this family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Seed,
    Published,
    Hold,
}

impl Shape {
    fn of(d: V4Dialect) -> Shape {
        match d {
            V4Dialect::Seed => Shape::Seed,
            V4Dialect::Published => Shape::Published,
        }
    }

    fn reference_field(self) -> &'static str {
        match self {
            Shape::Hold => "holdReference",
            _ => "lockReference",
        }
    }
}

/// Both requests' body (the single form takes the code from the path and
/// ignores `coupons`).
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
    /// v3.0 calls it `holdReference`.
    #[serde(alias = "holdReference")]
    pub lock_reference: Option<String>,
    pub total_purchase_amount: Option<DecimalNumber>,
}

fn parse(shape: Shape, single: bool, req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let body: ValidateRequest = parse_body(req.body)?;
    // The published reference (and v3.0) validate a list all or nothing,
    // and return full Coupon objects.
    let published = shape != Shape::Seed;
    let (codes, validity) = if single {
        let code = req.param("code");
        if code.is_empty() {
            return Err(Failure::missing("code"));
        }
        (vec![code], Validity::Partial)
    } else {
        let coupons = body
            .coupons
            .as_ref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Failure::missing("coupons"))?;
        if coupons.iter().any(|c| c.code().trim().is_empty()) {
            return Err(Failure::invalid("coupons", "a coupon code is empty"));
        }
        let codes = codes_of(Some(coupons));
        if codes.len() > MAX_COUPONS {
            return Err(Failure::invalid(
                "coupons",
                format!("at most {MAX_COUPONS} coupons per request"),
            ));
        }
        let validity = if published { Validity::Atomic } else { Validity::Partial };
        (codes, validity)
    };
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let amount_minor = minor(body.total_purchase_amount, "totalPurchaseAmount", cx.decimals)?;
    let duration = match body.lock_duration {
        None => cx.locks.default_duration,
        Some(minutes) => lock_duration(minutes)
            .filter(|d| *d <= cx.locks.max_duration)
            .ok_or_else(|| {
                Failure::invalid(
                    "lockDuration",
                    format!(
                        "minutes must be above 0 and at most {}",
                        cx.locks.max_duration.as_secs() / 60
                    ),
                )
            })?,
    };
    let relock = optional(body.lock_reference.as_deref());
    if relock.is_some() && body.lock != Some(true) {
        tracing::debug!(
            field = shape.reference_field(),
            "a reference without lock:true is ignored, as documented"
        );
    }
    Ok(Command::Validate(ValidateCmd {
        customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
        codes,
        lock: body.lock.unwrap_or(false),
        duration,
        relock,
        amount_minor,
        validity,
        with_terms: published,
        fallback: Some(Fallback {
            restrict: if single { |_, _| None } else { fallback::restrict },
            read: fallback::read,
            release: fallback::release,
        }),
    })
    .into())
}

fn render(shape: Shape, single: bool, answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    let Answer::Validated(v) = answer else {
        return Err(unexpected("validate", answer));
    };
    let Some(part) = &v.gameball else {
        return match (shape, single) {
            (Shape::Seed, true) => to_json(&seed_single(v, cx)),
            // A list request always answers in the list shape, even for one code.
            (Shape::Seed, false) => to_json(&seed_list(v, cx)),
            (shape, single) => to_json(&published(shape, v, single)),
        };
    };
    // Gameball answered for some of the coupons: merged as JSON (rare, and
    // only during a cutover).
    let ours = match (shape, single) {
        (Shape::Seed, true) => serde_json::to_value(seed_single(v, cx)),
        (Shape::Seed, false) => serde_json::to_value(seed_list(v, cx)),
        (shape, single) => Ok(published(shape, v, single)),
    }
    .map_err(|e| Failure::internal(e.to_string()))?;
    to_json(&fallback::merge(ours, part, shape.reference_field(), v))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidCoupon<'a> {
    code: &'a str,
    lock_reference: Option<&'a str>,
    discount_amount: DecimalNumber,
    discount_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct InvalidCoupon<'a> {
    code: &'a str,
    error: String,
}

/// Seed 004's answer to a multiple validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct SeedList<'a> {
    valid_coupons: Vec<ValidCoupon<'a>>,
    invalid_coupons: Vec<InvalidCoupon<'a>>,
}

/// Seed 001's answer to a single validation; `error` only when invalid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct SeedSingle<'a> {
    is_valid: bool,
    lock_reference: Option<&'a str>,
    discount_type: Option<&'static str>,
    discount_amount: DecimalNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn seed_list<'a>(v: &'a Validation, cx: &RenderCtx<'_>) -> SeedList<'a> {
    let mut answer = SeedList::default();
    for verdict in &v.verdicts {
        match &verdict.outcome {
            Outcome::Applicable(a) => answer.valid_coupons.push(ValidCoupon {
                discount_amount: a.discount_amount(v.amount_known, cx.decimals),
                discount_type: a.discount_type,
                lock_reference: v.reference.as_deref(),
                code: &a.code,
            }),
            other => answer.invalid_coupons.push(InvalidCoupon {
                code: other.code(),
                error: cx.messages.text(other.reason().unwrap_or(InvalidReason::Invalid)),
            }),
        }
    }
    answer
}

fn seed_single<'a>(v: &'a Validation, cx: &RenderCtx<'_>) -> SeedSingle<'a> {
    match v.verdicts.first().map(|x| &x.outcome) {
        Some(Outcome::Applicable(a)) => SeedSingle {
            is_valid: true,
            lock_reference: v.reference.as_deref(),
            discount_type: Some(a.discount_type),
            discount_amount: a.discount_amount(v.amount_known, cx.decimals),
            error: None,
        },
        other => SeedSingle {
            is_valid: false,
            lock_reference: None,
            discount_type: None,
            discount_amount: DecimalNumber::default(),
            error: Some(
                cx.messages
                    .text(other.and_then(Outcome::reason).unwrap_or(InvalidReason::Invalid)),
            ),
        },
    }
}

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

fn verdict_json(verdict: &Verdict) -> Value {
    let mut v = match &verdict.terms {
        Some(terms) => published_coupon(terms),
        None => json!({"code": verdict.outcome.code()}),
    };
    let reason = match &verdict.outcome {
        Outcome::Applicable(_) => None,
        // Valid alone, not applied because another coupon failed.
        Outcome::NotChecked { .. } => Some("not_applied"),
        other => Some(reason_slug(other.reason().unwrap_or(InvalidReason::Invalid))),
    };
    if let Some(reason) = reason {
        v["valid"] = false.into();
        v["reason"] = reason.into();
    }
    v
}

fn published(shape: Shape, v: &Validation, single: bool) -> Value {
    let mut out = Map::new();
    out.insert("valid".into(), v.all_valid().into());
    if single {
        if let Some(first) = v.verdicts.first() {
            out.insert("coupon".into(), verdict_json(first));
        }
    } else {
        out.insert("coupons".into(), v.verdicts.iter().map(verdict_json).collect());
    }
    if let Some(r) = &v.reference {
        out.insert(shape.reference_field().into(), r.clone().into());
    }
    if let Some(at) = v.expires_at {
        out.insert("dateToExpire".into(), iso(at).into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Messages;
    use crate::domain::{Applicable, FaceValue};

    fn applicable(code: &str, minor: i64) -> Outcome {
        Outcome::Applicable(Applicable {
            code: code.into(),
            discount_type: "percentage",
            discount_minor: minor,
            face_value: FaceValue::Percent(DecimalNumber::default()),
        })
    }

    fn validation(reference: Option<&str>, verdicts: Vec<Outcome>) -> Validation {
        Validation {
            customer_id: "c".into(),
            reference: reference.map(str::to_owned),
            expires_at: reference.map(|_| 0),
            verdicts: verdicts
                .into_iter()
                .map(|outcome| Verdict { outcome, terms: None })
                .collect(),
            amount_known: true,
            gameball: None,
        }
    }

    fn rendered(shape: Shape, single: bool, v: Validation) -> Value {
        let messages = Messages::default();
        let cx = RenderCtx {
            decimals: 2,
            messages: &messages,
        };
        serde_json::from_slice(&render(shape, single, &Answer::Validated(v), &cx).unwrap()).unwrap()
    }

    #[test]
    fn a_seed_list_names_valid_and_invalid_coupons() {
        let v = validation(
            Some("r"),
            vec![
                applicable("SAVE10", 1050),
                Outcome::Inapplicable {
                    code: "X".into(),
                    reason: InvalidReason::NotFound,
                },
            ],
        );
        assert_eq!(
            rendered(Shape::Seed, false, v),
            json!({"validCoupons": [{"code": "SAVE10", "lockReference": "r", "discountAmount": 10.5, "discountType": "percentage"}],
                   "invalidCoupons": [{"code": "X", "error": "Coupon not found"}]})
        );
    }

    #[test]
    fn hold_answers_name_the_hold_reference() {
        let hold = rendered(Shape::Hold, true, validation(Some("r"), vec![applicable("A", 500)]));
        assert_eq!(hold["holdReference"], "r");
        assert!(hold.get("lockReference").is_none());
        assert_eq!(hold["coupon"]["code"], "A");
        assert_eq!(hold["dateToExpire"], "1970-01-01T00:00:00.000Z");
        let published = rendered(
            Shape::Published,
            false,
            validation(Some("r"), vec![applicable("A", 500)]),
        );
        assert_eq!(published["lockReference"], "r");
        assert_eq!(published["coupons"][0]["code"], "A");
        assert_eq!(published["valid"], true);
    }

    #[test]
    fn an_invalid_published_coupon_says_why() {
        let v = validation(
            None,
            vec![Outcome::Inapplicable {
                code: "X".into(),
                reason: InvalidReason::Expired,
            }],
        );
        assert_eq!(
            rendered(Shape::Published, false, v),
            json!({"valid": false, "coupons": [{"code": "X", "valid": false, "reason": "expired"}]})
        );
    }

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
    fn v3_calls_its_reference_hold_reference() {
        let r: ValidateRequest = serde_json::from_value(json!({"customerId": "c", "holdReference": "h"})).unwrap();
        assert_eq!(r.lock_reference.as_deref(), Some("h"));
    }
}
