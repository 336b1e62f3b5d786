//! The effective configuration: every key the configuration knows, with
//! its value in force and where it came from, secrets redacted.

use std::path::Path;

use super::MINIMAL;
use crate::config::*;

#[test]
fn every_key_is_listed_with_its_value_and_origin() {
    let checked = check_text(MINIMAL);
    assert!(checked.result.is_ok());
    let entry = |key: &str| {
        checked
            .effective
            .iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("{key} is not listed"))
    };
    let listen = entry("server.listen");
    assert_eq!(
        (listen.value.clone(), listen.origin.clone()),
        (Some("0.0.0.0:8080".into()), Origin::Default)
    );
    let app_id = entry("tenants.shop.voucherify.app_id");
    assert_eq!(app_id.value, Some("id".into()));
    assert_eq!(
        app_id.origin,
        Origin::File {
            file: "<inline>".into(),
            line: Some(9)
        }
    );
    assert_eq!(entry("server.worker_threads").value, None);
    assert_eq!(entry("server.worker_threads").unset, Some("one per core"));
    // Every key the configuration knows is there, for this one tenant.
    let listed: std::collections::BTreeSet<String> = checked
        .effective
        .iter()
        .map(|e| e.key.replace("tenants.shop.", "tenants.*."))
        .collect();
    for key in RawConfig::key_patterns() {
        assert!(key.ends_with(".*") || listed.contains(&key), "{key} is not listed");
    }
}

#[test]
fn secrets_never_print() {
    let checked = check_text(&format!("{MINIMAL}\n[record]\nhash_key = \"h4shkey\"\n"));
    let text = effective::text(&checked.effective);
    let json = effective::json(&checked.effective).to_string();
    for printed in [&text, &json] {
        assert!(
            !printed.contains("s3cret") && !printed.contains("t0ken") && !printed.contains("h4shkey"),
            "{printed}"
        );
        assert!(printed.contains("<redacted>"));
    }
    let c = Config::from_toml(MINIMAL).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cret") && !debug.contains("t0ken"));
}

#[test]
fn the_text_form_is_toml_that_reads_back_to_the_same_values() {
    let checked = check_text(MINIMAL);
    let text = effective::text(&checked.effective);
    assert!(text.contains("server.max_body_bytes = 65536"), "{text}");
    assert!(
        text.contains("# server.worker_threads: not set (one per core)"),
        "{text}"
    );
    assert!(text.contains("# <inline>:9\n"), "{text}");
    let back: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back["locks"]["default_duration"].as_str(), Some("10m"));
    assert_eq!(back["tenants"]["shop"]["api_key"].as_str(), Some("k"));
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn a_value_from_the_environment_names_its_variable() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", MINIMAL)?;
        jail.set_env("COUPONBRIDGE_LOCKS__DEFAULT_DURATION", "90s");
        let checked = check(Some(Path::new("c.toml")));
        let entry = checked
            .effective
            .iter()
            .find(|e| e.key == "locks.default_duration")
            .unwrap();
        assert_eq!(entry.value, Some("90s".into()));
        assert_eq!(
            entry.origin,
            Origin::Env {
                env: "COUPONBRIDGE_LOCKS__DEFAULT_DURATION".into()
            }
        );
        let json = effective::json(&checked.effective);
        let row = json
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == "locks.default_duration")
            .unwrap();
        assert_eq!(row["origin"], "env");
        assert_eq!(row["env"], "COUPONBRIDGE_LOCKS__DEFAULT_DURATION");
        Ok(())
    });
}

#[test]
fn the_key_patterns_see_nested_optional_and_map_keys() {
    let keys = RawConfig::key_patterns();
    for k in [
        "server.listen",
        "server.tls.cert",
        "tenants.*.voucherify.app_token",
        "tenants.*.rewards.*",
        "tenants.*.messages.expired",
        "tenants.*.loyalty.campaign",
        "routes.*",
        "record.redact_json",
    ] {
        assert!(keys.contains(k), "{k} not in {keys:#?}");
    }
    assert!(!keys.iter().any(|k| k.contains("fingerprint")));
}
