//! Logs and traces.
//!
//! Logging: tracing with one span per request, in human (`pretty`) or JSON
//! format, on stderr. `RUST_LOG`, when set, overrides `[log] level`.
//! `pretty` colours its lines only when stderr is a terminal (and `NO_COLOR`
//! is unset): a log redirected to a file or a pipe carries no ANSI codes.
//! `json` writes one object per line with the request span's fields
//! (`request_id`, `route`, `tenant`) beside the event's (`status`, `ms`, …)
//! at the top level ([`json`]).
//!
//! Traces: W3C Trace Context in and out. With `[telemetry] otlp_endpoint`
//! set, spans (the request, each Voucherify call, each lock-store call)
//! go to an OTLP/HTTP (protobuf) collector through the OpenTelemetry SDK
//! and `tracing-opentelemetry`, in bounded batches from a background task,
//! so exporting never blocks a request (a full queue drops spans). The
//! request's span continues the merchant's `traceparent`, and each
//! Voucherify call and pass-through sends its own span's context on.
//! Without an endpoint nothing is recorded, and the merchant's
//! `traceparent`/`tracestate` are sent on unchanged, so the trace still
//! joins up across couponbridge in the merchant's tracing system.
//!
//! Secrets never reach a log or a span: the adapter logs no header values
//! and no bodies; span fields are the request id, route, tenant name,
//! operation names and statuses, never a header, a path or a lock
//! reference; configuration secrets are `Secret`s that print
//! `<redacted>`; the outbound token header is marked sensitive.

pub mod json;

use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat, TelemetryConfig};
use crate::net::client::HttpClient;
use crate::net::full;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A child span for one call (Voucherify, the lock store), only when spans
/// are exported: otherwise no log line needs it, and the request path
/// saves its cost.
#[macro_export]
macro_rules! call_span {
    ($name:literal, $($fields:tt)*) => {
        if $crate::telemetry::exporting() {
            tracing::info_span!($name, $($fields)*)
        } else {
            tracing::Span::none()
        }
    };
}

pub fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether spans are exported (then outgoing trace context comes from
/// couponbridge's own spans).
pub fn exporting() -> bool {
    PROVIDER.get().is_some()
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Flushes what is left of the spans at shutdown: `finish` it.
pub struct TelemetryGuard {
    finished: bool,
}

/// How long the last spans may take to leave at shutdown.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(5);

impl TelemetryGuard {
    /// Flushes and stops the exporter. Its shutdown blocks until the batch
    /// task answers, and that task runs on this runtime: on a blocking-pool
    /// thread, so that a current-thread runtime (`worker_threads = 1`) keeps
    /// running it meanwhile, and bounded, so a collector that never answers
    /// cannot hold the exit.
    pub async fn finish(mut self) {
        self.finished = true;
        if let Some(p) = PROVIDER.get() {
            let flush = tokio::task::spawn_blocking(|| p.shutdown());
            if tokio::time::timeout(FLUSH_AT_EXIT, flush).await.is_err() {
                eprintln!("couponbridge: the last spans were not exported within {FLUSH_AT_EXIT:?}");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    /// Unwinding without `finish`: a best-effort flush, except on a
    /// current-thread runtime, where it would wait on this very thread.
    fn drop(&mut self) {
        let current_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if let (false, false, Some(p)) = (self.finished, current_thread, PROVIDER.get()) {
            let _ = p.shutdown();
        }
    }
}

/// Installs the process-wide subscriber (a no-op if one is already set)
/// and, with an OTLP endpoint, the exporter. Call inside the runtime: the
/// exporter's batches run on it.
pub fn init(log: &LogConfig, telemetry: Option<&TelemetryConfig>, http: Option<HttpClient>) -> TelemetryGuard {
    let otel = match (telemetry, http) {
        (Some(t), Some(http)) => match provider(t, http) {
            Ok(p) => {
                let tracer = p.tracer("couponbridge");
                let _ = PROVIDER.set(p);
                Some(tracing_opentelemetry::layer().with_tracer(tracer))
            }
            Err(e) => {
                eprintln!("couponbridge: traces are off: {e}");
                None
            }
        },
        _ => None,
    };
    let registry = tracing_subscriber::registry().with(filter(&log.level)).with(otel);
    let _ = match log.format {
        LogFormat::Json => registry.with(json::JsonLayer::new(std::io::stderr)).try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour(std::io::stderr().is_terminal())),
            )
            .try_init(),
    };
    TelemetryGuard { finished: false }
}

/// Whether `pretty` lines are coloured: only on a terminal, and not when
/// `NO_COLOR` is set to anything (no-color.org).
pub fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn provider(t: &TelemetryConfig, http: HttpClient) -> Result<SdkTracerProvider, String> {
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OtlpClient {
            http,
            timeout: t.timeout,
        })
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", t.otlp_endpoint.trim_end_matches('/')))
        .with_timeout(t.timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let batches = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_max_queue_size(t.queue)
        .with_scheduled_delay(t.flush_every)
        .build();
    let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio)
        .with_batch_config(batches)
        .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(t.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build())
}

/// The merchant's trace context, as received (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: HeaderValue,
    pub tracestate: Option<HeaderValue>,
}

/// `traceparent` as W3C Trace Context writes it: version, 32-hex trace id,
/// 16-hex parent id, 2-hex flags; an all-zero id is invalid.
pub fn valid_traceparent(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    parts.len() >= 4
        && hex(parts[0], 2)
        && parts[0] != "ff"
        && hex(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex(parts[3], 2)
}

/// The request's trace context: taken from the merchant's headers. With
/// export on, it becomes the parent of `span` (call before it is entered).
pub fn continue_trace(headers: &HeaderMap, span: &tracing::Span) -> Option<TraceHeaders> {
    let incoming = headers
        .get(TRACEPARENT)
        .filter(|v| v.to_str().is_ok_and(valid_traceparent))
        .map(|tp| TraceHeaders {
            traceparent: tp.clone(),
            tracestate: headers.get(TRACESTATE).cloned(),
        });
    if exporting() {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(parent);
    }
    incoming
}

/// The trace headers a call made now sends on: the current span's
/// context when exporting, otherwise the merchant's as received.
pub fn outgoing(received: Option<&TraceHeaders>, headers: &mut HeaderMap) {
    if exporting() {
        let cx = tracing::Span::current().context();
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    } else if let Some(t) = received {
        headers.insert(TRACEPARENT, t.traceparent.clone());
        if let Some(s) = &t.tracestate {
            headers.insert(TRACESTATE, s.clone());
        }
    }
}

/// couponbridge's own HTTP client (rustls, its trust anchors) as the OTLP
/// exporter's transport.
#[derive(Debug)]
struct OtlpClient {
    http: HttpClient,
    timeout: Duration,
}

type Sent<'a> = Pin<Box<dyn std::future::Future<Output = Result<http::Response<Bytes>, HttpError>> + Send + 'a>>;

impl opentelemetry_http::HttpClient for OtlpClient {
    fn send_bytes<'life0, 'async_trait>(&'life0 self, request: http::Request<Bytes>) -> Sent<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let req = http::Request::from_parts(parts, full(body));
            let res = tokio::time::timeout(self.timeout, self.http.request(req))
                .await
                .map_err(|_| "OTLP export timed out")??;
            let (parts, body) = res.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_checked_as_w3c_writes_them() {
        assert!(valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future"
        ));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(!valid_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn without_export_the_merchants_context_is_sent_on_unchanged() {
        let mut incoming = HeaderMap::new();
        incoming.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        incoming.insert(TRACESTATE, HeaderValue::from_static("vendor=x"));
        let received = continue_trace(&incoming, &tracing::Span::none());
        let mut out = HeaderMap::new();
        outgoing(received.as_ref(), &mut out);
        assert_eq!(out[TRACEPARENT], incoming[TRACEPARENT]);
        assert_eq!(out[TRACESTATE], "vendor=x");
        let mut bad = HeaderMap::new();
        bad.insert(TRACEPARENT, HeaderValue::from_static("nonsense"));
        assert!(
            continue_trace(&bad, &tracing::Span::none()).is_none(),
            "an invalid traceparent is not sent on"
        );
    }
}
