//! Recording of live traffic for replay tests.
//!
//! Format: JSON lines, one HAR 1.2 `entry` per line. Gameball-side entries
//! carry `_kind: "gameball"` and an `_id`; each Voucherify call an exchange
//! caused follows it as an entry with `_kind: "voucherify"` and `_parent`
//! set to that `_id`. Wrapping the lines makes a HAR file any viewer reads:
//! `jq -s '{log: {version: "1.2", creator: {name: "couponbridge", version: "0"}, entries: .}}' FILE.jsonl > FILE.har`.
//!
//! Writing is off the request path: entries are redacted in the request's
//! task, then handed to a bounded queue with `try_send`; a writer thread
//! appends them to the current file and rotates files by size. A full queue
//! drops the entry and counts it (`couponbridge_recording_dropped_entries`);
//! a checkout never waits for a disk.

pub mod redact;
pub mod writer;

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use rand::Rng;
use serde_json::{Value, json};

use crate::clock::{Clock, iso};
use crate::config::RecordConfig;
use crate::ids;
use crate::metrics::Metrics;
use redact::Redactor;

/// Bodies above this size are recorded as omitted.
const MAX_RECORDED_BODY: usize = 1 << 20;

#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Vec<u8>>,
    sample: f64,
    redactor: Arc<Redactor>,
    metrics: Arc<Metrics>,
    clock: Clock,
}

/// The writer thread; `finish` flushes and waits for it.
pub struct WriterHandle {
    thread: Option<JoinHandle<()>>,
    /// For the end marker: the writer stops at it even while `Recorder`
    /// clones still live (a configuration held by a straggling task).
    tx: SyncSender<Vec<u8>>,
}

impl WriterHandle {
    /// Waits until every entry queued so far is on disk, then stops the
    /// writer; entries submitted later are counted as dropped.
    pub fn finish(mut self) {
        let _ = self.tx.send(Vec::new());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Recorder {
    pub fn start(
        cfg: &RecordConfig,
        redactor: Redactor,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> std::io::Result<(Recorder, WriterHandle)> {
        std::fs::create_dir_all(&cfg.path)?;
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        let dir = cfg.path.clone();
        let max = cfg.max_file_bytes.max(1);
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("couponbridge-recorder".into())
            .spawn(move || {
                writer::write_lines(
                    rx,
                    &dir,
                    "couponbridge",
                    writer::Limits {
                        file_bytes: max,
                        folder_bytes: None,
                    },
                    writer::Hooks {
                        written: Box::new({
                            let m = m.clone();
                            move || m.recording_written()
                        }),
                        dropped: Box::new(move || m.recording_dropped()),
                        tick: Box::new(|| None),
                    },
                )
            })?;
        let recorder = Recorder {
            tx,
            sample: cfg.sample,
            redactor: Arc::new(redactor),
            metrics,
            clock,
        };
        let end = recorder.tx.clone();
        Ok((
            recorder,
            WriterHandle {
                thread: Some(thread),
                tx: end,
            },
        ))
    }

    /// Starts recording one exchange, if it falls in the sample.
    pub fn begin(&self) -> Option<Recording> {
        if self.sample < 1.0 && rand::rng().random::<f64>() >= self.sample {
            return None;
        }
        let id = ids::prefixed_hex("ex_", 16);
        Some(Recording {
            recorder: self.clone(),
            started_at: self.clock.now(),
            started: Instant::now(),
            tap: Arc::new(UpstreamTap {
                parent: id.clone(),
                redactor: self.redactor.clone(),
                clock: self.clock.clone(),
                legs: Mutex::new(Vec::new()),
            }),
            id,
        })
    }

    fn submit(&self, entry: &Value) {
        let line = entry.to_string().into_bytes();
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.metrics.recording_dropped(),
        }
    }
}

/// One Gameball-side exchange being recorded.
pub struct Recording {
    recorder: Recorder,
    id: String,
    started_at: i64,
    started: Instant,
    tap: Arc<UpstreamTap>,
}

/// The answer being recorded.
pub struct ResponseParts<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What is known of the request being recorded.
pub struct RequestParts<'a> {
    pub method: &'a Method,
    pub url: &'a str,
    pub version: http::Version,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Recording {
    /// Where the Voucherify calls of this exchange are recorded.
    pub fn tap(&self) -> Arc<UpstreamTap> {
        self.tap.clone()
    }

    /// Records the exchange and the Voucherify calls it caused.
    pub fn finish(self, req: RequestParts<'_>, res: ResponseParts<'_>, tenant: Option<&str>, request_id: &str) {
        let r = &self.recorder.redactor;
        let mut entry = har_entry(
            r,
            self.started_at,
            self.started.elapsed(),
            req.method,
            req.url,
            req.version,
            req.headers,
            req.body,
            Some((res.status, res.headers, res.body)),
        );
        entry["_id"] = self.id.clone().into();
        entry["_kind"] = "gameball".into();
        entry["_requestId"] = r.text(request_id).into();
        if let Some(t) = tenant {
            entry["_tenant"] = t.into();
        }
        self.recorder.submit(&entry);
        let legs = std::mem::take(&mut *self.tap.legs.lock().unwrap_or_else(|p| p.into_inner()));
        for leg in legs {
            self.recorder.submit(&leg);
        }
    }
}

/// Collects the Voucherify legs of one exchange.
pub struct UpstreamTap {
    parent: String,
    redactor: Arc<Redactor>,
    clock: Clock,
    legs: Mutex<Vec<Value>>,
}

impl UpstreamTap {
    pub fn record(
        &self,
        method: &Method,
        url: &str,
        req_body: &[u8],
        response: Option<(StatusCode, &HeaderMap, &Bytes)>,
        started: Instant,
    ) {
        let elapsed = started.elapsed();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let mut entry = har_entry(
            &self.redactor,
            self.clock.now() - elapsed.as_millis() as i64,
            elapsed,
            method,
            url,
            http::Version::HTTP_11,
            &headers,
            req_body,
            response.map(|(s, h, b)| (s, h, b.as_ref())),
        );
        entry["_kind"] = "voucherify".into();
        entry["_parent"] = self.parent.clone().into();
        if response.is_none() {
            entry["_error"] = "no answer (connection failure or timeout)".into();
        }
        self.legs.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
    }
}

fn har_headers(r: &Redactor, headers: &HeaderMap) -> Vec<Value> {
    headers
        .iter()
        .map(
            |(k, v)| json!({"name": k.as_str(), "value": r.header(k.as_str(), &String::from_utf8_lossy(v.as_bytes()))}),
        )
        .collect()
}

fn mime(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned()
}

fn body_text(r: &Redactor, body: &[u8]) -> Option<String> {
    (!body.is_empty() && body.len() <= MAX_RECORDED_BODY).then(|| r.body(body))
}

#[allow(clippy::too_many_arguments)]
fn har_entry(
    r: &Redactor,
    started_at: i64,
    elapsed: Duration,
    method: &Method,
    url: &str,
    version: http::Version,
    req_headers: &HeaderMap,
    req_body: &[u8],
    response: Option<(StatusCode, &HeaderMap, &[u8])>,
) -> Value {
    let url = r.text(url);
    let query: Vec<Value> = url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            json!({"name": k, "value": v})
        })
        .collect();
    let ms = elapsed.as_secs_f64() * 1000.0;
    let http_version = format!("{version:?}");
    let mut request = json!({
        "method": method.as_str(),
        "url": url,
        "httpVersion": http_version,
        "cookies": [],
        "headers": har_headers(r, req_headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": req_body.len(),
    });
    if let Some(text) = body_text(r, req_body) {
        request["postData"] = json!({"mimeType": mime(req_headers), "text": text});
    }
    let response = match response {
        Some((status, headers, body)) => {
            let mut content = json!({"size": body.len(), "mimeType": mime(headers)});
            if let Some(text) = body_text(r, body) {
                content["text"] = text.into();
            }
            json!({
                "status": status.as_u16(),
                "statusText": status.canonical_reason().unwrap_or(""),
                "httpVersion": http_version,
                "cookies": [],
                "headers": har_headers(r, headers),
                "content": content,
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": body.len(),
            })
        }
        None => json!({
            "status": 0, "statusText": "", "httpVersion": http_version, "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
        }),
    };
    json!({
        "startedDateTime": iso(started_at),
        "time": ms,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": ms, "receive": 0},
    })
}
