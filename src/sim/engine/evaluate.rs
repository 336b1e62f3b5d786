//! Rule checks and order calculation: how each redeemable of one request is
//! judged, shared by validation (which may lock) and redemption.

use serde_json::Value;

use super::ProjectState;

/// Lock insertions between two sweeps of expired locks.
const SWEEP_EVERY: u32 = 4096;
use super::answers::{Details, EMPTY_LIST, GiftResult, OrderOut, RedeemableOut, RedeemableResult, Status};
use super::wire::{ApiError, CustomMessage, OrderIn, RedeemableObject, RedeemableRef, SessionIn, StackableRequest};
use crate::clock::Millis;
use crate::sim::model::{ApplicationMode, Discount, DiscountKind, Lock, RuleCheck, Voucher, VoucherKind};
use crate::sim::records::PromotionTier;

/// The outcome of checking one redeemable.
#[derive(Debug, Clone)]
pub(super) enum Verdict {
    Applicable { code: String, discount: i64, credits: i64 },
    Inapplicable(ApiError),
    Skipped(&'static str, &'static str),
}

pub(super) struct Evaluation {
    pub(super) verdicts: Vec<Verdict>,
    pub(super) outs: Vec<RedeemableOut>,
    pub(super) order: OrderOut,
    pub(super) any_inapplicable: bool,
    pub(super) applicable: usize,
}

fn kind_label(kind: VoucherKind) -> &'static str {
    match kind {
        VoucherKind::DiscountVoucher => "Discount Coupon",
        VoucherKind::GiftVoucher => "Gift Card",
        VoucherKind::LoyaltyCard => "Loyalty Card",
    }
}

impl ProjectState {
    /// Takes a lock (or re-takes it, for the same key) on every applicable
    /// voucher of an evaluation.
    pub(super) fn lock_applicable(
        &mut self,
        ev: &Evaluation,
        session: &SessionIn,
        key: &str,
        customer: Option<&str>,
        now: Millis,
    ) {
        let expires_at = now + session.ttl_unit.millis(session.ttl);
        for verdict in &ev.verdicts {
            if let Verdict::Applicable { code, credits, .. } = verdict
                && let Some(v) = self.vouchers.get_mut(code)
            {
                v.locks.insert(
                    key.to_owned(),
                    Lock {
                        expires_at,
                        credits: *credits,
                        customer: customer.map(str::to_owned),
                        ttl: session.ttl,
                        ttl_unit: session.ttl_unit,
                    },
                );
                self.locks_since_sweep += 1;
            }
        }
        if self.locks_since_sweep >= SWEEP_EVERY {
            self.locks_since_sweep = 0;
            for v in self.vouchers.values_mut() {
                v.locks.retain(|_, l| l.expires_at > now);
            }
        }
    }

    /// Checks one voucher for one request; `Ok` carries (discount, credits).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_voucher(
        &self,
        v: &Voucher,
        requested_credits: Option<i64>,
        customer: Option<&str>,
        session: Option<&str>,
        order: &OrderIn,
        running_total: i64,
        now: Millis,
        qualifying: bool,
    ) -> Result<(i64, i64), ApiError> {
        let order_amount = order.amount();
        if !v.active {
            return Err(ApiError::on_voucher("voucher_disabled", "voucher is disabled", &v.code));
        }
        if v.start_date.is_some_and(|s| s > now) {
            return Err(ApiError::on_voucher(
                "voucher_not_active",
                "voucher not active",
                &v.code,
            ));
        }
        if v.expiration_date.is_some_and(|e| e <= now) {
            return Err(ApiError::on_voucher("voucher_expired", "voucher expired", &v.code));
        }
        if let Some(q) = v.quantity
            && v.uses_excluding(session, now) >= q
        {
            return Err(ApiError::on_voucher("quantity_exceeded", "quantity exceeded", &v.code));
        }
        let rule_ids: Vec<&str> = v.assignments.iter().map(|a| a.rule_id.as_str()).collect();
        self.check_rules(
            &rule_ids,
            &v.code,
            kind_label(v.kind),
            customer,
            order_amount,
            qualifying,
        )?;
        match v.kind {
            VoucherKind::GiftVoucher => {
                let balance = v.gift.map(|g| g.1).unwrap_or(0);
                let available = balance - v.locked_credits_excluding(session, now);
                let credits = requested_credits.unwrap_or_else(|| available.min(running_total).max(0));
                if credits > available || available <= 0 {
                    return Err(ApiError::on_voucher(
                        "gift_amount_exceeded",
                        "gift amount exceeded",
                        &v.code,
                    ));
                }
                Ok((credits.min(running_total), credits))
            }
            VoucherKind::LoyaltyCard => Err(ApiError::new(
                400,
                "missing_reward",
                "Missing reward",
                Some("Loyalty cards are not simulated".to_owned()),
            )),
            VoucherKind::DiscountVoucher => {
                let d = v
                    .discount
                    .as_ref()
                    .map_or(0, |d| discount_amount(d, order, running_total));
                Ok((d, 0))
            }
        }
    }

    /// Checks the validation rules `rule_ids` for redeemable `key` (a code
    /// or a tier id, the key of its per-customer count).
    pub(super) fn check_rules(
        &self,
        rule_ids: &[&str],
        key_of: &str,
        label: &str,
        customer: Option<&str>,
        order_amount: i64,
        qualifying: bool,
    ) -> Result<(), ApiError> {
        for rule_id in rule_ids {
            let Some(rule) = self.rules.get(*rule_id) else {
                continue;
            };
            for check in &rule.checks {
                let (ok, key, message) = match check {
                    RuleCheck::OrderAmount(cmp, bound) => (
                        cmp.holds(order_amount, *bound),
                        "order_rules_violated",
                        "order does not match validation rules",
                    ),
                    // Qualifications ignore per-customer limits, as the
                    // spec's warning on `POST /v1/qualifications` says.
                    RuleCheck::PerCustomer(..) if qualifying => continue,
                    RuleCheck::PerCustomer(cmp, bound) => {
                        let used = customer
                            .and_then(|c| self.per_customer.get(&(key_of.to_owned(), c.to_owned())))
                            .copied()
                            .unwrap_or(0);
                        (
                            customer.is_some() && cmp.holds(used + 1, *bound),
                            "customer_rules_violated",
                            "customer does not match validation rules",
                        )
                    }
                };
                if !ok {
                    let mut e = ApiError::new(
                        400,
                        key,
                        message,
                        Some(format!(
                            "{label} cannot be redeemed because of violated validation rules: {}",
                            rule.id
                        )),
                    );
                    e.error = rule.error_message.clone().map(|message| CustomMessage { message });
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Checks one promotion tier for one request; `Ok` is its discount.
    /// Its campaign's dates and active flag count as the tier's own.
    pub(super) fn check_tier(
        &self,
        t: &PromotionTier,
        customer: Option<&str>,
        order: &OrderIn,
        running_total: i64,
        now: Millis,
        qualifying: bool,
    ) -> Result<i64, ApiError> {
        let c = self.campaigns.get(&t.campaign_id);
        let inactive = || ApiError::new(400, "promotion_inactive", "Inactive Promotion", Some(t.id.clone()));
        if !t.active || c.is_some_and(|c| !c.active) {
            return Err(inactive());
        }
        let starts = t.start_date.max(c.and_then(|c| c.start_date));
        let ends = [t.expiration_date, c.and_then(|c| c.expiration_date)]
            .into_iter()
            .flatten()
            .min();
        if starts.is_some_and(|s| s > now) || ends.is_some_and(|e| e <= now) {
            return Err(inactive());
        }
        let rule_ids: Vec<&str> = t.rules.iter().map(String::as_str).collect();
        self.check_rules(&rule_ids, &t.id, "Promotion Tier", customer, order.amount(), qualifying)?;
        Ok(discount_amount(&t.discount, order, running_total))
    }

    pub(super) fn evaluate(&self, req: &StackableRequest, session: Option<&str>, now: Millis) -> Evaluation {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.as_deref());
        let customer_id = customer.and_then(|c| self.customers.get(c)).map(|c| c.id.as_str());
        let amount = req.order.amount();
        let mode = self.settings.redeemables_application_mode;
        let mut verdicts = Vec::with_capacity(req.redeemables.len());
        let mut snapshots: Vec<Option<OrderOut>> = Vec::with_capacity(req.redeemables.len());
        let mut discount_so_far = 0i64;
        let mut applicable = 0usize;
        let mut first_failure = None;

        for (i, r) in req.redeemables.iter().enumerate() {
            if mode == ApplicationMode::All && first_failure.is_some() {
                verdicts.push(Verdict::Skipped(
                    "preceding_validation_failed",
                    "Redeemable cannot be applied due to preceding validation failure",
                ));
                snapshots.push(None);
                continue;
            }
            let checked = match r.object {
                RedeemableObject::Voucher => match self.voucher(&r.id) {
                    None => Err(ApiError::not_found("voucher", &r.id)),
                    Some(v) => self
                        .check_voucher(
                            v,
                            r.credits,
                            customer,
                            session,
                            &req.order,
                            amount - discount_so_far,
                            now,
                            false,
                        )
                        .map(|(d, c)| (v.code.clone(), d, c)),
                },
                RedeemableObject::PromotionTier => match self.tiers.get(&r.id) {
                    None => Err(ApiError::not_found("promotion_tier", &r.id)),
                    Some(t) => self
                        .check_tier(t, customer, &req.order, amount - discount_so_far, now, false)
                        .map(|d| (t.id.clone(), d, 0)),
                },
                RedeemableObject::PromotionStack => Err(ApiError::not_found("promotion_stack", &r.id)),
            };
            match checked {
                Ok(_) if applicable >= self.settings.applicable_redeemables_limit => {
                    verdicts.push(Verdict::Skipped(
                        "applicable_redeemables_limit_exceeded",
                        "Applicable redeemables limit exceeded",
                    ));
                    snapshots.push(None);
                }
                Ok((code, d, credits)) => {
                    discount_so_far += d;
                    applicable += 1;
                    snapshots.push(Some(OrderOut::calculated(&req.order, discount_so_far, d, customer_id)));
                    verdicts.push(Verdict::Applicable {
                        code,
                        discount: d,
                        credits,
                    });
                }
                Err(e) => {
                    first_failure.get_or_insert(i);
                    verdicts.push(Verdict::Inapplicable(e));
                    snapshots.push(None);
                }
            }
        }

        if mode == ApplicationMode::All && first_failure.is_some() {
            // The whole request fails: the coupons checked before the failure
            // stay APPLICABLE in the answer, but nothing applies or is locked.
            applicable = 0;
            discount_so_far = 0;
        }

        let outs = verdicts
            .iter()
            .zip(snapshots)
            .zip(&req.redeemables)
            .map(|((verdict, snapshot), r)| self.redeemable_out(r, verdict, snapshot, req.expand_redeemable, now))
            .collect();
        Evaluation {
            order: OrderOut::calculated(&req.order, discount_so_far, discount_so_far, customer_id),
            any_inapplicable: first_failure.is_some(),
            verdicts,
            outs,
            applicable,
        }
    }

    fn redeemable_out(
        &self,
        r: &RedeemableRef,
        verdict: &Verdict,
        order: Option<OrderOut>,
        expand: bool,
        now: Millis,
    ) -> RedeemableOut {
        let voucher = match r.object {
            RedeemableObject::Voucher => self.voucher(&r.id),
            _ => None,
        };
        let tier = match r.object {
            RedeemableObject::PromotionTier => self.tiers.get(&r.id),
            _ => None,
        };
        let object = match r.object {
            RedeemableObject::Voucher => "voucher",
            _ => "promotion_tier",
        };
        let (status, result) = match verdict {
            Verdict::Applicable { .. } if voucher.is_none() => (
                Status::Applicable,
                RedeemableResult {
                    discount: tier.map(|t| t.discount.clone()),
                    ..Default::default()
                },
            ),
            Verdict::Applicable { credits, .. } => {
                let v = voucher.expect("an applicable voucher exists");
                let result = match v.kind {
                    VoucherKind::GiftVoucher => RedeemableResult {
                        gift: Some(GiftResult {
                            balance: v.gift.map(|g| g.1).unwrap_or(0),
                            credits: *credits,
                            locked_credits: v.locked_credits_excluding(None, now),
                        }),
                        ..Default::default()
                    },
                    _ => RedeemableResult {
                        discount: v.discount.clone(),
                        ..Default::default()
                    },
                };
                (Status::Applicable, result)
            }
            Verdict::Inapplicable(e) => (
                Status::Inapplicable,
                RedeemableResult {
                    details: Some(Details {
                        key: e.key.clone(),
                        message: e.message.clone(),
                    }),
                    error: Some(e.clone()),
                    ..Default::default()
                },
            ),
            Verdict::Skipped(key, message) => (
                Status::Skipped,
                RedeemableResult {
                    details: Some(Details {
                        key: (*key).to_owned(),
                        message: (*message).to_owned(),
                    }),
                    ..Default::default()
                },
            ),
        };
        let applicable = status == Status::Applicable;
        RedeemableOut {
            status,
            id: r.id.clone(),
            object,
            order,
            applicable_to: applicable.then_some(EMPTY_LIST),
            inapplicable_to: applicable.then_some(EMPTY_LIST),
            result,
            metadata: Value::Object(
                voucher
                    .map(|v| v.metadata.clone())
                    .or_else(|| tier.map(|t| t.metadata.clone()))
                    .unwrap_or_default(),
            ),
            campaign_name: voucher
                .and_then(|v| v.campaign.clone())
                .or_else(|| {
                    tier.and_then(|t| self.campaigns.get(&t.campaign_id))
                        .map(|c| c.name.clone())
                })
                .filter(|_| expand),
            campaign_id: voucher
                .and_then(|v| v.campaign_id.clone())
                .or_else(|| tier.map(|t| t.campaign_id.clone()))
                .filter(|_| expand),
        }
    }
}

/// The discount one voucher gives on `remaining`, what is left to pay of
/// `order` before it.
pub(super) fn discount_amount(d: &Discount, order: &OrderIn, remaining: i64) -> i64 {
    let total = remaining.max(0);
    let raw = match d.kind {
        DiscountKind::Amount => d.amount_off.unwrap_or(0),
        DiscountKind::Percent => {
            let pct = (total as f64 * d.percent_off.unwrap_or(0.0) / 100.0).round() as i64;
            d.amount_limit.map_or(pct, |cap| pct.min(cap))
        }
        DiscountKind::Fixed => (total - d.fixed_amount.unwrap_or(0)).max(0),
        DiscountKind::Unit => {
            let price = d.unit_type.as_deref().and_then(|u| order.unit_price(u)).unwrap_or(0);
            price * d.unit_off.unwrap_or(1)
        }
    };
    raw.clamp(0, total)
}
