//! The simulated Voucherify project: request parsing, rule checks, order
//! calculation, session locks and redemptions.
//!
//! Everything here runs under the project's mutex and does no I/O; time and
//! ids come in from the caller, so one validate-and-lock is one atomic step:
//! two concurrent locking validations of a single-use code see each other.
//!
//! This file holds [`ProjectState`] itself: its records, voucher and
//! customer look-ups, validation with its session locks, and sessions. The
//! rest is split along its seams:
//!
//! - `wire`: request bodies parsed into typed requests, and [`ApiError`];
//! - `answers`: the validation answer's wire types;
//! - `evaluate`: rule checks and discounts for one request's redeemables;
//! - `redeem`: redemptions, the orders they record, and rollbacks;
//! - `voucher_json`: the voucher as the API returns it, and its date fields;
//! - `campaigns`: campaigns, promotion tiers, code generation;
//! - `listing`: list query parameters and pages;
//! - `publications`: publishing codes to customers, and listing vouchers;
//! - `loyalty`: loyalty members and points, reward redemptions;
//! - `rewards`: rewards and their assignments to loyalty programs;
//! - `qualifications`: `POST /v1/qualifications`.

mod answers;
mod campaigns;
mod evaluate;
mod listing;
mod loyalty;
mod publications;
mod qualifications;
mod redeem;
mod rewards;
mod voucher_json;
mod wire;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::model::{
    ApplicationMode, Customer, Order, ProjectSettings, Redemption, Rule, StackingRules, Voucher, compact,
};
use super::records::{Campaign, PromotionTier, Publication, Reward, RewardAssignment};
use crate::clock::{Millis, iso};
use crate::ids;
use answers::EMPTY_LIST;

pub use answers::{
    Details, EmptyList, GiftResult, OrderOut, RedeemableOut, RedeemableResult, SessionOut, Status, ValidationResponse,
};
pub use listing::Query;
pub use voucher_json::{parse_date_field, voucher_json};
pub use wire::{
    ApiError, CustomMessage, CustomerIn, OrderIn, RedeemableObject, RedeemableRef, SessionIn, StackableRequest,
    parse_legacy, parse_stackable,
};

/// Expired locks are swept from every voucher after this many new locks.
/// One simulated Voucherify project and everything it has recorded.
#[derive(Debug, Default)]
pub struct ProjectState {
    pub settings: ProjectSettings,
    pub vouchers: HashMap<String, Voucher>,
    voucher_ids: HashMap<String, String>,
    pub rules: HashMap<String, Rule>,
    pub redemptions: HashMap<String, Redemption>,
    pub orders: HashMap<String, Order>,
    order_ids_by_source: HashMap<String, String>,
    customers: HashMap<String, Customer>,
    /// `cust_…` id to source id.
    customer_ids: HashMap<String, String>,
    per_customer: HashMap<(String, String), i64>,
    locks_since_sweep: u32,
    pub campaigns: HashMap<String, Campaign>,
    campaign_ids_by_name: HashMap<String, String>,
    /// Creation order of campaigns, for listing.
    campaign_order: Vec<String>,
    pub tiers: HashMap<String, PromotionTier>,
    pub rewards: HashMap<String, Reward>,
    reward_order: Vec<String>,
    pub reward_assignments: HashMap<String, RewardAssignment>,
    assignment_order: Vec<String>,
    /// Oldest first; listed newest first.
    pub publications: Vec<Publication>,
    /// Indexes into `publications`: by customer id, by publication source id.
    publications_by_customer: HashMap<String, Vec<usize>>,
    publication_by_source: HashMap<String, usize>,
    /// Per campaign, how many of its codes (in `by_campaign` order) are
    /// known to be published: the search for a free code starts there.
    free_cursor: HashMap<String, usize>,
    /// Codes by holder (`cust_…`) and by campaign id, in insertion order;
    /// a deleted voucher is skipped when listed.
    by_holder: HashMap<String, Vec<String>>,
    by_campaign: HashMap<String, Vec<String>>,
    voucher_seq: u64,
}

/// `track_` plus a stable hash of the customer, as Voucherify derives it.
pub fn tracking_id(source_id: Option<&str>) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source_id.unwrap_or("").bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("track_{h:016x}")
}

impl ProjectState {
    pub fn new(settings: ProjectSettings) -> Self {
        ProjectState {
            settings,
            ..Default::default()
        }
    }

    /// Finds a voucher by code or by its `v_…` id.
    pub fn voucher(&self, code_or_id: &str) -> Option<&Voucher> {
        self.vouchers.get(code_or_id).or_else(|| {
            self.voucher_ids
                .get(code_or_id)
                .and_then(|code| self.vouchers.get(code))
        })
    }

    fn voucher_code(&self, code_or_id: &str) -> Option<String> {
        self.voucher(code_or_id).map(|v| v.code.clone())
    }

    pub fn insert_voucher(&mut self, mut v: Voucher) {
        self.voucher_seq += 1;
        v.seq = self.voucher_seq;
        if let Some(c) = &v.campaign_id {
            self.by_campaign.entry(c.clone()).or_default().push(v.code.clone());
        }
        if let Some(h) = &v.holder_id {
            self.by_holder.entry(h.clone()).or_default().push(v.code.clone());
        }
        self.voucher_ids.insert(v.id.clone(), v.code.clone());
        self.vouchers.insert(v.code.clone(), v);
    }

    /// Counts a publication of `code` to `customer_id`, who becomes its
    /// holder unless it already has one.
    fn set_holder(&mut self, code: &str, customer_id: &str, now: Millis) {
        if let Some(v) = self.vouchers.get_mut(code) {
            if v.holder_id.is_none() {
                v.holder_id = Some(customer_id.to_owned());
                self.by_holder
                    .entry(customer_id.to_owned())
                    .or_default()
                    .push(code.to_owned());
            }
            v.publish_count += 1;
            v.updated_at = Some(now);
        }
    }

    pub fn remove_voucher(&mut self, code_or_id: &str) -> bool {
        match self.voucher_code(code_or_id) {
            Some(code) => {
                if let Some(v) = self.vouchers.remove(&code) {
                    self.voucher_ids.remove(&v.id);
                }
                true
            }
            None => false,
        }
    }

    fn customer_id(&mut self, source_id: &str) -> String {
        if let Some(c) = self.customers.get(source_id) {
            return c.id.clone();
        }
        let id = ids::prefixed("cust_", 24);
        self.customer_ids.insert(id.clone(), source_id.to_owned());
        self.customers.insert(
            source_id.to_owned(),
            Customer {
                id: id.clone(),
                source_id: source_id.to_owned(),
            },
        );
        id
    }

    /// A known customer by `cust_…` id or source id.
    pub fn find_customer(&self, id_or_source: &str) -> Option<&Customer> {
        self.customers
            .get(id_or_source)
            .or_else(|| self.customer_ids.get(id_or_source).and_then(|s| self.customers.get(s)))
    }

    /// A validation or redemption naming its customer only by `cust_…` id:
    /// the engine keys customers on source ids, so a known id is resolved.
    pub fn name_customer(&self, mut req: StackableRequest) -> StackableRequest {
        if let Some(c) = req.customer.as_mut()
            && c.source_id.is_none()
            && let Some(known) = c.id.as_deref().and_then(|id| self.find_customer(id))
        {
            c.source_id = Some(known.source_id.clone());
        }
        req
    }

    /// The customer a request names with `{id}` or `{source_id}`: an `id`
    /// must be known (404 otherwise), a `source_id` is created on first
    /// sight, as Voucherify upserts customers. Returns (id, source id).
    fn resolve_customer(&mut self, c: &CustomerIn) -> Result<(String, String), ApiError> {
        if let Some(id) = &c.id {
            return self
                .find_customer(id)
                .map(|c| (c.id.clone(), c.source_id.clone()))
                .ok_or_else(|| ApiError::not_found("customer", id));
        }
        match &c.source_id {
            Some(s) => Ok((self.customer_id(s), s.clone())),
            None => Err(ApiError::invalid_payload(
                "Property .customer should have required property 'id' or 'source_id'",
            )),
        }
    }

    fn customer_json(&self, source_id: Option<&str>) -> Value {
        match source_id.and_then(|s| self.customers.get(s)) {
            Some(c) => {
                json!({"id": c.id, "source_id": c.source_id, "metadata": {}, "object": "customer"})
            }
            None => Value::Null,
        }
    }

    /// `POST /v1/validations`.
    pub fn validate(&mut self, req: &StackableRequest, now: Millis) -> ValidationResponse {
        let customer = req.customer.as_ref().and_then(|c| c.source_id.clone());
        if let Some(c) = &customer {
            self.customer_id(c);
        }
        let session_key = req
            .session
            .as_ref()
            .map(|s| s.key.clone().unwrap_or_else(|| ids::prefixed("ssn_", 32)));
        let ev = self.evaluate(req, session_key.as_deref(), now);
        let mode = self.settings.redeemables_application_mode;
        let valid = match mode {
            ApplicationMode::All => !ev.any_inapplicable && ev.applicable > 0,
            ApplicationMode::Partial => ev.applicable > 0,
        };
        if let (Some(session), Some(key)) = (&req.session, &session_key)
            && valid
        {
            self.lock_applicable(&ev, session, key, customer.as_deref(), now);
        }
        let inapplicable: Vec<RedeemableOut> = ev
            .outs
            .iter()
            .filter(|o| o.status == Status::Inapplicable)
            .cloned()
            .collect();
        let skipped = ev
            .outs
            .iter()
            .filter(|o| o.status == Status::Skipped)
            .cloned()
            .collect();
        // PARTIAL mode lists only what applies; the rest have their own lists.
        let redeemables = if mode == ApplicationMode::Partial && valid {
            ev.outs.into_iter().filter(|o| o.status == Status::Applicable).collect()
        } else {
            ev.outs
        };
        ValidationResponse {
            id: ids::prefixed_hex("valid_", 18),
            valid,
            redeemables,
            inapplicable_redeemables: inapplicable,
            skipped_redeemables: skipped,
            order: ev.order,
            tracking_id: tracking_id(customer.as_deref()),
            session: req.session.as_ref().zip(session_key).map(|(s, key)| SessionOut {
                key,
                kind: "LOCK",
                ttl: s.ttl,
                ttl_unit: s.ttl_unit,
            }),
            stacking_rules: StackingRules::from(&self.settings),
        }
    }

    /// `POST /v1/vouchers/{code}/validate` (legacy): one voucher, same rules.
    pub fn validate_legacy(&mut self, code: &str, req: &StackableRequest, now: Millis) -> Result<Value, ApiError> {
        let Some(v) = self.voucher(code) else {
            return Err(ApiError::not_found("voucher", code));
        };
        let voucher_code = v.code.clone();
        let res = self.validate(req, now);
        let customer = req.customer.as_ref().and_then(|c| c.source_id.as_deref());
        let v = &self.vouchers[&voucher_code];
        let r = &res.redeemables[0];
        if r.status == Status::Applicable {
            let mut out = json!({
                "valid": true,
                "code": v.code,
                "applicable_to": EMPTY_LIST,
                "inapplicable_to": EMPTY_LIST,
                "order": res.order,
                "tracking_id": res.tracking_id,
                "metadata": v.metadata,
                "start_date": v.start_date.map(iso),
                "expiration_date": v.expiration_date.map(iso),
                "campaign": v.campaign,
                "campaign_id": v.campaign_id,
            });
            if let Some(d) = &r.result.discount {
                out["discount"] = json!(d);
            }
            if let Some(g) = &r.result.gift {
                out["gift"] = json!({"amount": g.credits, "balance": g.balance, "effect": "APPLY_TO_ORDER"});
            }
            if let Some(s) = &res.session {
                out["session"] = json!(s);
            }
            Ok(out)
        } else {
            let e = r
                .result
                .error
                .clone()
                .unwrap_or_else(|| ApiError::new(400, "invalid_voucher", "invalid voucher", None));
            Ok(json!({
                "valid": false,
                "reason": e.message,
                "error": e,
                "tracking_id": tracking_id(customer),
                "code": v.code,
                "metadata": v.metadata,
            }))
        }
    }

    /// `DELETE /v1/vouchers/{code}/sessions/{key}`.
    pub fn release_session(&mut self, code: &str, key: &str, now: Millis) -> Result<(), ApiError> {
        let code = self
            .voucher_code(code)
            .ok_or_else(|| ApiError::not_found("voucher", code))?;
        let v = self.vouchers.get_mut(&code).expect("found above");
        match v.locks.remove(key) {
            Some(l) if l.expires_at > now => Ok(()),
            _ => Err(ApiError::not_found("session", key)),
        }
    }

    /// Live session locks, for `GET /_sim/sessions`.
    pub fn live_sessions(&self, now: Millis) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .vouchers
            .values()
            .flat_map(|v| {
                v.live_locks(now).map(move |(key, l)| {
                    json!({
                        "key": key,
                        "voucher": v.code,
                        "customer": l.customer,
                        "expires_at": iso(l.expires_at),
                        "ttl": compact(l.ttl),
                        "ttl_unit": l.ttl_unit,
                        "credits": l.credits,
                    })
                })
            })
            .collect();
        out.sort_by(|a, b| (a["key"].as_str(), a["voucher"].as_str()).cmp(&(b["key"].as_str(), b["voucher"].as_str())));
        out
    }
}
