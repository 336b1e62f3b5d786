//! A customer's wallet in Voucherify, as copying one from Gameball needs
//! it: a voucher created under a code of one's own, read back whole (its
//! metadata and holder too) to compare with what would have been created,
//! and its publications to a customer, listed and made.
//!
//! Same rules as the calls beside them: one deadline per call, a connect
//! failure tried once more, nothing that writes retried here (the caller
//! decides; a creation under a fixed code is safe to send again, as a
//! second one is refused with 409 `duplicate_found`).

use http::Method;
use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::coupons::CreateOutcome;
use super::error::UpstreamError;
use super::lifecycle::Written;
use super::op::Op;
use super::transport::{Project, SEGMENT, Writes, json, parse, unexpected};
use crate::voucherify::RedemptionSummary;

/// `GET /v1/vouchers/{code}` → 200, as a definition: what the voucher
/// gives, when, how often, and for whom (its metadata and holder).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VoucherDefinition {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub active: Option<bool>,
    /// Kept as Voucherify wrote it: the comparison names the fields it
    /// reads, and Voucherify adds some of its own (`effect`).
    pub discount: Option<Value>,
    pub start_date: Option<String>,
    pub expiration_date: Option<String>,
    pub redemption: Option<RedemptionSummary>,
    pub metadata: Option<Map<String, Value>>,
    /// Voucherify's id (`cust_…`) of the customer it was published to first.
    pub holder_id: Option<String>,
}

/// `GET /v1/publications` → 200.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PublicationList {
    pub publications: Vec<Publication>,
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Publication {
    pub id: String,
    /// `SUCCESS`, or `FAILURE` for one that gave no code.
    pub result: Option<String>,
    pub customer: Option<PublishedTo>,
    pub voucher: Option<PublishedVoucher>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PublishedTo {
    pub id: Option<String>,
    pub source_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PublishedVoucher {
    pub code: String,
}

impl PublicationList {
    /// Whether `code` was published, successfully, to the customer whose
    /// source id is `customer`.
    pub fn has(&self, code: &str, customer: &str) -> bool {
        self.publications.iter().any(|p| {
            p.result.as_deref().is_none_or(|r| r == "SUCCESS")
                && p.voucher.as_ref().is_some_and(|v| v.code == code)
                && p.customer.as_ref().and_then(|c| c.source_id.as_deref()) == Some(customer)
        })
    }
}

/// The body of `POST /v1/publications` for one code.
#[derive(Debug, Clone, Serialize)]
pub struct PublicationRequest<'a> {
    pub customer: PublicationCustomer<'a>,
    pub voucher: &'a str,
    /// The publication's own id: Voucherify answers a repeated one with
    /// the first publication instead of making a second.
    pub source_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicationCustomer<'a> {
    pub source_id: &'a str,
}

impl Project<'_> {
    /// `GET /v1/vouchers/{code}`, read whole.
    pub async fn voucher_definition(&self, code: &str) -> Result<Option<VoucherDefinition>, UpstreamError> {
        let path = format!("/v1/vouchers/{}", utf8_percent_encode(code, SEGMENT));
        self.get_optional(Op::GetVoucher, path).await
    }

    /// `GET /v1/publications?voucher=&limit=100`: the code's publications
    /// (to anyone; [`PublicationList::has`] picks the customer's, so the
    /// check does not hang on which customer id the filter would take).
    pub async fn publications_of(&self, code: &str) -> Result<PublicationList, UpstreamError> {
        let op = Op::ListPublications;
        let path = format!(
            "/v1/publications?voucher={}&limit=100",
            utf8_percent_encode(code, SEGMENT)
        );
        let a = self.call(op, Method::GET, &path, None).await?;
        match a.status.as_u16() {
            200 => parse(op, &a),
            _ => Err(unexpected(op, &a)),
        }
    }
}

impl Writes<'_> {
    /// `POST /v1/vouchers/{code}`: a voucher under this code; a code that
    /// exists is refused (409 `duplicate_found`) and left as it is.
    pub async fn create_voucher_with_code(&self, code: &str, body: &Value) -> Result<CreateOutcome, UpstreamError> {
        let op = Op::CreateVoucherWithCode;
        let path = format!("/v1/vouchers/{}", utf8_percent_encode(code, SEGMENT));
        let a = self.call(op, Method::POST, &path, Some(json(op, body)?)).await?;
        CreateOutcome::of(op, &a)
    }

    /// `POST /v1/publications`: hands one code to a customer (created in
    /// Voucherify by source id when it is not there yet).
    pub async fn publish(&self, req: &PublicationRequest<'_>) -> Result<Written<Publication>, UpstreamError> {
        let op = Op::Publish;
        let a = self
            .call(op, Method::POST, "/v1/publications", Some(json(op, req)?))
            .await?;
        match a.status.as_u16() {
            200 | 201 => parse(op, &a).map(Written::Done),
            400..=499 => Ok(Written::Refused(
                a.status.as_u16(),
                serde_json::from_slice(&a.body).unwrap_or_default(),
            )),
            _ => Err(unexpected(op, &a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_publication_counts_only_for_its_code_and_customer_and_when_it_succeeded() {
        let list: PublicationList = serde_json::from_value(json!({"object": "list", "publications": [
            {"id": "pub_1", "result": "SUCCESS", "customer": {"id": "cust_1", "source_id": "c-1"}, "voucher": {"code": "A"}},
            {"id": "pub_2", "result": "FAILURE", "customer": {"id": "cust_2", "source_id": "c-2"}, "voucher": {"code": "A"}},
            {"id": "pub_3", "customer": {"source_id": "c-3"}, "voucher": {"code": "B"}}
        ], "total": 3}))
        .unwrap();
        assert!(list.has("A", "c-1"));
        assert!(!list.has("A", "c-2"), "a failed publication gave nothing");
        assert!(!list.has("A", "c-3"));
        assert!(list.has("B", "c-3"), "no result field: a plain publication");
    }

    #[test]
    fn a_definition_reads_null_metadata_and_unknown_fields() {
        let d: VoucherDefinition = serde_json::from_value(json!({"code": "A", "metadata": null, "holder_id": "cust_1",
            "discount": {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ORDER"}, "future": 1}))
        .unwrap();
        assert_eq!(d.metadata, None);
        assert_eq!(d.discount.unwrap()["amount_off"], 100);
        let body = serde_json::to_value(PublicationRequest {
            customer: PublicationCustomer { source_id: "c-1" },
            voucher: "A",
            source_id: "p-1",
            metadata: None,
        })
        .unwrap();
        assert_eq!(
            body,
            json!({"customer": {"source_id": "c-1"}, "voucher": "A", "source_id": "p-1"})
        );
    }
}
