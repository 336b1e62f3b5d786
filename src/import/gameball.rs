//! Gameball's side of the import: one customer's coupons, read with the
//! tenant's keys from `GET /api/v4.0/integrations/customers/{id}/coupons`
//! at `[passthrough] upstream`, in the published `CustomerCouponsResponse`
//! shape. Gameball lists a wallet in one answer (the reference has no
//! pages). A `429` is waited out as Voucherify's are ([`Pacer`]).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Request, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::pace::Pacer;
use crate::config::{PassthroughConfig, TenantConfig};
use crate::money::DecimalNumber;
use crate::net::client::HttpClient;
use crate::net::{self, read_body};

/// A wallet is at most this large; past it, the customer fails.
const MAX_WALLET: usize = 16 << 20;
const APIKEY: HeaderName = HeaderName::from_static("apikey");
const SECRETKEY: HeaderName = HeaderName::from_static("secretkey");
/// Unreserved characters stay; everything else in an id is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// One coupon of `CustomerCouponsResponse.coupons`, every field optional:
/// what is missing is decided on by the mapping, not refused here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WalletCoupon {
    pub name: Option<String>,
    pub code: Option<String>,
    /// Percent for `Percentage`, major units for `Fixed Rate Discount`,
    /// read exactly (never through a float).
    pub value: Option<DecimalNumber>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub is_expired: Option<bool>,
    pub is_active: Option<bool>,
    #[serde(deserialize_with = "count")]
    pub usage_limit: Option<i64>,
    #[serde(deserialize_with = "count")]
    pub limit_per_customer: Option<i64>,
    #[serde(deserialize_with = "count")]
    pub used_count: Option<i64>,
    #[serde(deserialize_with = "count")]
    pub customer_used_count: Option<i64>,
    pub is_available_to_use: Option<bool>,
}

/// A count the reference types as `number`: `1` and `1.0` are 1; a
/// fraction is refused.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole count"))),
    }
}

/// One entry of a wallet: Gameball's JSON as it came (for the report),
/// and the coupon read from it, or why it could not be.
#[derive(Debug, Clone)]
pub struct Listed {
    pub raw: Value,
    pub coupon: Result<WalletCoupon, String>,
}

impl Listed {
    /// The entry's code, even when the rest could not be read.
    pub fn code(&self) -> Option<String> {
        match &self.coupon {
            Ok(c) => c.code.clone(),
            Err(_) => self.raw.get("code").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

#[derive(Deserialize)]
struct CustomerCouponsResponse {
    #[serde(default)]
    coupons: Option<Vec<Box<RawValue>>>,
}

/// Reads a wallet's answer: each coupon apart, so one unreadable coupon
/// fails alone.
pub fn wallet(body: &[u8]) -> Result<Vec<Listed>, String> {
    let r: CustomerCouponsResponse =
        serde_json::from_slice(body).map_err(|e| format!("Gameball's answer is not a coupon list: {e}"))?;
    Ok(r.coupons
        .unwrap_or_default()
        .into_iter()
        .map(|raw| Listed {
            raw: serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            coupon: serde_json::from_str(raw.get()).map_err(|e| format!("Gameball's coupon is unreadable: {e}")),
        })
        .collect())
}

/// The tenant's Gameball, for reading wallets.
pub struct Gameball {
    http: HttpClient,
    base: String,
    api_key: HeaderValue,
    secret_key: HeaderValue,
    timeout: Duration,
    pacer: Pacer,
}

impl Gameball {
    pub fn new(http: HttpClient, upstream: &PassthroughConfig, tenant: &TenantConfig) -> Result<Gameball, String> {
        let api_key =
            HeaderValue::from_str(&tenant.api_key).map_err(|_| "the tenant's api_key is not a header value")?;
        let mut secret_key = HeaderValue::from_str(tenant.secret_key.expose())
            .map_err(|_| "the tenant's secret_key is not a header value")?;
        secret_key.set_sensitive(true);
        Ok(Gameball {
            http,
            base: upstream.upstream.to_string().trim_end_matches('/').to_owned(),
            api_key,
            secret_key,
            timeout: upstream.timeout,
            pacer: Pacer::default(),
        })
    }

    /// The customer's coupons, as Gameball lists them.
    pub async fn coupons(&self, customer: &str) -> Result<Vec<Listed>, String> {
        let url = format!(
            "{}/api/v4.0/integrations/customers/{}/coupons",
            self.base,
            utf8_percent_encode(customer, SEGMENT)
        );
        let mut waits = 0;
        loop {
            self.pacer.ready().await;
            match self.get(&url).await? {
                (429, retry_after, _) if waits < super::pace::MAX_WAITS => {
                    waits += 1;
                    self.pacer.hold(retry_after);
                }
                (200, _, body) => return wallet(&body),
                (status, _, body) => return Err(refusal(status, &body)),
            }
        }
    }

    /// One GET: the status, the `Retry-After` seconds, the body.
    async fn get(&self, url: &str) -> Result<(u16, Option<u64>, bytes::Bytes), String> {
        let req = Request::get(url)
            .header(APIKEY, self.api_key.clone())
            .header(SECRETKEY, self.secret_key.clone())
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .body(net::empty())
            .map_err(|e| format!("cannot ask Gameball: {e}"))?;
        let call = async {
            let res = self
                .http
                .request(req)
                .await
                .map_err(|e| format!("Gameball cannot be reached: {e}"))?;
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let body = read_body(res.into_body(), MAX_WALLET)
                .await
                .map_err(|e| format!("Gameball's answer broke off: {e}"))?;
            Ok((status, retry_after, body))
        };
        tokio::time::timeout(self.timeout, call).await.map_err(|_| {
            format!(
                "Gameball did not answer within {}",
                humantime::format_duration(self.timeout)
            )
        })?
    }
}

/// Gameball's refusal, with its message when it gave one.
fn refusal(status: u16, body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    match (status, message) {
        (429, _) => "Gameball kept answering 429 (rate limited)".to_owned(),
        (s, Some(m)) => format!("Gameball answered {s}: {m}"),
        (s, None) => format!("Gameball answered {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wallet_is_read_coupon_by_coupon_in_the_published_shape() {
        let body = br#"{"coupons": [
            {"name": "Spring", "code": "SPRING", "value": 19.99, "type": "Fixed Rate Discount", "target": "Reward",
             "startDate": "2026-01-01T00:00:00Z", "expiryDate": "2026-12-31T00:00:00Z", "isExpired": false,
             "isActive": true, "usageLimit": 3.0, "limitPerCustomer": 2, "usedCount": 1, "customerUsedCount": 1,
             "isAvailableToUse": true, "iconPath": "x.png"},
            {"code": "HALF", "value": 0.5, "usageLimit": 1.5},
            {"code": "BARE"}
        ]}"#;
        let list = wallet(body).unwrap();
        let first = list[0].coupon.as_ref().unwrap();
        assert_eq!(first.code.as_deref(), Some("SPRING"));
        assert_eq!(first.value.unwrap().to_text(), "19.99", "read exactly");
        assert_eq!(first.kind.as_deref(), Some("Fixed Rate Discount"));
        assert_eq!(first.start_date.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(first.expiry_date.as_deref(), Some("2026-12-31T00:00:00Z"));
        assert_eq!(
            (first.is_expired, first.is_active, first.is_available_to_use),
            (Some(false), Some(true), Some(true))
        );
        assert_eq!(
            (
                first.usage_limit,
                first.limit_per_customer,
                first.used_count,
                first.customer_used_count
            ),
            (Some(3), Some(2), Some(1), Some(1))
        );
        assert_eq!(list[0].raw["iconPath"], "x.png", "the report keeps Gameball's JSON");
        let half = &list[1];
        assert!(half.coupon.as_ref().unwrap_err().contains("whole count"), "{half:?}");
        assert_eq!(half.code().as_deref(), Some("HALF"));
        assert_eq!(list[2].coupon.as_ref().unwrap().value, None);
        assert!(wallet(b"{}").unwrap().is_empty());
        assert!(wallet(b"[1]").is_err());
    }

    #[test]
    fn refusals_say_what_gameball_said() {
        assert_eq!(
            refusal(404, br#"{"code": 4040, "message": "Customer not found"}"#),
            "Gameball answered 404: Customer not found"
        );
        assert_eq!(refusal(502, b"<html>"), "Gameball answered 502");
    }
}
