//! The accept loop shared by every listener couponbridge opens.
//!
//! HTTP/1.1 and HTTP/2 (h2c by preface, h2 by ALPN over TLS) through
//! hyper-util's auto builder; a connection cap (a semaphore acquired before
//! `accept`, so excess clients wait in the kernel backlog rather than being
//! accepted and starved); a header-read timeout against slow clients; and a
//! graceful drain: on shutdown the listener closes at once, in-flight requests
//! finish, idle keep-alive connections close, all bounded by a grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Body, BoxError};

/// What a handler knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

#[derive(Clone)]
pub struct ServeOptions {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long in-flight requests may run after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
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
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let tls = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
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
        let handler = handler.clone();
        let service = service_fn(move |req| handler(req, info));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = opts.header_read_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let result = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
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
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(opts.shutdown_grace) => {
            tracing::warn!("shutdown grace period ended with requests still in flight");
        }
    }
}
