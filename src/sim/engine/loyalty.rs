//! Loyalty programs (`/v1/loyalties`): members (loyalty cards published to
//! customers), their points, and the member redemption that exchanges
//! points for a reward (the rewards themselves are in `rewards`).
//!
//! A member redemption is one critical section: the points are checked,
//! the reward's code is found or made, then the points are taken, the code
//! published and the redemption recorded, or nothing changes at all.

use serde_json::{Map, Value, json};

use super::listing::{Query, list};
use super::publications::customer_in;
use super::voucher_json::voucher_json;
use super::wire::{ApiError, parse_order};
use super::{ProjectState, tracking_id};
use crate::clock::Millis;
use crate::ids;
use crate::sim::catalog::{opt_i64, opt_str};
use crate::sim::model::{Redemption, VoucherKind};
use crate::sim::model::{RewardRedeemed, Voucher};
use crate::sim::records::{CampaignKind, RewardKind};

/// Voucherify's answer when a card's balance cannot pay: the key, message
/// and `details` (the card code) of the spec's "Loyalty points exceeded"
/// example (validations.json, `POST /v1/vouchers/{code}/validate`), which
/// is also the `failure_code` of a failed loyalty redemption in
/// readOnly-openAPI.json. As a failed redemption it carries an `rf_…`
/// resource, as the simulator's other failed redemptions do.
fn points_exceeded(card: &str) -> ApiError {
    let mut e = ApiError::new(
        400,
        "loyalty_card_points_exceeded",
        "loyalty card points exceeded",
        Some(card.to_owned()),
    );
    e.resource_id = Some(ids::prefixed_hex("rf_", 18));
    e.resource_type = Some("redemption".into());
    e
}

impl ProjectState {
    /// The loyalty program `id` (404 when it is not one).
    pub(super) fn loyalty_campaign(&self, id: &str) -> Result<String, ApiError> {
        match self.campaign(id) {
            Some(c) if c.kind == CampaignKind::LoyaltyProgram => Ok(c.id.clone()),
            _ => Err(ApiError::not_found("campaign", id)),
        }
    }

    /// `GET /v1/loyalties/{campaignId}`.
    pub fn loyalty_json(&self, id: &str) -> Result<Value, ApiError> {
        let id = self.loyalty_campaign(id)?;
        Ok(self.campaign_json(&id))
    }

    /// The loyalty card `member` (code or `v_…` id), of `campaign` if named.
    fn member_code(&self, campaign: Option<&str>, member: &str) -> Result<String, ApiError> {
        let campaign_id = campaign.map(|c| self.loyalty_campaign(c)).transpose()?;
        match self.voucher(member) {
            Some(v)
                if v.kind == VoucherKind::LoyaltyCard
                    && campaign_id.as_ref().is_none_or(|c| v.campaign_id.as_ref() == Some(c)) =>
            {
                Ok(v.code.clone())
            }
            _ => Err(ApiError::not_found("voucher", member)),
        }
    }

    fn member_json(&self, code: &str) -> Value {
        let Some(v) = self.vouchers.get(code) else {
            return Value::Null;
        };
        voucher_json(v, &self.rules)
    }

    /// `GET /v1/loyalties/{campaignId}/members/{memberId}` and
    /// `GET /v1/loyalties/members/{memberId}`.
    pub fn member(&self, campaign: Option<&str>, member: &str) -> Result<Value, ApiError> {
        let code = self.member_code(campaign, member)?;
        Ok(self.member_json(&code))
    }

    /// `POST /v1/loyalties/{campaignId}/members`: publishes a card of the
    /// program (the one named by `voucher`, else a free or new one). A
    /// customer who already holds a card of a `join_once` program gets it
    /// again.
    pub fn add_member(&mut self, campaign: &str, body: &Value, now: Millis) -> Result<Value, ApiError> {
        let campaign_id = self.loyalty_campaign(campaign)?;
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let (customer_id, customer_source) = self.resolve_customer(&customer_in(body)?)?;
        let join_once = self.campaigns.get(&campaign_id).is_some_and(|c| c.join_once);
        if join_once
            && let Some(code) = self.by_holder.get(&customer_id).and_then(|codes| {
                codes.iter().find(|c| {
                    self.vouchers
                        .get(*c)
                        .is_some_and(|v| v.campaign_id.as_ref() == Some(&campaign_id))
                })
            })
        {
            return Ok(self.member_json(&code.clone()));
        }
        let code = match opt_str(body, "voucher")? {
            Some(code) => self.member_code(Some(&campaign_id), &code)?,
            None => self.unassigned_code(&campaign_id, &[], now)?,
        };
        let metadata = body
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        self.record_publication(
            &code,
            &customer_id,
            &customer_source,
            opt_str(body, "source_id")?,
            &metadata,
            now,
        );
        Ok(self.member_json(&code))
    }

    /// `GET /v1/loyalties/{campaignId}/members?customer=`: the program's
    /// published cards, newest first.
    pub fn list_members(&self, campaign: &str, q: &Query) -> Result<Value, ApiError> {
        let campaign_id = self.loyalty_campaign(campaign)?;
        let page = q.page(100)?;
        let holder = match q.get("customer") {
            None => None,
            Some(c) => match self.find_customer(c) {
                Some(c) => Some(c.id.clone()),
                None => return Ok(list("vouchers", Vec::new(), 0)),
            },
        };
        let mut cards: Vec<_> = self
            .by_campaign
            .get(&campaign_id)
            .into_iter()
            .flatten()
            .filter_map(|c| self.vouchers.get(c))
            .filter(|v| v.holder_id.is_some() && (holder.is_none() || v.holder_id == holder))
            .collect();
        cards.sort_by_key(|v| std::cmp::Reverse(v.seq));
        let total = cards.len();
        let items = page
            .of(cards)
            .into_iter()
            .map(|v| voucher_json(v, &self.rules))
            .collect();
        Ok(list("vouchers", items, total))
    }

    /// `POST /v1/loyalties/{campaignId}/members/{memberId}/balance` and
    /// `/v1/loyalties/members/{memberId}/balance`: adds (or, negative,
    /// subtracts) points.
    pub fn add_points(
        &mut self,
        campaign: Option<&str>,
        member: &str,
        body: &Value,
        now: Millis,
    ) -> Result<Value, ApiError> {
        let code = self.member_code(campaign, member)?;
        let points = match body.get("points") {
            Some(p) => p
                .as_i64()
                .filter(|p| *p != 0)
                .ok_or_else(|| ApiError::invalid_payload("Property .points should be a non-zero integer"))?,
            None => {
                return Err(ApiError::invalid_payload(
                    "Request body should have required property 'points'",
                ));
            }
        };
        let v = self.vouchers.get_mut(&code).expect("found above");
        let card = v.loyalty.get_or_insert_default();
        if points < 0 && card.balance < -points {
            return Err(points_exceeded(&code));
        }
        if points > 0 {
            card.points += points;
        } else {
            card.subtracted_points -= points;
        }
        card.balance += points;
        let balance = card.balance;
        v.updated_at = Some(now);
        Ok(json!({
            "points": points,
            "total": balance,
            "balance": balance,
            "type": "loyalty_card",
            "object": "balance",
            "related_object": {"type": "voucher", "id": v.id},
            "operation_type": "MANUAL",
        }))
    }

    /// `POST /v1/loyalties/{campaignId}/members/{memberId}/redemption` and
    /// `/v1/loyalties/members/{memberId}/redemption`.
    pub fn redeem_reward(
        &mut self,
        campaign: Option<&str>,
        member: &str,
        body: &Value,
        now: Millis,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let code = self.member_code(campaign, member)?;
        let reward_id = body
            .pointer("/reward/id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::new(400, "missing_reward", "Missing reward", Some(code.clone())))?
            .to_owned();
        let reward = self.reward_or_404(&reward_id)?.clone();
        let card = self.vouchers.get(&code).expect("found above").clone();
        let card_campaign = card.campaign_id.clone().unwrap_or_default();
        let assignment = self
            .reward_assignments
            .values()
            .find(|a| a.reward_id == reward_id && a.campaign_id == card_campaign)
            .cloned()
            .ok_or_else(|| {
                let mut e = ApiError::not_found("reward_assignment", &reward_id);
                e.details = Some(format!(
                    "Cannot find reward_assignment with id {reward_id} in campaign {card_campaign}"
                ));
                e
            })?;
        usable_card(&card, &code, now)?;
        let requested = opt_i64(body.pointer("/reward/points"), "reward.points")?;
        let cost = match reward.kind {
            // Pay with points: the points the client spends.
            RewardKind::Coin { .. } => requested.ok_or_else(|| {
                ApiError::invalid_payload("Property .reward should have required property 'points' for a COIN reward")
            })?,
            _ => assignment.points,
        };
        let balance = card.loyalty.map(|l| l.balance).unwrap_or(0);
        if balance < cost {
            return Err(points_exceeded(&code));
        }
        let holder = card.holder_id.clone();
        let holder_source = holder
            .as_ref()
            .and_then(|h| self.find_customer(h))
            .map(|c| c.source_id.clone());
        let order_in = match body.get("order").filter(|o| !o.is_null()) {
            Some(_) => Some(parse_order(body)?),
            None => None,
        };
        // Everything is checked; from here on the request succeeds.
        let published = self.give_reward(&reward.kind, &code, holder.as_ref(), holder_source.as_ref(), now)?;
        let v = self.vouchers.get_mut(&code).expect("found above");
        let l = v.loyalty.get_or_insert_default();
        l.balance -= cost;
        l.redeemed_points += cost;
        v.redeemed_quantity += 1;
        v.updated_at = Some(now);
        if let Some(r) = self.rewards.get_mut(&reward_id) {
            r.redeemed += 1;
        }
        let order_id = match &order_in {
            Some(o) => self.upsert_order(o, holder.as_deref(), 0, now),
            None => String::new(),
        };
        let id = ids::prefixed_hex("r_", 18);
        self.redemptions.insert(
            id.clone(),
            Redemption {
                id: id.clone(),
                date: now,
                parent: None,
                children: Vec::new(),
                voucher_code: Some(code.clone()),
                customer_source_id: holder_source.clone(),
                customer_id: holder.clone(),
                tracking_id: tracking_id(holder_source.as_deref()),
                order_id: order_id.clone(),
                session_key: None,
                credits: 0,
                applied_discount: 0,
                metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
                rollback_id: None,
                rollback_date: None,
                points: cost,
                reward: Some(RewardRedeemed {
                    reward_id,
                    assignment_id: assignment.id,
                    points: cost,
                    voucher_code: published,
                }),
                promotion_tier: None,
            },
        );
        if let Some(o) = self.orders.get_mut(&order_id) {
            o.redemptions.push(id.clone());
        }
        Ok(self.redemption_json(&id, false))
    }

    /// What a reward gives: a coupon published to the card's holder (a
    /// CAMPAIGN reward of a coupon campaign), or points on the holder's card
    /// in another program; nothing otherwise.
    fn give_reward(
        &mut self,
        kind: &RewardKind,
        code: &str,
        holder: Option<&String>,
        holder_source: Option<&String>,
        now: Millis,
    ) -> Result<Option<String>, ApiError> {
        Ok(match kind {
            RewardKind::Campaign { campaign_id, .. }
                if self
                    .campaigns
                    .get(campaign_id)
                    .is_some_and(|c| c.kind != CampaignKind::LoyaltyProgram) =>
            {
                let (Some(h), Some(s)) = (holder, holder_source) else {
                    return Err(ApiError::new(
                        400,
                        "missing_customer",
                        "Missing customer",
                        Some(format!("Loyalty card {code} has no holder to publish the reward to")),
                    ));
                };
                let reward_code = self.unassigned_code(campaign_id, &[], now)?;
                self.record_publication(&reward_code, h, s, None, &Map::new(), now);
                Some(reward_code)
            }
            RewardKind::Campaign {
                campaign_id,
                balance: Some(points),
            } => {
                // Points for another program: added to the holder's card there.
                let target = holder.and_then(|h| {
                    self.by_holder.get(h).and_then(|codes| {
                        codes
                            .iter()
                            .find(|c| {
                                self.vouchers
                                    .get(*c)
                                    .is_some_and(|v| v.campaign_id.as_ref() == Some(campaign_id))
                            })
                            .cloned()
                    })
                });
                if let Some(t) = target.and_then(|t| self.vouchers.get_mut(&t))
                    && let Some(l) = t.loyalty.as_mut()
                {
                    l.points += points;
                    l.balance += points;
                }
                None
            }
            _ => None,
        })
    }

    /// The `reward` of a reward redemption's answer.
    pub(super) fn reward_result_json(&self, r: &Redemption) -> Option<Value> {
        let rr = r.reward.as_ref()?;
        let mut out = self.reward_json(&rr.reward_id);
        out["assignment_id"] = rr.assignment_id.clone().into();
        if let Some(c) = r.customer_source_id.as_deref() {
            out["customer"] = self.customer_json(Some(c));
        }
        if let Some(v) = rr.voucher_code.as_ref().and_then(|c| self.vouchers.get(c)) {
            let mut voucher = voucher_json(v, &self.rules);
            // Always named, null when the campaign sets no dates: the
            // client learns the code's validity from this answer.
            for k in ["start_date", "expiration_date"] {
                if voucher.get(k).is_none() {
                    voucher[k] = Value::Null;
                }
            }
            out["voucher"] = voucher;
        }
        Some(out)
    }
}

/// A card points can be spent from: active and not expired.
fn usable_card(card: &Voucher, code: &str, now: Millis) -> Result<(), ApiError> {
    if !card.active {
        return Err(ApiError::new(
            400,
            "voucher_disabled",
            "voucher is disabled",
            Some(code.to_owned()),
        ));
    }
    if card.expiration_date.is_some_and(|e| e <= now) {
        return Err(ApiError::new(
            400,
            "voucher_expired",
            "voucher expired",
            Some(code.to_owned()),
        ));
    }
    Ok(())
}
