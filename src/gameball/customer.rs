//! The customer a request names, read before it is parsed: a rollout
//! decides where the call goes by its customer, and a call that goes to
//! Gameball is never parsed. Every family names the customer the same
//! few ways: the `customerId` path parameter (the customer's coupons),
//! the body's `customerId` (v4.0, v3.0) or `playerUniqueId` (the SDK-era
//! calls, gb-alpha's order). A number is its exact text, as the families
//! read it ([`super::wire::StringOrNumber`]), so a customer sent as `42`
//! and as `"42"` is one customer.

use serde::Deserialize;

use super::request::Params;
use super::wire::StringOrNumber;

/// Only the fields that name a customer; the rest of the body is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Named {
    customer_id: Option<StringOrNumber>,
    player_unique_id: Option<StringOrNumber>,
}

/// The customer id a request names (trimmed), if any.
pub fn named_customer(params: &Params, body: &[u8]) -> Option<String> {
    let from_path = params.get("customerId").map(str::to_owned);
    let from_body = || {
        let named: Named = serde_json::from_slice(body).ok()?;
        named.customer_id.or(named.player_unique_id).map(|c| c.0)
    };
    from_path
        .or_else(from_body)
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Option<String> {
        named_customer(&Params::default(), text.as_bytes())
    }

    #[test]
    fn every_way_a_family_names_its_customer_is_read() {
        assert_eq!(
            body(r#"{"customerId": " alice ", "coupons": ["A"]}"#).as_deref(),
            Some("alice")
        );
        assert_eq!(
            body(r#"{"playerUniqueId": "p-1", "hash": "x"}"#).as_deref(),
            Some("p-1")
        );
        assert_eq!(
            body(r#"{"customerId": 123456789012345678901234567890}"#).as_deref(),
            Some("123456789012345678901234567890"),
            "a number is its exact text"
        );
        let params = Params(vec![("customerId", "bob".to_owned())]);
        assert_eq!(named_customer(&params, b"").as_deref(), Some("bob"));
    }

    #[test]
    fn a_body_that_names_no_customer_names_none() {
        for text in [
            "",
            "not json",
            "{}",
            r#"{"customerId": ""}"#,
            r#"{"customerId": true}"#,
            "[1]",
        ] {
            assert_eq!(body(text), None, "{text}");
        }
    }
}
