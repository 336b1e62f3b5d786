//! Coupons only Gameball has (`[migration] coupon_fallback`): a
//! validation whose coupons Voucherify does not know (`not_found`) asks
//! Gameball about them, with the caller's own request, and answers as
//! Gameball did.
//!
//! * Every coupon unknown: the caller's call goes to Gameball whole and
//!   Gameball's answer is the caller's, lock reference and all; what
//!   follows names Gameball's reference and goes to Gameball (state
//!   follows its owner).
//! * Some unknown: Voucherify holds the ones it knows, Gameball is asked
//!   about the rest (the caller's body narrowed to them) and the answers
//!   are merged in the caller's dialect. When both sides hold coupons, one
//!   couponbridge reference stands for both: its record keeps Gameball's
//!   reference, and its details, release, burn, order and payment reach
//!   Gameball too, always naming Gameball's own reference
//!   ([`super::theirs`]). A published (all or nothing) validation holds on
//!   both sides or on neither.
//! * Gameball does not answer, or fails: the caller gets Voucherify's
//!   answer (the coupon not found), so a checkout is never failed by the
//!   fallback; the call is counted all the same.
//!
//! A re-lock (`lock` with an existing reference) is not a fallback: a
//! reference Gameball issued goes to Gameball by its owner, one of
//! couponbridge's re-validates in Voucherify.

use super::Cx;
use super::session::release_sessions;
use super::validate::{self, GameballHold, Held};
use crate::domain::{
    Answer, Fallback, GameballAnswer, GameballPart, InvalidReason, Outcome, PassOn, ValidateCmd, Validity,
};
use crate::error::Failure;

/// Whether `cmd` may ask Gameball: the tenant's fallback is on, there is a
/// Gameball, and this is not a re-lock.
pub fn applies(cx: &Cx, cmd: &ValidateCmd) -> bool {
    cmd.fallback.is_some()
        && cx.tenant.migration.coupon_fallback
        && cx.gameball.is_some()
        && cx.call.is_some()
        && !(cmd.lock && cmd.relock.is_some())
}

pub async fn validate(cx: &Cx, cmd: ValidateCmd) -> Result<Answer, Failure> {
    let (Some(fallback), Some(call)) = (cmd.fallback, cx.call.clone()) else {
        return Ok(Answer::Validated(validate::run(cx, cmd).await?));
    };
    let terms = validate::terms_of(cx, &cmd).await?;
    let held = validate::hold(cx, &cmd).await?;
    let unknown = not_found(&held.outcomes);
    if unknown.is_empty() {
        let locked = validate::keep(cx, &cmd, held, None).await?;
        return Ok(Answer::Validated(validate::answer(cmd, locked, terms)));
    }
    if unknown.len() == cmd.codes.len() {
        // Nothing is held: Gameball answers the whole call.
        if let Some(answer) = ask(cx, &call).await {
            return Ok(Answer::PassedOn(answer));
        }
        let locked = validate::keep(cx, &cmd, held, None).await?;
        return Ok(Answer::Validated(validate::answer(cmd, locked, terms)));
    }
    mixed(cx, cmd, &fallback, &call, held, unknown, terms).await
}

/// Some coupons Voucherify knows, some it does not.
async fn mixed(
    cx: &Cx,
    cmd: ValidateCmd,
    fallback: &Fallback,
    call: &PassOn,
    held: Held,
    unknown: Vec<String>,
    terms: Vec<Option<crate::domain::CouponTerms>>,
) -> Result<Answer, Failure> {
    let atomic = cmd.validity == Validity::Atomic;
    let held = if atomic {
        hold_known(cx, &cmd, held, &unknown).await?
    } else {
        held
    };
    let ours_all_valid = held.locked.len() + unknown.len() == cmd.codes.len();
    let narrowed = (fallback.restrict)(&call.body, &unknown).map(|body| call.with_body(body));
    let answer = match narrowed {
        // All or nothing and one of ours failed: Gameball is not asked,
        // and its coupons are not applied either.
        _ if atomic && !ours_all_valid => None,
        Some(narrowed) => ask(cx, &narrowed).await,
        None => None,
    };
    let Some(answer) = answer else {
        let mut held = held;
        if atomic {
            // Gameball's coupons have no verdict, so all or nothing is
            // nothing: ours are given back, never a lock on an invalid
            // answer.
            if let Some(key) = &held.session_key {
                release_sessions(cx, &held.locked, key, None).await;
            }
            held.locked.clear();
            held.outcomes = held.outcomes.into_iter().map(unapplied).collect();
        }
        let locked = validate::keep(cx, &cmd, held, None).await?;
        return Ok(Answer::Validated(validate::answer(cmd, locked, terms)));
    };
    let verdicts = (fallback.read)(&answer.body);
    let theirs = verdicts
        .reference
        .clone()
        .filter(|_| cmd.lock && !verdicts.valid.is_empty())
        .map(|reference| GameballHold {
            reference,
            codes: verdicts.valid.clone(),
        });
    let mut held = held;
    if atomic && verdicts.valid.len() < unknown.len() {
        // Gameball refused one of its coupons (and so holds nothing): ours
        // are given back, all or nothing across both sides.
        if let Some(key) = &held.session_key {
            release_sessions(cx, &held.locked, key, None).await;
        }
        held.locked.clear();
        held.outcomes = held.outcomes.into_iter().map(unapplied).collect();
    }
    let ours_hold = cmd.lock && !held.locked.is_empty();
    let stands_for_both = theirs.as_ref().filter(|_| ours_hold);
    let locked = match validate::keep(cx, &cmd, held, stands_for_both).await {
        Ok(locked) => locked,
        Err(f) => {
            if let Some(t) = &theirs {
                release_theirs(cx, fallback, call, &t.reference).await;
            }
            return Err(f);
        }
    };
    let reference = match stands_for_both {
        Some(_) => locked.reference.clone(),
        None => theirs.map(|t| t.reference),
    };
    let mut v = validate::answer(cmd, locked, terms);
    v.gameball = Some(GameballPart {
        codes: unknown,
        body: answer.body,
        reference,
    });
    Ok(Answer::Validated(v))
}

/// All or nothing: the first round held nothing because of the unknown
/// coupons; the known ones are validated (and held) on their own.
async fn hold_known(cx: &Cx, cmd: &ValidateCmd, first: Held, unknown: &[String]) -> Result<Held, Failure> {
    let known = ValidateCmd {
        codes: cmd.codes.iter().filter(|c| !unknown.contains(c)).cloned().collect(),
        ..cmd.clone()
    };
    let again = validate::hold(cx, &known).await?;
    // Each code's outcome in the caller's order: the known ones' from this
    // round, the unknown ones' (not found) from the first.
    let outcomes = first
        .outcomes
        .into_iter()
        .map(|o| {
            again
                .outcomes
                .iter()
                .find(|a| a.code() == o.code())
                .cloned()
                .unwrap_or(o)
        })
        .collect();
    Ok(Held { outcomes, ..again })
}

/// The codes Voucherify does not know.
fn not_found(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| o.reason() == Some(InvalidReason::NotFound))
        .map(|o| o.code().to_owned())
        .collect()
}

/// In an all-or-nothing answer, a coupon valid on its own is not applied.
fn unapplied(o: Outcome) -> Outcome {
    match o {
        Outcome::Applicable(a) => Outcome::NotChecked { code: a.code },
        other => other,
    }
}

/// Gameball's answer to `call`, when it gave one (2xx or 4xx); `None` when
/// it did not answer or failed, so the caller gets Voucherify's answer.
async fn ask(cx: &Cx, call: &PassOn) -> Option<GameballAnswer> {
    let gameball = cx.gameball.as_ref()?;
    if let Some(m) = cx.fx.metrics() {
        m.gameball_call(&cx.tenant.name, operation(call), "fallback");
    }
    match cx.fx.pass_on(gameball, call, &cx.request_id).await {
        Ok(a) if a.status < 500 => Some(a),
        Ok(a) => {
            tracing::warn!(request_id = %cx.request_id, status = a.status, "Gameball failed a fallback validation; answering as Voucherify did");
            None
        }
        Err(e) => {
            tracing::warn!(request_id = %cx.request_id, error = %e, "Gameball did not answer a fallback validation; answering as Voucherify did");
            None
        }
    }
}

fn operation(call: &PassOn) -> &'static str {
    let path = call.path.split('?').next().unwrap_or_default();
    if path.ends_with("/coupons/validate") {
        "validate"
    } else {
        "validate_single"
    }
}

async fn release_theirs(cx: &Cx, fallback: &Fallback, call: &PassOn, reference: &str) {
    let release = (fallback.release)(call, reference);
    if let Some(gameball) = &cx.gameball
        && let Err(e) = cx.fx.pass_on(gameball, &release, &cx.request_id).await
    {
        tracing::warn!(request_id = %cx.request_id, error = %e, "Gameball's part of a lock not written was not released; it ends at its own expiry");
    }
}
