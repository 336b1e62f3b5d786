//! The route table: method + API version family + path pattern → the
//! endpoint family's typed wire, which names the operation and the
//! dialects that speak it. Everything a Gameball client can call is one
//! row of [`ROUTES`]; the documented route × dialect table is generated
//! from it (and a test checks it is).
//!
//! Matching (matchit, the router under axum) is done on the path with ASCII
//! letters lowercased, because Gameball's older SDKs write `Integrations`
//! and `Coupon/Validate`; path parameters are then cut from the original
//! path at the same offsets, so a coupon code keeps its case.

use std::collections::HashMap;
use std::sync::OnceLock;

use http::Method;
use percent_encoding::percent_decode_str;

use super::endpoint::Endpoint;
use super::request::Params;
use crate::domain::Operation;

/// The API version families: the `/api/{version}/` prefix, kept after
/// matching so a dialect knows what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `v4.0`, `v4`, `v4.1` (same paths; v4.1 is "Secure Integration Mode").
    V4,
    /// `v3.0`: the hold API and the SDK-era discount-coupon API.
    V3,
    /// `v2.0`: the SDK-era discount-coupon API.
    V2,
}

impl Family {
    /// The family of a version segment, without regard to case.
    pub fn of(version: &str) -> Option<Family> {
        match version.to_ascii_lowercase().as_str() {
            "v4.0" | "v4" | "v4.1" => Some(Family::V4),
            "v3.0" | "v3" => Some(Family::V3),
            "v2.0" | "v2" => Some(Family::V2),
            _ => None,
        }
    }

    /// The prefix the route table in docs/gameball.md shows.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::V4 => "/api/v4.0",
            Family::V3 => "/api/v3.0",
            Family::V2 => "/api/v2.0",
        }
    }
}

#[derive(Debug)]
pub struct Row {
    pub method: Method,
    pub family: Family,
    /// Below `/api/{version}`; `{name}` is a path parameter.
    pub path: &'static str,
    pub endpoint: Endpoint,
}

impl Row {
    pub fn op(&self) -> Operation {
        self.endpoint.op()
    }

    /// Whether the `secretkey` header may be left out (it is checked when
    /// sent). The SDK-era coupon calls prove the secret with the body's
    /// `hash` (gb-alpha's order has none, and sends the header); Gameball's
    /// spec lists automatic coupons under the API key alone.
    pub fn secret_optional(&self) -> bool {
        let proved_by_hash = matches!(self.endpoint, Endpoint::Sdk(_)) && self.op() != Operation::Orders;
        proved_by_hash || self.op() == Operation::Automatic
    }
}

const fn row(method: Method, family: Family, path: &'static str, endpoint: Endpoint) -> Row {
    Row {
        method,
        family,
        path,
        endpoint,
    }
}

use super::{automatic, burn, legacy, locks, orders, points, refunds, validate, wallet};
use Endpoint::{Hold, Sdk, V4 as Tenant};
use Family::{V2, V3, V4};

// One row per line: the table reads as a table.
#[rustfmt::skip]
pub static ROUTES: &[Row] = &[
    row(Method::POST, V4, "/integrations/coupons/validate", Tenant(&validate::MULTI)),
    row(Method::POST, V4, "/integrations/coupons/{code}/validate", Tenant(&validate::SINGLE)),
    row(Method::GET, V4, "/integrations/locks/{reference}", Tenant(&locks::DETAILS)),
    row(Method::DELETE, V4, "/integrations/coupons/{reference}", Tenant(&locks::RELEASE)),
    // Seed 001's alias, in no published spec.
    row(Method::POST, V4, "/integrations/coupons/release", Tenant(&locks::RELEASE)),
    row(Method::POST, V4, "/integrations/coupons/burn", Tenant(&burn::BURN)),
    row(Method::POST, V4, "/integrations/orders", Tenant(&orders::ORDERS)),
    row(Method::POST, V4, "/integrations/coupons/predefined", Tenant(&points::PREDEFINED)),
    row(Method::GET, V4, "/integrations/customers/{customerId}/coupons", Tenant(&wallet::CUSTOMER_COUPONS)),
    row(Method::POST, V4, "/integrations/coupons/automatic", Tenant(&automatic::AUTOMATIC)),
    row(Method::POST, V4, "/integrations/payments", Tenant(&orders::PAYMENTS)),
    row(Method::POST, V4, "/integrations/transactions/refund", Tenant(&refunds::REFUND)),
    // In Gameball's spec as a broken copy of "delete a customer"; here it
    // cancels the order (its coupons' redemptions rolled back).
    row(Method::DELETE, V4, "/integrations/orders/{orderId}/transactions", Tenant(&refunds::CANCEL)),
    row(Method::POST, V3, "/integrations/coupons/validate", Hold(&validate::MULTI_HOLD)),
    row(Method::POST, V3, "/integrations/coupons/{code}/validate", Hold(&validate::SINGLE_HOLD)),
    row(Method::POST, V3, "/integrations/coupons/{reference}/burn", Hold(&burn::BURN_HOLD)),
    // gb-alpha 3.0's `send_order`: discountCodes, a points holdReference.
    row(Method::POST, V3, "/integrations/order", Sdk(&orders::SEND_ORDER)),
    row(Method::DELETE, V3, "/integrations/coupons/{reference}/release", Hold(&locks::RELEASE_HOLD)),
    row(Method::POST, V3, "/integrations/coupon/validate", Sdk(&legacy::VALIDATE)),
    row(Method::POST, V3, "/integrations/coupon/redeem", Sdk(&legacy::REDEEM)),
    row(Method::POST, V3, "/integrations/coupon", Sdk(&legacy::CREATE)),
    row(Method::POST, V2, "/integrations/coupon/validate", Sdk(&legacy::VALIDATE)),
    row(Method::POST, V2, "/integrations/coupon/redeem", Sdk(&legacy::REDEEM)),
    row(Method::POST, V2, "/integrations/coupon", Sdk(&legacy::CREATE)),
];

/// A matched request: its row, its path parameters (percent-decoded, in
/// their original case) and the version segment as the client wrote it.
#[derive(Debug, Clone)]
pub struct Matched {
    pub row: &'static Row,
    pub version: String,
    pub params: Params,
}

impl Matched {
    pub fn op(&self) -> Operation {
        self.row.op()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }
}

/// Row indexes by path, one router per family.
type Routers = HashMap<Family, matchit::Router<Vec<usize>>>;

fn routers() -> &'static Routers {
    static ROUTERS: OnceLock<Routers> = OnceLock::new();
    ROUTERS.get_or_init(|| {
        let mut by_path: HashMap<(Family, &str), Vec<usize>> = HashMap::new();
        for (i, r) in ROUTES.iter().enumerate() {
            by_path.entry((r.family, r.path)).or_default().push(i);
        }
        let mut routers = Routers::new();
        for ((family, path), rows) in by_path {
            routers
                .entry(family)
                .or_default()
                .insert(path, rows)
                .unwrap_or_else(|e| panic!("route table: {path}: {e}"));
        }
        routers
    })
}

/// The row for a method and path, if couponbridge translates it.
pub fn route(method: &Method, path: &str) -> Option<Matched> {
    let rest = path.strip_prefix("/api/")?;
    let (version, rest) = rest.split_once('/')?;
    let family = Family::of(version)?;
    let rest = &path[path.len() - rest.len() - 1..];
    let rest = rest.trim_end_matches('/');
    let lowered = rest.to_ascii_lowercase();
    let found = routers().get(&family)?.at(&lowered).ok()?;
    let index = *found.value.iter().find(|&&i| ROUTES[i].method == *method)?;
    let row = &ROUTES[index];
    let mut params = Vec::new();
    for (name, value) in found.params.iter() {
        // Same bytes, same offsets: ASCII lowercasing keeps lengths.
        let start = value.as_ptr() as usize - lowered.as_ptr() as usize;
        let original = &rest[start..start + value.len()];
        if original.is_empty() {
            return None;
        }
        let name = param_name(row.path, name)?;
        params.push((name, percent_decode_str(original).decode_utf8_lossy().into_owned()));
    }
    Some(Matched {
        row,
        version: version.to_owned(),
        params: Params(params),
    })
}

/// The `'static` spelling of a parameter name from the row's pattern.
fn param_name(pattern: &'static str, name: &str) -> Option<&'static str> {
    pattern
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .find(|n| *n == name)
}

/// The route × dialect table of docs/gameball.md, from [`ROUTES`].
pub fn markdown_table() -> String {
    let mut out = String::from("| method | path | operation (`[routes]` key) | dialect |\n|---|---|---|---|\n");
    for r in ROUTES {
        out.push_str(&format!(
            "| {} | `{}{}` | `{}` | {} |\n",
            r.method,
            r.family.prefix(),
            r.path,
            r.op().name(),
            r.endpoint.label()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Operation::*;

    fn op(m: Method, p: &str) -> Option<Operation> {
        route(&m, p).map(|r| r.op())
    }

    #[test]
    fn every_documented_v4_prefix_and_spelling_matches() {
        for prefix in ["/api/v4.0", "/api/v4", "/api/v4.1", "/api/V4.0"] {
            assert_eq!(
                op(Method::POST, &format!("{prefix}/integrations/coupons/validate")),
                Some(Validate)
            );
        }
        let m = route(&Method::POST, "/api/v4.0/Integrations/Coupons/SAVE%2010/validate").unwrap();
        assert_eq!((m.op(), m.param("code")), (ValidateSingle, Some("SAVE 10")));
        assert_eq!(m.version, "v4.0");
        let m = route(&Method::DELETE, "/api/v4.0/integrations/coupons/AbC").unwrap();
        assert_eq!((m.op(), m.param("reference")), (Release, Some("AbC")));
        assert_eq!(
            op(Method::POST, "/api/v4.0/integrations/coupons/release"),
            Some(Release)
        );
        assert_eq!(op(Method::POST, "/api/v4.0/integrations/coupons/burn"), Some(Burn));
        assert_eq!(op(Method::GET, "/api/v4.0/integrations/locks/abc/"), Some(LockDetails));
        assert_eq!(op(Method::POST, "/api/v4.0/integrations/orders"), Some(Orders));
    }

    #[test]
    fn the_v3_hold_and_sdk_routes_match_in_any_case() {
        let m = route(&Method::POST, "/api/v3.0/integrations/coupons/Ref1/burn").unwrap();
        assert_eq!((m.op(), m.param("reference")), (Operation::Burn, Some("Ref1")));
        assert!(matches!(m.row.endpoint, Endpoint::Hold(_)));
        assert_eq!(
            op(Method::DELETE, "/api/v3.0/integrations/coupons/r/release"),
            Some(Release)
        );
        assert_eq!(
            op(Method::POST, "/api/v3.0/integrations/coupons/validate"),
            Some(Validate)
        );
        assert_eq!(
            op(Method::POST, "/api/v3.0/integrations/coupon/validate"),
            Some(CouponValidate)
        );
        assert_eq!(
            op(Method::POST, "/api/v2.0/Integrations/Coupon/Redeem"),
            Some(CouponRedeem)
        );
        assert_eq!(op(Method::POST, "/api/v2.0/Integrations/Coupon"), Some(CouponCreate));
    }

    #[test]
    fn everything_else_is_not_translated() {
        for (m, p) in [
            (Method::GET, "/api/v4.0/integrations/coupons/validate"),
            (Method::POST, "/api/v4.0/integrations/customers"),
            (Method::POST, "/api/v4.0/integrations/coupons/predefined/x"),
            (Method::GET, "/api/v4.0/integrations/locks/"),
            (Method::POST, "/api/v4.0/integrations/coupon/validate"),
            (Method::POST, "/api/v5.0/integrations/coupons/validate"),
            (Method::POST, "/healthz"),
            (Method::POST, "/api/v4.0"),
        ] {
            assert!(route(&m, p).is_none(), "{m} {p}");
        }
    }
}
