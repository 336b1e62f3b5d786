//! The pieces of Gameball's bodies every family reads alike: identifiers
//! kept as their exact text, coupons as strings or objects, amounts into
//! minor units, and the Coupon object both v4 dialects write.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::time::Duration;

use crate::domain::{CombinesWith, CouponTerms, CustomerIds, discount_type};
use crate::error::{Failure, Kind};
use crate::money::DecimalNumber;

/// Voucherify's limit on redeemables per request.
pub const MAX_COUPONS: usize = 30;

/// An identifier (customer id, order id, product id), kept as its exact
/// JSON text: Gameball documents strings, merchants also send their
/// database ids as numbers, and a 30-digit number must not be rounded
/// through a float (two customers would share one id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrNumber(pub String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str(text)
                .map(StringOrNumber)
                .map_err(serde::de::Error::custom),
            Some(b'-' | b'0'..=b'9') => Ok(StringOrNumber(text.to_owned())),
            _ => Err(serde::de::Error::custom(format!("expected a string, found {text}"))),
        }
    }
}

/// A coupon in a request: `"SAVE10"` or `{"code": "SAVE10", "pin": "1234"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CouponRef {
    Code(String),
    Object {
        code: String,
        #[allow(dead_code)]
        pin: Option<String>,
    },
}

impl CouponRef {
    pub fn code(&self) -> &str {
        match self {
            CouponRef::Code(c) | CouponRef::Object { code: c, .. } => c,
        }
    }
}

/// One line of an order or a cart.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub product_id: Option<StringOrNumber>,
    pub sku: Option<String>,
    pub quantity: Option<DecimalNumber>,
    pub price: Option<DecimalNumber>,
}

/// The coupon part of an order or a payment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRedemption {
    #[serde(alias = "lockReference")]
    pub coupons_lock_reference: Option<String>,
    pub coupon_codes: Option<Vec<CouponRef>>,
    pub points_hold_reference: Option<String>,
}

/// Parses a request body, telling malformed JSON (3016) from a
/// well-formed body with a wrong value (3003, naming the field). An empty
/// body is an empty object.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            Failure::invalid(&path, inner)
        } else {
            Failure::client(
                Kind::MalformedJson,
                format!("The request body is not valid JSON: {inner}"),
            )
        }
    })
}

/// A required id field (a string or a number), trimmed.
pub fn required(id: Option<&StringOrNumber>, field: &str) -> Result<String, Failure> {
    id.map(|c| c.0.trim())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Failure::missing(field))
}

/// An optional text field, trimmed; empty is absent.
pub fn optional(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// The coupon codes of a request, trimmed, each once, in the order given;
/// empty ones are left out.
pub fn codes_of(list: Option<&Vec<CouponRef>>) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for c in list.into_iter().flatten() {
        let code = c.code().trim();
        if !code.is_empty() && !codes.iter().any(|x| x == code) {
            codes.push(code.to_owned());
        }
    }
    codes
}

/// The customer a v4 body names.
pub fn customer(id: String, email: Option<&str>, mobile: Option<&str>) -> CustomerIds {
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

/// A count: a whole number, never rounded.
pub fn whole(n: Option<DecimalNumber>, field: &str) -> Result<Option<i64>, Failure> {
    let Some(q) = n else { return Ok(None) };
    let w = q.to_minor(0).map_err(|e| Failure::invalid(field, e))?;
    if DecimalNumber::from_minor(w, 0) != q {
        return Err(Failure::invalid(field, "must be a whole number"));
    }
    Ok(Some(w))
}

/// The `Idempotency-Key` header, when the client sends one.
pub fn idempotency_key(headers: &http::HeaderMap) -> Option<String> {
    optional(headers.get("idempotency-key")?.to_str().ok())
}

/// `lockDuration` (minutes, possibly fractional) as a duration.
pub fn lock_duration(minutes: DecimalNumber) -> Option<Duration> {
    let ms = minutes.0.checked_mul(rust_decimal::Decimal::from(60_000))?;
    let ms: u64 = rust_decimal::prelude::ToPrimitive::to_u64(&ms.trunc())?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// JSON bytes of an answer.
pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(value).map_err(|e| Failure::internal(format!("cannot encode the answer: {e}")))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct CombinesWithBody {
    order_discounts: bool,
    product_discounts: bool,
    shipping_discounts: bool,
}

/// Gameball's `Coupon` object (validate, lock details), as the seed dialect
/// writes it: absent values are `null`. The published dialect leaves them
/// out ([`published_coupon`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponObject<'a> {
    code: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: DecimalNumber,
    usage_limit: Option<i64>,
    limit_per_customer: Option<i64>,
    start_date: Option<&'a str>,
    expiry_date: Option<&'a str>,
    capping: DecimalNumber,
    min_reward: DecimalNumber,
    min_order_value: DecimalNumber,
    entitled_product_ids: &'a [String],
    entitled_variant_ids: &'a [String],
    entitled_collection_ids: &'a [String],
    entitled_merchant_ids: &'a [String],
    combines_with: CombinesWithBody,
}

impl<'a> From<&'a CouponTerms> for CouponObject<'a> {
    fn from(c: &'a CouponTerms) -> Self {
        let CombinesWith {
            order_discounts,
            product_discounts,
            shipping_discounts,
        } = c.combines_with;
        CouponObject {
            code: &c.code,
            kind: c.kind,
            value: c.value,
            usage_limit: c.usage_limit,
            limit_per_customer: c.limit_per_customer,
            start_date: c.start_date.as_deref(),
            expiry_date: c.expiry_date.as_deref(),
            capping: c.capping,
            min_reward: c.min_reward,
            min_order_value: c.min_order_value,
            entitled_product_ids: &c.entitled_product_ids,
            entitled_variant_ids: &c.entitled_variant_ids,
            entitled_collection_ids: &c.entitled_collection_ids,
            entitled_merchant_ids: &c.entitled_merchant_ids,
            combines_with: CombinesWithBody {
                order_discounts,
                product_discounts,
                shipping_discounts,
            },
        }
    }
}

/// A Coupon object as the published reference writes it: absent values
/// left out (its schema says string or number), and Voucherify's FIXED
/// (order total set to an amount) written `fixed`, since the published
/// `type` enum has no fixed-price kind.
pub fn published_coupon(c: &CouponTerms) -> Value {
    let mut v = serde_json::to_value(CouponObject::from(c)).unwrap_or_default();
    if c.kind == discount_type::FIXED_RATE {
        v["type"] = discount_type::FIXED.into();
    }
    omit_nulls(v)
}

/// The value with every `null` member of its objects left out.
pub fn omit_nulls(v: Value) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_trimmed_and_deduplicated() {
        let list = vec![
            CouponRef::Code(" A ".into()),
            CouponRef::Code("A".into()),
            CouponRef::Code("".into()),
            CouponRef::Code("B".into()),
        ];
        assert_eq!(codes_of(Some(&list)), vec!["A".to_string(), "B".to_string()]);
        assert!(codes_of(None).is_empty());
    }

    #[test]
    fn ids_keep_their_exact_text() {
        #[derive(Deserialize, Debug)]
        struct B {
            id: StringOrNumber,
        }
        let big: B = parse_body(br#"{"id": 123456789012345678901234567891}"#).unwrap();
        assert_eq!(big.id.0, "123456789012345678901234567891");
        let s: B = parse_body(br#"{"id": "c-1"}"#).unwrap();
        assert_eq!(s.id.0, "c-1");
        assert_eq!(
            parse_body::<B>(br#"{"id": true}"#).unwrap_err().kind,
            Kind::InvalidValue
        );
    }

    #[test]
    fn bodies_tell_malformed_json_from_wrong_values() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            lock: Option<bool>,
        }
        assert_eq!(parse_body::<B>(b"{oops").unwrap_err().kind, Kind::MalformedJson);
        let wrong = parse_body::<B>(br#"{"lock": "yes"}"#).unwrap_err();
        assert_eq!(wrong.kind, Kind::InvalidValue);
        assert!(wrong.message.contains("lock"), "{}", wrong.message);
        assert!(parse_body::<B>(b"").is_ok(), "an empty body is an empty object");
    }

    fn terms(code: &str) -> CouponTerms {
        CouponTerms {
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

    #[test]
    fn lock_durations_are_minutes() {
        assert_eq!(
            lock_duration(DecimalNumber::parse("15").unwrap()),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            lock_duration(DecimalNumber::parse("0.5").unwrap()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(lock_duration(DecimalNumber::parse("0").unwrap()), None);
        assert_eq!(lock_duration(DecimalNumber::parse("-3").unwrap()), None);
    }

    #[test]
    fn the_seed_coupon_writes_nulls_and_the_published_one_leaves_them_out() {
        let t = terms("A");
        let seed = serde_json::to_value(CouponObject::from(&t)).unwrap();
        assert!(seed["usageLimit"].is_null() && seed.get("usageLimit").is_some());
        assert_eq!(seed["type"], "fixed_rate");
        let published = published_coupon(&t);
        assert!(published.get("usageLimit").is_none() && published.get("startDate").is_none());
        assert_eq!(published["limitPerCustomer"], 1);
        assert_eq!(published["type"], "fixed");
        assert_eq!(published["combinesWith"]["orderDiscounts"], true);
    }
}
