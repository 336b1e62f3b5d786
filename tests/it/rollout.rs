//! Progressive rollout, as a merchant ramps it: a stand-in Gameball behind
//! `[passthrough] upstream`, the simulator as Voucherify, a share of the
//! customers translated. Where each call went is read on both sides: the
//! stand-in keeps every request it got, the simulator counts the calls it
//! began. No test waits on time: the adapter's clock is moved by hand, and
//! what the shadow does on its own thread is polled for with a deadline.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use couponbridge::report::shadow::LearnedNoise;
use couponbridge::rollout::in_share;
use couponbridge::sim::faults::Faults;
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::common::env::{Env, StoreKind};
use crate::common::gameball::{Gameball, GbCoupon};
use crate::common::{codes, metric};
use crate::shadow::{compared, series, shadow_dir};

both_stores!(
    injected_voucherify_errors_trip_the_error_guard_until_a_reload_changes_the_share,
    calibration_learns_what_gameball_changes_by_itself_and_mismatches_stop_counting_it,
);

/// Gameball with one coupon the simulator does not have: a validation of
/// it is Gameball's valid against couponbridge's not found (a mismatch).
async fn gameball() -> Gameball {
    Gameball::start(vec![GbCoupon::new("GB10", "Fixed Rate Discount", 10.0)]).await
}

/// `validate` in `route` mode with `share` of the customers translated,
/// and `extra` sections.
fn rollout_toml(gb: &Gameball, route: &str, share: f64, extra: &str) -> String {
    format!(
        "[passthrough]\nupstream = \"{}\"\n[routes]\nvalidate = \"{route}\"\n[rollout]\nvalidate = {share}\n{extra}\n",
        gb.url()
    )
}

fn customers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("customer-{i}")).collect()
}

/// The customers a share translates, by the library's own hash.
fn translated_at(all: &[String], share: f64) -> BTreeSet<String> {
    all.iter().filter(|c| in_share("shop", c, share)).cloned().collect()
}

/// Validates `code` for each customer (16 at a time); every answer 200.
async fn validate_each(env: &Env, customers: &[String], code: &str) {
    let replies: Vec<_> = stream::iter(customers)
        .map(|c| env.validate(json!({"customerId": c, "coupons": [code]})))
        .buffer_unordered(16)
        .collect()
        .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// The customers whose validations reached Gameball, from its `from`-th
/// validation on.
fn at_gameball(gb: &Gameball, from: usize) -> BTreeSet<String> {
    gb.received("/coupons/validate")[from..]
        .iter()
        .map(|(_, body)| body["customerId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn validations_at_gameball(gb: &Gameball) -> usize {
    gb.received("/coupons/validate").len()
}

fn voucherify_calls(env: &Env) -> u64 {
    *env.sim.sim.requests_begun().borrow()
}

/// `n` standard deviations of a binomial count of `trials` at `p`.
fn within_binomial(count: usize, trials: usize, p: f64, n: f64) -> bool {
    let (trials, count) = (trials as f64, count as f64);
    (count - trials * p).abs() <= n * (trials * p * (1.0 - p)).sqrt()
}

async fn rollout_status(env: &Env) -> Value {
    env.client
        .send("GET", &env.admin_url("/rollout"), &[], None)
        .await
        .json()
}

fn trips(metrics: &str, guard: &str) -> f64 {
    metric(
        metrics,
        &format!("couponbridge_rollout_guard_trips_total{{tenant=\"shop\",operation=\"validate\",guard=\"{guard}\"}}"),
    )
}

fn share_in_force(metrics: &str) -> f64 {
    metric(
        metrics,
        "couponbridge_rollout_share{tenant=\"shop\",operation=\"validate\"}",
    )
}

/// Polls the metrics until `done` holds for them (15 s at most).
async fn metrics_until(env: &Env, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = env.metrics().await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second replica: the same configuration, the same Redis and the same
/// Voucherify as `first`.
async fn second_replica(first: &Env, toml: &str) -> Env {
    let redis = first.redis.as_ref().expect("the first replica runs on Redis");
    Env::builder(StoreKind::Memory)
        .store(&format!("url = \"{}\"", redis.url()))
        .voucherify_url(&first.sim.base_url())
        .toml(toml)
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_translates_its_customers_the_same_way_after_a_restart_and_on_a_second_replica() {
    let gb = gameball().await;
    let toml = rollout_toml(&gb, "passthrough", 0.1, "");
    let mut first = Env::builder(StoreKind::Redis).toml(&toml).start().await;
    let all = customers(1000);
    let expected = translated_at(&all, 0.1);
    // Binomial(1000, 0.1): 100 ± 9.5; four standard deviations either side.
    assert!(within_binomial(expected.len(), 1000, 0.1, 4.0), "{}", expected.len());

    let calls_before = voucherify_calls(&first);
    validate_each(&first, &all, "NOPE").await;
    let to_gameball = at_gameball(&gb, 0);
    let translated: BTreeSet<String> = all.iter().filter(|c| !to_gameball.contains(*c)).cloned().collect();
    assert_eq!(translated, expected, "the share is the hash's");
    assert_eq!(
        validations_at_gameball(&gb),
        1000 - expected.len(),
        "each call went one way, once"
    );
    assert_eq!(
        voucherify_calls(&first) - calls_before,
        expected.len() as u64,
        "each translated validation is one Voucherify call"
    );
    let m = first.metrics().await;
    let answers = |cohort: &str| {
        metric(
            &m,
            &format!(
                "couponbridge_rollout_answers_total{{tenant=\"shop\",operation=\"validate\",cohort=\"{cohort}\"}}"
            ),
        )
    };
    assert_eq!(answers("translated"), expected.len() as f64, "{m}");
    assert_eq!(answers("route_mode"), (1000 - expected.len()) as f64, "{m}");
    assert_eq!(share_in_force(&m), 0.1);

    // After a restart: the same customers, the same way.
    first.restart().await;
    let mark = validations_at_gameball(&gb);
    validate_each(&first, &all, "NOPE").await;
    assert_eq!(at_gameball(&gb, mark), to_gameball, "after a restart");

    // A second replica on the same Redis: the same again.
    let second = second_replica(&first, &toml).await;
    let mark = validations_at_gameball(&gb);
    validate_each(&second, &all, "NOPE").await;
    assert_eq!(at_gameball(&gb, mark), to_gameball, "on a second replica");
}

/// The customer's coupons name their customer in the path, not the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_named_in_the_path_follows_its_cohort() {
    let all = customers(100);
    let inside = translated_at(&all, 0.5).into_iter().next().unwrap();
    let outside = all.iter().find(|c| !in_share("shop", c, 0.5)).unwrap().clone();
    let gb = Gameball::start(vec![
        GbCoupon::new("GB10", "Fixed Rate Discount", 10.0).owned_by(&outside),
        GbCoupon::new("GB20", "Fixed Rate Discount", 20.0).owned_by(&inside),
    ])
    .await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\ncustomer_coupons = \"passthrough\"\n[rollout]\ncustomer_coupons = 0.5\n",
            gb.url()
        ))
        .start()
        .await;
    let theirs = env.get(&format!("/customers/{outside}/coupons")).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    assert_eq!(codes(&theirs.json()["coupons"]), ["GB10"], "Gameball's wallet");
    let ours = env.get(&format!("/customers/{inside}/coupons")).await;
    assert_eq!(ours.status, 200, "{}", ours.text());
    assert!(
        !codes(&ours.json()["coupons"]).contains(&"GB20".to_owned()),
        "answered from Voucherify: {}",
        ours.text()
    );
    let methods: Vec<String> = gb.received("/coupons").into_iter().map(|(m, _)| m).collect();
    assert_eq!(methods, ["GET"], "only the customer outside the share reached Gameball");
}

/// A share decides where new state is born; a call naming state Gameball
/// issued still goes to Gameball, whatever its customer's cohort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_gameball_owns_goes_to_gameball_whatever_the_customers_cohort() {
    let gb = gameball().await;
    let env = Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\nvalidate = \"passthrough\"\norders = \"passthrough\"\n\
             [rollout]\nvalidate = 1.0\norders = 1.0\n",
            gb.url()
        ))
        .start()
        .await;
    // Locked at Gameball before the share reached this customer.
    let auth = crate::common::env::AUTH;
    let locked = env
        .client
        .send(
            "POST",
            &format!("{}{}/coupons/validate", gb.url(), crate::common::env::V),
            &auth,
            Some(&json!({"customerId": "alice", "coupons": ["GB10"], "lock": true})),
        )
        .await
        .json();
    let reference = locked["validCoupons"][0]["lockReference"].as_str().unwrap().to_owned();
    let order = env.order_with_lock("alice", "GB-ORD-1", 90, &reference).await;
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(gb.used("GB10"), 1, "Gameball burned its own lock");
    // A call that makes new state follows the cohort: translated.
    let validated = env.validate(json!({"customerId": "alice", "coupons": ["NOPE"]})).await;
    assert_eq!(validated.status, 200, "{}", validated.text());
    assert_eq!(
        validations_at_gameball(&gb),
        1,
        "only the lock made at Gameball directly"
    );
    let m = env.metrics().await;
    let series = |op: &str, name: &str, label: &str| {
        metric(
            &m,
            &format!("couponbridge_{name}{{tenant=\"shop\",operation=\"{op}\",{label}}}"),
        )
    };
    assert_eq!(
        series("orders", "gameball_calls_total", "reason=\"reference\""),
        1.0,
        "{m}"
    );
    assert_eq!(
        series("orders", "rollout_answers_total", "cohort=\"translated\""),
        0.0,
        "an order its lock took to Gameball is no sample of the translated cohort"
    );
    assert_eq!(
        series("validate", "rollout_answers_total", "cohort=\"translated\""),
        1.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_share_keeps_every_customer_it_translated() {
    let gb = gameball().await;
    let mut env = Env::builder(StoreKind::Memory)
        .toml(&rollout_toml(&gb, "passthrough", 0.1, ""))
        .start()
        .await;
    let all = customers(1000);
    validate_each(&env, &all, "NOPE").await;
    let gameballs = at_gameball(&gb, 0);
    let at_10: BTreeSet<String> = all.iter().filter(|c| !gameballs.contains(*c)).cloned().collect();

    env.reload_with(&rollout_toml(&gb, "passthrough", 0.5, "")).await;
    assert_eq!(share_in_force(&env.metrics().await), 0.5);
    let mark = validations_at_gameball(&gb);
    validate_each(&env, &all, "NOPE").await;
    let gameballs = at_gameball(&gb, mark);
    let at_50: BTreeSet<String> = all.iter().filter(|c| !gameballs.contains(*c)).cloned().collect();

    assert!(at_10.is_subset(&at_50), "lost at 50 %: {:?}", at_10.difference(&at_50));
    assert_eq!(at_50, translated_at(&all, 0.5));
    assert!(within_binomial(at_50.len(), 1000, 0.5, 4.0), "{}", at_50.len());
    assert!(at_50.len() > at_10.len() * 3, "{} then {}", at_10.len(), at_50.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatches_past_the_limit_drop_the_share_to_zero_on_both_replicas() {
    let gb = gameball().await;
    let guard = "[rollout.guard]\nwindow = \"5m\"\nmin_samples = 10\nmax_mismatch_rate = 0.2\n\
                 max_error_rate = 1\nmax_p99_added = \"10s\"\n";
    let toml = rollout_toml(&gb, "shadow", 0.5, guard);
    let first = Env::builder(StoreKind::Redis).toml(&toml).start().await;
    let second = second_replica(&first, &toml).await;
    let all = customers(200);
    let inside: Vec<String> = translated_at(&all, 0.5).into_iter().take(30).collect();
    let outside: Vec<String> = all
        .iter()
        .filter(|c| !in_share("shop", c, 0.5))
        .take(10)
        .cloned()
        .collect();

    // The share translates on both replicas: Gameball sees none of it.
    validate_each(&first, &inside[..5], "NOPE").await;
    validate_each(&second, &inside[5..10], "NOPE").await;
    assert!(at_gameball(&gb, 0).is_empty(), "{:?}", at_gameball(&gb, 0));

    // The rest of the route is shadowed; ten of them validate a coupon
    // only Gameball has: ten mismatches of ten, past 20 %.
    validate_each(&first, &outside, "GB10").await;
    let m = metrics_until(&first, "the mismatch guard's trip", |m| {
        trips(m, "mismatch_rate") == 1.0
    })
    .await;
    assert_eq!(metric(&m, &series("validate", "mismatch")), 10.0, "{m}");
    assert_eq!(share_in_force(&m), 0.0);

    // At once on the replica that tripped: the share's customers go the
    // route's mode (shadow: to Gameball).
    let mark = validations_at_gameball(&gb);
    validate_each(&first, &inside[..10], "NOPE").await;
    assert_eq!(at_gameball(&gb, mark), inside[..10].iter().cloned().collect());

    // The other replica asks the store once a second of its clock: a
    // second on, its next call already goes the route's mode, well within
    // the window.
    second.advance(Duration::from_secs(1));
    let mark = validations_at_gameball(&gb);
    validate_each(&second, &inside[10..30], "NOPE").await;
    assert_eq!(at_gameball(&gb, mark), inside[10..30].iter().cloned().collect());
    let m = second.metrics().await;
    assert_eq!(share_in_force(&m), 0.0, "{m}");
    assert_eq!(trips(&m, "mismatch_rate"), 0.0, "counted where it tripped, once");

    for env in [&first, &second] {
        let status = rollout_status(env).await;
        let op = &status["operations"][0];
        assert_eq!(
            (
                op["operation"].as_str(),
                op["configured_share"].as_f64(),
                op["share_in_force"].as_f64()
            ),
            (Some("validate"), Some(0.5), Some(0.0)),
            "{status:#}"
        );
        assert_eq!(op["guard"]["state"], "tripped", "{status:#}");
        assert_eq!(op["last_trip"]["guard"], "mismatch_rate", "{status:#}");
        assert_eq!(op["last_trip"]["figures"]["mismatched"], 10, "{status:#}");
    }
    // And it stays so: later calls, later in the window, the same.
    first.advance(Duration::from_secs(60));
    let mark = validations_at_gameball(&gb);
    validate_each(&first, &inside[20..30], "NOPE").await;
    assert_eq!(at_gameball(&gb, mark).len(), 10);
}

async fn injected_voucherify_errors_trip_the_error_guard_until_a_reload_changes_the_share(store: StoreKind) {
    let gb = gameball().await;
    let guard =
        "[rollout.guard]\nmin_samples = 5\nmax_error_rate = 0.5\nmax_mismatch_rate = 1\nmax_p99_added = \"10s\"\n";
    let mut env = Env::builder(store)
        .toml(&rollout_toml(&gb, "passthrough", 0.5, guard))
        .start()
        .await;
    let inside: Vec<String> = translated_at(&customers(100), 0.5).into_iter().take(10).collect();
    env.sim.sim.set_faults(Faults {
        error_rate: 1.0,
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    // Five 503s of five translated calls: past 50 % with five samples.
    for c in &inside[..5] {
        let r = env.validate(json!({"customerId": c, "coupons": ["NOPE"]})).await;
        assert_eq!(r.status, 503, "{}", r.text());
    }
    assert!(at_gameball(&gb, 0).is_empty());
    let m = env.metrics().await;
    assert_eq!(trips(&m, "error_rate"), 1.0, "{m}");
    assert_eq!(share_in_force(&m), 0.0, "{m}");
    assert_eq!(
        metric(
            &m,
            "couponbridge_rollout_errors_total{tenant=\"shop\",operation=\"validate\",cohort=\"translated\"}"
        ),
        5.0
    );
    // Every later call of the share goes the route's mode: Gameball answers.
    validate_each(&env, &inside[5..], "NOPE").await;
    assert_eq!(at_gameball(&gb, 0), inside[5..].iter().cloned().collect());
    let note = "rollout-trip:validate:0.5";
    assert!(env.adapter().store().read_note("shop", note).await.unwrap().is_some());

    let status = rollout_status(&env).await;
    let op = &status["operations"][0];
    assert_eq!(op["guard"]["state"], "tripped", "{status:#}");
    assert_eq!(op["last_trip"]["guard"], "error_rate", "{status:#}");
    assert_eq!(
        (
            &op["last_trip"]["figures"]["translated"],
            &op["last_trip"]["figures"]["errors"]
        ),
        (&json!(5), &json!(5))
    );
    // The operator's table says the same.
    let admin = env.admin_url("");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_couponbridge"))
            .args(["rollout", "status", "--admin", &admin])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let row = table
        .lines()
        .find(|l| l.starts_with("shop"))
        .unwrap_or_else(|| panic!("{table}"));
    for cell in ["validate", "passthrough", "0.5", "tripped", "error_rate at"] {
        assert!(row.contains(cell), "{cell} not in {row}\n{table}");
    }

    // A reload with a new share clears the trip: its customers (the 50 %
    // are in the 60 %) translate again.
    env.sim.sim.set_faults(Faults::default());
    env.reload_with(&rollout_toml(&gb, "passthrough", 0.6, guard)).await;
    let mark = validations_at_gameball(&gb);
    validate_each(&env, &inside, "NOPE").await;
    assert_eq!(validations_at_gameball(&gb), mark, "none went to Gameball");
    let m = env.metrics().await;
    assert_eq!(share_in_force(&m), 0.6, "{m}");
    let status = rollout_status(&env).await;
    let op = &status["operations"][0];
    assert_eq!(
        (op["share_in_force"].as_f64(), &op["guard"]["state"]),
        (Some(0.6), &json!("watching"))
    );
    assert_eq!(
        op["last_trip"]["share"], 0.5,
        "the last trip is still shown: {status:#}"
    );
    // ... and the old share's trip is gone from the store, so a return to
    // it starts afresh.
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.adapter().store().read_note("shop", note).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the 0.5 trip is still in the store");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Translated customers far slower than Gameball's: Voucherify answers
/// validations 400 ms late, past the tenant's own `max_p99_added` (100 ms,
/// over a global 10 s) with five answers in each cohort, and the share
/// falls to 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_translated_cohort_trips_the_latency_guard() {
    let gb = gameball().await;
    let guard = "[rollout.guard]\nmin_samples = 5\nmax_error_rate = 1\nmax_mismatch_rate = 1\nmax_p99_added = \"10s\"\n\
        [tenants.shop.rollout.guard]\nmax_p99_added = \"100ms\"\n";
    let env = Env::builder(StoreKind::Redis)
        .toml(&rollout_toml(&gb, "passthrough", 0.5, guard))
        .start()
        .await;
    let all = customers(100);
    let inside = translated_at(&all, 0.5);
    let outside: Vec<String> = all.iter().filter(|c| !inside.contains(*c)).take(5).cloned().collect();
    let inside: Vec<String> = inside.into_iter().take(10).collect();
    env.sim.sim.set_faults(Faults {
        latency_ms: 400,
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    validate_each(&env, &outside, "GB10").await;
    assert_eq!(at_gameball(&gb, 0), outside.iter().cloned().collect());
    // Four slow answers are not enough to judge by; the fifth trips.
    for (i, c) in inside[..5].iter().enumerate() {
        let r = env.validate(json!({"customerId": c, "coupons": ["GB10"]})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let m = env.metrics().await;
        assert_eq!(
            trips(&m, "p99_added"),
            if i < 4 { 0.0 } else { 1.0 },
            "after {} slow answers: {m}",
            i + 1
        );
    }
    let m = env.metrics().await;
    assert_eq!(share_in_force(&m), 0.0, "{m}");
    assert_eq!(trips(&m, "error_rate") + trips(&m, "mismatch_rate"), 0.0, "{m}");
    let status = rollout_status(&env).await;
    let limits = &status["operations"][0]["guard"]["limits"];
    assert_eq!(
        (limits["max_p99_added_ms"].as_f64(), limits["min_samples"].as_u64()),
        (Some(100.0), Some(5))
    );
    assert_eq!(
        status["guard"]["max_p99_added_ms"], 10_000.0,
        "the global limits: {status:#}"
    );
    let figures = &status["operations"][0]["last_trip"]["figures"];
    assert_eq!(status["operations"][0]["last_trip"]["guard"], "p99_added", "{status:#}");
    let added = figures["p99_added_ms"].as_f64().unwrap_or_else(|| panic!("{status:#}"));
    assert!(added > 100.0, "{status:#}");
    // The rest of the share now goes where the route says: Gameball.
    let mark = validations_at_gameball(&gb);
    validate_each(&env, &inside[5..], "GB10").await;
    assert_eq!(at_gameball(&gb, mark), inside[5..].iter().cloned().collect());
}

async fn calibration_learns_what_gameball_changes_by_itself_and_mismatches_stop_counting_it(store: StoreKind) {
    let gb = gameball().await;
    gb.state.lock().unwrap().trace_tokens = true;
    let dir = shadow_dir("calibrate");
    // A share so small that these customers are all outside it: shadowed.
    let sections = |calibrate: f64| {
        format!(
            "[shadow]\npath = \"{}\"\ncalibrate = {calibrate}\n[rollout.guard]\nmax_mismatch_rate = 1\n",
            dir.display()
        )
    };
    let mut env = Env::builder(store)
        .toml(&rollout_toml(&gb, "shadow", 0.01, &sections(0.0)))
        .start()
        .await;
    let outside: Vec<String> = customers(100)
        .into_iter()
        .filter(|c| !in_share("shop", c, 0.01))
        .take(6)
        .collect();

    // Without calibration, Gameball's trace token is a difference.
    validate_each(&env, &outside[..3], "NOPE").await;
    let m = compared(&env, "validate", 3.0).await;
    assert_eq!(metric(&m, &series("validate", "mismatch")), 3.0, "{m}");
    // The writer thread writes the lines after the counts: wait for them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mismatch_lines = || {
        crate::shadow::lines(&dir)
            .into_iter()
            .filter(|(l, _)| l.contains("\"kind\":\"mismatch\"") && l.contains("$.traceToken"))
            .count()
    };
    while mismatch_lines() < 3 {
        assert!(Instant::now() < deadline, "{:#?}", crate::shadow::lines(&dir));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Calibrating every shadowed call: each is asked of Gameball twice,
    // the token is learned as noise, and the same calls match.
    env.reload_with(&rollout_toml(&gb, "shadow", 0.01, &sections(1.0)))
        .await;
    validate_each(&env, &outside[3..], "NOPE").await;
    let m = compared(&env, "validate", 6.0).await;
    assert_eq!(
        (
            metric(&m, &series("validate", "match")),
            metric(&m, &series("validate", "mismatch"))
        ),
        (3.0, 3.0),
        "{m}"
    );
    assert_eq!(
        validations_at_gameball(&gb),
        3 + 3 * 2,
        "a calibrated call is asked twice"
    );
    let calibrations =
        "couponbridge_gameball_calls_total{tenant=\"shop\",operation=\"validate\",reason=\"calibration\"}";
    assert_eq!(metric(&m, calibrations), 3.0, "{m}");
    // The guard counted the comparisons as the shadow did.
    let status = rollout_status(&env).await;
    let window = &status["operations"][0]["guard"]["window"];
    assert_eq!(
        (&window["compared"], &window["mismatched"]),
        (&json!(6), &json!(3)),
        "{status:#}"
    );

    // shadow-report lists what was learned, from the last tally.
    env.stop_adapter().await;
    let report = couponbridge::report::shadow::read(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(
        report.noise,
        vec![LearnedNoise {
            route: "validate".into(),
            path: "$.traceToken".into(),
            count: 3,
        }]
    );
}
