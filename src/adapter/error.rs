//! Every way a Gameball call can fail, where the failure came from and
//! why (pingora's error: source, cause, retry safety), and the one place
//! that maps a failure to an HTTP status. Each dialect in `crate::gameball`
//! writes the body: the v4 envelope or the legacy `{code, message}`.

use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::locks::StoreError;
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
    /// The body did not arrive within `body_read_timeout`.
    BodyTimeout,
    NotFound,
    /// The lock was used, released or has expired.
    LockEnded,
    /// Voucherify refused to redeem (or, for the SDK-era API, to validate)
    /// a coupon: expired, used up, not eligible...
    CouponRefused,
    /// A coupon with that code exists already.
    AlreadyExists,
    /// The body's `hash` (SDK-era API) does not match the secret key.
    HashInvalid,
    /// Another operation on the same lock or order is under way.
    InProgress,
    DuplicateOrder,
    /// No tracked order or payment with that id (refunds).
    TransactionNotFound,
    /// The order or payment was reversed already (by another refund).
    AlreadyReversed,
    /// Voucherify refuses to roll the redemption back (too old, say).
    NotReversible,
    /// The customer's loyalty card lacks the points a reward costs.
    InsufficientPoints,
    /// No loyalty card (or no customer) for this customer id.
    CustomerNotFound,
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
            // No Gameball code says "too slow"; the payload never came whole.
            Kind::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, 3016),
            Kind::NotFound => (StatusCode::NOT_FOUND, 4004),
            Kind::LockEnded | Kind::CouponRefused => (StatusCode::BAD_REQUEST, 4000),
            Kind::AlreadyExists => (StatusCode::UNPROCESSABLE_ENTITY, 3007),
            Kind::HashInvalid => (StatusCode::UNAUTHORIZED, 3005),
            Kind::InProgress => (StatusCode::UNPROCESSABLE_ENTITY, 2001),
            Kind::DuplicateOrder => (StatusCode::UNPROCESSABLE_ENTITY, 9004),
            Kind::TransactionNotFound => (StatusCode::NOT_FOUND, 9002),
            Kind::AlreadyReversed => (StatusCode::UNPROCESSABLE_ENTITY, 9001),
            Kind::NotReversible => (StatusCode::UNPROCESSABLE_ENTITY, 9000),
            Kind::InsufficientPoints => (StatusCode::UNPROCESSABLE_ENTITY, 9008),
            Kind::CustomerNotFound => (StatusCode::NOT_FOUND, 7000),
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
    /// What failed underneath, for the log (never for the client): which
    /// Voucherify or lock-store call, and how (connect, timeout, status).
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(kind: Kind, source: Source, message: impl Into<String>) -> Self {
        Failure {
            kind,
            source,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    pub fn caused_by(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Whether the client may send the same request again: nothing it sent
    /// was wrong, and every operation is safe to retry (redemptions are
    /// claimed and reconciled).
    pub fn retryable(&self) -> bool {
        self.kind.status_and_code().0.is_server_error() || self.kind == Kind::InProgress
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

    /// The headers an error answer carries besides `Content-Type`.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self.kind, Kind::TooLarge | Kind::BodyTimeout) {
            // The unread rest of the body must not be parsed as the next
            // request on this connection.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        headers
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
        let mut f = Failure::new(kind, Source::Upstream, message).caused_by(&e);
        if let UpstreamKind::RateLimited(secs) = e.kind {
            f.retry_after = secs.or(Some(1));
        }
        f
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let cause = e.to_string();
        match e {
            StoreError::Unavailable(_) => Failure::new(
                Kind::StoreUnavailable,
                Source::Store,
                "The lock store is unavailable; retry later",
            )
            .caused_by(cause),
            StoreError::Corrupt(_) | StoreError::Config(_) => Failure::new(
                Kind::Internal,
                Source::Store,
                "The lock store returned an unreadable record",
            )
            .caused_by(cause),
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
        assert_eq!(f.kind.status_and_code().0, 503);
        assert_eq!(f.headers()[header::RETRY_AFTER], "7");
        assert!(f.retryable());
        assert_eq!(f.cause.as_deref(), Some("Voucherify validate: rate limit reached"));
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
        let f = Failure::client(Kind::TooLarge, "big");
        assert_eq!(f.kind.status_and_code().0, 413);
        assert_eq!(f.headers()[header::CONNECTION], "close");
        assert!(!f.retryable());
    }
}
