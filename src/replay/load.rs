//! Reading recordings: HAR 1.2 files (browser devtools, mitmproxy, Charles)
//! and couponbridge's own JSON lines, into Gameball exchanges with the
//! Voucherify calls each one caused.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use serde_json::Value;

/// A recorded answer.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// A recorded Voucherify call.
#[derive(Debug, Clone)]
pub struct Leg {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub body: String,
    pub answer: Answer,
}

/// A recorded Gameball-side exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Position among the replayed exchanges, from 1.
    pub index: usize,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub answer: Answer,
    pub legs: Vec<Leg>,
}

impl Exchange {
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path.split('?').next().unwrap_or(""))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub exchanges: Vec<Exchange>,
    /// Entries that are not Gameball API calls (a browser's other requests).
    pub skipped: usize,
}

fn path_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url[i + 3 + j..].to_owned(),
            None => "/".to_owned(),
        },
        None => url.to_owned(),
    }
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn body_of(content: Option<&Value>) -> String {
    let Some(c) = content else { return String::new() };
    let t = c.get("text").and_then(Value::as_str).unwrap_or_default();
    if c.get("encoding").and_then(Value::as_str) == Some("base64") {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        t.to_owned()
    }
}

fn answer(entry: &Value) -> Answer {
    Answer {
        status: entry.pointer("/response/status").and_then(Value::as_u64).unwrap_or(0) as u16,
        body: body_of(entry.pointer("/response/content")),
    }
}

/// The entries of one file: a HAR document, or one HAR entry per line.
fn entries(path: &Path) -> Result<Vec<Value>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(doc) = serde_json::from_slice::<Value>(&bytes)
        && let Some(list) = doc.pointer("/log/entries").and_then(Value::as_array)
    {
        return Ok(list.clone());
    }
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1)))
        .collect()
}

pub fn load(paths: &[impl AsRef<Path>]) -> Result<Loaded, String> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(entries(p.as_ref())?);
    }
    let mut legs: HashMap<String, Vec<Leg>> = HashMap::new();
    for e in all
        .iter()
        .filter(|e| e.get("_kind").and_then(Value::as_str) == Some("voucherify"))
    {
        legs.entry(text(e, "/_parent")).or_default().push(Leg {
            method: text(e, "/request/method"),
            path: path_of(&text(e, "/request/url")),
            body: text(e, "/request/postData/text"),
            answer: answer(e),
        });
    }
    let mut loaded = Loaded::default();
    for e in all
        .iter()
        .filter(|e| e.get("_kind").and_then(Value::as_str) != Some("voucherify"))
    {
        let path = path_of(&text(e, "/request/url"));
        if !path.starts_with("/api/") {
            loaded.skipped += 1;
            continue;
        }
        let headers = e
            .pointer("/request/headers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|h| (text(h, "/name"), text(h, "/value")))
            .collect();
        loaded.exchanges.push(Exchange {
            index: loaded.exchanges.len() + 1,
            method: text(e, "/request/method"),
            path,
            headers,
            body: text(e, "/request/postData/text"),
            answer: answer(e),
            legs: e
                .get("_id")
                .and_then(Value::as_str)
                .and_then(|id| legs.remove(id))
                .unwrap_or_default(),
        });
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_har_documents_and_json_lines_with_their_legs() {
        let dir = tempfile::tempdir().unwrap();
        let har = dir.path().join("a.har");
        std::fs::write(
            &har,
            r#"{"log": {"version": "1.2", "entries": [
                {"request": {"method": "GET", "url": "https://shop.example/app.js", "headers": []}, "response": {"status": 200, "content": {}}},
                {"request": {"method": "POST", "url": "https://api.gameball.co/api/v4.0/integrations/coupons/validate",
                             "headers": [{"name": "apikey", "value": "k"}], "postData": {"mimeType": "application/json", "text": "{}"}},
                 "response": {"status": 200, "content": {"mimeType": "application/json", "encoding": "base64", "text": "eyJhIjoxfQ=="}}}
            ]}}"#,
        )
        .unwrap();
        let jsonl = dir.path().join("b.jsonl");
        let mut f = std::fs::File::create(&jsonl).unwrap();
        writeln!(f, r#"{{"_id": "ex_1", "_kind": "gameball", "request": {{"method": "DELETE", "url": "http://h/api/v4.0/integrations/coupons/R"}}, "response": {{"status": 200, "content": {{"text": "{{}}"}}}}}}"#).unwrap();
        writeln!(f, r#"{{"_parent": "ex_1", "_kind": "voucherify", "request": {{"method": "DELETE", "url": "http://vf/v1/vouchers/A/sessions/k"}}, "response": {{"status": 204, "content": {{}}}}}}"#).unwrap();
        drop(f);
        let l = load(&[har, jsonl]).unwrap();
        assert_eq!(l.skipped, 1, "the browser's script request");
        assert_eq!(l.exchanges.len(), 2);
        assert_eq!(l.exchanges[0].path, "/api/v4.0/integrations/coupons/validate");
        assert_eq!(l.exchanges[0].answer.body, r#"{"a":1}"#, "base64 content is decoded");
        assert_eq!(l.exchanges[0].headers, vec![("apikey".to_string(), "k".to_string())]);
        assert_eq!(l.exchanges[1].index, 2);
        assert_eq!(l.exchanges[1].legs.len(), 1);
        assert_eq!(l.exchanges[1].legs[0].path, "/v1/vouchers/A/sessions/k");
        assert_eq!(l.exchanges[1].legs[0].answer.status, 204);
    }

    #[test]
    fn bad_lines_name_their_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(&p, "{}\nnot json\n").unwrap();
        let err = load(&[p]).unwrap_err();
        assert!(err.contains("bad.jsonl:2"), "{err}");
    }
}
