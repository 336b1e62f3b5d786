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

use super::Cx;
use super::details::terms;
use super::redeem::{earlier_attempt_redeemed, lease_until};
use super::session::release_sessions;
use crate::domain::{CouponTerms, CustomerIds, InvalidReason, Outcome, ValidateCmd, Validation, Validity, Verdict};
use crate::error::{Failure, Kind};
use crate::ids;
use crate::locks::{Burner, LockRecord, LockState, NewTerms, ReleaseStart, Relock, UseStart};
use crate::metrics::LockEvent;
use crate::translate;
use crate::voucherify::ValidationResponse;
use crate::voucherify::client::{ErrorKind as UpstreamKind, UpstreamError};

/// What the rounds found and the lock they took.
pub(crate) struct Locked {
    pub reference: Option<String>,
    pub expires_at: Option<i64>,
    pub outcomes: Vec<Outcome>,
}

pub async fn run(cx: &Cx, cmd: ValidateCmd) -> Result<Validation, Failure> {
    let terms = terms_of(cx, &cmd).await?;
    let locked = match cmd.relock.as_deref().filter(|_| cmd.lock) {
        // Boxed: a re-lock's future is three times a validation's.
        Some(reference) => Box::pin(relock(cx, reference, &cmd)).await?,
        None => validate(cx, &cmd).await?,
    };
    Ok(answer(cmd, locked, terms))
}

/// The definitions are read first: a failure after the lock was taken
/// would answer 503 and leave a lock nobody was told about.
pub(crate) async fn terms_of(cx: &Cx, cmd: &ValidateCmd) -> Result<Vec<Option<CouponTerms>>, Failure> {
    if cmd.with_terms {
        terms(cx, &cmd.codes).await
    } else {
        Ok(vec![None; cmd.codes.len()])
    }
}

/// The validation's answer: each outcome with its terms.
pub(crate) fn answer(cmd: ValidateCmd, locked: Locked, terms: Vec<Option<CouponTerms>>) -> Validation {
    Validation {
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
        gameball: None,
    }
}

async fn validate(cx: &Cx, cmd: &ValidateCmd) -> Result<Locked, Failure> {
    let held = hold(cx, cmd).await?;
    keep(cx, cmd, held, None).await
}

/// What a validation found and holds, before its lock is written.
pub(crate) struct Held {
    pub outcomes: Vec<Outcome>,
    /// The session the applicable codes are held in (only with `lock`).
    pub session_key: Option<String>,
    /// The codes held (applicable, and all of them when all or nothing).
    pub locked: Vec<String>,
    pub expires_at: i64,
}

/// Validates `cmd.codes` in Voucherify, holding the applicable ones under a
/// fresh session key when `lock` (step 1 of the module comment).
pub(crate) async fn hold(cx: &Cx, cmd: &ValidateCmd) -> Result<Held, Failure> {
    let customer = &cmd.customer;
    let codes = &cmd.codes;
    let session_key = cmd.lock.then(ids::session_key);
    let expires_at = cx.now() + cmd.duration.as_millis() as i64;
    let session = session_key.as_deref().map(|k| (k, cmd.duration));
    let rounds = match cmd.validity {
        Validity::Partial => validate_rounds(cx, codes, customer, cmd.amount_minor, session).await,
        // One round decides (all or nothing).
        Validity::Atomic => one_round(cx, codes, customer, cmd.amount_minor, session)
            .await
            .map(|response| translate::outcomes(codes, &response)),
    };
    let mut outcomes = match (rounds, &session_key) {
        (Ok(o), _) => o,
        (Err(f), Some(key)) => {
            // A round may have locked coupons before a later one failed:
            // no session without a reference.
            release_sessions(cx, codes, key, None).await;
            return Err(f);
        }
        (Err(f), None) => return Err(f),
    };
    let mut locked = applicable_codes(&outcomes);
    if cmd.validity == Validity::Atomic && locked.len() < codes.len() {
        if let Some(key) = &session_key {
            // PARTIAL mode locked the valid ones: all or nothing.
            release_sessions(cx, &locked, key, None).await;
        }
        outcomes = outcomes.into_iter().map(not_applied).collect();
        locked.clear();
    }
    Ok(Held {
        outcomes,
        session_key,
        locked,
        expires_at,
    })
}

/// Gameball's part of a lock that stands for both sides.
pub(crate) struct GameballHold {
    pub reference: String,
    pub codes: Vec<String>,
}

/// Writes the lock record of what `held` holds (and of Gameball's part),
/// acknowledged, before its reference is answered (step 2). If the write
/// fails, the sessions just taken are released and the failure answered;
/// Gameball's part is the caller's to give back.
pub(crate) async fn keep(
    cx: &Cx,
    cmd: &ValidateCmd,
    held: Held,
    gameball: Option<&GameballHold>,
) -> Result<Locked, Failure> {
    let Held {
        outcomes,
        session_key,
        locked,
        expires_at,
    } = held;
    let reference = match session_key {
        Some(key) if !locked.is_empty() => {
            let reference_key = match cx.store().reference_key().await {
                Ok(k) => k,
                Err(e) => {
                    release_sessions(cx, &locked, &key, None).await;
                    return Err(e.into());
                }
            };
            let record = LockRecord {
                tenant: cx.tenant.name.clone(),
                reference: cx.fx.new_reference(&reference_key),
                customer_id: cmd.customer.id.clone(),
                session_key: key,
                codes: locked,
                amount_minor: cmd.amount_minor,
                created_at: cx.now(),
                expires_at,
                gameball_reference: gameball.map(|g| g.reference.clone()),
                gameball_codes: gameball.map(|g| g.codes.clone()).unwrap_or_default(),
                ..LockRecord::default()
            };
            if let Err(e) = cx.store().create(&record, cx.keep_for(expires_at)).await {
                tracing::warn!(request_id = %cx.request_id, error = %e, "lock write failed; releasing the sessions just taken");
                release_sessions(cx, &record.codes, &record.session_key, None).await;
                return Err(e.into());
            }
            cx.lock_event(LockEvent::Created);
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
    cx: &Cx,
    codes: &[String],
    customer: &CustomerIds,
    amount: Option<i64>,
    session: Option<(&str, Duration)>,
) -> Result<ValidationResponse, Failure> {
    let request = translate::validation_request(codes, customer, amount, session);
    match cx.fx.validate(cx.vf(), &request).await {
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
    cx: &Cx,
    codes: &[String],
    customer: &CustomerIds,
    amount: Option<i64>,
    session: Option<(&str, Duration)>,
) -> Result<Vec<Outcome>, Failure> {
    let mut verdicts: Vec<Option<Outcome>> = vec![None; codes.len()];
    let mut pending: Vec<String> = codes.to_vec();
    while !pending.is_empty() {
        let response = one_round(cx, &pending, customer, amount, session).await?;
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

/// `lock` with an existing reference: validate the new list inside the
/// same session, release what was dropped, update the record.
///
/// The lock is held (`burning`, under this call's attempt and a lease) for
/// the whole re-validation, so a burn, order or release of it waits
/// (422/2001) instead of interleaving: an interleaved burn would consume
/// the session while this call re-creates holds in it, and those holds
/// would outlive the lock. A lock that has ended answers its state
/// (400/4000) before any validation, so it takes no new session.
async fn relock(cx: &Cx, reference: &str, cmd: &ValidateCmd) -> Result<Locked, Failure> {
    let customer = &cmd.customer;
    let (codes, amount, duration) = (&cmd.codes, cmd.amount_minor, cmd.duration);
    let store = &cx.store();
    let t = &cx.tenant.name;
    let no_longer_active = || Failure::client(Kind::LockEnded, "The lock reference is no longer active");
    if !cx.fx.is_reference(reference) {
        return Err(Failure::lock_not_found());
    }
    let attempt = ids::prefixed_hex("att_", 16);
    // Long enough for every validation round (one per code at most, in ALL
    // mode) plus the releases: a live re-lock is never taken over.
    let rounds = codes.len() as i64 + 2;
    let hold = Burner {
        attempt: &attempt,
        lease_until: lease_until(cx) + rounds * cx.tenant.upstream_timeout_ms(),
        order: None,
        transaction_id: None,
    };
    let record = match store.begin_use(t, reference, cx.now(), hold).await? {
        UseStart::Missing => return Err(Failure::lock_not_found()),
        UseStart::Busy => return Err(Failure::in_progress("The lock reference")),
        UseStart::Refused { newly_expired, .. } => {
            if newly_expired {
                cx.lock_event(LockEvent::Expired);
            }
            return Err(no_longer_active());
        }
        UseStart::Started(record) => record,
        // A burn whose outcome is unknown held it: settle that first.
        UseStart::Resumed(earlier) => {
            if earlier_attempt_redeemed(cx, &earlier).await? {
                store.finish_use(t, reference, &attempt, cx.now(), true).await?;
                cx.lock_event(LockEvent::Burned);
                return Err(no_longer_active());
            }
            earlier
        }
    };
    // From here on every exit gives the hold back.
    let give_back = || store.finish_use(t, reference, &attempt, cx.now(), false);
    if record.customer_id != customer.id {
        give_back().await?;
        return Err(Failure::client(
            Kind::InvalidValue,
            "Invalid value: the lock reference belongs to another customer",
        ));
    }
    let added_by =
        |locked: &[String]| -> Vec<String> { locked.iter().filter(|c| !record.codes.contains(c)).cloned().collect() };
    let outcomes = match validate_rounds(cx, codes, customer, amount, Some((&record.session_key, duration))).await {
        Ok(o) => o,
        Err(f) => {
            // A round may have held codes the lock did not have.
            release_sessions(cx, &added_by(codes), &record.session_key, Some(reference)).await;
            give_back().await?;
            return Err(f);
        }
    };
    let locked = applicable_codes(&outcomes);
    if cmd.validity == Validity::Atomic && locked.len() < codes.len() {
        // All or nothing: the lock keeps what it had; what this call added
        // is given back, and the answer names no reference.
        release_sessions(cx, &added_by(&locked), &record.session_key, Some(reference)).await;
        give_back().await?;
        return Ok(Locked {
            reference: None,
            expires_at: None,
            outcomes: outcomes.into_iter().map(not_applied).collect(),
        });
    }
    let expires_at = cx.now() + duration.as_millis() as i64;
    if locked.is_empty() {
        // Nothing is valid any more: the lock is released.
        give_back().await?;
        match store.release(t, reference, cx.now()).await? {
            ReleaseStart::Released(_) => {
                cx.lock_event(LockEvent::Released);
                release_sessions(cx, &record.codes, &record.session_key, Some(reference)).await;
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
        keep: cx.keep_for(expires_at),
    };
    // Dropped codes are released while the lock is still held: once it is
    // given back, the next re-lock may hold the same codes in the same
    // session, and a late release would take them from it.
    let dropped: Vec<String> = record.codes.iter().filter(|c| !locked.contains(c)).cloned().collect();
    release_sessions(cx, &dropped, &record.session_key, Some(reference)).await;
    // Whatever the store answers, no code this call added may stay held by
    // a session the lock's record may not list (a lock that does list it
    // and no longer holds it only redeems it without the hold).
    let added = added_by(&locked);
    let undo_added = || release_sessions(cx, &added, &record.session_key, Some(reference));
    let relocked = match store.relock(t, reference, &attempt, terms).await {
        Ok(r) => r,
        Err(e) => {
            undo_added().await;
            return Err(e.into());
        }
    };
    match relocked {
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
            let now_holds = match store.get(t, reference).await {
                Ok(r) => r,
                Err(e) => {
                    undo_added().await;
                    return Err(e.into());
                }
            };
            let undo: Vec<String> = match now_holds {
                Some(r) if matches!(r.state, LockState::Locked | LockState::Burning) => {
                    added.iter().filter(|c| !r.codes.contains(c)).cloned().collect()
                }
                _ => locked.clone(),
            };
            release_sessions(cx, &undo, &record.session_key, Some(reference)).await;
            Err(no_longer_active())
        }
    }
}
