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
//! Idle memory. A plaintext HTTP/1 connection with nothing in flight for
//! [`PARK_AFTER`] is *parked*: its hyper connection (read and write buffers,
//! parser state: some 16 KiB) is ended without closing the socket, and only
//! the socket is kept, waiting to be readable; its next request starts a
//! fresh hyper connection on it. The client sees one keep-alive connection
//! throughout. A connection in use (requests arriving within
//! `PARK_AFTER` of each other) keeps its hyper connection, so parking
//! costs nothing under load.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    started: Instant,
    active: AtomicUsize,
    last_ms: AtomicU64,
    /// Bytes arrived since the last request ended (a request head may be
    /// half read): not idle, whatever `active` says.
    dirty: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            active: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.active.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// How long the connection has had no request in flight (zero while
    /// one is).
    fn idle_for(&self) -> Duration {
        if self.active.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

pin_project_lite::pin_project! {
    /// A request's future, counted as in flight until it is dropped.
    struct Tracked<F> {
        #[pin]
        inner: F,
        _in_flight: InFlight,
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
struct InFlight(Arc<Activity>);

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
async fn supervise<C: Graceful + ?Sized>(
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
trait Graceful: Future<Output = Result<(), Self::Error>> {
    type Error;
    fn begin_shutdown(self: Pin<&mut Self>);
}

impl<C: GracefulConnection> Graceful for C {
    type Error = C::Error;
    fn begin_shutdown(self: Pin<&mut Self>) {
        GracefulConnection::graceful_shutdown(self)
    }
}

/// How long a plaintext HTTP/1 connection has nothing in flight before it
/// is parked (see the module comment).
pub const PARK_AFTER: Duration = Duration::from_secs(1);

static PARKED: AtomicU64 = AtomicU64::new(0);

/// How many times a connection was parked since start (all listeners).
pub fn parked_total() -> u64 {
    PARKED.load(Ordering::Relaxed)
}

/// A plaintext HTTP/1 connection: hyper serves it until it has been idle
/// for [`PARK_AFTER`], then only the socket is kept until it is readable
/// again (or `idle` passes, or the server drains).
async fn serve_h1<H, Fut>(
    stream: TcpStream,
    builder: &http1::Builder,
    handler: H,
    info: ConnInfo,
    activity: Arc<Activity>,
    idle: Duration,
    drain: &CancellationToken,
) -> Result<(), BoxError>
where
    H: Fn(Request<Incoming>, ConnInfo) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, BoxError>> + Send + 'static,
{
    let mut io = Parkable::new(stream, activity.clone());
    // In an Arc, so the service is Unpin whatever the handler is.
    let handler = Arc::new(handler);
    loop {
        let service = {
            let (handler, activity) = (handler.clone(), activity.clone());
            // Boxed: `poll_without_shutdown` needs an Unpin future.
            service_fn(move |req| Tracked {
                inner: Box::pin(handler(req, info)),
                _in_flight: activity.begin(),
            })
        };
        let mut conn = Box::pin(H1(builder.serve_connection(TokioIo::new(io), service)));
        let result = supervise(conn.as_mut(), &activity, idle, drain).await;
        let parts = Pin::into_inner(conn).0.into_parts();
        io = parts.io.into_inner();
        if !parts.read_buf.is_empty() {
            io.pre = parts.read_buf;
        }
        result?;
        if !io.parked || drain.is_cancelled() {
            // Hyper did not shut the socket down (`poll_without_shutdown`).
            let _ = io.stream.shutdown().await;
            return Ok(());
        }
        io.timer = None;
        if io.pre.is_empty() {
            let wait = idle.saturating_sub(activity.idle_for());
            tokio::select! {
                r = io.stream.readable() => if r.is_err() { return Ok(()) },
                _ = tokio::time::sleep(wait) => {
                    tracing::trace!("parked connection idle past idle_timeout; closing");
                    let _ = io.stream.shutdown().await;
                    return Ok(());
                }
                _ = drain.cancelled() => {
                    let _ = io.stream.shutdown().await;
                    return Ok(());
                }
            }
        }
        io.parked = false;
        io.last_io = tokio::time::Instant::now();
    }
}

/// Hyper's HTTP/1 connection, run without shutting its socket down, so a
/// parked connection's socket can be taken back.
struct H1<S: hyper::service::HttpService<Incoming>>(http1::Connection<TokioIo<Parkable>, S>);

impl<S> Future for H1<S>
where
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Unpin,
    S::Future: Unpin,
    S::Error: Into<BoxError>,
{
    type Output = Result<(), hyper::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().0.poll_without_shutdown(cx)
    }
}

impl<S> Graceful for H1<S>
where
    S: hyper::service::HttpService<Incoming, ResBody = Body> + Unpin,
    S::Future: Unpin,
    S::Error: Into<BoxError>,
{
    type Error = hyper::Error;
    fn begin_shutdown(self: Pin<&mut Self>) {
        Pin::new(&mut self.get_mut().0).graceful_shutdown()
    }
}

/// The socket under a parking HTTP/1 connection. A read that would wait,
/// on a connection with nothing in flight, nothing half read, nothing
/// unflushed and no I/O for [`PARK_AFTER`], answers end-of-file instead:
/// hyper ends the connection as a client that closed it while idle (and,
/// run without shutdown, leaves the socket open), and `parked` tells
/// `serve_h1` that it was this and not the client.
struct Parkable {
    stream: TcpStream,
    /// Bytes hyper had read and not used, served first.
    pre: Bytes,
    activity: Arc<Activity>,
    last_io: tokio::time::Instant,
    unflushed: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    parked: bool,
}

impl Parkable {
    fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Parkable {
            stream,
            pre: Bytes::new(),
            activity,
            last_io: tokio::time::Instant::now(),
            unflushed: false,
            timer: None,
            parked: false,
        }
    }

    fn idle(&self) -> bool {
        !self.unflushed
            && self.activity.active.load(Ordering::Relaxed) == 0
            && !self.activity.dirty.load(Ordering::Relaxed)
    }
}

impl AsyncRead for Parkable {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.pre.is_empty() {
            let n = this.pre.len().min(buf.remaining());
            buf.put_slice(&this.pre[..n]);
            this.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last_io = tokio::time::Instant::now();
                    this.activity.dirty.store(true, Ordering::Relaxed);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.idle() => {
                let at = this.last_io + PARK_AFTER;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    PARKED.fetch_add(1, Ordering::Relaxed);
                    this.parked = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for Parkable {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.unflushed = true;
            this.last_io = tokio::time::Instant::now();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r
            && n > 0
        {
            this.unflushed = true;
            this.last_io = tokio::time::Instant::now();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_flush(cx);
        if r.is_ready() {
            this.unflushed = false;
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const REQUEST: &[u8] = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n";

    /// A server answering "ok" on a free port, with `idle` as its idle timeout.
    async fn server(idle: Duration) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let opts = ServeOptions {
            idle_timeout: idle,
            ..ServeOptions::default()
        };
        tokio::spawn(serve(listener, opts, stop.clone(), |_req, _| async {
            Ok(Response::new(crate::net::full("ok")))
        }));
        (addr, stop)
    }

    async fn answer(c: &mut TcpStream) -> String {
        let mut buf = vec![0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    // Paused time: the park timer and the idle timeout run on tokio's
    // clock, which `sleep` moves at once.
    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_is_parked_and_serves_the_next_request() {
        let (addr, _stop) = server(Duration::from_secs(60)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(REQUEST).await.unwrap();
        assert!(answer(&mut c).await.ends_with("ok"));
        let parked = parked_total();
        tokio::time::sleep(PARK_AFTER * 2).await;
        assert!(parked_total() > parked, "parked after PARK_AFTER idle");
        c.write_all(REQUEST).await.unwrap();
        let second = answer(&mut c).await;
        assert!(second.starts_with("HTTP/1.1 200") && second.ends_with("ok"), "{second}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_sent_request_is_not_parked() {
        let (addr, _stop) = server(Duration::from_secs(60)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(&REQUEST[..10]).await.unwrap();
        tokio::time::sleep(PARK_AFTER * 3).await;
        c.write_all(&REQUEST[10..]).await.unwrap();
        let a = answer(&mut c).await;
        assert!(a.starts_with("HTTP/1.1 200") && a.ends_with("ok"), "{a}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_parked_connection_is_closed_after_idle_timeout() {
        let (addr, _stop) = server(Duration::from_secs(5)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(REQUEST).await.unwrap();
        assert!(answer(&mut c).await.ends_with("ok"));
        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut buf = [0u8; 16];
        assert_eq!(c.read(&mut buf).await.unwrap(), 0, "closed by the server");
    }

    #[test]
    fn the_first_bytes_decide_the_protocol() {
        assert_eq!(preface_match(b"POST /api"), Some(Version::H1));
        assert_eq!(preface_match(b"G"), Some(Version::H1));
        assert_eq!(preface_match(b"PRI * HTTP/2.0\r\n"), None, "a partial preface waits");
        assert_eq!(preface_match(b"PRI * HTTP/1.1"), Some(Version::H1));
        assert_eq!(preface_match(H2_PREFACE), Some(Version::H2));
    }
}
