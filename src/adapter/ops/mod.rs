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

pub mod coupon;
pub mod details;
pub mod redeem;
pub mod release;
pub mod validate;

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

#[derive(Debug, Clone, PartialEq)]
pub struct OrderCmd {
    pub customer: CustomerIds,
    pub order_id: String,
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

/// An operation's result, for the dialect to render.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Validated(Validation),
    LockDetails(LockView),
    Released(Released),
    Burned(Burned),
    Ordered { customer_id: String },
    CodeRedeemed(CodeRedeemed),
    CouponCreated(CouponCreated),
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
            Answer::Ordered {
                customer_id: cmd.customer.id,
            }
        }
        Command::RedeemCode(cmd) => Answer::CodeRedeemed(coupon::redeem(ctx, cmd).await?),
        Command::CreateCoupon(draft) => Answer::CouponCreated(coupon::create(ctx, draft).await?),
    })
}
