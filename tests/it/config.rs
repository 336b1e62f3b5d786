//! `couponbridge check-config` and `serve` on a bad configuration, as an
//! operator runs them: the real binary, a real file, real environment
//! variables. Every real error, each once, with its line or variable;
//! placeholder secrets refused; the effective configuration with origins.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::binary::{self, free_port};

/// The file of issue 26: a value of the wrong type, a typo, a bad URL
/// scheme, a route key that is no operation and a missing secret key.
const ISSUE_26: &str = include_str!("../fixtures/issue-26-bad-config.toml");

/// Runs the binary with `args` and only the given `COUPONBRIDGE_*`
/// variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_couponbridge"));
    cmd.args(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("COUPONBRIDGE_")) {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("couponbridge runs")
}

fn file(dir: &Path, text: &str) -> String {
    let path = dir.join("couponbridge.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_config_lists_every_real_error_of_the_issue_file_each_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), ISSUE_26);
    let out = run(
        &["check-config", "--config", &path],
        &[("COUPONBRIDGE_LOGG__LEVEL", "debug")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = [
        format!("{path}:3: server.max_body_bytes: expected a whole number (0 or more), found the string \"64k\""),
        format!("{path}:4: server.request_timout: unknown key; did you mean `request_timeout`?"),
        format!("{path}:9: tenants.shop.secret_key: is required"),
        format!(
            "{path}:13: tenants.shop.voucherify.base_url: \"htp://api.voucherify.io\" has the scheme htp://; expected an http:// or https:// URL (did you mean http://?)"
        ),
        format!("{path}:18: tenants.shop.routes.burns: is not an operation; did you mean `burn`?"),
        "env COUPONBRIDGE_LOGG__LEVEL: logg: unknown section; did you mean `log`?".to_owned(),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), want);
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "6 configuration error(s)\n");

    let out = run(&["check-config", "--config", &path, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let errors: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = errors.as_array().unwrap();
    assert_eq!(errors.len(), 5);
    assert_eq!(errors[0]["key"], "server.max_body_bytes");
    assert_eq!(
        (errors[0]["origin"].clone(), errors[0]["line"].clone()),
        ("file".into(), 3.into())
    );
    assert_eq!(errors[0]["file"], path.as_str());
}

#[test]
fn placeholder_secrets_are_refused_by_check_config_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = binary::config(port, None, "url = \"memory://\"", "http://127.0.0.1:1", "")
        .replace("app_token = \"sim-app-token\"", "app_token = \"change-me\"");
    let path = file(dir.path(), &text);
    let env = [("COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY", "<secret key>")];
    let check = run(&["check-config", "--config", &path], &env);
    let serve = run(&["serve", "--config", &path], &env);
    let check_out = String::from_utf8(check.stdout).unwrap();
    assert_eq!(
        check_out.lines().collect::<Vec<_>>(),
        [
            format!("{path}:15: tenants.shop.voucherify.app_token: is a placeholder, not a secret; set the real one (e.g. in COUPONBRIDGE_TENANTS__SHOP__VOUCHERIFY__APP_TOKEN)"),
            "env COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY: tenants.shop.secret_key: is a placeholder, not a secret; set the real one (e.g. in COUPONBRIDGE_TENANTS__SHOP__SECRET_KEY)".to_owned(),
        ]
    );
    assert_eq!((check.status.code(), serve.status.code()), (Some(2), Some(2)));
    assert_eq!(
        String::from_utf8(serve.stderr).unwrap(),
        check_out,
        "serve refuses with the same lines"
    );
}

#[test]
fn check_config_effective_prints_every_key_with_its_origin_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let text = binary::config(8080, Some(9901), "url = \"memory://\"", "https://api.voucherify.io", "");
    let path = file(dir.path(), &text);
    let env = [("COUPONBRIDGE_LOCKS__DEFAULT_DURATION", "90s")];
    let out = run(&["check-config", "--config", &path, "--effective"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} is not printed:\n{text}"))
            .to_owned()
    };
    assert!(
        line("server.listen").ends_with(&format!("# {path}:2")),
        "{}",
        line("server.listen")
    );
    assert!(line("server.max_body_bytes").ends_with("# default"));
    assert!(line("locks.default_duration").ends_with("# env COUPONBRIDGE_LOCKS__DEFAULT_DURATION"));
    assert!(line("tenants.shop.secret_key").contains("\"<redacted>\""));
    assert!(!text.contains(crate::common::env::SECRET_KEY) && !text.contains(couponbridge::sim::DEFAULT_APP_TOKEN));
    assert!(text.contains("# server.worker_threads: not set (one per core)"));

    let out = run(
        &["check-config", "--config", &path, "--effective", "--format", "json"],
        &env,
    );
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = keys.as_array().unwrap();
    for pattern in couponbridge::config::RawConfig::key_patterns() {
        if pattern.ends_with(".*") {
            continue;
        }
        let key = pattern.replace("tenants.*.", "tenants.shop.");
        assert!(keys.iter().any(|k| k["key"] == key.as_str()), "{key} is not printed");
    }
    let duration = keys.iter().find(|k| k["key"] == "locks.default_duration").unwrap();
    assert_eq!(duration["value"], "90s");
    assert_eq!(duration["env"], "COUPONBRIDGE_LOCKS__DEFAULT_DURATION");
}
