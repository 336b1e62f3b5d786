//! The label values the metrics know at start, so that their series
//! start at zero: every route, Voucherify call and tenant of the
//! configuration started with.

use crate::config::Config;
use crate::metrics::{Known, Metrics};

/// Every Voucherify call, for the metric series that start at zero.
const VOUCHERIFY_OPS: [crate::voucherify::client::Op; 14] = {
    use crate::voucherify::client::Op;
    [
        Op::Validate,
        Op::Redeem,
        Op::Release,
        Op::GetVoucher,
        Op::GetRule,
        Op::GetOrder,
        Op::CreateVoucher,
        Op::ListMembers,
        Op::GetReward,
        Op::RedeemReward,
        Op::GetRedemption,
        Op::ListVouchers,
        Op::Qualify,
        Op::Rollback,
    ]
};

/// The registry, with every route, Voucherify operation and lock-store call
/// known at start set to zero, and latency buckets up to the request
/// timeout in force at start.
pub(super) fn metrics_for(cfg: &Config) -> Metrics {
    use crate::domain::Operation;
    let mut routes: Vec<&'static str> = Operation::ALL.iter().map(|o| o.name()).collect();
    routes.push("passthrough");
    Metrics::with(&Known {
        routes,
        voucherify_ops: VOUCHERIFY_OPS.iter().map(|o| o.name()).collect(),
        request_timeout: Some(cfg.server.request_timeout),
        tenants: cfg.tenants.iter().map(|t| t.name.clone()).collect(),
        gameball_calls: Operation::ALL
            .iter()
            .flat_map(|&op| {
                let reference = op.may_name_state().then_some((op.name(), "reference"));
                let fallback =
                    matches!(op, Operation::Validate | Operation::ValidateSingle).then_some((op.name(), "fallback"));
                // Orders and payments forwarded for their points, and
                // their refunds.
                let forward = matches!(op, Operation::Orders | Operation::Payments | Operation::Refunds)
                    .then_some((op.name(), "forward"));
                // The calls shadow calibration may send Gameball again.
                let calibration = matches!(
                    op,
                    Operation::Validate
                        | Operation::ValidateSingle
                        | Operation::CustomerCoupons
                        | Operation::LockDetails
                )
                .then_some((op.name(), "calibration"));
                [Some((op.name(), "route")), reference, fallback, forward, calibration]
            })
            .flatten()
            .collect(),
        unused_fields: Operation::ALL
            .iter()
            .flat_map(|&op| {
                crate::gameball::unused::unused_fields(op)
                    .iter()
                    .map(move |&f| (op.name(), f))
            })
            .collect(),
    })
}
