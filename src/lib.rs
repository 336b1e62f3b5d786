//! couponbridge: Gameball's coupon API in front, Voucherify validation
//! sessions behind, lock references in Redis. `ARCHITECTURE.md` at the top
//! of the repository draws the layers and says what each may import.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod gameball;
pub mod ids;
pub mod import;
pub mod intake;
pub mod locks;
pub mod metrics;
pub mod money;
pub mod net;
pub mod ops;
pub mod passthrough;
pub mod record;
pub mod reload;
pub mod replay;
pub mod report;
pub mod rollout;
pub mod serve;
pub mod shadow;
pub mod sim;
pub mod telemetry;
pub mod tenant;
pub mod translate;
pub mod voucherify;
