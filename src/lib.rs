//! couponbridge: Gameball's coupon API in front, Voucherify validation
//! sessions behind, lock references in Redis.

pub mod clock;
pub mod ids;
pub mod money;
pub mod net;
pub mod sim;
