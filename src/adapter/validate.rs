//! `POST …/coupons/validate` and `POST …/coupons/{code}/validate`.
//!
//! 1. Read and check the request (customer, coupons, amount, lock fields).
//! 2. Validate in Voucherify, locking under a fresh session key when
//!    `lock:true`. Gameball answers partial validity (valid coupons locked
//!    and returned beside invalid ones) whatever Voucherify's stacking mode:
//!    in ALL mode one bad coupon fails the whole request and locks nothing,
//!    so the coupons it left unchecked are validated again without the bad
//!    ones (PARTIAL mode needs one round).
//! 3. Write the lock record, acknowledged, before answering with its
//!    reference. If that write fails, release the sessions just taken and
//!    answer 503: no reference without a record, no session without one.

use std::time::Duration;

use crate::adapter::error::{Failure, Kind};
use crate::adapter::{Ctx, Json, codes_of, parse_body, required};
use crate::gameball::{InvalidCoupon, ValidCoupon, ValidateRequest, ValidateResponse, ValidateSingleResponse};
use crate::ids;
use crate::locks::{LockRecord, LockState, NewTerms, ReleaseStart, Relock};
use crate::metrics::LockEvent;
use crate::money::DecimalNumber;
use crate::translate::{self, Customer, InvalidReason, Outcome};
use crate::voucherify::client::{ErrorKind as UpstreamKind, UpstreamError};

/// Voucherify's limit on redeemables per request.
const MAX_COUPONS: usize = 30;

/// What a validation found, ready to be written in either answer shape.
struct Validated {
    reference: Option<String>,
    outcomes: Vec<Outcome>,
    amount_known: bool,
}

pub async fn many(ctx: &Ctx, body: &[u8]) -> Result<Json, Failure> {
    let req: ValidateRequest = parse_body(body)?;
    let coupons = req
        .coupons
        .as_ref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Failure::missing("coupons"))?;
    if coupons.iter().any(|c| c.code().trim().is_empty()) {
        return Err(Failure::invalid("coupons", "a coupon code is empty"));
    }
    let codes = codes_of(Some(coupons));
    if codes.len() > MAX_COUPONS {
        return Err(Failure::invalid(
            "coupons",
            format!("at most {MAX_COUPONS} coupons per request"),
        ));
    }
    let v = validate(ctx, &req, codes).await?;
    let mut answer = ValidateResponse::default();
    for o in v.outcomes {
        match o {
            Outcome::Applicable(a) => answer.valid_coupons.push(ValidCoupon {
                discount_amount: translate::discount_amount(&a, v.amount_known, ctx.tenant.decimals),
                discount_type: a.discount_type,
                lock_reference: v.reference.clone(),
                code: a.code,
            }),
            Outcome::Inapplicable { code, reason } => answer.invalid_coupons.push(InvalidCoupon {
                code,
                error: reason.message(&ctx.tenant.messages),
            }),
            Outcome::NotChecked { code } => answer.invalid_coupons.push(InvalidCoupon {
                code,
                error: InvalidReason::Invalid.message(&ctx.tenant.messages),
            }),
        }
    }
    Json::ok(&answer)
}

pub async fn one(ctx: &Ctx, code: String, body: &[u8]) -> Result<Json, Failure> {
    let req: ValidateRequest = parse_body(body)?;
    let code = code.trim().to_owned();
    if code.is_empty() {
        return Err(Failure::missing("code"));
    }
    let v = validate(ctx, &req, vec![code]).await?;
    let answer = match v.outcomes.into_iter().next() {
        Some(Outcome::Applicable(a)) => ValidateSingleResponse {
            is_valid: true,
            lock_reference: v.reference,
            discount_type: Some(a.discount_type),
            discount_amount: translate::discount_amount(&a, v.amount_known, ctx.tenant.decimals),
            error: None,
        },
        other => {
            let reason = match other {
                Some(Outcome::Inapplicable { reason, .. }) => reason,
                _ => InvalidReason::Invalid,
            };
            ValidateSingleResponse {
                is_valid: false,
                lock_reference: None,
                discount_type: None,
                discount_amount: DecimalNumber::default(),
                error: Some(reason.message(&ctx.tenant.messages)),
            }
        }
    };
    Json::ok(&answer)
}

async fn validate(ctx: &Ctx, req: &ValidateRequest, codes: Vec<String>) -> Result<Validated, Failure> {
    let customer_id = required(req.customer_id.as_ref(), "customerId")?;
    let amount = req
        .total_purchase_amount
        .map(|a| a.to_minor(ctx.tenant.decimals))
        .transpose()
        .map_err(|e| Failure::invalid("totalPurchaseAmount", e))?;
    let lock = req.lock.unwrap_or(false);
    let duration = match req.lock_duration {
        None => ctx.app.locks.default_duration,
        Some(minutes) => translate::lock_duration(minutes)
            .filter(|d| *d <= ctx.app.locks.max_duration)
            .ok_or_else(|| {
                Failure::invalid(
                    "lockDuration",
                    format!(
                        "minutes must be above 0 and at most {}",
                        ctx.app.locks.max_duration.as_secs() / 60
                    ),
                )
            })?,
    };
    let customer = Customer {
        id: &customer_id,
        email: req.email.as_deref(),
        mobile: req.mobile.as_deref(),
    };
    if lock && let Some(reference) = req.lock_reference.as_deref().filter(|r| !r.is_empty()) {
        return relock(ctx, reference, &codes, &customer, amount, duration).await;
    }

    let session_key = lock.then(ids::session_key);
    let expires_at = ctx.now() + duration.as_millis() as i64;
    let rounds = validate_rounds(
        ctx,
        &codes,
        &customer,
        amount,
        session_key.as_deref().map(|k| (k, duration)),
    )
    .await;
    let outcomes = match (rounds, &session_key) {
        (Ok(o), _) => o,
        (Err(f), Some(key)) => {
            // A round may have locked coupons before a later one failed:
            // no session without a reference.
            release_sessions(ctx, &codes, key).await;
            return Err(f);
        }
        (Err(f), None) => return Err(f),
    };
    let locked = applicable_codes(&outcomes);
    let reference = match session_key {
        Some(key) if !locked.is_empty() => {
            let record = LockRecord {
                tenant: ctx.tenant.name.clone(),
                reference: ids::lock_reference(),
                customer_id: customer_id.to_owned(),
                session_key: key,
                codes: locked,
                amount_minor: amount,
                created_at: ctx.now(),
                expires_at,
                ..LockRecord::default()
            };
            if let Err(e) = ctx.app.store.create(&record, ctx.keep_for(expires_at)).await {
                tracing::warn!(request_id = %ctx.request_id, error = %e, "lock write failed; releasing the sessions just taken");
                release_sessions(ctx, &record.codes, &record.session_key).await;
                return Err(e.into());
            }
            ctx.app.metrics.lock_event(LockEvent::Created);
            Some(record.reference)
        }
        _ => None,
    };
    Ok(Validated {
        reference,
        outcomes,
        amount_known: amount.is_some(),
    })
}

fn applicable_codes(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Applicable(a) => Some(a.code.clone()),
            _ => None,
        })
        .collect()
}

/// Validates until every code has a verdict (see the module comment).
async fn validate_rounds(
    ctx: &Ctx,
    codes: &[String],
    customer: &Customer<'_>,
    amount: Option<i64>,
    session: Option<(&str, Duration)>,
) -> Result<Vec<Outcome>, Failure> {
    let mut verdicts: Vec<Option<Outcome>> = vec![None; codes.len()];
    let mut pending: Vec<String> = codes.to_vec();
    while !pending.is_empty() {
        let request = translate::validation_request(&pending, customer, amount, session);
        let response = match ctx
            .app
            .voucherify
            .validate(&ctx.tenant.upstream, &request, ctx.call())
            .await
        {
            Ok(r) => r,
            // Voucherify refuses the request itself (a code it cannot take,
            // more coupons than the project allows): the client's values.
            Err(UpstreamError {
                kind: UpstreamKind::Unexpected(400 | 422, e),
                ..
            }) => {
                let why = e
                    .and_then(|e| e.details.or(e.message))
                    .unwrap_or_else(|| "refused".into());
                return Err(Failure::invalid("coupons", why));
            }
            Err(e) => return Err(e.into()),
        };
        let mut again = Vec::new();
        let mut found_invalid = false;
        for outcome in translate::outcomes(&pending, &response) {
            let code = match &outcome {
                Outcome::Applicable(a) => a.code.clone(),
                Outcome::Inapplicable { code, .. } | Outcome::NotChecked { code } => code.clone(),
            };
            match outcome {
                // A request Voucherify found invalid locked nothing (ALL
                // mode), even for the coupons it calls applicable.
                Outcome::Applicable(_) | Outcome::NotChecked { .. } if !response.valid => again.push(code),
                Outcome::NotChecked { .. } => again.push(code),
                Outcome::Inapplicable { .. } => {
                    found_invalid = true;
                    set(&mut verdicts, codes, &code, outcome);
                }
                Outcome::Applicable(_) => set(&mut verdicts, codes, &code, outcome),
            }
        }
        if !found_invalid {
            // No progress possible: what is left has no verdict to give.
            for code in again.drain(..) {
                set(
                    &mut verdicts,
                    codes,
                    &code,
                    Outcome::Inapplicable {
                        code: code.clone(),
                        reason: InvalidReason::Invalid,
                    },
                );
            }
        }
        pending = again;
    }
    Ok(verdicts
        .into_iter()
        .zip(codes)
        .map(|(v, code)| {
            v.unwrap_or_else(|| Outcome::Inapplicable {
                code: code.clone(),
                reason: InvalidReason::Invalid,
            })
        })
        .collect())
}

fn set(verdicts: &mut [Option<Outcome>], codes: &[String], code: &str, outcome: Outcome) {
    if let Some(i) = codes.iter().position(|c| c == code) {
        verdicts[i] = Some(outcome);
    }
}

/// Releases a session on each code, best effort (used to undo a lock that
/// could not be recorded, and to drop codes from a lock).
pub(crate) async fn release_sessions(ctx: &Ctx, codes: &[String], session_key: &str) -> bool {
    let calls = codes.iter().map(|code| {
        ctx.app
            .voucherify
            .release(&ctx.tenant.upstream, code, session_key, ctx.call())
    });
    let mut all_done = true;
    for (code, result) in codes.iter().zip(futures_util::future::join_all(calls).await) {
        if let Err(e) = result {
            all_done = false;
            tracing::warn!(request_id = %ctx.request_id, code, error = %e, "session release failed; it ends at its TTL");
        }
    }
    all_done
}

/// `lock:true` with an existing `lockReference`: validate the new list
/// inside the same session, release what was dropped, update the record.
async fn relock(
    ctx: &Ctx,
    reference: &str,
    codes: &[String],
    customer: &Customer<'_>,
    amount: Option<i64>,
    duration: Duration,
) -> Result<Validated, Failure> {
    let t = &ctx.tenant.name;
    let no_longer_active = || Failure::client(Kind::LockEnded, "The lock reference is no longer active");
    let record = ctx
        .app
        .store
        .get(t, reference)
        .await?
        .ok_or_else(Failure::lock_not_found)?;
    if record.customer_id != customer.id {
        return Err(Failure::invalid(
            "lockReference",
            "the lock belongs to another customer",
        ));
    }
    let now = ctx.now();
    if record.state != LockState::Locked || record.expires_at <= now {
        return Err(no_longer_active());
    }
    let outcomes = validate_rounds(ctx, codes, customer, amount, Some((&record.session_key, duration))).await?;
    let locked = applicable_codes(&outcomes);
    // The record changes first; only then are sessions released. A burn
    // that starts meanwhile consumes the record it read, never a session
    // released under it.
    let reference = if locked.is_empty() {
        match ctx.app.store.release(t, reference, ctx.now()).await? {
            ReleaseStart::Released(_) => {
                ctx.app.metrics.lock_event(LockEvent::Released);
                release_sessions(ctx, &record.codes, &record.session_key).await;
            }
            _ => return Err(no_longer_active()),
        }
        None
    } else {
        let expires_at = now + duration.as_millis() as i64;
        let terms = NewTerms {
            codes: &locked,
            amount,
            expires_at,
            keep: ctx.keep_for(expires_at),
        };
        match ctx.app.store.relock(t, reference, ctx.now(), terms).await? {
            Relock::Updated => {
                let dropped: Vec<String> = record.codes.iter().filter(|c| !locked.contains(c)).cloned().collect();
                release_sessions(ctx, &dropped, &record.session_key).await;
                Some(reference.to_owned())
            }
            Relock::NotLocked | Relock::Missing => {
                // Burned or released meanwhile: undo only what this call
                // added; the lock's own codes follow the lock.
                let added: Vec<String> = locked.iter().filter(|c| !record.codes.contains(c)).cloned().collect();
                release_sessions(ctx, &added, &record.session_key).await;
                return Err(no_longer_active());
            }
        }
    };
    Ok(Validated {
        reference,
        outcomes,
        amount_known: amount.is_some(),
    })
}
