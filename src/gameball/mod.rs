//! Gameball's coupon API on the wire, in every dialect a merchant's client
//! may speak, one endpoint family per file. A family parses a request into
//! a typed [`Command`](crate::domain::Command) and renders the operation's
//! [`Answer`](crate::domain::Answer); it does no I/O and knows nothing of
//! Voucherify or the lock store. The route table ([`routes`]) reaches each
//! family through a typed [`routes::Wire`], so a row whose dialect the
//! family cannot speak does not compile.
//!
//! | family | operations | dialects | file |
//! |---|---|---|---|
//! | validate | `validate`, `validate_single` | seed, published, hold | [`validate`] |
//! | locks | `lock_details`, `release` | seed, published, hold | [`locks`] |
//! | burn | `burn` | seed, published, hold | [`burn`] |
//! | orders | `orders`, `payments` | seed, published | [`orders`] |
//! | coupons from points | `predefined` | seed, published | [`points`] |
//! | the customer's coupons | `customer_coupons` | seed, published | [`wallet`] |
//! | automatic coupons | `automatic` | seed, published | [`automatic`] |
//! | refunds, cancellations | `refunds` | seed, published | [`refunds`] |
//! | SDK-era coupons | `coupon_validate`, `coupon_redeem`, `coupon_create` | legacy | [`legacy`] |
//!
//! The dialects: **seed** (checkouts written from the seed pages: v4.0
//! `validCoupons`, `isValid`), **published** (Gameball's current v4.0
//! reference: `valid`, `coupon(s)`, `lockReference`), **hold** (the v3.0
//! hold API: published shapes with `holdReference`, `{code, message}`
//! errors), **legacy** (the SDK-era discount-coupon API of v2.0/v3.0: its
//! own bodies, a body `hash`, `{code, message}` errors). Shared request
//! pieces are in [`wire`], error bodies in [`errors`].

pub mod automatic;
pub mod burn;
pub mod errors;
pub mod legacy;
pub mod locks;
pub mod orders;
pub mod points;
pub mod refunds;
pub mod routes;
pub mod validate;
pub mod wallet;
pub mod wire;

use http::{HeaderMap, HeaderValue};

use crate::config::{LockConfig, Messages};
use crate::domain::Command;
use routes::Matched;

pub use crate::config::V4Dialect;

/// A dialect of Gameball's API: how a route's answers and errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Seed,
    Published,
    Hold,
    Legacy,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Seed => "seed",
            Dialect::Published => "published",
            Dialect::Hold => "hold",
            Dialect::Legacy => "legacy",
        }
    }
}

pub const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// What a family reads from a request.
pub struct RequestView<'a> {
    pub matched: &'a Matched,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl RequestView<'_> {
    /// A path parameter the route table guarantees, trimmed.
    pub fn param(&self, name: &str) -> String {
        self.matched.param(name).unwrap_or_default().trim().to_owned()
    }

    /// Whether the route's path has this parameter.
    pub fn has_param(&self, name: &str) -> bool {
        self.matched.param(name).is_some()
    }
}

/// The tenant's settings a parse needs (money precision, lock limits).
pub struct ParseCtx<'a> {
    pub decimals: u32,
    pub locks: &'a LockConfig,
}

/// The tenant's settings a render needs.
pub struct RenderCtx<'a> {
    pub decimals: u32,
    pub messages: &'a Messages,
}

/// A parsed request, and the body's proof of the secret key when the
/// dialect carries one (the SDK-era `hash`).
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    pub proof: Option<HashProof>,
}

impl From<Command> for Parsed {
    fn from(command: Command) -> Self {
        Parsed { command, proof: None }
    }
}

/// `hash` = lowercase hex SHA-1 of `"{playerUniqueId}:::{secretKey}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashProof {
    pub player: String,
    pub hash: String,
}
