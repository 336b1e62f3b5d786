//! A command run without side effects: what the translated flow would
//! answer, found with reads and validations only.
//!
//! * a validation never takes a session (`lock` off); a locking one
//!   answers with Gameball's own reference, and the [`Book`] remembers what
//!   it covers;
//! * a burn, an order or an SDK redemption validates its codes instead of
//!   redeeming them;
//! * a release or a lock-details read of a reference is answered from the
//!   book; one the book never saw can only be compared when Gameball
//!   refused it too (it answers as for an unknown reference);
//! * a coupon creation checks the code is free and answers the coupon the
//!   request describes, without creating it.
//!
//! Nothing is written to Voucherify or to the lock store.

use std::time::Duration;

use serde_json::Value;

use crate::adapter::Ctx;
use crate::adapter::error::{Failure, Kind};
use crate::adapter::ops::details::coupons_of;
use crate::adapter::ops::redeem::{already_used, another_customers_lock, expired_lock, refused, released_lock};
use crate::adapter::ops::release::used_lock;
use crate::adapter::ops::{
    Answer, BurnCmd, BurnTarget, Burned, CodeRedeemed, CouponCreated, CouponDraft, CustomerIds, LockView, Released,
    Transaction, ValidateCmd, Validation, Validity, apply, validate,
};
use crate::ids;
use crate::locks::{LockRecord, LockState};
use crate::shadow::book::{Book, Ended, Entry};
use crate::translate::{self, Outcome};
use crate::voucherify::Voucher;

use super::Command;

/// A dry run's result.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per comparison, moved once
pub enum Dry {
    /// What the translated flow would have answered.
    Ran(Result<Answer, Failure>),
    /// Nothing to compare with: the reason.
    Unknowable(String),
}

/// Gameball's answer, as far as a dry run needs it.
pub struct GameballSaid<'a> {
    pub status: u16,
    pub body: &'a Value,
}

impl<'a> GameballSaid<'a> {
    pub fn of(status: u16, body: &'a Value) -> Self {
        GameballSaid { status, body }
    }

    /// The lock (or hold) reference Gameball handed out, wherever it is.
    pub fn reference(&self) -> Option<&str> {
        find_reference(self.body)
    }
}

/// The first lock reference in a Gameball body (request or answer), under
/// any of the names the dialects give it.
pub fn find_reference(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) => ["lockReference", "holdReference", "couponsLockReference"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str))
            .or_else(|| m.values().find_map(find_reference)),
        Value::Array(a) => a.iter().find_map(find_reference),
        _ => None,
    }
}

pub async fn run(ctx: &Ctx, book: &Book, command: Command, gameball: &GameballSaid<'_>) -> Dry {
    let tenant = ctx.tenant.name.as_str();
    let unseen = |reference: &str| {
        if (400..500).contains(&gameball.status) {
            // Gameball refused it: couponbridge would refuse a reference
            // it does not know the same way.
            Dry::Ran(Err(Failure::lock_not_found()))
        } else {
            Dry::Unknowable(format!(
                "lock reference {} was not seen by this shadow (locked before shadowing began, or through another replica)",
                shorten(reference)
            ))
        }
    };
    match command {
        Command::Validate(cmd) => Dry::Ran(validate_dry(ctx, book, cmd, gameball).await.map(Answer::Validated)),
        Command::LockDetails { reference } => match book.get(tenant, &reference) {
            None => unseen(&reference),
            Some(entry) => Dry::Ran(details(ctx, &reference, entry).await.map(Answer::LockDetails)),
        },
        Command::Release { reference } => match book.get(tenant, &reference) {
            None => unseen(&reference),
            Some(entry) => Dry::Ran(release(ctx, book, &reference, entry).map(Answer::Released)),
        },
        Command::Burn(cmd) => {
            let (codes, amount, reference) = match &cmd.target {
                BurnTarget::Codes(codes) => (codes.clone(), None, None),
                BurnTarget::Lock(reference) => match book.get(tenant, reference) {
                    None => return unseen(reference),
                    Some(entry) => {
                        if let Err(f) = usable(ctx, &entry, &cmd.customer) {
                            return Dry::Ran(Err(f));
                        }
                        (entry.codes, entry.amount_minor, Some(reference.clone()))
                    }
                },
            };
            Dry::Ran(burn(ctx, book, cmd, &codes, amount, reference.as_deref()).await)
        }
        Command::Order(cmd) => {
            let mut codes = Vec::new();
            let mut amount = cmd.amount_minor;
            if let Some(reference) = &cmd.reference {
                let Some(entry) = book.get(tenant, reference) else {
                    return unseen(reference);
                };
                if let Err(f) = usable(ctx, &entry, &cmd.customer) {
                    return Dry::Ran(Err(f));
                }
                amount = amount.or(entry.amount_minor);
                codes = entry.codes;
            }
            codes.extend(
                cmd.codes
                    .iter()
                    .filter(|c| !codes.contains(c))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let checked = redeemable(ctx, &cmd.customer, &codes, amount).await;
            if checked.is_ok()
                && let Some(reference) = &cmd.reference
            {
                book.end(tenant, reference, Ended::Burned { at: ctx.now() });
            }
            let customer_id = cmd.customer.id;
            Dry::Ran(checked.map(|()| match cmd.kind {
                Transaction::Order => Answer::Ordered { customer_id },
                Transaction::Payment => Answer::Paid { customer_id },
            }))
        }
        Command::RedeemCode(cmd) => {
            let codes = [cmd.code.clone()];
            Dry::Ran(redeemable(ctx, &cmd.customer, &codes, None).await.map(|()| {
                Answer::CodeRedeemed(CodeRedeemed {
                    customer_id: cmd.customer.id,
                    code: cmd.code,
                    at: ctx.now(),
                })
            }))
        }
        Command::CreateCoupon(draft) => Dry::Ran(create(ctx, draft).await.map(Answer::CouponCreated)),
        // Reads only: run for real.
        command @ (Command::CustomerCoupons { .. } | Command::Automatic(_)) => Dry::Ran(apply(ctx, command).await),
        Command::Predefined(_) => {
            Dry::Unknowable("a coupon from points spends points: it cannot be run without side effects".into())
        }
        Command::Refund(_) => {
            Dry::Unknowable("a refund rolls back redemptions: it cannot be run without side effects".into())
        }
    }
}

/// The lock reference in a message, shortened: enough to find it in logs,
/// not the whole credential-like token.
fn shorten(reference: &str) -> String {
    let head: String = reference.chars().take(6).collect();
    if head.len() < reference.len() {
        format!("{head}…")
    } else {
        head
    }
}

async fn validate_dry(
    ctx: &Ctx,
    book: &Book,
    cmd: ValidateCmd,
    gameball: &GameballSaid<'_>,
) -> Result<Validation, Failure> {
    let (lock, duration, amount, validity) = (cmd.lock, cmd.duration, cmd.amount_minor, cmd.validity);
    let dry = ValidateCmd {
        lock: false,
        relock: None,
        ..cmd
    };
    let mut v = validate::run(ctx, dry).await?;
    let applicable: Vec<String> = v
        .verdicts
        .iter()
        .filter(|x| matches!(x.outcome, Outcome::Applicable(_)))
        .map(|x| x.outcome.code().to_owned())
        .collect();
    let locks = match validity {
        Validity::Partial => !applicable.is_empty(),
        Validity::Atomic => v.all_valid(),
    };
    if lock && locks {
        let now = ctx.now();
        let expires_at = now + duration.as_millis() as i64;
        let reference = gameball.reference().map_or_else(ids::lock_reference, str::to_owned);
        book.insert(
            &ctx.tenant.name,
            &reference,
            Entry {
                customer_id: v.customer_id.clone(),
                codes: applicable,
                amount_minor: amount,
                created_at: now,
                expires_at,
                ended: None,
            },
        );
        v.reference = Some(reference);
        v.expires_at = Some(expires_at);
    }
    Ok(v)
}

async fn details(ctx: &Ctx, reference: &str, entry: Entry) -> Result<LockView, Failure> {
    let (state, used_at, released_at) = match entry.ended {
        None => (LockState::Locked, None, None),
        Some(Ended::Burned { at }) => (LockState::Used, Some(at), None),
        Some(Ended::Released { at }) => (LockState::Released, None, Some(at)),
    };
    let record = LockRecord {
        tenant: ctx.tenant.name.clone(),
        reference: reference.to_owned(),
        customer_id: entry.customer_id,
        codes: entry.codes,
        amount_minor: entry.amount_minor,
        created_at: entry.created_at,
        expires_at: entry.expires_at,
        state,
        used_at,
        released_at,
        ..LockRecord::default()
    };
    Ok(LockView {
        coupons: coupons_of(ctx, &record.codes).await?,
        record,
        now: ctx.now(),
    })
}

/// As the release operation answers: a released or expired lock answers
/// its end again; a used one is refused.
fn release(ctx: &Ctx, book: &Book, reference: &str, entry: Entry) -> Result<Released, Failure> {
    let at = match entry.ended {
        Some(Ended::Burned { at }) => return Err(used_lock(Some(at))),
        Some(Ended::Released { at }) => at,
        None if entry.expires_at <= ctx.now() => entry.expires_at,
        None => {
            let now = ctx.now();
            book.end(&ctx.tenant.name, reference, Ended::Released { at: now });
            now
        }
    };
    Ok(Released { at, codes: entry.codes })
}

/// Whether a burn or an order could use this lock, as the lock store
/// would say.
fn usable(ctx: &Ctx, entry: &Entry, customer: &CustomerIds) -> Result<(), Failure> {
    match entry.ended {
        Some(Ended::Burned { .. }) => Err(already_used()),
        Some(Ended::Released { .. }) => Err(released_lock()),
        None if entry.expires_at <= ctx.now() => Err(expired_lock(entry.expires_at)),
        None if entry.customer_id != customer.id => Err(another_customers_lock()),
        None => Ok(()),
    }
}

async fn burn(
    ctx: &Ctx,
    book: &Book,
    cmd: BurnCmd,
    codes: &[String],
    amount: Option<i64>,
    reference: Option<&str>,
) -> Result<Answer, Failure> {
    redeemable(ctx, &cmd.customer, codes, amount).await?;
    let at = ctx.now();
    if let Some(reference) = reference {
        book.end(&ctx.tenant.name, reference, Ended::Burned { at });
    }
    Ok(Answer::Burned(Burned {
        at,
        transaction_id: cmd.transaction_id,
        transaction_time: cmd.transaction_time,
    }))
}

/// A redemption's stand-in: every code must validate for the customer
/// (no session: nothing is held), refused as Voucherify's redemption
/// would refuse the first that does not.
async fn redeemable(ctx: &Ctx, customer: &CustomerIds, codes: &[String], amount: Option<i64>) -> Result<(), Failure> {
    if codes.is_empty() {
        return Ok(());
    }
    let v = validate::run(
        ctx,
        ValidateCmd {
            customer: customer.clone(),
            codes: codes.to_vec(),
            lock: false,
            duration: Duration::ZERO,
            relock: None,
            amount_minor: amount,
            validity: Validity::Partial,
            with_terms: false,
        },
    )
    .await?;
    match v.verdicts.iter().find_map(|x| match &x.outcome {
        Outcome::Inapplicable { reason, .. } => Some(*reason),
        _ => None,
    }) {
        Some(reason) => Err(refused(ctx, reason)),
        None => Ok(()),
    }
}

async fn create(ctx: &Ctx, draft: CouponDraft) -> Result<CouponCreated, Failure> {
    if let Some(code) = &draft.code
        && ctx
            .app
            .voucherify
            .voucher(&ctx.tenant.upstream, code, ctx.call())
            .await?
            .is_some()
    {
        return Err(Failure::client(
            Kind::AlreadyExists,
            "A coupon with this code already exists",
        ));
    }
    // The voucher as the request describes it; a generated code is
    // compared by kind only (see `super::rules_for`).
    let mut voucher: Voucher = serde_json::from_value(translate::voucher_request(&draft)).unwrap_or_default();
    if voucher.code.is_empty() {
        voucher.code = draft.code.clone().unwrap_or_else(|| ids::prefixed_hex("SHADOW-", 8));
    }
    Ok(CouponCreated {
        customer_id: draft.customer_id,
        coupon: translate::coupon(&voucher, &[], ctx.tenant.decimals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gameballs_reference_is_found_wherever_the_dialect_puts_it() {
        let seed = json!({"validCoupons": [{"code": "A", "lockReference": "R1"}]});
        let published = json!({"lockReference": "R2", "coupons": []});
        let hold = json!({"holdReference": "H3"});
        for (body, want) in [
            (seed, Some("R1")),
            (published, Some("R2")),
            (hold, Some("H3")),
            (json!({}), None),
        ] {
            assert_eq!(
                GameballSaid {
                    status: 200,
                    body: &body
                }
                .reference(),
                want
            );
        }
    }

    #[test]
    fn references_in_messages_are_shortened() {
        assert_eq!(shorten("0123456789abcdef"), "012345…");
        assert_eq!(shorten("abc"), "abc");
    }
}
