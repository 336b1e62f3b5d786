//! The operations: typed commands in, domain results out (mini-redis's
//! `apply`). An operation knows nothing of Gameball's wire dialects: the
//! dialect in `crate::gameball` parses a request into a [`Command`] and
//! renders the [`Answer`]; what happens in Voucherify and the lock store is
//! here, one file per operation family.
//!
//! | command | file |
//! |---|---|
//! | [`Command::Validate`] (lock, re-lock, validate only) | [`validate`] |
//! | [`Command::LockDetails`] | [`details`] |
//! | [`Command::Release`] | [`release`] |
//! | [`Command::Burn`], [`Command::Order`] | [`redeem`] |
//! | [`Command::RedeemCode`], [`Command::CreateCoupon`] | [`coupon`] |
//! | [`Command::Payment`] | [`redeem`] (an order by another name) |
//! | [`Command::Predefined`] (coupon from points) | [`rewards`] |
//! | [`Command::CustomerCoupons`] | [`wallet`] |
//! | [`Command::Automatic`] | [`automatic`] |
//! | [`Command::Refund`] (refund, cancellation) | [`refund`] |

pub mod automatic;
pub mod coupon;
pub mod details;
pub mod redeem;
pub mod refund;
pub mod release;
pub mod rewards;
pub mod validate;
pub mod wallet;

use std::time::Duration;

use crate::adapter::Ctx;
use crate::adapter::error::Failure;
use crate::clock::Millis;
use crate::gameball::Coupon;
use crate::locks::LockRecord;
use crate::money::DecimalNumber;
use crate::translate::{Customer, Outcome};

/// Who a call is for: the merchant's customer id (exact text, never a
/// float) and the channel-merging fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerIds {
    pub id: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

impl CustomerIds {
    pub fn as_customer(&self) -> Customer<'_> {
        Customer {
            id: &self.id,
            email: self.email.as_deref(),
            mobile: self.mobile.as_deref(),
        }
    }
}

/// How a multiple validation treats a mix of valid and invalid coupons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid coupons are locked and returned beside the invalid ones
    /// (seed 004).
    Partial,
    /// Any invalid coupon fails the whole request and nothing is locked
    /// (the published reference: "validates all coupons atomically").
    Atomic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidateCmd {
    pub customer: CustomerIds,
    /// Trimmed, each once, in the order given; at least one.
    pub codes: Vec<String>,
    pub lock: bool,
    pub duration: Duration,
    /// Re-lock inside this existing lock (only with `lock`).
    pub relock: Option<String>,
    pub amount_minor: Option<i64>,
    pub validity: Validity,
    /// Read each coupon's definition (the full Coupon object) too.
    pub with_terms: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BurnTarget {
    Lock(String),
    Codes(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BurnCmd {
    pub customer: CustomerIds,
    pub target: BurnTarget,
    pub transaction_id: Option<String>,
    pub transaction_time: Option<String>,
}

/// What a tracked transaction is: Gameball's orders and payments redeem
/// alike, each once per id, in ids of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    Order,
    Payment,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderCmd {
    pub kind: Transaction,
    pub customer: CustomerIds,
    /// The `orderId` or `paymentId`.
    pub order_id: String,
    /// `totalPaid`: what a full refund gives back.
    pub paid_minor: Option<i64>,
    pub amount_minor: Option<i64>,
    pub shipping_minor: Option<i64>,
    pub reference: Option<String>,
    pub codes: Vec<String>,
}

/// One redemption of one code, no lock (the SDK-era `coupon/redeem`).
#[derive(Debug, Clone, PartialEq)]
pub struct RedeemCodeCmd {
    pub customer: CustomerIds,
    pub code: String,
}

/// How a created coupon discounts.
#[derive(Debug, Clone, PartialEq)]
pub enum DraftDiscount {
    /// Percent off, at most `cap_minor` when given.
    Percent {
        percent: DecimalNumber,
        cap_minor: Option<i64>,
    },
    /// An amount off, in minor units.
    Amount {
        minor: i64,
    },
    FreeShipping,
}

/// A new coupon (the SDK-era `coupon` create), in domain terms.
#[derive(Debug, Clone, PartialEq)]
pub struct CouponDraft {
    pub customer_id: String,
    /// `None`: Voucherify generates one.
    pub code: Option<String>,
    pub discount: DraftDiscount,
    pub usage_limit: Option<i64>,
    /// ISO 8601, as the client sent it.
    pub start_date: Option<String>,
    pub expiration_date: Option<String>,
}

/// A coupon bought with points: Gameball redemption rule `rule_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredefinedCmd {
    pub customer: CustomerIds,
    pub rule_id: u64,
    /// The client's `Idempotency-Key`: a retry with it answers the coupon
    /// the first attempt bought, even after that attempt's answer was lost
    /// on the way back.
    pub idempotency_key: Option<String>,
}

/// One cart line, as a qualification reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CartItem {
    pub product_id: String,
    pub quantity: Option<i64>,
    pub price_minor: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AutomaticCmd {
    pub customer: CustomerIds,
    pub cart_id: String,
    pub amount_minor: Option<i64>,
    /// `totalShipping`, so a free-shipping promotion has something to
    /// discount.
    pub shipping_minor: Option<i64>,
    pub items: Vec<CartItem>,
}

/// A refund (`refundTransactionId` reversing `reverseTransactionId`), or
/// an order's cancellation (`DELETE …/orders/{orderId}/transactions`).
#[derive(Debug, Clone, PartialEq)]
pub struct RefundCmd {
    pub customer: Option<CustomerIds>,
    pub refund_id: String,
    /// The order or payment reversed.
    pub reverse_id: String,
    /// `None`: the whole transaction.
    pub amount_minor: Option<i64>,
    /// Only some line items are refunded (`lineItems` given).
    pub items_only: bool,
    pub cancel: bool,
}

/// What a dialect parsed a request into.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Validate(ValidateCmd),
    LockDetails { reference: String },
    Release { reference: String },
    Burn(BurnCmd),
    Order(OrderCmd),
    RedeemCode(RedeemCodeCmd),
    CreateCoupon(CouponDraft),
    Predefined(PredefinedCmd),
    CustomerCoupons { customer_id: String },
    Automatic(AutomaticCmd),
    Refund(RefundCmd),
}

/// One coupon's verdict, with its definition when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// `None` when not asked for, or when Voucherify does not know the code.
    pub terms: Option<Coupon>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub customer_id: String,
    /// The lock covering the applicable coupons, if one was taken.
    pub reference: Option<String>,
    pub expires_at: Option<Millis>,
    pub verdicts: Vec<Verdict>,
    pub amount_known: bool,
}

impl Validation {
    pub fn all_valid(&self) -> bool {
        self.verdicts
            .iter()
            .all(|v| matches!(v.outcome, Outcome::Applicable(_)))
    }
}

/// A lock as stored, its coupons' terms, and the time it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct LockView {
    pub record: LockRecord,
    pub coupons: Vec<Coupon>,
    pub now: Millis,
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
    pub coupon: Coupon,
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

/// An operation's result, for the dialect to render.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Validated(Validation),
    LockDetails(LockView),
    Released(Released),
    Burned(Burned),
    Ordered { customer_id: String },
    Paid { customer_id: String },
    CodeRedeemed(CodeRedeemed),
    CouponCreated(CouponCreated),
    CouponIssued(IssuedCoupon),
    CustomerCoupons(Vec<WalletCoupon>),
    Automatic(Option<AppliedPromotion>),
    Refunded(Refunded),
}

/// Runs one command.
pub async fn apply(ctx: &Ctx, command: Command) -> Result<Answer, Failure> {
    Ok(match command {
        Command::Validate(cmd) => Answer::Validated(validate::run(ctx, cmd).await?),
        Command::LockDetails { reference } => Answer::LockDetails(details::run(ctx, &reference).await?),
        Command::Release { reference } => Answer::Released(release::run(ctx, &reference).await?),
        Command::Burn(cmd) => Answer::Burned(redeem::burn(ctx, cmd).await?),
        Command::Order(cmd) => {
            redeem::order(ctx, &cmd).await?;
            match cmd.kind {
                Transaction::Order => Answer::Ordered {
                    customer_id: cmd.customer.id,
                },
                Transaction::Payment => Answer::Paid {
                    customer_id: cmd.customer.id,
                },
            }
        }
        Command::RedeemCode(cmd) => Answer::CodeRedeemed(coupon::redeem(ctx, cmd).await?),
        Command::CreateCoupon(draft) => Answer::CouponCreated(coupon::create(ctx, draft).await?),
        Command::Predefined(cmd) => Answer::CouponIssued(rewards::predefined(ctx, &cmd).await?),
        Command::CustomerCoupons { customer_id } => Answer::CustomerCoupons(wallet::coupons(ctx, &customer_id).await?),
        Command::Automatic(cmd) => Answer::Automatic(automatic::best(ctx, &cmd).await?),
        Command::Refund(cmd) => Answer::Refunded(refund::run(ctx, &cmd).await?),
    })
}
