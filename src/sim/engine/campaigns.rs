//! Campaigns and promotion tiers: `POST/GET /v1/campaigns` (and the
//! loyalty programs of `/v1/loyalties`, which are campaigns too), code
//! generation from a campaign's `code_config`, and the tiers of PROMOTION
//! campaigns that qualifications and validations apply without a code.

use serde_json::{Map, Value, json};

use super::listing::{Query, list};
use super::voucher_json::prune_nulls;
use super::{ApiError, ProjectState, parse_date_field};
use crate::clock::{Millis, iso};
use crate::ids;
use crate::sim::catalog::{opt_i64, opt_str, parse_discount};
use crate::sim::records::{Campaign, CampaignKind, CodeConfig, PromotionTier, parse_duration};

/// At most this many codes per `vouchers_count` request: a simulator bound.
const MAX_GENERATED: i64 = 100_000;

fn opt_bool(body: &Value, key: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_payload(format!("Property .{key} should be boolean"))),
    }
}

fn metadata(body: &Value) -> Map<String, Value> {
    body.get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn parse_code_config(v: Option<&Value>) -> Result<CodeConfig, ApiError> {
    let mut c = CodeConfig::default();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(c);
    };
    if let Some(n) = opt_i64(v.get("length"), "voucher.code_config.length")? {
        c.length = n as usize;
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(s) = text("charset").filter(|s| !s.is_empty()) {
        c.charset = s;
    }
    c.prefix = text("prefix").unwrap_or_default();
    c.postfix = text("postfix").unwrap_or_default();
    c.pattern = text("pattern").filter(|p| !p.is_empty());
    if c.pattern.is_none() && !(1..=64).contains(&c.length) {
        return Err(ApiError::invalid_payload(
            "Property .voucher.code_config.length should be from 1 to 64",
        ));
    }
    Ok(c)
}

fn code_config_json(c: &CodeConfig) -> Value {
    json!({
        "length": c.length,
        "charset": c.charset,
        "prefix": c.prefix,
        "postfix": c.postfix,
        // The spec requires a pattern; one is derived from the length, as
        // Voucherify shows it (`#` for each random character).
        "pattern": c.pattern.clone().unwrap_or_else(|| "#".repeat(c.length)),
    })
}

impl ProjectState {
    /// A campaign by `camp_…` id or by name.
    pub fn campaign(&self, id_or_name: &str) -> Option<&Campaign> {
        self.campaigns.get(id_or_name).or_else(|| {
            self.campaign_ids_by_name
                .get(id_or_name)
                .and_then(|id| self.campaigns.get(id))
        })
    }

    pub fn campaign_or_404(&self, id_or_name: &str) -> Result<&Campaign, ApiError> {
        self.campaign(id_or_name)
            .ok_or_else(|| ApiError::not_found("campaign", id_or_name))
    }

    /// `POST /v1/campaigns`, and `POST /v1/loyalties` with `forced` set.
    pub fn create_campaign(
        &mut self,
        body: &Value,
        forced: Option<CampaignKind>,
        now: Millis,
    ) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let name = opt_str(body, "name")?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid_payload("Request body should have required property 'name'"))?;
        if self.campaign_ids_by_name.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "duplicate_found",
                "Duplicated resource found",
                Some(format!("Duplicated campaign exists with name {name}")),
            ));
        }
        let kind = campaign_kind(body, forced)?;
        // A simulator extension: a seed (or a test) may fix the id.
        let id = opt_str(body, "id")?
            .filter(|id| id.starts_with("camp_"))
            .unwrap_or_else(|| ids::prefixed("camp_", 24));
        if self.campaigns.contains_key(&id) {
            return Err(ApiError::duplicate("campaign", &id));
        }
        let (voucher, code_config) = campaign_voucher(body, kind)?;
        let mode = match opt_str(body, "type")?.as_deref() {
            None | Some("AUTO_UPDATE") => "AUTO_UPDATE",
            Some("STATIC") => "STATIC",
            Some(_) => {
                return Err(ApiError::invalid_payload(
                    "Property .type should be equal to one of the allowed values: AUTO_UPDATE, STATIC",
                ));
            }
        };
        let count = opt_i64(body.get("vouchers_count"), "vouchers_count")?.unwrap_or(0);
        if count > MAX_GENERATED {
            return Err(ApiError::invalid_payload(format!(
                "Property .vouchers_count should be <= {MAX_GENERATED} in the simulator"
            )));
        }
        if kind == CampaignKind::Promotion && count > 0 {
            return Err(ApiError::invalid_payload("A PROMOTION campaign has no codes"));
        }
        let rules = self.collect_rule_ids(body, now)?;
        let campaign = Campaign {
            id: id.clone(),
            name: name.clone(),
            description: opt_str(body, "description")?,
            kind,
            mode,
            voucher: (kind != CampaignKind::Promotion).then_some(voucher),
            code_config,
            join_once: opt_bool(body, "join_once", false)?,
            auto_join: opt_bool(body, "auto_join", false)?,
            active: opt_bool(body, "active", true)?,
            start_date: parse_date_field(body.get("start_date"), "start_date")?,
            expiration_date: parse_date_field(body.get("expiration_date"), "expiration_date")?,
            category: opt_str(body, "category")?,
            metadata: metadata(body),
            rules,
            tiers: Vec::new(),
            vouchers_count: 0,
            active_after_publishing: match opt_str(body, "activity_duration_after_publishing")? {
                None => None,
                Some(d) => {
                    let ms = parse_duration(&d).ok_or_else(|| {
                        ApiError::invalid_payload(
                            "Property .activity_duration_after_publishing should be an ISO 8601 duration of weeks, days, hours, minutes or seconds",
                        )
                    })?;
                    Some((d, ms))
                }
            },
            created_at: now,
            updated_at: None,
        };
        if count > 0 && campaign.code_config.capacity() < count as f64 {
            return Err(ApiError::invalid_payload(
                "Property .voucher.code_config cannot make vouchers_count distinct codes",
            ));
        }
        // Every tier is parsed before anything is stored: a bad tier fails
        // the whole request, as one request is one critical section.
        let tiers = self.campaign_tiers(body, &campaign, now)?;
        self.campaign_ids_by_name.insert(name, id.clone());
        self.campaign_order.push(id.clone());
        self.campaigns.insert(id.clone(), campaign);
        for t in tiers {
            if let Some(c) = self.campaigns.get_mut(&id) {
                c.tiers.push(t.id.clone());
            }
            self.tiers.insert(t.id.clone(), t);
        }
        for _ in 0..count {
            self.generate_voucher(&id, now)?;
        }
        Ok(self.campaign_json(&id))
    }

    /// A PROMOTION campaign's tiers from its body, all parsed or none.
    fn campaign_tiers(
        &mut self,
        body: &Value,
        campaign: &Campaign,
        now: Millis,
    ) -> Result<Vec<PromotionTier>, ApiError> {
        if campaign.kind != CampaignKind::Promotion {
            return Ok(Vec::new());
        }
        let tiers_in = body
            .pointer("/promotion/tiers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut tiers = Vec::with_capacity(tiers_in.len());
        for (i, t) in tiers_in.iter().enumerate() {
            tiers.push(self.parse_tier(campaign, t, i as i64 + 1, now).map_err(|mut e| {
                e.details = Some(format!("promotion.tiers[{i}]: {}", e.details.unwrap_or_default()));
                e
            })?);
        }
        Ok(tiers)
    }

    fn parse_tier(
        &mut self,
        campaign: &Campaign,
        t: &Value,
        hierarchy: i64,
        now: Millis,
    ) -> Result<PromotionTier, ApiError> {
        let discount = parse_discount(t.pointer("/action/discount"))?
            .ok_or_else(|| ApiError::invalid_payload("Property .action should have required property 'discount'"))?;
        let id = opt_str(t, "id")?
            .filter(|id| id.starts_with("promo_"))
            .unwrap_or_else(|| ids::prefixed("promo_", 24));
        if self.tiers.contains_key(&id) {
            return Err(ApiError::duplicate("promotion_tier", &id));
        }
        let mut rules = campaign.rules.clone();
        rules.extend(self.collect_rule_ids(t, now)?);
        Ok(PromotionTier {
            id,
            campaign_id: campaign.id.clone(),
            name: opt_str(t, "name")?.unwrap_or_else(|| format!("Tier {hierarchy}")),
            banner: opt_str(t, "banner")?,
            discount,
            rules,
            active: opt_bool(t, "active", true)?,
            start_date: parse_date_field(t.get("start_date"), "start_date")?,
            expiration_date: parse_date_field(t.get("expiration_date"), "expiration_date")?,
            metadata: metadata(t),
            hierarchy: opt_i64(t.get("hierarchy"), "hierarchy")?.unwrap_or(hierarchy),
            redeemed_quantity: 0,
            created_at: now,
            updated_at: None,
        })
    }

    /// Makes one new code of a campaign from its template and returns it.
    pub(super) fn generate_voucher(&mut self, campaign_id: &str, now: Millis) -> Result<String, ApiError> {
        let c = self.campaign_or_404(campaign_id)?;
        let Some(template) = c.voucher.clone() else {
            return Err(ApiError::invalid_payload(format!(
                "Campaign {} is a {} campaign and has no codes",
                c.id,
                c.kind.as_str()
            )));
        };
        let (cid, cname, config, rules) = (c.id.clone(), c.name.clone(), c.code_config.clone(), c.rules.clone());
        let (start, expiration) = (c.start_date, c.expiration_date);
        let mut code = config.generate();
        let mut tries = 0;
        while self.vouchers.contains_key(&code) {
            tries += 1;
            if tries > 1000 {
                return Err(ApiError::new(
                    400,
                    "invalid_code_config",
                    "Invalid code config",
                    Some(format!("Campaign {cid} cannot make another distinct code")),
                ));
            }
            code = config.generate();
        }
        let mut body = Value::Object(template);
        body["code"] = code.clone().into();
        body["campaign"] = cname.into();
        body["campaign_id"] = cid.clone().into();
        body["start_date"] = start.map(iso).into();
        body["expiration_date"] = expiration.map(iso).into();
        self.create_voucher(&body, now)?;
        // The campaign's rules are inherited, as Voucherify assigns them to
        // the campaign rather than to each code.
        if let Some(v) = self.vouchers.get_mut(&code) {
            v.assignments = rules
                .into_iter()
                .map(|rule_id| crate::sim::model::Assignment {
                    id: ids::prefixed("asgm_", 16),
                    rule_id,
                    related_object_id: cid.clone(),
                    related_object_type: "campaign",
                    created_at: iso(now),
                    object: "validation_rules_assignment",
                })
                .collect();
        }
        if let Some(c) = self.campaigns.get_mut(&cid) {
            c.vouchers_count += 1;
        }
        Ok(code)
    }

    pub fn campaign_json(&self, id: &str) -> Value {
        let Some(c) = self.campaigns.get(id) else {
            return Value::Null;
        };
        let assignments: Vec<Value> = c
            .rules
            .iter()
            .map(|r| {
                json!({"id": format!("asgm_{}", &r[r.len().saturating_sub(12)..]), "rule_id": r,
                       "related_object_id": c.id, "related_object_type": "campaign",
                       "created_at": iso(c.created_at), "object": "validation_rules_assignment"})
            })
            .collect();
        let mut out = json!({
            "id": c.id,
            "name": c.name,
            "description": c.description,
            "campaign_type": c.kind.as_str(),
            "type": c.mode,
            "auto_join": c.auto_join,
            "join_once": c.join_once,
            "use_voucher_metadata_schema": false,
            "vouchers_count": c.vouchers_count,
            "activity_duration_after_publishing": c.active_after_publishing.as_ref().map(|d| d.0.clone()),
            "start_date": c.start_date.map(iso),
            "expiration_date": c.expiration_date.map(iso),
            "active": c.active,
            "metadata": c.metadata,
            "created_at": iso(c.created_at),
            "updated_at": c.updated_at.map(iso),
            "category": c.category,
            "creation_status": "DONE",
            "vouchers_generation_status": "DONE",
            "readonly": false,
            "protected": false,
            "categories": [],
            "object": "campaign",
            "validation_rules_assignments": {
                "object": "list", "data_ref": "data", "total": assignments.len(), "data": assignments,
            },
        });
        if let Some(t) = &c.voucher {
            let mut v = Value::Object(t.clone());
            v["code_config"] = code_config_json(&c.code_config);
            v["is_referral_code"] = false.into();
            out["voucher"] = v;
        }
        if c.kind == CampaignKind::Promotion {
            let tiers: Vec<Value> = c
                .tiers
                .iter()
                .filter_map(|t| self.tiers.get(t))
                .map(|t| self.tier_json(t))
                .collect();
            out["promotion"] = json!({
                "object": "list", "data_ref": "tiers", "total": tiers.len(), "has_more": false, "tiers": tiers,
            });
        }
        prune_nulls(&mut out);
        out
    }

    pub fn tier_json(&self, t: &PromotionTier) -> Value {
        let c = self.campaigns.get(&t.campaign_id);
        let assignments: Vec<Value> = t
            .rules
            .iter()
            .map(|r| {
                json!({"id": format!("asgm_{}", &r[r.len().saturating_sub(12)..]), "rule_id": r,
                       "related_object_id": t.id, "related_object_type": "promotion_tier",
                       "created_at": iso(t.created_at), "object": "validation_rules_assignment"})
            })
            .collect();
        let mut out = json!({
            "id": t.id,
            "created_at": iso(t.created_at),
            "updated_at": t.updated_at.map(iso),
            "name": t.name,
            "banner": t.banner,
            "action": {"discount": t.discount},
            "metadata": t.metadata,
            "hierarchy": t.hierarchy,
            "promotion_id": t.campaign_id,
            "campaign": {
                "id": t.campaign_id,
                "start_date": c.and_then(|c| c.start_date).map(iso),
                "expiration_date": c.and_then(|c| c.expiration_date).map(iso),
                "active": c.is_some_and(|c| c.active),
                "object": "campaign",
            },
            "campaign_id": t.campaign_id,
            "active": t.active,
            "start_date": t.start_date.map(iso),
            "expiration_date": t.expiration_date.map(iso),
            "summary": {
                "redemptions": {"total_redeemed": t.redeemed_quantity},
                "orders": {"total_amount": 0, "total_discount_amount": 0},
            },
            "object": "promotion_tier",
            "validation_rule_assignments": {
                "object": "list", "data_ref": "data", "total": assignments.len(), "data": assignments,
            },
            "categories": [],
        });
        prune_nulls(&mut out);
        out
    }

    /// `GET /v1/campaigns` (`campaign_type` filter) and `GET /v1/loyalties`.
    pub fn list_campaigns(&self, q: &Query, only: Option<CampaignKind>) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        let only = match (only, q.get("campaign_type")) {
            (Some(k), _) => Some(k),
            (None, Some(t)) => Some(
                CampaignKind::parse(t)
                    .ok_or_else(|| ApiError::invalid_payload("Query parameter campaign_type is not a campaign type"))?,
            ),
            (None, None) => None,
        };
        // Newest first, Voucherify's default `-created_at`.
        let matching: Vec<&String> = self
            .campaign_order
            .iter()
            .rev()
            .filter(|id| {
                self.campaigns
                    .get(*id)
                    .is_some_and(|c| only.is_none_or(|k| c.kind == k))
            })
            .collect();
        let total = matching.len();
        let items = page.of(matching).into_iter().map(|id| self.campaign_json(id)).collect();
        Ok(list("campaigns", items, total))
    }

    /// `GET /v1/promotions/{campaignId}/tiers`, in hierarchy order.
    pub fn list_tiers(&self, campaign: &str, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        let c = self.campaign_or_404(campaign)?;
        if c.kind != CampaignKind::Promotion {
            return Err(ApiError::not_found("campaign", campaign));
        }
        let mut tiers: Vec<&PromotionTier> = c.tiers.iter().filter_map(|t| self.tiers.get(t)).collect();
        tiers.sort_by_key(|t| t.hierarchy);
        let total = tiers.len();
        let shown = page.of(tiers);
        let has_more = (page.page - 1) * page.limit + shown.len() < total;
        let mut out = list("tiers", shown.into_iter().map(|t| self.tier_json(t)).collect(), total);
        out["has_more"] = has_more.into();
        Ok(out)
    }
}

/// The campaign's type: the one its route forces (`/v1/loyalties`), or
/// the body's, `DISCOUNT_COUPONS` by default.
fn campaign_kind(body: &Value, forced: Option<CampaignKind>) -> Result<CampaignKind, ApiError> {
    Ok(match (forced, opt_str(body, "campaign_type")?) {
        (Some(k), None) => k,
        (Some(k), Some(t)) if t == k.as_str() => k,
        (Some(k), Some(_)) => {
            return Err(ApiError::invalid_payload(format!(
                "Property .campaign_type should be equal to {}",
                k.as_str()
            )));
        }
        (None, None) => CampaignKind::DiscountCoupons,
        (None, Some(t)) => CampaignKind::parse(&t).ok_or_else(|| {
            ApiError::invalid_payload(
                "Property .campaign_type should be equal to one of the allowed values: DISCOUNT_COUPONS, GIFT_VOUCHERS, PROMOTION, LOYALTY_PROGRAM",
            )
        })?,
    })
}

/// The voucher template of a campaign of `kind`, and its code config.
fn campaign_voucher(body: &Value, kind: CampaignKind) -> Result<(Map<String, Value>, CodeConfig), ApiError> {
    let voucher_in = body.get("voucher").filter(|v| !v.is_null());
    let mut voucher = voucher_in.and_then(Value::as_object).cloned().unwrap_or_default();
    let code_config = parse_code_config(voucher.get("code_config"))?;
    voucher.remove("code_config");
    match kind {
        CampaignKind::DiscountCoupons => {
            if parse_discount(voucher.get("discount"))?.is_none() {
                return Err(ApiError::invalid_payload(
                    "Property .voucher should have required property 'discount'",
                ));
            }
            voucher.insert("type".into(), "DISCOUNT_VOUCHER".into());
        }
        CampaignKind::GiftVouchers => {
            if voucher.get("gift").is_none_or(Value::is_null) {
                return Err(ApiError::invalid_payload(
                    "Property .voucher should have required property 'gift'",
                ));
            }
            voucher.insert("type".into(), "GIFT_VOUCHER".into());
        }
        CampaignKind::LoyaltyProgram => {
            voucher.insert("type".into(), "LOYALTY_CARD".into());
            let points = opt_i64(
                voucher.get("loyalty_card").and_then(|l| l.get("points")),
                "voucher.loyalty_card.points",
            )?;
            voucher.insert("loyalty_card".into(), json!({"points": points.unwrap_or(0)}));
        }
        CampaignKind::Promotion => voucher.clear(),
    }
    Ok((voucher, code_config))
}
