//! `couponbridge shadow-report`, the real binary, over a shadow folder of
//! hand-made lines (written with shadow's own record types): counts per
//! route from tallies and lines, mismatches and errors grouped with first
//! and last seen, in text, JSON and HTML; `--fail-on` for CI; the shadow's
//! unseen-lock lines labelled for what is known; and the HTML page as
//! headless Chromium renders it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use couponbridge::compare::{Change, Mismatch};
use couponbridge::shadow::record::{Answered, Call, Compared, Counts, Failed, Line, ShadowRequest, Tally};
use serde_json::{Value, json};

const VALIDATE: &str = "/api/v4.0/integrations/coupons/validate";
const LOCK: &str = "/api/v4.0/integrations/locks/5e21ff4baf5d4760a8a43c7b2513298e";
const BURN: &str = "/api/v4.0/integrations/coupons/burn";

fn request(path: &str) -> ShadowRequest {
    ShadowRequest {
        method: if path == LOCK { "GET" } else { "POST" }.into(),
        path: path.into(),
        headers: [("apikey".to_owned(), "<redacted>".to_owned())].into(),
        body: json!({"customerId": "cust-1", "coupons": ["PERCENT20"]}),
    }
}

fn answered(status: u16, body: Value) -> Answered {
    Answered { status, body }
}

fn mismatch(at: &str, run: &str, route: &str, path: &str, differences: Vec<Mismatch>) -> Line {
    Line::Mismatch(Compared {
        call: Call {
            at: at.into(),
            run: run.into(),
            route: route.into(),
            tenant: Some("shop".into()),
            request_id: format!("req-{at}"),
            request: request(path),
            gameball: answered(200, json!({"validCoupons": [{"discountAmount": 25}]})),
        },
        couponbridge: answered(200, json!({"validCoupons": [{"discountAmount": 20}]})),
        differences,
    })
}

fn error(at: &str, run: &str, route: &str, path: &str, message: &str) -> Line {
    Line::Error(Failed {
        call: Call {
            at: at.into(),
            run: run.into(),
            route: route.into(),
            tenant: None,
            request_id: format!("req-{at}"),
            request: request(path),
            gameball: answered(200, json!({"success": true})),
        },
        error: message.into(),
    })
}

fn tally(at: &str, run: &str, routes: &[(&str, [u64; 4])]) -> Line {
    let counts = |[matched, mismatch, error, dropped]: [u64; 4]| Counts {
        matched,
        mismatch,
        error,
        dropped,
    };
    Line::Tally(Tally {
        at: at.into(),
        run: run.into(),
        routes: routes.iter().map(|(r, c)| (r.to_string(), counts(*c))).collect(),
        noise: Default::default(),
    })
}

fn differs(path: &str, expected: Value, got: Value) -> Mismatch {
    Mismatch::differs(path, expected, got, None)
}

fn changed(path: &str, change: Change, expected: Value, got: Value) -> Mismatch {
    Mismatch {
        path: path.into(),
        change,
        expected,
        got,
        note: None,
    }
}

/// Run r1 tallied twice (its last tally counts); run r2 was killed before
/// its first tally (counted from its lines); one half-written line; a file
/// that is not `*.jsonl`.
fn shadow_folder(dir: &Path) {
    let amount = "$.validCoupons[0].discountAmount";
    let run1 = [
        tally("2026-12-01T10:00:00Z", "r1", &[("validate", [8, 1, 0, 0])]),
        mismatch(
            "2026-12-01T10:00:01Z",
            "r1",
            "validate",
            VALIDATE,
            vec![
                differs(amount, json!(25), json!(20)),
                changed("$.validCoupons[0].extra", Change::Added, Value::Null, json!(true)),
            ],
        ),
        error("2026-12-01T10:00:02Z", "r1", "burn", BURN, "voucherify unreachable"),
        mismatch(
            "2026-12-01T10:00:03Z",
            "r1",
            "validate",
            VALIDATE,
            vec![differs(amount, json!(25), json!(21))],
        ),
        tally(
            "2026-12-01T10:00:05Z",
            "r1",
            &[("validate", [40, 2, 0, 1]), ("burn", [5, 0, 1, 0])],
        ),
    ];
    let run2 = [
        mismatch(
            "2026-12-01T11:00:00Z",
            "r2",
            "lock_details",
            LOCK,
            vec![changed("$.coupons[0].capping", Change::Missing, json!(30), Value::Null)],
        ),
        error("2026-12-01T11:00:01Z", "r2", "burn", BURN, "voucherify unreachable"),
        error(
            "2026-12-01T11:00:02Z",
            "r2",
            "lock_details",
            LOCK,
            "parse refused: no lock reference",
        ),
    ];
    let text = |lines: &[Line]| -> String { lines.iter().map(|l| serde_json::to_string(l).unwrap() + "\n").collect() };
    std::fs::write(
        dir.join("shadow-1.jsonl"),
        text(&run1) + "{\"kind\": \"tally\", \"at\": \"2026-12-01T10:00:0",
    )
    .unwrap();
    std::fs::write(dir.join("shadow-2.jsonl"), text(&run2)).unwrap();
    std::fs::write(dir.join("README.txt"), "not a shadow file").unwrap();
}

fn shadow_report(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couponbridge"))
        .arg("shadow-report")
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn shadow_report_counts_and_groups_in_text_json_and_html() {
    let dir = tempfile::tempdir().unwrap();
    shadow_folder(dir.path());

    let text = stdout(&shadow_report(&[], &[dir.path()]));
    let row = |route: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(route))
            .unwrap_or_else(|| panic!("no {route} row in\n{text}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert!(
        text.starts_with("shadow report: 2 file(s); lines: 3 mismatch, 3 error, 2 tally, 1 unparseable\n"),
        "{text}"
    );
    assert!(text.contains("unparseable "), "{text}");
    assert!(
        text.contains("shadow-1.jsonl:6: "),
        "the half-written line is named: {text}"
    );
    assert_eq!(row("burn"), ["burn", "5", "0", "2", "0", "7", "71.4%"]);
    assert_eq!(row("lock_details"), ["lock_details", "0", "1", "1", "0", "2", "0.0%"]);
    assert_eq!(row("validate"), ["validate", "40", "2", "0", "1", "43", "93.0%"]);
    assert_eq!(row("total"), ["total", "45", "3", "3", "1", "52", "86.5%"]);
    assert!(
        text.contains(
            "  validate $.validCoupons[0].discountAmount differs x2 \
             (first 2026-12-01T10:00:01Z, last 2026-12-01T10:00:03Z)\n    \
             e.g. POST /api/v4.0/integrations/coupons/validate (gameball 200, couponbridge 200): \
             differs: expected 25, got 20\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  lock_details $.coupons[0].capping missing x1"),
        "{text}"
    );
    assert!(
        text.contains("  burn \"voucherify unreachable\" x2 (first 2026-12-01T10:00:02Z, last 2026-12-01T11:00:01Z)"),
        "{text}"
    );

    // The same from the files named one by one, as JSON.
    let files = [dir.path().join("shadow-1.jsonl"), dir.path().join("shadow-2.jsonl")];
    let json: Value =
        serde_json::from_str(&stdout(&shadow_report(&["--format", "json"], &[&files[0], &files[1]]))).unwrap();
    assert_eq!(
        json["lines"],
        json!({"mismatch": 3, "error": 3, "tally": 2, "unparseable": 1})
    );
    assert_eq!(json["unparseable"][0]["line"], 6);
    assert_eq!(
        json["runs"],
        json!([{"run": "r1", "counted_from": "tally"}, {"run": "r2", "counted_from": "lines"}])
    );
    assert_eq!(
        json["routes"],
        json!([
            {"route": "burn", "match": 5, "mismatch": 0, "error": 2, "dropped": 0, "total": 7},
            {"route": "lock_details", "match": 0, "mismatch": 1, "error": 1, "dropped": 0, "total": 2},
            {"route": "validate", "match": 40, "mismatch": 2, "error": 0, "dropped": 1, "total": 43}
        ])
    );
    assert_eq!(
        json["totals"],
        json!({"match": 45, "mismatch": 3, "error": 3, "dropped": 1, "total": 52})
    );
    let groups: Vec<(&str, &str, &str, u64)> = json["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["route"].as_str().unwrap(),
                g["path"].as_str().unwrap(),
                g["change"].as_str().unwrap(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("lock_details", "$.coupons[0].capping", "missing", 1),
            ("validate", "$.validCoupons[0].discountAmount", "differs", 2),
            ("validate", "$.validCoupons[0].extra", "added", 1),
        ]
    );
    let amount = &json["mismatches"][1];
    assert_eq!(
        (amount["first_seen"].clone(), amount["last_seen"].clone()),
        (json!("2026-12-01T10:00:01Z"), json!("2026-12-01T10:00:03Z"))
    );
    let example = &amount["example"];
    assert_eq!(example["request"]["method"], "POST");
    assert_eq!(example["request"]["path"], VALIDATE);
    assert_eq!(
        (
            example["gameball"]["status"].clone(),
            example["couponbridge"]["status"].clone()
        ),
        (json!(200), json!(200))
    );
    assert_eq!(
        (example["expected"].clone(), example["got"].clone()),
        (json!(25), json!(20))
    );
    let errors: Vec<(&str, &str, u64, &str, &str)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["route"].as_str().unwrap(),
                g["error"].as_str().unwrap(),
                g["count"].as_u64().unwrap(),
                g["first_seen"].as_str().unwrap(),
                g["last_seen"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "burn",
                "voucherify unreachable",
                2,
                "2026-12-01T10:00:02Z",
                "2026-12-01T11:00:01Z"
            ),
            (
                "lock_details",
                "parse refused: no lock reference",
                1,
                "2026-12-01T11:00:02Z",
                "2026-12-01T11:00:02Z"
            ),
        ]
    );

    // HTML, to a file: stdout stays empty.
    let page = dir.path().join("report.html");
    let out = shadow_report(&["--format", "html", "--output", page.to_str().unwrap()], &[dir.path()]);
    assert!(stdout(&out).is_empty());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for route in ["burn", "lock_details", "validate"] {
        assert!(html.contains(&format!("<h3>{route}</h3>")), "{route} has a group");
        assert!(html.contains(&format!("<div>{route}</div>")), "{route} has a bar");
    }
    assert!(html.contains("$.validCoupons[0].discountAmount"));
    assert!(html.contains("voucherify unreachable"));
    assert!(!html.contains("<script"), "no script");

    // A path that cannot be read is exit status 2, named on stderr.
    let out = shadow_report(&[], &[&dir.path().join("no-such-folder")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-folder"));
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium with `args` on `page`; its stdout (a DOM dump)
/// goes to a file, so a large page never blocks it on a full pipe. Killed
/// after 60 s: a hung browser fails the test instead of hanging the suite.
fn chromium(dir: &Path, run: &str, args: &[String], page: &Path) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run .ci/run, which installs chromium (CI does)"
    );
    let profile = dir.join(format!("profile-{run}"));
    let out_path = dir.join(format!("{run}.stdout"));
    let err_path = dir.join(format!("{run}.stderr"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {run} took over 60 s:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium {run}: {status}\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    std::fs::read_to_string(&out_path).unwrap()
}

#[test]
fn the_html_shadow_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let shadow = dir.path().join("shadow");
    std::fs::create_dir(&shadow).unwrap();
    shadow_folder(&shadow);
    let page: PathBuf = dir.path().join("report.html");
    let out = shadow_report(&["--format", "html", "--output", page.to_str().unwrap()], &[&shadow]);
    stdout(&out);

    let shot = dir.path().join("shot.png");
    chromium(
        dir.path(),
        "screenshot",
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,900".to_owned(),
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert_eq!(&png[12..16], b"IHDR", "the first chunk is IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1200, 900));
    // A blank 1200x900 page compresses to about 5 KB; tables, bars and
    // text take far more.
    assert!(png.len() > 20_000, "a {} byte screenshot looks empty", png.len());

    let dom = chromium(dir.path(), "dom", &["--dump-dom".to_owned()], &page);
    assert!(dom.contains("couponbridge shadow report"), "{dom}");
    for route in ["burn", "lock_details", "validate"] {
        assert!(
            dom.contains(&format!("<div>{route}</div>")),
            "{route} has no bar in the DOM"
        );
        assert!(
            dom.contains(&format!("<td>{route}</td>")),
            "{route} has no row in the DOM"
        );
    }
}

/// `--fail-on mismatch|error`: exit 1 when the shadow found what it names,
/// and say so on stderr; 0 without it, or when there is nothing of it.
#[test]
fn fail_on_gates_a_ci_job() {
    let dir = tempfile::tempdir().unwrap();
    shadow_folder(dir.path());
    let clean = tempfile::tempdir().unwrap();
    let text = |lines: &[Line]| -> String { lines.iter().map(|l| serde_json::to_string(l).unwrap() + "\n").collect() };
    std::fs::write(
        clean.path().join("shadow.jsonl"),
        text(&[tally("2026-12-01T10:00:00Z", "r", &[("validate", [40, 0, 0, 2])])]),
    )
    .unwrap();
    for (args, folder, code, says) in [
        (vec![], dir.path(), 0, ""),
        (
            vec!["--fail-on", "mismatch"],
            dir.path(),
            1,
            "the shadow found 3 mismatches (--fail-on)",
        ),
        (
            vec!["--fail-on", "error"],
            dir.path(),
            1,
            "the shadow found 3 errors (--fail-on)",
        ),
        (
            vec!["--fail-on", "mismatch,error", "--format", "json"],
            dir.path(),
            1,
            "3 mismatches and 3 errors",
        ),
        (vec!["--fail-on", "mismatch,error"], clean.path(), 0, ""),
    ] {
        let out = shadow_report(&args, &[folder]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {says} in {stderr}");
        assert!(!out.stdout.is_empty(), "{args:?}: the report is written either way");
        assert!(
            !stderr.contains('\r') && !stderr.contains('\x1b'),
            "no progress off a terminal: {stderr:?}"
        );
    }
    let bad = shadow_report(&["--fail-on", "dropped"], &[dir.path()]);
    assert_eq!(bad.status.code(), Some(2), "an unknown value is an argument error");
}

/// A lock the shadow saw (its validation's Gameball answer is in the run's
/// lines) and later could not find is not labelled "not seen"; locks with no
/// such evidence form one group, whatever their references.
#[test]
fn unseen_locks_are_labelled_true_to_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let seen = "5e21ff4baf5d4760a8a43c7b2513298e";
    let Line::Mismatch(mut validate) = mismatch(
        "2026-12-01T10:00:00Z",
        "r1",
        "validate",
        VALIDATE,
        vec![differs("$.validCoupons[0].discountAmount", json!(25), json!(20))],
    ) else {
        unreachable!()
    };
    validate.call.gameball.body = json!({"validCoupons": [{"code": "A", "lockReference": seen}]});
    let unseen = |r: &str| {
        format!(
            "lock reference {}… was not seen by this shadow (made before shadowing began, or through another replica)",
            &r[..6]
        )
    };
    let lines = [
        Line::Mismatch(validate),
        error("2026-12-01T10:30:00Z", "r1", "release", LOCK, &unseen(seen)),
        error("2026-12-01T10:31:00Z", "r1", "release", LOCK, &unseen("a1b2c3d4")),
        error("2026-12-01T10:32:00Z", "r1", "release", LOCK, &unseen("f0e1d2c3")),
    ];
    let text: String = lines.iter().map(|l| serde_json::to_string(l).unwrap() + "\n").collect();
    std::fs::write(dir.path().join("shadow.jsonl"), text).unwrap();
    let out = stdout(&shadow_report(&["--format", "json"], &[dir.path()]));
    let json: Value = serde_json::from_str(&out).unwrap();
    let groups: Vec<(String, u64)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["error"].as_str().unwrap().to_owned(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    let seen_group = groups
        .iter()
        .find(|(e, _)| e.starts_with("lock seen by this shadow"))
        .unwrap();
    assert_eq!(seen_group.1, 1);
    assert!(seen_group.0.contains("2026-12-01T10:00:00Z"), "{}", seen_group.0);
    let other = groups
        .iter()
        .find(|(e, _)| e.starts_with("lock not in this shadow's store"))
        .unwrap();
    assert_eq!(other.1, 2, "two references, one group");
    let text = stdout(&shadow_report(&[], &[dir.path()]));
    assert!(!text.contains("\\u{"), "no Debug escapes: {text}");
    assert!(text.contains("release \"lock seen by this shadow"), "{text}");
}
