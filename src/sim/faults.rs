//! Injected upstream trouble, so the adapter's failure paths can be tested
//! (and merchants' CI can rehearse an outage) without a real Voucherify.
//!
//! Random shares suit load tests; `script` suits tests: its entries are used
//! one per matching request, in order, before any share is considered.

use std::collections::VecDeque;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally.
    Ok,
    /// Answer `error_status` (5xx) with Voucherify's error body.
    Error,
    /// Answer 429 with `Retry-After`.
    RateLimit,
    /// Close the connection without answering.
    Drop,
    /// Do the work, then close the connection without answering: the
    /// client cannot know the request succeeded.
    LoseAnswer,
    /// Hold the request unanswered until the faults are next set (a
    /// Voucherify that hangs), then answer normally.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every matching request is answered.
    pub latency_ms: u64,
    /// Share (0 to 1) of requests answered with `error_status`.
    pub error_rate: f64,
    pub error_status: u16,
    /// Share of requests answered 429.
    pub rate_limit_rate: f64,
    pub retry_after_secs: u64,
    /// Share of requests whose connection is dropped.
    pub drop_rate: f64,
    /// Faults used one per matching request, before the shares apply.
    pub script: VecDeque<Fault>,
    /// Only requests whose path starts with this are affected.
    pub path_prefix: Option<String>,
    /// Only requests with this method (`POST`) are affected, so a client
    /// that reads then writes one path can be refused the write alone.
    pub method: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 503,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            drop_rate: 0.0,
            script: VecDeque::new(),
            path_prefix: None,
            method: None,
        }
    }
}

impl Faults {
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0
            || self.error_rate > 0.0
            || self.rate_limit_rate > 0.0
            || self.drop_rate > 0.0
            || !self.script.is_empty()
    }

    pub fn check(&self) -> Result<(), String> {
        for (name, share) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        if !(500..=599).contains(&self.error_status) {
            return Err("error_status must be a 5xx status".into());
        }
        Ok(())
    }

    /// What to do with a `method` request to `path`: the delay, then the
    /// fault.
    pub fn decide(&mut self, method: &str, path: &str) -> (Duration, Fault) {
        if self.path_prefix.as_deref().is_some_and(|p| !path.starts_with(p))
            || self.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return (Duration::ZERO, Fault::Ok);
        }
        let delay = Duration::from_millis(self.latency_ms);
        if let Some(f) = self.script.pop_front() {
            return (delay, f);
        }
        let roll: f64 = rand::rng().random();
        let fault = if roll < self.drop_rate {
            Fault::Drop
        } else if roll < self.drop_rate + self.error_rate {
            Fault::Error
        } else if roll < self.drop_rate + self.error_rate + self.rate_limit_rate {
            Fault::RateLimit
        } else {
            Fault::Ok
        };
        (delay, fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_used_in_order_then_shares_apply() {
        let mut f = Faults {
            script: [Fault::Error, Fault::Drop].into(),
            ..Default::default()
        };
        assert_eq!(f.decide("POST", "/v1/validations").1, Fault::Error);
        assert_eq!(f.decide("POST", "/v1/validations").1, Fault::Drop);
        assert_eq!(f.decide("POST", "/v1/validations").1, Fault::Ok);
    }

    #[test]
    fn path_prefix_limits_the_faults() {
        let mut f = Faults {
            error_rate: 1.0,
            path_prefix: Some("/v1/redemptions".into()),
            ..Default::default()
        };
        assert_eq!(f.decide("POST", "/v1/validations").1, Fault::Ok);
        assert_eq!(f.decide("POST", "/v1/redemptions").1, Fault::Error);
    }

    #[test]
    fn method_limits_the_faults() {
        let mut f = Faults {
            script: [Fault::RateLimit].into(),
            path_prefix: Some("/v1/vouchers/IMP-1".into()),
            method: Some("POST".into()),
            ..Default::default()
        };
        assert_eq!(f.decide("GET", "/v1/vouchers/IMP-1").1, Fault::Ok);
        assert_eq!(f.decide("post", "/v1/vouchers/IMP-1").1, Fault::RateLimit);
        assert_eq!(f.decide("POST", "/v1/vouchers/IMP-1").1, Fault::Ok);
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused() {
        let f = Faults {
            drop_rate: 1.5,
            ..Default::default()
        };
        assert!(f.check().is_err());
        assert!(Faults::default().check().is_ok());
    }
}
