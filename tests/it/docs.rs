//! The documentation is a reference, so it must be complete: every key of
//! the raw configuration, every metric family, every route of the table and
//! every subcommand is on its page; every relative link in README.md,
//! docs/*.md and deploy/README.md points at a file (and heading) that
//! exists; the README stays a front page whose configuration is valid.
//!
//! Each thing the docs are checked against is read from the library by one
//! small helper (`raw_config_keys`, `metric_families`, `route_table`,
//! `validate_config`, `subcommands`), so a module that moves is re-pointed
//! in one place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

// ---------------------------------------------------------------------------
// What the docs are checked against, one helper each
// ---------------------------------------------------------------------------

/// Every key path of the raw configuration (`server.listen`,
/// `tenants.*.voucherify.app_id`; `*` stands for a map's key), as the
/// configuration's own reader asks for them.
fn raw_config_keys() -> BTreeSet<String> {
    couponbridge::config::RawConfig::key_patterns()
}

/// Every metric family the registry exports, as Prometheus names it
/// (counters with `_total`). A family with labels is encoded only once it
/// has a sample, so each recording method is called once; that every
/// registered family was reached is checked against the registrations in
/// src/metrics.rs.
fn metric_families() -> BTreeSet<String> {
    use couponbridge::metrics::{LockEvent, Metrics};
    let m = Metrics::new();
    m.request("validate", 200, 0.001);
    m.voucherify_call("validate", "200".into(), 0.001);
    m.lock_store_call("create", "redis", 0.001);
    m.lock_event(LockEvent::Created);
    m.upstream_error("timeout");
    m.recording_dropped();
    m.recording_written();
    m.config_reload(true);
    m.config_loaded("abc");
    m.release_retry("deferred");
    m.shadow_compared("validate", "match");
    m.gameball_call("shop", "orders", "forward");
    m.unused_field("shop", "validate", "merchantId");
    m.shadow_lag(0.001);
    m.rollout_tenant("shop", &["validate"]);
    m.rollout_share("shop", "validate", 0.1);
    m.rollout_trip("shop", "validate", "error_rate");
    m.rollout_answer("shop", "validate", "translated", true);
    let text = m.render();
    let registered = read("src/metrics.rs").matches(".register(").count();
    let families: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| match l.split_once(' ') {
            Some((name, "counter")) => format!("{name}_total"),
            Some((name, _)) => name.to_owned(),
            None => l.to_owned(),
        })
        .collect();
    assert_eq!(
        families.len(),
        registered,
        "src/metrics.rs registers {registered} families, the helper metric_families() gave samples to {}: call the new family's recording method there",
        families.len()
    );
    families
}

/// The route table as `couponbridge routes` prints it (Markdown).
fn route_table() -> String {
    couponbridge::gameball::routes::markdown_table()
}

/// Validates TOML text plus environment variables, as `check-config` does.
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn validate_config(toml: &str, env: &[(String, String)]) -> Result<(), String> {
    let mut result = Ok(());
    figment::Jail::expect_with(|jail| {
        jail.create_file("couponbridge.toml", toml)?;
        for (name, value) in env {
            jail.set_env(name, value);
        }
        result = couponbridge::config::Config::load(Some(Path::new("couponbridge.toml")))
            .map(|_| ())
            .map_err(|e| e.to_string());
        Ok(())
    });
    result
}

/// Every subcommand and the long flags it takes.
fn subcommands() -> BTreeMap<String, Vec<String>> {
    use clap::CommandFactory;
    couponbridge::cli::Cli::command()
        .get_subcommands()
        .map(|c| {
            let flags = c
                .get_arguments()
                .filter_map(|a| a.get_long())
                .map(|l| format!("--{l}"))
                .collect();
            (c.get_name().to_owned(), flags)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

/// One row per key in docs/configuration.md: `| \`server.listen\` | type |
/// default | \`COUPONBRIDGE_SERVER__LISTEN\` | reload or restart | example |`.
/// Map keys are written as an upper-case placeholder (`tenants.NAME.api_key`,
/// `COUPONBRIDGE_TENANTS__NAME__API_KEY`); a map of plain values (`[routes]`,
/// `[tenants.NAME.rewards]`) is one row with its placeholder
/// (`routes.OPERATION`), and `[routes]` also has one row per operation of the
/// route table.
#[test]
fn the_configuration_page_documents_every_key() {
    let page = "docs/configuration.md";
    let doc = read(page);
    let rows: Vec<Vec<String>> = doc
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect())
        .collect();
    let find = |pattern: &[&str], sep: &str, cell: usize| {
        rows.iter().find(|r| {
            r.get(cell)
                .and_then(|c| c.strip_prefix('`')?.strip_suffix('`'))
                .is_some_and(|c| matches_placeholders(c.split(sep), pattern))
        })
    };
    let mut problems = Vec::new();
    let mut wanted: Vec<String> = raw_config_keys().into_iter().collect();
    wanted.extend(operations().into_iter().map(|op| format!("routes.{op}")));
    assert!(wanted.len() > 60, "the key walk found too little: {wanted:?}");
    for key in &wanted {
        let segments: Vec<&str> = key.split('.').collect();
        let Some(row) = find(&segments, ".", 0) else {
            problems.push(format!(
                "`{}` has no row in {page} (a table row starting | `{}` |, in its section)",
                placeholder_spelling(key),
                placeholder_spelling(key)
            ));
            continue;
        };
        let env: Vec<String> = segments.iter().map(|s| s.to_ascii_uppercase()).collect();
        let env: Vec<&str> = env.iter().map(String::as_str).collect();
        let env_ok = row.iter().any(|c| {
            c.strip_prefix("`COUPONBRIDGE_")
                .and_then(|c| c.strip_suffix('`'))
                .is_some_and(|c| matches_placeholders(c.split("__"), &env))
        });
        if !env_ok {
            problems.push(format!(
                "{page}: the row of `{}` lacks its environment variable `COUPONBRIDGE_{}`",
                placeholder_spelling(key),
                placeholder_spelling(key).to_ascii_uppercase().replace('.', "__")
            ));
        }
        if row.len() != 6 {
            problems.push(format!(
                "{page}: the row of `{}` has {} cells, not 6 (key, type, default, environment variable, reload or restart, example)",
                placeholder_spelling(key),
                row.len()
            ));
        } else if !["reload", "restart"].iter().any(|w| row[4].contains(w)) {
            problems.push(format!(
                "{page}: the row of `{}` does not say whether a reload applies it (\"reload\" or \"restart\" in its fifth cell)",
                placeholder_spelling(key)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_metrics_page_documents_every_family() {
    let page = "docs/metrics.md";
    let doc = read(page);
    let families = metric_families();
    assert!(families.len() >= 10, "the registry exported too little: {families:?}");
    let missing: Vec<String> = families
        .iter()
        .filter(|f| !doc.contains(&format!("| `{f}` |")))
        .map(|f| format!("metric family `{f}` has no row in {page}'s table (| `{f}` | labels | what |)"))
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_gameball_page_names_every_field_couponbridge_does_not_act_on() {
    let doc = read("docs/gameball.md");
    let section = doc
        .split("## Fields couponbridge does not act on")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/gameball.md has the section");
    let mut missing = Vec::new();
    for op in couponbridge::domain::Operation::ALL {
        for field in couponbridge::gameball::unused::unused_fields(op) {
            let row = section.lines().find(|l| l.contains(&format!("`{}`", op.name())));
            if !row.is_some_and(|r| r.contains(&format!("`{field}`"))) {
                missing.push(format!("{}: `{field}`", op.name()));
            }
        }
    }
    assert!(missing.is_empty(), "not in docs/gameball.md's table: {missing:?}");
}

#[test]
fn the_gameball_page_shows_the_route_table() {
    let page = "docs/gameball.md";
    let doc = read(page);
    let table = route_table();
    let missing: Vec<&str> = table.lines().filter(|row| !doc.lines().any(|l| l == *row)).collect();
    assert!(
        missing.is_empty() && doc.contains(&table),
        "{page}'s route table is out of date (rows missing: {missing:#?}); paste `couponbridge routes`:\n{table}"
    );
}

/// docs/cli.md has a section `` ## `couponbridge NAME` `` per subcommand,
/// naming each of its long flags.
#[test]
fn the_cli_page_documents_every_subcommand_and_flag() {
    let page = "docs/cli.md";
    let doc = read(page);
    let mut problems = Vec::new();
    for (name, flags) in subcommands() {
        let heading = format!("## `couponbridge {name}");
        let Some(start) = doc.find(&heading) else {
            problems.push(format!(
                "subcommand `{name}` has no section in {page} (a heading {heading} …`)"
            ));
            continue;
        };
        let rest = &doc[start + heading.len()..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        for flag in flags {
            if !section.contains(&format!("`{flag}")) {
                problems.push(format!("{page}: the `{name}` section does not name its flag `{flag}`"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The developers' rule: the README is a front page that starts with the
/// two commands (the demo, the whole suite).
#[test]
fn the_readme_is_a_front_page_with_the_two_commands() {
    let readme = read("README.md");
    assert!(
        readme.len() < 12 * 1024,
        "README.md is {} bytes; keep it under 12 KB (details go to docs/)",
        readme.len()
    );
    let commands: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .take(2)
        .collect();
    assert_eq!(commands.len(), 2, "README.md must start with two ```sh blocks");
    assert!(
        commands[0].trim().starts_with("cargo run --release -- demo"),
        "first command: {}",
        commands[0]
    );
    assert!(
        commands[1].trim().starts_with("./.ci/run"),
        "second command: {}",
        commands[1]
    );
    let first_heading = readme
        .lines()
        .enumerate()
        .skip(1)
        .find(|(_, l)| l.starts_with('#'))
        .map_or(usize::MAX, |(i, _)| i);
    let second_block = readme
        .lines()
        .position(|l| l.starts_with("./.ci/run"))
        .unwrap_or(usize::MAX);
    assert!(
        second_block < first_heading,
        "the two commands come before the first section"
    );
}

/// The README's minimal configuration (its first ```toml block, with the
/// variables its next ```sh block exports) is one `serve` accepts.
#[test]
fn the_readme_configuration_is_valid() {
    let readme = read("README.md");
    let (_, after) = readme.split_once("```toml\n").expect("README.md has a ```toml block");
    let (toml, after) = after.split_once("```").unwrap();
    let (_, after) = after
        .split_once("```sh\n")
        .expect("a ```sh block with the environment follows it");
    let shell = after.split("```").next().unwrap();
    let env: Vec<(String, String)> = shell
        .lines()
        .filter_map(|l| l.strip_prefix("export COUPONBRIDGE_"))
        .filter_map(|l| {
            let (name, value) = l.split_once('=')?;
            let value = value.split_whitespace().next().unwrap_or("");
            Some((format!("COUPONBRIDGE_{name}"), value.to_owned()))
        })
        .collect();
    assert!(env.len() >= 2, "the README exports the secrets: {env:?}");
    if let Err(e) = validate_config(toml, &env) {
        panic!("README.md's minimal configuration is refused:\n{e}\n--- toml:\n{toml}\n--- environment: {env:?}");
    }
}

/// Every relative link (and `#anchor`) in README.md and docs/*.md, and in
/// deploy/README.md, leads somewhere.
#[test]
fn every_relative_link_resolves() {
    let mut pages = vec![PathBuf::from("README.md"), PathBuf::from("deploy/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| p.strip_prefix(REPO).unwrap().to_owned())
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = read(page.to_str().unwrap());
        let dir = page.parent().unwrap_or(Path::new(""));
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if file.is_empty() { page.clone() } else { dir.join(file) };
            let full = Path::new(REPO).join(&resolved);
            if !full.exists() {
                problems.push(format!(
                    "{}: link to {target}: {} does not exist",
                    page.display(),
                    resolved.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor
                && full.extension().is_some_and(|x| x == "md")
                && !heading_slugs(&std::fs::read_to_string(&full).unwrap()).contains(anchor)
            {
                problems.push(format!(
                    "{}: link to {target}: {} has no heading whose anchor is #{anchor}",
                    page.display(),
                    resolved.display()
                ));
            }
        }
    }
    assert!(
        checked > 20,
        "found only {checked} relative links; is the link reader broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The operations (the `[routes]` keys), from the route table's third column.
fn operations() -> BTreeSet<String> {
    route_table()
        .lines()
        .skip(2)
        .filter_map(|row| row.split(" | ").nth(2))
        .map(|c| c.trim_matches('`').to_owned())
        .collect()
}

/// Whether `written` (a key as the docs spell it) is `pattern`, where a `*`
/// of the pattern is any upper-case placeholder (`NAME`, `OPERATION`).
fn matches_placeholders<'a>(written: impl Iterator<Item = &'a str>, pattern: &[&str]) -> bool {
    let written: Vec<&str> = written.collect();
    written.len() == pattern.len()
        && written.iter().zip(pattern).all(|(w, p)| match *p {
            "*" => !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            p => w.eq_ignore_ascii_case(p),
        })
}

/// How to write a key in the docs: `tenants.NAME.…`, other map keys `KEY`.
fn placeholder_spelling(key: &str) -> String {
    let mut out = Vec::new();
    for (i, s) in key.split('.').enumerate() {
        out.push(match (i, s) {
            (1, "*") if key.starts_with("tenants.") => "NAME",
            (_, "*") => "KEY",
            (_, s) => s,
        });
    }
    out.join(".")
}

/// The targets of Markdown links and images outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Inline code spans are not links.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_owned());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchors for a page's headings: lower case, punctuation other
/// than `-` and `_` dropped, spaces as `-`, repeats numbered `-1`, `-2`.
fn heading_slugs(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let title = title.trim_start_matches('#').trim();
        let slug: String = title
            .chars()
            .flat_map(char::to_lowercase)
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_default();
        out.insert(if *n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        *n += 1;
    }
    out
}
