//! The v4 wire format shared by the seed, published and hold dialects:
//! request bodies (with every documented variant: coupons as strings or
//! `{code, pin}` objects, `couponCodes`/`couponsLockReference` aliases,
//! `holdReference` for v3.0), their parse into commands, the answers the
//! three write alike (release, burn, order) and the v4 error envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    CouponRef, Dialect, ParseCtx, RequestView, StringOrNumber, codes_of, optional, parse_body, required, to_json,
};
use crate::adapter::error::Failure;
use crate::adapter::ops::{
    Answer, BurnCmd, BurnTarget, Command, CustomerIds, OrderCmd, Transaction, ValidateCmd, Validity,
};
use crate::adapter::routes::Operation;
use crate::clock::iso;
use crate::money::DecimalNumber;
use crate::translate;

/// Gameball's documentation link in every v4 error body.
pub const DOCUMENTATION_URL: &str = "https://docs.gameball.co/api-reference/introduction";

/// Voucherify's limit on redeemables per request.
pub const MAX_COUPONS: usize = 30;

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
    /// v3.0 calls it `holdReference`.
    #[serde(alias = "holdReference")]
    pub lock_reference: Option<String>,
    pub total_purchase_amount: Option<DecimalNumber>,
}

/// `POST …/coupons/release` (the body form of `DELETE …/coupons/{ref}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRequest {
    pub lock_reference: Option<String>,
}

/// `POST …/coupons/burn` (and v3.0's `…/coupons/{holdReference}/burn`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BurnRequest {
    pub customer_id: Option<StringOrNumber>,
    #[serde(alias = "couponsLockReference")]
    pub lock_reference: Option<String>,
    #[serde(alias = "couponCodes")]
    pub coupons: Option<Vec<CouponRef>>,
    pub transaction_id: Option<StringOrNumber>,
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

pub(super) fn customer(id: String, email: Option<&str>, mobile: Option<&str>) -> CustomerIds {
    CustomerIds {
        id,
        email: optional(email),
        mobile: optional(mobile),
    }
}

/// An amount in major units as minor units of the tenant's currency.
pub fn minor(amount: Option<DecimalNumber>, field: &str, decimals: u32) -> Result<Option<i64>, Failure> {
    amount
        .map(|a| a.to_minor(decimals))
        .transpose()
        .map_err(|e| Failure::invalid(field, e))
}

/// A v4 (or v3.0 hold) request as a command.
pub fn parse(dialect: Dialect, req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Command, Failure> {
    // The published reference (and v3.0) validate a list all or nothing,
    // and return full Coupon objects.
    let published = dialect != Dialect::Seed;
    if let Some(parsed) = super::lifecycle::parse(req, cx) {
        return parsed;
    }
    let reference_field = if dialect == Dialect::Hold {
        "holdReference"
    } else {
        "lockReference"
    };
    match req.op() {
        Operation::Validate => {
            let body: ValidateRequest = parse_body(req.body)?;
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
            validate_cmd(&body, codes, validity, published, reference_field, cx)
        }
        Operation::ValidateSingle => {
            let body: ValidateRequest = parse_body(req.body)?;
            let code = req.param("code");
            if code.is_empty() {
                return Err(Failure::missing("code"));
            }
            validate_cmd(&body, vec![code], Validity::Partial, published, reference_field, cx)
        }
        Operation::LockDetails => Ok(Command::LockDetails {
            reference: req.param("reference"),
        }),
        Operation::Release => {
            let reference = match req.matched.param("reference") {
                Some(_) => req.param("reference"),
                None => optional(parse_body::<ReleaseRequest>(req.body)?.lock_reference.as_deref())
                    .ok_or_else(|| Failure::missing("lockReference"))?,
            };
            Ok(Command::Release { reference })
        }
        Operation::Burn => {
            let body: BurnRequest = parse_body(req.body)?;
            let id = required(body.customer_id.as_ref(), "customerId")?;
            let in_path = req.matched.param("reference").map(|_| req.param("reference"));
            let reference = in_path.or_else(|| optional(body.lock_reference.as_deref()));
            let codes = codes_of(body.coupons.as_ref());
            let target = match (reference, codes.is_empty()) {
                (Some(_), false) => {
                    return Err(Failure::invalid(
                        "coupons",
                        format!("send either {reference_field} or coupons, not both"),
                    ));
                }
                (None, true) => return Err(Failure::missing(&format!("{reference_field} or coupons"))),
                (Some(reference), true) => BurnTarget::Lock(reference),
                (None, false) => BurnTarget::Codes(codes),
            };
            Ok(Command::Burn(BurnCmd {
                customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
                target,
                transaction_id: body.transaction_id.and_then(|t| optional(Some(&t.0))),
                transaction_time: body.transaction_time,
            }))
        }
        Operation::Orders => {
            let body: OrderRequest = parse_body(req.body)?;
            let id = required(body.customer_id.as_ref(), "customerId")?;
            let order_id = required(body.order_id.as_ref(), "orderId")?;
            let amount = minor(body.total_price.or(body.total_paid), "totalPrice", cx.decimals)?;
            let shipping = minor(body.total_shipping, "totalShipping", cx.decimals)?;
            let redemption = body.redemption.unwrap_or_default();
            Ok(Command::Order(OrderCmd {
                kind: Transaction::Order,
                customer: customer(id, body.email.as_deref(), body.mobile.as_deref()),
                order_id,
                paid_minor: minor(body.total_paid, "totalPaid", cx.decimals)?,
                amount_minor: amount,
                shipping_minor: shipping,
                reference: optional(redemption.coupons_lock_reference.as_deref()),
                codes: codes_of(redemption.coupon_codes.as_ref()),
            }))
        }
        Operation::CouponValidate | Operation::CouponRedeem | Operation::CouponCreate => Err(Failure::internal(
            "the route table sent an SDK-era operation to a v4 dialect",
        )),
        Operation::Predefined
        | Operation::CustomerCoupons
        | Operation::Automatic
        | Operation::Payments
        | Operation::Refunds => Err(Failure::internal("lifecycle operations are parsed in `lifecycle`")),
    }
}

fn validate_cmd(
    body: &ValidateRequest,
    codes: Vec<String>,
    validity: Validity,
    with_terms: bool,
    reference_field: &str,
    cx: &ParseCtx<'_>,
) -> Result<Command, Failure> {
    let id = required(body.customer_id.as_ref(), "customerId")?;
    let amount_minor = minor(body.total_purchase_amount, "totalPurchaseAmount", cx.decimals)?;
    let duration = match body.lock_duration {
        None => cx.locks.default_duration,
        Some(minutes) => translate::lock_duration(minutes)
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
            field = reference_field,
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
        with_terms,
    }))
}

/// Seed 000's release answer (the published reference's too).
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

/// The answers every v4 dialect writes alike; `None` for the others.
pub fn render_shared(answer: &Answer, decimals: u32) -> Option<Result<Vec<u8>, Failure>> {
    if let Some(rendered) = super::lifecycle::render(answer, decimals) {
        return Some(rendered);
    }
    Some(match answer {
        Answer::Released(r) => to_json(&ReleaseResponse {
            success: true,
            released_at: iso(r.at),
            released_coupons: r.codes.clone(),
        }),
        Answer::Burned(b) => to_json(&BurnResponse {
            success: true,
            burned_at: iso(b.at),
            transaction_id: b.transaction_id.clone(),
            transaction_time: b.transaction_time.clone(),
        }),
        Answer::Ordered { customer_id } => to_json(&OrderResponse {
            customer_id: customer_id.clone(),
            redeemed_points: 0,
            rewarded_points: 0,
            line_items: Vec::new(),
        }),
        _ => return None,
    })
}

/// Gameball's v4 error envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope<'a> {
    pub code: u16,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: &'a str,
    pub documentation_url: &'static str,
    pub request_id: &'a str,
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

pub fn error_body(f: &Failure, request_id: &str) -> Vec<u8> {
    let (_, code) = f.kind.status_and_code();
    // Strings and numbers only: encoding cannot fail.
    serde_json::to_vec(&ErrorEnvelope {
        code,
        kind: error_type(code),
        message: &f.message,
        documentation_url: DOCUMENTATION_URL,
        request_id,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::error::Kind;
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
    fn v3_calls_its_reference_hold_reference() {
        let r: ValidateRequest = serde_json::from_value(json!({"customerId": "c", "holdReference": "h"})).unwrap();
        assert_eq!(r.lock_reference.as_deref(), Some("h"));
    }

    #[test]
    fn the_envelope_names_the_category_and_the_request() {
        let body = error_body(&Failure::client(Kind::NotFound, "m"), "rid");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"code": 4004, "type": "GENERAL_ERROR", "message": "m",
                   "documentationUrl": DOCUMENTATION_URL, "requestId": "rid"})
        );
    }
}
