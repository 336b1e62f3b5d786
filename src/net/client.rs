//! The outbound HTTP client (to Voucherify and to the pass-through upstream):
//! hyper-util's pooled client over rustls.
//!
//! [`HttpClient`] is the client every caller uses (HTTP/2 when TLS
//! negotiates it, HTTP/1.1 otherwise); it also carries an HTTP/2-only and
//! an HTTP/1.1-only twin on the same TLS settings, for a Voucherify tenant
//! whose `http2` asks for one version. Each keeps its own pool: HTTP/1.1
//! connections are pooled per host, an HTTP/2 connection is shared
//! (multiplexed) by every request to its host. None connects before it is
//! used.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;

use super::Body;
use super::tls::{self, Roots, TlsError};

pub type PooledClient = Client<HttpsConnector<HttpConnector>, Body>;

/// The pooled client, with its version-pinned twins (see the module
/// comment). Derefs to the negotiating one. One `Arc`: three hyper
/// clients are a kilobyte and a dozen reference counts, and every
/// request's context holds a clone.
#[derive(Clone)]
pub struct HttpClient(Arc<Clients>);

struct Clients {
    auto: PooledClient,
    h2: PooledClient,
    h1: PooledClient,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl Deref for HttpClient {
    type Target = PooledClient;
    fn deref(&self) -> &PooledClient {
        &self.0.auto
    }
}

impl HttpClient {
    /// The client that speaks what `http2` asks for.
    pub fn version(&self, http2: Http2) -> &PooledClient {
        match http2 {
            Http2::Auto => &self.0.auto,
            Http2::Always => &self.0.h2,
            Http2::Never => &self.0.h1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub roots: Roots,
    pub extra_ca: Vec<CertificateDer<'static>>,
    pub connect_timeout: Duration,
    /// Idle pooled connections are closed after this long. Keep it below the
    /// upstream's own keep-alive timeout, or the pool hands out connections
    /// the server is closing ("connection closed before message completed").
    pub pool_idle_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            roots: Roots::Webpki,
            extra_ca: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            pool_idle_timeout: Duration::from_secs(30),
        }
    }
}

pub fn build(opts: &ClientOptions) -> Result<HttpClient, TlsError> {
    let tls = tls::client_config(opts.roots, &opts.extra_ca)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(opts.connect_timeout));
    let builder = |h2_only: bool| {
        let mut b = Client::builder(TokioExecutor::new());
        // Without a timer the idle timeout silently does nothing.
        b.pool_timer(TokioTimer::new())
            .pool_idle_timeout(opts.pool_idle_timeout)
            .timer(TokioTimer::new());
        if h2_only {
            // Prior knowledge over http:// (h2c); over TLS the connector
            // offers only h2.
            b.http2_only(true);
        }
        b
    };
    let base = || {
        HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
    };
    Ok(HttpClient(Arc::new(Clients {
        auto: builder(false).build(base().enable_all_versions().wrap_connector(http.clone())),
        h2: builder(true).build(base().enable_http2().wrap_connector(http.clone())),
        h1: builder(false).build(base().enable_http1().wrap_connector(http)),
    })))
}

/// Which HTTP version couponbridge speaks to Voucherify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http2 {
    /// Over TLS, HTTP/2 when the server offers it by ALPN (else HTTP/1.1);
    /// over plain `http://`, HTTP/1.1 (there is nothing to negotiate with,
    /// and prior knowledge would break an HTTP/1-only server).
    #[default]
    Auto,
    /// HTTP/2 only: by ALPN over TLS, by prior knowledge (h2c) over `http://`.
    Always,
    /// HTTP/1.1 only (h2 is not offered in ALPN).
    Never,
}
