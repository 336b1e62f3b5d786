//! Configuration: a TOML file, then `COUPONBRIDGE_…` environment variables
//! (`__` separates levels: `COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY`).
//!
//! Two types, as rust-rpxy does it: [`RawConfig`] ([`raw`]) is what the file
//! and the environment say, each key read on its own ([`read`]) with its
//! default; [`Config`] ([`runtime`]) is the validated runtime configuration
//! ([`validate`]). Every problem is reported in one run, each once, at its
//! key, with the file and line or the environment variable that set it
//! ([`source`]): a value of the wrong type is one error, and the rest of its
//! table is still checked; an unknown key is an error with the nearest
//! known one as a suggestion. Route modes and dialects are in [`routes`],
//! secrets (and the placeholders refused for them) in [`secret`].

pub mod effective;
mod errors;
mod messages;
pub mod raw;
mod read;
pub mod routes;
pub mod runtime;
pub mod secret;
mod source;
#[cfg(test)]
mod tests;
mod validate;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub use errors::{ConfigError, ConfigErrors, Origin};
use errors::{Errors, Provenance};
pub use messages::Messages;
pub use raw::{DEFAULT_REDACT_JSON, RawConfig};
pub use read::Entry;
use read::Reading;
pub use routes::{RouteMode, Routes, Shares, V4Dialect};
pub use runtime::*;
pub use secret::Secret;
pub use source::ENV_PREFIX;
use source::{ConfigFile, Document};

pub const DEFAULT_PATH: &str = "config/couponbridge.toml";

/// What checking a configuration found: every key in force with its value
/// and origin (secrets redacted), and the runtime configuration or every
/// problem.
pub struct Checked {
    pub effective: Vec<Entry>,
    pub result: Result<Config, ConfigErrors>,
}

/// Reads `path` (or the default file, when it exists) and the environment,
/// and validates them.
pub fn check(path: Option<&Path>) -> Checked {
    let path = match path {
        Some(p) => Some(p.to_owned()),
        None => Some(PathBuf::from(DEFAULT_PATH)).filter(|p| p.exists()),
    };
    let file = match path.as_deref().map(ConfigFile::read).transpose() {
        Ok(f) => f,
        Err(e) => return failed(vec![e]),
    };
    check_document(file.as_ref(), true)
}

fn failed(errors: Vec<ConfigError>) -> Checked {
    Checked {
        effective: Vec::new(),
        result: Err(ConfigErrors(errors)),
    }
}

fn check_document(file: Option<&ConfigFile>, env: bool) -> Checked {
    let doc = match Document::load(file, env) {
        Ok(d) => d,
        Err(errors) => return failed(errors),
    };
    let reading = RefCell::new(Reading::default());
    let raw = RawConfig::read(&doc, &reading);
    let mut reading = reading.into_inner();
    reading.provenance.fallback = doc.file_origin();
    let mut found = Errors::default();
    let config = raw.validate(&mut found);
    let errors = every_problem_once(reading.errors, found, &reading.provenance);
    Checked {
        effective: reading.entries,
        result: if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        },
    }
}

/// Reading's problems, then validation's, located; one per key, and none
/// under a key that could not be read (its default stands in, and is no
/// problem of the operator's).
fn every_problem_once(read: Vec<ConfigError>, found: Errors, provenance: &Provenance) -> Vec<ConfigError> {
    let unreadable: Vec<String> = read.iter().map(|e| e.key.clone()).collect();
    let under = |key: &str, k: &str| key == k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with(['.', '[']));
    let mut out = read;
    for (key, message) in found.0 {
        if unreadable.iter().any(|k| under(&key, k)) || out.iter().any(|e| e.key == key) {
            continue;
        }
        out.push(ConfigError {
            origin: provenance.locate(&key),
            key,
            message,
        });
    }
    // Top to bottom of the file, then the environment.
    out.sort_by_key(|e| match &e.origin {
        Origin::File { line: Some(l), .. } => (0, *l, String::new()),
        Origin::File { line: None, .. } => (1, 0, String::new()),
        Origin::Env { env } => (2, 0, env.clone()),
        Origin::Default => (3, 0, String::new()),
    });
    out
}

impl Config {
    /// Loads and validates `path` (or the default file) plus the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        check(path).result
    }

    /// Validates a configuration given as TOML text, without the
    /// environment (tests, the demo); errors name it `<inline>`.
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        check_text(text).result
    }
}

/// [`Config::from_toml`], with the effective keys.
pub fn check_text(text: &str) -> Checked {
    let file = ConfigFile {
        path: PathBuf::from("<inline>"),
        text: text.to_owned(),
    };
    check_document(Some(&file), false)
}
