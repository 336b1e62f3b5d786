//! The lock's state machine, as plain functions over a record: the memory
//! store runs these under its mutex, and each has a Lua twin in
//! `lua/` that Redis runs atomically. The same behaviour suite runs
//! against both stores.
//!
//! ```text
//!   locked ──burn/order──▶ burning ──Voucherify redeemed──▶ used
//!     │  ▲                    │
//!     │  └──refused (4xx)─────┘   (an unknown outcome keeps `burning`; the
//!     │                             lease lets a retry take over and
//!     ├──release──▶ released         reconcile with Voucherify first)
//!     └──a burn or release after expiry──▶ expired
//! ```

use std::time::Duration;

use super::LockRecord;
use crate::clock::Millis;
use crate::domain::LockState;

/// The answer to "may this attempt burn the lock?".
#[derive(Debug, Clone, PartialEq)]
pub enum UseStart {
    /// It was `locked`; this attempt now owns it.
    Started(LockRecord),
    /// A previous attempt's lease ran out with its outcome unknown; this
    /// attempt owns it now and must first ask Voucherify whether the
    /// previous one (`record.used_by`, as it was) redeemed.
    Resumed(LockRecord),
    /// Another attempt is under way.
    Busy,
    /// Used, released, or expired: nothing to burn. `newly_expired` is true
    /// for the one call that found it expired first.
    Refused {
        record: LockRecord,
        newly_expired: bool,
    },
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseStart {
    /// It was `locked`: now `released`.
    Released(LockRecord),
    /// Already released or expired (`newly_expired` for the first call to
    /// find it so): nothing locked any more, the same answer again.
    Ended {
        record: LockRecord,
        newly_expired: bool,
    },
    /// It was burned.
    Used(LockRecord),
    /// A burn is under way (`stale`: its lease ran out, outcome unknown).
    Burning {
        stale: bool,
    },
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Relock {
    Updated,
    /// Used, released, burning or expired meanwhile.
    NotLocked,
    Missing,
}

/// A live lock's new terms after re-validation.
pub struct NewTerms<'a> {
    pub codes: &'a [String],
    pub amount: Option<i64>,
    pub expires_at: Millis,
    /// How long the record is kept from now.
    pub keep: Duration,
}

/// Who is burning a lock: the attempt, the Voucherify order it redeems on,
/// and the merchant's transaction id. `order: None` keeps the previous
/// attempt's order and transaction (a reconciliation that only settles what
/// that attempt did).
#[derive(Debug, Clone, Copy)]
pub struct Burner<'a> {
    pub attempt: &'a str,
    pub lease_until: Millis,
    pub order: Option<&'a str>,
    pub transaction_id: Option<&'a str>,
}

fn take_over(rec: &mut LockRecord, b: &Burner<'_>) {
    rec.lease_until = Some(b.lease_until);
    rec.attempt = Some(b.attempt.to_owned());
    if let Some(order) = b.order {
        rec.used_by = Some(order.to_owned());
        rec.transaction_id = b.transaction_id.map(str::to_owned);
    }
}

pub(super) fn begin_use(rec: &mut LockRecord, now: Millis, b: &Burner<'_>) -> UseStart {
    match rec.state {
        LockState::Locked if rec.expires_at <= now => {
            rec.state = LockState::Expired;
            UseStart::Refused {
                record: rec.clone(),
                newly_expired: true,
            }
        }
        LockState::Locked => {
            rec.state = LockState::Burning;
            take_over(rec, b);
            UseStart::Started(rec.clone())
        }
        LockState::Burning if rec.lease_until.unwrap_or(0) > now => UseStart::Busy,
        LockState::Burning => {
            let previous = rec.clone();
            take_over(rec, b);
            UseStart::Resumed(previous)
        }
        LockState::Used | LockState::Released | LockState::Expired => UseStart::Refused {
            record: rec.clone(),
            newly_expired: false,
        },
    }
}

pub(super) fn finish_use(rec: &mut LockRecord, attempt: &str, now: Millis, used: bool) -> bool {
    if rec.state != LockState::Burning || rec.attempt.as_deref() != Some(attempt) {
        return false;
    }
    if used {
        rec.state = LockState::Used;
        rec.used_at = Some(now);
    } else {
        rec.state = LockState::Locked;
    }
    rec.lease_until = None;
    rec.attempt = None;
    true
}

pub(super) fn release(rec: &mut LockRecord, now: Millis) -> ReleaseStart {
    match rec.state {
        LockState::Locked if rec.expires_at <= now => {
            rec.state = LockState::Expired;
            ReleaseStart::Ended {
                record: rec.clone(),
                newly_expired: true,
            }
        }
        LockState::Locked => {
            rec.state = LockState::Released;
            rec.released_at = Some(now);
            ReleaseStart::Released(rec.clone())
        }
        LockState::Burning => ReleaseStart::Burning {
            stale: rec.lease_until.unwrap_or(0) <= now,
        },
        LockState::Used => ReleaseStart::Used(rec.clone()),
        LockState::Released | LockState::Expired => ReleaseStart::Ended {
            record: rec.clone(),
            newly_expired: false,
        },
    }
}

/// A re-lock holds the lock as `burning` under its attempt (so no burn,
/// order or release interleaves with it) and ends here: the new terms, and
/// `locked` again.
pub(super) fn relock(rec: &mut LockRecord, attempt: &str, terms: &NewTerms<'_>) -> Relock {
    if rec.state != LockState::Burning || rec.attempt.as_deref() != Some(attempt) {
        return Relock::NotLocked;
    }
    rec.codes = terms.codes.to_vec();
    rec.amount_minor = terms.amount;
    rec.expires_at = terms.expires_at;
    rec.state = LockState::Locked;
    rec.lease_until = None;
    rec.attempt = None;
    Relock::Updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::record::sample as rec;

    #[test]
    fn a_burn_owns_the_lock_until_it_finishes_or_its_lease_ends() {
        let mut r = rec();
        let burner = |attempt, lease_until, order| Burner {
            attempt,
            lease_until,
            order,
            transaction_id: order.map(|_| "tx"),
        };
        assert!(matches!(
            begin_use(&mut r, 10, &burner("a1", 20, Some("cb-r"))),
            UseStart::Started(_)
        ));
        assert_eq!(begin_use(&mut r, 11, &burner("a2", 21, Some("cb-r"))), UseStart::Busy);
        assert!(matches!(release(&mut r, 12), ReleaseStart::Burning { stale: false }));
        assert!(!finish_use(&mut r, "a2", 13, true), "only the owner finishes");
        // The first attempt went silent; after its lease a retry takes over,
        // keeping the first attempt's order and transaction.
        let resumed = begin_use(&mut r, 25, &burner("a3", 35, None));
        assert!(matches!(resumed, UseStart::Resumed(prev) if prev.attempt.as_deref() == Some("a1")));
        assert!(finish_use(&mut r, "a3", 26, true));
        assert_eq!(r.state, LockState::Used);
        assert_eq!(
            (r.used_by.as_deref(), r.transaction_id.as_deref()),
            (Some("cb-r"), Some("tx"))
        );
        let again = begin_use(&mut r, 27, &burner("a4", 37, Some("cb-r")));
        assert!(matches!(
            again,
            UseStart::Refused {
                newly_expired: false,
                ..
            }
        ));
        assert!(matches!(release(&mut r, 28), ReleaseStart::Used(_)));
    }

    #[test]
    fn a_refused_burn_returns_the_lock() {
        let mut r = rec();
        let b = Burner {
            attempt: "a1",
            lease_until: 20,
            order: Some("cb-r"),
            transaction_id: None,
        };
        begin_use(&mut r, 10, &b);
        assert!(finish_use(&mut r, "a1", 11, false));
        assert_eq!(r.state, LockState::Locked);
        assert!(matches!(release(&mut r, 12), ReleaseStart::Released(_)));
        assert!(matches!(
            release(&mut r, 13),
            ReleaseStart::Ended {
                newly_expired: false,
                ..
            }
        ));
    }

    #[test]
    fn expiry_is_found_once() {
        let mut r = rec();
        assert!(matches!(
            release(&mut r, 100),
            ReleaseStart::Ended {
                newly_expired: true,
                ..
            }
        ));
        assert!(matches!(
            release(&mut r, 101),
            ReleaseStart::Ended {
                newly_expired: false,
                ..
            }
        ));
        let b = Burner {
            attempt: "a",
            lease_until: 110,
            order: Some("x"),
            transaction_id: None,
        };
        assert!(matches!(
            begin_use(&mut r, 102, &b),
            UseStart::Refused {
                newly_expired: false,
                ..
            }
        ));
        assert!(r.summary().is_expired(50), "marked expired stays expired");
    }

    #[test]
    fn relock_ends_only_its_own_hold() {
        let mut r = rec();
        let codes = vec!["C".to_string()];
        let terms = |expires_at| NewTerms {
            codes: &codes,
            amount: None,
            expires_at,
            keep: Duration::ZERO,
        };
        assert_eq!(relock(&mut r, "a1", &terms(200)), Relock::NotLocked, "not held");
        let hold = |attempt| Burner {
            attempt,
            lease_until: 50,
            order: None,
            transaction_id: None,
        };
        assert!(matches!(begin_use(&mut r, 10, &hold("a1")), UseStart::Started(_)));
        assert_eq!(
            relock(&mut r, "a2", &terms(200)),
            Relock::NotLocked,
            "another attempt's hold"
        );
        assert_eq!(relock(&mut r, "a1", &terms(200)), Relock::Updated);
        assert_eq!(
            (r.codes.clone(), r.expires_at, r.state),
            (codes.clone(), 200, LockState::Locked)
        );
        assert!(r.attempt.is_none() && r.lease_until.is_none());
        release(&mut r, 11);
        assert_eq!(relock(&mut r, "a1", &terms(300)), Relock::NotLocked);
    }
}
