//! Automatic coupons: the promotions a cart qualifies for
//! (`POST /v1/qualifications`), the one with the largest discount applied.
//! Nothing is held or redeemed: the checkout validates and burns as usual.

use crate::adapter::Ctx;
use crate::adapter::error::Failure;
use crate::adapter::ops::{AppliedPromotion, AutomaticCmd};
use crate::translate::lifecycle::{best_promotion, qualification_request};

pub async fn best(ctx: &Ctx, cmd: &AutomaticCmd) -> Result<Option<AppliedPromotion>, Failure> {
    let request = qualification_request(cmd, &cmd.customer.as_customer());
    let answer = ctx
        .app
        .voucherify
        .qualify(&ctx.tenant.upstream, &request, ctx.call())
        .await?;
    Ok(best_promotion(&answer))
}
