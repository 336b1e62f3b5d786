//! Shadow mode: Gameball answers, couponbridge runs the same call through
//! its translated flow on the side, without side effects, and says where
//! the two answers differ.

pub mod record;
