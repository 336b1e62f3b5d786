//! Grouping and counting of shadow lines, and reading files and folders.

use super::*;
use crate::shadow::record::{Call, ShadowRequest};
use serde_json::json;

fn request(path: &str) -> ShadowRequest {
    ShadowRequest {
        method: "POST".into(),
        path: path.into(),
        headers: BTreeMap::new(),
        body: json!({"customerId": "c"}),
    }
}

fn mismatch(at: &str, run: &str, route: &str, id: &str, differences: Vec<Mismatch>) -> Line {
    Line::Mismatch(Compared {
        call: Call {
            at: at.into(),
            run: run.into(),
            route: route.into(),
            tenant: None,
            request_id: id.into(),
            request: request("/api/v4.0/integrations/coupons/validate"),
            gameball: Answered {
                status: 200,
                body: json!({"a": 1}),
            },
        },
        couponbridge: Answered {
            status: 200,
            body: json!({"a": 2}),
        },
        differences,
    })
}

fn error(at: &str, run: &str, route: &str, message: &str) -> Line {
    Line::Error(Failed {
        call: Call {
            at: at.into(),
            run: run.into(),
            route: route.into(),
            tenant: None,
            request_id: format!("req-{at}"),
            request: request("/api/v4.0/integrations/coupons/burn"),
            gameball: Answered {
                status: 200,
                body: json!({"success": true}),
            },
        },
        error: message.into(),
    })
}

fn tally(at: &str, run: &str, routes: &[(&str, [u64; 4])]) -> Line {
    Line::Tally(Tally {
        at: at.into(),
        run: run.into(),
        routes: routes
            .iter()
            .map(|(r, [matched, mismatch, error, dropped])| {
                (
                    r.to_string(),
                    Counts {
                        matched: *matched,
                        mismatch: *mismatch,
                        error: *error,
                        dropped: *dropped,
                    },
                )
            })
            .collect(),
        noise: Default::default(),
    })
}

fn collect(lines: Vec<Line>) -> ShadowReport {
    let mut c = Collector::default();
    for l in lines {
        c.add(l);
    }
    c.finish()
}

fn added(path: &str) -> Mismatch {
    Mismatch {
        path: path.into(),
        change: Change::Added,
        expected: Value::Null,
        got: json!(true),
        note: None,
    }
}

#[test]
fn counts_are_each_runs_last_tally_summed_and_lines_where_a_run_has_none() {
    let r = collect(vec![
        // r1's tallies out of order: the latest one counts, not the last read.
        tally("2026-12-01T10:00:10Z", "r1", &[("validate", [10, 2, 0, 1])]),
        tally("2026-12-01T10:00:05Z", "r1", &[("validate", [5, 1, 0, 0])]),
        mismatch("2026-12-01T10:00:01Z", "r1", "validate", "a", vec![added("$.x")]),
        tally(
            "2026-12-01T11:00:00Z",
            "r2",
            &[("validate", [3, 0, 0, 0]), ("burn", [4, 0, 1, 0])],
        ),
        // r3 was killed before its first tally.
        mismatch("2026-12-01T12:00:00Z", "r3", "validate", "b", vec![added("$.x")]),
        error("2026-12-01T12:00:01Z", "r3", "burn", "voucherify unreachable"),
        error("2026-12-01T12:00:02Z", "r3", "release", "voucherify unreachable"),
    ]);
    let counts: Vec<(&str, [u64; 5])> = r
        .routes
        .iter()
        .map(|c| {
            let k = c.counts;
            (c.route.as_str(), [k.matched, k.mismatch, k.error, k.dropped, c.total])
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("burn", [4, 0, 2, 0, 6]),
            ("release", [0, 0, 1, 0, 1]),
            ("validate", [13, 3, 0, 1, 17])
        ]
    );
    assert_eq!((r.totals.counts.matched, r.totals.total), (17, 24));
    let runs: Vec<(&str, CountedFrom)> = r.runs.iter().map(|x| (x.run.as_str(), x.counted_from)).collect();
    assert_eq!(
        runs,
        [
            ("r1", CountedFrom::Tally),
            ("r2", CountedFrom::Tally),
            ("r3", CountedFrom::Lines)
        ]
    );
    assert_eq!(
        r.lines,
        LineCounts {
            mismatch: 2,
            error: 2,
            tally: 3,
            unparseable: 0
        }
    );
}

#[test]
fn mismatches_group_by_route_path_and_change_with_first_and_last_seen() {
    let amount = |e: i64, g: i64| Mismatch::differs("$.discountAmount", json!(e), json!(g), None);
    let r = collect(vec![
        mismatch(
            "2026-12-01T10:00:05Z",
            "r",
            "validate",
            "second",
            vec![amount(25, 20), added("$.x")],
        ),
        // Earlier, though read later: it is the first seen and the example.
        mismatch(
            "2026-12-01T10:00:01+00:00",
            "r",
            "validate",
            "first",
            vec![amount(30, 20)],
        ),
        mismatch("2026-12-01T10:00:09Z", "r", "validate", "third", vec![amount(25, 21)]),
        mismatch("2026-12-01T10:00:02Z", "r", "burn", "burn", vec![amount(1, 2)]),
    ]);
    let groups: Vec<(&str, &str, Change, u64)> = r
        .mismatches
        .iter()
        .map(|g| (g.route.as_str(), g.path.as_str(), g.change, g.count))
        .collect();
    assert_eq!(
        groups,
        [
            ("burn", "$.discountAmount", Change::Differs, 1),
            ("validate", "$.discountAmount", Change::Differs, 3),
            ("validate", "$.x", Change::Added, 1),
        ],
        "by route, most frequent first"
    );
    let g = &r.mismatches[1];
    assert_eq!(
        (g.first_seen.as_str(), g.last_seen.as_str()),
        ("2026-12-01T10:00:01+00:00", "2026-12-01T10:00:09Z")
    );
    assert_eq!(g.example.request_id, "first");
    assert_eq!(
        (g.example.expected.clone(), g.example.got.clone()),
        (json!(30), json!(20))
    );
    assert_eq!((g.example.gameball.status, g.example.couponbridge.status), (200, 200));
    assert_eq!(g.describe(), "differs: expected 30, got 20");
}

#[test]
fn errors_group_by_route_and_message() {
    let r = collect(vec![
        error("2026-12-01T10:00:03Z", "r", "burn", "voucherify unreachable"),
        error("2026-12-01T10:00:01Z", "r", "burn", "voucherify unreachable"),
        error("2026-12-01T10:00:02Z", "r", "burn", "parse refused"),
    ]);
    let groups: Vec<(&str, &str, u64, &str, &str)> = r
        .errors
        .iter()
        .map(|g| {
            (
                g.route.as_str(),
                g.error.as_str(),
                g.count,
                g.first_seen.as_str(),
                g.last_seen.as_str(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                "burn",
                "voucherify unreachable",
                2,
                "2026-12-01T10:00:01Z",
                "2026-12-01T10:00:03Z"
            ),
            (
                "burn",
                "parse refused",
                1,
                "2026-12-01T10:00:02Z",
                "2026-12-01T10:00:02Z"
            ),
        ]
    );
    assert_eq!(r.errors[0].example.request_id, "req-2026-12-01T10:00:01Z");
    assert_eq!(r.errors[0].example.request.path, "/api/v4.0/integrations/coupons/burn");
}

#[test]
fn a_folder_reads_its_jsonl_files_by_name_and_bad_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let line = |l: Line| serde_json::to_string(&l).unwrap() + "\n";
    let b = line(error("2026-12-01T10:00:02Z", "r", "burn", "late"));
    std::fs::write(dir.path().join("b.jsonl"), format!("{b}{{\"kind\": \"mismatch\"\n\n")).unwrap();
    let a = line(error("2026-12-01T10:00:01Z", "r", "burn", "early"));
    std::fs::write(dir.path().join("a.jsonl"), format!("not json\n{a}")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
    let r = read(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<&str> = r.files.iter().map(|f| f.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["a.jsonl", "b.jsonl"]);
    assert_eq!((r.lines.error, r.lines.unparseable), (2, 2));
    let bad: Vec<(&str, usize)> = r
        .unparseable
        .iter()
        .map(|u| (u.file.rsplit('/').next().unwrap(), u.line))
        .collect();
    assert_eq!(bad, [("a.jsonl", 1), ("b.jsonl", 2)]);
    assert!(read(&[dir.path().join("missing")]).unwrap_err().contains("missing"));
}

#[test]
fn the_html_page_escapes_the_bodies_it_shows() {
    let mut l = mismatch("2026-12-01T10:00:00Z", "r", "validate", "x", vec![added("$.x")]);
    if let Line::Mismatch(c) = &mut l {
        c.couponbridge.body = json!({"message": "<script>alert(1)</script>"});
    }
    let html = render::html(&collect(vec![l]));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

/// The shadow's "was not seen by this shadow" lines: one group per label,
/// not per reference, and "seen" when the run's lines show the lock earlier.
#[test]
fn unseen_locks_are_labelled_for_what_the_lines_show() {
    let unseen = |r: &str| {
        format!(
            "lock reference {r}… was not seen by this shadow (made before shadowing began, or through another replica)"
        )
    };
    let Line::Mismatch(mut validate) = mismatch("2026-12-01T10:00:00Z", "r", "validate", "v", vec![]) else {
        unreachable!()
    };
    validate.call.gameball.body = json!({"validCoupons": [{"code": "A", "lockReference": "5e21ffab0000"}]});
    let r = collect(vec![
        Line::Mismatch(validate),
        error("2026-12-01T10:00:05Z", "r", "release", &unseen("5e21ff")),
        error("2026-12-01T10:00:06Z", "r", "release", &unseen("aaaaaa")),
        error("2026-12-01T10:00:07Z", "r", "release", &unseen("bbbbbb")),
        // Another run's lines are not evidence for this one.
        error("2026-12-01T10:00:08Z", "other", "release", &unseen("5e21ff")),
    ]);
    let groups: Vec<(&str, u64)> = r.errors.iter().map(|g| (g.error.as_str(), g.count)).collect();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    let (seen, unknown) = if groups[0].0.starts_with("lock seen") {
        (&r.errors[0], &r.errors[1])
    } else {
        (&r.errors[1], &r.errors[0])
    };
    assert!(
        seen.error
            .starts_with("lock seen by this shadow (in Gameball's answer at 2026-12-01T10:00:00Z)"),
        "{}",
        seen.error
    );
    assert_eq!(seen.count, 1);
    assert!(
        seen.example.error.contains("5e21ff… was not seen"),
        "the line's own words are kept"
    );
    assert!(
        unknown.error.starts_with("lock not in this shadow's store"),
        "{}",
        unknown.error
    );
    assert_eq!(unknown.count, 3, "aaaaaa, bbbbbb and the other run's 5e21ff: one group");
    assert_eq!(r.lines.error, 4);
}
