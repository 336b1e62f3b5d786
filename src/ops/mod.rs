//! The operations: typed commands in, domain answers out (mini-redis's
//! `apply`). An operation knows no Gameball dialect (the families in
//! `crate::gameball` parse and render) and makes every change through its
//! [`Effects`](effects::Effects), so shadow mode runs the very same code
//! with effects that only read or validate.
//!
//! | command | file |
//! |---|---|
//! | [`Command::Validate`] (lock, re-lock, validate only) | [`validate`]; coupons only Gameball has: [`fallback`] |
//! | [`Command::LockDetails`] | [`details`] |
//! | [`Command::Release`] | [`release`] |
//! | [`Command::Burn`] | [`burn`] |
//! | [`Command::Order`] (orders and payments) | [`order`], then [`pass_on`] to Gameball |
//! | [`Command::RedeemCode`], [`Command::CreateCoupon`] | [`coupon`] |
//! | [`Command::Predefined`] (coupon from points) | [`rewards`] |
//! | [`Command::CustomerCoupons`] | [`wallet`] |
//! | [`Command::Automatic`] | [`automatic`] |
//! | [`Command::Refund`] (refund, cancellation) | [`refund`] |
//!
//! Shared by them: one redemption, exactly once, by claim and reconcile
//! ([`redeem`]); releasing Voucherify sessions, with the sweeper's retries
//! behind ([`session`], [`sweep`]).

pub mod automatic;
pub mod burn;
pub mod coupon;
pub mod details;
pub mod effects;
pub mod fallback;
pub mod order;
pub mod pass_on;
pub mod redeem;
pub mod refund;
pub mod release;
pub mod rewards;
pub mod session;
pub mod sweep;
pub mod theirs;
pub mod tracked;
pub mod validate;
pub mod wallet;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, Millis};
use crate::config::LockConfig;
use crate::domain::{Answer, Command, PassOn};
use crate::error::Failure;
use crate::locks::Store;
use crate::metrics::LockEvent;
use crate::passthrough::Passthrough;
use crate::record::UpstreamTap;
use crate::telemetry::TraceHeaders;
use crate::tenant::Tenant;
use crate::voucherify::client::{CallCtx, Project, VoucherifyClient};
use effects::Effects;

/// What one operation runs with: the tenant, the settings it started on,
/// who asked, the Voucherify client for reads, and its effects.
#[derive(Clone)]
pub struct Cx {
    pub tenant: Arc<Tenant>,
    pub locks: LockConfig,
    pub clock: Clock,
    pub request_id: String,
    pub voucherify: VoucherifyClient,
    /// The recording's tap on Voucherify calls, when recording.
    pub tap: Option<Arc<UpstreamTap>>,
    pub trace: Option<Arc<TraceHeaders>>,
    /// Gameball (`[passthrough] upstream`), for the calls passed on to it.
    pub gameball: Option<Arc<Passthrough>>,
    /// The merchant's call as made, when there is a Gameball to pass parts
    /// of it on to (a lock that stands for both sides reaches Gameball's
    /// part with it).
    pub call: Option<Arc<PassOn>>,
    pub fx: Arc<dyn Effects>,
}

impl Cx {
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// How long from now a record of a lock ending at `expires_at` is kept.
    pub fn keep_for(&self, expires_at: Millis) -> Duration {
        let ttl = Duration::from_millis((expires_at - self.now()).max(0) as u64);
        ttl + self.locks.retention
    }

    /// The store the operation's locks and claims go to.
    pub fn store(&self) -> &Store {
        self.fx.store()
    }

    pub fn lock_event(&self, event: LockEvent) {
        if let Some(m) = self.fx.metrics() {
            m.lock_event(event);
        }
    }

    /// The tenant's Voucherify project, for this request. Its reads are
    /// made as they are; its writes go through [`Cx::fx`].
    pub fn vf(&self) -> Project<'_> {
        self.voucherify.project(
            &self.tenant.upstream,
            CallCtx {
                request_id: &self.request_id,
                tap: self.tap.as_deref(),
                trace: self.trace.as_deref(),
            },
        )
    }
}

/// Runs one command.
///
/// Each operation's future is boxed: they range from a few hundred bytes to
/// kilobytes (a fallback validation, an order forwarded to Gameball), and
/// unboxed every call would carry, and copy on each move, the largest.
pub async fn apply(cx: &Cx, command: Command) -> Result<Answer, Failure> {
    Ok(match command {
        Command::Validate(cmd) if fallback::applies(cx, &cmd) => Box::pin(fallback::validate(cx, cmd)).await?,
        Command::Validate(cmd) => Answer::Validated(Box::pin(validate::run(cx, cmd)).await?),
        Command::LockDetails { reference } => Answer::LockDetails(Box::pin(details::run(cx, &reference)).await?),
        Command::Release { reference } => Answer::Released(Box::pin(release::run(cx, &reference)).await?),
        Command::Burn(cmd) => Box::pin(burn::run(cx, cmd)).await?,
        Command::Order(cmd) => Box::pin(order::run(cx, &cmd)).await?,
        Command::RedeemCode(cmd) => Answer::CodeRedeemed(Box::pin(coupon::redeem(cx, cmd)).await?),
        Command::CreateCoupon(draft) => Answer::CouponCreated(Box::pin(coupon::create(cx, draft)).await?),
        Command::Predefined(cmd) => Answer::CouponIssued(Box::pin(rewards::predefined(cx, &cmd)).await?),
        Command::CustomerCoupons { customer_id } => {
            Answer::CustomerCoupons(Box::pin(wallet::coupons(cx, &customer_id)).await?)
        }
        Command::Automatic(cmd) => Answer::Automatic(Box::pin(automatic::best(cx, &cmd)).await?),
        Command::Refund(cmd) => Box::pin(refund::run(cx, &cmd)).await?,
    })
}
