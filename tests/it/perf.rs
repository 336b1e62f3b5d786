//! The performance levers' behaviour (never their timings): the voucher
//! definitions cache, the SET-written lock record, HTTP/2 to Voucherify.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::adapter::lock;
use crate::common::env::{Env, StoreKind, V};

/// Requests the simulator has begun serving (every `/v1` call).
fn vf_calls(env: &Env) -> u64 {
    *env.sim.sim.requests_begun().borrow()
}

async fn details_status(env: &Env, reference: &str) -> u16 {
    env.gb("GET", &format!("{V}/locks/{reference}"), None).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_lock_details_read_makes_no_voucherify_call() {
    let env = Env::start(StoreKind::Memory).await;
    let (reference, _) = lock(&env, "alice", &["AMOUNT10", "MIN100"]).await;
    let before = vf_calls(&env);
    assert_eq!(details_status(&env, &reference).await, 200);
    let first = vf_calls(&env) - before;
    assert_eq!(first, 3, "two vouchers and the rule MIN100 names");
    let d1 = env.gb("GET", &format!("{V}/locks/{reference}"), None).await.json();
    assert_eq!(vf_calls(&env) - before, first, "a hit asks Voucherify nothing");
    assert_eq!(
        d1["coupons"][1]["minOrderValue"], 100,
        "the cached terms are the same terms"
    );

    // Expiry, on the injectable clock: the default TTL is 5 s.
    env.advance(Duration::from_millis(4_900));
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(vf_calls(&env) - before, first, "still fresh");
    env.advance(Duration::from_millis(200));
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(vf_calls(&env) - before, 2 * first, "expired: read again");
}

async fn check(env: &Env) -> crate::common::Reply {
    env.validate(json!({"customerId": "bob", "coupons": ["AMOUNT10"], "totalPurchaseAmount": 250}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_that_finds_the_coupon_changed_drops_its_definition() {
    let env = Env::start(StoreKind::Memory).await;
    let (reference, _) = lock(&env, "alice", &["AMOUNT10"]).await;
    assert_eq!(details_status(&env, &reference).await, 200);
    let r = check(&env).await;
    assert_eq!(r.json()["validCoupons"][0]["code"], "AMOUNT10", "{}", r.text());
    let before = vf_calls(&env);
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(vf_calls(&env), before, "the same state keeps the definition");

    env.project(|p| p.vouchers.get_mut("AMOUNT10").unwrap().active = false);
    let r = check(&env).await;
    assert_eq!(r.json()["invalidCoupons"][0]["code"], "AMOUNT10", "{}", r.text());
    let before = vf_calls(&env);
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(
        vf_calls(&env),
        before + 1,
        "disabled since: the definition is read again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_ttl_zero_reads_every_time() {
    let env = Env::builder(StoreKind::Memory)
        .toml("definitions_ttl = \"0s\"\n")
        .start()
        .await;
    let (reference, _) = lock(&env, "alice", &["AMOUNT10"]).await;
    let before = vf_calls(&env);
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(details_status(&env, &reference).await, 200);
    assert_eq!(vf_calls(&env) - before, 2);
}

#[tokio::test]
async fn bad_http2_and_ttl_values_are_reported() {
    let text = r#"
        [store]
        url = "memory://"
        [tenants.shop]
        api_key = "k"
        secret_key = "s"
        [tenants.shop.voucherify]
        base_url = "http://127.0.0.1:1"
        app_id = "a"
        app_token = "t"
        http2 = "sometimes"
        definitions_ttl = "soon"
    "#;
    let e = couponbridge::config::Config::from_toml(text).unwrap_err().to_string();
    assert!(e.contains("tenants.shop.voucherify.http2"), "{e}");
    assert!(e.contains("tenants.shop.voucherify.definitions_ttl"), "{e}");
}

// ---------------------------------------------------------------------------
// The lock record
// ---------------------------------------------------------------------------

async fn redis(env: &Env) -> redis::aio::MultiplexedConnection {
    let url = env.redis.as_ref().expect("a redis store").url();
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_lock_is_one_string_until_its_first_transition() {
    let env = Env::start(StoreKind::Redis).await;
    let mut r = redis(&env).await;
    let (reference, _) = lock(&env, "alice", &["AMOUNT10"]).await;
    let key = format!("cb:{{shop:{reference}}}:lock");
    let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut r).await.unwrap();
    assert_eq!(kind, "string", "written by SET … PX … NX");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut r).await.unwrap();
    assert!(ttl > 0, "it expires");
    assert_eq!(details_status(&env, &reference).await, 200);

    let released = env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await;
    assert_eq!(released.status, 200, "{}", released.text());
    let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut r).await.unwrap();
    assert_eq!(kind, "hash", "the transition unpacked it");
    let after: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut r).await.unwrap();
    assert!(after > 0 && after <= ttl, "and kept its expiry ({after} of {ttl})");
    let details = env.gb("GET", &format!("{V}/locks/{reference}"), None).await.json();
    assert_eq!(details["isExpired"], true, "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_written_as_a_hash_by_an_earlier_version_still_works() {
    let env = Env::start(StoreKind::Redis).await;
    let mut r = redis(&env).await;
    let (reference, _) = lock(&env, "alice", &["AMOUNT10"]).await;
    // Rewrite it as the earlier create script did: a hash with an expiry.
    let key = format!("cb:{{shop:{reference}}}:lock");
    let packed: String = redis::cmd("GET").arg(&key).query_async(&mut r).await.unwrap();
    let flat: Vec<String> = serde_json::from_str(&packed).unwrap();
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut r).await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(&flat)
        .query_async(&mut r)
        .await
        .unwrap();
    let _: () = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(600_000)
        .query_async(&mut r)
        .await
        .unwrap();

    let d = env.gb("GET", &format!("{V}/locks/{reference}"), None).await;
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(d.json()["customerId"], "alice");
    let released = env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await;
    assert_eq!(released.json()["releasedCoupons"], json!(["AMOUNT10"]));
}

/// A lock details read is one store round trip, also for a reference
/// without this deployment's check (one issued before references carried
/// it, or under a key a flushed store has since replaced): with no
/// Gameball to send it to, who owns it is not asked. The seed answer is
/// written in the seed page's field order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_details_read_without_an_upstream_is_one_store_call() {
    let env = Env::start(StoreKind::Redis).await;
    let mut r = redis(&env).await;
    let (issued, _) = lock(&env, "alice", &["AMOUNT10"]).await;
    // The same record under a reference whose check does not hold.
    let unchecked = format!("{}00000000", &issued[..24]);
    assert_ne!(unchecked, issued);
    let _: () = redis::cmd("RENAME")
        .arg(format!("cb:{{shop:{issued}}}:lock"))
        .arg(format!("cb:{{shop:{unchecked}}}:lock"))
        .query_async(&mut r)
        .await
        .unwrap();
    let gets = r#"couponbridge_lock_store_call_duration_seconds_count{op="get",store="redis"}"#;
    let before = crate::common::metric(&env.metrics().await, gets);
    let d = env.gb("GET", &format!("{V}/locks/{unchecked}"), None).await;
    assert_eq!(d.status, 200, "{}", d.text());
    assert_eq!(crate::common::metric(&env.metrics().await, gets) - before, 1.0);
    let text = d.text();
    let keys: Vec<usize> = ["customerId", "isUsed", "usedAt", "isExpired", "expiredAt", "coupons"]
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} in {text}"))
        })
        .collect();
    assert!(keys.is_sorted(), "the seed page's order: {text}");
}

// ---------------------------------------------------------------------------
// HTTP/2 to Voucherify
// ---------------------------------------------------------------------------

/// A TCP tap in front of the simulator: forwards every connection and
/// notes whether it opened with the HTTP/2 client preface, i.e. which
/// version the simulator was spoken to in.
struct Tap {
    addr: SocketAddr,
    upstream: Arc<Mutex<Option<SocketAddr>>>,
    /// One entry per connection: true for HTTP/2.
    opened: Arc<Mutex<Vec<bool>>>,
}

impl Tap {
    async fn start() -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let opened: Arc<Mutex<Vec<bool>>> = Arc::default();
        let (to, log) = (upstream.clone(), opened.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let to = to.lock().unwrap().expect("the simulator's address is set");
                let log = log.clone();
                tokio::spawn(async move {
                    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
                    let mut first = [0u8; 24];
                    let h2 = loop {
                        let n = match client.peek(&mut first).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if n == PREFACE.len() || !PREFACE.starts_with(&first[..n]) {
                            break first[..n] == *PREFACE;
                        }
                        // Part of the preface so far: the rest is on its way.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    };
                    log.lock().unwrap().push(h2);
                    let mut server = TcpStream::connect(to).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Tap { addr, upstream, opened }
    }

    fn opened(&self) -> Vec<bool> {
        self.opened.lock().unwrap().clone()
    }
}

async fn through_tap(http2: Option<&str>) -> (Env, Tap) {
    let tap = Tap::start().await;
    let mut b = Env::builder(StoreKind::Memory).voucherify_url(&format!("http://{}", tap.addr));
    if let Some(v) = http2 {
        b = b.toml(&format!("http2 = \"{v}\"\n"));
    }
    let env = b.start().await;
    *tap.upstream.lock().unwrap() = Some(env.sim.addr);
    (env, tap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_always_speaks_h2c_to_the_simulator_on_one_connection() {
    let (env, tap) = through_tap(Some("always")).await;
    let calls = (0..8).map(|i| {
        let env = &env;
        async move { lock(env, &format!("c{i}"), &["AMOUNT10"]).await }
    });
    for (reference, _) in futures_util::future::join_all(calls).await {
        assert_eq!(reference.len(), 32, "every validation locked");
    }
    let opened = tap.opened();
    assert!(opened.iter().all(|h2| *h2), "every connection is HTTP/2: {opened:?}");
    // Multiplexed: the eight calls share a connection. hyper-util's pool
    // may open a second one when a call races the first handshake (seen
    // under a loaded machine), never one per call.
    assert!(
        opened.len() <= 2,
        "concurrent calls share a multiplexed connection: {} opened for 8 calls",
        opened.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_speaks_http1_unless_told_otherwise() {
    for mode in [None, Some("auto"), Some("never")] {
        let (env, tap) = through_tap(mode).await;
        let (reference, _) = lock(&env, "alice", &["AMOUNT10"]).await;
        assert_eq!(reference.len(), 32);
        let opened = tap.opened();
        assert!(
            !opened.is_empty() && opened.iter().all(|h2| !*h2),
            "{mode:?}: {opened:?}"
        );
    }
}
