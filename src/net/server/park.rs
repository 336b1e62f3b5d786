//! Parking idle HTTP/1 connections, for idle memory. A plaintext HTTP/1
//! connection with nothing in flight for [`PARK_AFTER`] is *parked*: its
//! hyper connection (read and write buffers,
//! parser state: some 16 KiB) is ended without closing the socket, and only
//! the socket is kept, waiting to be readable; its next request starts a
//! fresh hyper connection on it. The client sees one keep-alive connection
//! throughout. A connection in use (requests arriving within
//! `PARK_AFTER` of each other) keeps its hyper connection, so parking
//! costs nothing under load.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::conn::{Activity, ConnInfo, Graceful, Tracked, supervise};
use crate::net::{Body, BoxError};

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
pub(super) async fn serve_h1<H, Fut>(
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
    use crate::net::server::{ServeOptions, serve};
    use std::net::SocketAddr;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

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
}
