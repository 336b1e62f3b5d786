//! A tripped guard, as every replica learns of it: one note in the lock
//! store per tenant, operation and share (`rollout-trip:OPERATION:SHARE`).
//! A trip holds while the share it tripped at is the one configured, on
//! every replica, and through restarts; a reload that configures another
//! share leaves it behind (and deletes it, so a later return to that
//! share starts afresh). The share is in the note's name, so a replica
//! asks for exactly the trip of its own share, and a replica still on the
//! old share keeps its trip while another reloads.

use serde::{Deserialize, Serialize};

use super::guard::Figures;
use crate::domain::Operation;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// The share configured when it tripped.
    pub share: f64,
    /// `mismatch_rate`, `error_rate` or `p99_added`.
    pub guard: String,
    /// When (RFC 3339).
    pub at: String,
    /// The window that crossed the limit.
    pub figures: Figures,
    /// Tripped by this replica; false when learned from the store.
    #[serde(default, skip_serializing)]
    pub here: bool,
}

/// The note a trip of `op` at `share` is kept under.
pub fn note_name(op: Operation, share: f64) -> String {
    format!("rollout-trip:{}:{share}", op.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_names_the_operation_and_the_share() {
        assert_eq!(note_name(Operation::Validate, 0.1), "rollout-trip:validate:0.1");
        assert_eq!(note_name(Operation::Orders, 1.0), "rollout-trip:orders:1");
    }

    #[test]
    fn whether_it_tripped_here_is_not_written() {
        let trip = Trip {
            share: 0.1,
            guard: "error_rate".into(),
            at: "2026-01-01T00:00:00.000Z".into(),
            figures: Figures::default(),
            here: true,
        };
        let read: Trip = serde_json::from_str(&serde_json::to_string(&trip).unwrap()).unwrap();
        assert!(!read.here, "another replica reads it as learned");
        assert_eq!(read.share, 0.1);
    }
}
