//! What a dialect parses a request into: one typed command per kind of
//! work (mini-redis's `Command`), run by `crate::ops::apply`.

use std::time::Duration;

use crate::money::DecimalNumber;

/// Who a call is for: the merchant's customer id (exact text, never a
/// float) and the channel-merging fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerIds {
    pub id: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
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
    /// Read each coupon's terms (the full Coupon object) too.
    pub with_terms: bool,
    /// How to ask Gameball about coupons Voucherify does not have
    /// (`[migration] coupon_fallback`); `None` when the fallback is off.
    pub fallback: Option<Fallback>,
}

/// What Gameball's validation answer says, read by the dialect that
/// speaks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GameballVerdicts {
    /// The codes Gameball found valid (and locked, when asked to).
    pub valid: Vec<String>,
    /// Gameball's lock (or hold) reference, when it took one.
    pub reference: Option<String>,
}

/// The dialect's two functions on the caller's validation, so an
/// operation that knows no dialect can ask Gameball about some of its
/// coupons and read the answer.
#[derive(Clone, Copy)]
pub struct Fallback {
    /// The caller's body asking about `codes` only (`None`: it cannot be
    /// narrowed, e.g. a single validation, whose code is in the path).
    pub restrict: fn(body: &[u8], codes: &[String]) -> Option<Vec<u8>>,
    pub read: fn(body: &[u8]) -> GameballVerdicts,
    /// The call that releases Gameball's lock `reference`, made from the
    /// validation that took it (the same version, keys and headers).
    pub release: fn(validation: &PassOn, reference: &str) -> PassOn,
}

impl PartialEq for Fallback {
    // The functions are the dialect's; a command is equal to another with
    // the fallback on or off alike.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fallback")
    }
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

impl Transaction {
    pub fn name(self) -> &'static str {
        match self {
            Transaction::Order => "order",
            Transaction::Payment => "payment",
        }
    }
}

/// A call couponbridge makes to Gameball for the merchant: the merchant's
/// own call, less what couponbridge does itself (an order's coupons).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PassOn {
    pub method: String,
    /// Path and query, as the merchant asked.
    pub path: String,
    /// The merchant's headers, credentials included.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl PassOn {
    /// The same call naming Gameball's reference where the caller named
    /// couponbridge's (in the path and the body): how a lock that stands
    /// for coupons of both sides reaches Gameball's part. References are
    /// long random strings, so the text appears nowhere else.
    pub fn naming(&self, ours: &str, theirs: &str) -> PassOn {
        let body = String::from_utf8_lossy(&self.body).replace(ours, theirs).into_bytes();
        PassOn {
            method: self.method.clone(),
            path: self.path.replace(ours, theirs),
            headers: self.headers.clone(),
            body,
        }
    }

    /// The same call with another body.
    pub fn with_body(&self, body: Vec<u8>) -> PassOn {
        PassOn { body, ..self.clone() }
    }
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
    /// The order carries Gameball points (a points hold, redeemed points):
    /// only Gameball can act on it.
    pub points: bool,
    /// The order as Gameball gets it once its coupons are redeemed, when
    /// orders are passed on (`[migration] forward_orders`).
    pub pass_on: Option<PassOn>,
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

/// A new coupon (the SDK-era `coupon` create).
#[derive(Debug, Clone, PartialEq)]
pub struct CouponDraft {
    pub customer_id: String,
    /// `None`: the coupon service generates one.
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

/// State a command names that some earlier call created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing<'a> {
    /// A lock (or hold) reference.
    Lock(&'a str),
    /// An order or payment a refund or cancellation reverses.
    Transaction(&'a str),
}

impl Command {
    /// The existing state this command works on, if it names any: a lock
    /// to read, release, burn or order with, or a transaction to reverse.
    pub fn existing(&self) -> Option<Existing<'_>> {
        match self {
            Command::LockDetails { reference } | Command::Release { reference } => Some(Existing::Lock(reference)),
            Command::Validate(ValidateCmd {
                relock: Some(reference),
                lock: true,
                ..
            }) => Some(Existing::Lock(reference)),
            Command::Burn(BurnCmd {
                target: BurnTarget::Lock(reference),
                ..
            }) => Some(Existing::Lock(reference)),
            Command::Order(OrderCmd {
                reference: Some(reference),
                ..
            }) => Some(Existing::Lock(reference)),
            Command::Refund(r) => Some(Existing::Transaction(&r.reverse_id)),
            _ => None,
        }
    }
}
