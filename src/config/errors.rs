//! Every problem found in one run, each with the key it concerns and where
//! that key was set: one line per problem, `FILE:LINE: key.path: message`
//! or `env COUPONBRIDGE_X__Y: key.path: message`, stable and greppable.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use serde::Serialize;

/// One problem: the key it concerns (`tenants.shop.voucherify.base_url`),
/// what is wrong, and where the key was set (or, for a key that is
/// missing, its table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
    #[serde(flatten)]
    pub origin: Origin,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

/// Every problem, one line each.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// The problems as a JSON array of `{key, message, origin, file, line | env}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }
}

/// Where each key read was set: what locates a problem found after reading.
#[derive(Debug, Default)]
pub(super) struct Provenance {
    pub origins: HashMap<String, Origin>,
    /// For a problem whose key and tables are all unset: the file, if any.
    pub fallback: Origin,
}

impl Provenance {
    /// The origin of `key`, or of the nearest table around it that was set.
    pub fn locate(&self, key: &str) -> Origin {
        // `store.nodes[1]` is set where `store.nodes` is.
        let mut key = key.split('[').next().unwrap_or(key);
        loop {
            if let Some(origin) = self.origins.get(key).filter(|o| **o != Origin::Default) {
                return origin.clone();
            }
            match key.rsplit_once('.') {
                Some((parent, _)) => key = parent,
                None => return self.fallback.clone(),
            }
        }
    }
}

/// Problems found while validating, by key; located once reading is done.
#[derive(Default)]
pub(super) struct Errors(pub Vec<(String, String)>);

impl Errors {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }

    /// `text` as a duration; the `fallback` (and an error) when it is not one.
    pub fn duration(&mut self, key: &str, text: &str) -> Duration {
        humantime::parse_duration(text).unwrap_or_else(|e| {
            self.push(
                key,
                format!("\"{text}\" is not a duration ({e}); write e.g. \"500ms\", \"10m\", \"24h\""),
            );
            Duration::ZERO
        })
    }

    pub fn addr(&mut self, key: &str, text: &str) -> SocketAddr {
        text.parse().unwrap_or_else(|_| {
            self.push(
                key,
                format!("\"{text}\" is not an address; write e.g. \"0.0.0.0:8080\""),
            );
            SocketAddr::from(([0, 0, 0, 0], 0))
        })
    }

    pub fn http_url(&mut self, key: &str, text: &str) -> Option<Uri> {
        match text.parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => Some(u),
            Ok(u) if u.scheme_str().is_some() => {
                let scheme = u.scheme_str().unwrap_or_default();
                let hint = suggest(scheme, &["http", "https"])
                    .map(|s| format!(" (did you mean {s}://?)"))
                    .unwrap_or_default();
                self.push(
                    key,
                    format!("\"{text}\" has the scheme {scheme}://; expected an http:// or https:// URL{hint}"),
                );
                None
            }
            _ => {
                self.push(key, format!("\"{text}\" is not an http:// or https:// URL"));
                None
            }
        }
    }
}

/// Where a value in force came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "origin", rename_all = "lowercase")]
pub enum Origin {
    /// Set nowhere: the default applies.
    #[default]
    Default,
    /// The file; `line` is 1-based (none for the file as a whole).
    File {
        file: PathBuf,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
    },
    /// An environment variable.
    Env { env: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { file, line: Some(l) } => write!(f, "{}:{l}", file.display()),
            Origin::File { file, line: None } => write!(f, "{}", file.display()),
            Origin::Env { env } => write!(f, "env {env}"),
        }
    }
}

/// The known word closest to `word`, when it is close enough to be a typo.
pub(super) fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
