//! The effective configuration as `check-config --effective` prints it:
//! every key, its value in force (secrets as `<redacted>`) and where it came
//! from. The text form is TOML (dotted keys, one per line), so it can be
//! read back; the origin is a comment after each value.

use super::read::Entry;

/// One line per key: `server.listen = "0.0.0.0:8080"  # default`; a key
/// that is not set is a comment saying what that means.
pub fn text(entries: &[Entry]) -> String {
    let mut out =
        String::from("# The effective configuration: every key, its value in force and where it came from.\n");
    let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
    for e in entries {
        let key = toml_key(&e.key);
        match &e.value {
            Some(v) => {
                let value = toml_value(v);
                let pad = (width + 24).saturating_sub(key.len() + value.len() + 3);
                out.push_str(&format!("{key} = {value}{:pad$}  # {}\n", "", e.origin));
            }
            None => out.push_str(&format!("# {key}: not set ({})\n", e.unset.unwrap_or("no default"))),
        }
    }
    out
}

/// The entries as a JSON array of `{key, value, origin, file, line | env, unset}`.
pub fn json(entries: &[Entry]) -> serde_json::Value {
    serde_json::to_value(entries).unwrap_or_default()
}

/// A dotted TOML key, each segment quoted when it is not a bare key.
fn toml_key(key: &str) -> String {
    key.split('.')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                s.to_owned()
            } else {
                toml::Value::String(s.to_owned()).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn toml_value(v: &serde_json::Value) -> String {
    toml::Value::try_from(v).map_or_else(|_| v.to_string(), |t| t.to_string())
}
