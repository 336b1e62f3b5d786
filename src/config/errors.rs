//! Every problem found in one run, each with the key it concerns.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::Uri;

/// One problem, with the key it concerns (`tenants.shop.voucherify.base_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration error(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

pub(super) struct Errors(pub Vec<ConfigError>);

impl Errors {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn duration(&mut self, key: &str, v: &Option<String>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => match humantime::parse_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    self.push(
                        key,
                        format!("\"{s}\" is not a duration ({e}); write e.g. \"500ms\", \"10m\", \"24h\""),
                    );
                    default
                }
            },
        }
    }

    pub fn addr(&mut self, key: &str, v: &Option<String>, default: &str) -> SocketAddr {
        let s = v.as_deref().unwrap_or(default);
        s.parse().unwrap_or_else(|_| {
            self.push(key, format!("\"{s}\" is not an address; write e.g. \"0.0.0.0:8080\""));
            default.parse().expect("defaults are valid addresses")
        })
    }

    pub fn http_url(&mut self, key: &str, s: &str) -> Option<Uri> {
        match s.parse::<Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => Some(u),
            _ => {
                self.push(key, format!("\"{s}\" is not an http:// or https:// URL"));
                None
            }
        }
    }
}
