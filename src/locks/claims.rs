//! Merchant operations claimed so they are carried out once: an order id, a
//! burn's transaction id, an SDK redemption, a payment, a reversal, a
//! coupon bought with points. A claim is taken with a lease before any
//! Voucherify write; an attempt whose answer was lost leaves it, and the
//! next one, once the lease is over, reconciles before it writes again.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Order,
    Burn,
    /// An SDK-era redemption of one code by one customer.
    Redeem,
    /// A payment with coupons (`paymentId`).
    Payment,
    /// The reversal of an order or payment (keyed by the original's id).
    Reversal,
    /// A coupon bought with points (customer + rule, or an idempotency key).
    Points,
    /// An order or payment passed on to Gameball after a retry (keyed by
    /// its kind and id): the pass-on that did not finish the first time.
    PassOn,
}

impl OpKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            OpKind::Order => "order",
            OpKind::Burn => "burn",
            OpKind::Redeem => "redeem",
            OpKind::Payment => "payment",
            OpKind::Reversal => "reversal",
            OpKind::Points => "points",
            OpKind::PassOn => "pass_on",
        }
    }
}

/// One attempt at a merchant operation (an order id, a burn transaction
/// id): what is claimed, by which attempt, and how long its outcome is kept.
#[derive(Debug, Clone, Copy)]
pub struct OpAttempt<'a> {
    pub tenant: &'a str,
    pub kind: OpKind,
    pub id: &'a str,
    pub attempt: &'a str,
    pub keep: Duration,
}

/// Claiming a merchant operation (an order id, a burn transaction id) so it
/// is carried out once.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Claimed,
    /// A previous attempt's lease ran out with its outcome unknown. `first`
    /// is the id of the attempt that opened the claim: it stays the same
    /// through every resumption, so an operation that names its work after
    /// it (a Voucherify order) finds all of it, however many attempts
    /// failed on the way.
    Resumed {
        first: String,
    },
    Busy,
    /// Done before; carries what that attempt stored.
    Done(String),
}

/// A merchant operation as [`Store::outcome`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum OpOutcome {
    /// Never claimed, or no longer kept.
    Unknown,
    /// Claimed, not settled: under way, or its outcome unknown.
    Pending,
    /// Done; what it stored.
    Done(String),
}
