//! Refunds and cancellations: the Voucherify redemptions a tracked order or
//! payment made are rolled back (`POST /v1/redemptions/{id}/rollbacks`),
//! so the coupons' uses come back, exactly once.
//!
//! What to undo is in the store: the order's (or payment's) claim keeps its
//! redemption id, written before the order was answered, so a refund after
//! a restart knows it; a claim settled by reconciliation, which only knows
//! the order, finds the redemptions on the Voucherify order instead.
//!
//! One reversal per original transaction (an order and a payment with the
//! same id are two, and the refund's customer says which it means),
//! claimed under its id: the same
//! refund again (same `refundTransactionId`) answers as the first did and
//! changes nothing; a concurrent one gets 422/2001; a different refund of a
//! reversed transaction gets 422/9001. A rollback whose answer is lost
//! keeps the claim, and the retry rolls back again: Voucherify refuses a
//! second rollback (`already_rolled_back`), which is what makes that safe.
//!
//! A refund of an order that went on to Gameball for its points goes on to
//! Gameball as well, once the coupons are given back ([`pass_on`]).
//!
//! A partial refund (`refundAmount` below what was paid, or `lineItems`
//! without an amount) keeps the coupons used: the customer kept part of the
//! order. Only a full refund or a cancellation gives them back. A refund of
//! a transaction still being processed is told to retry (422/2001); one
//! Voucherify will not roll back (too old, say) is 422/9000.

use super::Cx;
use super::redeem::lease_for;
use super::tracked::{Tracked, op_kind, roll_back, source_id};
use crate::clock::{Millis, iso, parse_iso};
use crate::domain::{Answer, GameballAnswer, RefundCmd, Refunded, Transaction};
use crate::error::{Failure, Kind, Origin, Retry};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind, OpOutcome};

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

/// Where the transaction a refund names is.
enum Original {
    Tracked(Transaction, Tracked),
    /// Claimed, not settled: the order or payment is being processed.
    InFlight,
    Unknown,
}

/// The tracked order or payment `id` (`kinds` in the order looked at):
/// when an order and a payment share the id, the one of the refund's
/// customer.
async fn original(cx: &Cx, id: &str, kinds: &[Transaction], customer: Option<&str>) -> Result<Original, Failure> {
    let mut found = Original::Unknown;
    for &kind in kinds {
        match cx.store().outcome(&cx.tenant.name, op_kind(kind), id).await? {
            OpOutcome::Done(stored) => {
                let mut tracked = Tracked::parse(&stored, id);
                if tracked.source_id.is_empty() {
                    tracked.source_id = source_id(kind, id);
                }
                let theirs = match (customer, tracked.customer_id.as_deref()) {
                    (Some(c), Some(owner)) => c == owner,
                    _ => true,
                };
                if theirs || matches!(found, Original::Unknown) {
                    found = Original::Tracked(kind, tracked);
                }
                if theirs {
                    break;
                }
            }
            OpOutcome::Pending if matches!(found, Original::Unknown) => found = Original::InFlight,
            _ => {}
        }
    }
    Ok(found)
}

/// couponbridge's id for a refund that claims nothing (a partial one):
/// derived, so the same refund again answers the same id.
fn derived_id(tenant: &str, reverse_id: &str, refund_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{tenant}\u{1f}{reverse_id}\u{1f}{refund_id}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("cbrf_{hex}")
}

pub async fn run(cx: &Cx, cmd: &RefundCmd) -> Result<Answer, Failure> {
    // A cancellation names an order; a refund an order or a payment.
    let kinds: &[Transaction] = if cmd.cancel {
        &[Transaction::Order]
    } else {
        &[Transaction::Order, Transaction::Payment]
    };
    let customer = cmd.customer.as_ref().map(|c| c.id.as_str());
    let (kind, tracked) = match original(cx, &cmd.reverse_id, kinds, customer).await? {
        Original::Tracked(kind, tracked) => (kind, tracked),
        Original::InFlight => return Err(Failure::in_progress("The transaction being refunded")),
        Original::Unknown => {
            return Err(Failure::client(
                Kind::TransactionNotFound,
                format!("Transaction Not Found: no tracked order or payment {}", cmd.reverse_id),
            ));
        }
    };
    if let (Some(given), Some(owner)) = (customer, &tracked.customer_id)
        && given != owner
    {
        return Err(Failure::invalid(
            "customerId",
            "the transaction belongs to another customer",
        ));
    }
    // An order whose pass-on a retry finished says so under that retry's
    // own claim, not in the order's record.
    let passed_on = tracked.passed_on
        || matches!(
            cx.store()
                .outcome(
                    &cx.tenant.name,
                    OpKind::PassOn,
                    &format!("{}\u{1f}{}", kind.name(), cmd.reverse_id)
                )
                .await?,
            OpOutcome::Done(_)
        );
    let refunded = reverse(cx, cmd, kind, tracked).await?;
    if passed_on && let Some(answer) = pass_on(cx).await? {
        return Ok(Answer::PassedOn(answer));
    }
    Ok(Answer::Refunded(refunded))
}

/// A refund of an order that went on to Gameball for its points goes on to
/// Gameball too, once its coupons are given back, so Gameball reverses
/// the points; the merchant gets Gameball's answer. Gameball failing (or
/// not answering) is an error to retry: the same refund again changes
/// nothing more in Voucherify and is passed on again (Gameball keeps one
/// refund per `refundTransactionId`).
async fn pass_on(cx: &Cx) -> Result<Option<GameballAnswer>, Failure> {
    let (Some(gameball), Some(call)) = (&cx.gameball, &cx.call) else {
        return Ok(None);
    };
    if let Some(m) = cx.fx.metrics() {
        m.gameball_call(&cx.tenant.name, "refunds", "forward");
    }
    match cx.fx.pass_on(gameball, call, &cx.request_id).await {
        Ok(a) if a.status < 500 => Ok(Some(a)),
        Ok(a) => Err(gameball_did_not_reverse(format!("Gameball answered {}", a.status))),
        Err(e) => Err(gameball_did_not_reverse(e.to_string())),
    }
}

fn gameball_did_not_reverse(why: String) -> Failure {
    Failure::new(
        Kind::UpstreamUnavailable,
        Origin::Gameball,
        "Gameball did not take the refund: the coupons were given back, the points were not; retry the refund",
    )
    .at("gameball.refund")
    .retry(Retry::Safe)
    .because(why)
}

/// The Voucherify side of a refund: the tracked transaction's coupons
/// given back, once.
async fn reverse(cx: &Cx, cmd: &RefundCmd, kind: Transaction, tracked: Tracked) -> Result<Refunded, Failure> {
    let store = &cx.store();
    // One reversal per order and per payment, even when they share an id.
    let what = match kind {
        Transaction::Order => "order",
        Transaction::Payment => "payment",
    };
    let reversal_id = format!("{what}\u{1f}{}", cmd.reverse_id);
    let whole = tracked.paid_minor.or(tracked.amount_minor);
    let amount = cmd.amount_minor.or(whole);
    let partial = cmd.items_only && cmd.amount_minor.is_none()
        || matches!((cmd.amount_minor, whole), (Some(r), Some(t)) if r < t);
    if partial {
        // Nothing of the coupons to undo, and nothing to claim: a later
        // full refund may still give them back. A reversed transaction is
        // refused all the same.
        if let OpOutcome::Done(stored) = store.outcome(&cx.tenant.name, OpKind::Reversal, &reversal_id).await? {
            return repeated(cmd, &stored, cx.now());
        }
        return Ok(Refunded {
            transaction_id: derived_id(&cx.tenant.name, &cmd.reverse_id, &cmd.refund_id),
            refund_id: cmd.refund_id.clone(),
            reverse_id: cmd.reverse_id.clone(),
            amount_minor: amount,
            at: cx.now(),
            cancel: cmd.cancel,
        });
    }
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &cx.tenant.name,
        kind: OpKind::Reversal,
        id: &reversal_id,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    };
    // The order read back, then its rollbacks.
    match store.claim(&op, cx.now(), lease_for(cx, 4)).await? {
        Claim::Done(stored) => return repeated(cmd, &stored, cx.now()),
        Claim::Busy => return Err(Failure::in_progress("A refund of this transaction")),
        Claim::Claimed | Claim::Resumed { .. } => {}
    }
    match roll_back(cx, &tracked).await {
        Ok(()) => {
            let reversal = Reversal {
                transaction_id: ids::prefixed_hex("cbrf_", 12),
                refund_id: cmd.refund_id.clone(),
                at: iso(cx.now()),
                amount_minor: amount,
            };
            store
                .settle(&op, Some(&serde_json::to_string(&reversal).unwrap_or_default()))
                .await?;
            Ok(reversal.answer(cmd, cx.now()))
        }
        Err(failed) => {
            if !failed.outcome_unknown {
                store.settle(&op, None).await?;
            }
            Err(failed.failure)
        }
    }
}

/// A refund of a reversed transaction: the same refund again answers as
/// the first did; another is refused.
fn repeated(cmd: &RefundCmd, stored: &str, now: Millis) -> Result<Refunded, Failure> {
    let earlier: Reversal = serde_json::from_str(stored)
        .map_err(|e| Failure::internal(format!("a stored reversal cannot be read: {e}")))?;
    if earlier.refund_id == cmd.refund_id {
        return Ok(earlier.answer(cmd, now));
    }
    Err(Failure::client(
        Kind::AlreadyReversed,
        format!(
            "Transaction Already Cancelled: {} was reversed by {}",
            cmd.reverse_id, earlier.refund_id
        ),
    ))
}
