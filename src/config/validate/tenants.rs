//! `[routes]` and each `[tenants.NAME]`: its credentials, Voucherify, its
//! routes, messages, loyalty program and rewards.

use std::collections::{BTreeMap, HashSet};

use http::Uri;

use super::super::errors::Errors;
use super::super::raw::{RawConfig, RawMigration, RawTenant};
use super::super::routes::{Routes, Shares};
use super::super::runtime::*;
use super::super::secret::{Secret, is_placeholder};

const NEEDS_UPSTREAM: &str = "a route is set to passthrough or shadow but [passthrough] upstream is not configured";

/// The global routes and every tenant.
pub(super) fn tenants(
    raw: &RawConfig,
    guard: &GuardConfig,
    has_upstream: bool,
    e: &mut Errors,
) -> (Routes, Vec<TenantConfig>) {
    let global = Routes::default().overlay(&raw.routes, "routes", e);
    let shares = Shares::default().overlay(&raw.rollout.shares, "rollout", e);
    if global.any_forwarded() && !has_upstream {
        e.push("routes", NEEDS_UPSTREAM);
    }
    if raw.tenants.is_empty() {
        e.push("tenants", "no tenant is configured; add a [tenants.NAME] table");
    }
    let mut api_keys = HashSet::new();
    let tenants = raw
        .tenants
        .iter()
        .map(|(name, t)| tenant(raw, name, t, (global, shares, guard), has_upstream, &mut api_keys, e))
        .collect();
    (global, tenants)
}

fn tenant(
    raw: &RawConfig,
    name: &str,
    t: &RawTenant,
    (global, shares, guard): (Routes, Shares, &GuardConfig),
    has_upstream: bool,
    api_keys: &mut HashSet<String>,
    e: &mut Errors,
) -> TenantConfig {
    let k = |field: &str| format!("tenants.{name}.{field}");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        e.push(
            format!("tenants.{name}"),
            "tenant names use a-z, 0-9, _ and - (environment variables are lowercased)",
        );
    }
    let api_key = t.api_key.clone().unwrap_or_default();
    if api_key.is_empty() {
        e.push(k("api_key"), "is required");
    } else if !api_keys.insert(api_key.clone()) {
        e.push(
            k("api_key"),
            "is used by another tenant; each apikey selects one tenant",
        );
    }
    let secret_key = required_secret(&t.secret_key, &k("secret_key"), e);
    if t.currency_decimals > 6 {
        e.push(k("currency_decimals"), "must be between 0 and 6");
    }
    let routes = global.overlay(&t.routes, &k("routes"), e);
    if t.routes.values().any(|m| m.forwards()) && !has_upstream {
        e.push(k("routes"), NEEDS_UPSTREAM);
    }
    let migration = migration(&global_migration(raw), &t.migration, &k, has_upstream, e);
    TenantConfig {
        name: name.to_owned(),
        api_key,
        secret_key,
        currency_decimals: t.currency_decimals,
        dialect: t.dialect,
        voucherify: voucherify(t, &k, e),
        routes,
        messages: t.messages.clone(),
        rewards: rewards(t, &k, e),
        migration,
        rollout: shares.overlay(&t.rollout, &k("rollout"), e),
        rollout_guard: super::rollout::tenant_guard(guard, &t.rollout_guard, &k("rollout.guard"), e),
    }
}

/// A secret the tenant cannot work without: set, and not a template's
/// placeholder.
fn required_secret(secret: &Option<Secret>, key: &str, e: &mut Errors) -> Secret {
    let secret = secret.clone().unwrap_or_default();
    if secret.expose().trim().is_empty() {
        e.push(key, "is required");
    } else if is_placeholder(secret.expose()) {
        let var = format!("COUPONBRIDGE_{}", key.to_ascii_uppercase().replace('.', "__"));
        e.push(
            key,
            format!("is a placeholder, not a secret; set the real one (e.g. in {var})"),
        );
    }
    secret
}

fn voucherify(t: &RawTenant, k: &dyn Fn(&str) -> String, e: &mut Errors) -> VoucherifyConfig {
    let v = &t.voucherify;
    let base_url = match v.base_url.as_deref() {
        Some(u) => e.http_url(&k("voucherify.base_url"), u.trim_end_matches('/')),
        None => {
            e.push(k("voucherify.base_url"), "is required (e.g. https://api.voucherify.io)");
            None
        }
    };
    // Both become header values: `serve` would refuse a control character
    // or a non-ASCII byte, so `check-config` does.
    let header = |e: &mut Errors, field: &str, value: &str| {
        if value.is_empty() {
            e.push(k(field), "is required");
        } else if http::HeaderValue::from_str(value).is_err() {
            e.push(k(field), "must be printable ASCII (it is sent as an HTTP header)");
        }
    };
    let app_id = v.app_id.clone().unwrap_or_default();
    header(e, "voucherify.app_id", &app_id);
    let app_token = required_secret(&v.app_token, &k("voucherify.app_token"), e);
    if !app_token.expose().is_empty() {
        header(e, "voucherify.app_token", app_token.expose());
    }
    let http2 = match v.http2.as_str() {
        "auto" => Http2::Auto,
        "always" => Http2::Always,
        "never" => Http2::Never,
        other => {
            e.push(
                k("voucherify.http2"),
                format!("\"{other}\" is not one of \"auto\", \"always\", \"never\""),
            );
            Http2::Auto
        }
    };
    VoucherifyConfig {
        base_url: base_url.unwrap_or_else(|| Uri::from_static("http://invalid")),
        app_id,
        app_token,
        timeout: e.duration(&k("voucherify.timeout"), &v.timeout),
        http2,
        definitions_ttl: e.duration(&k("voucherify.definitions_ttl"), &v.definitions_ttl),
    }
}

/// `[tenants.NAME.loyalty]` and `[tenants.NAME.rewards]`: rule ids are
/// Gameball's integers, reward ids Voucherify's; a mapping without a
/// loyalty program could never redeem.
fn rewards(t: &RawTenant, k: &dyn Fn(&str) -> String, e: &mut Errors) -> RewardsConfig {
    let campaign = t.loyalty.campaign.as_deref().map(str::trim).map(str::to_owned);
    if campaign.as_deref() == Some("") {
        e.push(
            k("loyalty.campaign"),
            "must not be empty (the Voucherify loyalty campaign id)",
        );
    }
    let mut by_rule = BTreeMap::new();
    for (rule, reward) in &t.rewards {
        match rule.trim().parse::<u64>() {
            Ok(_) if reward.trim().is_empty() => {
                e.push(k(&format!("rewards.{rule}")), "must name a Voucherify reward id");
            }
            Ok(id) => {
                by_rule.insert(id, reward.trim().to_owned());
            }
            Err(_) => e.push(
                k(&format!("rewards.{rule}")),
                "keys are Gameball redemption rule ids (whole numbers)",
            ),
        }
    }
    if !t.rewards.is_empty() && campaign.is_none() {
        e.push(
            k("rewards"),
            "needs [loyalty] campaign: rewards are redeemed from a loyalty card",
        );
    }
    RewardsConfig {
        loyalty_campaign: campaign.filter(|c| !c.is_empty()),
        by_rule,
    }
}

/// The global `[migration]`, its defaults filled in.
fn global_migration(raw: &RawConfig) -> MigrationConfig {
    let d = MigrationConfig::default();
    MigrationConfig {
        coupon_fallback: raw.migration.coupon_fallback.unwrap_or(d.coupon_fallback),
        forward_orders: raw.migration.forward_orders.unwrap_or(d.forward_orders),
    }
}

/// `[tenants.NAME.migration]` over the global `[migration]`. The fallback
/// asks Gameball, so it needs `[passthrough] upstream`; `forward_orders`
/// without one is harmless (there is nowhere to forward) and stays quiet.
fn migration(
    global: &MigrationConfig,
    own: &RawMigration,
    k: &dyn Fn(&str) -> String,
    has_upstream: bool,
    e: &mut Errors,
) -> MigrationConfig {
    let m = MigrationConfig {
        coupon_fallback: own.coupon_fallback.unwrap_or(global.coupon_fallback),
        forward_orders: own.forward_orders.unwrap_or(global.forward_orders),
    };
    if m.coupon_fallback && !has_upstream {
        let key = if own.coupon_fallback.is_some() {
            k("migration.coupon_fallback")
        } else {
            "migration.coupon_fallback".to_owned()
        };
        e.push(
            key,
            "asks Gameball for coupons Voucherify does not have, but [passthrough] upstream is not configured",
        );
    }
    m
}
