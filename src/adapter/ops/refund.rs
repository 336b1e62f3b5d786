//! Refunds and cancellations: the Voucherify redemptions a tracked order or
//! payment made are rolled back (`POST /v1/redemptions/{id}/rollbacks`),
//! so the coupons' uses come back, exactly once.
//!
//! What to undo is in the store: the order's (or payment's) claim keeps its
//! redemption id, written before the order was answered, so a refund after
//! a restart knows it; a claim settled by reconciliation, which only knows
//! the order, finds the redemptions on the Voucherify order instead.
//!
//! One reversal per original transaction, claimed under its id: the same
//! refund again (same `refundTransactionId`) answers as the first did and
//! changes nothing; a concurrent one gets 422/2001; a different refund of a
//! reversed transaction gets 422/9001. A rollback whose answer is lost
//! keeps the claim, and the retry rolls back again: Voucherify refuses a
//! second rollback (`already_rolled_back`), which is what makes that safe.
//!
//! A partial refund (`refundAmount` below what the order redeemed against)
//! keeps the coupons used: the customer kept part of the order. Only a full
//! refund or a cancellation gives them back.

use crate::adapter::Ctx;
use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::redeem::{Tracked, in_progress, lease_until, op_kind, source_id};
use crate::adapter::ops::{RefundCmd, Refunded, Transaction};
use crate::clock::{Millis, iso, parse_iso};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::voucherify::lifecycle::RollbackOutcome;

/// What the reversal's claim keeps: the answer a repeat gets.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Reversal {
    transaction_id: String,
    refund_id: String,
    at: String,
    #[serde(default)]
    amount_minor: Option<i64>,
}

impl Reversal {
    fn answer(&self, cmd: &RefundCmd, now: Millis) -> Refunded {
        Refunded {
            transaction_id: self.transaction_id.clone(),
            refund_id: self.refund_id.clone(),
            reverse_id: cmd.reverse_id.clone(),
            amount_minor: self.amount_minor,
            at: parse_iso(&self.at).unwrap_or(now),
            cancel: cmd.cancel,
        }
    }
}

/// The tracked order or payment `id`, and what it was.
async fn original(ctx: &Ctx, id: &str) -> Result<Option<(Transaction, Tracked)>, Failure> {
    for kind in [Transaction::Order, Transaction::Payment] {
        if let Some(stored) = ctx.app.store.outcome(&ctx.tenant.name, op_kind(kind), id).await? {
            let mut tracked = Tracked::parse(&stored, id);
            if tracked.source_id.is_empty() {
                tracked.source_id = source_id(kind, id);
            }
            return Ok(Some((kind, tracked)));
        }
    }
    Ok(None)
}

pub async fn run(ctx: &Ctx, cmd: &RefundCmd) -> Result<Refunded, Failure> {
    let Some((_, tracked)) = original(ctx, &cmd.reverse_id).await? else {
        return Err(Failure::client(
            Kind::TransactionNotFound,
            format!("Transaction Not Found: no tracked order or payment {}", cmd.reverse_id),
        ));
    };
    let amount = cmd.amount_minor.or(tracked.amount_minor);
    let partial = matches!((cmd.amount_minor, tracked.amount_minor), (Some(r), Some(t)) if r < t);
    if partial {
        // Nothing of the coupons to undo, and nothing to claim: a later
        // full refund may still give them back.
        return Ok(Refunded {
            transaction_id: ids::prefixed_hex("cbrf_", 12),
            refund_id: cmd.refund_id.clone(),
            reverse_id: cmd.reverse_id.clone(),
            amount_minor: amount,
            at: ctx.now(),
            cancel: cmd.cancel,
        });
    }
    let store = &ctx.app.store;
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &ctx.tenant.name,
        kind: OpKind::Reversal,
        id: &cmd.reverse_id,
        attempt: &attempt,
        keep: ctx.cfg.locks.order_retention,
    };
    match store.claim(&op, ctx.now(), lease_until(ctx)).await? {
        Claim::Done(stored) => {
            let earlier: Reversal = serde_json::from_str(&stored)
                .map_err(|e| Failure::internal(format!("a stored reversal cannot be read: {e}")))?;
            return if earlier.refund_id == cmd.refund_id {
                Ok(earlier.answer(cmd, ctx.now()))
            } else {
                Err(Failure::client(
                    Kind::AlreadyReversed,
                    format!(
                        "Transaction Already Cancelled: {} was reversed by {}",
                        cmd.reverse_id, earlier.refund_id
                    ),
                ))
            };
        }
        Claim::Busy => return Err(in_progress("A refund of this transaction")),
        Claim::Claimed | Claim::Resumed { .. } => {}
    }
    match roll_back(ctx, &tracked).await {
        Ok(()) => {
            let reversal = Reversal {
                transaction_id: ids::prefixed_hex("cbrf_", 12),
                refund_id: cmd.refund_id.clone(),
                at: iso(ctx.now()),
                amount_minor: amount,
            };
            store
                .settle(&op, Some(&serde_json::to_string(&reversal).unwrap_or_default()))
                .await?;
            Ok(reversal.answer(cmd, ctx.now()))
        }
        Err((failure, unknown)) => {
            if !unknown {
                store.settle(&op, None).await?;
            }
            Err(failure)
        }
    }
}

/// Rolls back what `tracked` redeemed; the error says whether a rollback
/// may have happened anyway (the claim must stay).
async fn roll_back(ctx: &Ctx, tracked: &Tracked) -> Result<(), (Failure, bool)> {
    let v = &ctx.app.voucherify;
    let up = &ctx.tenant.upstream;
    let ids = match &tracked.redemption {
        Some(id) => vec![id.clone()],
        None => match v.order(up, &tracked.source_id, ctx.call()).await {
            Ok(Some(order)) => order.live_redemptions(),
            // An order without coupons is not in Voucherify: nothing to undo.
            Ok(None) => Vec::new(),
            Err(e) => return Err((e.into(), false)),
        },
    };
    for id in &ids {
        match v.rollback(up, id, "gameball refund", ctx.call()).await {
            Ok(RollbackOutcome::RolledBack | RollbackOutcome::AlreadyRolledBack) => {}
            Ok(RollbackOutcome::NotFound) => {
                tracing::warn!(request_id = %ctx.request_id, "a refunded order's redemption is not in Voucherify");
            }
            Err(e) => {
                let unknown = e.outcome_unknown();
                return Err((e.into(), unknown));
            }
        }
    }
    Ok(())
}
