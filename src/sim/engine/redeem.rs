//! Redemptions, the orders they record, and rollbacks: the second half of
//! [`ProjectState`], the requests that change balances and counts for good.

use serde_json::{Map, Value, json};

use super::answers::{Status, object_or_empty};
use super::evaluate::Verdict;
use super::voucher_json::{prune_nulls, voucher_json};
use super::wire::{ApiError, OrderIn, StackableRequest};
use super::{ProjectState, tracking_id};
use crate::clock::{Millis, iso};
use crate::ids;
use crate::sim::model::{ApplicationMode, Order, Redemption};

impl ProjectState {
    /// `POST /v1/redemptions`: consumes the session's locks and records the
    /// redemptions; a failure is a 400 with the first failing reason.
    pub fn redeem(&mut self, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.clone());
        let customer_id = customer.as_deref().map(|c| self.customer_id(c));
        let session_key = req.session.as_ref().and_then(|s| s.key.clone());
        let ev = self.evaluate(req, session_key.as_deref(), now);
        let mode = self.settings.redeemables_application_mode;
        let failed = ev.applicable == 0 || (mode == ApplicationMode::All && ev.any_inapplicable);
        if failed {
            let mut e = ev
                .verdicts
                .iter()
                .find_map(|v| match v {
                    Verdict::Inapplicable(e) => Some(e.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| ApiError::new(400, "no_applicable_redeemables", "No applicable redeemables", None));
            e.resource_id = Some(ids::prefixed_hex("rf_", 18));
            e.resource_type = Some("redemption".into());
            return Err(e);
        }

        let tracking = tracking_id(customer.as_deref());
        let order_id = self.upsert_order(&req.order, customer_id.as_deref(), ev.order.discount_amount, now);
        let applied: Vec<(String, i64, i64)> = ev
            .verdicts
            .iter()
            .filter_map(|v| match v {
                Verdict::Applicable {
                    code,
                    discount,
                    credits,
                } => Some((code.clone(), *discount, *credits)),
                _ => None,
            })
            .collect();
        let parent_id = (applied.len() > 1).then(|| ids::prefixed_hex("r_", 18));
        let mut children = Vec::with_capacity(applied.len());
        for (code, discount, credits) in &applied {
            let id = ids::prefixed_hex("r_", 18);
            let tier = match self.tiers.get_mut(code) {
                Some(t) if !self.vouchers.contains_key(code) => {
                    t.redeemed_quantity += 1;
                    Some(code.clone())
                }
                _ => None,
            };
            if let Some(v) = self.vouchers.get_mut(code) {
                v.redeemed_quantity += 1;
                v.updated_at = Some(now);
                if let Some(key) = &session_key {
                    v.locks.remove(key);
                }
                if let Some(g) = v.gift.as_mut() {
                    g.1 -= credits;
                    v.redeemed_amount += credits;
                }
            }
            if let Some(c) = &customer {
                *self.per_customer.entry((code.clone(), c.clone())).or_default() += 1;
            }
            self.redemptions.insert(
                id.clone(),
                Redemption {
                    id: id.clone(),
                    date: now,
                    parent: parent_id.clone(),
                    children: Vec::new(),
                    voucher_code: tier.is_none().then(|| code.clone()),
                    customer_source_id: customer.clone(),
                    customer_id: customer_id.clone(),
                    tracking_id: tracking.clone(),
                    order_id: order_id.clone(),
                    session_key: session_key.clone(),
                    credits: *credits,
                    applied_discount: *discount,
                    metadata: req.metadata.clone().unwrap_or(Value::Null),
                    rollback_id: None,
                    rollback_date: None,
                    points: 0,
                    reward: None,
                    promotion_tier: tier,
                },
            );
            children.push(id);
        }
        if let Some(pid) = &parent_id {
            self.redemptions.insert(
                pid.clone(),
                Redemption {
                    id: pid.clone(),
                    date: now,
                    parent: None,
                    children: children.clone(),
                    voucher_code: None,
                    customer_source_id: customer.clone(),
                    customer_id: customer_id.clone(),
                    tracking_id: tracking.clone(),
                    order_id: order_id.clone(),
                    session_key: session_key.clone(),
                    credits: 0,
                    applied_discount: ev.order.applied_discount_amount,
                    metadata: req.metadata.clone().unwrap_or(Value::Null),
                    rollback_id: None,
                    rollback_date: None,
                    points: 0,
                    reward: None,
                    promotion_tier: None,
                },
            );
        }
        let top = parent_id.clone().unwrap_or_else(|| children[0].clone());
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.redemptions.push(top);
        }
        let order = self.order_json(&order_id);
        let mut out = json!({
            "redemptions": children.iter().map(|id| self.redemption_json(id, false)).collect::<Vec<_>>(),
            "order": order,
            "inapplicable_redeemables": ev.outs.iter().filter(|o| o.status == Status::Inapplicable).collect::<Vec<_>>(),
            "skipped_redeemables": ev.outs.iter().filter(|o| o.status == Status::Skipped).collect::<Vec<_>>(),
        });
        if let Some(pid) = &parent_id {
            out["parent_redemption"] = self.redemption_json(pid, false);
        }
        Ok(out)
    }

    pub(super) fn upsert_order(
        &mut self,
        o: &OrderIn,
        customer_id: Option<&str>,
        discount: i64,
        now: Millis,
    ) -> String {
        let existing =
            o.id.as_ref()
                .filter(|id| self.orders.contains_key(*id))
                .cloned()
                .or_else(|| {
                    o.source_id
                        .as_ref()
                        .and_then(|s| self.order_ids_by_source.get(s))
                        .cloned()
                });
        match existing {
            Some(id) => {
                if let Some(order) = self.orders.get_mut(&id) {
                    order.amount = o.amount();
                    order.discount_amount = discount;
                    order.status = o.status.clone().unwrap_or_else(|| "PAID".into());
                    order.updated_at = Some(now);
                }
                id
            }
            None => {
                let id = ids::prefixed_hex("ord_", 18);
                if let Some(s) = &o.source_id {
                    self.order_ids_by_source.insert(s.clone(), id.clone());
                }
                self.orders.insert(
                    id.clone(),
                    Order {
                        id: id.clone(),
                        source_id: o.source_id.clone(),
                        status: o.status.clone().unwrap_or_else(|| "PAID".into()),
                        amount: o.amount(),
                        discount_amount: discount,
                        customer_id: customer_id.map(str::to_owned),
                        created_at: now,
                        updated_at: None,
                        metadata: object_or_empty(o.metadata.as_ref()),
                        redemptions: Vec::new(),
                    },
                );
                id
            }
        }
    }

    /// An order by Voucherify id or by the merchant's `source_id`.
    pub fn find_order(&self, id_or_source: &str) -> Option<&Order> {
        self.orders.get(id_or_source).or_else(|| {
            self.order_ids_by_source
                .get(id_or_source)
                .and_then(|id| self.orders.get(id))
        })
    }

    pub fn order_json(&self, id: &str) -> Value {
        let Some(o) = self.orders.get(id) else {
            return Value::Null;
        };
        let mut redemptions = Map::new();
        for rid in &o.redemptions {
            let Some(r) = self.redemptions.get(rid) else {
                continue;
            };
            let mut entry = json!({"date": iso(r.date)});
            if let Some(t) = r.promotion_tier.as_ref().and_then(|t| self.tiers.get(t)) {
                entry["related_object_type"] = "promotion_tier".into();
                entry["related_object_id"] = t.id.clone().into();
                entry["related_object_parent_id"] = t.campaign_id.clone().into();
            } else if r.children.is_empty() {
                let v = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
                entry["related_object_type"] = "voucher".into();
                entry["related_object_id"] = v.map(|v| v.id.clone()).into();
                if let Some(campaign) = v.and_then(|v| v.campaign_id.clone()) {
                    entry["related_object_parent_id"] = campaign.into();
                }
            } else {
                entry["related_object_type"] = "redemption".into();
                entry["related_object_id"] = rid.clone().into();
                entry["stacked"] = r.children.clone().into();
            }
            if let Some(rb) = &r.rollback_id {
                entry["rollback_id"] = rb.clone().into();
            }
            if let Some(d) = r.rollback_date {
                entry["rollback_date"] = iso(d).into();
            }
            if !r.children.is_empty() {
                let stacked: Vec<&String> = r
                    .children
                    .iter()
                    .filter_map(|c| self.redemptions.get(c).and_then(|c| c.rollback_id.as_ref()))
                    .collect();
                if !stacked.is_empty() {
                    entry["rollback_stacked"] = json!(stacked);
                }
            }
            redemptions.insert(rid.clone(), entry);
        }
        let mut out = json!({
            "id": o.id,
            "source_id": o.source_id,
            "created_at": iso(o.created_at),
            "updated_at": o.updated_at.map(iso),
            "status": o.status,
            "amount": o.amount,
            "discount_amount": o.discount_amount,
            "total_discount_amount": o.discount_amount,
            "total_amount": o.amount - o.discount_amount,
            "applied_discount_amount": o.discount_amount,
            "total_applied_discount_amount": o.discount_amount,
            "metadata": o.metadata,
            "customer_id": o.customer_id,
            "referrer_id": null,
            "object": "order",
            "redemptions": redemptions,
        });
        prune_nulls(&mut out);
        out
    }

    pub fn redemption_json(&self, id: &str, with_rollbacks: bool) -> Value {
        let Some(r) = self.redemptions.get(id) else {
            return Value::Null;
        };
        let voucher = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
        let tier = r.promotion_tier.as_ref().and_then(|t| self.tiers.get(t));
        let (related_type, related_id) = match (voucher, tier) {
            (Some(v), _) => ("voucher", v.id.clone()),
            (None, Some(t)) => ("promotion_tier", t.id.clone()),
            (None, None) => ("redemption", r.id.clone()),
        };
        let mut out = json!({
            "id": r.id,
            "object": "redemption",
            "date": iso(r.date),
            "customer_id": r.customer_id,
            "tracking_id": r.tracking_id,
            "metadata": object_or_empty(Some(&r.metadata)),
            "redemption": r.parent,
            "result": "SUCCESS",
            "status": if r.rollback_id.is_some() { "ROLLED_BACK" } else { "SUCCEEDED" },
            "order": self.order_json(&r.order_id),
            "channel": {"channel_id": "user_simulator", "channel_type": "API"},
            "customer": self.customer_json(r.customer_source_id.as_deref()),
            "related_object_type": related_type,
            "related_object_id": related_id,
        });
        if let Some(k) = &r.session_key {
            out["session"] = json!({"key": k});
        }
        if r.credits > 0 {
            out["amount"] = r.credits.into();
            out["gift"] = json!({"amount": r.credits});
        }
        if let Some(v) = voucher {
            out["voucher"] = voucher_json(v, &self.rules);
        }
        self.loyalty_parts(r, &mut out);
        if let Some(t) = tier {
            out["promotion_tier"] = self.tier_json(t);
        }
        if out["order"].is_null() {
            out.as_object_mut().map(|o| o.remove("order"));
        }
        if with_rollbacks && let Some(rb) = &r.rollback_id {
            let date = iso(r.rollback_date.unwrap_or(r.date));
            out["related_redemptions"] = json!({"rollbacks": [{"id": rb, "date": date}], "redemptions": []});
        }
        out
    }

    /// A loyalty reward redemption's points, reward and card holder.
    fn loyalty_parts(&self, r: &Redemption, out: &mut Value) {
        if r.points > 0 {
            out["amount"] = r.points.into();
            out["loyalty_card"] = json!({"points": r.points});
        }
        if let Some(reward) = self.reward_result_json(r) {
            out["reward"] = reward;
            if out.get("voucher").is_some() {
                out["voucher"]["holder"] = self.customer_json(r.customer_source_id.as_deref());
            }
        }
    }

    /// `POST /v1/redemptions/{id}/rollback` (single) and `/rollbacks`
    /// (a parent and all its children).
    pub fn rollback(
        &mut self,
        id: &str,
        reason: Option<String>,
        stacked: bool,
        now: Millis,
    ) -> Result<Value, ApiError> {
        let r = self
            .redemptions
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("redemption", id))?;
        if r.rollback_id.is_some() {
            let mut e = ApiError::new(
                400,
                "already_rolled_back",
                "Already rolled back",
                Some("Redemption has been already rolled back.".into()),
            );
            e.resource_id = Some(ids::prefixed_hex("rrf_", 18));
            e.resource_type = Some("redemption_rollback".into());
            return Err(e);
        }
        if !stacked && r.parent.is_some() {
            return Err(ApiError::new(
                400,
                "invalid_redemption_parent",
                "Invalid redemption parent",
                Some("You can rollback only a redemption that does not have parent redemption.".into()),
            ));
        }
        if !stacked && !r.children.is_empty() {
            return Err(ApiError::new(
                400,
                "invalid_redemption",
                "Invalid redemption",
                Some(
                    "You can rollback only a single redemption. Use different endpoint for stacked redemption.".into(),
                ),
            ));
        }
        if stacked && r.parent.is_some() {
            return Err(ApiError::new(
                400,
                "invalid_redemption_parent",
                "Invalid redemption parent",
                Some("You can rollback only a parent redemption.".into()),
            ));
        }
        let targets = if r.children.is_empty() {
            vec![r.id.clone()]
        } else {
            r.children.clone()
        };
        let mut rollbacks = Vec::new();
        for child_id in &targets {
            let rb_id = ids::prefixed_hex("rr_", 18);
            let Some(child) = self.redemptions.get_mut(child_id) else {
                continue;
            };
            child.rollback_id = Some(rb_id.clone());
            child.rollback_date = Some(now);
            let child = child.clone();
            if let Some(t) = child.promotion_tier.as_ref().and_then(|t| self.tiers.get_mut(t)) {
                t.redeemed_quantity = (t.redeemed_quantity - 1).max(0);
            }
            if let Some(tier) = &child.promotion_tier
                && let Some(c) = &child.customer_source_id
                && let Some(n) = self.per_customer.get_mut(&(tier.clone(), c.clone()))
            {
                *n = (*n - 1).max(0);
            }
            if let Some(code) = &child.voucher_code
                && let Some(v) = self.vouchers.get_mut(code)
            {
                v.redeemed_quantity = (v.redeemed_quantity - 1).max(0);
                if let Some(g) = v.gift.as_mut() {
                    g.1 += child.credits;
                    v.redeemed_amount -= child.credits;
                }
                // A reward redemption gives its points back to the card.
                if child.points > 0
                    && let Some(l) = v.loyalty.as_mut()
                {
                    l.balance += child.points;
                    l.redeemed_points = (l.redeemed_points - child.points).max(0);
                }
                if let Some(c) = &child.customer_source_id
                    && let Some(n) = self.per_customer.get_mut(&(code.clone(), c.clone()))
                {
                    *n = (*n - 1).max(0);
                }
            }
            rollbacks.push(self.rollback_json(&rb_id, &child, reason.as_deref(), now));
        }
        if !r.children.is_empty()
            && let Some(parent) = self.redemptions.get_mut(&r.id)
        {
            parent.rollback_id = Some(ids::prefixed_hex("rr_", 18));
            parent.rollback_date = Some(now);
        }
        if let Some(o) = self.orders.get_mut(&r.order_id) {
            o.status = "CANCELED".into();
            o.updated_at = Some(now);
        }
        if stacked {
            let parent_rb = match r.children.is_empty() {
                true => rollbacks[0].clone(),
                false => self.rollback_json(
                    self.redemptions[&r.id].rollback_id.clone().unwrap_or_default().as_str(),
                    &self.redemptions[&r.id].clone(),
                    reason.as_deref(),
                    now,
                ),
            };
            let mut out = json!({
                "rollbacks": rollbacks,
                "parent_rollback": parent_rb,
                "order": self.order_json(&r.order_id),
            });
            // A reward redemption may have no order.
            if out["order"].is_null() {
                out.as_object_mut().map(|o| o.remove("order"));
            }
            Ok(out)
        } else {
            Ok(rollbacks.into_iter().next().unwrap_or(Value::Null))
        }
    }

    fn rollback_json(&self, rb_id: &str, r: &Redemption, reason: Option<&str>, now: Millis) -> Value {
        let voucher = r.voucher_code.as_ref().and_then(|c| self.vouchers.get(c));
        let mut out = json!({
            "id": rb_id,
            "object": "redemption_rollback",
            "date": iso(now),
            "customer_id": r.customer_id,
            "tracking_id": r.tracking_id,
            "metadata": object_or_empty(Some(&r.metadata)),
            "redemption": r.id,
            "result": "SUCCESS",
            "status": "SUCCEEDED",
            "order": self.order_json(&r.order_id),
            "channel": {"channel_id": "user_simulator", "channel_type": "API"},
            "customer": self.customer_json(r.customer_source_id.as_deref()),
            "related_object_type": if voucher.is_some() { "voucher" } else { "redemption" },
            "related_object_id": voucher.map(|v| v.id.clone()).unwrap_or_else(|| r.id.clone()),
        });
        if let Some(reason) = reason {
            out["reason"] = reason.into();
        }
        if r.credits > 0 {
            out["amount"] = (-r.credits).into();
        }
        if r.points > 0 {
            out["amount"] = (-r.points).into();
        }
        if let Some(v) = voucher {
            out["voucher"] = voucher_json(v, &self.rules);
        }
        if let Some(reward) = self.reward_result_json(r) {
            out["reward"] = reward;
        }
        if let Some(t) = r.promotion_tier.as_ref().and_then(|t| self.tiers.get(t)) {
            out["related_object_type"] = "promotion_tier".into();
            out["related_object_id"] = t.id.clone().into();
            out["promotion_tier"] = self.tier_json(t);
        }
        if out["order"].is_null() {
            out.as_object_mut().map(|o| o.remove("order"));
        }
        out
    }

    /// `POST /v1/vouchers/{code}/redemption` (legacy): one redemption object.
    pub fn redeem_legacy(&mut self, code: &str, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        if self.voucher(code).is_none() {
            return Err(ApiError::not_found("voucher", code));
        }
        let out = self.redeem(req, now)?;
        Ok(out["redemptions"][0].clone())
    }
}
