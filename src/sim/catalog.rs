//! Vouchers and validation rules: creation, update, enable and disable;
//! and the seed file (`--vouchers`), which may also declare campaigns,
//! loyalty programs with members, rewards and publications.
//!
//! A voucher body may be the create request (`POST /v1/vouchers`) or the
//! object `GET /v1/vouchers/{code}` returns, so that a seed file can be an
//! export of real vouchers: `redemption.redeemed_quantity` and
//! `validation_rules_assignments` are honoured when present. As a simulator
//! extension, `validation_rules` may hold whole rule objects as well as ids.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::engine::{ApiError, ProjectState, parse_date_field, voucher_json};
use super::model::*;
use super::records::CampaignKind;
use crate::clock::{Millis, iso};
use crate::ids;

pub(crate) fn opt_str(body: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid_payload(format!("Property .{key} should be string"))),
    }
}

pub(crate) fn opt_i64(v: Option<&Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_i64()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_payload(format!("Property .{name} should be a non-negative integer"))),
    }
}

pub(crate) fn parse_discount(v: Option<&Value>) -> Result<Option<Discount>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(d) => serde_json::from_value::<Discount>(d.clone())
            .map(Some)
            .map_err(|e| ApiError::invalid_payload(format!("Property .discount is invalid: {e}"))),
    }
}

/// A validation rule's `type`: one the spec allows, `expression` (the
/// spec's default) when absent or `null`.
fn rule_type(body: &Value) -> Result<&'static str, ApiError> {
    const TYPES: [&str; 4] = ["expression", "basic", "advanced", "complex"];
    match opt_str(body, "type")? {
        None => Ok(TYPES[0]),
        Some(t) => TYPES.into_iter().find(|a| *a == t).ok_or_else(|| {
            ApiError::invalid_payload(format!(
                "Property .type should be equal to one of the allowed values: {}",
                TYPES.join(", ")
            ))
        }),
    }
}

impl ProjectState {
    /// `POST /v1/validation-rules`. `type` defaults to `expression` and
    /// `context_type` to `global`, as the spec declares.
    pub fn create_rule(&mut self, body: &Value, now: Millis) -> Result<Value, ApiError> {
        let rules = body
            .get("rules")
            .ok_or_else(|| ApiError::invalid_payload("Request body should have required property 'rules'"))?;
        let checks = Rule::parse_checks(rules).map_err(ApiError::invalid_payload)?;
        let rule = Rule {
            id: ids::prefixed("val_", 12),
            name: opt_str(body, "name")?,
            rules_json: rules.clone(),
            error_message: body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned),
            checks,
            kind: rule_type(body)?.to_owned(),
            context_type: opt_str(body, "context_type")?.unwrap_or_else(|| "global".to_owned()),
            created_at: now,
        };
        let json = rule.to_json();
        self.rules.insert(rule.id.clone(), rule);
        Ok(json)
    }

    /// The rules a body's `validation_rules` names: ids, or rule objects
    /// (created here, a simulator extension). Every id must exist.
    pub(crate) fn collect_rule_ids(&mut self, body: &Value, now: Millis) -> Result<Vec<String>, ApiError> {
        let mut rule_ids = Vec::new();
        if let Some(list) = body.get("validation_rules").filter(|l| !l.is_null()) {
            let list = list
                .as_array()
                .ok_or_else(|| ApiError::invalid_payload("Property .validation_rules should be array"))?;
            for item in list {
                match item {
                    Value::String(id) => rule_ids.push(id.clone()),
                    Value::Object(_) => {
                        let created = self.create_rule(item, now)?;
                        rule_ids.push(created["id"].as_str().unwrap_or_default().to_owned());
                    }
                    _ => {
                        return Err(ApiError::invalid_payload(
                            "Property .validation_rules should contain rule ids or rule objects",
                        ));
                    }
                }
            }
        }
        for id in &rule_ids {
            if !self.rules.contains_key(id) {
                return Err(ApiError::not_found("validation_rule", id));
            }
        }
        Ok(rule_ids)
    }

    pub(crate) fn assign_rules(&mut self, v: &mut Voucher, body: &Value, now: Millis) -> Result<(), ApiError> {
        let mut rule_ids = self.collect_rule_ids(body, now)?;
        if let Some(data) = body
            .pointer("/validation_rules_assignments/data")
            .and_then(Value::as_array)
        {
            rule_ids.extend(
                data.iter()
                    .filter_map(|a| a.get("rule_id").and_then(Value::as_str))
                    .map(str::to_owned),
            );
        }
        for id in &rule_ids {
            if !self.rules.contains_key(id) {
                return Err(ApiError::not_found("validation_rule", id));
            }
        }
        if body.get("validation_rules").is_some() || !rule_ids.is_empty() {
            v.assignments = rule_ids
                .into_iter()
                .map(|rule_id| Assignment {
                    id: ids::prefixed("asgm_", 16),
                    rule_id,
                    related_object_id: v.id.clone(),
                    related_object_type: "voucher",
                    created_at: iso(now),
                    object: "validation_rules_assignment",
                })
                .collect();
        }
        Ok(())
    }

    /// `POST /v1/vouchers`, and seeding.
    pub fn create_voucher(&mut self, body: &Value, now: Millis) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let code = opt_str(body, "code")?.unwrap_or_else(|| ids::prefixed("", 8));
        if code.is_empty() {
            return Err(ApiError::invalid_payload("Property .code should not be empty"));
        }
        if self.vouchers.contains_key(&code) {
            return Err(ApiError::duplicate("voucher", &code));
        }
        let discount = parse_discount(body.get("discount"))?;
        let gift = match body.get("gift").filter(|g| !g.is_null()) {
            None => None,
            Some(g) => {
                let amount = opt_i64(g.get("amount"), "gift.amount")?.ok_or_else(|| {
                    ApiError::invalid_payload("Property .gift should have required property 'amount'")
                })?;
                let balance = opt_i64(g.get("balance"), "gift.balance")?.unwrap_or(amount);
                Some((amount, balance))
            }
        };
        let kind = match opt_str(body, "type")?.as_deref() {
            Some("DISCOUNT_VOUCHER") => VoucherKind::DiscountVoucher,
            Some("GIFT_VOUCHER") => VoucherKind::GiftVoucher,
            Some("LOYALTY_CARD") => VoucherKind::LoyaltyCard,
            Some(other) => {
                return Err(ApiError::invalid_payload(format!(
                    "Property .type should be equal to one of the allowed values: DISCOUNT_VOUCHER, GIFT_VOUCHER, LOYALTY_CARD (got {other})"
                )));
            }
            None if gift.is_some() => VoucherKind::GiftVoucher,
            None => VoucherKind::DiscountVoucher,
        };
        match kind {
            VoucherKind::DiscountVoucher if discount.is_none() => {
                return Err(ApiError::invalid_payload(
                    "Request body should have required property 'discount'",
                ));
            }
            VoucherKind::GiftVoucher if gift.is_none() => {
                return Err(ApiError::invalid_payload(
                    "Request body should have required property 'gift'",
                ));
            }
            _ => {}
        }
        let redemption = body.get("redemption").cloned().unwrap_or(Value::Null);
        let mut v = Voucher {
            id: opt_str(body, "id")?
                .filter(|id| id.starts_with("v_"))
                .unwrap_or_else(|| ids::prefixed("v_", 32)),
            code,
            kind,
            discount,
            gift,
            campaign: opt_str(body, "campaign")?,
            campaign_id: opt_str(body, "campaign_id")?,
            category: opt_str(body, "category")?,
            start_date: parse_date_field(body.get("start_date"), "start_date")?,
            expiration_date: parse_date_field(body.get("expiration_date"), "expiration_date")?,
            active: match body.get("active") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(ApiError::invalid_payload("Property .active should be boolean"));
                }
            },
            quantity: opt_i64(redemption.get("quantity"), "redemption.quantity")?,
            redeemed_quantity: opt_i64(redemption.get("redeemed_quantity"), "redemption.redeemed_quantity")?
                .unwrap_or(0),
            redeemed_amount: opt_i64(redemption.get("redeemed_amount"), "redemption.redeemed_amount")?.unwrap_or(0),
            metadata: body
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(Map::new),
            additional_info: opt_str(body, "additional_info")?,
            assignments: Vec::new(),
            created_at: parse_date_field(body.get("created_at"), "created_at")?.unwrap_or(now),
            updated_at: None,
            holder_id: opt_str(body, "holder_id")?,
            publish_count: body.pointer("/publish/count").and_then(Value::as_i64).unwrap_or(0),
            loyalty: match kind {
                VoucherKind::LoyaltyCard => {
                    let card = body.get("loyalty_card").cloned().unwrap_or(Value::Null);
                    let points = opt_i64(card.get("points"), "loyalty_card.points")?.unwrap_or(0);
                    Some(LoyaltyCard {
                        points,
                        balance: opt_i64(card.get("balance"), "loyalty_card.balance")?.unwrap_or(points),
                        subtracted_points: 0,
                        redeemed_points: opt_i64(redemption.get("redeemed_points"), "redemption.redeemed_points")?
                            .unwrap_or(0),
                    })
                }
                _ => None,
            },
            seq: 0,
            locks: BTreeMap::new(),
        };
        self.assign_rules(&mut v, body, now)?;
        let json = voucher_json(&v, &self.rules);
        self.insert_voucher(v);
        Ok(json)
    }

    /// `POST /v1/vouchers/{code}`: `POST /v1/vouchers` with the code the
    /// path names. The body's own `code` is not part of this request's
    /// schema, so it is ignored, as Voucherify ignores fields a request
    /// does not define.
    pub fn create_voucher_with_code(&mut self, code: &str, body: &Value, now: Millis) -> Result<Value, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::invalid_payload("Request body should be object"));
        };
        let mut fields = fields.clone();
        fields.insert("code".into(), code.into());
        self.create_voucher(&Value::Object(fields), now)
    }

    /// `PUT /v1/vouchers/{code}`: the fields the issue names (active, dates,
    /// redemption quantity) plus discount, gift balance, metadata and rules.
    /// Absent fields are left unchanged. `null` (the spec marks every field
    /// nullable, and the official SDKs send `null` for each field a body
    /// built from a dict left out) sets a field the voucher can hold empty
    /// (dates, category, additional info, redemption quantity, meaning
    /// unlimited) and leaves the others (active, type, discount, metadata,
    /// gift) as they are.
    pub fn update_voucher(&mut self, code: &str, body: &Value, now: Millis) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let code = self
            .voucher(code)
            .map(|v| v.code.clone())
            .ok_or_else(|| ApiError::not_found("voucher", code))?;
        let mut v = self.vouchers[&code].clone();
        match body.get("active") {
            None | Some(Value::Null) => {}
            Some(a) => {
                v.active = a
                    .as_bool()
                    .ok_or_else(|| ApiError::invalid_payload("Property .active should be boolean"))?;
            }
        }
        if body.get("start_date").is_some() {
            v.start_date = parse_date_field(body.get("start_date"), "start_date")?;
        }
        if body.get("expiration_date").is_some() {
            v.expiration_date = parse_date_field(body.get("expiration_date"), "expiration_date")?;
        }
        if let Some(r) = body.get("redemption").filter(|r| r.get("quantity").is_some()) {
            v.quantity = opt_i64(r.get("quantity"), "redemption.quantity")?;
        }
        if let Some(d) = body.get("discount").filter(|d| !d.is_null()) {
            v.discount = parse_discount(Some(d))?;
        }
        if let Some(g) = body.get("gift").filter(|g| !g.is_null()) {
            let (amount, balance) = v.gift.unwrap_or((0, 0));
            v.gift = Some((
                opt_i64(g.get("amount"), "gift.amount")?.unwrap_or(amount),
                opt_i64(g.get("balance"), "gift.balance")?.unwrap_or(balance),
            ));
        }
        match body.get("metadata") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => v.metadata = m.clone(),
            Some(_) => return Err(ApiError::invalid_payload("Property .metadata should be object")),
        }
        if body.get("additional_info").is_some() {
            v.additional_info = opt_str(body, "additional_info")?;
        }
        if body.get("category").is_some() {
            v.category = opt_str(body, "category")?;
        }
        self.assign_rules(&mut v, body, now)?;
        v.updated_at = Some(now);
        let json = voucher_json(&v, &self.rules);
        self.vouchers.insert(code, v);
        Ok(json)
    }

    /// `POST /v1/vouchers/{code}/enable` and `/disable`.
    pub fn set_active(&mut self, code: &str, active: bool, now: Millis) -> Result<Value, ApiError> {
        let code = self
            .voucher(code)
            .map(|v| v.code.clone())
            .ok_or_else(|| ApiError::not_found("voucher", code))?;
        let v = self.vouchers.get_mut(&code).expect("found above");
        v.active = active;
        v.updated_at = Some(now);
        let v = v.clone();
        Ok(voucher_json(&v, &self.rules))
    }

    pub fn voucher_response(&self, code: &str) -> Result<Value, ApiError> {
        self.voucher(code)
            .map(|v| voucher_json(v, &self.rules))
            .ok_or_else(|| ApiError::not_found("voucher", code))
    }

    /// Loads a seed document: a JSON array of vouchers, or an object with
    /// any of these lists, loaded in this order so later ones can name
    /// earlier ones:
    ///
    /// - `validation_rules`: rule objects (ids kept);
    /// - `campaigns`, `loyalties`: `POST /v1/campaigns` / `POST /v1/loyalties`
    ///   bodies (an `id` `camp_…`, and tier ids `promo_…`, are kept); a
    ///   loyalty program may list `members`: `{customer, code?, points?}`;
    /// - `vouchers`: `POST /v1/vouchers` bodies or exported vouchers;
    /// - `rewards`: `POST /v1/rewards` bodies (an `id` `rew_…` is kept),
    ///   each with optional `assignments`: `POST /v1/rewards/{id}/assignments`
    ///   bodies (an `id` `rewa_…` is kept);
    /// - `publications`: `POST /v1/publications` bodies.
    pub fn seed(&mut self, doc: &Value, now: Millis) -> Result<usize, ApiError> {
        let in_seed = |what: &str, i: usize| {
            let what = what.to_owned();
            move |mut e: ApiError| {
                e.details = Some(format!("{what} #{i}: {}", e.details.unwrap_or_default()));
                e
            }
        };
        let list = |o: &Map<String, Value>, key: &str| -> Vec<Value> {
            o.get(key).and_then(Value::as_array).cloned().unwrap_or_default()
        };
        let o = match doc {
            Value::Array(vouchers) => {
                for (i, v) in vouchers.iter().enumerate() {
                    self.create_voucher(v, now).map_err(in_seed("voucher", i))?;
                }
                return Ok(vouchers.len());
            }
            Value::Object(o) => o,
            _ => {
                return Err(ApiError::invalid_payload(
                    "a seed file is a JSON array of vouchers or an object with validation_rules, campaigns, loyalties, vouchers, rewards and publications",
                ));
            }
        };
        for rule in list(o, "validation_rules") {
            let created = self.create_rule(&rule, now)?;
            // Keep the id the file gave, so vouchers can refer to it.
            if let Some(given) = rule.get("id").and_then(Value::as_str) {
                let new_id = created["id"].as_str().unwrap_or_default().to_owned();
                if let Some(mut r) = self.rules.remove(&new_id) {
                    r.id = given.to_owned();
                    self.rules.insert(given.to_owned(), r);
                }
            }
        }
        for (key, forced) in [("campaigns", None), ("loyalties", Some(CampaignKind::LoyaltyProgram))] {
            for (i, c) in list(o, key).iter().enumerate() {
                let created = self.create_campaign(c, forced, now).map_err(in_seed(key, i))?;
                let id = created["id"].as_str().unwrap_or_default().to_owned();
                for (j, m) in c
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    self.seed_member(&id, m, now)
                        .map_err(in_seed(&format!("{key} #{i} member"), j))?;
                }
            }
        }
        let vouchers = list(o, "vouchers");
        for (i, v) in vouchers.iter().enumerate() {
            self.create_voucher(v, now).map_err(in_seed("voucher", i))?;
        }
        for (i, r) in list(o, "rewards").iter().enumerate() {
            let created = self.create_reward(r, now).map_err(in_seed("reward", i))?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            for (j, a) in r
                .get("assignments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                self.assign_reward(&id, a, now)
                    .map_err(in_seed(&format!("reward #{i} assignment"), j))?;
            }
        }
        for (i, p) in list(o, "publications").iter().enumerate() {
            self.publish(p, false, now).map_err(in_seed("publication", i))?;
        }
        Ok(vouchers.len())
    }

    /// One seeded loyalty member: a card (with the given `code`, or a
    /// generated one) published to `customer`, holding `points`.
    fn seed_member(&mut self, campaign_id: &str, m: &Value, now: Millis) -> Result<(), ApiError> {
        let mut body = json!({"customer": m.get("customer").cloned().unwrap_or(Value::Null)});
        if let Some(code) = opt_str(m, "code")? {
            let name = self.campaigns.get(campaign_id).map(|c| c.name.clone());
            self.create_voucher(
                &json!({"code": code, "type": "LOYALTY_CARD", "campaign": name, "campaign_id": campaign_id,
                        "loyalty_card": {"points": 0}}),
                now,
            )?;
            body["voucher"] = code.into();
        }
        let card = self.add_member(campaign_id, &body, now)?;
        if let Some(points) = opt_i64(m.get("points"), "points")?.filter(|p| *p > 0) {
            let code = card["code"].as_str().unwrap_or_default().to_owned();
            self.add_points(Some(campaign_id), &code, &json!({"points": points}), now)?;
        }
        Ok(())
    }
}
