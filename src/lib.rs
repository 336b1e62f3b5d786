//! couponbridge: Gameball's coupon API in front, Voucherify validation
//! sessions behind, lock references in Redis.

pub mod clock;
pub mod config;
pub mod gameball;
pub mod ids;
pub mod metrics;
pub mod money;
pub mod net;
pub mod record;
pub mod sim;
pub mod translate;
pub mod voucherify;
