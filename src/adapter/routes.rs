//! The route table: method + API version family + path pattern → the
//! operation to run and the dialect that speaks for it. Everything a
//! Gameball client can call is one row of [`ROUTES`]; the README's
//! route × dialect table is generated from it (and a test checks it is).
//!
//! Matching (matchit, the router under axum) is done on the path with ASCII
//! letters lowercased, because Gameball's older SDKs write `Integrations`
//! and `Coupon/Validate`; path parameters are then cut from the original
//! path at the same offsets, so a coupon code keeps its case.

use std::collections::HashMap;
use std::sync::OnceLock;

use http::Method;
use percent_encoding::percent_decode_str;

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

    /// The prefix the README shows.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::V4 => "/api/v4.0",
            Family::V3 => "/api/v3.0",
            Family::V2 => "/api/v2.0",
        }
    }
}

/// Every operation couponbridge translates. The name is its key in
/// `[routes]` and its `route` label in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Validate,
    ValidateSingle,
    LockDetails,
    Release,
    Burn,
    Orders,
    /// The SDK-era `coupon/validate`: a validation with no session.
    CouponValidate,
    /// The SDK-era `coupon/redeem`: one redemption by code, exactly once.
    CouponRedeem,
    /// The SDK-era `coupon` (create).
    CouponCreate,
    /// A coupon bought with points (a loyalty reward redemption).
    Predefined,
    /// The coupons published to a customer.
    CustomerCoupons,
    /// The best automatic promotion for a cart (a qualification).
    Automatic,
    /// A payment with coupons: redeemed like an order, once per payment.
    Payments,
    /// A refund or a cancellation: the order's or payment's redemptions
    /// rolled back, once.
    Refunds,
}

impl Operation {
    pub const ALL: [Operation; 14] = [
        Operation::Validate,
        Operation::ValidateSingle,
        Operation::LockDetails,
        Operation::Release,
        Operation::Burn,
        Operation::Orders,
        Operation::CouponValidate,
        Operation::CouponRedeem,
        Operation::CouponCreate,
        Operation::Predefined,
        Operation::CustomerCoupons,
        Operation::Automatic,
        Operation::Payments,
        Operation::Refunds,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Validate => "validate",
            Operation::ValidateSingle => "validate_single",
            Operation::LockDetails => "lock_details",
            Operation::Release => "release",
            Operation::Burn => "burn",
            Operation::Orders => "orders",
            Operation::CouponValidate => "coupon_validate",
            Operation::CouponRedeem => "coupon_redeem",
            Operation::CouponCreate => "coupon_create",
            Operation::Predefined => "predefined",
            Operation::CustomerCoupons => "customer_coupons",
            Operation::Automatic => "automatic",
            Operation::Payments => "payments",
            Operation::Refunds => "refunds",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Its position in per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Who speaks for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The tenant's v4 dialect (`seed` or `published`).
    TenantV4,
    /// The v3.0 hold API: the published shapes with `holdReference`.
    Hold,
    /// The SDK-era discount-coupon API: its own bodies, `{code, message}`
    /// errors and a body `hash`.
    Legacy,
}

impl Speaker {
    pub fn label(self) -> &'static str {
        match self {
            Speaker::TenantV4 => "seed / published",
            Speaker::Hold => "hold (v3.0)",
            Speaker::Legacy => "legacy (SDK)",
        }
    }
}

#[derive(Debug)]
pub struct Row {
    pub method: Method,
    pub family: Family,
    /// Below `/api/{version}`; `{name}` is a path parameter.
    pub path: &'static str,
    pub op: Operation,
    pub speaker: Speaker,
}

impl Row {
    /// Whether the `secretkey` header may be left out (it is checked when
    /// sent). The SDK-era API proves the secret with the body's `hash`;
    /// Gameball's spec lists automatic coupons under the API key alone.
    pub fn secret_optional(&self) -> bool {
        self.speaker == Speaker::Legacy || self.op == Operation::Automatic
    }
}

const fn row(method: Method, family: Family, path: &'static str, op: Operation, speaker: Speaker) -> Row {
    Row {
        method,
        family,
        path,
        op,
        speaker,
    }
}

use Family::{V2, V3, V4};
use Operation::*;
use Speaker::{Hold, Legacy, TenantV4};

// One row per line: the table reads as a table.
#[rustfmt::skip]
pub static ROUTES: &[Row] = &[
    row(Method::POST, V4, "/integrations/coupons/validate", Validate, TenantV4),
    row(Method::POST, V4, "/integrations/coupons/{code}/validate", ValidateSingle, TenantV4),
    row(Method::GET, V4, "/integrations/locks/{reference}", LockDetails, TenantV4),
    row(Method::DELETE, V4, "/integrations/coupons/{reference}", Release, TenantV4),
    // Seed 001's alias, in no published spec.
    row(Method::POST, V4, "/integrations/coupons/release", Release, TenantV4),
    row(Method::POST, V4, "/integrations/coupons/burn", Burn, TenantV4),
    row(Method::POST, V4, "/integrations/orders", Orders, TenantV4),
    row(Method::POST, V4, "/integrations/coupons/predefined", Predefined, TenantV4),
    row(Method::GET, V4, "/integrations/customers/{customerId}/coupons", CustomerCoupons, TenantV4),
    row(Method::POST, V4, "/integrations/coupons/automatic", Automatic, TenantV4),
    row(Method::POST, V4, "/integrations/payments", Payments, TenantV4),
    row(Method::POST, V4, "/integrations/transactions/refund", Refunds, TenantV4),
    // In Gameball's spec as a broken copy of "delete a customer"; here it
    // cancels the order (its coupons' redemptions rolled back).
    row(Method::DELETE, V4, "/integrations/orders/{orderId}/transactions", Refunds, TenantV4),
    row(Method::POST, V3, "/integrations/coupons/validate", Validate, Hold),
    row(Method::POST, V3, "/integrations/coupons/{code}/validate", ValidateSingle, Hold),
    row(Method::POST, V3, "/integrations/coupons/{reference}/burn", Burn, Hold),
    row(Method::DELETE, V3, "/integrations/coupons/{reference}/release", Release, Hold),
    row(Method::POST, V3, "/integrations/coupon/validate", CouponValidate, Legacy),
    row(Method::POST, V3, "/integrations/coupon/redeem", CouponRedeem, Legacy),
    row(Method::POST, V3, "/integrations/coupon", CouponCreate, Legacy),
    row(Method::POST, V2, "/integrations/coupon/validate", CouponValidate, Legacy),
    row(Method::POST, V2, "/integrations/coupon/redeem", CouponRedeem, Legacy),
    row(Method::POST, V2, "/integrations/coupon", CouponCreate, Legacy),
];

/// A matched request: its row, its path parameters (percent-decoded, in
/// their original case) and the version segment as the client wrote it.
#[derive(Debug, Clone)]
pub struct Matched {
    pub row: &'static Row,
    pub version: String,
    params: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn op(&self) -> Operation {
        self.row.op
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
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
        params,
    })
}

/// The `'static` spelling of a parameter name from the row's pattern.
fn param_name(pattern: &'static str, name: &str) -> Option<&'static str> {
    pattern
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .find(|n| *n == name)
}

/// The README's route × dialect table, from [`ROUTES`].
pub fn markdown_table() -> String {
    let mut out = String::from("| method | path | operation (`[routes]` key) | dialect |\n|---|---|---|---|\n");
    for r in ROUTES {
        out.push_str(&format!(
            "| {} | `{}{}` | `{}` | {} |\n",
            r.method,
            r.family.prefix(),
            r.path,
            r.op.name(),
            r.speaker.label()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            (m.op(), m.row.speaker, m.param("reference")),
            (Burn, Hold, Some("Ref1"))
        );
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

    #[test]
    fn operation_names_round_trip() {
        for o in Operation::ALL {
            assert_eq!(Operation::from_name(o.name()), Some(o));
            assert_eq!(Operation::ALL[o.index()], o);
        }
    }
}
