//! Gameball's coupon API on the wire, in every dialect a merchant's client
//! may speak, one endpoint family per file. A family parses a request into
//! a typed [`Command`](crate::domain::Command) and renders the operation's
//! [`Answer`](crate::domain::Answer); it does no I/O and knows nothing of
//! Voucherify or the lock store. The route table ([`routes`]) reaches each
//! family through a typed [`endpoint::Wire`], so a row whose dialect the
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
//! pieces are in [`wire`], error bodies in [`errors`], the customer a
//! request names (for a rollout's cohort) in [`customer`].

pub mod automatic;
pub mod burn;
pub mod customer;
pub mod endpoint;
pub mod errors;
pub mod fallback;
pub mod legacy;
pub mod locks;
pub mod orders;
pub mod points;
pub mod refunds;
pub mod request;
pub mod routes;
pub mod unused;
pub mod validate;
pub mod wallet;
pub mod wire;

pub use crate::config::V4Dialect;
pub use request::{Dialect, HashProof, JSON_UTF8, Params, ParseCtx, Parsed, RenderCtx, RequestView};
