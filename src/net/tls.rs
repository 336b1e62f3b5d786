//! rustls configuration, inbound and outbound.
//!
//! One crypto provider (ring) is named explicitly everywhere, so rustls never
//! has to guess a process-wide default (the "no process-level CryptoProvider"
//! panic when two providers end up in the dependency graph).

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate file {path}: {reason}")]
    Cert { path: String, reason: String },
    #[error("cannot read private key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which trust anchors outbound connections accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Roots {
    /// Mozilla's roots compiled into the binary (hermetic containers).
    #[default]
    Webpki,
    /// The operating system's certificate store.
    Native,
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Cert {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Inbound TLS: HTTP/2 and HTTP/1.1 offered through ALPN.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(load_certs(cert)?, load_key(key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Outbound TLS with the chosen roots plus any extra CA certificates (a
/// private CA in front of a test Voucherify, for example).
pub fn client_config(roots: Roots, extra_ca: &[CertificateDer<'static>]) -> Result<ClientConfig, TlsError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::Native => {
            // Unreadable entries in the OS store are skipped, as browsers do.
            let loaded = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(loaded.certs);
        }
    }
    for ca in extra_ca {
        store.add(ca.clone())?;
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth())
}
