//! The typed link from a route row to its endpoint family: which dialects
//! the family speaks for the row's operation, and how it parses and
//! renders in each. A row's [`Endpoint`] variant names the dialects; a
//! family that does not speak them has no [`Wire`] of that type to give,
//! so the row does not compile.

use super::request::{Dialect, ParseCtx, Parsed, RenderCtx, RequestView};
use crate::config::V4Dialect;
use crate::domain::{Answer, Operation};
use crate::error::Failure;

/// How a family reads the requests of one operation and writes its
/// answers, in the dialects of `D`: [`V4Dialect`] (seed or published, the
/// tenant's choice), [`HoldApi`] or [`SdkApi`].
pub struct Wire<D: 'static> {
    pub op: Operation,
    pub parse: fn(D, &RequestView<'_>, &ParseCtx<'_>) -> Result<Parsed, Failure>,
    pub render: fn(D, &Answer, &RenderCtx<'_>) -> Result<Vec<u8>, Failure>,
}

/// The v3.0 hold API: the published shapes with `holdReference`, errors as
/// `{code, message}`.
#[derive(Debug, Clone, Copy)]
pub struct HoldApi;

/// The SDK-era discount-coupon API: its own bodies, a body `hash`, errors
/// as `{code, message}`.
#[derive(Debug, Clone, Copy)]
pub struct SdkApi;

/// Who speaks for a route, with its family's wire: the row's type says
/// which dialects the family must speak.
#[derive(Clone, Copy)]
pub enum Endpoint {
    /// The tenant's v4 dialect (`seed` or `published`).
    V4(&'static Wire<V4Dialect>),
    Hold(&'static Wire<HoldApi>),
    Sdk(&'static Wire<SdkApi>),
}

impl Endpoint {
    pub fn op(self) -> Operation {
        match self {
            Endpoint::V4(w) => w.op,
            Endpoint::Hold(w) => w.op,
            Endpoint::Sdk(w) => w.op,
        }
    }

    /// The endpoint as spoken to this tenant (`seed` when the caller names
    /// no tenant).
    pub fn spoken(self, tenant: Option<V4Dialect>) -> Spoken {
        match self {
            Endpoint::V4(w) => Spoken::V4(w, tenant.unwrap_or_default()),
            Endpoint::Hold(w) => Spoken::Hold(w),
            Endpoint::Sdk(w) => Spoken::Sdk(w),
        }
    }

    /// For the route table of docs/gameball.md.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::V4(_) => "seed / published",
            Endpoint::Hold(_) => "hold (v3.0)",
            Endpoint::Sdk(_) => "legacy (SDK)",
        }
    }
}

/// An endpoint bound to the dialect that answers this request.
#[derive(Clone, Copy)]
pub enum Spoken {
    V4(&'static Wire<V4Dialect>, V4Dialect),
    Hold(&'static Wire<HoldApi>),
    Sdk(&'static Wire<SdkApi>),
}

impl Spoken {
    pub fn dialect(self) -> Dialect {
        match self {
            Spoken::V4(_, V4Dialect::Seed) => Dialect::Seed,
            Spoken::V4(_, V4Dialect::Published) => Dialect::Published,
            Spoken::Hold(_) => Dialect::Hold,
            Spoken::Sdk(_) => Dialect::Legacy,
        }
    }

    pub fn parse(self, req: &RequestView<'_>, cx: &ParseCtx<'_>) -> Result<Parsed, Failure> {
        match self {
            Spoken::V4(w, d) => (w.parse)(d, req, cx),
            Spoken::Hold(w) => (w.parse)(HoldApi, req, cx),
            Spoken::Sdk(w) => (w.parse)(SdkApi, req, cx),
        }
    }

    /// The 200 answer's body.
    pub fn render(self, answer: &Answer, cx: &RenderCtx<'_>) -> Result<Vec<u8>, Failure> {
        match self {
            Spoken::V4(w, d) => (w.render)(d, answer, cx),
            Spoken::Hold(w) => (w.render)(HoldApi, answer, cx),
            Spoken::Sdk(w) => (w.render)(SdkApi, answer, cx),
        }
    }
}

/// An answer a family's render was not written for: a bug in the
/// operation that gave it.
pub fn unexpected(family: &str, answer: &Answer) -> Failure {
    Failure::internal(format!("the {family} family has no answer for {answer:?}"))
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.op().name(), self.label())
    }
}
