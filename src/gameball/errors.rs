//! A failure as the merchant's client expects it: the v4 envelope (seed and
//! published), or the `{code, message}` of the v3.0 hold and SDK-era APIs.
//! The status and v4 code come from the one mapping in `crate::error`.

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use serde::Serialize;

use super::request::{Dialect, JSON_UTF8};
use crate::error::{Failure, Kind};
use crate::net::{Body, full};

/// Gameball's documentation link in every v4 error body.
pub const DOCUMENTATION_URL: &str = "https://docs.gameball.co/api-reference/introduction";

/// A failure's status, headers and body in `dialect`.
pub fn error(dialect: Dialect, f: &Failure, request_id: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let (status, _) = f.kind.status_and_code();
    let body = match dialect {
        Dialect::Legacy | Dialect::Hold => legacy_body(f),
        Dialect::Seed | Dialect::Published => envelope(f, request_id),
    };
    let mut headers = f.headers();
    headers.insert(header::CONTENT_TYPE, JSON_UTF8);
    (status, headers, body)
}

/// A failure as a whole response (pass-through and routing errors).
pub fn error_response(dialect: Dialect, f: &Failure, request_id: &str) -> Response<Body> {
    let (status, headers, body) = error(dialect, f, request_id);
    let mut res = Response::new(full(Bytes::from(body)));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// Gameball's v4 error envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    code: u16,
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
    documentation_url: &'static str,
    request_id: &'a str,
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

fn envelope(f: &Failure, request_id: &str) -> Vec<u8> {
    let (_, code) = f.kind.status_and_code();
    // Strings and numbers only: encoding cannot fail.
    serde_json::to_vec(&Envelope {
        code,
        kind: error_type(code),
        message: &f.message,
        documentation_url: DOCUMENTATION_URL,
        request_id,
    })
    .unwrap_or_default()
}

/// The legacy code for a failure: Gameball's v2/v3 table (3 Not Found, 4
/// Missing Arguments, 7 Invalid Value, 10 Forbidden (keys), 11 Hash
/// Invalid, 14 Name Already Exists, 305 Transaction ID Already Exists, 13
/// Something Wrong); where it has no row, the closest one.
pub fn legacy_code(kind: Kind) -> u16 {
    match kind {
        Kind::Unauthorized | Kind::SecretRequired => 10,
        Kind::HashInvalid => 11,
        Kind::MissingField => 4,
        Kind::MalformedJson
        | Kind::InvalidValue
        | Kind::TooLarge
        | Kind::BodyTimeout
        | Kind::CouponRefused
        | Kind::LockEnded
        | Kind::InsufficientPoints => 7,
        Kind::NotFound | Kind::TransactionNotFound | Kind::CustomerNotFound => 3,
        Kind::AlreadyExists => 14,
        Kind::DuplicateOrder | Kind::AlreadyReversed | Kind::NotReversible => 305,
        Kind::InProgress
        | Kind::UpstreamUnavailable
        | Kind::UpstreamMisconfigured
        | Kind::StoreUnavailable
        | Kind::Withheld
        | Kind::Internal => 13,
    }
}

#[derive(Serialize)]
struct LegacyError<'a> {
    code: u16,
    message: &'a str,
}

fn legacy_body(f: &Failure) -> Vec<u8> {
    serde_json::to_vec(&LegacyError {
        code: legacy_code(f.kind),
        message: &f.message,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn the_envelope_names_the_category_and_the_request() {
        let (status, headers, body) = error(Dialect::Seed, &Failure::client(Kind::NotFound, "m"), "rid");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"code": 4004, "type": "GENERAL_ERROR", "message": "m",
                   "documentationUrl": DOCUMENTATION_URL, "requestId": "rid"})
        );
        assert_eq!((status.as_u16(), &headers[header::CONTENT_TYPE]), (404, &JSON_UTF8));
    }

    #[test]
    fn legacy_errors_carry_code_and_message() {
        let (_, _, body) = error(
            Dialect::Legacy,
            &Failure::client(Kind::HashInvalid, "The hash is not valid"),
            "rid",
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"code": 11, "message": "The hash is not valid"})
        );
    }
}
