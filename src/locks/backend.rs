//! What a backend answers besides records: how a call failed (before the
//! store's face names the call), and what a crash would lose.

use crate::error::BoxError;

/// What went wrong in a backend, before the facade names the call.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("unavailable")]
    Unavailable(#[source] BoxError),
    #[error("unreadable record: {0}")]
    Corrupt(String),
    #[error("misconfigured: {0}")]
    Config(String),
}

impl Fault {
    pub fn unavailable(e: impl Into<BoxError>) -> Self {
        Fault::Unavailable(e.into())
    }
}

/// Whether the store keeps acknowledged locks through a crash, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durability {
    pub durable: bool,
    pub detail: String,
}
