//! couponbridge: Gameball's coupon API in front, Voucherify validation
//! sessions behind, lock references in Redis.

pub mod adapter;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod gameball;
pub mod ids;
pub mod locks;
pub mod metrics;
pub mod money;
pub mod net;
pub mod record;
pub mod reload;
pub mod replay;
pub mod report;
pub mod serve;
pub mod shadow;
pub mod sim;
pub mod telemetry;
pub mod translate;
pub mod voucherify;
