//! The vocabulary every layer shares: the operations a Gameball client can
//! ask for ([`Operation`]), the typed commands a dialect parses a request
//! into ([`Command`]), the answers an operation gives back ([`Answer`]),
//! each coupon's verdict ([`Outcome`], [`InvalidReason`]), a coupon's
//! terms ([`CouponTerms`]) and what a lock looks like from outside
//! ([`LockSummary`]).
//!
//! Plain data: no serde, no I/O, no wire names. The dialects in
//! `crate::gameball` turn Gameball's bodies into these and back; the
//! operations in `crate::ops` turn them into Voucherify calls and lock
//! records. Neither knows the other.

mod answers;
mod commands;
mod coupon;
mod lock;
mod operation;
mod outcome;

pub use answers::*;
pub use commands::*;
pub use coupon::{CombinesWith, CouponTerms, discount_type};
pub use lock::{LockState, LockSummary};
pub use operation::Operation;
pub use outcome::{Applicable, FaceValue, InvalidReason, Outcome};
