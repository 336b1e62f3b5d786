//! `couponbridge import-coupons`, the real binary, against the simulator
//! in-process and the stand-in Gameball (issue 24, item 4): every type
//! mapped, what Gameball would refuse skipped, twice, dry, killed half-way
//! and resumed, a conflict, a 429 from either side, a wallet Gameball cannot list, the
//! report, and `--verify` passing and failing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use couponbridge::clock::Clock;
use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN, RunningSim, SimBuilder};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::common::env::{API_KEY, SECRET_KEY};
use crate::common::gameball::{Gameball, GbCoupon};

const FUTURE: &str = "2099-12-31T00:00:00Z";
const PAST: &str = "2020-01-01T00:00:00Z";

/// A simulated Voucherify, a Gameball, and a configuration naming both.
struct World {
    sim: RunningSim,
    gameball: Gameball,
    dir: tempfile::TempDir,
}

/// How one run of the binary ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    /// Panics unless standard output has `text`.
    fn printed(&self, text: &str) {
        assert!(self.stdout.contains(text), "missing {text:?}\n{}", self.shown());
    }

    /// Panics unless the run was refused as a usage error (exit 2) saying `why`.
    fn refused(&self, why: &str) {
        assert!(self.code == 2 && self.stderr.contains(why), "{}", self.shown());
    }

    /// Panics unless the run exited with `code` and `line` as its last line.
    fn ends(&self, code: i32, line: &str) {
        assert_eq!((self.code, self.last_line()), (code, line), "{}", self.shown());
    }

    /// The whole output, for assertion messages.
    fn shown(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl World {
    async fn start(coupons: Vec<GbCoupon>, decimals: u32) -> World {
        let sim = SimBuilder::new()
            .clock(Clock::manual_from_now())
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let gameball = Gameball::start(coupons).await;
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[store]\nurl = \"memory://\"\n[passthrough]\nupstream = \"{}\"\n\
             [tenants.shop]\napi_key = \"{API_KEY}\"\nsecret_key = \"{SECRET_KEY}\"\ncurrency_decimals = {decimals}\n\
             [tenants.shop.voucherify]\nbase_url = \"{}\"\napp_id = \"{DEFAULT_APP_ID}\"\napp_token = \"{DEFAULT_APP_TOKEN}\"\n",
            gameball.url(),
            sim.base_url()
        );
        std::fs::write(dir.path().join("couponbridge.toml"), config).unwrap();
        std::fs::write(
            dir.path().join("customers.txt"),
            "# the spring campaign\ncust-1\n\ncust-2\n",
        )
        .unwrap();
        World { sim, gameball, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `import-coupons` as tenant `shop` for the customers file.
    fn command(&self, extra: &[&str]) -> Command {
        self.command_as("shop", self.path("customers.txt").as_os_str(), extra)
    }

    fn command_as(&self, tenant: &str, customers: &std::ffi::OsStr, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_couponbridge"));
        cmd.arg("import-coupons")
            .arg("--config")
            .arg(self.path("couponbridge.toml"))
            .args(["--tenant", tenant, "--customers"])
            .arg(customers)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, extra: &[&str]) -> Run {
        finished(self.command(extra).output().await.unwrap())
    }

    fn report(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("report.json")).unwrap()).unwrap()
    }

    /// Reads the simulated project's state.
    fn project<R>(&self, f: impl FnOnce(&mut couponbridge::sim::engine::ProjectState) -> R) -> R {
        self.sim.sim.project(DEFAULT_APP_ID).unwrap().with(f)
    }

    /// The voucher under `code` as `GET /v1/vouchers/{code}` shows it.
    fn voucher(&self, code: &str) -> Option<Value> {
        self.project(|p| p.voucher_response(code).ok())
    }

    /// The codes published, and to whom (source ids), in order.
    fn publications(&self) -> Vec<(String, String)> {
        self.project(|p| {
            p.publications
                .iter()
                .map(|x| (x.voucher_code.clone(), x.customer_source_id.clone()))
                .collect()
        })
    }

    fn voucher_count(&self) -> usize {
        self.project(|p| p.vouchers.len())
    }

    /// Puts a voucher in Voucherify behind the import's back.
    fn seed(&self, voucher: Value) {
        self.project(|p| {
            p.create_voucher(&voucher, 0).expect("the simulator takes the voucher");
        });
    }
}

fn finished(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The wallets most tests use: cust-1 has one coupon of each type the
/// import maps and each kind it must not make usable; cust-2 has one.
fn wallets() -> Vec<GbCoupon> {
    vec![
        GbCoupon::new("PCT-15", "Percentage", 15.0)
            .owned_by("cust-1")
            .uses(1, Some(3))
            .dates(Some("2026-01-01T00:00:00Z"), Some(FUTURE)),
        GbCoupon::new("FIX-1999", "Fixed Rate Discount", 19.99).owned_by("cust-1"),
        GbCoupon::new("SHIP", "Free Shipping", 0.0)
            .owned_by("cust-1")
            .uses(0, None),
        GbCoupon::new("MUG", "Free Product", 1.0).owned_by("cust-1"),
        GbCoupon::new("USED", "Percentage", 10.0)
            .owned_by("cust-1")
            .uses(1, Some(1)),
        GbCoupon::new("OLD", "Percentage", 10.0).owned_by("cust-1").expired(),
        GbCoupon::new("PAST", "Percentage", 10.0)
            .owned_by("cust-1")
            .dates(None, Some(PAST)),
        GbCoupon::new("OFF", "Percentage", 10.0).owned_by("cust-1").inactive(),
        GbCoupon::new("WELCOME", "Fixed Rate Discount", 5.0).owned_by("cust-2"),
    ]
}

/// The codes `wallets()` creates, and how many it skips.
const CREATED: [&str; 4] = ["FIX-1999", "PCT-15", "SHIP", "WELCOME"];
const SKIPPED: usize = 5;

/// The report's entry for `code`.
fn entry(report: &Value, code: &str) -> Value {
    report["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("{code} not in the report: {report:#}"))
}

/// Every code published exactly once, to its owner.
fn assert_published_once(w: &World) {
    let mut published = w.publications();
    published.sort();
    let mut wanted: Vec<(String, String)> = CREATED
        .iter()
        .map(|c| {
            let owner = if *c == "WELCOME" { "cust-2" } else { "cust-1" };
            ((*c).to_owned(), owner.to_owned())
        })
        .collect();
    wanted.sort();
    assert_eq!(published, wanted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_is_mapped_and_what_gameball_would_refuse_is_skipped_with_its_reason() {
    let w = World::start(wallets(), 2).await;
    let run = w.run(&["--report", w.path("report.json").to_str().unwrap()]).await;
    run.ends(
        0,
        &format!("created 4, already there 0, skipped {SKIPPED}, conflicts 0, failed 0"),
    );

    let pct = w.voucher("PCT-15").unwrap();
    assert_eq!(pct["discount"], json!({"type": "PERCENT", "percent_off": 15}));
    assert_eq!(pct["redemption"]["quantity"], 2, "usageLimit 3 - usedCount 1");
    assert_eq!(pct["start_date"], "2026-01-01T00:00:00.000Z");
    assert_eq!(pct["expiration_date"], "2099-12-31T00:00:00.000Z");
    assert_eq!(
        pct["metadata"],
        json!({"source": "gameball-import", "gameball_customer_id": "cust-1", "gameball_type": "Percentage"})
    );
    assert_eq!(pct["active"], true);
    let fixed = w.voucher("FIX-1999").unwrap();
    assert_eq!(fixed["discount"], json!({"type": "AMOUNT", "amount_off": 1999}));
    assert_eq!(fixed["redemption"]["quantity"], 1);
    let ship = w.voucher("SHIP").unwrap();
    assert_eq!(
        ship["discount"],
        json!({"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"})
    );
    assert!(ship["redemption"].get("quantity").is_none(), "no limit: unlimited");
    for code in ["MUG", "USED", "OLD", "PAST", "OFF"] {
        assert!(w.voucher(code).is_none(), "{code} was created");
    }
    assert_eq!(w.voucher_count(), 4);
    assert_published_once(&w);

    let report = w.report();
    assert_eq!(report["mode"], "import");
    assert_eq!(report["counts"]["created"], 4);
    assert_eq!(report["coupons"].as_array().unwrap().len(), 9);
    let pct = entry(&report, "PCT-15");
    assert_eq!(
        (&pct["customer"], &pct["outcome"], &pct["publication"]),
        (&json!("cust-1"), &json!("created"), &json!("published"))
    );
    assert_eq!(pct["gameball"]["type"], "Percentage", "Gameball's coupon as listed");
    assert_eq!(pct["voucher"]["redemption"]["quantity"], 2, "the body sent");
    for (code, reason) in [
        (
            "MUG",
            "type \"Free Product\" has no Voucherify equivalent the import can make",
        ),
        ("USED", "used up (usedCount 1 of usageLimit 1)"),
        ("OLD", "expired (Gameball says isExpired)"),
        ("PAST", "expired on 2020-01-01T00:00:00.000Z"),
        ("OFF", "inactive (Gameball says isActive false)"),
    ] {
        let e = entry(&report, code);
        assert_eq!((&e["outcome"], &e["reason"]), (&json!("skipped"), &json!(reason)));
    }
    // Gameball was asked with the tenant's keys, which no output shows.
    assert_eq!(w.gameball.received("/customers/cust-1/coupons").len(), 1);
    let everything = format!("{}{}{report}", run.stdout, run.stderr);
    for secret in [SECRET_KEY, DEFAULT_APP_TOKEN] {
        assert!(!everything.contains(secret), "{secret} printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_decimal_currency_gets_three_decimal_minor_units() {
    let w = World::start(
        vec![GbCoupon::new("KWD", "Fixed Rate Discount", 1.234).owned_by("cust-1")],
        3,
    )
    .await;
    let run = w.run(&[]).await;
    assert_eq!(run.code, 0, "{}", run.shown());
    assert_eq!(
        w.voucher("KWD").unwrap()["discount"],
        json!({"type": "AMOUNT", "amount_off": 1234})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_creates_nothing() {
    let w = World::start(wallets(), 2).await;
    let first = w.run(&[]).await;
    assert_eq!(first.code, 0, "{}", first.shown());
    let second = w.run(&["--report", w.path("report.json").to_str().unwrap()]).await;
    second.ends(
        0,
        &format!("created 0, already there 4, skipped {SKIPPED}, conflicts 0, failed 0"),
    );
    assert_eq!(w.voucher_count(), 4);
    assert_published_once(&w);
    assert_eq!(entry(&w.report(), "WELCOME")["publication"], "already_published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_makes_no_voucherify_write_and_says_what_would_happen() {
    let w = World::start(wallets(), 2).await;
    // A write would take this fault: it is still there after the run.
    let armed = Faults {
        script: [Fault::Error].into(),
        method: Some("POST".into()),
        path_prefix: Some("/v1/".into()),
        ..Faults::default()
    };
    w.sim.sim.set_faults(armed.clone());
    let dry = w
        .run(&["--dry-run", "--report", w.path("report.json").to_str().unwrap()])
        .await;
    dry.ends(
        0,
        &format!("created 4, already there 0, skipped {SKIPPED}, conflicts 0, failed 0"),
    );
    dry.printed("dry run: nothing was written to Voucherify");
    assert_eq!(w.sim.sim.faults(), armed, "no POST reached Voucherify");
    assert_eq!((w.voucher_count(), w.publications().len()), (0, 0));
    let report = w.report();
    assert_eq!(report["mode"], "dry_run");
    assert_eq!(entry(&report, "PCT-15")["publication"], "would_publish");

    w.sim.sim.set_faults(Faults::default());
    assert_eq!(w.run(&[]).await.code, 0);
    let again = w.run(&["--dry-run"]).await;
    again.ends(
        0,
        &format!("created 0, already there 4, skipped {SKIPPED}, conflicts 0, failed 0"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_create_and_publish_is_finished_by_the_next() {
    let w = World::start(wallets(), 2).await;
    // Two publications go through; the third is held, unanswered.
    w.sim.sim.set_faults(Faults {
        script: [Fault::Ok, Fault::Ok, Fault::Hold].into(),
        method: Some("POST".into()),
        path_prefix: Some("/v1/publications".into()),
        ..Faults::default()
    });
    let mut child = w.command(&["--concurrency", "1"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // ... and the held publication has reached the simulator (its fault
    // is used up), or the next run would be the one held.
    while w.voucher_count() < 3 || w.publications().len() < 2 || !w.sim.sim.faults().script.is_empty() {
        assert!(Instant::now() < deadline, "the import never got half-way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The third voucher is made; its publication is held: kill it there.
    child.kill().await.unwrap();
    assert_eq!((w.voucher_count(), w.publications().len()), (3, 2));

    let resumed = w.run(&[]).await;
    resumed.ends(
        0,
        &format!("created 1, already there 3, skipped {SKIPPED}, conflicts 0, failed 0"),
    );
    assert_eq!(w.voucher_count(), 4, "every coupon exactly once");
    assert_published_once(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_voucherify_holds_with_another_definition_is_a_conflict_left_as_it_is() {
    let w = World::start(wallets(), 2).await;
    w.seed(json!({"code": "PCT-15", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}));
    let run = w.run(&["--report", w.path("report.json").to_str().unwrap()]).await;
    run.ends(
        1,
        &format!("created 3, already there 0, skipped {SKIPPED}, conflicts 1, failed 0"),
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("conflict: customer cust-1, coupon PCT-15"))
        .unwrap_or_else(|| panic!("{}", run.shown()));
    assert!(
        line.contains("discount.percent_off: Voucherify has 10, Gameball's coupon makes 15"),
        "{line}"
    );
    assert!(line.contains("metadata.source: Voucherify has none"), "{line}");
    assert!(run.stderr.contains("1 conflict(s) and 0 failure(s)"), "{}", run.shown());
    let held = w.voucher("PCT-15").unwrap();
    assert_eq!(held["discount"]["percent_off"], 10, "never overwritten");
    assert!(!w.publications().iter().any(|(c, _)| c == "PCT-15"), "nor published");
    let e = entry(&w.report(), "PCT-15");
    assert_eq!(e["outcome"], "conflict");
    assert_eq!(e["differences"][0]["field"], "discount.percent_off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_for_its_retry_after_and_the_same_call_sent_again() {
    let w = World::start(vec![GbCoupon::new("PCT-15", "Percentage", 15.0).owned_by("cust-1")], 2).await;
    w.sim.sim.set_faults(Faults {
        script: [Fault::RateLimit].into(),
        retry_after_secs: 1,
        method: Some("POST".into()),
        path_prefix: Some("/v1/vouchers/".into()),
        ..Faults::default()
    });
    let started = Instant::now();
    let run = w.run(&["--report", w.path("report.json").to_str().unwrap()]).await;
    let took = started.elapsed();
    run.ends(0, "created 1, already there 0, skipped 0, conflicts 0, failed 0");
    assert!(took >= Duration::from_secs(1), "Retry-After: 1 not honoured ({took:?})");
    assert!(w.sim.sim.faults().script.is_empty(), "the 429 was answered");
    let e = entry(&w.report(), "PCT-15");
    assert_eq!((&e["outcome"], &e["rate_limited"]), (&json!("created"), &json!(1)));
    assert_eq!(w.voucher_count(), 1);
    assert_eq!(w.publications().len(), 1);
}

/// Gameball rate-limiting the wallet reads is waited out as Voucherify's
/// 429 is: nothing fails, nothing is read twice into Voucherify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gameball_429_is_waited_out_and_the_wallet_read_again() {
    let w = World::start(vec![GbCoupon::new("PCT-15", "Percentage", 15.0).owned_by("cust-1")], 2).await;
    let wallet = "/api/v4.0/integrations/customers/cust-1/coupons";
    w.gameball.rate_limit_next(wallet, 1);
    let started = Instant::now();
    let run = w.run(&[]).await;
    let took = started.elapsed();
    run.ends(0, "created 1, already there 0, skipped 0, conflicts 0, failed 0");
    assert!(took >= Duration::from_secs(1), "Retry-After: 1 not honoured ({took:?})");
    assert_eq!(
        w.gameball.received(&wallet["/api/v4.0/integrations".len()..]).len(),
        2,
        "asked again once"
    );
    assert_eq!(w.voucher_count(), 1);
    assert_eq!(w.publications(), [("PCT-15".to_owned(), "cust-1".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_come_from_stdin_and_a_wallet_gameball_cannot_list_fails_alone() {
    let w = World::start(wallets(), 2).await;
    w.gameball
        .fail_next("/api/v4.0/integrations/customers/cust-2/coupons", 1);
    let mut child = w
        .command_as("shop", "-".as_ref(), &[])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"# from a pipe\ncust-2\ncust-1\ncust-2\n")
        .await
        .unwrap();
    drop(stdin);
    let run = finished(child.wait_with_output().await.unwrap());
    run.ends(
        1,
        &format!("created 3, already there 0, skipped {SKIPPED}, conflicts 0, failed 1"),
    );
    run.printed("failed: customer cust-2: Gameball answered 500: Gameball failed");
    // Gameball is back: the next run copies what the first could not.
    let again = w.run(&[]).await;
    again.ends(
        0,
        &format!("created 1, already there 3, skipped {SKIPPED}, conflicts 0, failed 0"),
    );
    assert_published_once(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gameball_that_never_answers_fails_the_customer_after_the_passthrough_timeout() {
    let w = World::start(wallets(), 2).await;
    let config = std::fs::read_to_string(w.path("couponbridge.toml")).unwrap();
    std::fs::write(
        w.path("couponbridge.toml"),
        config.replace("[passthrough]\n", "[passthrough]\ntimeout = \"1s\"\n"),
    )
    .unwrap();
    w.gameball.hang_next("/api/v4.0/integrations/customers/cust-1/coupons");
    let run = w.run(&[]).await;
    run.ends(1, "created 1, already there 0, skipped 0, conflicts 0, failed 1");
    run.printed("failed: customer cust-1: Gameball did not answer within 1s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_after_an_import_and_names_each_difference() {
    let w = World::start(wallets(), 2).await;
    // Before the import: nothing is there.
    let before = w.run(&["--verify"]).await;
    before.ends(1, &format!("verified 0, different 4, skipped {SKIPPED}, failed 0"));
    before.printed("different: customer cust-2, coupon WELCOME: Voucherify has no voucher under this code");

    assert_eq!(w.run(&[]).await.code, 0);
    let after = w
        .run(&["--verify", "--report", w.path("report.json").to_str().unwrap()])
        .await;
    after.ends(0, &format!("verified 4, different 0, skipped {SKIPPED}, failed 0"));
    assert_eq!(w.report()["mode"], "verify");
    assert_eq!(
        entry(&w.report(), "USED")["reason"],
        "used up (usedCount 1 of usageLimit 1); in Voucherify: not there"
    );

    // Voucherify changed, Gameball changed, and a used-up code is usable.
    w.project(|p| {
        let v = p.vouchers.get_mut("PCT-15").unwrap();
        v.discount.as_mut().unwrap().percent_off = Some(30.0);
    });
    w.seed(json!({"code": "USED", "discount": {"type": "PERCENT", "percent_off": 10}}));
    w.gameball
        .state
        .lock()
        .unwrap()
        .coupons
        .get_mut("FIX-1999")
        .unwrap()
        .usage_limit = Some(5);
    let run = w.run(&["--verify"]).await;
    run.ends(1, "verified 2, different 3, skipped 4, failed 0");
    for line in [
        "different: customer cust-1, coupon PCT-15: discount.percent_off: Voucherify has 30, Gameball's coupon makes 15",
        "different: customer cust-1, coupon FIX-1999: uses left: Voucherify has 1, Gameball's coupon makes 5",
        "different: customer cust-1, coupon USED: Gameball refuses it (used up (usedCount 1 of usageLimit 1)), Voucherify would accept it",
    ] {
        run.printed(line);
    }
    assert!(run.stderr.contains("3 coupon(s) differ"), "{}", run.shown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_made_but_never_published_is_a_difference_the_import_then_publishes() {
    let w = World::start(
        vec![GbCoupon::new("WELCOME", "Fixed Rate Discount", 5.0).owned_by("cust-2")],
        2,
    )
    .await;
    // What a run killed right after the create leaves.
    w.seed(json!({"code": "WELCOME", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500},
        "redemption": {"quantity": 1},
        "metadata": {"source": "gameball-import", "gameball_customer_id": "cust-2", "gameball_type": "Fixed Rate Discount"}}));
    let unpublished = w.run(&["--verify"]).await;
    unpublished.printed("publication: Voucherify has none to cust-2, Gameball's coupon makes one to cust-2");
    let run = w.run(&[]).await;
    run.ends(0, "created 0, already there 1, skipped 0, conflicts 0, failed 0");
    assert_eq!(w.publications(), [("WELCOME".to_owned(), "cust-2".to_owned())]);
    assert_eq!(w.run(&["--verify"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_configuration_errors_exit_2_before_anything_is_read() {
    let w = World::start(wallets(), 2).await;
    let bad_tenant = finished(
        w.command_as("nope", w.path("customers.txt").as_os_str(), &[])
            .output()
            .await
            .unwrap(),
    );
    bad_tenant.refused("no tenant \"nope\" in the configuration (it has: shop)");
    let config = std::fs::read_to_string(w.path("couponbridge.toml")).unwrap();
    let without_upstream: String = config
        .lines()
        .filter(|l| !l.starts_with("[passthrough]") && !l.starts_with("upstream"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(w.path("couponbridge.toml"), without_upstream).unwrap();
    let no_upstream = w.run(&[]).await;
    no_upstream.refused("[passthrough] upstream");
    std::fs::write(w.path("couponbridge.toml"), &config).unwrap();
    std::fs::remove_file(w.path("customers.txt")).unwrap();
    let no_customers = w.run(&[]).await;
    no_customers.refused("customers.txt");
    let both = w.run(&["--dry-run", "--verify"]).await;
    assert_eq!(both.code, 2, "{}", both.shown());
    assert!(w.gameball.received("/coupons").is_empty(), "nothing was read");
    for run in [&bad_tenant, &no_upstream, &no_customers] {
        assert!(!run.stderr.contains(SECRET_KEY) && !run.stderr.contains(DEFAULT_APP_TOKEN));
    }
}
