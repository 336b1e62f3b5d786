//! What a family reads from a request and the settings it parses and
//! renders with: the matched route's parameters, the headers, the body,
//! the tenant's money precision, lock limits and messages.

use http::{HeaderMap, HeaderValue};

use crate::config::{LockConfig, Messages};
use crate::domain::{Command, PassOn};

/// A dialect of Gameball's API: how a route's answers and errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Seed,
    Published,
    Hold,
    Legacy,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Seed => "seed",
            Dialect::Published => "published",
            Dialect::Hold => "hold",
            Dialect::Legacy => "legacy",
        }
    }
}

pub const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");

/// A request's path parameters (percent-decoded, in their original case),
/// by the names the route's pattern gives them.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// What a family reads from a request.
pub struct RequestView<'a> {
    pub method: &'a str,
    /// Path and query, as the client asked.
    pub path: &'a str,
    pub params: &'a Params,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl RequestView<'_> {
    /// A path parameter the route table guarantees, trimmed.
    pub fn param(&self, name: &str) -> String {
        self.params.get(name).unwrap_or_default().trim().to_owned()
    }

    /// Whether the route's path has this parameter.
    pub fn has_param(&self, name: &str) -> bool {
        self.params.get(name).is_some()
    }

    /// The call as the merchant made it, to pass on to Gameball with
    /// `body` (the merchant's own, or less what couponbridge does itself).
    pub fn call_with(&self, body: Vec<u8>) -> PassOn {
        PassOn {
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            headers: self
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
        }
    }

    /// The call exactly as the merchant made it.
    pub fn call(&self) -> PassOn {
        self.call_with(self.body.to_vec())
    }
}

/// The tenant's settings a parse needs (money precision, lock limits).
pub struct ParseCtx<'a> {
    pub decimals: u32,
    pub locks: &'a LockConfig,
}

/// The tenant's settings a render needs.
pub struct RenderCtx<'a> {
    pub decimals: u32,
    pub messages: &'a Messages,
}

/// A parsed request, and the body's proof of the secret key when the
/// dialect carries one (the SDK-era `hash`).
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    pub proof: Option<HashProof>,
}

impl From<Command> for Parsed {
    fn from(command: Command) -> Self {
        Parsed { command, proof: None }
    }
}

/// `hash` = lowercase hex SHA-1 of `"{playerUniqueId}:::{secretKey}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashProof {
    pub player: String,
    pub hash: String,
}
