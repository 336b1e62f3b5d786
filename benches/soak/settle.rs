//! After the traffic: every outcome left unknown retried until it is known,
//! then every reference answered 200 read back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use http::Method;

use crate::client::V;
use crate::log::{Op, Outcome};
use crate::settings::UPSTREAM_TIMEOUT_MS;
use crate::traffic::Shared;

/// How long a burn or order attempt owns its claim: two upstream deadlines
/// and Voucherify's late-commit margin (`lease_until` in
/// src/adapter/ops/redeem.rs). A retry before it ends is answered 2001.
const LEASE: Duration = Duration::from_millis(2 * UPSTREAM_TIMEOUT_MS + 5_000);

/// After the lease of the last attempt, retries every operation whose
/// outcome is unknown until it is known, or until `deadline`; how many
/// rounds that took.
pub async fn settle(sh: &Shared, deadline: Instant) -> usize {
    sh.start_settling();
    let last = {
        let log = sh.log.lock().unwrap();
        log.ops
            .iter()
            .filter(|o| o.outcome == Outcome::Pending)
            .map(|o| o.last_attempt)
            .max()
    };
    let Some(last) = last else {
        return 0;
    };
    tokio::time::sleep_until((last + LEASE + Duration::from_millis(500)).min(deadline).into()).await;
    let mut rounds = 0;
    while Instant::now() < deadline {
        let pending = sh.log.lock().unwrap().pending();
        if pending.is_empty() {
            break;
        }
        rounds += 1;
        stream::iter(pending)
            .for_each_concurrent(16, |i| async move {
                sh.attempt(i).await;
            })
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    rounds
}

/// Reads every reference answered 200 once more, until `deadline`: its
/// status, `None` when there was no time left to read it.
pub async fn read_back(sh: &Shared, deadline: Instant) -> Vec<(String, Option<u16>)> {
    let references: Vec<String> = {
        let log = sh.log.lock().unwrap();
        let mut seen = HashSet::new();
        log.locks
            .iter()
            .filter(|l| seen.insert(l.reference.clone()))
            .map(|l| l.reference.clone())
            .collect()
    };
    stream::iter(references)
        .map(|r| async move {
            if Instant::now() >= deadline {
                return (r, None);
            }
            let reply = sh
                .call(Op::FinalRead, &Method::GET, &format!("{V}/locks/{r}"), None)
                .await;
            (r, Some(reply.status()))
        })
        .buffer_unordered(48)
        .collect()
        .await
}
