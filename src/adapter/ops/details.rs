//! Lock details: the lock's state from the store, each coupon's definition
//! from `GET /v1/vouchers/{code}` and the validation rules it names. The
//! definitions are also what a validation returns when its dialect shows
//! full Coupon objects. Definitions are reused for the tenant's
//! `definitions_ttl`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::try_join_all;

use crate::adapter::Ctx;
use crate::adapter::error::Failure;
use crate::adapter::ops::LockView;
use crate::gameball::Coupon;
use crate::ids;
use crate::translate;
use crate::voucherify::definitions::Definition;
use crate::voucherify::{ValidationRule, Voucher};

pub async fn run(ctx: &Ctx, reference: &str) -> Result<LockView, Failure> {
    if !ids::is_lock_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let record = ctx
        .app
        .store
        .get(&ctx.tenant.name, reference)
        .await?
        .ok_or_else(Failure::lock_not_found)?;
    Ok(LockView {
        coupons: coupons_of(ctx, &record.codes).await?,
        record,
        now: ctx.now(),
    })
}

/// A lock's coupons as lock details lists them. A code Voucherify no
/// longer knows (deleted since it was locked) is still listed, with empty
/// terms.
pub(crate) async fn coupons_of(ctx: &Ctx, codes: &[String]) -> Result<Vec<Coupon>, Failure> {
    Ok(terms(ctx, codes)
        .await?
        .into_iter()
        .zip(codes)
        .map(|(t, code)| {
            t.unwrap_or_else(|| {
                translate::coupon(
                    &Voucher {
                        code: code.clone(),
                        ..Default::default()
                    },
                    &[],
                    ctx.tenant.decimals,
                )
            })
        })
        .collect())
}

/// Each coupon's definition and the rules it names, `None` for a code
/// Voucherify does not know. Coupons often share a rule (a minimum order):
/// each is read once. Definitions read within the tenant's
/// `definitions_ttl` are reused (`crate::voucherify::definitions`).
pub async fn terms(ctx: &Ctx, codes: &[String]) -> Result<Vec<Option<Coupon>>, Failure> {
    let up = &ctx.tenant.upstream;
    let now = ctx.now();
    let cached: Vec<Option<Arc<Definition>>> = codes.iter().map(|c| up.definitions.get(c, now)).collect();
    let missing: Vec<&str> = codes
        .iter()
        .zip(&cached)
        .filter(|(_, d)| d.is_none())
        .map(|(c, _)| c.as_str())
        .collect();
    let read = if missing.is_empty() {
        HashMap::new()
    } else {
        read_definitions(ctx, &missing).await?
    };
    Ok(codes
        .iter()
        .zip(cached)
        .map(|(code, d)| {
            let d = d.or_else(|| read.get(code.as_str()).cloned())?;
            let v = d.voucher.as_ref()?;
            Some(translate::coupon(v, &d.rules, ctx.tenant.decimals))
        })
        .collect())
}

/// Reads `codes`' definitions from Voucherify (each shared rule once) and
/// keeps them in the tenant's cache.
async fn read_definitions<'c>(ctx: &Ctx, codes: &[&'c str]) -> Result<HashMap<&'c str, Arc<Definition>>, Failure> {
    let vf = &ctx.app.voucherify;
    let up = &ctx.tenant.upstream;
    let start = up.definitions.read_start();
    let vouchers = try_join_all(
        codes
            .iter()
            .map(|code| async move { Ok::<_, Failure>(vf.voucher(up, code, ctx.call()).await?) }),
    )
    .await?;
    let mut rule_ids: Vec<&str> = vouchers.iter().flatten().flat_map(rule_ids_of).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules = try_join_all(rule_ids.iter().map(|id| vf.rule(up, id, ctx.call()))).await?;
    let rules: HashMap<&str, ValidationRule> = rule_ids
        .into_iter()
        .zip(rules)
        .filter_map(|(id, rule)| Some((id, rule?)))
        .collect();
    let now = ctx.now();
    let mut out = HashMap::with_capacity(codes.len());
    for (code, voucher) in codes.iter().zip(vouchers.iter()) {
        let own = voucher
            .iter()
            .flat_map(rule_ids_of)
            .filter_map(|id| rules.get(id).cloned())
            .collect();
        let d = Arc::new(Definition {
            voucher: voucher.clone(),
            rules: own,
        });
        up.definitions.put(code, d.clone(), start, now);
        out.insert(*code, d);
    }
    Ok(out)
}

fn rule_ids_of(v: &Voucher) -> impl Iterator<Item = &str> {
    v.validation_rules_assignments
        .iter()
        .flat_map(|a| a.data.iter().filter_map(|x| x.rule_id.as_deref()))
}
