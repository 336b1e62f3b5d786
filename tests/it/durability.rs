//! "Never loses a lock reference", made explicit: readiness under each
//! `[store] durability` against a real Redis with and without an
//! append-only file, `wait_replicas` against a real primary and replica,
//! and a `kill -9` of Redis (AOF, fsync always) that loses no lock.

use serde_json::json;

use crate::common::RedisServer;
use crate::common::env::{Env, StoreKind, V};

/// An adapter on `redis` (started by the test) with extra `[store]` lines.
async fn on(redis: &RedisServer, store: &str) -> Env {
    Env::builder(StoreKind::Memory)
        .store(&format!("url = \"{}\"\n{store}", redis.url()))
        .start()
        .await
}

async fn readyz(env: &Env) -> (u16, String) {
    let r = env.client.send("GET", &env.admin_url("/readyz"), &[], None).await;
    (r.status, r.text())
}

fn without_aof() -> RedisServer {
    RedisServer::start()
}

fn with_aof() -> RedisServer {
    RedisServer::start_on_free(&["--appendonly", "yes", "--appendfsync", "always"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_refuses_readiness_without_an_append_only_file() {
    let redis = without_aof();
    let env = on(&redis, "durability = \"require\"").await;
    let (status, text) = readyz(&env).await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("appendonly off") && text.contains("wait_replicas"),
        "says why and what to do: {text}"
    );
    // Serving goes on: readiness is the load balancer's business.
    let r = env.validate(json!({"customerId": "c", "coupons": ["AMOUNT10"]})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_is_ready_with_an_append_only_file() {
    let redis = with_aof();
    let env = on(&redis, "durability = \"require\"").await;
    assert_eq!(readyz(&env).await, (200, "ready\n".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_and_none_stay_ready_without_one() {
    let redis = without_aof();
    for mode in ["warn", "none"] {
        let env = on(&redis, &format!("durability = \"{mode}\"")).await;
        assert_eq!(readyz(&env).await.0, 200, "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reports_what_a_crash_would_lose() {
    let redis = without_aof();
    let env = on(&redis, "").await;
    let d = env.adapter().store().durability().await.unwrap();
    assert!(!d.durable);
    assert!(d.detail.contains("appendonly off, 0 replica(s)"), "{}", d.detail);
    let memory = Env::start(StoreKind::Memory).await;
    assert!(!memory.adapter().store().durability().await.unwrap().durable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_replicas_waits_for_a_real_replica_and_fails_without_one() {
    let primary = without_aof();
    let replica = RedisServer::start_on_free(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    crate::common::redis_server::wait_link_up(replica.port);
    let env = on(
        &primary,
        "wait_replicas = 1\nwait_timeout = \"2s\"\ndurability = \"require\"",
    )
    .await;
    assert_eq!(
        readyz(&env).await.0,
        200,
        "one replica that each write waits for is durable"
    );
    let (reference, _) = crate::adapter::lock(&env, "cust-1", &["AMOUNT10"]).await;
    assert!(!reference.is_empty());
    assert!(
        crate::common::redis_server::exists_on(replica.port, &reference),
        "the replica has the lock before the reference was returned"
    );

    drop(replica);
    let r = env
        .validate(json!({"customerId": "cust-2", "coupons": ["PERCENT20"], "lock": true}))
        .await;
    assert_eq!(r.status, 503, "no replica acknowledged: {}", r.text());
    assert!(
        env.live_sessions().iter().all(|s| s["customer"] != "cust-2"),
        "the session taken for a lock that could not be made durable is released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_redis_with_aof_always_loses_no_lock() {
    let mut redis = with_aof();
    let env = on(&redis, "durability = \"require\"").await;
    let mut references = Vec::new();
    for i in 0..20 {
        let (reference, _) = crate::adapter::lock(&env, &format!("cust-{i}"), &["AMOUNT10"]).await;
        references.push(reference);
    }
    redis.crash_and_restart();
    for reference in &references {
        let path = format!("{V}/locks/{reference}");
        let r = crate::common::wait_for(|| env.gb("GET", &path, None), |r| r.status != 503).await;
        assert_eq!(r.status, 200, "{reference} survived the crash: {}", r.text());
    }
}

/// The start-up log line, from the real binary, for each mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_what_a_crash_would_lose_under_each_mode() {
    use crate::common::binary::{self, Serve, free_port};
    let plain = without_aof();
    let durable = with_aof();
    let sim = crate::sim::Sim::start().await;
    for (redis, mode, want) in [
        (&plain, "warn", "lock store is not durable"),
        (&plain, "require", "/readyz refuses readiness"),
        (&durable, "require", "lock store durability"),
        (&plain, "none", "couponbridge serving"),
    ] {
        let listen = free_port();
        let store = format!("url = \"{}\"\ndurability = \"{mode}\"", redis.url());
        let serve = Serve::start(
            &binary::config(listen, None, &store, &sim.running.base_url(), ""),
            listen,
        )
        .await;
        let log = serve.wait_log(want).await;
        assert!(log.contains(want), "{mode}: the log says {want:?}:\n{log}");
        if mode == "none" {
            assert!(!log.contains("durab"), "{mode}: nothing about durability:\n{log}");
        } else if std::ptr::eq(redis, &plain) {
            assert!(log.contains("appendonly off"), "{mode}: names what to set:\n{log}");
        }
    }
}

/// A re-lock that held a new code, then could not write the lock (Redis
/// went away between the validation and the write), gives that hold back:
/// found by the soak, where it outlived the lock's burn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relock_that_cannot_write_the_lock_holds_nothing_it_added() {
    use couponbridge::sim::faults::{Fault, Faults};
    let mut redis = without_aof();
    let env = on(&redis, "").await;
    let locked = env
        .validate(json!({"customerId": "c", "coupons": ["AMOUNT10"], "lock": true}))
        .await;
    assert_eq!(locked.status, 200, "{}", locked.text());
    let reference = locked.json()["validCoupons"][0]["lockReference"]
        .as_str()
        .expect("a reference")
        .to_owned();
    env.sim.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    let mut begun = env.sim.sim.requests_begun();
    let seen = *begun.borrow_and_update();
    let url = env.url(&format!("{V}/coupons/validate"));
    let client = env.client.clone();
    let relock = tokio::spawn(async move {
        let body = json!({"customerId": "c", "coupons": ["AMOUNT10", "PERCENT20"], "lock": true,
                          "lockReference": reference});
        client.send("POST", &url, &crate::common::env::AUTH, Some(&body)).await
    });
    begun
        .wait_for(|n| *n > seen)
        .await
        .expect("the re-lock's validation began");
    redis.stop();
    env.sim.sim.set_faults(Faults::default());
    let answer = relock.await.expect("the re-lock answers");
    assert_eq!(answer.status, 503, "{}", answer.text());
    let held: Vec<String> = env
        .live_sessions()
        .iter()
        .filter_map(|s| s["voucher"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !held.contains(&"PERCENT20".to_owned()),
        "the code the re-lock added is not held: {held:?}"
    );
}
