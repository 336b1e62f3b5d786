//! Shadow mode: the merchant gets Gameball's answer; couponbridge runs the
//! call through its translated flow on the side, with no side effects, and
//! counts and writes where the two differ.
//!
//! "Gameball" here is either a second couponbridge, translating against its
//! own simulator (so a faithful translation matches), or a local server
//! with one fixed answer (for byte-for-byte answers and deliberate
//! differences).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use couponbridge::shadow::record::Line;
use couponbridge::sim::faults::{Fault, Faults};
use serde_json::json;

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};
use crate::common::metric;
use crate::common::upstream::Fixed;

both_stores!(
    a_faithful_translation_matches_and_shadowing_changes_nothing_in_voucherify,
    lock_details_and_release_of_a_shadowed_lock_are_compared,
);

/// Every translated route of the v4 seed family in shadow mode, and the
/// shadow writing to `dir`.
fn shadow_toml(gameball: &str, dir: &Path, extra: &str) -> String {
    format!(
        "[passthrough]\nupstream = \"{gameball}\"\n\
         [routes]\nvalidate = \"shadow\"\nvalidate_single = \"shadow\"\nlock_details = \"shadow\"\n\
         release = \"shadow\"\nburn = \"shadow\"\norders = \"shadow\"\n\
         [shadow]\npath = \"{}\"\n{extra}\n",
        dir.display()
    )
}

pub(crate) fn shadow_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cb-shadow-{name}-{}", couponbridge::ids::prefixed_hex("", 8)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn series(route: &str, result: &str) -> String {
    format!("couponbridge_shadow_comparisons_total{{route=\"{route}\",result=\"{result}\"}}")
}

/// Waits until the shadow has finished `n` comparisons of `route` (any
/// result), then returns the metrics text.
pub(crate) async fn compared(env: &Env, route: &str, n: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = env.metrics().await;
        let done: f64 = ["match", "mismatch", "error", "dropped"]
            .iter()
            .map(|r| metric(&m, &series(route, r)))
            .sum();
        if done >= n || Instant::now() > deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every line the shadow wrote to `dir`.
pub(crate) fn lines(dir: &Path) -> Vec<(String, Line)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for l in text.lines() {
            out.push((
                l.to_owned(),
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")),
            ));
        }
    }
    out
}

async fn a_faithful_translation_matches_and_shadowing_changes_nothing_in_voucherify(store: StoreKind) {
    let gameball = Env::start(StoreKind::Memory).await;
    let dir = shadow_dir("faithful");
    let env = Env::builder(store)
        .toml(&shadow_toml(&gameball.url(""), &dir, ""))
        .start()
        .await;

    // A lock, then a burn of it; a burn by codes; an order with codes. The
    // lock's comparison is held in the shadow's Voucherify (its one call)
    // until the burns are queued behind it.
    env.sim.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        ..Faults::default()
    });
    let mut begun = env.sim.sim.requests_begun();
    let r = env
        .validate(json!({"customerId": "alice", "coupons": ["TWICE", "AMOUNT10", "NOPE"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reference = r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        gameball
            .adapter()
            .store()
            .get("shop", &reference)
            .await
            .unwrap()
            .is_some(),
        "the reference is Gameball's"
    );
    // The burns are queued while the lock's comparison is still running:
    // they wait for it, and match.
    tokio::time::timeout(Duration::from_secs(10), begun.wait_for(|n| *n >= 1))
        .await
        .expect("the lock's comparison reaches Voucherify")
        .unwrap();
    let burn = env
        .gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "alice", "lockReference": reference, "transactionId": "tx-1"})),
        )
        .await;
    assert_eq!(burn.status, 200, "{}", burn.text());
    let by_codes = env
        .gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "bob", "coupons": ["PERCENT20"]})),
        )
        .await;
    assert_eq!(by_codes.status, 200, "{}", by_codes.text());
    let order = env
        .gb(
            "POST",
            &format!("{V}/orders"),
            Some(json!({"customerId": "carol", "orderId": "ORD-9", "totalPaid": 99.5, "redemption": {"couponCodes": ["ONCE"]}})),
        )
        .await;
    assert_eq!(order.status, 200, "{}", order.text());
    // A burn Gameball refuses (already used) is refused the same way.
    let again = env
        .gb(
            "POST",
            &format!("{V}/coupons/burn"),
            Some(json!({"customerId": "alice", "lockReference": reference, "transactionId": "tx-2"})),
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.text());
    let m = env.metrics().await;
    assert_eq!(metric(&m, &series("validate", "match")), 0.0, "the lock is still held");
    env.sim.sim.set_faults(Faults::default());

    compared(&env, "validate", 1.0).await;
    compared(&env, "burn", 3.0).await;
    let m = compared(&env, "orders", 1.0).await;
    for (route, n) in [("validate", 1.0), ("burn", 3.0), ("orders", 1.0)] {
        assert_eq!(
            metric(&m, &series(route, "match")),
            n,
            "{route}: {m}\n{:#?}",
            lines(&dir)
        );
    }
    // Gameball redeemed; the shadow's Voucherify was only read.
    assert_eq!(
        (
            gameball.redeemed("TWICE"),
            gameball.redeemed("PERCENT20"),
            gameball.redeemed("ONCE")
        ),
        (1, 1, 1)
    );
    for code in ["TWICE", "AMOUNT10", "PERCENT20", "ONCE"] {
        assert_eq!(env.redeemed(code), 0, "{code} redeemed by the shadow");
    }
    assert!(
        env.live_sessions().is_empty(),
        "the shadow took a session: {:?}",
        env.live_sessions()
    );
    assert!(
        env.adapter().store().get("shop", &reference).await.unwrap().is_none(),
        "nothing in the lock store looks like a real lock"
    );
    assert!(lines(&dir).iter().all(|(_, l)| matches!(l, Line::Tally(_))));
}

async fn lock_details_and_release_of_a_shadowed_lock_are_compared(store: StoreKind) {
    let gameball = Env::start(StoreKind::Memory).await;
    let dir = shadow_dir("details");
    let env = Env::builder(store)
        .toml(&shadow_toml(&gameball.url(""), &dir, ""))
        .start()
        .await;
    let r = env
        .validate(json!({"customerId": "cust-9", "coupons": ["PERCENT20", "MIN100"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    let reference = r.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .unwrap()
        .to_owned();
    compared(&env, "validate", 1.0).await;
    let details = env.gb("GET", &format!("{V}/locks/{reference}"), None).await;
    assert_eq!(details.status, 200, "{}", details.text());
    compared(&env, "lock_details", 1.0).await;
    let release = env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await;
    assert_eq!(release.status, 200, "{}", release.text());
    compared(&env, "release", 1.0).await;
    // A reference the shadow never saw, that Gameball does not know either.
    let unknown = env
        .gb("GET", &format!("{V}/locks/0123456789abcdef0123456789abcdef"), None)
        .await;
    assert_eq!(unknown.status, 404);
    let m = compared(&env, "lock_details", 2.0).await;
    assert_eq!(
        metric(&m, &series("lock_details", "match")),
        2.0,
        "{m}\n{:#?}",
        lines(&dir)
    );
    assert_eq!(metric(&m, &series("release", "match")), 1.0, "{m}\n{:#?}", lines(&dir));
    assert_eq!(metric(&m, &series("validate", "match")), 1.0, "{m}");
    assert!(env.live_sessions().is_empty());
}

/// Gameball's seed-shaped answer to the validation below, but with a
/// different discount than the simulator's PERCENT20 gives on 250.
const DIFFERENT: &str = r#"{"validCoupons":[{"code":"PERCENT20","lockReference":"gb-lock-1","discountType":"percentage","discountAmount":99}],"invalidCoupons":[]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_is_counted_and_written_with_its_path_and_no_secret() {
    let gameball = Fixed::start(DIFFERENT).await;
    let dir = shadow_dir("mismatch");
    let mut env = Env::builder(StoreKind::Memory)
        .toml(&shadow_toml(&gameball.url, &dir, ""))
        .start()
        .await;
    let r = env
        .validate(json!({"customerId": "jane", "email": "jane@example.com", "coupons": ["PERCENT20"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(
        r.body,
        Bytes::from_static(DIFFERENT.as_bytes()),
        "Gameball's answer, byte for byte"
    );
    assert_eq!(r.header("x-stand-in"), Some("fixed"));
    let m = compared(&env, "validate", 1.0).await;
    assert_eq!(metric(&m, &series("validate", "mismatch")), 1.0, "{m}");
    env.stop_adapter().await;

    let written = lines(&dir);
    let (text, compared) = written
        .iter()
        .find_map(|(t, l)| match l {
            Line::Mismatch(c) => Some((t, c)),
            _ => None,
        })
        .expect("a mismatch line");
    assert_eq!(compared.call.route, "validate");
    assert_eq!(compared.call.request.path, format!("{V}/coupons/validate"));
    let paths: Vec<&str> = compared.differences.iter().map(|d| d.path.as_str()).collect();
    // Only the discount: Gameball's reference is the shadow's too.
    assert_eq!(
        paths,
        ["$.validCoupons[0].discountAmount"],
        "{:#?}",
        compared.differences
    );
    assert_eq!(compared.differences[0].describe(), "differs: expected 99, got 30");
    assert!(env.live_sessions().is_empty(), "a locking validation took no session");
    for secret in [
        API_KEY,
        SECRET_KEY,
        couponbridge::sim::DEFAULT_APP_TOKEN,
        "jane@example.com",
    ] {
        assert!(!text.contains(secret), "{secret} written: {text}");
    }
    assert_eq!(compared.call.request.headers["secretkey"], "<redacted>");
    // The last tally counts it.
    let tally = written
        .iter()
        .rev()
        .find_map(|(_, l)| match l {
            Line::Tally(t) => Some(t),
            _ => None,
        })
        .expect("a tally at shutdown");
    assert_eq!(tally.routes["validate"].mismatch, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gameballs_answer_does_not_wait_for_a_slow_voucherify() {
    let gameball = Fixed::start(DIFFERENT).await;
    let dir = shadow_dir("slow");
    let env = Env::builder(StoreKind::Memory)
        .toml(&shadow_toml(&gameball.url, &dir, ""))
        .start()
        .await;
    env.sim.sim.set_faults(Faults {
        latency_ms: 1_500,
        ..Faults::default()
    });
    let mut begun = env.sim.sim.requests_begun();
    let r = env
        .validate(json!({"customerId": "jane", "coupons": ["PERCENT20"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, Bytes::from_static(DIFFERENT.as_bytes()));
    // The answer is here; the shadow's Voucherify call has not been
    // answered yet (it is delayed 1.5 s), so no comparison has finished.
    let m = env.metrics().await;
    assert_eq!(metric(&m, &series("validate", "mismatch")), 0.0, "{m}");
    // It does run, and finishes.
    tokio::time::timeout(Duration::from_secs(10), begun.wait_for(|n| *n >= 1))
        .await
        .expect("the shadow calls Voucherify")
        .unwrap();
    let m = compared(&env, "validate", 1.0).await;
    assert_eq!(metric(&m, &series("validate", "mismatch")), 1.0, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts() {
    let gameball = Fixed::start(DIFFERENT).await;
    let dir = shadow_dir("full");
    let env = Env::builder(StoreKind::Memory)
        .toml(&shadow_toml(&gameball.url, &dir, "queue = 1\nconcurrency = 1"))
        .start()
        .await;
    env.sim.sim.set_faults(Faults {
        latency_ms: 1_000,
        ..Faults::default()
    });
    let body = json!({"customerId": "jane", "coupons": ["PERCENT20"], "totalPurchaseAmount": 250});
    for _ in 0..6 {
        assert_eq!(env.validate(body.clone()).await.status, 200);
    }
    // One comparison runs, one waits; the rest were dropped.
    let m = compared(&env, "validate", 6.0).await;
    let dropped = metric(&m, &series("validate", "dropped"));
    assert!(dropped >= 3.0, "{m}");
    assert_eq!(dropped + metric(&m, &series("validate", "mismatch")), 6.0, "{m}");
    assert_eq!(
        gameball.received.lock().unwrap().len(),
        6,
        "every call reached Gameball"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gameball_down_is_the_merchants_failure_as_in_passthrough() {
    let dir = shadow_dir("down");
    let env = Env::builder(StoreKind::Memory)
        .toml(&shadow_toml("http://127.0.0.1:9", &dir, ""))
        .start()
        .await;
    let r = env
        .validate(json!({"customerId": "jane", "coupons": ["PERCENT20"], "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        env.sim.sim.request_ids().is_empty(),
        "no shadow without Gameball's answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_needs_a_passthrough_upstream() {
    let env = Env::start(StoreKind::Memory).await;
    let text = env.config_text() + "\n[routes]\nburn = \"shadow\"\n";
    let err = couponbridge::config::Config::from_toml(&text).unwrap_err().to_string();
    assert!(
        err.contains("routes") && err.contains("[passthrough] upstream"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_dialect_is_shadowed_faithfully_too() {
    let dialect = "dialect = \"published\"";
    let gameball = Env::builder(StoreKind::Memory).tenant(dialect).start().await;
    let dir = shadow_dir("published");
    let env = Env::builder(StoreKind::Memory)
        .tenant(dialect)
        .toml(&shadow_toml(&gameball.url(""), &dir, ""))
        .start()
        .await;
    // Published: atomic, with full Coupon objects (definitions are read).
    let r = env
        .validate(json!({"customerId": "dana", "coupons": ["PERCENT20", "AMOUNT10"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let invalid = env
        .validate(json!({"customerId": "dana", "coupons": ["PERCENT20", "EXPIRED"], "lock": true, "totalPurchaseAmount": 250}))
        .await;
    assert_eq!(invalid.status, 200, "{}", invalid.text());
    let m = compared(&env, "validate", 2.0).await;
    assert_eq!(metric(&m, &series("validate", "match")), 2.0, "{m}\n{:#?}", lines(&dir));
    assert!(env.live_sessions().is_empty());
    assert_eq!(gameball.live_sessions().len(), 2, "Gameball's lock holds both coupons");
}

/// The scheduling policy of each of this process's threads whose name
/// starts with `prefix` (Linux: field 41 of `/proc/self/task/TID/stat`).
#[cfg(target_os = "linux")]
fn thread_policies(prefix: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the `(comm)` start at field 3.
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        out.push(after.split_whitespace().nth(41 - 3).unwrap().parse().unwrap());
    }
    out
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_shadows_threads_run_at_idle_priority() {
    const SCHED_IDLE: u32 = 5;
    let gameball = Fixed::start(DIFFERENT).await;
    let dir = shadow_dir("idle");
    let _env = Env::builder(StoreKind::Memory)
        .toml(&shadow_toml(&gameball.url, &dir, ""))
        .start()
        .await;
    // Thread names are cut to 15 bytes: "couponbridge-sh".
    let policies = thread_policies("couponbridge-sh");
    assert!(policies.len() >= 2, "the comparison and writer threads: {policies:?}");
    assert!(
        policies.iter().all(|p| *p == SCHED_IDLE),
        "every shadow thread yields to the merchant's requests: {policies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_routes_are_shadowed_without_side_effects() {
    let gameball = Env::start(StoreKind::Memory).await;
    let dir = shadow_dir("lifecycle");
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\npayments = \"shadow\"\ncustomer_coupons = \"shadow\"\n\
             automatic = \"shadow\"\nrefunds = \"shadow\"\n[shadow]\npath = \"{}\"\n",
            gameball.url(""),
            dir.display()
        ))
        .start()
        .await;
    let paid = env
        .gb(
            "POST",
            &format!("{V}/payments"),
            Some(
                json!({"customerId": "carol", "paymentId": "P-1", "paymentDate": "2026-01-01T00:00:00Z",
                "totalPaid": 10, "redemption": {"couponCodes": ["ONCE"]}}),
            ),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text());
    let wallet = env.gb("GET", &format!("{V}/customers/carol/coupons"), None).await;
    assert_eq!(wallet.status, 200);
    let refund = env
        .gb(
            "POST",
            &format!("{V}/transactions/refund"),
            Some(
                json!({"customerId": "carol", "refundTransactionId": "R-1", "reverseTransactionId": "P-1",
                "transactionTime": "2026-01-02T00:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text());
    compared(&env, "payments", 1.0).await;
    compared(&env, "customer_coupons", 1.0).await;
    let m = compared(&env, "refunds", 1.0).await;
    assert_eq!(metric(&m, &series("payments", "match")), 1.0, "{m}");
    assert_eq!(metric(&m, &series("customer_coupons", "match")), 1.0, "{m}");
    assert_eq!(
        metric(&m, &series("refunds", "error")),
        1.0,
        "a refund cannot run dry: {m}"
    );
    // Gameball redeemed and rolled back; the shadow's Voucherify was only read.
    assert_eq!(gameball.redeemed("ONCE"), 0);
    assert_eq!(env.redeemed("ONCE"), 0);
}
