//! Recordings keep no secret: their `apikey` and `secretkey` are redacted
//! (`<redacted>`, or `hmac:…` with a hash key). Replayed online as they are,
//! every request would be refused, and the report would be a page of 401s
//! saying nothing about the adapter; replay says so once instead.

use super::load::Loaded;

/// Credentials to send instead of the recorded ones.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub apikey: Option<String>,
    pub secretkey: Option<String>,
}

/// The recorded credentials that were redacted and that nothing replaces:
/// each header's name and how many requests carry it so. Replayed as they
/// are, every one of those requests would be refused (401).
pub fn missing_credentials(loaded: &Loaded, auth: &Auth) -> Vec<(&'static str, usize)> {
    let redacted = |v: &str| v == crate::record::redact::MARKER || v.starts_with("hmac:");
    [("apikey", &auth.apikey), ("secretkey", &auth.secretkey)]
        .into_iter()
        .filter(|(_, given)| given.is_none())
        .map(|(name, _)| {
            let n = loaded
                .exchanges
                .iter()
                .filter(|ex| {
                    ex.headers
                        .iter()
                        .any(|(h, v)| h.eq_ignore_ascii_case(name) && redacted(v))
                })
                .count();
            (name, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The one message for [`missing_credentials`].
pub(super) fn credentials_message(missing: &[(&str, usize)]) -> String {
    let what: Vec<String> = missing
        .iter()
        .map(|(name, n)| format!("{name} ({n} request{})", if *n == 1 { "" } else { "s" }))
        .collect();
    format!(
        "the recording's {} {} redacted and nothing replaces {}: the target would refuse {}. \
         Give --apikey and --secretkey, or set COUPONBRIDGE_REPLAY_APIKEY and COUPONBRIDGE_REPLAY_SECRETKEY \
         (or replay --offline)",
        what.join(" and "),
        if missing.len() == 1 { "is" } else { "are" },
        if missing.len() == 1 { "it" } else { "them" },
        if missing.len() == 1 && missing[0].1 == 1 {
            "it"
        } else {
            "them all"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::load::{Answer, Exchange};

    fn exchange(headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            index: 1,
            method: "POST".into(),
            path: "/api/v4.0/integrations/coupons/validate".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: String::new(),
            answer: Answer::default(),
            legs: Vec::new(),
        }
    }

    #[test]
    fn redacted_credentials_with_nothing_to_replace_them_are_named_once() {
        let loaded = Loaded {
            exchanges: vec![
                exchange(&[("apikey", "<redacted>"), ("secretkey", "hmac:0011223344556677")]),
                exchange(&[("APIKEY", "<redacted>")]),
                exchange(&[("apikey", "a-real-key-from-a-browser-har")]),
            ],
            skipped: 0,
        };
        let none = Auth::default();
        assert_eq!(missing_credentials(&loaded, &none), [("apikey", 2), ("secretkey", 1)]);
        let message = credentials_message(&missing_credentials(&loaded, &none));
        assert!(
            message.contains("apikey (2 requests) and secretkey (1 request) are redacted"),
            "{message}"
        );
        assert!(message.contains("COUPONBRIDGE_REPLAY_APIKEY"), "{message}");
        let both = Auth {
            apikey: Some("k".into()),
            secretkey: Some("s".into()),
        };
        assert!(missing_credentials(&loaded, &both).is_empty());
        let key_only = Auth {
            apikey: Some("k".into()),
            secretkey: None,
        };
        assert_eq!(missing_credentials(&loaded, &key_only), [("secretkey", 1)]);
    }
}
