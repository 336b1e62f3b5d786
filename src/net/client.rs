//! The outbound HTTP client (to Voucherify and to the pass-through upstream):
//! hyper-util's pooled client over rustls.

use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;

use super::Body;
use super::tls::{self, Roots, TlsError};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Body>;

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
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(opts.connect_timeout));
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls::client_config(opts.roots, &opts.extra_ca)?)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        // Without a timer the idle timeout silently does nothing.
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(opts.pool_idle_timeout)
        .timer(TokioTimer::new())
        .build(https))
}
