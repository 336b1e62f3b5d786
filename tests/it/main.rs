//! couponbridge's integration tests: one binary (one link step), real
//! sockets, a real redis-server, the simulator in-process.

mod adapter;
mod common;
mod ops;
mod replay;
mod robustness;
mod scale;
mod sim;
