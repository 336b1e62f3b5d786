//! Automatic coupons: the promotions a cart qualifies for
//! (`POST /v1/qualifications`), the one with the largest discount applied.
//! Nothing is held or redeemed: the checkout validates and burns as usual.

use super::Cx;
use crate::domain::{AppliedPromotion, AutomaticCmd};
use crate::error::Failure;
use crate::translate::lifecycle::{best_promotion, qualification_request};

pub async fn best(cx: &Cx, cmd: &AutomaticCmd) -> Result<Option<AppliedPromotion>, Failure> {
    let request = qualification_request(cmd);
    let answer = cx.vf().qualify(&request).await?;
    Ok(best_promotion(&answer))
}
