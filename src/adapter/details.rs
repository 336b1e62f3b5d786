//! `GET …/locks/{lockReference}` (seed 003): the lock's state from the
//! store, each coupon's definition from `GET /v1/vouchers/{code}` and the
//! validation rules it names.
//!
//! A released lock reads as expired at its release time: the seed shape has
//! no "released" field and strict clients (Jackson's default) reject fields
//! they do not know, so the documented fields carry the meaning.

use std::collections::HashMap;

use futures_util::future::try_join_all;

use crate::adapter::error::Failure;
use crate::adapter::{Ctx, Json};
use crate::clock::iso;
use crate::gameball::{Coupon, LockDetails};
use crate::ids;
use crate::locks::LockState;
use crate::translate;
use crate::voucherify::{ValidationRule, Voucher};

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
    let coupons = coupons(ctx, &record.codes).await?;
    let now = ctx.now();
    let is_expired = record.state == LockState::Released || record.is_expired(now);
    let expired_at = record.ended_at();
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

/// Each coupon's definition and the rules it names. A code Voucherify no
/// longer knows (deleted since it was locked) is still listed, with empty
/// terms. Coupons often share a rule (a minimum order): each is read once.
async fn coupons(ctx: &Ctx, codes: &[String]) -> Result<Vec<Coupon>, Failure> {
    let vf = &ctx.app.voucherify;
    let up = &ctx.tenant.upstream;
    let vouchers = try_join_all(codes.iter().map(|code| async move {
        let found = vf.voucher(up, code, ctx.call()).await?;
        Ok::<_, Failure>(found.unwrap_or_else(|| Voucher {
            code: code.clone(),
            ..Default::default()
        }))
    }))
    .await?;
    let mut rule_ids: Vec<&str> = vouchers.iter().flat_map(rule_ids_of).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules = try_join_all(rule_ids.iter().map(|id| vf.rule(up, id, ctx.call()))).await?;
    let rules: HashMap<&str, ValidationRule> = rule_ids
        .into_iter()
        .zip(rules)
        .filter_map(|(id, rule)| Some((id, rule?)))
        .collect();
    Ok(vouchers
        .iter()
        .map(|v| {
            let own: Vec<ValidationRule> = rule_ids_of(v).filter_map(|id| rules.get(id).cloned()).collect();
            translate::coupon(v, &own, ctx.tenant.decimals)
        })
        .collect())
}

fn rule_ids_of(v: &Voucher) -> impl Iterator<Item = &str> {
    v.validation_rules_assignments
        .iter()
        .flat_map(|a| a.data.iter().filter_map(|x| x.rule_id.as_deref()))
}
