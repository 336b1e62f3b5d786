//! Rewards (`/v1/rewards`): CAMPAIGN, COIN and MATERIAL rewards, and their
//! assignments to loyalty programs at a price in points.

use serde_json::{Value, json};

use super::listing::{Query, list};
use super::voucher_json::prune_nulls;
use super::{ApiError, ProjectState};
use crate::clock::{Millis, iso};
use crate::ids;
use crate::sim::catalog::{opt_i64, opt_str};
use crate::sim::records::{CampaignKind, Reward, RewardAssignment, RewardKind};

impl ProjectState {
    /// `POST /v1/rewards`: CAMPAIGN (`parameters.campaign.id`), COIN
    /// (`parameters.coin`) or MATERIAL (`parameters.product`).
    pub fn create_reward(&mut self, body: &Value, now: Millis) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let params = body
            .get("parameters")
            .filter(|p| p.is_object())
            .ok_or_else(|| ApiError::invalid_payload("Request body should have required property 'parameters'"))?;
        let kind = if let Some(c) = params.get("campaign").filter(|c| !c.is_null()) {
            let id = c.get("id").and_then(Value::as_str).ok_or_else(|| {
                ApiError::invalid_payload("Property .parameters.campaign should have required property 'id'")
            })?;
            let campaign = self.campaign_or_404(id)?;
            if campaign.kind == CampaignKind::Promotion {
                return Err(ApiError::invalid_payload(
                    "Property .parameters.campaign.id should name a DISCOUNT_COUPONS, GIFT_VOUCHERS or LOYALTY_PROGRAM campaign",
                ));
            }
            RewardKind::Campaign {
                campaign_id: campaign.id.clone(),
                balance: opt_i64(c.get("balance"), "parameters.campaign.balance")?,
            }
        } else if let Some(c) = params.get("coin").filter(|c| !c.is_null()) {
            RewardKind::Coin {
                exchange_ratio: c.get("exchange_ratio").and_then(Value::as_f64).unwrap_or(1.0),
                points_ratio: c.get("points_ratio").and_then(Value::as_i64).unwrap_or(1).max(1),
            }
        } else if let Some(p) = params.get("product").filter(|p| !p.is_null()) {
            RewardKind::Material {
                product_id: p.get("id").and_then(Value::as_str).map(str::to_owned),
                sku_id: p.get("sku_id").and_then(Value::as_str).map(str::to_owned),
            }
        } else {
            return Err(ApiError::invalid_payload(
                "Property .parameters should have one of the properties 'campaign', 'coin', 'product'",
            ));
        };
        // A simulator extension: a seed may fix the id.
        let id = opt_str(body, "id")?
            .filter(|id| id.starts_with("rew_"))
            .unwrap_or_else(|| ids::prefixed("rew_", 24));
        if self.rewards.contains_key(&id) {
            return Err(ApiError::duplicate("reward", &id));
        }
        let reward = Reward {
            id: id.clone(),
            name: opt_str(body, "name")?.unwrap_or_else(|| id.clone()),
            kind,
            stock: opt_i64(body.get("stock"), "stock")?,
            redeemed: 0,
            metadata: body
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            created_at: now,
            updated_at: None,
        };
        self.rewards.insert(id.clone(), reward);
        self.reward_order.push(id.clone());
        Ok(self.reward_json(&id))
    }

    pub(super) fn reward_or_404(&self, id: &str) -> Result<&Reward, ApiError> {
        self.rewards.get(id).ok_or_else(|| ApiError::not_found("reward", id))
    }

    fn reward_parameters(&self, r: &Reward) -> Value {
        match &r.kind {
            RewardKind::Campaign { campaign_id, balance } => json!({"campaign": {
                "id": campaign_id,
                "balance": balance,
                "type": self.campaigns.get(campaign_id).map(|c| c.kind.as_str()),
            }}),
            RewardKind::Coin {
                exchange_ratio,
                points_ratio,
            } => {
                json!({"coin": {"exchange_ratio": crate::sim::model::compact(*exchange_ratio), "points_ratio": points_ratio}})
            }
            RewardKind::Material { product_id, sku_id } => json!({"product": {"id": product_id, "sku_id": sku_id}}),
        }
    }

    fn reward_type(r: &Reward) -> &'static str {
        match r.kind {
            RewardKind::Campaign { .. } => "CAMPAIGN",
            RewardKind::Coin { .. } => "COIN",
            RewardKind::Material { .. } => "MATERIAL",
        }
    }

    pub fn reward_json(&self, id: &str) -> Value {
        let Some(r) = self.rewards.get(id) else {
            return Value::Null;
        };
        let mut out = json!({
            "id": r.id,
            "name": r.name,
            "stock": r.stock,
            "redeemed": r.redeemed,
            "attributes": {},
            "metadata": r.metadata,
            "type": Self::reward_type(r),
            "parameters": self.reward_parameters(r),
            "created_at": iso(r.created_at),
            "updated_at": r.updated_at.map(iso),
            "object": "reward",
        });
        prune_nulls(&mut out);
        out
    }

    /// `GET /v1/rewards/{rewardId}`.
    pub fn reward(&self, id: &str) -> Result<Value, ApiError> {
        self.reward_or_404(id)?;
        Ok(self.reward_json(id))
    }

    /// `GET /v1/rewards`, newest first.
    pub fn list_rewards(&self, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        let ids: Vec<&String> = self.reward_order.iter().rev().collect();
        let total = ids.len();
        let items = page.of(ids).into_iter().map(|id| self.reward_json(id)).collect();
        Ok(list("data", items, total))
    }

    /// `POST /v1/rewards/{rewardId}/assignments`: makes the reward
    /// available in a loyalty program for `parameters.loyalty.points`.
    pub fn assign_reward(&mut self, reward: &str, body: &Value, now: Millis) -> Result<Value, ApiError> {
        let r = self.reward_or_404(reward)?;
        let is_coin = matches!(r.kind, RewardKind::Coin { .. });
        let reward_id = r.id.clone();
        let campaign = opt_str(body, "campaign")?
            .ok_or_else(|| ApiError::invalid_payload("Request body should have required property 'campaign'"))?;
        let campaign_id = self.loyalty_campaign(&campaign)?;
        let points = opt_i64(body.pointer("/parameters/loyalty/points"), "parameters.loyalty.points")?;
        let points = match (points, is_coin) {
            (Some(p), _) => p,
            (None, true) => 0,
            (None, false) => {
                return Err(ApiError::invalid_payload(
                    "Property .parameters.loyalty should have required property 'points'",
                ));
            }
        };
        if self
            .reward_assignments
            .values()
            .any(|a| a.reward_id == reward_id && a.campaign_id == campaign_id)
        {
            return Err(ApiError::new(
                409,
                "duplicate_found",
                "Duplicated resource found",
                Some(format!(
                    "Reward {reward_id} is already assigned to campaign {campaign_id}"
                )),
            ));
        }
        let id = opt_str(body, "id")?
            .filter(|id| id.starts_with("rewa_"))
            .unwrap_or_else(|| ids::prefixed("rewa_", 24));
        if self.reward_assignments.contains_key(&id) {
            return Err(ApiError::duplicate("reward_assignment", &id));
        }
        self.reward_assignments.insert(
            id.clone(),
            RewardAssignment {
                id: id.clone(),
                reward_id,
                campaign_id,
                points,
                created_at: now,
                updated_at: None,
            },
        );
        self.assignment_order.push(id.clone());
        Ok(self.assignment_json(&id))
    }

    /// `POST /v1/loyalties/{campaignId}/rewards`: an array of
    /// `{reward, parameters}` (a COIN reward takes no price), all assigned
    /// or, if any is refused, none. The answer is the created assignments,
    /// a list, as the spec's description and example show (its schema says
    /// one object; the list is what an array of requests gets).
    pub fn assign_rewards_to_program(&mut self, campaign: &str, body: &Value, now: Millis) -> Result<Value, ApiError> {
        let items = body
            .as_array()
            .ok_or_else(|| ApiError::invalid_payload("Request body should be array"))?;
        let campaign_id = self.loyalty_campaign(campaign)?;
        let mut created = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let assigned = match opt_str(item, "reward") {
                Ok(Some(reward)) => {
                    let mut one = json!({"campaign": campaign_id});
                    if let Some(p) = item.get("parameters") {
                        one["parameters"] = p.clone();
                    }
                    self.assign_reward(&reward, &one, now)
                }
                Ok(None) => Err(ApiError::invalid_payload(format!(
                    "Property [{i}] should have required property 'reward'"
                ))),
                Err(e) => Err(e),
            };
            match assigned {
                Ok(a) => created.push(a),
                Err(e) => {
                    for a in &created {
                        self.remove_assignment(a["id"].as_str().unwrap_or_default());
                    }
                    return Err(e);
                }
            }
        }
        Ok(Value::Array(created))
    }

    fn remove_assignment(&mut self, id: &str) {
        self.reward_assignments.remove(id);
        self.assignment_order.retain(|a| a != id);
    }

    fn assignment_json(&self, id: &str) -> Value {
        let Some(a) = self.reward_assignments.get(id) else {
            return Value::Null;
        };
        let mut out = json!({
            "id": a.id,
            "reward_id": a.reward_id,
            "created_at": iso(a.created_at),
            "updated_at": a.updated_at.map(iso),
            "object": "reward_assignment",
            "related_object_id": a.campaign_id,
            "related_object_type": "campaign",
            "parameters": {"loyalty": {"points": a.points}},
        });
        prune_nulls(&mut out);
        out
    }

    /// `GET /v1/rewards/{rewardId}/assignments` (`reward` set) and
    /// `GET /v1/loyalties/{campaignId}/rewards` (`campaign` set).
    pub fn list_assignments(&self, reward: Option<&str>, campaign: Option<&str>, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        if let Some(r) = reward {
            self.reward_or_404(r)?;
        }
        let campaign_id = campaign.map(|c| self.loyalty_campaign(c)).transpose()?;
        let ids: Vec<&String> = self
            .assignment_order
            .iter()
            .filter(|id| {
                self.reward_assignments.get(*id).is_some_and(|a| {
                    reward.is_none_or(|r| a.reward_id == r) && campaign_id.as_ref().is_none_or(|c| a.campaign_id == *c)
                })
            })
            .collect();
        let total = ids.len();
        let items = page.of(ids).into_iter().map(|id| self.assignment_json(id)).collect();
        Ok(list("data", items, total))
    }

    /// `GET /v1/loyalties/members/{memberId}/rewards`: the rewards of the
    /// card's program (`affordable_only=true`: those its balance pays for).
    pub fn member_rewards(&self, member: &str, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        let card = self
            .voucher(member)
            .filter(|v| v.loyalty.is_some())
            .ok_or_else(|| ApiError::not_found("voucher", member))?;
        let balance = card.loyalty.map(|l| l.balance).unwrap_or(0);
        let affordable_only = q.flag("affordable_only");
        let ids: Vec<&String> = self
            .assignment_order
            .iter()
            .filter(|id| {
                self.reward_assignments.get(*id).is_some_and(|a| {
                    card.campaign_id.as_ref() == Some(&a.campaign_id) && (!affordable_only || a.points <= balance)
                })
            })
            .collect();
        let total = ids.len();
        let items = page
            .of(ids)
            .into_iter()
            .map(|id| {
                let a = &self.reward_assignments[id];
                json!({"reward": self.reward_json(&a.reward_id), "assignment": self.assignment_json(id), "object": "loyalty_reward"})
            })
            .collect();
        Ok(list("data", items, total))
    }
}
