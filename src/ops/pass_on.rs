//! Orders and payments passed on to Gameball once their coupons are
//! redeemed in Voucherify, so Gameball still holds and redeems points and
//! awards cashback: without their coupon part, every other field as the
//! merchant sent it. The merchant gets Gameball's answer.
//!
//! Exactly once on both sides. The order's claim is held through the
//! redemption and the pass-on, so Gameball gets the order once per order
//! id:
//!
//! * Gameball accepts: the claim is settled, the order `passed_on`.
//! * Gameball refuses it (a 4xx: a points hold it does not know, an order
//!   id it already has): the redemption is rolled back and the claim
//!   forgotten, so no coupon stays redeemed for an order Gameball does not
//!   have, and the merchant may send the order again; the answer is
//!   Gameball's, its message saying the redemption was rolled back. If the
//!   rollback itself fails, the claim stays and the merchant retries.
//! * Gameball fails or does not answer in time: the coupons stay redeemed
//!   and the claim is settled not passed on; the merchant gets Gameball's
//!   error, and a retry of the same order id only passes it on
//!   ([`finish`], under a claim of its own), never redeeming again.

use super::Cx;
use super::tracked::{Tracked, op_kind, roll_back};
use crate::domain::{Answer, GameballAnswer, OrderCmd, PassOn, Transaction};
use crate::error::{Failure, Kind};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::passthrough::Sent;

/// The call to pass on, when this order goes on to Gameball: the order
/// whole, naming Gameball's reference, when its lock stood for both sides
/// (`theirs`: Gameball burns its coupons with it, whatever
/// `forward_orders` says); otherwise the call the request phase kept
/// (`[migration] forward_orders`), when there is a Gameball to send it to.
pub fn call(cx: &Cx, cmd: &OrderCmd, theirs: Option<&str>) -> Option<PassOn> {
    cx.gameball.as_ref()?;
    match (theirs, cmd.reference.as_deref(), &cx.call) {
        (Some(theirs), Some(ours), Some(call)) => Some(call.naming(ours, theirs)),
        _ => cmd.pass_on.clone(),
    }
}

/// How much longer an order's claim is held when it is passed on: one
/// call to Gameball.
pub fn lease_ms(cx: &Cx) -> i64 {
    cx.gameball.as_ref().map_or(0, |gb| gb.timeout().as_millis() as i64)
}

/// What Gameball's answer means for the order.
enum Judged {
    Accepted(GameballAnswer),
    Refused(GameballAnswer),
    /// No answer, or a failure of Gameball's own (5xx): it may or may not
    /// have the order.
    Unanswered(Result<GameballAnswer, Failure>),
}

/// `again`: this is a retry of a pass-on that did not finish, so an order
/// id Gameball already has is this order, arrived the first time.
fn judge(sent: Result<GameballAnswer, Sent>, again: bool) -> Judged {
    let a = match sent {
        Ok(a) => a,
        Err(e) => return Judged::Unanswered(Err(e.into())),
    };
    let duplicate = a.status == 422 && gameball_code(&a) == Some(9004);
    match a.status {
        200..=299 => Judged::Accepted(a),
        _ if duplicate && again => Judged::Accepted(a),
        408 | 429 | 500..=599 => Judged::Unanswered(Ok(a)),
        _ => Judged::Refused(a),
    }
}

fn gameball_code(a: &GameballAnswer) -> Option<i64> {
    serde_json::from_slice::<serde_json::Value>(&a.body).ok()?["code"].as_i64()
}

fn operation(cmd: &OrderCmd) -> &'static str {
    match cmd.kind {
        Transaction::Order => "orders",
        Transaction::Payment => "payments",
    }
}

async fn send(cx: &Cx, cmd: &OrderCmd, call: &PassOn) -> Result<GameballAnswer, Sent> {
    let Some(gameball) = &cx.gameball else {
        return Err(Sent::NotSent("no [passthrough] upstream".into()));
    };
    if let Some(m) = cx.fx.metrics() {
        m.gameball_call(&cx.tenant.name, operation(cmd), "forward");
    }
    cx.fx.pass_on(gameball, call, &cx.request_id).await
}

const ORDER_ROLLED_BACK: &str =
    "couponbridge rolled back this order's coupon redemption; the coupons can be used again";

/// Gameball's refusal, saying what couponbridge undid (`note`).
pub(crate) fn compensated(mut a: GameballAnswer, note: &str) -> GameballAnswer {
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&a.body)
        && let Some(m) = v.get("message").and_then(|m| m.as_str()).map(str::to_owned)
    {
        v["message"] = format!("{m} ({note})").into();
        a.body = serde_json::to_vec(&v).unwrap_or(a.body);
    }
    a.headers
        .push(("x-couponbridge-compensation".into(), "redemption-rolled-back".into()));
    a
}

/// Undoes what the order redeemed.
async fn undo(cx: &Cx, tracked: &Tracked) -> Result<(), Failure> {
    if !tracked.redeemed {
        return Ok(());
    }
    roll_back(cx, tracked).await.map_err(|f| {
        tracing::warn!(request_id = %cx.request_id, error = %f.failure.chain(), "Gameball refused an order whose coupons could not be rolled back yet");
        Failure::new(
            Kind::UpstreamUnavailable,
            f.failure.origin,
            "Gameball refused the order and couponbridge could not roll its coupons back yet; retry the order",
        )
        .retry(crate::error::Retry::Safe)
        .caused_by(f.failure)
    })
}

/// The first pass-on, the order's claim (`op`) still this attempt's.
pub async fn first(
    cx: &Cx,
    op: &OpAttempt<'_>,
    cmd: &OrderCmd,
    call: &PassOn,
    tracked: Tracked,
    resumed: bool,
) -> Result<Answer, Failure> {
    let store = cx.store();
    match judge(send(cx, cmd, call).await, resumed) {
        Judged::Accepted(a) => {
            let passed = Tracked {
                passed_on: true,
                ..tracked
            };
            store.settle(op, Some(&passed.encode())).await?;
            Ok(Answer::PassedOn(a))
        }
        Judged::Refused(a) => {
            // On failure the claim stays: a retry after the lease finds the
            // redemption, passes on again, and rolls back again.
            undo(cx, &tracked).await?;
            store.settle(op, None).await?;
            Ok(Answer::PassedOn(compensated(a, ORDER_ROLLED_BACK)))
        }
        Judged::Unanswered(answer) => {
            store.settle(op, Some(&tracked.encode())).await?;
            answer.map(Answer::PassedOn)
        }
    }
}

/// A retry of an order whose coupons were redeemed and whose pass-on did
/// not finish: it is only passed on, under a claim of its own.
pub async fn finish(cx: &Cx, cmd: &OrderCmd, call: &PassOn, tracked: Tracked) -> Result<Answer, Failure> {
    let store = cx.store();
    let id = format!("{}\u{1f}{}", cmd.kind.name(), cmd.order_id);
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &cx.tenant.name,
        kind: OpKind::PassOn,
        id: &id,
        attempt: &attempt,
        keep: cx.locks.order_retention,
    };
    let lease = cx.now() + 2 * lease_ms(cx);
    match store.claim(&op, cx.now(), lease).await? {
        Claim::Done(_) => {
            return Err(Failure::client(
                Kind::DuplicateOrder,
                format!(
                    "Transaction ID Already Exists: {} {} was already tracked",
                    cmd.kind.name(),
                    cmd.order_id
                ),
            ));
        }
        Claim::Busy => return Err(Failure::in_progress("The order")),
        Claim::Claimed | Claim::Resumed { .. } => {}
    }
    match judge(send(cx, cmd, call).await, true) {
        Judged::Accepted(a) => {
            store.settle(&op, Some("passed_on")).await?;
            Ok(Answer::PassedOn(a))
        }
        Judged::Refused(a) => {
            let undone = undo(cx, &tracked).await;
            store.settle(&op, None).await?;
            undone?;
            store.forget(&cx.tenant.name, op_kind(cmd.kind), &cmd.order_id).await?;
            Ok(Answer::PassedOn(compensated(a, ORDER_ROLLED_BACK)))
        }
        Judged::Unanswered(answer) => {
            store.settle(&op, None).await?;
            answer.map(Answer::PassedOn)
        }
    }
}
