//! The SDK-era "discount coupon" API (v2.0 and v3.0; notes §8.2, §9),
//! which Gameball's published SDKs call: `coupon/validate`,
//! `coupon/redeem` and `coupon` (create), bodies with `playerUniqueId`,
//! `code`, `transactionTime` and `hash`, errors as `{code, message}`.
//!
//! The SDKs' contract, read from `gb-alpha` 3.0.0: success is exactly 200
//! (a 201 is an error to them); a non-200 JSON body with `code` and
//! `message` is handed to the merchant as a `GameballException`. So every
//! answer here is 200 or carries both keys.
//!
//! Errors are `{code, message}` (`super::errors::legacy_code`).

use serde::{Deserialize, Serialize};

use super::endpoint::{SdkApi, Wire, unexpected};
use super::request::{HashProof, ParseCtx, Parsed, RenderCtx, RequestView};
use super::wire::{StringOrNumber, parse_body, required, to_json};
use crate::clock::{iso, parse_iso};
use crate::domain::{
    Answer, Command, CouponDraft, CouponTerms, CustomerIds, DraftDiscount, InvalidReason, Operation, Outcome,
    RedeemCodeCmd, ValidateCmd, Validity, discount_type,
};
use crate::error::{Failure, Kind};
use crate::money::DecimalNumber;

pub static VALIDATE: Wire<SdkApi> = Wire {
    op: Operation::CouponValidate,
    parse: |_, req, cx| parse_code(req, cx, false),
    render: |_, answer, cx| render_validation(answer, cx),
};

pub static REDEEM: Wire<SdkApi> = Wire {
    op: Operation::CouponRedeem,
    parse: |_, req, cx| parse_code(req, cx, true),
    render: |_, answer, _| render_redeemed(answer),
};

pub static CREATE: Wire<SdkApi> = Wire {
    op: Operation::CouponCreate,
    parse: |_, req, cx| parse_create(req, cx),
    render: |_, answer, _| render_created(answer),
};

/// `coupon/validate` and `coupon/redeem`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeRequest {
    player_unique_id: Option<StringOrNumber>,
    code: Option<StringOrNumber>,
    hash: Option<String>,
}

/// `coupon` (create).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    player_unique_id: Option<StringOrNumber>,
    hash: Option<String>,
    code: Option<StringOrNumber>,
    value: Option<DecimalNumber>,
    value_type: Option<String>,
    cap: Option<DecimalNumber>,
    usage_limit: Option<i64>,
    start_at: Option<String>,
    ends_at: Option<String>,
}

fn proof(player: &str, hash: Option<&str>) -> Result<HashProof, Failure> {
    let hash = hash
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Failure::missing("hash"))?;
    Ok(HashProof {
        player: player.to_owned(),
        hash: hash.to_ascii_lowercase(),
    })
}

fn customer(id: String) -> CustomerIds {
    CustomerIds {
        id,
        ..CustomerIds::default()
    }
}

fn date(text: Option<String>, field: &str) -> Result<Option<String>, Failure> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) if parse_iso(t).is_some() => Ok(Some(t.to_owned())),
        Some(_) => Err(Failure::invalid(field, "expected an ISO 8601 date and time")),
    }
}

/// The draft's discount from `valueType`, `value` and `cap`. The SDKs
/// document no vocabulary; these are the names Gameball's models and
/// samples use.
fn discount(
    kind: Option<&str>,
    value: Option<DecimalNumber>,
    cap: Option<DecimalNumber>,
    decimals: u32,
) -> Result<DraftDiscount, Failure> {
    let kind = kind
        .map(|k| k.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "fixed".into());
    let value = || value.ok_or_else(|| Failure::missing("value"));
    let minor = |v: DecimalNumber, field: &str| v.to_minor(decimals).map_err(|e| Failure::invalid(field, e));
    match kind.as_str() {
        "percentage" | "percent" => {
            let percent = value()?;
            if percent.0.is_sign_negative() || percent.0 > 100.into() {
                return Err(Failure::invalid("value", "a percentage is between 0 and 100"));
            }
            Ok(DraftDiscount::Percent {
                percent,
                cap_minor: cap.map(|c| minor(c, "cap")).transpose()?.filter(|c| *c > 0),
            })
        }
        "fixed" | "fixed_amount" | "amount" => Ok(DraftDiscount::Amount {
            minor: minor(value()?, "value")?,
        }),
        "free_shipping" | "shipping" => Ok(DraftDiscount::FreeShipping),
        other => Err(Failure::invalid(
            "valueType",
            format!("\"{other}\" is not one of percentage, fixed_amount, free_shipping"),
        )),
    }
}

/// `coupon/validate` and `coupon/redeem`.
fn parse_code(req: &RequestView<'_>, cx: &ParseCtx<'_>, redeem: bool) -> Result<Parsed, Failure> {
    let body: CodeRequest = parse_body(req.body)?;
    let player = required(body.player_unique_id.as_ref(), "playerUniqueId")?;
    let code = required(body.code.as_ref(), "code")?;
    let proof = proof(&player, body.hash.as_deref())?;
    let command = if redeem {
        Command::RedeemCode(RedeemCodeCmd {
            customer: customer(player),
            code,
        })
    } else {
        Command::Validate(ValidateCmd {
            customer: customer(player),
            codes: vec![code],
            lock: false,
            duration: cx.locks.default_duration,
            relock: None,
            amount_minor: None,
            validity: Validity::Partial,
            with_terms: true,
            // One code: asked of Gameball whole, and answered as it did.
            fallback: Some(crate::domain::Fallback {
                restrict: |_, _| None,
                read: |_| Default::default(),
                // Without a lock there is nothing to release.
                release: |call, _| call.clone(),
            }),
        })
    };
    Ok(Parsed {
        command,
        proof: Some(proof),
    })
}

/// `coupon` (create).
fn parse_create(req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
    let body: CreateRequest = parse_body(req.body)?;
    let player = required(body.player_unique_id.as_ref(), "playerUniqueId")?;
    let proof = proof(&player, body.hash.as_deref())?;
    let usage_limit = body.usage_limit.filter(|n| *n != 0);
    if usage_limit.is_some_and(|n| n < 0) {
        return Err(Failure::invalid("usageLimit", "must not be negative"));
    }
    let draft = CouponDraft {
        customer_id: player,
        code: body.code.map(|c| c.0.trim().to_owned()).filter(|c| !c.is_empty()),
        discount: discount(body.value_type.as_deref(), body.value, body.cap, cx.decimals)?,
        usage_limit,
        start_date: date(body.start_at, "startAt")?,
        expiration_date: date(body.ends_at, "endsAt")?,
    };
    Ok(Parsed {
        command: Command::CreateCoupon(draft),
        proof: Some(proof),
    })
}

/// A coupon as the SDK-era API wrote it (the .NET SDK's
/// `ValidateCouponResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyCoupon<'a> {
    player_unique_id: &'a str,
    code: &'a str,
    value: DecimalNumber,
    value_type: &'static str,
    cap: Option<DecimalNumber>,
    usage_limit: Option<i64>,
    once_per_customer: bool,
    start_at: Option<&'a str>,
    ends_at: Option<&'a str>,
    entitled_collection_ids: &'a [String],
    entitled_product_ids: &'a [String],
}

fn legacy_coupon<'a>(player: &'a str, c: &'a CouponTerms) -> LegacyCoupon<'a> {
    LegacyCoupon {
        player_unique_id: player,
        code: &c.code,
        value: c.value,
        value_type: match c.kind {
            discount_type::PERCENTAGE => "percentage",
            discount_type::SHIPPING => "free_shipping",
            _ => "fixed_amount",
        },
        cap: Some(c.capping).filter(|cap| !cap.0.is_zero()),
        usage_limit: c.usage_limit,
        once_per_customer: c.limit_per_customer == Some(1),
        start_at: c.start_date.as_deref(),
        ends_at: c.expiry_date.as_deref(),
        entitled_collection_ids: &c.entitled_collection_ids,
        entitled_product_ids: &c.entitled_product_ids,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Redeemed<'a> {
    success: bool,
    player_unique_id: &'a str,
    code: &'a str,
    redeemed_at: String,
}

fn render_validation(answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
    let Answer::Validated(v) = answer else {
        return Err(unexpected("legacy", answer));
    };
    let verdict = v
        .verdicts
        .first()
        .ok_or_else(|| Failure::internal("a validation without a verdict"))?;
    match (&verdict.outcome, &verdict.terms) {
        (Outcome::Applicable(_), Some(terms)) => to_json(&legacy_coupon(&v.customer_id, terms)),
        (
            Outcome::Inapplicable {
                reason: InvalidReason::NotFound,
                ..
            },
            _,
        )
        | (Outcome::Applicable(_), None) => Err(Failure::client(Kind::NotFound, "Coupon not found")),
        (other, _) => Err(Failure::client(
            Kind::CouponRefused,
            cx.messages.text(other.reason().unwrap_or(InvalidReason::Invalid)),
        )),
    }
}

fn render_redeemed(answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::CodeRedeemed(r) = answer else {
        return Err(unexpected("legacy", answer));
    };
    to_json(&Redeemed {
        success: true,
        player_unique_id: &r.customer_id,
        code: &r.code,
        redeemed_at: iso(r.at),
    })
}

fn render_created(answer: &Answer) -> Result<Vec<u8>, Failure> {
    let Answer::CouponCreated(c) = answer else {
        return Err(unexpected("legacy", answer));
    };
    to_json(&legacy_coupon(&c.customer_id, &c.coupon))
}

/// Whether `proof` was made with `secret`, compared in constant time.
pub fn hash_matches(proof: &HashProof, secret: &str) -> bool {
    use sha1::{Digest, Sha1};
    use subtle::ConstantTimeEq;
    let want = Sha1::digest(format!("{}:::{secret}", proof.player).as_bytes());
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    bool::from(want.as_bytes().ct_eq(proof.hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_sdks_sha1_of_player_and_secret() {
        // The value gb-alpha 3.0.0 sent (notes §8.2).
        let p = HashProof {
            player: "cust_1".into(),
            hash: "ff453a2f423ad5ee3b8f1b4c0d5e44d9dd8cd3a4".into(),
        };
        assert!(hash_matches(&p, "test_secret_key"));
        assert!(!hash_matches(&p, "test_secret_kez"));
    }

    #[test]
    fn value_types_map_to_discounts() {
        let d = |k: &str, v: &str| discount(Some(k), Some(DecimalNumber::parse(v).unwrap()), None, 2);
        assert_eq!(d("fixed_amount", "10").unwrap(), DraftDiscount::Amount { minor: 1000 });
        assert!(matches!(d("Percentage", "15").unwrap(), DraftDiscount::Percent { .. }));
        assert_eq!(d("free_shipping", "0").unwrap(), DraftDiscount::FreeShipping);
        assert_eq!(d("bogus", "1").unwrap_err().kind, Kind::InvalidValue);
        assert_eq!(d("percentage", "150").unwrap_err().kind, Kind::InvalidValue);
    }
}
