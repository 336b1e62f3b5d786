//! A lock as a client sees it: whose, which coupons, and where it is in
//! its life. The lock store (`crate::locks`) keeps more (the Voucherify
//! session, the burning attempt and its lease), which no dialect needs.

use crate::clock::Millis;

/// Where a lock is in its life (the state machine is `crate::locks`').
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockState {
    /// A new lock.
    #[default]
    Locked,
    /// A burn, an order or a re-lock holds it.
    Burning,
    Used,
    Released,
    Expired,
}

impl LockState {
    pub fn name(self) -> &'static str {
        match self {
            LockState::Locked => "locked",
            LockState::Burning => "burning",
            LockState::Used => "used",
            LockState::Released => "released",
            LockState::Expired => "expired",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "locked" => LockState::Locked,
            "burning" => LockState::Burning,
            "used" => LockState::Used,
            "released" => LockState::Released,
            "expired" => LockState::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockSummary {
    pub customer_id: String,
    pub codes: Vec<String>,
    pub state: LockState,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
    pub released_at: Option<Millis>,
}

impl LockSummary {
    /// Expired: marked so, or still `locked` past its expiry.
    pub fn is_expired(&self, now: Millis) -> bool {
        self.state == LockState::Expired || (self.state == LockState::Locked && self.expires_at <= now)
    }

    /// When a finished lock ended: a released one at its release, any
    /// other at its expiry.
    pub fn ended_at(&self) -> Millis {
        match self.state {
            LockState::Released => self.released_at.unwrap_or(self.expires_at),
            _ => self.expires_at,
        }
    }
}
