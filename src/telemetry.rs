//! Logging: tracing with one span per request, in human (`pretty`) or JSON
//! format. `RUST_LOG`, when set, overrides `[log] level`.
//!
//! Secrets never reach a log: the adapter logs no header values and no
//! bodies; configuration secrets are `Secret`s that print `<redacted>`; the
//! outbound token header is marked sensitive. A test greps the logs of a
//! full request cycle, at TRACE level for every crate, for each secret.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

pub fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the process-wide subscriber (a no-op if one is already set).
pub fn init(cfg: &LogConfig) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(&cfg.level))
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
