//! Gameball's part of a lock that stands for both sides
//! (`[migration] coupon_fallback`, [`super::fallback`]): its reference, kept
//! in couponbridge's record, and the merchant's call as it reaches it.

use super::Cx;
use crate::domain::GameballAnswer;
use crate::passthrough::Sent;

/// Gameball's reference, when lock `reference` stands for both sides.
pub async fn gameball_part(cx: &Cx, reference: &str) -> Result<Option<String>, crate::error::Failure> {
    if cx.gameball.is_none() || !cx.fx.is_reference(reference) {
        return Ok(None);
    }
    Ok(cx
        .store()
        .get(&cx.tenant.name, reference)
        .await?
        .and_then(|r| r.gameball_reference))
}

/// The merchant's call as it reaches Gameball's part of a lock that
/// stands for both sides (`reference` is couponbridge's, `theirs`
/// Gameball's), counted as a call for state Gameball owns.
pub async fn gameball_side(
    cx: &Cx,
    operation: &'static str,
    reference: &str,
    theirs: &str,
) -> Option<Result<GameballAnswer, Sent>> {
    let (gameball, call) = (cx.gameball.as_ref()?, cx.call.as_ref()?);
    if let Some(m) = cx.fx.metrics() {
        m.gameball_call(&cx.tenant.name, operation, "reference");
    }
    Some(
        cx.fx
            .pass_on(gameball, &call.naming(reference, theirs), &cx.request_id)
            .await,
    )
}
