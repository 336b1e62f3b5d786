//! Gameball's coupon API on the wire, in every dialect a merchant's client
//! may speak. A dialect parses a request into a typed
//! [`Command`](crate::adapter::ops::Command) and renders the operation's
//! [`Answer`](crate::adapter::ops::Answer) and its failures; it does no I/O.
//!
//! | dialect | who speaks it | file |
//! |---|---|---|
//! | [`Dialect::Seed`] | checkouts written from the seed pages (v4.0: `validCoupons`, `isValid`) | [`seed`] |
//! | [`Dialect::Published`] | Gameball's current v4.0 reference (`valid`, `coupon(s)`, `lockReference`) | [`published`] |
//! | [`Dialect::Hold`] | the v3.0 hold API (`holdReference`) | [`published`] |
//! | [`Dialect::Legacy`] | the SDK-era discount-coupon API (v2.0/v3.0, `hash`) | [`legacy`] |
//!
//! The v4 request bodies, shared by the first three, are in [`v4`]; the
//! rest of the coupon lifecycle (coupons from points, the customer's
//! coupons, automatic coupons, payments, refunds) in [`lifecycle`].

pub mod legacy;
pub mod lifecycle;
pub mod published;
pub mod seed;
pub mod v4;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::{Answer, Command};
use crate::adapter::routes::{Matched, Operation, Speaker};
use crate::config::{LockConfig, Messages, V4Dialect};
use crate::net::{Body, full};

/// A dialect of Gameball's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Seed,
    Published,
    Hold,
    Legacy,
}

impl Dialect {
    /// Who answers a route: the row's speaker, and for v4 rows the
    /// tenant's choice (`seed` when the caller names no tenant).
    pub fn for_route(speaker: Speaker, tenant: Option<V4Dialect>) -> Dialect {
        match (speaker, tenant) {
            (Speaker::TenantV4, Some(V4Dialect::Published)) => Dialect::Published,
            (Speaker::TenantV4, _) => Dialect::Seed,
            (Speaker::Hold, _) => Dialect::Hold,
            (Speaker::Legacy, _) => Dialect::Legacy,
        }
    }

    /// Parses a request for `op` into a command.
    pub fn parse(self, req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
        match self {
            Dialect::Legacy => legacy::parse(req, cx),
            _ => v4::parse(self, req, cx).map(|command| Parsed { command, proof: None }),
        }
    }

    /// The 200 answer's body.
    pub fn render(self, answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
        match self {
            Dialect::Seed => seed::render(answer, cx),
            Dialect::Published | Dialect::Hold => published::render(self, answer, cx),
            Dialect::Legacy => legacy::render(answer, cx),
        }
    }

    /// A failure's status, headers and body in this dialect.
    pub fn error(self, f: &Failure, request_id: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let (status, _) = f.kind.status_and_code();
        let body = match self {
            Dialect::Legacy | Dialect::Hold => legacy::error_body(f),
            Dialect::Seed | Dialect::Published => v4::error_body(f, request_id),
        };
        let mut headers = f.headers();
        headers.insert(header::CONTENT_TYPE, JSON_UTF8);
        (status, headers, body)
    }

    /// A failure as a whole response (pass-through and routing errors).
    pub fn error_response(self, f: &Failure, request_id: &str) -> Response<Body> {
        let (status, headers, body) = self.error(f, request_id);
        let mut res = Response::new(full(Bytes::from(body)));
        *res.status_mut() = status;
        *res.headers_mut() = headers;
        res
    }
}

pub const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// What a dialect reads from a request.
pub struct RequestView<'a> {
    pub matched: &'a Matched,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl RequestView<'_> {
    pub fn op(&self) -> Operation {
        self.matched.op()
    }

    /// A path parameter the route table guarantees.
    pub fn param(&self, name: &str) -> String {
        self.matched.param(name).unwrap_or_default().trim().to_owned()
    }
}

/// The tenant's settings a parse needs (money precision, lock limits).
pub struct ParseCtx<'a> {
    pub decimals: u32,
    pub locks: &'a LockConfig,
}

/// The tenant's settings a render needs.
pub struct RenderCtx<'a> {
    pub decimals: u32,
    pub messages: &'a Messages,
    /// The single and the list validation answer in different shapes.
    pub op: Operation,
}

/// A parsed request, and the body's proof of the secret key when the
/// dialect carries one (the SDK-era `hash`).
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    pub proof: Option<HashProof>,
}

/// `hash` = lowercase hex SHA-1 of `"{playerUniqueId}:::{secretKey}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashProof {
    pub player: String,
    pub hash: String,
}

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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CombinesWith {
    pub order_discounts: bool,
    pub product_discounts: bool,
    pub shipping_discounts: bool,
}

/// Gameball's `Coupon` object (validate, lock details), as the seed dialect
/// writes it: absent values are `null`. The published dialect leaves them
/// out (its schema says string or number).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: crate::money::DecimalNumber,
    pub usage_limit: Option<i64>,
    pub limit_per_customer: Option<i64>,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub capping: crate::money::DecimalNumber,
    pub min_reward: crate::money::DecimalNumber,
    pub min_order_value: crate::money::DecimalNumber,
    pub entitled_product_ids: Vec<String>,
    pub entitled_variant_ids: Vec<String>,
    pub entitled_collection_ids: Vec<String>,
    pub entitled_merchant_ids: Vec<String>,
    pub combines_with: CombinesWith,
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

/// JSON bytes of an answer.
pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    serde_json::to_vec(value).map_err(|e| Failure::internal(format!("cannot encode the answer: {e}")))
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

    #[test]
    fn v4_routes_follow_the_tenant_and_older_ones_their_own_dialect() {
        assert_eq!(Dialect::for_route(Speaker::TenantV4, None), Dialect::Seed);
        assert_eq!(
            Dialect::for_route(Speaker::TenantV4, Some(V4Dialect::Published)),
            Dialect::Published
        );
        assert_eq!(Dialect::for_route(Speaker::Hold, Some(V4Dialect::Seed)), Dialect::Hold);
        assert_eq!(Dialect::for_route(Speaker::Legacy, None), Dialect::Legacy);
    }
}
