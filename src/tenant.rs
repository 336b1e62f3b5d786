//! One merchant, as a running couponbridge knows it: its keys, its
//! Voucherify project, its dialect and route modes, its messages and
//! rewards. Built from its configuration at start and on each reload.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Messages, MigrationConfig, RewardsConfig, Routes, Secret, Shares, TenantConfig, V4Dialect};
use crate::voucherify::client::Upstream;

#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    secret_digest: SecretDigest,
    /// Kept for the SDK-era body `hash` (a SHA-1 over it); never printed.
    secret: Secret,
    pub decimals: u32,
    pub dialect: V4Dialect,
    pub upstream: Upstream,
    pub routes: Routes,
    pub messages: Messages,
    pub migration: MigrationConfig,
    pub rewards: RewardsConfig,
    /// The share of customers each operation translates while its route
    /// forwards (the share configured; a tripped guard's 0 is
    /// `crate::rollout`'s to say).
    pub rollout: Shares,
}

impl Tenant {
    pub fn new(cfg: &TenantConfig) -> Result<Self, String> {
        Ok(Tenant {
            name: cfg.name.clone(),
            secret_digest: SecretDigest(Sha256::digest(cfg.secret_key.expose().as_bytes()).into()),
            secret: cfg.secret_key.clone(),
            decimals: cfg.currency_decimals,
            dialect: cfg.dialect,
            upstream: Upstream::new(&cfg.voucherify).map_err(|e| format!("tenants.{}.voucherify: {e}", cfg.name))?,
            routes: cfg.routes,
            messages: cfg.messages.clone(),
            migration: cfg.migration,
            rewards: cfg.rewards.clone(),
            rollout: cfg.rollout,
        })
    }

    pub fn upstream_timeout_ms(&self) -> i64 {
        self.upstream.timeout().as_millis() as i64
    }

    /// Constant time, and over digests, so not even the secret's length
    /// shows in the timing.
    pub fn secret_matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        bool::from(self.secret_digest.0.ct_eq(&given))
    }

    /// The secret, for checking the SDK-era body `hash`.
    pub fn secret(&self) -> &str {
        self.secret.expose()
    }
}

/// The SHA-256 of a tenant's secret key, made once at start-up. Never
/// printed: an unsalted digest of a weak secret can be reversed.
struct SecretDigest([u8; 32]);

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
