//! Lock references and their Voucherify sessions, kept in Redis (or in
//! memory for the demo and single-process tests).
//!
//! A lock is one Gameball `lockReference` → one Voucherify session key, the
//! codes locked under it, the customer, the tenant and the expiry. Every
//! transition is one atomic step (a Lua script on Redis, a mutex in
//! memory), so concurrent burn, release and order on one reference have
//! exactly one winner. The same behaviour suite runs against both stores.
//!
//! | what | file |
//! |---|---|
//! | the record and its Redis fields | [`record`] |
//! | the state machine (pure functions) | [`machine`], and its Lua twins in `lua/` |
//! | claims of merchant operations | [`claims`] |
//! | releases kept for the sweeper | [`pending`] |
//! | the store's face, its errors | [`store`], [`backend`] |
//! | the backends | `memory.rs`, `redis/` |

pub mod backend;
pub mod claims;
pub mod machine;
mod memory;
pub mod pending;
pub mod record;
mod redis;
pub mod store;

pub use crate::domain::LockState;
pub use backend::{Durability, Fault};
pub use claims::{Claim, OpAttempt, OpKind, OpOutcome};
pub use machine::{Burner, NewTerms, ReleaseStart, Relock, UseStart};
pub use pending::PendingRelease;
pub use record::LockRecord;
pub use store::{Store, StoreError};
