//! `POST /v1/qualifications`: which redeemables would apply to a customer's
//! order, each judged alone by the rule checks and discount engine the
//! validations use.
//!
//! Scenarios: `ALL` (promotion tiers and the customer's codes),
//! `CUSTOMER_WALLET` (the customer's codes), `AUDIENCE_ONLY` (as `ALL`:
//! the simulator has no audience rules to restrict it to), and
//! `PROMOTION_STACKS` and the `PRODUCTS*` scenarios, which answer an empty
//! list (no stacks, no product-scoped discounts are simulated).
//!
//! As the spec's warning says, per-customer limits are ignored. Sorting is
//! the spec's `options.sorting_rule`: `DEFAULT` newest first by
//! `created_at`, `BEST_DEAL` / `LEAST_DEAL` by the applied discount.
//! Paging is the spec's: at most `options.limit` (default 5, at most 50),
//! `has_more`, and `more_starting_after` for `options.starting_after`.

use serde_json::{Value, json};

use super::answers::{EMPTY_LIST, OrderOut};
use super::publications::customer_in;
use super::voucher_json::prune_nulls;
use super::wire::{ApiError, OrderIn, parse_order};
use super::{ProjectState, tracking_id};
use crate::clock::{Millis, iso, parse_iso};
use crate::sim::model::{StackingRules, VoucherKind};

struct Qualified {
    created_at: Millis,
    seq: u64,
    discount: i64,
    json: Value,
}

/// What a qualification asks for, besides the order and the customer.
struct Asked {
    tiers: bool,
    wallet: bool,
    limit: usize,
    sorting: String,
    starting_after: Option<Millis>,
}

impl Asked {
    fn parse(body: &Value) -> Result<Asked, ApiError> {
        let scenario = body.get("scenario").and_then(Value::as_str).unwrap_or("ALL");
        let (tiers, wallet) = match scenario {
            "ALL" | "AUDIENCE_ONLY" => (true, true),
            "CUSTOMER_WALLET" => (false, true),
            "PROMOTION_STACKS"
            | "PRODUCTS"
            | "PRODUCTS_DISCOUNT"
            | "PRODUCTS_BY_CUSTOMER"
            | "PRODUCTS_DISCOUNT_BY_CUSTOMER" => (false, false),
            _ => {
                return Err(ApiError::invalid_payload(
                    "Property .scenario should be equal to one of the allowed values: ALL, CUSTOMER_WALLET, AUDIENCE_ONLY, PRODUCTS, PRODUCTS_DISCOUNT, PROMOTION_STACKS, PRODUCTS_BY_CUSTOMER, PRODUCTS_DISCOUNT_BY_CUSTOMER",
                ));
            }
        };
        let options = body.get("options").cloned().unwrap_or(Value::Null);
        let limit = match options.get("limit") {
            None | Some(Value::Null) => 5,
            Some(l) => l
                .as_u64()
                .filter(|l| (1..=50).contains(l))
                .ok_or_else(|| ApiError::invalid_payload("Property .options.limit should be from 1 to 50"))?
                as usize,
        };
        let sorting = options.get("sorting_rule").and_then(Value::as_str).unwrap_or("DEFAULT");
        if !["DEFAULT", "BEST_DEAL", "LEAST_DEAL"].contains(&sorting) {
            return Err(ApiError::invalid_payload(
                "Property .options.sorting_rule should be equal to one of the allowed values: BEST_DEAL, LEAST_DEAL, DEFAULT",
            ));
        }
        let starting_after = match options.get("starting_after").and_then(Value::as_str) {
            Some(s) => Some(parse_iso(s).ok_or_else(|| {
                ApiError::invalid_payload("Property .options.starting_after should match format \"date-time\"")
            })?),
            None => None,
        };
        Ok(Asked {
            tiers,
            wallet,
            limit,
            sorting: sorting.to_owned(),
            starting_after,
        })
    }
}

impl ProjectState {
    pub fn qualify(&mut self, body: &Value, now: Millis) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let order = parse_order(body)?;
        let customer = match body.get("customer").filter(|c| !c.is_null()) {
            Some(_) => Some(customer_in(body)?),
            None => None,
        };
        let customer = customer.and_then(|c| {
            c.id.as_deref()
                .and_then(|id| self.find_customer(id))
                .map(|c| (c.id.clone(), c.source_id.clone()))
                .or_else(|| c.source_id.as_deref().map(|s| (self.customer_id(s), s.to_owned())))
        });
        let asked = Asked::parse(body)?;
        let (customer_id, customer_source) = match &customer {
            Some((id, s)) => (Some(id.as_str()), Some(s.as_str())),
            None => (None, None),
        };
        let mut found: Vec<Qualified> = Vec::new();
        if asked.tiers {
            found.extend(self.qualified_tiers(&order, customer_id, customer_source, now));
        }
        if asked.wallet
            && let Some(holder) = customer_id
        {
            found.extend(self.qualified_wallet(&order, holder, customer_source, now));
        }
        if let Some(after) = asked.starting_after {
            found.retain(|q| q.created_at < after);
        }
        match asked.sorting.as_str() {
            "BEST_DEAL" => found.sort_by_key(|q| (std::cmp::Reverse(q.discount), std::cmp::Reverse(q.created_at))),
            "LEAST_DEAL" => found.sort_by_key(|q| (q.discount, std::cmp::Reverse(q.created_at))),
            _ => found.sort_by_key(|q| std::cmp::Reverse((q.created_at, q.seq))),
        }
        let has_more = found.len() > asked.limit;
        found.truncate(asked.limit);
        let mut redeemables = json!({
            "object": "list",
            "data_ref": "data",
            "total": found.len(),
            "has_more": has_more,
        });
        if has_more && let Some(last) = found.last() {
            redeemables["more_starting_after"] = iso(last.created_at).into();
        }
        redeemables["data"] = Value::Array(found.into_iter().map(|q| q.json).collect());
        Ok(json!({
            "redeemables": redeemables,
            "tracking_id": tracking_id(customer_source),
            "order": json!(OrderOut::calculated(&order, 0, 0, customer_id)),
            "stacking_rules": StackingRules::from(&self.settings),
        }))
    }

    /// The promotion tiers the order qualifies for.
    fn qualified_tiers(
        &self,
        order: &OrderIn,
        customer_id: Option<&str>,
        customer_source: Option<&str>,
        now: Millis,
    ) -> Vec<Qualified> {
        let amount = order.amount();
        let mut ids: Vec<&String> = self.tiers.keys().collect();
        ids.sort();
        let mut found = Vec::new();
        for id in ids {
            let t = &self.tiers[id];
            let Ok(d) = self.check_tier(t, customer_source, order, amount, now, true) else {
                continue;
            };
            let campaign = self.campaigns.get(&t.campaign_id);
            let mut out = json!({
                "id": t.id,
                "object": "promotion_tier",
                "created_at": iso(t.created_at),
                "result": {"discount": t.discount},
                "order": json!(OrderOut::calculated(order, d, d, customer_id)),
                "applicable_to": EMPTY_LIST,
                "inapplicable_to": EMPTY_LIST,
                "metadata": t.metadata,
                "categories": [],
                "banner": t.banner,
                "name": t.name,
                "campaign_name": campaign.map(|c| c.name.clone()),
                "campaign_id": t.campaign_id,
            });
            prune_nulls(&mut out);
            found.push(Qualified {
                created_at: t.created_at,
                seq: t.hierarchy as u64,
                discount: d,
                json: out,
            });
        }
        found
    }

    /// The holder's own vouchers the order qualifies for (loyalty cards
    /// are not coupons).
    fn qualified_wallet(
        &self,
        order: &OrderIn,
        holder: &str,
        customer_source: Option<&str>,
        now: Millis,
    ) -> Vec<Qualified> {
        let amount = order.amount();
        let mut found = Vec::new();
        for code in self.by_holder.get(holder).into_iter().flatten() {
            let Some(v) = self
                .vouchers
                .get(code)
                .filter(|v| v.holder_id.as_deref() == Some(holder))
            else {
                continue;
            };
            if v.kind == VoucherKind::LoyaltyCard {
                continue;
            }
            let Ok((d, credits)) = self.check_voucher(v, None, customer_source, None, order, amount, now, true) else {
                continue;
            };
            let result = match v.kind {
                VoucherKind::GiftVoucher => json!({"gift": {
                    "balance": v.gift.map(|g| g.1).unwrap_or(0),
                    "credits": credits,
                    "locked_credits": v.locked_credits_excluding(None, now),
                }}),
                _ => json!({"discount": v.discount}),
            };
            let mut out = json!({
                "id": v.code,
                "object": "voucher",
                "created_at": iso(v.created_at),
                "result": result,
                "order": json!(OrderOut::calculated(order, d, d, Some(holder))),
                "applicable_to": EMPTY_LIST,
                "inapplicable_to": EMPTY_LIST,
                "metadata": v.metadata,
                "categories": [],
                "name": v.code,
                "campaign_name": v.campaign,
                "campaign_id": v.campaign_id,
            });
            prune_nulls(&mut out);
            found.push(Qualified {
                created_at: v.created_at,
                seq: v.seq,
                discount: d,
                json: out,
            });
        }
        found
    }
}
