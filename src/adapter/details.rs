//! `GET …/locks/{lockReference}` (seed 003): the lock's state from the
//! store, each coupon's definition from `GET /v1/vouchers/{code}` and the
//! validation rules it names.
//!
//! A released lock reads as expired at its release time: the seed shape has
//! no "released" field and strict clients (Jackson's default) reject fields
//! they do not know, so the documented fields carry the meaning.

use futures_util::future::try_join_all;

use crate::adapter::error::Failure;
use crate::adapter::{Ctx, Json};
use crate::clock::iso;
use crate::gameball::{Coupon, LockDetails};
use crate::ids;
use crate::locks::LockState;
use crate::translate;
use crate::voucherify::Voucher;

pub async fn lock_details(ctx: &Ctx, reference: &str) -> Result<Json, Failure> {
    if !ids::is_lock_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let record = ctx
        .app
        .store
        .get(&ctx.tenant.name, reference)
        .await?
        .ok_or_else(Failure::lock_not_found)?;
    let coupons = try_join_all(record.codes.iter().map(|code| coupon(ctx, code))).await?;
    let now = ctx.now();
    let (is_expired, expired_at) = match record.state {
        LockState::Released => (true, record.released_at.unwrap_or(record.expires_at)),
        _ => (record.is_expired(now), record.expires_at),
    };
    let used = record.state == LockState::Used;
    Json::ok(&LockDetails {
        customer_id: record.customer_id,
        is_used: used,
        used_at: record.used_at.filter(|_| used).map(iso),
        is_expired: is_expired && !used,
        expired_at: Some(iso(expired_at)),
        coupons,
    })
}

/// One coupon's definition. A code Voucherify no longer knows (deleted
/// since it was locked) is still listed, with empty terms.
async fn coupon(ctx: &Ctx, code: &str) -> Result<Coupon, Failure> {
    let vf = &ctx.app.voucherify;
    let voucher = vf
        .voucher(&ctx.tenant.upstream, code, ctx.call())
        .await?
        .unwrap_or_else(|| Voucher {
            code: code.to_owned(),
            ..Default::default()
        });
    let rule_ids: Vec<String> = voucher
        .validation_rules_assignments
        .iter()
        .flat_map(|a| a.data.iter().filter_map(|x| x.rule_id.clone()))
        .collect();
    let rules = try_join_all(rule_ids.iter().map(|id| vf.rule(&ctx.tenant.upstream, id, ctx.call()))).await?;
    let rules: Vec<_> = rules.into_iter().flatten().collect();
    Ok(translate::coupon(&voucher, &rules, ctx.tenant.decimals))
}
