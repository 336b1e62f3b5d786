//! What an operator is told about an invalid configuration: every real
//! problem once, at its key, with its line or environment variable, and
//! nothing else.

use std::path::Path;

use super::MINIMAL;
use crate::config::*;

/// The problems as `check-config` prints them, one line each.
fn lines(text: &str) -> Vec<String> {
    match Config::from_toml(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// The problems as `key: message`, without where they were set.
fn keyed(text: &str) -> Vec<String> {
    Config::from_toml(text)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect()
}

/// The file of issue 26 (`tests/fixtures/`, which the binary's test
/// reads too): a value of the wrong type, a typo, a bad URL scheme, a route
/// key that is no operation and a missing secret key.
pub(in crate::config) const ISSUE_26: &str = include_str!("../../../tests/fixtures/issue-26-bad-config.toml");

#[test]
fn the_issue_file_gives_every_real_error_and_no_false_one_each_with_its_line() {
    assert_eq!(
        lines(ISSUE_26),
        [
            "<inline>:3: server.max_body_bytes: expected a whole number (0 or more), found the string \"64k\"",
            "<inline>:4: server.request_timout: unknown key; did you mean `request_timeout`?",
            "<inline>:9: tenants.shop.secret_key: is required",
            "<inline>:13: tenants.shop.voucherify.base_url: \"htp://api.voucherify.io\" has the scheme htp://; expected an http:// or https:// URL (did you mean http://?)",
            "<inline>:18: tenants.shop.routes.burns: is not an operation; did you mean `burn`?",
        ]
    );
}

#[test]
fn a_wrong_type_is_one_error_and_the_rest_of_its_table_is_still_checked() {
    let text = MINIMAL.replace(
        "api_key = \"k\"",
        "api_key = \"k\"\ncurrency_decimals = \"two\"\ndialect = \"modern\"",
    );
    let text = text.replace(
        "app_token = \"t0ken\"",
        "app_token = \"t0ken\"\ntimeout = 5\nhttp2 = \"sometimes\"",
    );
    let keys = keyed(&text);
    assert_eq!(
        keys,
        [
            "tenants.shop.currency_decimals: expected a whole number (0 or more), found the string \"two\"",
            "tenants.shop.dialect: expected \"seed\" or \"published\", found the string \"modern\"",
            "tenants.shop.voucherify.timeout: expected a duration such as \"500ms\", \"10s\" or \"24h\", found the number 5",
            "tenants.shop.voucherify.http2: \"sometimes\" is not one of \"auto\", \"always\", \"never\"",
        ]
    );
}

#[test]
fn a_table_of_the_wrong_type_hides_no_problem_and_invents_none() {
    let text = format!("{MINIMAL}\n[tenants.other]\napi_key = \"k2\"\nvoucherify = \"https://api.voucherify.io\"\n");
    assert_eq!(
        lines(&text),
        [
            "<inline>:12: tenants.other.secret_key: is required",
            "<inline>:14: tenants.other.voucherify: expected a table, found the string \"https://api.voucherify.io\"",
        ]
    );
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
        [serverr]
        x = 1
    "#;
    let errs = Config::from_toml(text).unwrap_err().0;
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "server.listen",
            "server.lisen",
            "locks.default_duration",
            "log.format",
            "record.queue",
            "tenants.shop.secret_key",
            "tenants.shop.api_key",
            "tenants.shop.currency_decimals",
            "tenants.shop.voucherify.app_id",
            "tenants.shop.voucherify.app_token",
            "tenants.shop.voucherify.base_url",
            "routes",
            "serverr",
        ],
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .all(|e| matches!(e.origin, Origin::File { line: Some(_), .. })),
        "{errs:#?}"
    );
    let lisen = &errs[1];
    assert_eq!(lisen.message, "unknown key; did you mean `listen`?");
    assert_eq!(errs[12].message, "unknown section; did you mean `server`?");
}

#[test]
fn placeholder_secrets_are_refused() {
    let text = MINIMAL
        .replace("secret_key = \"s3cret\"", "secret_key = \"change-me\"")
        .replace("app_token = \"t0ken\"", "app_token = \"<your app token>\"")
        + "\n[record]\nhash_key = \"xxx\"\n";
    let keys = keyed(&text);
    assert_eq!(
        keys,
        [
            "tenants.shop.secret_key: is a placeholder, not a secret; set the real one (e.g. in COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY)",
            "tenants.shop.voucherify.app_token: is a placeholder, not a secret; set the real one (e.g. in COUPONBRIDGE_TENANTS__SHOP__VOUCHERIFY__APP_TOKEN)",
            "record.hash_key: is a placeholder, not a key; set a real one (or leave it out)",
        ]
    );
}

#[test]
fn json_paths_that_cannot_match_are_errors_at_their_line() {
    let text = format!("{MINIMAL}\n[record]\nredact_json = [\"a[*].email\", \"b.[*].email\", \"$..email\"]\n");
    assert_eq!(
        lines(&text),
        [
            "<inline>:13: record.redact_json[0]: \"a[*].email\" is not a JSONPath (RFC 9535): it must start with `$`; did you mean \"$.a[*].email\"?",
            "<inline>:13: record.redact_json[1]: \"b.[*].email\" is not a JSONPath (RFC 9535): it must start with `$`; did you mean \"$.b[*].email\"?",
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"rules": [{"path": "$.ok", "compare": "ignore"}, {"path": "**.discountAmount", "compare": "type"}]}"#,
    )
    .unwrap();
    let text = format!("{MINIMAL}\n[shadow]\nrules = {:?}\n", rules.display().to_string());
    let errs = lines(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("<inline>:13: shadow.rules: "), "{errs:?}");
    assert!(
        errs[0].contains("rules[1].path: \"**.discountAmount\" is not a JSONPath")
            && errs[0].contains("did you mean \"$..discountAmount\"?"),
        "{errs:?}"
    );
}

#[test]
fn a_file_that_is_not_toml_gives_each_syntax_error_with_its_line() {
    let errs = lines("[server]\nlisten = \"0.0.0.0:8080\"\nmax_body_bytes = \n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("<inline>:3: not valid TOML"), "{errs:?}");
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn an_error_from_the_environment_names_its_variable() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", MINIMAL)?;
        jail.set_env("COUPONBRIDGE_SERVER__MAX_BODY_BYTES", "64k");
        jail.set_env("COUPONBRIDGE_LOGG__LEVEL", "debug");
        jail.set_env("COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY", "changeme");
        let errs = Config::load(Some(Path::new("c.toml"))).unwrap_err().to_string();
        assert_eq!(
            errs,
            "env COUPONBRIDGE_LOGG__LEVEL: logg: unknown section; did you mean `log`?\n\
             env COUPONBRIDGE_SERVER__MAX_BODY_BYTES: server.max_body_bytes: expected a whole number (0 or more), found the string \"64k\"\n\
             env COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY: tenants.shop.secret_key: is a placeholder, not a secret; set the real one (e.g. in COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY)\n"
        );
        Ok(())
    });
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
        assert_eq!(c.locks.default_duration, std::time::Duration::from_secs(90));
        Ok(())
    });
}

/// The shipped file is a template: valid once its two placeholder secrets
/// are set, and refused (for those alone) until then.
#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn the_shipped_config_file_is_a_template_valid_once_its_secrets_are_set() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
    let text = std::fs::read_to_string(&path).unwrap();
    let keys: Vec<String> = Config::from_toml(&text)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["tenants.shop.secret_key", "tenants.shop.voucherify.app_token"]);
    figment::Jail::expect_with(|jail| {
        jail.set_env("COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY", "a-real-secret-key");
        jail.set_env("COUPONBRIDGE_TENANTS__SHOP__VOUCHERIFY__APP_TOKEN", "a-real-app-token");
        let c = Config::load(Some(&path)).map_err(|e| e.to_string())?;
        assert_eq!(c.tenants[0].name, "shop");
        assert!(matches!(
            c.store,
            StoreConfig::Redis {
                mode: RedisMode::Standalone,
                ..
            }
        ));
        Ok(())
    });
}
