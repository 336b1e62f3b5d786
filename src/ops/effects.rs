//! What an operation changes in the world goes through [`Effects`]: the
//! Voucherify calls that hold, redeem, release, create or roll back, the
//! calls to Gameball made for the merchant, the
//! lock store its records go to, the reference a new lock gets, and the
//! metrics its events count in. Reads go straight to Voucherify
//! ([`super::Cx::vf`]).
//!
//! [`Live`] makes every call and writes to the real store. Shadow mode runs
//! the very same operations with `crate::shadow::effects::Dry`, which only
//! reads or validates and keeps its records in a private store: so a change
//! to an operation shows up in shadow without touching shadow.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::domain::{GameballAnswer, PassOn};
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::passthrough::{Passthrough, Sent};
use crate::voucherify::client::{CreateOutcome, Project, RedeemOutcome, UpstreamError, Written};
use crate::voucherify::lifecycle::{Redemption, RewardRedemptionRequest, RollbackOutcome};
use crate::voucherify::{StackableRequest, ValidationResponse};

/// A Voucherify write's future.
pub type Fx<'a, T> = BoxFuture<'a, Result<T, UpstreamError>>;

pub trait Effects: Send + Sync {
    /// Where the operation's locks and claims are kept.
    fn store(&self) -> &Store;

    /// The reference a new lock gets, checked under the deployment's
    /// `key` (`crate::ids::lock_reference`).
    fn new_reference(&self, key: &[u8]) -> String;

    /// Whether `reference` has the shape of one this world hands out: one
    /// that has not is answered without a store round trip.
    fn is_reference(&self, reference: &str) -> bool;

    /// The metrics the operation's events count in (`None`: counted nowhere).
    fn metrics(&self) -> Option<&Metrics>;

    /// `POST /v1/validations`; with a session, the coupons are held in it.
    fn validate<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, ValidationResponse>;

    /// `POST /v1/redemptions`.
    fn redeem<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, RedeemOutcome>;

    /// `DELETE /v1/vouchers/{code}/sessions/{key}`.
    fn release<'a>(&'a self, vf: Project<'a>, code: &'a str, session: &'a str) -> Fx<'a, bool>;

    /// `POST /v1/vouchers`.
    fn create_voucher<'a>(&'a self, vf: Project<'a>, body: &'a Value) -> Fx<'a, CreateOutcome>;

    /// `POST /v1/loyalties/{campaign}/members/{member}/redemption`.
    fn redeem_reward<'a>(
        &'a self,
        vf: Project<'a>,
        campaign: &'a str,
        member: &'a str,
        req: &'a RewardRedemptionRequest<'a>,
    ) -> Fx<'a, Written<Redemption>>;

    /// `POST /v1/redemptions/{id}/rollbacks`.
    fn rollback<'a>(&'a self, vf: Project<'a>, redemption: &'a str, reason: &'a str) -> Fx<'a, RollbackOutcome>;

    /// A call to Gameball for the merchant (an order passed on once its
    /// coupons are redeemed).
    fn pass_on<'a>(
        &'a self,
        gameball: &'a Passthrough,
        call: &'a PassOn,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<GameballAnswer, Sent>>;
}

/// The effects of a merchant's request: every call made, every record
/// written to the lock store, every event counted.
pub struct Live {
    store: Store,
    metrics: Arc<Metrics>,
}

impl Live {
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Live { store, metrics }
    }
}

impl Effects for Live {
    fn store(&self) -> &Store {
        &self.store
    }

    fn new_reference(&self, key: &[u8]) -> String {
        ids::lock_reference(key)
    }

    fn is_reference(&self, reference: &str) -> bool {
        ids::is_lock_reference(reference)
    }

    fn metrics(&self) -> Option<&Metrics> {
        Some(&self.metrics)
    }

    fn validate<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, ValidationResponse> {
        Box::pin(async move { vf.writes().validate(req).await })
    }

    fn redeem<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, RedeemOutcome> {
        Box::pin(async move { vf.writes().redeem(req).await })
    }

    fn release<'a>(&'a self, vf: Project<'a>, code: &'a str, session: &'a str) -> Fx<'a, bool> {
        Box::pin(async move { vf.writes().release(code, session).await })
    }

    fn create_voucher<'a>(&'a self, vf: Project<'a>, body: &'a Value) -> Fx<'a, CreateOutcome> {
        Box::pin(async move { vf.writes().create_voucher(body).await })
    }

    fn redeem_reward<'a>(
        &'a self,
        vf: Project<'a>,
        campaign: &'a str,
        member: &'a str,
        req: &'a RewardRedemptionRequest<'a>,
    ) -> Fx<'a, Written<Redemption>> {
        Box::pin(async move { vf.writes().redeem_reward(campaign, member, req).await })
    }

    fn rollback<'a>(&'a self, vf: Project<'a>, redemption: &'a str, reason: &'a str) -> Fx<'a, RollbackOutcome> {
        Box::pin(async move { vf.writes().rollback(redemption, reason).await })
    }

    fn pass_on<'a>(
        &'a self,
        gameball: &'a Passthrough,
        call: &'a PassOn,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<GameballAnswer, Sent>> {
        Box::pin(gameball.send(call, request_id))
    }
}
