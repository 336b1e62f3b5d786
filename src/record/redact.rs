//! Redaction, applied before an entry is queued for disk, so nothing secret
//! is ever written, not even to a buffer.
//!
//! Four nets: credential headers by name (every spelling: header names are
//! case-insensitive, and any header naming a signature); values derived
//! from a secret wherever they are in a JSON body (the SDK-era `hash`, a
//! SHA-1 of the player and the secret key that is a standing credential and
//! an offline check of the key; any `signature`), always; JSON body values
//! by configurable JSONPath queries (`[record] redact_json`); and, last,
//! every configured secret value wherever it appears in any recorded text
//! (a secret echoed in an upstream error body, a key pasted into a query
//! string). Values are replaced by `<redacted>`, or by a keyed hash
//! (`hmac:…`) when `record.hash_key` is set, so a replay can still tell two
//! equal emails apart from two different ones without seeing either.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::compare::{JsonPath, Step};
use crate::config::RedactionConfig;

pub const MARKER: &str = "<redacted>";

/// Headers that carry credentials, lowercase.
const SECRET_HEADERS: [&str; 10] = [
    "apikey",
    "secretkey",
    "x-app-id",
    "x-app-token",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-client-token",
    "x-client-application-id",
];

/// Body values derived from a secret, redacted whatever `redact_json` says.
pub const SECRET_DERIVED_JSON: [&str; 2] = ["$..hash", "$..signature"];

#[derive(Clone, Default)]
pub struct Redactor {
    /// The secret-derived queries, then the configured ones.
    paths: Vec<JsonPath>,
    /// Known secret values (api keys, secret keys, app ids and tokens).
    secrets: Vec<String>,
    hash_key: Option<Vec<u8>>,
}

impl Redactor {
    pub fn new(paths: &[JsonPath], secrets: Vec<String>, hash_key: Option<&str>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let derived = SECRET_DERIVED_JSON.map(|p| JsonPath::parse(p).expect("the built-in queries are JSONPath"));
        Redactor {
            paths: derived.into_iter().chain(paths.iter().cloned()).collect(),
            secrets,
            hash_key: hash_key.map(|k| k.as_bytes().to_vec()),
        }
    }

    /// The configured redaction, over these secret values.
    pub fn from_config(cfg: &RedactionConfig, secrets: Vec<String>) -> Self {
        Redactor::new(&cfg.json, secrets, cfg.hash_key.as_ref().map(|k| k.expose()))
    }

    pub fn is_secret_header(name: &str) -> bool {
        SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) || name.to_ascii_lowercase().contains("signature")
    }

    /// The replacement for a redacted value.
    pub fn mask(&self, value: &str) -> String {
        match &self.hash_key {
            None => MARKER.to_owned(),
            Some(key) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
                mac.update(value.as_bytes());
                let digest = mac.finalize().into_bytes();
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("hmac:{hex}")
            }
        }
    }

    /// A header value as it may be recorded.
    pub fn header(&self, name: &str, value: &str) -> String {
        if Self::is_secret_header(name) {
            self.mask(value)
        } else {
            self.text(value)
        }
    }

    /// Free text with every known secret value replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MARKER);
            }
        }
        out
    }

    /// A body as it may be recorded: JSON with the configured fields masked,
    /// then the secret-value net over the result.
    pub fn body(&self, bytes: &[u8]) -> String {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(mut v) => {
                self.json(&mut v);
                self.text(&v.to_string())
            }
            Err(_) => self.text(&String::from_utf8_lossy(bytes)),
        }
    }

    /// Masks every value a query selects. The locations are found first
    /// (a query reads), then masked (a value inside one already masked is
    /// gone, and skipped).
    pub fn json(&self, v: &mut Value) {
        let locations: Vec<Vec<Step>> = self.paths.iter().flat_map(|p| p.locate(v)).collect();
        for location in locations {
            if let Some(target) = find_mut(v, &location) {
                self.mask_value(target);
            }
        }
    }

    fn mask_value(&self, v: &mut Value) {
        if !v.is_null() {
            let text = match &*v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            *v = Value::String(self.mask(&text));
        }
    }
}

fn find_mut<'v>(v: &'v mut Value, location: &[Step]) -> Option<&'v mut Value> {
    location.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queries(texts: &[&str]) -> Vec<JsonPath> {
        texts.iter().map(|t| JsonPath::parse(t).unwrap()).collect()
    }

    fn r() -> Redactor {
        Redactor::new(
            &queries(&["$..email", "$.customer.phone"]),
            vec!["sk_live_123456".into(), "tok_abcdef".into()],
            None,
        )
    }

    #[test]
    fn credential_headers_are_masked_in_every_spelling() {
        let r = r();
        for name in [
            "apikey",
            "APIKey",
            "SecretKey",
            "secretKey",
            "X-App-Token",
            "Authorization",
            "Cookie",
        ] {
            assert_eq!(r.header(name, "anything"), MARKER, "{name}");
        }
        assert_eq!(r.header("content-type", "application/json"), "application/json");
    }

    #[test]
    fn json_values_are_masked_by_query() {
        let r = r();
        let mut v =
            json!({"email": "a@b.c", "customer": {"email": "x@y.z", "phone": "123", "name": "n"}, "phone": "keep"});
        r.json(&mut v);
        assert_eq!(v["email"], MARKER);
        assert_eq!(v["customer"]["email"], MARKER);
        assert_eq!(v["customer"]["phone"], MARKER);
        assert_eq!(v["phone"], "keep", "a dotted path matches from the root only");
        assert_eq!(v["customer"]["name"], "n");
    }

    #[test]
    fn known_secret_values_are_masked_anywhere_in_text() {
        let r = r();
        let body = r.body(br#"{"message": "bad token tok_abcdef for sk_live_123456"}"#);
        assert!(
            !body.contains("tok_abcdef") && !body.contains("sk_live_123456"),
            "{body}"
        );
        assert_eq!(r.text("/path?apikey=sk_live_123456"), "/path?apikey=<redacted>");
    }

    #[test]
    fn keyed_hashes_are_stable_and_hide_the_value() {
        let r = Redactor::new(&queries(&["$..email"]), vec![], Some("k"));
        let a = r.mask("a@b.c");
        assert_eq!(a, r.mask("a@b.c"));
        assert_ne!(a, r.mask("other@b.c"));
        assert!(a.starts_with("hmac:") && !a.contains("a@b.c"));
    }

    #[test]
    fn every_shape_a_query_names_is_masked() {
        let r = Redactor::new(
            &queries(&["$.a[*].email", "$.m[*][*].name", "$.deep.x.y", "$.list[1]", "$..card"]),
            vec![],
            None,
        );
        let mut v = json!({
            "a": [{"email": "A@x"}, {"email": "B@x", "keep": 1}],
            "m": [[{"name": "n1"}, {"name": "n2"}], [{"name": "n3"}]],
            "deep": {"x": {"y": {"nested": "obj"}}},
            "list": ["keep", "drop"],
            "card": null,
            "o": {"card": 4111}
        });
        r.json(&mut v);
        assert_eq!(
            v,
            json!({
                "a": [{"email": MARKER}, {"email": MARKER, "keep": 1}],
                "m": [[{"name": MARKER}, {"name": MARKER}], [{"name": MARKER}]],
                "deep": {"x": {"y": MARKER}},
                "list": ["keep", MARKER],
                "card": null,
                "o": {"card": MARKER}
            })
        );
    }

    #[test]
    fn values_derived_from_a_secret_are_masked_whatever_is_configured() {
        let r = Redactor::new(&[], vec![], None);
        let body = r.body(br#"{"playerUniqueId": "p1", "code": "C", "hash": "ff453a2f423ad5ee3b8f1b4c0d5e44d9dd8cd3a4", "x": {"signature": "abc"}}"#);
        assert!(!body.contains("ff453a2f") && !body.contains("abc"), "{body}");
        assert!(body.contains("p1"), "{body}");
        assert_eq!(r.header("X-GB-Signature", "sha256=1"), MARKER);
    }
}
