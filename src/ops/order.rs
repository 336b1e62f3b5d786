//! Orders and payments with coupons: redeemed by lock, by codes, or both,
//! once per order or payment id. The id is claimed first; what the order
//! redeemed is kept with the claim before the answer, so a refund after a
//! restart knows what to roll back. With Gameball behind (`[passthrough]
//! upstream`, `[migration] forward_orders`), the order then goes on to
//! Gameball without its coupon part, for its points ([`super::pass_on`]).

use super::redeem::{
    Failed, Used, already_used, lease_until, metadata, order_redeemed, redeem, settle_unknown_burn, use_lock,
};
use super::tracked::{Tracked, op_kind, source_id};
use super::{Cx, pass_on};
use crate::clock::{Millis, iso};
use crate::domain::{Answer, OrderCmd, Transaction};
use crate::error::{Failure, Kind};
use crate::ids;
use crate::locks::{Claim, OpAttempt};
use crate::translate::RedemptionOrder;

/// Redeems an order's (or a payment's) coupons, by lock, by codes, or
/// both, once per order or payment id; then, when orders go on to Gameball,
/// passes it on ([`super::pass_on`]), whose answer is the merchant's.
pub async fn run(cx: &Cx, cmd: &OrderCmd) -> Result<Answer, Failure> {
    let order_id = &cmd.order_id;
    let source = source_id(cmd.kind, order_id);
    let reference = cmd.reference.as_deref();
    let codes = &cmd.codes;
    let store = &cx.store();
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &cx.tenant.name,
        kind: op_kind(cmd.kind),
        id: order_id,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    };
    let redeems = reference.is_some() || !codes.is_empty();
    let theirs = match reference {
        Some(r) => super::theirs::gameball_part(cx, r).await?,
        None => None,
    };
    let tracked = |redemption: Option<String>| Tracked {
        at: iso(cx.now()),
        source_id: source.clone(),
        redemption,
        amount_minor: cmd.amount_minor,
        paid_minor: cmd.paid_minor,
        redeemed: redeems,
        customer_id: Some(cmd.customer.id.clone()),
        passed_on: false,
        gameball_reference: theirs.clone(),
    };
    // One lease for the order claim, the lock and the pass-on: none
    // outlives the others.
    let lease = lease_until(cx) + pass_on::lease_ms(cx);
    let claim = store.claim(&op, cx.now(), lease).await?;
    // An attempt that takes over a lost one may find Gameball already has
    // the order: its "duplicate" is then an acceptance, not a refusal.
    let resumed = matches!(claim, Claim::Resumed { .. });
    let redemption = match claim {
        Claim::Done(stored) => {
            let earlier = Tracked::parse(&stored, order_id);
            return match pass_on::call(cx, cmd, earlier.gameball_reference.as_deref()) {
                // Redeemed, not passed on yet: the retry only passes it on.
                Some(call) if !earlier.passed_on => pass_on::finish(cx, cmd, &call, earlier).await,
                _ => Err(Failure::client(
                    Kind::DuplicateOrder,
                    format!(
                        "Transaction ID Already Exists: {} {order_id} was already tracked",
                        cmd.kind.name()
                    ),
                )),
            };
        }
        Claim::Busy => return Err(Failure::in_progress("The order")),
        // An earlier attempt's answer was lost; if Voucherify has the
        // redemption, that attempt redeemed, and this one goes on from there
        // (the redemption is found on the Voucherify order when needed).
        Claim::Resumed { .. } if redeems && order_redeemed(cx, &source).await? => {
            if let Some(r) = reference {
                settle_unknown_burn(cx, r).await?;
            }
            None
        }
        Claim::Claimed | Claim::Resumed { .. } => match redeem_order(cx, cmd, &source, lease).await {
            Ok(redemption) => redemption,
            Err(failed) => {
                if !failed.outcome_unknown {
                    // Nothing was redeemed: the merchant may send this order again.
                    store.settle(&op, None).await?;
                }
                return Err(failed.failure);
            }
        },
    };
    let tracked = tracked(redemption);
    match pass_on::call(cx, cmd, theirs.as_deref()) {
        Some(call) => pass_on::first(cx, &op, cmd, &call, tracked, resumed).await,
        None => {
            store.settle(&op, Some(&tracked.encode())).await?;
            Ok(answered(cmd))
        }
    }
}

/// couponbridge's own answer to an order it keeps.
fn answered(cmd: &OrderCmd) -> Answer {
    let customer_id = cmd.customer.id.clone();
    match cmd.kind {
        Transaction::Order => Answer::Ordered { customer_id },
        Transaction::Payment => Answer::Paid { customer_id },
    }
}

/// The redemption of the order's coupons; `Ok` carries the id whose
/// rollback undoes it.
async fn redeem_order(cx: &Cx, cmd: &OrderCmd, source: &str, lease: Millis) -> Result<Option<String>, Failed> {
    let order_id = &cmd.order_id;
    let order = RedemptionOrder {
        source_id: source,
        amount_minor: cmd.amount_minor,
        shipping_minor: cmd.shipping_minor,
    };
    match (cmd.reference.as_deref(), cmd.codes.is_empty()) {
        (None, true) => Ok(None),
        (Some(reference), _) => {
            match use_lock(cx, reference, &cmd.customer, &order, &cmd.codes, Some(order_id), lease).await {
                Ok(Used::Now(_, rollback_id)) => Ok(rollback_id),
                // This order's own earlier attempt used it, and its
                // redemption stands; one rolled back (Gameball refused the
                // order) leaves the lock used up: validate again.
                Ok(Used::Before(record)) if record.used_by.as_deref() == Some(source) => {
                    match order_redeemed(cx, source).await {
                        Ok(true) => Ok(None),
                        Ok(false) => Err(Failed::from(already_used())),
                        Err(f) => Err(Failed::unknown(f)),
                    }
                }
                Ok(Used::Before(_)) => Err(Failed::from(already_used())),
                Err(f) => Err(f),
            }
        }
        (None, false) => {
            let meta = metadata(None, Some(order_id));
            redeem(cx, &cmd.codes, &cmd.customer, &order, None, meta).await
        }
    }
}
