//! The validate operation: validate, lock, re-lock.
//!
//! 1. Validate in Voucherify, locking under a fresh session key when
//!    `lock`. With [`Validity::Partial`] valid coupons are locked and
//!    returned beside invalid ones whatever Voucherify's stacking mode: in
//!    ALL mode one bad coupon fails the whole request and locks nothing, so
//!    the coupons it left unchecked are validated again without the bad
//!    ones (PARTIAL mode needs one round). With [`Validity::Atomic`] one
//!    round decides: any invalid coupon and nothing stays locked.
//! 2. Write the lock record, acknowledged, before answering with its
//!    reference. If that write fails, release the sessions just taken and
//!    answer 503: no reference without a record, no session without one.

use std::time::Duration;

use crate::adapter::Ctx;
use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::details::terms;
use crate::adapter::ops::redeem::{earlier_attempt_redeemed, in_progress, lease_until};
use crate::adapter::ops::{ValidateCmd, Validation, Validity, Verdict};
use crate::ids;
use crate::locks::{Burner, LockRecord, LockState, NewTerms, PendingRelease, ReleaseStart, Relock, UseStart};
use crate::metrics::LockEvent;
use crate::translate::{self, Customer, InvalidReason, Outcome};
use crate::voucherify::ValidationResponse;
use crate::voucherify::client::{ErrorKind as UpstreamKind, UpstreamError};

/// What the rounds found and the lock they took.
struct Locked {
    reference: Option<String>,
    expires_at: Option<i64>,
    outcomes: Vec<Outcome>,
}

pub async fn run(ctx: &Ctx, cmd: ValidateCmd) -> Result<Validation, Failure> {
    // The definitions are read first: a failure after the lock was taken
    // would answer 503 and leave a lock nobody was told about.
    let terms = if cmd.with_terms {
        terms(ctx, &cmd.codes).await?
    } else {
        vec![None; cmd.codes.len()]
    };
    let locked = match cmd.relock.as_deref().filter(|_| cmd.lock) {
        Some(reference) => relock(ctx, reference, &cmd).await?,
        None => validate(ctx, &cmd).await?,
    };
    Ok(Validation {
        customer_id: cmd.customer.id,
        reference: locked.reference,
        expires_at: locked.expires_at,
        verdicts: locked
            .outcomes
            .into_iter()
            .zip(terms)
            .map(|(outcome, terms)| Verdict { outcome, terms })
            .collect(),
        amount_known: cmd.amount_minor.is_some(),
    })
}

async fn validate(ctx: &Ctx, cmd: &ValidateCmd) -> Result<Locked, Failure> {
    let customer = cmd.customer.as_customer();
    let codes = &cmd.codes;
    let session_key = cmd.lock.then(ids::session_key);
    let expires_at = ctx.now() + cmd.duration.as_millis() as i64;
    let session = session_key.as_deref().map(|k| (k, cmd.duration));
    let rounds = match cmd.validity {
        Validity::Partial => validate_rounds(ctx, codes, &customer, cmd.amount_minor, session).await,
        // One round decides (all or nothing).
        Validity::Atomic => one_round(ctx, codes, &customer, cmd.amount_minor, session)
            .await
            .map(|response| translate::outcomes(codes, &response)),
    };
    let mut outcomes = match (rounds, &session_key) {
        (Ok(o), _) => o,
        (Err(f), Some(key)) => {
            // A round may have locked coupons before a later one failed:
            // no session without a reference.
            release_sessions(ctx, codes, key, None).await;
            return Err(f);
        }
        (Err(f), None) => return Err(f),
    };
    let mut locked = applicable_codes(&outcomes);
    if cmd.validity == Validity::Atomic && locked.len() < codes.len() {
        if let Some(key) = &session_key {
            // PARTIAL mode locked the valid ones: all or nothing.
            release_sessions(ctx, &locked, key, None).await;
        }
        outcomes = outcomes.into_iter().map(not_applied).collect();
        locked.clear();
    }
    let reference = match session_key {
        Some(key) if !locked.is_empty() => {
            let record = LockRecord {
                tenant: ctx.tenant.name.clone(),
                reference: ids::lock_reference(),
                customer_id: cmd.customer.id.clone(),
                session_key: key,
                codes: locked,
                amount_minor: cmd.amount_minor,
                created_at: ctx.now(),
                expires_at,
                ..LockRecord::default()
            };
            if let Err(e) = ctx.app.store.create(&record, ctx.keep_for(expires_at)).await {
                tracing::warn!(request_id = %ctx.request_id, error = %e, "lock write failed; releasing the sessions just taken");
                release_sessions(ctx, &record.codes, &record.session_key, None).await;
                return Err(e.into());
            }
            ctx.app.metrics.lock_event(LockEvent::Created);
            Some(record.reference)
        }
        _ => None,
    };
    Ok(Locked {
        expires_at: reference.as_ref().map(|_| expires_at),
        reference,
        outcomes,
    })
}

/// In an all-or-nothing answer, a coupon that was applicable is reported
/// as not applied (it was not the reason the request failed).
fn not_applied(o: Outcome) -> Outcome {
    match o {
        Outcome::Applicable(a) => Outcome::NotChecked { code: a.code },
        other => other,
    }
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

/// One `POST /v1/validations`. Voucherify refusing the request itself (a
/// code it cannot take, more coupons than the project allows) is the
/// client's values.
async fn one_round(
    ctx: &Ctx,
    codes: &[String],
    customer: &Customer<'_>,
    amount: Option<i64>,
    session: Option<(&str, Duration)>,
) -> Result<ValidationResponse, Failure> {
    let request = translate::validation_request(codes, customer, amount, session);
    match ctx
        .app
        .voucherify
        .validate(&ctx.tenant.upstream, &request, ctx.call())
        .await
    {
        Ok(r) => Ok(r),
        Err(UpstreamError {
            kind: UpstreamKind::Unexpected(400 | 422, e),
            ..
        }) => {
            let why = e
                .and_then(|e| e.details.clone().or(e.message.clone()))
                .unwrap_or_else(|| "refused".into());
            Err(Failure::client(
                Kind::InvalidValue,
                format!("Invalid value: the coupon service refused the coupons: {why}"),
            ))
        }
        Err(e) => Err(e.into()),
    }
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
        let response = one_round(ctx, &pending, customer, amount, session).await?;
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

/// Releases a session on each code. One Voucherify does not confirm is
/// kept in the store for the sweeper ([`crate::adapter::sweep`]), which
/// retries it until Voucherify does: no hold outlives its lock for longer
/// than Voucherify stays down. `false` when any was not confirmed now.
///
/// `reference` names the lock the session belongs to, if there is one: a
/// later re-lock of it may hold the code again in the same session, and
/// then the sweeper leaves it.
pub(crate) async fn release_sessions(ctx: &Ctx, codes: &[String], session_key: &str, reference: Option<&str>) -> bool {
    let calls = codes.iter().map(|code| {
        ctx.app
            .voucherify
            .release(&ctx.tenant.upstream, code, session_key, ctx.call())
    });
    let mut all_done = true;
    for (code, result) in codes.iter().zip(futures_util::future::join_all(calls).await) {
        if let Err(e) = result {
            all_done = false;
            let pending = PendingRelease {
                tenant: ctx.tenant.name.clone(),
                code: code.clone(),
                session_key: session_key.to_owned(),
                reference: reference.map(str::to_owned),
                until: ctx.now() + ctx.cfg.locks.max_duration.as_millis() as i64,
                attempts: 0,
            };
            match ctx.app.store.defer_release(&pending, ctx.now()).await {
                Ok(()) => {
                    ctx.app.metrics.release_retry("deferred");
                    tracing::warn!(request_id = %ctx.request_id, code, error = %e, "session release failed; the sweeper retries it");
                }
                Err(store) => {
                    tracing::warn!(request_id = %ctx.request_id, code, error = %e, store = %store, "session release failed and cannot be kept for a retry; it ends at its TTL");
                }
            }
        }
    }
    all_done
}

/// `lock` with an existing reference: validate the new list inside the
/// same session, release what was dropped, update the record.
///
/// The lock is held (`burning`, under this call's attempt and a lease) for
/// the whole re-validation, so a burn, order or release of it waits
/// (422/2001) instead of interleaving: an interleaved burn would consume
/// the session while this call re-creates holds in it, and those holds
/// would outlive the lock. A lock that has ended answers its state
/// (400/4000) before any validation, so it takes no new session.
async fn relock(ctx: &Ctx, reference: &str, cmd: &ValidateCmd) -> Result<Locked, Failure> {
    let customer = cmd.customer.as_customer();
    let (codes, amount, duration) = (&cmd.codes, cmd.amount_minor, cmd.duration);
    let store = &ctx.app.store;
    let t = &ctx.tenant.name;
    let no_longer_active = || Failure::client(Kind::LockEnded, "The lock reference is no longer active");
    if !ids::is_lock_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let attempt = ids::prefixed_hex("att_", 16);
    // Long enough for every validation round (one per code at most, in ALL
    // mode) plus the releases: a live re-lock is never taken over.
    let rounds = codes.len() as i64 + 2;
    let hold = Burner {
        attempt: &attempt,
        lease_until: lease_until(ctx) + rounds * ctx.tenant.upstream_timeout_ms(),
        order: None,
        transaction_id: None,
    };
    let record = match store.begin_use(t, reference, ctx.now(), hold).await? {
        UseStart::Missing => return Err(Failure::lock_not_found()),
        UseStart::Busy => return Err(in_progress("The lock reference")),
        UseStart::Refused { newly_expired, .. } => {
            if newly_expired {
                ctx.app.metrics.lock_event(LockEvent::Expired);
            }
            return Err(no_longer_active());
        }
        UseStart::Started(record) => record,
        // A burn whose outcome is unknown held it: settle that first.
        UseStart::Resumed(earlier) => {
            if earlier_attempt_redeemed(ctx, &earlier).await? {
                store.finish_use(t, reference, &attempt, ctx.now(), true).await?;
                ctx.app.metrics.lock_event(LockEvent::Burned);
                return Err(no_longer_active());
            }
            earlier
        }
    };
    // From here on every exit gives the hold back.
    let give_back = || store.finish_use(t, reference, &attempt, ctx.now(), false);
    if record.customer_id != customer.id {
        give_back().await?;
        return Err(Failure::client(
            Kind::InvalidValue,
            "Invalid value: the lock reference belongs to another customer",
        ));
    }
    let added_by =
        |locked: &[String]| -> Vec<String> { locked.iter().filter(|c| !record.codes.contains(c)).cloned().collect() };
    let outcomes = match validate_rounds(ctx, codes, &customer, amount, Some((&record.session_key, duration))).await {
        Ok(o) => o,
        Err(f) => {
            // A round may have held codes the lock did not have.
            release_sessions(ctx, &added_by(codes), &record.session_key, Some(reference)).await;
            give_back().await?;
            return Err(f);
        }
    };
    let locked = applicable_codes(&outcomes);
    if cmd.validity == Validity::Atomic && locked.len() < codes.len() {
        // All or nothing: the lock keeps what it had; what this call added
        // is given back, and the answer names no reference.
        release_sessions(ctx, &added_by(&locked), &record.session_key, Some(reference)).await;
        give_back().await?;
        return Ok(Locked {
            reference: None,
            expires_at: None,
            outcomes: outcomes.into_iter().map(not_applied).collect(),
        });
    }
    let expires_at = ctx.now() + duration.as_millis() as i64;
    if locked.is_empty() {
        // Nothing is valid any more: the lock is released.
        give_back().await?;
        match store.release(t, reference, ctx.now()).await? {
            ReleaseStart::Released(_) => {
                ctx.app.metrics.lock_event(LockEvent::Released);
                release_sessions(ctx, &record.codes, &record.session_key, Some(reference)).await;
            }
            _ => return Err(no_longer_active()),
        }
        return Ok(Locked {
            reference: None,
            expires_at: None,
            outcomes,
        });
    }
    let terms = NewTerms {
        codes: &locked,
        amount,
        expires_at,
        keep: ctx.keep_for(expires_at),
    };
    // Dropped codes are released while the lock is still held: once it is
    // given back, the next re-lock may hold the same codes in the same
    // session, and a late release would take them from it.
    let dropped: Vec<String> = record.codes.iter().filter(|c| !locked.contains(c)).cloned().collect();
    release_sessions(ctx, &dropped, &record.session_key, Some(reference)).await;
    match store.relock(t, reference, &attempt, terms).await? {
        Relock::Updated => Ok(Locked {
            reference: Some(reference.to_owned()),
            expires_at: Some(expires_at),
            outcomes,
        }),
        Relock::NotLocked | Relock::Missing => {
            // The hold's lease ran out and another call took the lock over.
            // Undo what this call added, except what the lock holds now
            // (its codes follow the lock, in the same session).
            // If the lock has ended meanwhile, nothing may hold any more.
            let undo: Vec<String> = match store.get(t, reference).await? {
                Some(r) if matches!(r.state, LockState::Locked | LockState::Burning) => {
                    added_by(&locked).into_iter().filter(|c| !r.codes.contains(c)).collect()
                }
                _ => locked.clone(),
            };
            release_sessions(ctx, &undo, &record.session_key, Some(reference)).await;
            Err(no_longer_active())
        }
    }
}
