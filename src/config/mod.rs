//! Configuration: a TOML file, then `COUPONBRIDGE_…` environment variables
//! (`__` separates levels: `COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY`).
//!
//! Two types, as rust-rpxy does it: [`RawConfig`] ([`raw`]) is what the file
//! says, every field optional; [`Config`] ([`runtime`]) is the validated
//! runtime configuration. Validation ([`validate`]) reports every problem in
//! one run (unknown keys included), so an operator fixes a config file
//! once, not once per error. Route modes and dialects are in [`routes`],
//! secrets in [`secret`].

mod errors;
pub mod raw;
pub mod routes;
pub mod runtime;
pub mod secret;
mod validate;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

pub use errors::{ConfigError, ConfigErrors};
pub use raw::{Messages, RawConfig};
pub use routes::{RouteMode, Routes, V4Dialect};
pub use runtime::*;
pub use secret::Secret;

pub const DEFAULT_PATH: &str = "config/couponbridge.toml";
pub const ENV_PREFIX: &str = "COUPONBRIDGE_";

/// `COUPONBRIDGE_` variables that are not configuration: `replay`'s
/// credentials and the build's commit (build.rs; cargo also sets it when
/// it runs the binary). A CI job that exports them and starts `serve` must
/// not see "unknown section".
pub const NOT_CONFIG: [&str; 3] = ["replay_apikey", "replay_secretkey", "commit"];

/// The figment stack: the file (if it exists, or if it was named
/// explicitly), then the environment.
pub fn figment(path: Option<&Path>) -> Result<Figment, ConfigErrors> {
    let mut fig = Figment::new();
    match path {
        Some(p) if !p.exists() => {
            return Err(ConfigErrors(vec![ConfigError {
                key: String::new(),
                message: format!("config file {} does not exist", p.display()),
            }]));
        }
        Some(p) => fig = fig.merge(Toml::file_exact(p)),
        None if Path::new(DEFAULT_PATH).exists() => fig = fig.merge(Toml::file_exact(DEFAULT_PATH)),
        None => {}
    }
    Ok(fig.merge(Env::prefixed(ENV_PREFIX).ignore(&NOT_CONFIG).split("__")))
}

impl Config {
    /// Loads and validates `path` (or the default file) plus the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        let fig = figment(path)?;
        let (raw, found) = RawConfig::load(&fig);
        raw.validate(found)
    }

    /// Validates a configuration given as TOML text (tests, the demo).
    pub fn from_toml(text: &str) -> Result<Config, ConfigErrors> {
        let fig = Figment::new().merge(Toml::string(text));
        let (raw, found) = RawConfig::load(&fig);
        raw.validate(found)
    }
}

/// The effective configuration as TOML with every secret redacted.
pub fn redacted_toml(raw: &RawConfig) -> String {
    toml::to_string_pretty(raw).unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Operation;
    use std::time::Duration;

    const MINIMAL: &str = r#"
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
    fn every_error_is_reported_in_one_run() {
        let text = r#"
            [server]
            listen = "nowhere"
            lisen = "typo"
            [locks]
            default_duration = "ten minutes"
            [log]
            format = "xml"
            [record]
            queue = "many"
            [tenants.shop]
            api_key = "k"
            currency_decimals = 9
            [tenants.shop.voucherify]
            base_url = "ftp://x"
            [tenants.other]
            api_key = "k"
            secret_key = "s"
            [tenants.other.voucherify]
            base_url = "https://api.voucherify.io"
            app_id = "a"
            app_token = "t"
            [routes]
            burn = "passthrough"
        "#;
        let errs = Config::from_toml(text).unwrap_err().0;
        let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
        for expected in [
            "server.listen",
            "server.lisen",
            "locks.default_duration",
            "log.format",
            "record.queue",
            "tenants.shop.currency_decimals",
            "tenants.shop.secret_key",
            "tenants.shop.voucherify.base_url",
            "tenants.shop.voucherify.app_id",
            "tenants.shop.voucherify.app_token",
            "tenants.shop.api_key",
            "routes",
        ] {
            assert!(keys.contains(&expected), "missing {expected} in {keys:?}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let fig = Figment::new().merge(Toml::string(MINIMAL));
        let (raw, _) = RawConfig::load(&fig);
        let printed = redacted_toml(&raw);
        assert!(!printed.contains("s3cret") && !printed.contains("t0ken"), "{printed}");
        assert!(printed.contains("<redacted>"));
        let c = Config::from_toml(MINIMAL).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret") && !debug.contains("t0ken"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn environment_overrides_the_file_and_numbers_work_as_secrets() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", MINIMAL)?;
            jail.set_env("COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY", "12345");
            jail.set_env("COUPONBRIDGE_LOCKS__DEFAULT_DURATION", "90s");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.tenants[0].secret_key.expose(), "12345");
            assert_eq!(c.locks.default_duration, Duration::from_secs(90));
            Ok(())
        });
    }

    #[test]
    fn the_shipped_config_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let text = std::fs::read_to_string(path).unwrap();
        let c = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.tenants[0].name, "shop");
        assert!(matches!(
            c.store,
            StoreConfig::Redis {
                mode: RedisMode::Standalone,
                ..
            }
        ));
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
}
