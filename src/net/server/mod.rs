//! The accept loop shared by every listener couponbridge opens.
//!
//! HTTP/1.1 and HTTP/2 (h2c by preface, h2 by ALPN over TLS); a connection
//! cap (a semaphore acquired before `accept`, so excess clients wait in the
//! kernel backlog rather than being accepted and starved); deadlines, so the
//! cap can never be held by clients that send nothing; and a graceful
//! drain: on shutdown the listener closes at once, in-flight requests
//! finish, idle keep-alive connections close, all bounded by a grace period.
//!
//! Deadlines. Every connection must show which protocol it speaks within
//! `header_read_timeout` of being accepted: the version is read here (a
//! peek at the first bytes, or ALPN under TLS), not by hyper-util's auto
//! builder, whose detection has no timer. HTTP/1 then has hyper's own
//! header-read timeout; a connection with no request in flight for
//! `idle_timeout` (an HTTP/2 client that sent its preface and SETTINGS and
//! nothing since, an idle keep-alive) is closed gracefully.
//!
//! Idle memory: plaintext HTTP/1 connections are parked when idle
//! ([`park`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Body, BoxError};

mod conn;
mod park;

pub use conn::ConnInfo;
use conn::{Activity, Tracked, supervise};
use park::serve_h1;
pub use park::{PARK_AFTER, parked_total};

#[derive(Clone)]
pub struct ServeOptions {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: Duration,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long in-flight requests may run after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            tls: None,
            shutdown_grace: Duration::from_secs(15),
        }
    }
}

/// Serves `listener` until `shutdown` is cancelled, then drains.
///
/// A handler that returns `Err` makes hyper close the connection without a
/// response (the simulator's "dropped connection" fault uses this).
pub async fn serve<H, Fut>(listener: TcpListener, opts: ServeOptions, shutdown: CancellationToken, handler: H)
where
    H: Fn(Request<Incoming>, ConnInfo) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, BoxError>> + Send + 'static,
{
    let builders = Arc::new(Builders::new(&opts));
    let tls = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let connections = TaskTracker::new();
    let drain = CancellationToken::new();
    let mut accept_backoff = Duration::from_millis(5);

    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => { accept_backoff = Duration::from_millis(5); conn }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(accept_backoff).await;
                    accept_backoff = (accept_backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            peer,
            tls: tls.is_some(),
        };
        let activity = Arc::new(Activity::new());
        let service = {
            let (handler, activity) = (handler.clone(), activity.clone());
            service_fn(move |req| Tracked {
                inner: handler(req, info),
                _in_flight: activity.begin(),
            })
        };
        let handler = handler.clone();
        let builders = builders.clone();
        let tls = tls.clone();
        let drain = drain.clone();
        let (first_byte, idle) = (opts.header_read_timeout, opts.idle_timeout);
        connections.spawn(async move {
            let _permit = permit;
            let result = match tls {
                None => match tokio::time::timeout(first_byte, sniff(&stream)).await {
                    Ok(Ok(Version::H1)) => {
                        Box::pin(serve_h1(stream, &builders.http1, handler, info, activity, idle, &drain)).await
                    }
                    Ok(Ok(version)) => {
                        let conn = builders
                            .get(version)
                            .serve_connection(TokioIo::new(stream), service)
                            .into_owned();
                        // Boxed, so the task itself stays small (a parked
                        // HTTP/1 connection keeps only the task).
                        let mut conn = Box::pin(conn);
                        Box::pin(supervise(conn.as_mut(), &activity, idle, &drain)).await
                    }
                    Ok(Err(e)) => {
                        tracing::trace!(%peer, error = %e, "connection closed before a request");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "no request within header_read_timeout; closing");
                        return;
                    }
                },
                Some(acceptor) => {
                    // Boxed: the handshake state is large, and the task
                    // of every connection, TLS or not, would carry it.
                    let handshake = Box::pin(tokio::time::timeout(first_byte, acceptor.accept(stream)));
                    let stream = match handshake.await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let version = match stream.get_ref().1.alpn_protocol() {
                        Some(b"h2") => Version::H2,
                        _ => Version::H1,
                    };
                    let conn = builders
                        .get(version)
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    let mut conn = Box::pin(conn);
                    Box::pin(supervise(conn.as_mut(), &activity, idle, &drain)).await
                }
            };
            if let Err(e) = result {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    drain.cancel();
    connections.close();
    tokio::select! {
        _ = connections.wait() => {}
        _ = tokio::time::sleep(opts.shutdown_grace) => {
            tracing::warn!("shutdown grace period ended with requests still in flight");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    H1,
    H2,
}

/// One builder per protocol, so hyper-util never has to guess the version
/// (its guess has no deadline).
struct Builders {
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
    /// Plaintext HTTP/1, served by `serve_h1` (it parks idle connections).
    http1: http1::Builder,
}

impl Builders {
    fn new(opts: &ServeOptions) -> Self {
        let make = || {
            let mut b = auto::Builder::new(TokioExecutor::new());
            b.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(opts.header_read_timeout)
                .keep_alive(true);
            b.http2().timer(TokioTimer::new());
            b
        };
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(opts.header_read_timeout)
            .keep_alive(true);
        Builders {
            h1: make().http1_only(),
            h2: make().http2_only(),
            http1,
        }
    }

    fn get(&self, v: Version) -> &auto::Builder<TokioExecutor> {
        match v {
            Version::H1 => &self.h1,
            Version::H2 => &self.h2,
        }
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a plaintext connection speaks, from its first bytes (left
/// in the socket for hyper). The caller bounds the wait.
async fn sniff(stream: &TcpStream) -> std::io::Result<Version> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match preface_match(&buf[..n]) {
            Some(v) => return Ok(v),
            // A client that sent part of the HTTP/2 preface and stalls: the
            // bytes already there make `peek` return at once, so wait a
            // little before looking again (bounded by the caller's deadline).
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// `Some` once the bytes decide: the full preface is HTTP/2, anything that
/// departs from it HTTP/1; `None` while they are a prefix of the preface.
fn preface_match(bytes: &[u8]) -> Option<Version> {
    if bytes.len() >= H2_PREFACE.len() && bytes.starts_with(H2_PREFACE) {
        Some(Version::H2)
    } else if H2_PREFACE.starts_with(bytes) {
        None
    } else {
        Some(Version::H1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bytes_decide_the_protocol() {
        assert_eq!(preface_match(b"POST /api"), Some(Version::H1));
        assert_eq!(preface_match(b"G"), Some(Version::H1));
        assert_eq!(preface_match(b"PRI * HTTP/2.0\r\n"), None, "a partial preface waits");
        assert_eq!(preface_match(b"PRI * HTTP/1.1"), Some(Version::H1));
        assert_eq!(preface_match(H2_PREFACE), Some(Version::H2));
    }
}
