//! How a Voucherify call fails: the call, what went wrong, whether the
//! request may have reached Voucherify, and the transport error beneath it.

use std::fmt;

use super::op::Op;
use crate::error::{BoxError, Failure, Kind, Origin, Retry};
use crate::voucherify::ErrorObject;

#[derive(Debug)]
pub enum ErrorKind {
    /// The connection could not be made: nothing reached Voucherify.
    Connect,
    /// No answer within the tenant's timeout: the outcome is unknown.
    Timeout,
    /// The connection broke after the request was sent: outcome unknown.
    Transport,
    /// 429, with the `Retry-After` seconds when given.
    RateLimited(Option<u64>),
    /// 5xx.
    Unavailable(u16),
    /// 401/403: our credentials were refused (a configuration problem).
    Unauthorized(u16),
    /// Another status this call does not expect.
    Unexpected(u16, Option<Box<ErrorObject>>),
    /// A 2xx whose body could not be read.
    BadResponse(String),
    /// Not sent: a dry run (shadow mode) makes no writes, and this one's
    /// answer cannot be worked out without making it.
    Withheld(&'static str),
}

#[derive(Debug)]
pub struct UpstreamError {
    pub op: Op,
    pub kind: ErrorKind,
    /// The transport error beneath a connect or transport failure.
    pub source: Option<BoxError>,
}

impl UpstreamError {
    pub fn new(op: Op, kind: ErrorKind) -> Self {
        UpstreamError { op, kind, source: None }
    }

    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether Voucherify may have acted on the request. Refusals before
    /// any work (no connection, 429, 401/403, a withheld write) are the
    /// only certain no's; a 5xx may come after the work was committed.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::Connect | ErrorKind::RateLimited(_) | ErrorKind::Unauthorized(_) | ErrorKind::Withheld(_)
        )
    }

    /// A short label for metrics.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::RateLimited(_) => "rate_limited",
            ErrorKind::Unavailable(_) => "unavailable",
            ErrorKind::Unauthorized(_) => "unauthorized",
            ErrorKind::Unexpected(..) => "unexpected_status",
            ErrorKind::BadResponse(_) => "bad_response",
            ErrorKind::Withheld(_) => "withheld",
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op.name();
        match &self.kind {
            ErrorKind::Connect => write!(f, "Voucherify {op}: cannot connect"),
            ErrorKind::Timeout => write!(f, "Voucherify {op}: no answer in time"),
            ErrorKind::Transport => write!(f, "Voucherify {op}: connection failed"),
            ErrorKind::RateLimited(_) => write!(f, "Voucherify {op}: rate limit reached"),
            ErrorKind::Unavailable(s) => write!(f, "Voucherify {op}: answered {s}"),
            ErrorKind::Unauthorized(s) => write!(f, "Voucherify {op}: credentials refused ({s})"),
            ErrorKind::Unexpected(s, e) => write!(
                f,
                "Voucherify {op}: unexpected {s} ({})",
                e.as_ref().and_then(|e| e.key.as_deref()).unwrap_or("no error key")
            ),
            ErrorKind::BadResponse(e) => write!(f, "Voucherify {op}: unreadable answer ({e})"),
            ErrorKind::Withheld(why) => write!(f, "Voucherify {op}: not sent in a dry run ({why})"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<UpstreamError> for Failure {
    /// The merchant may send the request again after anything Voucherify
    /// may still get right (every operation that writes reconciles first);
    /// not after a refusal that will repeat (our credentials, a request it
    /// cannot take). An operation that cannot reconcile says so itself.
    fn from(e: UpstreamError) -> Self {
        let (kind, message, retry) = match &e.kind {
            ErrorKind::Unauthorized(_) => (
                Kind::UpstreamMisconfigured,
                "The coupon service refused couponbridge's credentials",
                Retry::No,
            ),
            ErrorKind::Unexpected(..) | ErrorKind::BadResponse(_) => (
                Kind::UpstreamMisconfigured,
                "The coupon service could not process the request",
                Retry::No,
            ),
            ErrorKind::Withheld(_) => (Kind::Withheld, "A dry run does not make this call", Retry::No),
            _ => (
                Kind::UpstreamUnavailable,
                "The coupon service is unavailable; retry later",
                Retry::Safe,
            ),
        };
        let retry_after = match e.kind {
            ErrorKind::RateLimited(secs) => Some(secs.unwrap_or(1)),
            _ => None,
        };
        let mut f = Failure::new(kind, Origin::Voucherify, message)
            .at(e.op.call_name())
            .retry(retry);
        f.retry_after = retry_after;
        f.caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_before_any_work_are_certain() {
        let e = |kind| UpstreamError::new(Op::Redeem, kind);
        assert!(e(ErrorKind::Timeout).outcome_unknown());
        assert!(e(ErrorKind::Transport).outcome_unknown());
        assert!(e(ErrorKind::Unavailable(503)).outcome_unknown());
        assert!(!e(ErrorKind::Connect).outcome_unknown());
        assert!(!e(ErrorKind::RateLimited(Some(1))).outcome_unknown());
        assert!(!e(ErrorKind::Unauthorized(401)).outcome_unknown());
        assert!(!e(ErrorKind::Withheld("dry")).outcome_unknown());
    }

    #[test]
    fn upstream_failures_become_5003_with_retry_after_when_rate_limited() {
        let f: Failure = UpstreamError::new(Op::Validate, ErrorKind::RateLimited(Some(7))).into();
        assert_eq!(f.kind.status_and_code().0, 503);
        assert_eq!(f.headers()[http::header::RETRY_AFTER], "7");
        assert!(f.retryable());
        assert_eq!(f.call, Some("voucherify.validate"));
        assert_eq!(
            f.chain().to_string(),
            "voucherify.validate: The coupon service is unavailable; retry later: Voucherify validate: rate limit reached"
        );
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let connect: Failure = UpstreamError::new(Op::Redeem, ErrorKind::Connect)
            .with_source(refused)
            .into();
        assert_eq!(
            (connect.kind, connect.origin),
            (Kind::UpstreamUnavailable, Origin::Voucherify)
        );
        assert!(
            connect
                .chain()
                .to_string()
                .ends_with("cannot connect: connection refused"),
            "{}",
            connect.chain()
        );
        let creds: Failure = UpstreamError::new(Op::Validate, ErrorKind::Unauthorized(401)).into();
        assert!(!creds.retryable(), "our credentials stay wrong");
    }
}
