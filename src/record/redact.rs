//! Redaction, applied before an entry is queued for disk, so nothing secret
//! is ever written, not even to a buffer.
//!
//! Three nets: credential headers by name (every spelling: header names are
//! case-insensitive); JSON body fields by configurable path; and, last, every
//! configured secret value wherever it appears in any recorded text (a
//! secret echoed in an upstream error body, a key pasted into a query
//! string). Values are replaced by `<redacted>`, or by a keyed hash
//! (`hmac:…`) when `record.hash_key` is set, so a replay can still tell two
//! equal emails apart from two different ones without seeing either.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

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

#[derive(Clone, Default)]
pub struct Redactor {
    /// Dotted JSON paths; a path without a dot matches the key at any depth.
    paths: Vec<Vec<String>>,
    /// Known secret values (api keys, secret keys, app ids and tokens).
    secrets: Vec<String>,
    hash_key: Option<Vec<u8>>,
}

impl Redactor {
    pub fn new(paths: &[String], secrets: Vec<String>, hash_key: Option<&str>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor {
            paths: paths
                .iter()
                .map(|p| p.split('.').map(str::to_owned).collect())
                .collect(),
            secrets,
            hash_key: hash_key.map(|k| k.as_bytes().to_vec()),
        }
    }

    pub fn is_secret_header(name: &str) -> bool {
        SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
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

    pub fn json(&self, v: &mut Value) {
        for path in &self.paths {
            if path.len() == 1 {
                self.mask_key_anywhere(v, &path[0]);
            } else {
                self.mask_path(v, path);
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

    fn mask_key_anywhere(&self, v: &mut Value, key: &str) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if k == key {
                        self.mask_value(child);
                    } else {
                        self.mask_key_anywhere(child, key);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.mask_key_anywhere(i, key)),
            _ => {}
        }
    }

    fn mask_path(&self, v: &mut Value, path: &[String]) {
        let Some((head, rest)) = path.split_first() else {
            self.mask_value(v);
            return;
        };
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if head == "*" || k == head {
                        self.mask_path(child, rest);
                    }
                }
            }
            Value::Array(items) if head == "*" || head == "[]" => {
                items.iter_mut().for_each(|i| self.mask_path(i, rest));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r() -> Redactor {
        Redactor::new(
            &["email".into(), "customer.phone".into()],
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
    fn json_fields_are_masked_by_name_anywhere_or_by_path() {
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
        let r = Redactor::new(&["email".into()], vec![], Some("k"));
        let a = r.mask("a@b.c");
        assert_eq!(a, r.mask("a@b.c"));
        assert_ne!(a, r.mask("other@b.c"));
        assert!(a.starts_with("hmac:") && !a.contains("a@b.c"));
    }
}
