//! A tracked order or payment: what the store keeps of it before the
//! merchant is answered (what it redeemed, whose it was, whether it went on
//! to Gameball), and how what it redeemed is undone (a refund, or an order
//! Gameball refused after its coupons were redeemed).

use super::Cx;
use super::redeem::Failed;
use crate::domain::Transaction;
use crate::error::{Failure, Kind};
use crate::locks::OpKind;
use crate::voucherify::lifecycle::RollbackOutcome;

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
    /// Passed on to Gameball (`[migration] forward_orders`): a retry of an
    /// order whose pass-on failed only passes it on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passed_on: bool,
    /// Gameball's reference, when the order's lock stood for both sides:
    /// the order goes to Gameball whole, naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gameball_reference: Option<String>,
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

    pub fn encode(&self) -> String {
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

/// Rolls back what `tracked` redeemed; the error says whether a rollback
/// may have happened anyway (the claim must stay).
pub(crate) async fn roll_back(cx: &Cx, tracked: &Tracked) -> Result<(), Failed> {
    let vf = cx.vf();
    if !tracked.redeemed {
        return Ok(());
    }
    let ids = match &tracked.redemption {
        Some(id) => vec![id.clone()],
        None => match vf.order(&tracked.source_id).await {
            Ok(Some(order)) => order.live_redemptions(),
            // An order without coupons is not in Voucherify: nothing to undo.
            Ok(None) => Vec::new(),
            Err(e) => return Err(Failure::from(e).into()),
        },
    };
    for id in &ids {
        match cx.fx.rollback(vf, id, "gameball refund").await {
            Ok(RollbackOutcome::RolledBack | RollbackOutcome::AlreadyRolledBack) => {}
            Ok(RollbackOutcome::NotFound) => {
                tracing::warn!(request_id = %cx.request_id, "a refunded order's redemption is not in Voucherify");
            }
            Ok(RollbackOutcome::Refused(key)) => {
                return Err(Failure::client(
                    Kind::NotReversible,
                    "Transaction Type Non-Reversible: Voucherify refuses to roll the redemption back",
                )
                .because(format!("rollback refused: {key}"))
                .into());
            }
            Err(e) => {
                return Err(Failed {
                    outcome_unknown: e.outcome_unknown(),
                    failure: e.into(),
                });
            }
        }
    }
    Ok(())
}
