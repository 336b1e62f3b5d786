//! Publications, `POST/GET /v1/publications`: a code handed to a customer,
//! who becomes its holder; and `GET /v1/vouchers`, which lists codes by
//! holder and campaign.

use serde_json::{Map, Value, json};

use super::listing::{Query, list};
use super::voucher_json::{prune_nulls, voucher_json};
use super::wire::CustomerIn;
use super::{ApiError, ProjectState, tracking_id};
use crate::clock::{Millis, iso};
use crate::ids;
use crate::sim::catalog::opt_str;
use crate::sim::model::Voucher;
use crate::sim::records::Publication;

/// The most codes one publication may ask for (`campaign.count`).
const MAX_COUNT: i64 = 20;

pub(super) fn customer_in(body: &Value) -> Result<CustomerIn, ApiError> {
    let c = match body.get("customer") {
        Some(Value::Object(c)) => c,
        // A bare string is taken as a source id, as the SDKs allow.
        Some(Value::String(s)) => {
            return Ok(CustomerIn {
                id: None,
                source_id: Some(s.clone()),
            });
        }
        _ => {
            return Err(ApiError::invalid_payload(
                "Request body should have required property 'customer'",
            ));
        }
    };
    let text = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(CustomerIn {
        id: text("id"),
        source_id: text("source_id"),
    })
}

/// The publication's error when a campaign has no code left to give
/// (the wording of the Voucherify Ruby SDK's README, which prints this
/// error verbatim).
fn no_suitable_voucher() -> ApiError {
    ApiError::new(
        400,
        "no_voucher_suitable_for_publication",
        "Couldn't find any voucher suitable for publication.",
        Some("Use auto-update campaigns if you want Voucherify to generate vouchers automatically.".to_owned()),
    )
}

impl ProjectState {
    /// `POST /v1/publications` (`join_once` from the query).
    pub fn publish(&mut self, body: &Value, join_once: bool, now: Millis) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_payload("Request body should be object"));
        }
        let (customer_id, customer_source) = self.resolve_customer(&customer_in(body)?)?;
        let source_id = opt_str(body, "source_id")?;
        // A repeated publication source id answers the first publication.
        if let Some(i) = source_id.as_ref().and_then(|s| self.publication_by_source.get(s)) {
            return Ok(self.publication_json(&self.publications[*i]));
        }
        let metadata = body
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let campaign_ref = match body.get("campaign") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some((s.clone(), 1)),
            Some(Value::Object(c)) => {
                let name = c
                    .get("id")
                    .or_else(|| c.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::invalid_payload("Property .campaign should have required property 'name'")
                    })?;
                let count = match c.get("count") {
                    None | Some(Value::Null) => 1,
                    Some(n) => n.as_i64().filter(|n| (1..=MAX_COUNT).contains(n)).ok_or_else(|| {
                        ApiError::invalid_payload(format!("Property .campaign.count should be from 1 to {MAX_COUNT}"))
                    })?,
                };
                Some((name.to_owned(), count))
            }
            Some(_) => return Err(ApiError::invalid_payload("Property .campaign should be object")),
        };
        let voucher = opt_str(body, "voucher")?;
        let codes = match (voucher, campaign_ref) {
            (Some(code), None) => {
                // A code may be published again (its `publish.count` grows);
                // its holder stays the first customer it was published to.
                let v = self
                    .voucher(&code)
                    .ok_or_else(|| ApiError::not_found("voucher", &code))?;
                vec![v.code.clone()]
            }
            (None, Some((campaign, count))) => {
                let c = self.campaign_or_404(&campaign)?;
                let cid = c.id.clone();
                let once = join_once || c.join_once;
                if once
                    && let Some(p) = self
                        .publications_by_customer
                        .get(&customer_id)
                        .into_iter()
                        .flatten()
                        .rev()
                        .map(|i| &self.publications[*i])
                        .find(|p| p.campaign.as_deref() == Some(c.name.as_str()))
                {
                    return Ok(self.publication_json(p));
                }
                let mut codes = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    codes.push(self.unassigned_code(&cid, &codes, now)?);
                }
                codes
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_payload(
                    "Request body should have either property 'voucher' or property 'campaign'",
                ));
            }
            (None, None) => {
                return Err(ApiError::invalid_payload(
                    "Request body should have required property 'voucher' or 'campaign'",
                ));
            }
        };
        let mut publication = None;
        for code in &codes {
            let p = self.record_publication(code, &customer_id, &customer_source, source_id.clone(), &metadata, now);
            publication.get_or_insert(p);
        }
        let p = publication.expect("at least one code was published");
        let mut out = self.publication_json(&p);
        if codes.len() > 1 {
            out.as_object_mut().map(|o| o.remove("voucher"));
            out["vouchers"] = json!(codes);
            out["vouchers_id"] = json!(
                codes
                    .iter()
                    .filter_map(|c| self.vouchers.get(c))
                    .map(|v| v.id.clone())
                    .collect::<Vec<_>>()
            );
        }
        Ok(out)
    }

    /// Sets the holder, counts the publication and records it.
    pub(super) fn record_publication(
        &mut self,
        code: &str,
        customer_id: &str,
        customer_source: &str,
        source_id: Option<String>,
        metadata: &Map<String, Value>,
        now: Millis,
    ) -> Publication {
        self.set_holder(code, customer_id, now);
        // A campaign's codes may be active for a while after publishing.
        let window = self
            .vouchers
            .get(code)
            .and_then(|v| v.campaign_id.as_ref())
            .and_then(|c| self.campaigns.get(c))
            .and_then(|c| c.active_after_publishing.as_ref())
            .map(|d| d.1);
        if let (Some(ms), Some(v)) = (window, self.vouchers.get_mut(code)) {
            let ends = now + ms;
            v.expiration_date = Some(v.expiration_date.map_or(ends, |e| e.min(ends)));
        }
        let p = Publication {
            id: ids::prefixed("pub_", 24),
            created_at: now,
            customer_id: customer_id.to_owned(),
            customer_source_id: customer_source.to_owned(),
            voucher_code: code.to_owned(),
            campaign: self.vouchers.get(code).and_then(|v| v.campaign.clone()),
            channel: "API".to_owned(),
            source_id,
            metadata: metadata.clone(),
        };
        let index = self.publications.len();
        self.publications_by_customer
            .entry(p.customer_id.clone())
            .or_default()
            .push(index);
        if let Some(s) = &p.source_id {
            self.publication_by_source.entry(s.clone()).or_insert(index);
        }
        self.publications.push(p.clone());
        p
    }

    /// A code of the campaign nobody holds yet (not one of `taken`), else
    /// a new one for an AUTO_UPDATE campaign.
    pub(super) fn unassigned_code(
        &mut self,
        campaign_id: &str,
        taken: &[String],
        now: Millis,
    ) -> Result<String, ApiError> {
        let free = |v: &Voucher| v.holder_id.is_none() && v.publish_count == 0;
        let codes: &[String] = self.by_campaign.get(campaign_id).map(Vec::as_slice).unwrap_or(&[]);
        // Codes before the cursor are published for good; skip them once.
        let mut cursor = self.free_cursor.get(campaign_id).copied().unwrap_or(0);
        while cursor < codes.len() && !self.vouchers.get(&codes[cursor]).is_some_and(free) {
            cursor += 1;
        }
        let existing = codes[cursor..]
            .iter()
            .find(|code| !taken.contains(code) && self.vouchers.get(*code).is_some_and(|v| v.active && free(v)))
            .cloned();
        self.free_cursor.insert(campaign_id.to_owned(), cursor);
        match existing {
            Some(code) => Ok(code),
            None if self
                .campaign(campaign_id)
                .is_some_and(|c| c.mode == "AUTO_UPDATE" && c.voucher.is_some()) =>
            {
                self.generate_voucher(campaign_id, now)
            }
            None if self.campaign(campaign_id).is_some_and(|c| c.voucher.is_none()) => Err(ApiError::invalid_payload(
                format!("Campaign {campaign_id} is a PROMOTION campaign and has no codes to publish"),
            )),
            None => Err(no_suitable_voucher()),
        }
    }

    fn publication_customer(&self, p: &Publication) -> Value {
        json!({"id": p.customer_id, "source_id": p.customer_source_id, "metadata": {}, "object": "customer"})
    }

    pub(super) fn publication_json(&self, p: &Publication) -> Value {
        let v = self.vouchers.get(&p.voucher_code);
        let mut out = json!({
            "id": p.id,
            "object": "publication",
            "created_at": iso(p.created_at),
            "customer_id": p.customer_id,
            "tracking_id": tracking_id(Some(&p.customer_source_id)),
            "metadata": p.metadata,
            "channel": p.channel,
            "source_id": p.source_id,
            "result": "SUCCESS",
            "customer": self.publication_customer(p),
            "vouchers_id": v.map(|v| vec![v.id.clone()]).unwrap_or_default(),
        });
        if let Some(v) = v {
            out["voucher"] = voucher_json(v, &self.rules);
        }
        prune_nulls(&mut out);
        out
    }

    /// `GET /v1/publications`: filters `customer`, `campaign`, `voucher`;
    /// newest first.
    pub fn list_publications(&self, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(100)?;
        let customer = q.get("customer");
        let customer_id = customer.map(|c| self.find_customer(c).map(|c| c.id.clone()).unwrap_or_default());
        let campaign = q
            .get("campaign")
            .map(|c| self.campaign(c).map(|c| c.name.clone()).unwrap_or_else(|| c.to_owned()));
        let voucher = q.get("voucher");
        let of_customer: Box<dyn Iterator<Item = &Publication>> = match &customer_id {
            Some(c) => Box::new(
                self.publications_by_customer
                    .get(c)
                    .into_iter()
                    .flatten()
                    .rev()
                    .map(|i| &self.publications[*i]),
            ),
            None => Box::new(self.publications.iter().rev()),
        };
        let matching: Vec<&Publication> = of_customer
            .filter(|p| campaign.as_ref().is_none_or(|c| Some(c) == p.campaign.as_ref()))
            .filter(|p| voucher.is_none_or(|v| v == p.voucher_code))
            .collect();
        let total = matching.len();
        let items = page
            .of(matching)
            .into_iter()
            .map(|p| {
                let mut out = self.publication_json(p);
                // The list shows a short voucher, as the spec's
                // `ListPublicationsItemVoucher`.
                if let Some(v) = self.vouchers.get(&p.voucher_code) {
                    let mut short = json!({
                        "code": v.code, "object": "voucher", "campaign": v.campaign,
                        "discount": v.discount, "is_referral_code": false,
                    });
                    if let Some(l) = v.loyalty {
                        short["loyalty_card"] = json!({"points": l.points, "balance": l.balance});
                    }
                    if let Some((amount, balance)) = v.gift {
                        short["gift"] = json!({"amount": amount, "balance": balance, "effect": "APPLY_TO_ORDER"});
                    }
                    prune_nulls(&mut short);
                    out["voucher"] = short;
                    out["vouchers"] = json!([v.code]);
                }
                out
            })
            .collect();
        Ok(list("publications", items, total))
    }

    /// `GET /v1/vouchers`: filters `customer` (the holder, by id or source
    /// id), `campaign` (name), `campaign_id`, `category`, `code`; `order`
    /// (default `-created_at`); pages of at most 100, up to page 99.
    pub fn list_vouchers(&self, q: &Query) -> Result<Value, ApiError> {
        let page = q.page(99)?;
        let holder = match q.get("customer") {
            None => None,
            Some(c) => match self.find_customer(c) {
                Some(c) => Some(c.id.clone()),
                None => return Ok(list("vouchers", Vec::new(), 0)),
            },
        };
        let campaign_id = match (q.get("campaign_id"), q.get("campaign")) {
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(name)) => match self.campaign(name) {
                Some(c) => Some(c.id.clone()),
                None => return Ok(list("vouchers", Vec::new(), 0)),
            },
            (None, None) => None,
        };
        // Start from the smallest index that applies.
        let mut candidates: Vec<&Voucher> = match (&holder, &campaign_id) {
            (Some(h), _) => self
                .by_holder
                .get(h)
                .into_iter()
                .flatten()
                .filter_map(|c| self.vouchers.get(c))
                .collect(),
            (None, Some(cid)) => self
                .by_campaign
                .get(cid)
                .into_iter()
                .flatten()
                .filter_map(|c| self.vouchers.get(c))
                .collect(),
            (None, None) => self.vouchers.values().collect(),
        };
        let category = q.get("category");
        let code = q.get("code");
        candidates.retain(|v| {
            holder.as_ref().is_none_or(|h| v.holder_id.as_ref() == Some(h))
                && campaign_id.as_ref().is_none_or(|c| v.campaign_id.as_ref() == Some(c))
                && category.is_none_or(|c| v.category.as_deref() == Some(c))
                && code.is_none_or(|c| v.code == c)
        });
        candidates.sort_by_key(|v| v.seq);
        candidates.dedup_by_key(|v| v.seq);
        match q.get("order").unwrap_or("-created_at") {
            "created_at" => candidates.sort_by_key(|v| (v.created_at, v.seq)),
            "-created_at" => candidates.sort_by_key(|v| std::cmp::Reverse((v.created_at, v.seq))),
            "updated_at" => candidates.sort_by_key(|v| (v.updated_at.unwrap_or(v.created_at), v.seq)),
            "-updated_at" => {
                candidates.sort_by_key(|v| std::cmp::Reverse((v.updated_at.unwrap_or(v.created_at), v.seq)))
            }
            "code" => candidates.sort_by(|a, b| a.code.cmp(&b.code)),
            "-code" => candidates.sort_by(|a, b| b.code.cmp(&a.code)),
            _ => {
                return Err(ApiError::invalid_payload(
                    "Query parameter order should be one of created_at, -created_at, updated_at, -updated_at, code, -code",
                ));
            }
        }
        let total = candidates.len();
        let items = page
            .of(candidates)
            .into_iter()
            .map(|v| {
                let mut j = voucher_json(v, &self.rules);
                j["categories"] = json!([]);
                j
            })
            .collect();
        Ok(list("vouchers", items, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::ProjectSettings;

    #[test]
    fn publications_use_free_codes_first_then_make_new_ones() {
        let mut p = ProjectState::new(ProjectSettings::default());
        p.create_campaign(
            &json!({"name": "C", "vouchers_count": 3, "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}}}),
            None,
            0,
        )
        .unwrap();
        let made: Vec<String> = p.by_campaign.values().next().unwrap().clone();
        let mut published = Vec::new();
        for i in 0..10 {
            let out = p
                .publish(
                    &json!({"customer": {"source_id": format!("c{i}")}, "campaign": {"name": "C"}}),
                    false,
                    0,
                )
                .unwrap();
            published.push(out["voucher"]["code"].as_str().unwrap().to_owned());
        }
        assert_eq!(published[..3], made[..], "the generated codes go first, in order");
        let distinct: std::collections::HashSet<&String> = published.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(p.campaign("C").unwrap().vouchers_count, 10);
        // A repeated source id answers the first publication.
        let a = p
            .publish(
                &json!({"customer": {"source_id": "x"}, "campaign": {"name": "C"}, "source_id": "s1"}),
                false,
                0,
            )
            .unwrap();
        let b = p
            .publish(
                &json!({"customer": {"source_id": "y"}, "campaign": {"name": "C"}, "source_id": "s1"}),
                false,
                0,
            )
            .unwrap();
        assert_eq!(a["id"], b["id"]);
        assert_eq!(p.publications.len(), 11);
    }
}
