//! Orders and payments with coupons: redeemed by lock, by codes, or both,
//! once per order or payment id. The id is claimed first; what the order
//! redeemed is kept with the claim before the answer, so a refund after a
//! restart knows what to roll back.

use super::Cx;
use super::redeem::{
    Failed, Used, already_used, lease_until, metadata, order_redeemed, redeem, settle_unknown_burn, use_lock,
};
use crate::clock::iso;
use crate::domain::{OrderCmd, Transaction};
use crate::error::{Failure, Kind};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::translate::RedemptionOrder;

/// What the store keeps of a tracked order or payment, written before the
/// answer: what a refund must roll back, even after a restart.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tracked {
    pub at: String,
    /// The Voucherify order the redemption named.
    pub source_id: String,
    /// The redemption whose rollback undoes it; `None` when unknown (found
    /// on the Voucherify order then) or when nothing was redeemed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    /// What the customer paid (`totalPaid`): a refund of at least this much
    /// is a full one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_minor: Option<i64>,
    /// Whether anything was redeemed (an order without coupons has nothing
    /// to roll back, and its id must not be looked up in Voucherify).
    #[serde(default = "redeemed_by_default")]
    pub redeemed: bool,
    /// Whose it was, so a refund naming another customer is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

/// Records from before the flag were written only for orders that named
/// coupons or a lock, or may have: look them up.
fn redeemed_by_default() -> bool {
    true
}

impl Tracked {
    /// A stored result; records from before refunds existed held only the
    /// time, and name the order by its id.
    pub fn parse(stored: &str, id: &str) -> Tracked {
        serde_json::from_str(stored).unwrap_or_else(|_| Tracked {
            at: stored.to_owned(),
            source_id: id.to_owned(),
            redeemed: true,
            ..Tracked::default()
        })
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The Voucherify order id a transaction's redemption names: the merchant's
/// `orderId` itself, or `cb-pay-{paymentId}` so a payment never collides
/// with an order of the same id.
pub fn source_id(kind: Transaction, id: &str) -> String {
    match kind {
        Transaction::Order => id.to_owned(),
        Transaction::Payment => format!("cb-pay-{id}"),
    }
}

pub fn op_kind(kind: Transaction) -> OpKind {
    match kind {
        Transaction::Order => OpKind::Order,
        Transaction::Payment => OpKind::Payment,
    }
}

/// Redeems an order's (or a payment's) coupons, by lock, by codes, or
/// both, once per order or payment id.
pub async fn run(cx: &Cx, cmd: &OrderCmd) -> Result<(), Failure> {
    let order_id = &cmd.order_id;
    let source = source_id(cmd.kind, order_id);
    let reference = cmd.reference.as_deref();
    let codes = &cmd.codes;
    let customer = &cmd.customer;
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
    let tracked = |redemption: Option<String>| {
        Tracked {
            at: iso(cx.now()),
            source_id: source.clone(),
            redemption,
            amount_minor: cmd.amount_minor,
            paid_minor: cmd.paid_minor,
            redeemed: redeems,
            customer_id: Some(cmd.customer.id.clone()),
        }
        .encode()
    };
    // One lease for the order claim and the lock: neither outlives the other.
    let lease = lease_until(cx);
    match store.claim(&op, cx.now(), lease).await? {
        Claim::Done(_) => {
            let what = match cmd.kind {
                Transaction::Order => "order",
                Transaction::Payment => "payment",
            };
            return Err(Failure::client(
                Kind::DuplicateOrder,
                format!("Transaction ID Already Exists: {what} {order_id} was already tracked"),
            ));
        }
        Claim::Busy => return Err(Failure::in_progress("The order")),
        // An earlier attempt's answer was lost; if Voucherify has the
        // redemption, that attempt succeeded and this retry says so.
        Claim::Resumed { .. } if redeems && order_redeemed(cx, &source).await? => {
            if let Some(r) = reference {
                settle_unknown_burn(cx, r).await?;
            }
            // The redemption is found on the Voucherify order at refund time.
            store.settle(&op, Some(&tracked(None))).await?;
            return Ok(());
        }
        Claim::Claimed | Claim::Resumed { .. } => {}
    }

    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: cmd.amount_minor,
        shipping_minor: cmd.shipping_minor,
    };
    let result = match (reference, codes.is_empty()) {
        (None, true) => Ok(None),
        (Some(reference), _) => match use_lock(cx, reference, customer, &order, codes, Some(order_id), lease).await {
            Ok(Used::Now(_, rollback_id)) => Ok(rollback_id),
            // This order's own earlier attempt used it.
            Ok(Used::Before(record)) if record.used_by.as_deref() == Some(source.as_str()) => Ok(None),
            Ok(Used::Before(_)) => Err(Failed::from(already_used())),
            Err(f) => Err(f),
        },
        (None, false) => redeem(cx, codes, customer, &order, None, metadata(None, Some(order_id))).await,
    };
    match result {
        Ok(rollback_id) => {
            store.settle(&op, Some(&tracked(rollback_id))).await?;
            Ok(())
        }
        Err(failed) => {
            if !failed.outcome_unknown {
                // Nothing was redeemed: the merchant may send this order again.
                store.settle(&op, None).await?;
            }
            Err(failed.failure)
        }
    }
}
