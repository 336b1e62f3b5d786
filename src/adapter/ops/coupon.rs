//! The SDK-era discount-coupon operations: redeem one code (no lock) and
//! create a coupon.
//!
//! Redeem, exactly once. The SDKs send no idempotency key (their
//! `transactionTime` is new on every call), so the claim is on the pair
//! customer + code, and only while an attempt's outcome is unknown: a
//! finished redemption forgets its claim, so the same customer may redeem a
//! multi-use code again later. A claim redeems on one Voucherify order,
//! named after the attempt that opened it (`cb-redeem-{first}`); every
//! retry after a lost answer reads that order back before it redeems
//! again, on the same order, so however many attempts fail on the way
//! (a look-up that fails too), at most one redemption is made. A second
//! redemption of a used single-use code is Voucherify's refusal, as for
//! any redemption.

use crate::adapter::Ctx;
use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::redeem::{Failed, in_progress, lease_until, metadata, order_redeemed, redeem as redeem_once};
use crate::adapter::ops::{CodeRedeemed, CouponCreated, CouponDraft, RedeemCodeCmd};
use crate::ids;
use crate::locks::{Claim, OpAttempt, OpKind};
use crate::translate::{self, InvalidReason, RedemptionOrder};
use crate::voucherify::client::CreateOutcome;

fn order_of(attempt: &str) -> String {
    format!("cb-redeem-{attempt}")
}

pub async fn redeem(ctx: &Ctx, cmd: RedeemCodeCmd) -> Result<CodeRedeemed, Failure> {
    let store = &ctx.app.store;
    // The unit separator cannot occur in a trimmed code or id from JSON text
    // a client typed, so two pairs never share a claim.
    let claim_id = format!("{}\u{1f}{}", cmd.customer.id, cmd.code);
    let attempt = ids::prefixed_hex("att_", 16);
    let op = OpAttempt {
        tenant: &ctx.tenant.name,
        kind: OpKind::Redeem,
        id: &claim_id,
        attempt: &attempt,
        keep: ctx.cfg.locks.order_retention,
    };
    let done = |ctx: &Ctx| CodeRedeemed {
        customer_id: cmd.customer.id.clone(),
        code: cmd.code.clone(),
        at: ctx.now(),
    };
    let source = match store.claim(&op, ctx.now(), lease_until(ctx)).await? {
        Claim::Busy => return Err(in_progress("A redemption of this coupon for this customer")),
        // An earlier attempt's answer was lost: if Voucherify has the
        // claim's redemption, this call is its retry and succeeded.
        Claim::Resumed { first } => {
            let source = order_of(&first);
            if order_redeemed(ctx, &source).await? {
                store.settle(&op, None).await?;
                return Ok(done(ctx));
            }
            source
        }
        // Done is never stored for this kind (a finished claim is forgotten).
        Claim::Claimed | Claim::Done(_) => order_of(&attempt),
    };
    let order = RedemptionOrder {
        source_id: &source,
        amount_minor: None,
        shipping_minor: None,
    };
    let codes = [cmd.code.clone()];
    let customer = cmd.customer.as_customer();
    match redeem_once(ctx, &codes, &customer, &order, None, metadata(None, None)).await {
        Ok(_) => {
            store.settle(&op, None).await?;
            Ok(done(ctx))
        }
        Err(Failed {
            failure,
            outcome_unknown: true,
        }) => {
            // The claim stays: the next attempt reconciles first.
            tracing::warn!(request_id = %ctx.request_id, "redemption outcome unknown; the next attempt will reconcile");
            Err(failure)
        }
        Err(Failed { failure, .. }) => {
            store.settle(&op, None).await?;
            Err(failure)
        }
    }
}

/// `POST /v1/vouchers`, then the new coupon's terms as Voucherify stored
/// them. Not retried: with a generated code, a retry would be a second
/// coupon.
pub async fn create(ctx: &Ctx, draft: CouponDraft) -> Result<CouponCreated, Failure> {
    let body = translate::voucher_request(&draft);
    match ctx
        .app
        .voucherify
        .create_voucher(&ctx.tenant.upstream, &body, ctx.call())
        .await?
    {
        CreateOutcome::Created(voucher) => Ok(CouponCreated {
            customer_id: draft.customer_id,
            coupon: translate::coupon(&voucher, &[], ctx.tenant.decimals),
        }),
        CreateOutcome::Refused(status, e) => {
            let key = e.key.as_deref().unwrap_or("");
            let why = e.details.or(e.message).unwrap_or_else(|| key.to_owned());
            let kind = if status == 409 || key == "duplicate_found" {
                Kind::AlreadyExists
            } else {
                Kind::InvalidValue
            };
            let message = match kind {
                Kind::AlreadyExists => "A coupon with this code already exists".to_owned(),
                _ => format!(
                    "Invalid value: the coupon service refused the coupon: {}",
                    match InvalidReason::from_key(key) {
                        InvalidReason::Invalid => why,
                        reason => reason.message(&ctx.tenant.messages),
                    }
                ),
            };
            Err(Failure::client(kind, message))
        }
    }
}
