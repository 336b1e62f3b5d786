//! Burns: a lock's coupons redeemed (`cb-{lockReference}` names the
//! Voucherify order), or codes without a lock, once per `transactionId`
//! when one is given (`cb-tx-{id}`).

use super::Cx;
use super::pass_on::compensated;
use super::redeem::{Used, already_used, lease_until, metadata, order_redeemed, redeem, use_lock};
use crate::clock::{Millis, iso, parse_iso};
use crate::domain::{Answer, BurnCmd, BurnTarget, Burned, CustomerIds};
use crate::error::{Failure, Kind, Origin};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::translate::RedemptionOrder;
use crate::voucherify::lifecycle::RollbackOutcome;

pub async fn run(cx: &Cx, cmd: BurnCmd) -> Result<Answer, Failure> {
    let customer = &cmd.customer;
    let tx = cmd.transaction_id.as_deref();
    let at = match &cmd.target {
        BurnTarget::Lock(reference) => {
            let theirs = super::theirs::gameball_part(cx, reference).await?;
            let source = format!("cb-{reference}");
            let order = RedemptionOrder {
                source_id: &source,
                amount_minor: None,
                shipping_minor: None,
            };
            match use_lock(cx, reference, customer, &order, &[], tx, lease_until(cx))
                .await
                .map_err(|f| f.failure)?
            {
                Used::Now(at, rollback) => match &theirs {
                    Some(theirs) => {
                        if let Some(refused) = burn_theirs(cx, reference, theirs, rollback).await? {
                            return Ok(refused);
                        }
                        at
                    }
                    None => at,
                },
                // A retry of the same burn (same customer and transaction)
                // answers the same; anything else is a second burn.
                Used::Before(record)
                    if record.used_by.as_deref() == Some(source.as_str())
                        && record.transaction_id.as_deref() == tx
                        && record.customer_id == customer.id =>
                {
                    // A lock over both sides whose Voucherify part was
                    // rolled back (Gameball did not burn its own) is used
                    // up, not burned: never a 200 for coupons still usable.
                    if theirs.is_some() && !order_redeemed(cx, &source).await? {
                        return Err(already_used());
                    }
                    record.used_at.unwrap_or_else(|| cx.now())
                }
                Used::Before(_) => return Err(already_used()),
            }
        }
        BurnTarget::Codes(codes) => burn_codes(cx, customer, codes, tx).await?,
    };
    Ok(Answer::Burned(Burned {
        at,
        transaction_id: cmd.transaction_id,
        transaction_time: cmd.transaction_time,
    }))
}

const BURN_ROLLED_BACK: &str =
    "couponbridge rolled back the redemption of this lock's other coupons; the lock is used up, validate again";

/// Burns Gameball's part of a lock standing for both sides, once
/// Voucherify's part is redeemed (Voucherify's can be rolled back,
/// Gameball's cannot). `None`: burned on both sides. Otherwise Voucherify's
/// redemption is rolled back and the answer says so: Gameball's refusal,
/// or an error when Gameball did not answer.
async fn burn_theirs(
    cx: &Cx,
    reference: &str,
    theirs: &str,
    rollback: Option<String>,
) -> Result<Option<Answer>, Failure> {
    let sent = super::theirs::gameball_side(cx, "burn", reference, theirs).await;
    if let Some(Ok(a)) = &sent
        && (200..300).contains(&a.status)
    {
        return Ok(None);
    }
    if let Some(id) = rollback {
        let undone = cx.fx.rollback(cx.vf(), &id, "gameball refused the burn").await;
        if !matches!(
            undone,
            Ok(RollbackOutcome::RolledBack | RollbackOutcome::AlreadyRolledBack)
        ) {
            tracing::error!(request_id = %cx.request_id, "Gameball did not burn its part of a lock and Voucherify's part could not be rolled back");
            return Err(Failure::new(
                Kind::UpstreamUnavailable,
                Origin::Gameball,
                "Gameball did not burn its coupons of this lock, and couponbridge could not roll back the others; they stay redeemed",
            ));
        }
    }
    match sent {
        Some(Ok(a)) => Ok(Some(Answer::PassedOn(compensated(a, BURN_ROLLED_BACK)))),
        Some(Err(e)) => Err(Failure::new(
            Kind::UpstreamUnavailable,
            Origin::Gameball,
            format!("Gameball did not answer the burn of its coupons; {BURN_ROLLED_BACK}"),
        )
        .caused_by(e)),
        None => Err(Failure::internal("no Gameball to burn its part of the lock")),
    }
}

/// A burn by codes (no lock): once per `transactionId` when one is given.
async fn burn_codes(cx: &Cx, customer: &CustomerIds, codes: &[String], tx: Option<&str>) -> Result<Millis, Failure> {
    let store = &cx.store();
    let attempt = ids::prefixed_hex("att_", 16);
    let source = match tx {
        Some(tx) => format!("cb-tx-{tx}"),
        None => format!("cb-burn-{}", ids::prefixed_hex("", 16)),
    };
    let op = tx.map(|tx| OpAttempt {
        tenant: &cx.tenant.name,
        kind: OpKind::Burn,
        id: tx,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    });
    if let Some(op) = &op {
        match store.claim(op, cx.now(), lease_until(cx)).await? {
            Claim::Done(result) => return Ok(parse_iso(&result).unwrap_or_else(|| cx.now())),
            Claim::Busy => return Err(Failure::in_progress("The transaction")),
            Claim::Resumed { .. } if order_redeemed(cx, &source).await? => {
                let now = cx.now();
                store.settle(op, Some(&iso(now))).await?;
                return Ok(now);
            }
            Claim::Claimed | Claim::Resumed { .. } => {}
        }
    }
    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: None,
        shipping_minor: None,
    };
    match redeem(cx, codes, customer, &order, None, metadata(None, tx)).await {
        Ok(_) => {
            let now = cx.now();
            if let Some(op) = &op {
                store.settle(op, Some(&iso(now))).await?;
            }
            Ok(now)
        }
        Err(failed) => {
            if let Some(op) = op.filter(|_| !failed.outcome_unknown) {
                store.settle(&op, None).await?;
            }
            Err(failed.failure)
        }
    }
}
