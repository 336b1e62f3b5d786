//! What an operation gives back, for the dialect to write.

use crate::clock::Millis;
use crate::money::DecimalNumber;

use super::{CouponTerms, LockSummary, Outcome};

/// One coupon's verdict, with its terms when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// `None` when not asked for, or when the coupon service does not know
    /// the code.
    pub terms: Option<CouponTerms>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub customer_id: String,
    /// The lock covering the applicable coupons, if one was taken.
    pub reference: Option<String>,
    pub expires_at: Option<Millis>,
    pub verdicts: Vec<Verdict>,
    pub amount_known: bool,
    /// Gameball's answer for the coupons Voucherify did not have
    /// (`[migration] coupon_fallback`), for the dialect to merge in.
    pub gameball: Option<GameballPart>,
}

/// Gameball's answer about some of a validation's coupons.
#[derive(Debug, Clone, PartialEq)]
pub struct GameballPart {
    /// The codes Gameball was asked about.
    pub codes: Vec<String>,
    pub body: Vec<u8>,
    /// The reference the merged answer names for Gameball's coupons:
    /// couponbridge's when its lock stands for both sides, else Gameball's
    /// own (or none).
    pub reference: Option<String>,
}

impl Validation {
    pub fn all_valid(&self) -> bool {
        self.all_valid_but(&[])
    }

    /// Every verdict valid, leaving out `codes` (those Gameball answers).
    pub fn all_valid_but(&self, codes: &[String]) -> bool {
        self.verdicts
            .iter()
            .filter(|v| !codes.iter().any(|c| c == v.outcome.code()))
            .all(|v| matches!(v.outcome, Outcome::Applicable(_)))
    }
}

/// A lock, its coupons' terms, and the time it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct LockView {
    pub lock: LockSummary,
    pub coupons: Vec<CouponTerms>,
    pub now: Millis,
    /// Gameball's own details of the coupons it holds for this lock, when
    /// the lock stands for both sides.
    pub gameball: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub at: Millis,
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Burned {
    pub at: Millis,
    pub transaction_id: Option<String>,
    pub transaction_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeRedeemed {
    pub customer_id: String,
    pub code: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CouponCreated {
    pub customer_id: String,
    pub coupon: CouponTerms,
}

/// The coupon a reward published to the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedCoupon {
    pub code: String,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
}

/// One coupon of a customer's wallet, in Gameball's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct WalletCoupon {
    pub name: String,
    pub code: String,
    pub value: DecimalNumber,
    /// Gameball's display name (`Percentage`, `Fixed Rate Discount`...).
    pub kind: &'static str,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub is_expired: bool,
    pub is_active: bool,
    pub usage_limit: Option<i64>,
    pub used_count: i64,
    pub customer_used_count: i64,
    pub is_available_to_use: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscountedItem {
    pub product_id: String,
    pub quantity: Option<i64>,
    pub discount_minor: i64,
    pub price_minor: Option<i64>,
}

/// The promotion an automatic-coupon call applies.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedPromotion {
    pub name: String,
    pub discount_minor: i64,
    /// `shipping`, `fixed`, `percentage`, `product`.
    pub discount_type: &'static str,
    pub items: Vec<DiscountedItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refunded {
    /// couponbridge's id for the reversal (Gameball's `gameballTransactionId`).
    pub transaction_id: String,
    pub refund_id: String,
    pub reverse_id: String,
    pub amount_minor: Option<i64>,
    pub at: Millis,
    pub cancel: bool,
}

/// Gameball's answer to a call passed on to it, for the merchant as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct GameballAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An operation's result, for the dialect to render.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Validated(Validation),
    LockDetails(LockView),
    Released(Released),
    Burned(Burned),
    Ordered {
        customer_id: String,
    },
    Paid {
        customer_id: String,
    },
    CodeRedeemed(CodeRedeemed),
    CouponCreated(CouponCreated),
    CouponIssued(IssuedCoupon),
    CustomerCoupons(Vec<WalletCoupon>),
    Automatic(Option<AppliedPromotion>),
    Refunded(Refunded),
    /// The order went on to Gameball: its answer is the merchant's.
    PassedOn(GameballAnswer),
}
