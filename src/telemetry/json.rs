//! JSON log lines for pipelines: one object per line, every field at the
//! top level.
//!
//! `tracing-subscriber`'s JSON format nests the request span's fields in a
//! `spans` array (or a `span` object), so `jq .request_id` or a log
//! platform's field extraction finds nothing. This layer writes the event's
//! fields and the fields of every span it happened in side by side:
//!
//! ```json
//! {"timestamp":"2026-12-04T10:00:00.123456Z","level":"INFO","target":"couponbridge::app",
//!  "message":"answered","request_id":"…","route":"validate","tenant":"shop","status":200,"ms":3.2}
//! ```
//!
//! An event's own field wins over a span's of the same name, an inner
//! span's over an outer one's. Numbers and booleans stay JSON numbers and
//! booleans; an error is its message and its sources joined by `: `. A span
//! field not recorded yet (`route` before routing) is absent, never null.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer; `W` makes the writer of each line (stderr, or a test's buffer).
pub struct JsonLayer<W> {
    make_writer: W,
}

impl<W> JsonLayer<W> {
    pub fn new(make_writer: W) -> Self {
        JsonLayer { make_writer }
    }
}

/// A span's fields so far, kept in its extensions.
#[derive(Default)]
struct SpanFields(BTreeMap<String, Value>);

/// Fields into JSON values.
struct Visitor<'a>(&'a mut BTreeMap<String, Value>);

impl Visitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.put(field, v);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        self.put(field, Value::from(text));
    }

    /// `%value` and the message arrive here too, written with Display;
    /// couponbridge logs no `?value` (a test holds every call to that).
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// The first keys of every line, in this order; the rest follow by name.
const HEAD: [&str; 4] = ["timestamp", "level", "target", "message"];

/// One line: `head` first, then `fields` by name.
pub fn line(head: &[(&str, Value)], fields: &BTreeMap<String, Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, k: &str, v: &Value| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        // Serialising a string or a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    };
    for (k, v) in head {
        put(&mut out, k, v);
    }
    for (k, v) in fields.iter().filter(|(k, _)| !HEAD.contains(&k.as_str())) {
        put(&mut out, k, v);
    }
    out.extend_from_slice(b"}\n");
    out
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = SpanFields::default();
            attrs.record(&mut Visitor(&mut fields.0));
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            match ext.get_mut::<SpanFields>() {
                Some(fields) => values.record(&mut Visitor(&mut fields.0)),
                None => {
                    let mut fields = SpanFields::default();
                    values.record(&mut Visitor(&mut fields.0));
                    ext.insert(fields);
                }
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = BTreeMap::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Visitor(&mut fields));
        let timestamp = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
        let message = fields.get("message").cloned().unwrap_or(Value::from(""));
        let bytes = line(
            &[
                ("timestamp", Value::from(timestamp)),
                ("level", Value::from(meta.level().as_str())),
                ("target", Value::from(meta.target())),
                ("message", message),
            ],
            &fields,
        );
        // One write per line, so lines from several threads never interleave.
        let _ = self.make_writer.make_writer_for(meta).write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn span_fields_are_top_level_and_values_keep_their_json_type() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                route = tracing::field::Empty,
                tenant = tracing::field::Empty
            );
            let _in = span.enter();
            tracing::info!("before routing");
            span.record("route", "validate");
            span.record("tenant", "shop");
            let inner = tracing::info_span!("inner", route = "lock_details");
            let _inner = inner.enter();
            let e = Outer(std::io::Error::other("refused"));
            tracing::warn!(
                status = 503u16,
                ms = 1.5,
                retryable = true,
                error = &e as &dyn std::error::Error,
                "answered"
            );
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["request_id"], "r-1");
        assert!(lines[0].get("route").is_none(), "not recorded yet, so absent: {text}");
        let a = &lines[1];
        assert_eq!(a["message"], "answered");
        assert_eq!(a["level"], "WARN");
        assert_eq!(a["request_id"], "r-1");
        assert_eq!(a["route"], "lock_details", "the inner span wins");
        assert_eq!(a["tenant"], "shop");
        assert_eq!(a["status"], 503);
        assert_eq!(a["ms"], 1.5);
        assert_eq!(a["retryable"], true);
        assert_eq!(a["error"], "outer: refused");
        assert!(a.get("spans").is_none() && a.get("span").is_none() && a.get("fields").is_none());
        assert!(text.starts_with("{\"timestamp\":"), "{text}");
    }
}
