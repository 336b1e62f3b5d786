//! Values that must never be printed, the reader that takes a secret or id
//! written as a TOML number (`secret_key = 12345`) as text, and the
//! placeholders a template ships instead of a secret.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// What a secret prints as.
pub const REDACTED: &str = "<redacted>";

/// A value that must never be printed: `Debug`, `Display` and `Serialize`
/// all write `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_like(d).map(Secret)
    }
}

/// Environment values are parsed as TOML values, so `APP_ID=12345` arrives
/// as a number; identifiers and secrets accept either.
fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string, found {other}"))),
    }
}

/// Whether `value` is what a template ships instead of a secret
/// (`change-me`, `<your key>`, `REPLACE_WITH_…`, `xxx`), or nothing.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    let words = ["change-me", "changeme", "change_me", "secret", "password", "todo"];
    v.is_empty()
        || words.contains(&v.as_str())
        || (v.len() >= 3 && v.bytes().all(|b| b == b'x'))
        || (v.starts_with('<') && v.ends_with('>'))
        || v.starts_with("replace-with")
        || v.starts_with("replace_with")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_are_placeholders_and_real_ones_are_not() {
        for p in [
            "",
            " ",
            "change-me",
            "CHANGE-ME",
            "changeme",
            "secret",
            "xxx",
            "XXXXXXXX",
            "<your secret key>",
            "REPLACE_WITH_GAMEBALL_SECRET_KEY",
            "replace-with-the-token",
        ] {
            assert!(is_placeholder(p), "{p:?}");
        }
        for real in [
            "s3cret",
            "shop-secret-key-123",
            "sim-app-token",
            "12345",
            "xx",
            "secret-of-shop",
        ] {
            assert!(!is_placeholder(real), "{real:?}");
        }
    }
}
