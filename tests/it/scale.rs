//! Scaling out on Redis: the lock contract on a real three-master Redis
//! Cluster, and a Sentinel failover followed without a restart.

use serde_json::json;

use crate::adapter;
use crate::common::env::{Env, StoreKind, V};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_keeps_the_lock_contract() {
    // Scenarios that run every lock script (create, begin/finish use,
    // release, relock, claim/settle) with keys spread over three masters.
    adapter::validate_many_locks_the_valid_coupons_and_lists_the_invalid(StoreKind::Cluster).await;
    adapter::burn_by_reference_consumes_the_lock_once(StoreKind::Cluster).await;
    adapter::order_redeems_the_lock_and_refuses_a_repeat(StoreKind::Cluster).await;
    adapter::relocking_replaces_the_codes_in_the_same_session(StoreKind::Cluster).await;
    adapter::concurrent_burn_release_and_order_have_one_winner(StoreKind::Cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_followed_without_a_restart() {
    let env = Env::start(StoreKind::Sentinel).await;
    let (reference, _) = adapter::lock(&env, "alice", &["ONCE"]).await;
    assert_eq!(reference.len(), 32);
    let s = env.sentinel.as_ref().unwrap();
    let key = format!("cb:{{shop:{reference}}}:lock");
    s.wait_replicated(&key);
    s.failover();
    // The first write after the failover may meet the demoted master
    // (READONLY): that request answers 503 and couponbridge asks the
    // sentinel for the new master; the client's retry then succeeds.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = env.gb("DELETE", &format!("{V}/coupons/{reference}"), None).await;
        statuses.push(r.status);
        if r.status == 200 {
            assert_eq!(r.json()["releasedCoupons"], json!(["ONCE"]));
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert!(statuses.len() <= 3, "the new master was found at once: {statuses:?}");
    let (again, _) = adapter::lock(&env, "bob", &["ONCE"]).await;
    assert_eq!(again.len(), 32, "new locks are written to the new master");
}
