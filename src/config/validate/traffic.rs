//! What happens to traffic besides translating it: `[passthrough]`,
//! `[record]` (and the redaction the shadow shares) and `[shadow]`.

use super::super::errors::Errors;
use super::super::raw::{RawPassthrough, RawRecord, RawShadow};
use super::super::runtime::*;
use super::super::secret::is_placeholder;
use crate::compare::{JsonPath, RulesFile};

pub(super) fn passthrough(p: &RawPassthrough, e: &mut Errors) -> Option<PassthroughConfig> {
    let upstream = e.http_url("passthrough.upstream", p.upstream.as_deref()?)?;
    Some(PassthroughConfig {
        upstream,
        timeout: e.duration("passthrough.timeout", &p.timeout),
    })
}

pub(super) fn record(r: &RawRecord, e: &mut Errors) -> Option<RecordConfig> {
    if !r.enabled {
        return None;
    }
    if !(0.0..=1.0).contains(&r.sample) {
        e.push("record.sample", "must be between 0 and 1");
    }
    if r.path.is_none() {
        e.push("record.path", "recording needs a folder");
    }
    Some(RecordConfig {
        path: r.path.clone().unwrap_or_default(),
        sample: r.sample,
        max_file_bytes: r.max_file_bytes,
        queue: r.queue as usize,
    })
}

/// Checked whether recording is on or not: the shadow redacts with it too.
pub(super) fn redaction(r: &RawRecord, e: &mut Errors) -> RedactionConfig {
    let mut json = Vec::new();
    for (i, text) in r.redact_json.iter().enumerate() {
        match JsonPath::parse(text) {
            Ok(p) => json.push(p),
            Err(message) => e.push(format!("record.redact_json[{i}]"), message),
        }
    }
    if let Some(k) = &r.hash_key
        && is_placeholder(k.expose())
    {
        e.push(
            "record.hash_key",
            "is a placeholder, not a key; set a real one (or leave it out)",
        );
    }
    RedactionConfig {
        json,
        hash_key: r.hash_key.clone(),
    }
}

pub(super) fn shadow(r: &RawShadow, e: &mut Errors) -> ShadowConfig {
    if !(0.0..=1.0).contains(&r.sample) {
        e.push("shadow.sample", "must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&r.calibrate) {
        e.push("shadow.calibrate", "must be between 0 and 1");
    }
    let rules = match &r.rules {
        None => Vec::new(),
        Some(p) => match read_rules(p) {
            Ok(f) => f.rules,
            Err(err) => {
                e.push("shadow.rules", format!("{}: {err}", p.display()));
                Vec::new()
            }
        },
    };
    ShadowConfig {
        path: r.path.clone(),
        sample: r.sample,
        queue: r.queue.max(1) as usize,
        concurrency: r.concurrency.max(1) as usize,
        rules,
        book_max_bytes: r.book_max_bytes as usize,
        queue_max_bytes: r.queue_max_bytes as usize,
        path_max_bytes: r.path_max_bytes,
        example_max_bytes: r.example_max_bytes as usize,
        calibrate: r.calibrate,
    }
}

/// A rules file; a problem names the rule (`rules[2].path`) and the place.
fn read_rules(path: &std::path::Path) -> Result<RulesFile, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}
