//! What every served connection shares, whatever its protocol: the
//! requests in flight and when the last one ended, and the supervision
//! that closes it gracefully when idle or draining.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper_util::server::graceful::GracefulConnection;
use tokio_util::sync::CancellationToken;

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

/// Requests in flight on one connection, and when the last one ended.
pub(super) struct Activity {
    started: Instant,
    pub(super) active: AtomicUsize,
    last_ms: AtomicU64,
    /// Bytes arrived since the last request ended (a request head may be
    /// half read): not idle, whatever `active` says.
    pub(super) dirty: AtomicBool,
}

impl Activity {
    pub(super) fn new() -> Self {
        Activity {
            started: Instant::now(),
            active: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
        }
    }

    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.active.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// How long the connection has had no request in flight (zero while
    /// one is).
    pub(super) fn idle_for(&self) -> Duration {
        if self.active.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

pin_project_lite::pin_project! {
    /// A request's future, counted as in flight until it is dropped.
    pub(super) struct Tracked<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) _in_flight: InFlight,
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// One request in flight; its drop (the response is done, or the request
/// was cancelled) stamps the connection's last activity.
pub(super) struct InFlight(pub(super) Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_ms
            .store(a.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        a.dirty.store(false, Ordering::Relaxed);
        a.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs a connection until it ends, closing it gracefully when it has been
/// idle for `idle` or when the server drains.
pub(super) async fn supervise<C: Graceful + ?Sized>(
    mut conn: Pin<&mut C>,
    activity: &Activity,
    idle: Duration,
    drain: &CancellationToken,
) -> Result<(), C::Error> {
    // Once closing, the connection has one more `idle` to finish what is in
    // flight: an HTTP/2 client that never acknowledges the GOAWAY's PING
    // would otherwise keep it open for good.
    let mut closing: Option<tokio::time::Instant> = None;
    let mut check = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            r = conn.as_mut() => return r,
            _ = drain.cancelled(), if closing.is_none() => {
                conn.as_mut().begin_shutdown();
                closing = Some(tokio::time::Instant::now() + idle);
            }
            _ = tokio::time::sleep_until(check), if closing.is_none() => {
                let idle_for = activity.idle_for();
                if idle_for >= idle {
                    tracing::trace!("connection idle past idle_timeout; closing");
                    conn.as_mut().begin_shutdown();
                    closing = Some(tokio::time::Instant::now() + idle);
                } else {
                    check = tokio::time::Instant::now() + (idle - idle_for);
                }
            }
            _ = tokio::time::sleep_until(closing.unwrap_or(check)), if closing.is_some() => {
                if activity.idle_for() > Duration::ZERO {
                    tracing::trace!("connection did not close gracefully in time; dropping it");
                    return Ok(());
                }
                // A request is still in flight: it has the drain's grace.
                closing = Some(tokio::time::Instant::now() + idle);
            }
        }
    }
}

/// A connection that can be asked to close gracefully: hyper-util's auto
/// connection, or the parking HTTP/1 one.
pub(super) trait Graceful: Future<Output = Result<(), Self::Error>> {
    type Error;
    fn begin_shutdown(self: Pin<&mut Self>);
}

impl<C: GracefulConnection> Graceful for C {
    type Error = C::Error;
    fn begin_shutdown(self: Pin<&mut Self>) {
        GracefulConnection::graceful_shutdown(self)
    }
}
