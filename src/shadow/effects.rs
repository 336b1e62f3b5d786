//! The dry effects shadow mode runs the operations with: every Voucherify
//! read is made, every write is replaced by what can be learnt without
//! it, and locks and claims go to the shadow's own bounded store.
//!
//! * a validation that would hold coupons validates them without a
//!   session (nothing is held);
//! * a redemption validates its codes for the same customer and amount,
//!   and is refused as Voucherify's redemption would refuse the first code
//!   that does not validate;
//! * a session release is taken as done (nothing was held);
//! * a coupon creation checks the code is free and answers the coupon the
//!   request describes, without creating it;
//! * a call passed on to Gameball (an order, once its coupons are
//!   redeemed) answers what Gameball answered the merchant;
//! * a reward redemption and a rollback are withheld: what they answer
//!   cannot be known without making them, and the comparison says so;
//! * a new lock takes the reference Gameball handed out, so the calls that
//!   name it later find it in the shadow's store.
//!
//! Nothing is written to Voucherify or to the lock store.

use serde_json::Value;

use futures_util::future::BoxFuture;

use crate::domain::{GameballAnswer, PassOn};
use crate::ids;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::ops::effects::{Effects, Fx};
use crate::passthrough::{Passthrough, Sent};
use crate::voucherify::client::{CreateOutcome, ErrorKind, Op, Project, RedeemOutcome, UpstreamError, Written};
use crate::voucherify::lifecycle::{Redemption, RewardRedemptionRequest, RollbackOutcome};
use crate::voucherify::{
    ErrorObject, Order, RedeemResponse, RedemptionId, StackableRequest, ValidationResponse, Voucher,
};

/// Gameball references longer than this are not remembered: a lock the
/// shadow cannot name later is compared as one it never saw.
pub const MAX_REFERENCE_BYTES: usize = 256;

/// The id a dry redemption answers with.
const DRY_REDEMPTION: &str = "dry-run";

pub struct Dry {
    /// The shadow's own store (shared by its comparisons).
    store: Store,
    /// The reference Gameball's answer handed out, if it did.
    gameball_reference: Option<String>,
    /// Gameball's answer to the call: what a call passed on to Gameball
    /// would have been answered (it was made already, by the merchant).
    gameball_answer: GameballAnswer,
}

impl Dry {
    pub fn new(store: Store, gameball_reference: Option<&str>, gameball_answer: GameballAnswer) -> Self {
        Dry {
            store,
            gameball_reference: gameball_reference
                .filter(|r| r.len() <= MAX_REFERENCE_BYTES)
                .map(str::to_owned),
            gameball_answer,
        }
    }
}

fn withheld(op: Op, why: &'static str) -> UpstreamError {
    UpstreamError::new(op, ErrorKind::Withheld(why))
}

/// The key Voucherify would refuse a redemption of these codes with: the
/// first inapplicable one's, in request order.
fn refusal_key(req: &StackableRequest, answer: &ValidationResponse) -> String {
    req.redeemables
        .iter()
        .find_map(|r| {
            answer.inapplicable_redeemables.iter().find(|x| x.id == r.id).map(|x| {
                x.result
                    .error
                    .as_ref()
                    .and_then(|e| e.key.clone())
                    .or_else(|| x.result.details.as_ref().and_then(|d| d.key.clone()))
                    .unwrap_or_default()
            })
        })
        .unwrap_or_default()
}

impl Effects for Dry {
    fn store(&self) -> &Store {
        &self.store
    }

    fn new_reference(&self, key: &[u8]) -> String {
        self.gameball_reference
            .clone()
            .unwrap_or_else(|| ids::lock_reference(key))
    }

    fn is_reference(&self, reference: &str) -> bool {
        !reference.is_empty() && reference.len() <= MAX_REFERENCE_BYTES
    }

    fn metrics(&self) -> Option<&Metrics> {
        None
    }

    fn validate<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, ValidationResponse> {
        Box::pin(async move {
            let unheld = StackableRequest {
                session: None,
                ..req.clone()
            };
            vf.writes().validate(&unheld).await
        })
    }

    fn redeem<'a>(&'a self, vf: Project<'a>, req: &'a StackableRequest) -> Fx<'a, RedeemOutcome> {
        Box::pin(async move {
            let check = StackableRequest {
                redeemables: req.redeemables.clone(),
                customer: req.customer.clone(),
                order: req.order.as_ref().map(|o| Order {
                    amount: o.amount,
                    ..Order::default()
                }),
                session: None,
                metadata: None,
            };
            let answer = vf.writes().validate(&check).await?;
            if answer.valid {
                // A redemption only a dry rollback can undo: a refund of
                // what a dry order redeemed is withheld, not a no-op.
                return Ok(RedeemOutcome::Redeemed(RedeemResponse {
                    parent_redemption: Some(RedemptionId {
                        id: DRY_REDEMPTION.to_owned(),
                    }),
                    ..RedeemResponse::default()
                }));
            }
            let error = ErrorObject {
                key: Some(refusal_key(req, &answer)),
                ..ErrorObject::default()
            };
            Ok(RedeemOutcome::Refused(400, error))
        })
    }

    fn release<'a>(&'a self, _: Project<'a>, _: &'a str, _: &'a str) -> Fx<'a, bool> {
        Box::pin(async { Ok(true) })
    }

    fn create_voucher<'a>(&'a self, vf: Project<'a>, body: &'a Value) -> Fx<'a, CreateOutcome> {
        Box::pin(async move {
            let code = body.get("code").and_then(Value::as_str);
            if let Some(code) = code
                && vf.voucher(code).await?.is_some()
            {
                let duplicate = ErrorObject {
                    key: Some("duplicate_found".into()),
                    ..ErrorObject::default()
                };
                return Ok(CreateOutcome::Refused(409, duplicate));
            }
            // The voucher as the request describes it; a generated code is
            // compared by kind only (see the shadow's rules).
            let mut voucher: Voucher = serde_json::from_value(body.clone()).unwrap_or_default();
            if voucher.code.is_empty() {
                voucher.code = ids::prefixed_hex("SHADOW-", 8);
            }
            Ok(CreateOutcome::Created(Box::new(voucher)))
        })
    }

    fn redeem_reward<'a>(
        &'a self,
        _: Project<'a>,
        _: &'a str,
        _: &'a str,
        _: &'a RewardRedemptionRequest<'a>,
    ) -> Fx<'a, Written<Redemption>> {
        Box::pin(async { Err(withheld(Op::RedeemReward, "a coupon from points spends points")) })
    }

    fn rollback<'a>(&'a self, _: Project<'a>, _: &'a str, _: &'a str) -> Fx<'a, RollbackOutcome> {
        Box::pin(async { Err(withheld(Op::Rollback, "a refund rolls back redemptions")) })
    }

    fn pass_on<'a>(
        &'a self,
        _: &'a Passthrough,
        _: &'a PassOn,
        _: &'a str,
    ) -> BoxFuture<'a, Result<GameballAnswer, Sent>> {
        Box::pin(async { Ok(self.gameball_answer.clone()) })
    }
}
