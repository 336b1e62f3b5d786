//! Every way a Gameball call can fail, where the failure came from, and
//! the one place that turns a failure into Gameball's v4 error envelope.

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::gameball::{DOCUMENTATION_URL, ErrorEnvelope, error_type};
use crate::locks::StoreError;
use crate::net::{Body, json_bytes_response};
use crate::voucherify::client::{ErrorKind as UpstreamKind, UpstreamError};

/// Where a failure came from (pingora's `ErrorSource`): it decides whose
/// fault the log line names and whether the client should retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The request was wrong; retrying it unchanged will fail again.
    Client,
    /// Voucherify failed or could not be reached.
    Upstream,
    /// The lock store failed.
    Store,
    /// couponbridge itself.
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No or unknown `apikey`, or a wrong `secretkey`.
    Unauthorized,
    SecretRequired,
    MalformedJson,
    MissingField,
    InvalidValue,
    TooLarge,
    NotFound,
    /// The lock was used, released or has expired.
    LockEnded,
    /// Another operation on the same lock or order is under way.
    InProgress,
    DuplicateOrder,
    /// Voucherify unreachable, timing out, 5xx or rate limiting us.
    UpstreamUnavailable,
    /// Voucherify refused our credentials or request: a deployment problem.
    UpstreamMisconfigured,
    StoreUnavailable,
    Internal,
}

impl Kind {
    /// The one mapping from failure to HTTP status and Gameball code (the
    /// error table in Gameball's docs; 413 uses 3011 "Limit Exceed").
    pub fn status_and_code(self) -> (StatusCode, u16) {
        match self {
            Kind::Unauthorized => (StatusCode::UNAUTHORIZED, 1000),
            Kind::SecretRequired => (StatusCode::UNAUTHORIZED, 1001),
            Kind::MalformedJson => (StatusCode::BAD_REQUEST, 3016),
            Kind::MissingField => (StatusCode::BAD_REQUEST, 3000),
            Kind::InvalidValue => (StatusCode::UNPROCESSABLE_ENTITY, 3003),
            Kind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, 3011),
            Kind::NotFound => (StatusCode::NOT_FOUND, 4004),
            Kind::LockEnded => (StatusCode::BAD_REQUEST, 4000),
            Kind::InProgress => (StatusCode::UNPROCESSABLE_ENTITY, 2001),
            Kind::DuplicateOrder => (StatusCode::UNPROCESSABLE_ENTITY, 9004),
            Kind::UpstreamUnavailable | Kind::StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, 5003),
            Kind::UpstreamMisconfigured | Kind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, 5000),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    pub source: Source,
    pub message: String,
    /// Seconds, for `Retry-After` (Voucherify's own rate limit).
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(kind: Kind, source: Source, message: impl Into<String>) -> Self {
        Failure {
            kind,
            source,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn client(kind: Kind, message: impl Into<String>) -> Self {
        Self::new(kind, Source::Client, message)
    }

    pub fn missing(field: &str) -> Self {
        Self::client(Kind::MissingField, format!("Missing required argument: {field}"))
    }

    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        Self::client(Kind::InvalidValue, format!("Invalid value for {field}: {why}"))
    }

    /// The reference is not repeated: lock references are capabilities,
    /// and messages reach logs.
    pub fn lock_not_found() -> Self {
        Self::client(Kind::NotFound, "The lock reference was not found")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, Source::Internal, message)
    }

    /// Gameball's envelope, with the status the kind maps to.
    pub fn to_response(&self, request_id: &str) -> Response<Body> {
        let (status, headers, body) = self.parts(request_id);
        let mut res = json_bytes_response(status, body);
        res.headers_mut().extend(headers);
        res
    }

    /// The status, the headers besides `Content-Type`, and the envelope's
    /// bytes: for callers that record the answer before sending it.
    pub fn parts(&self, request_id: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let (status, code) = self.kind.status_and_code();
        let envelope = ErrorEnvelope {
            code,
            kind: error_type(code),
            message: self.message.clone(),
            documentation_url: DOCUMENTATION_URL,
            request_id: request_id.to_owned(),
        };
        // Strings and numbers only: encoding cannot fail.
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.kind == Kind::TooLarge {
            // The unread rest of the body must not be parsed as the next
            // request on this connection.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        (status, headers, body)
    }
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Self {
        let (kind, message) = match &e.kind {
            UpstreamKind::Unauthorized(_) => (
                Kind::UpstreamMisconfigured,
                "The coupon service refused couponbridge's credentials".to_owned(),
            ),
            UpstreamKind::Unexpected(..) => (
                Kind::UpstreamMisconfigured,
                "The coupon service could not process the request".to_owned(),
            ),
            _ => (
                Kind::UpstreamUnavailable,
                "The coupon service is unavailable; retry later".to_owned(),
            ),
        };
        let mut f = Failure::new(kind, Source::Upstream, message);
        if let UpstreamKind::RateLimited(secs) = e.kind {
            f.retry_after = secs.or(Some(1));
        }
        f
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Failure::new(
                Kind::StoreUnavailable,
                Source::Store,
                "The lock store is unavailable; retry later",
            ),
            StoreError::Corrupt(_) | StoreError::Config(_) => Failure::new(
                Kind::Internal,
                Source::Store,
                "The lock store returned an unreadable record",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voucherify::client::Op;

    #[test]
    fn the_error_table_rows_map_to_gameballs_statuses_and_codes() {
        for (kind, status, code) in [
            (Kind::Unauthorized, 401, 1000),
            (Kind::SecretRequired, 401, 1001),
            (Kind::MalformedJson, 400, 3016),
            (Kind::MissingField, 400, 3000),
            (Kind::NotFound, 404, 4004),
            (Kind::UpstreamUnavailable, 503, 5003),
            (Kind::DuplicateOrder, 422, 9004),
            (Kind::TooLarge, 413, 3011),
        ] {
            let (s, c) = kind.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code), "{kind:?}");
        }
    }

    #[test]
    fn upstream_failures_become_5003_with_retry_after_when_rate_limited() {
        let f: Failure = UpstreamError {
            op: Op::Validate,
            kind: UpstreamKind::RateLimited(Some(7)),
        }
        .into();
        let res = f.to_response("rid");
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[header::RETRY_AFTER], "7");
        let timeout: Failure = UpstreamError {
            op: Op::Validate,
            kind: UpstreamKind::Timeout,
        }
        .into();
        assert_eq!(timeout.kind, Kind::UpstreamUnavailable);
        assert_eq!(timeout.source, Source::Upstream);
    }

    #[test]
    fn too_large_closes_the_connection() {
        let res = Failure::client(Kind::TooLarge, "big").to_response("r");
        assert_eq!(res.status(), 413);
        assert_eq!(res.headers()[header::CONNECTION], "close");
    }
}
