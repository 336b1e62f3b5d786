//! Waiting out a `429`: a rate limit is the service's, not one call's, so
//! every call to that service waits until the `Retry-After` it gave has
//! passed, then the refused call is sent again. Bounded: one wait is at
//! most [`MAX_WAIT`] (plus jitter, so the workers do not all come back in
//! the same millisecond), and a call is refused at most [`MAX_WAITS`]
//! times before it counts as failed.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::voucherify::client::{ErrorKind, UpstreamError};

/// The longest one `Retry-After` is honoured for.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often one call may be refused with `429` before it fails.
pub const MAX_WAITS: u32 = 8;
/// What a `429` without `Retry-After` waits.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);
const MAX_JITTER_MS: u64 = 250;

/// When calls to one service may go again.
#[derive(Debug, Default)]
pub struct Pacer {
    resume_at: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Waits until the last `Retry-After` has passed.
    pub async fn ready(&self) {
        loop {
            let at = *self.resume_at.lock().unwrap_or_else(|p| p.into_inner());
            match at {
                Some(at) if at > Instant::now() => tokio::time::sleep_until(at).await,
                _ => return,
            }
        }
    }

    /// A `429` said to come back after `retry_after` seconds.
    pub fn hold(&self, retry_after: Option<u64>) {
        let jitter = Duration::from_millis(rand::rng().random_range(0..=MAX_JITTER_MS));
        let until = Instant::now() + wait(retry_after) + jitter;
        let mut at = self.resume_at.lock().unwrap_or_else(|p| p.into_inner());
        *at = Some(at.map_or(until, |a| a.max(until)));
    }

    /// Runs `call` until it is not refused with `429` (at most
    /// [`MAX_WAITS`] times): its result, and how many `429`s it waited out.
    pub async fn patiently<T, F, Fut>(&self, mut call: F) -> (Result<T, UpstreamError>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let mut waits = 0;
        loop {
            self.ready().await;
            match call().await {
                Err(UpstreamError {
                    kind: ErrorKind::RateLimited(secs),
                    ..
                }) if waits < MAX_WAITS => {
                    waits += 1;
                    self.hold(secs);
                }
                other => return (other, waits),
            }
        }
    }
}

/// The wait a `Retry-After` asks for, bounded.
fn wait(retry_after: Option<u64>) -> Duration {
    retry_after.map_or(DEFAULT_WAIT, Duration::from_secs).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voucherify::client::Op;

    #[test]
    fn waits_are_what_retry_after_asks_up_to_a_minute() {
        assert_eq!(wait(Some(3)), Duration::from_secs(3));
        assert_eq!(wait(None), Duration::from_secs(1));
        assert_eq!(wait(Some(3600)), MAX_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_call_is_sent_again_after_retry_after_and_others_wait_too() {
        let pacer = Pacer::default();
        let started = Instant::now();
        let mut calls = 0;
        let (r, waits) = pacer
            .patiently(|| {
                calls += 1;
                let refused = calls < 3;
                async move {
                    if refused {
                        Err(UpstreamError::new(Op::Publish, ErrorKind::RateLimited(Some(2))))
                    } else {
                        Ok(calls)
                    }
                }
            })
            .await;
        assert_eq!((r.unwrap(), waits), (3, 2));
        assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());
        pacer.hold(Some(5));
        let before = Instant::now();
        pacer.ready().await;
        assert!(before.elapsed() >= Duration::from_secs(5), "every caller waits");
        let (r, waits) = pacer
            .patiently(|| async { Err::<(), _>(UpstreamError::new(Op::Publish, ErrorKind::RateLimited(Some(1)))) })
            .await;
        assert!(r.is_err() && waits == MAX_WAITS, "bounded");
    }
}
