//! The configuration's tests: what a valid file gives here, what an
//! operator is told about an invalid one in [`errors`], the effective
//! configuration in [`effective`].

mod effective;
mod errors;

use super::*;
use crate::domain::Operation;
use std::time::Duration;

pub(super) const MINIMAL: &str = r#"
    [store]
    url = "memory://"
    [tenants.shop]
    api_key = "k"
    secret_key = "s3cret"
    [tenants.shop.voucherify]
    base_url = "https://api.voucherify.io/"
    app_id = "id"
    app_token = "t0ken"
"#;

#[test]
fn a_minimal_config_gets_the_documented_defaults() {
    let c = Config::from_toml(MINIMAL).unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.server.max_body_bytes, 65536);
    assert_eq!(c.locks.default_duration, Duration::from_secs(600));
    assert_eq!(c.locks.retention, Duration::from_secs(86_400));
    assert_eq!(c.admin.unwrap().to_string(), "127.0.0.1:9901");
    let t = &c.tenants[0];
    assert_eq!(t.currency_decimals, 2);
    assert_eq!(t.voucherify.timeout, Duration::from_secs(5));
    assert_eq!(t.voucherify.base_url.to_string(), "https://api.voucherify.io/");
    assert!(matches!(c.store, StoreConfig::Memory));
    assert_eq!(t.routes, Routes::default());
}

#[test]
fn rewards_map_rule_ids_to_rewards_of_a_loyalty_program() {
    let ok = format!(
        "{MINIMAL}\n[tenants.shop.loyalty]\ncampaign = \"camp_1\"\n[tenants.shop.rewards]\n\"1\" = \"rew_a\"\n\"42\" = \"rew_b\"\n"
    );
    let c = Config::from_toml(&ok).unwrap();
    let r = &c.tenants[0].rewards;
    assert_eq!(r.loyalty_campaign.as_deref(), Some("camp_1"));
    assert_eq!(r.by_rule.get(&42).map(String::as_str), Some("rew_b"));

    let bad = format!("{MINIMAL}\n[tenants.shop.rewards]\none = \"rew_a\"\n\"2\" = \" \"\n");
    let errs = Config::from_toml(&bad).unwrap_err().0;
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    for expected in [
        "tenants.shop.rewards.one",
        "tenants.shop.rewards.2",
        "tenants.shop.rewards",
    ] {
        assert!(keys.contains(&expected), "{expected} not in {keys:?}");
    }
}

#[test]
fn per_tenant_routes_override_global_ones() {
    let text = format!(
        "{MINIMAL}\n[passthrough]\nupstream = \"https://api.gameball.co\"\n[routes]\nburn = \"passthrough\"\n[tenants.shop.routes]\nvalidate = \"passthrough\"\nburn = \"translate\"\n"
    );
    let c = Config::from_toml(&text).unwrap();
    let r = c.tenants[0].routes;
    assert_eq!(r.mode(Operation::Validate), RouteMode::Passthrough);
    assert_eq!(r.mode(Operation::Burn), RouteMode::Translate);
    assert_eq!(r.mode(Operation::Release), RouteMode::Translate);
    assert_eq!(c.tenants[0].dialect, V4Dialect::Seed);
}

#[test]
fn route_names_dialects_and_header_values_are_checked() {
    let text =
        format!("{MINIMAL}\n[routes]\nvalidat = \"translate\"\n[tenants.shop.routes]\nburnn = \"passthrough\"\n")
            .replace("app_id = \"id\"", "app_id = \"bad\\nid\"");
    let keys: Vec<String> = Config::from_toml(&text)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.key)
        .collect();
    for k in [
        "routes.validat",
        "tenants.shop.routes.burnn",
        "tenants.shop.voucherify.app_id",
    ] {
        assert!(keys.iter().any(|x| x == k), "missing {k} in {keys:?}");
    }
    let published = MINIMAL.replace(
        "secret_key = \"s3cret\"",
        "secret_key = \"s3cret\"\ndialect = \"published\"",
    );
    assert_eq!(
        Config::from_toml(&published).unwrap().tenants[0].dialect,
        V4Dialect::Published
    );
    let tls = format!("{MINIMAL}\n[server.tls]\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n");
    let keys: Vec<String> = Config::from_toml(&tls)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert!(keys.contains(&"server.tls.cert".to_owned()), "{keys:?}");
}

#[test]
fn message_overrides_replace_only_their_reason() {
    use crate::domain::InvalidReason;
    let custom = Messages {
        expired: Some("Sorry, expired".into()),
        ..Default::default()
    };
    assert_eq!(custom.text(InvalidReason::Expired), "Sorry, expired");
    assert_eq!(custom.text(InvalidReason::NotFound), "Coupon not found");
}

#[test]
fn rollout_shares_are_per_operation_with_tenants_over_the_global_ones() {
    let text = format!(
        "{MINIMAL}\n[tenants.shop.rollout]\norders = 0.5\n[rollout]\nvalidate = 0.1\norders = 0.1\n[rollout.guard]\nwindow = \"1m\"\nmin_samples = 20\n"
    );
    let c = Config::from_toml(&text).unwrap();
    let shares = c.tenants[0].rollout;
    assert_eq!(shares.of(Operation::Validate), 0.1);
    assert_eq!(shares.of(Operation::Orders), 0.5, "the tenant's own");
    assert_eq!(shares.of(Operation::Burn), 0.0, "no share unless told");
    assert_eq!(c.rollout_guard.window, Duration::from_secs(60));
    assert_eq!(c.rollout_guard.min_samples, 20);
    assert_eq!(c.rollout_guard.max_error_rate, 0.02, "the default");
    assert_eq!(c.rollout_guard.max_p99_added, Duration::from_millis(250));
}

#[test]
fn a_tenants_guard_limits_override_the_global_ones_key_by_key() {
    let text = format!(
        "{MINIMAL}\n[rollout.guard]\nwindow = \"1m\"\nmin_samples = 20\n[tenants.shop.rollout.guard]\nmin_samples = 5\nmax_p99_added = \"1s\"\n"
    );
    let c = Config::from_toml(&text).unwrap();
    let g = &c.tenants[0].rollout_guard;
    assert_eq!((g.min_samples, g.max_p99_added), (5, Duration::from_secs(1)), "its own");
    assert_eq!(
        (g.window, g.max_error_rate),
        (Duration::from_secs(60), 0.02),
        "the global ones"
    );
    assert_eq!(c.rollout_guard.min_samples, 20, "the global limits stay");
    let none = Config::from_toml(MINIMAL).unwrap();
    assert_eq!(none.tenants[0].rollout_guard, none.rollout_guard);

    // Its bad values are its own errors, each once; a bad global value
    // is reported at the global key only.
    let bad = format!(
        "{MINIMAL}\n[rollout.guard]\nmax_error_rate = 3\n[tenants.shop.rollout.guard]\nmin_samples = 0\nwindow = \"five minutes\"\nmax_mismatch_rate = -1\n"
    );
    let errs = Config::from_toml(&bad).unwrap_err().0;
    let lines: Vec<String> = errs.iter().map(|e| format!("{}: {}", e.key, e.message)).collect();
    let mut keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "rollout.guard.max_error_rate",
            "tenants.shop.rollout.guard.max_mismatch_rate",
            "tenants.shop.rollout.guard.min_samples",
            "tenants.shop.rollout.guard.window",
        ],
        "{lines:#?}"
    );
}

#[test]
fn check_config_refuses_shares_outside_0_to_1_and_unknown_operations() {
    let text = format!(
        "{MINIMAL}\n[tenants.shop.rollout]\nburn = -0.1\n[rollout]\nvalidate = 1.5\nvalidat = 0.1\n[rollout.guard]\nmax_error_rate = 2\nmin_samples = 0\nwindow = \"0s\"\n"
    );
    let errs = Config::from_toml(&text).unwrap_err().0;
    let lines: Vec<String> = errs.iter().map(|e| format!("{}: {}", e.key, e.message)).collect();
    for expected in [
        "tenants.shop.rollout.burn: -0.1 is not a share of customers; expected 0 to 1",
        "rollout.validate: 1.5 is not a share of customers",
        "rollout.validat: is not an operation; did you mean `validate`?",
        "rollout.guard.max_error_rate: must be between 0 and 1",
        "rollout.guard.min_samples: must be at least 1",
        "rollout.guard.window: must be longer than zero",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "{expected} not in {lines:#?}"
        );
    }
    assert_eq!(lines.len(), 6, "{lines:#?}");
}

#[test]
fn calibration_is_off_unless_asked_and_a_share_of_calls() {
    assert_eq!(Config::from_toml(MINIMAL).unwrap().shadow.calibrate, 0.0);
    let on = format!("{MINIMAL}\n[shadow]\ncalibrate = 0.01\n");
    assert_eq!(Config::from_toml(&on).unwrap().shadow.calibrate, 0.01);
    let bad = format!("{MINIMAL}\n[shadow]\ncalibrate = 2.0\n");
    let errs = Config::from_toml(&bad).unwrap_err().0;
    assert_eq!(errs[0].key, "shadow.calibrate");
}
