//! Every way a Gameball call can fail, in pingora's manner: what the
//! merchant is told ([`Kind`], and the one place that maps it to an HTTP
//! status and Gameball code), where the failure came from ([`Origin`]), the
//! call that failed (`voucherify.validate`, `store.claim`…), whether the
//! same request may safely be sent again ([`Retry`], decided where that is
//! known, never derived from the status), and the underlying error as a
//! [`std::error::Error::source`] chain for the log. Each dialect writes the
//! body (`crate::gameball::errors`); the chain never reaches the merchant.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode, header};

/// An error of any kind, as a cause.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Where a failure came from (pingora's `ErrorSource`): whose fault the log
/// line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The merchant's request was wrong.
    Merchant,
    /// Voucherify failed, refused us, or could not be reached.
    Voucherify,
    /// The lock store failed.
    LockStore,
    /// Gameball (`[passthrough] upstream`) failed or could not be reached.
    Gameball,
    /// couponbridge itself.
    Internal,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Merchant => "merchant",
            Origin::Voucherify => "voucherify",
            Origin::LockStore => "lock_store",
            Origin::Gameball => "gameball",
            Origin::Internal => "internal",
        }
    }
}

/// Whether the merchant may send the same request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Safe, and it may succeed: nothing was done, or what may have been
    /// done is reconciled before anything is done again.
    Safe,
    /// It would fail the same way (the request itself is wrong, or the
    /// deployment is), or it could do the work a second time.
    No,
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
    /// A write a dry run (shadow mode) withholds: what it would answer
    /// cannot be known without making it. Never sent to a merchant.
    Withheld,
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
            Kind::UpstreamMisconfigured | Kind::Withheld | Kind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, 5000),
        }
    }
}

/// A cause given as text (no error value to keep).
#[derive(Debug)]
struct Note(String);

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Note {}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    pub origin: Origin,
    /// The call that failed (`voucherify.redeem`, `store.begin_use`), when
    /// one did.
    pub call: Option<&'static str>,
    pub retry: Retry,
    /// What the merchant reads: never a secret, a reference or a cause.
    pub message: String,
    /// Seconds, for `Retry-After` (Voucherify's own rate limit).
    pub retry_after: Option<u64>,
    cause: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Failure {
    pub fn new(kind: Kind, origin: Origin, message: impl Into<String>) -> Self {
        Failure {
            kind,
            origin,
            call: None,
            retry: Retry::No,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// The merchant's request is wrong: sending it again fails again.
    pub fn client(kind: Kind, message: impl Into<String>) -> Self {
        Self::new(kind, Origin::Merchant, message)
    }

    pub fn missing(field: &str) -> Self {
        Self::client(Kind::MissingField, format!("Missing required argument: {field}"))
    }

    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        Self::client(Kind::InvalidValue, format!("Invalid value for {field}: {why}"))
    }

    /// The reference is not repeated: lock references are capabilities,
    /// and messages reach logs.
    pub fn lock_not_found() -> Self {
        Self::client(Kind::NotFound, "The lock reference was not found")
    }

    /// Another call holds what this one needs; the same call succeeds once
    /// it is done.
    pub fn in_progress(what: &str) -> Self {
        Self::client(Kind::InProgress, format!("{what} is being processed; retry shortly")).retry(Retry::Safe)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, Origin::Internal, message)
    }

    /// The underlying error, kept as this failure's `source()`.
    pub fn caused_by(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// A cause already boxed (as hyper and the body readers give them).
    pub fn caused_by_box(mut self, cause: BoxError) -> Self {
        self.cause = Some(Arc::from(cause));
        self
    }

    /// A cause known only as text.
    pub fn because(self, cause: impl Into<String>) -> Self {
        self.caused_by(Note(cause.into()))
    }

    pub fn at(mut self, call: &'static str) -> Self {
        self.call = Some(call);
        self
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn retryable(&self) -> bool {
        self.retry == Retry::Safe
    }

    /// The failure with its whole cause chain, for the log line:
    /// `voucherify.validate: The coupon service is unavailable; retry later:
    /// Voucherify validate: no answer in time`.
    pub fn chain(&self) -> Chain<'_> {
        Chain(self)
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

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// See [`Failure::chain`].
pub struct Chain<'a>(&'a Failure);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(call) = self.0.call {
            write!(f, "{call}: ")?;
        }
        f.write_str(&self.0.message)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn too_large_closes_the_connection() {
        let f = Failure::client(Kind::TooLarge, "big");
        assert_eq!(f.kind.status_and_code().0, 413);
        assert_eq!(f.headers()[header::CONNECTION], "close");
        assert!(!f.retryable());
    }

    #[test]
    fn the_chain_names_the_call_and_every_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let f = Failure::new(
            Kind::StoreUnavailable,
            Origin::LockStore,
            "The lock store is unavailable",
        )
        .at("store.claim")
        .caused_by(io)
        .retry(Retry::Safe);
        assert_eq!(
            f.chain().to_string(),
            "store.claim: The lock store is unavailable: refused"
        );
        assert_eq!(
            f.to_string(),
            "The lock store is unavailable",
            "the merchant's text alone"
        );
        assert!(f.source().is_some() && f.retryable());
        let plain = Failure::internal("boom").because("a reason");
        assert_eq!(plain.chain().to_string(), "boom: a reason");
    }
}
