//! Route modes and dialects. `[routes]` (and `[tenants.NAME.routes]`) is one
//! map from an operation's name (the route table's, e.g. `validate`,
//! `burn`, `coupon_redeem`) to `translate`, `passthrough` or `shadow`; a
//! new operation needs no new config code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::Errors;
use super::errors::suggest;
use crate::domain::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    Translate,
    Passthrough,
    /// Passed through to Gameball, whose answer the client gets; the same
    /// call then runs through the translated flow, without side effects,
    /// and the two answers are compared (`crate::shadow`).
    Shadow,
}

impl RouteMode {
    /// As `[routes]` writes it.
    pub fn name(self) -> &'static str {
        match self {
            RouteMode::Translate => "translate",
            RouteMode::Passthrough => "passthrough",
            RouteMode::Shadow => "shadow",
        }
    }

    /// Whether the client's answer comes from Gameball.
    pub fn forwards(self) -> bool {
        matches!(self, RouteMode::Passthrough | RouteMode::Shadow)
    }
}

/// What `[routes]` says: operation name → mode.
pub type RawRoutes = BTreeMap<String, RouteMode>;

/// Which dialect a tenant's v4 routes speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum V4Dialect {
    /// The seed pages' shapes (`validCoupons`, `isValid`): today's default.
    #[default]
    Seed,
    /// Gameball's current published v4.0 reference.
    Published,
}

/// Each operation's mode; every operation translates unless told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes([RouteMode; Operation::ALL.len()]);

impl Default for Routes {
    fn default() -> Self {
        Routes([RouteMode::Translate; Operation::ALL.len()])
    }
}

impl Routes {
    pub fn mode(&self, op: Operation) -> RouteMode {
        self.0[op.index()]
    }

    /// These modes with `raw`'s on top; unknown names are reported under
    /// `key`.
    pub(super) fn overlay(mut self, raw: &RawRoutes, key: &str, errors: &mut Errors) -> Self {
        for (name, mode) in raw {
            match Operation::from_name(name) {
                Some(op) => self.0[op.index()] = *mode,
                None => errors.push(format!("{key}.{name}"), not_an_operation(name)),
            }
        }
        self
    }

    /// Whether any route needs `[passthrough] upstream`.
    pub fn any_forwarded(&self) -> bool {
        self.0.iter().any(|m| m.forwards())
    }

    pub fn any_shadow(&self) -> bool {
        self.0.contains(&RouteMode::Shadow)
    }
}

/// Why `name` is refused where an operation is expected, with the nearest
/// one when there is one.
pub(super) fn not_an_operation(name: &str) -> String {
    let known: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    match suggest(name, &known) {
        Some(s) => format!("is not an operation; did you mean `{s}`?"),
        None => format!("is not an operation; one of {}", known.join(", ")),
    }
}

/// Each operation's share of a tenant's customers (0 to 1) that take
/// `translate` while the operation's route passes through or shadows
/// (`[rollout]`, and `[tenants.NAME.rollout]` over it); 0 unless told.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Shares([f64; Operation::ALL.len()]);

impl Shares {
    pub fn of(&self, op: Operation) -> f64 {
        self.0[op.index()]
    }

    /// These shares with `raw`'s on top; unknown names and shares outside
    /// 0 to 1 are reported under `key`.
    pub(super) fn overlay(mut self, raw: &BTreeMap<String, f64>, key: &str, errors: &mut Errors) -> Self {
        for (name, share) in raw {
            let at = format!("{key}.{name}");
            match Operation::from_name(name) {
                None => errors.push(at, not_an_operation(name)),
                // NaN is in no range, so it is refused here too.
                Some(_) if !(0.0..=1.0).contains(share) => errors.push(
                    at,
                    format!("{share} is not a share of customers; expected 0 to 1 (0.1 is 10 %)"),
                ),
                Some(op) => self.0[op.index()] = *share,
            }
        }
        self
    }

    /// The operations with a share above 0, and the share.
    pub fn set(&self) -> impl Iterator<Item = (Operation, f64)> + '_ {
        Operation::ALL
            .into_iter()
            .map(|op| (op, self.of(op)))
            .filter(|(_, s)| *s > 0.0)
    }
}
