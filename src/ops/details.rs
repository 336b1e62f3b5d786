//! Lock details: the lock's state from the store, each coupon's definition
//! from `GET /v1/vouchers/{code}` and the validation rules it names. The
//! definitions are also what a validation returns when its dialect shows
//! full Coupon objects. Definitions are reused for the tenant's
//! `definitions_ttl`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::try_join_all;

use super::Cx;
use crate::domain::{CouponTerms, LockView};
use crate::error::Failure;
use crate::translate;
use crate::voucherify::definitions::Definition;
use crate::voucherify::{ValidationRule, Voucher};

pub async fn run(cx: &Cx, reference: &str) -> Result<LockView, Failure> {
    if !cx.fx.is_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let record = cx
        .store()
        .get(&cx.tenant.name, reference)
        .await?
        .ok_or_else(Failure::lock_not_found)?;
    let gameball = match &record.gameball_reference {
        // Gameball's coupons of a lock that stands for both sides, as
        // Gameball describes them; without its answer, ours alone.
        Some(theirs) => match super::theirs::gameball_side(cx, "lock_details", reference, theirs).await {
            Some(Ok(a)) if (200..300).contains(&a.status) => Some(a.body),
            _ => {
                tracing::warn!(request_id = %cx.request_id, "Gameball did not describe its part of the lock; answering with couponbridge's part");
                None
            }
        },
        None => None,
    };
    Ok(LockView {
        coupons: coupons_of(cx, &record.codes).await?,
        lock: record.summary(),
        now: cx.now(),
        gameball,
    })
}

/// A lock's coupons as lock details lists them. A code Voucherify no
/// longer knows (deleted since it was locked) is still listed, with empty
/// terms.
pub(crate) async fn coupons_of(cx: &Cx, codes: &[String]) -> Result<Vec<CouponTerms>, Failure> {
    Ok(terms(cx, codes)
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
                    cx.tenant.decimals,
                )
            })
        })
        .collect())
}

/// Each coupon's definition and the rules it names, `None` for a code
/// Voucherify does not know. Coupons often share a rule (a minimum order):
/// each is read once. Definitions read within the tenant's
/// `definitions_ttl` are reused (`crate::voucherify::definitions`).
pub async fn terms(cx: &Cx, codes: &[String]) -> Result<Vec<Option<CouponTerms>>, Failure> {
    let up = &cx.tenant.upstream;
    let now = cx.now();
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
        read_definitions(cx, &missing).await?
    };
    Ok(codes
        .iter()
        .zip(cached)
        .map(|(code, d)| {
            let d = d.or_else(|| read.get(code.as_str()).cloned())?;
            let v = d.voucher.as_ref()?;
            Some(translate::coupon(v, &d.rules, cx.tenant.decimals))
        })
        .collect())
}

/// Reads `codes`' definitions from Voucherify (each shared rule once) and
/// keeps them in the tenant's cache.
async fn read_definitions<'c>(cx: &Cx, codes: &[&'c str]) -> Result<HashMap<&'c str, Arc<Definition>>, Failure> {
    let vf = cx.vf();
    let definitions = vf.definitions();
    let start = definitions.read_start();
    let vouchers = try_join_all(
        codes
            .iter()
            .map(|code| async move { Ok::<_, Failure>(vf.voucher(code).await?) }),
    )
    .await?;
    let mut rule_ids: Vec<&str> = vouchers.iter().flatten().flat_map(rule_ids_of).collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rules = try_join_all(rule_ids.iter().map(|id| vf.rule(id))).await?;
    let rules: HashMap<&str, ValidationRule> = rule_ids
        .into_iter()
        .zip(rules)
        .filter_map(|(id, rule)| Some((id, rule?)))
        .collect();
    let now = cx.now();
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
        definitions.put(code, d.clone(), start, now);
        out.insert(*code, d);
    }
    Ok(out)
}

fn rule_ids_of(v: &Voucher) -> impl Iterator<Item = &str> {
    v.validation_rules_assignments
        .iter()
        .flat_map(|a| a.data.iter().filter_map(|x| x.rule_id.as_deref()))
}
