//! Holds simulator responses to Voucherify's official OpenAPI documents
//! (copied to `tests/reference/voucherify/`, provenance in `SOURCES.md`).
//!
//! OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`. Two
//! conversions: `nullable: true` becomes "or null", and `oneOf` becomes
//! `anyOf`, because the spec's alternatives overlap (none has required
//! properties, so a discount result also matches the gift-card result) and
//! Voucherify's own documented examples fail a strict `oneOf`. Each response
//! is validated against the schema its operation and status declare.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/voucherify")
}

pub fn fixture(name: &str) -> Value {
    let path = reference_dir().join("fixtures/openapi-examples").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

const SPECS: [&str; 3] = ["validations.json", "redemptions.json", "vouchers.json"];

struct Spec {
    doc: Arc<Value>,
}

pub struct Contract {
    specs: Vec<Spec>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

pub fn convert(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(e)) = map.get_mut("enum") {
                            e.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            if let Some(alternatives) = map.remove("oneOf") {
                map.insert("anyOf".into(), alternatives);
            }
            // A spec bug: an object requiring a property it does not define
            // (`RedemptionRewardResult` requires a `reward` inside the
            // reward) could never be met; the name is dropped.
            if let (Some(Value::Object(props)), Some(Value::Array(required))) =
                (map.get("properties"), map.get("required"))
            {
                let kept: Vec<Value> = required
                    .iter()
                    .filter(|r| r.as_str().is_some_and(|r| props.contains_key(r)))
                    .cloned()
                    .collect();
                map.insert("required".into(), Value::Array(kept));
            }
            map.values_mut().for_each(convert);
        }
        Value::Array(items) => items.iter_mut().for_each(convert),
        _ => {}
    }
}

pub fn template_matches(template: &str, path: &str) -> Option<usize> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut literal = 0;
    for (a, b) in t.iter().zip(&p) {
        if a.starts_with('{') {
            continue;
        }
        if a != b {
            return None;
        }
        literal += 1;
    }
    Some(literal)
}

impl Contract {
    pub fn get() -> &'static Contract {
        static C: OnceLock<Contract> = OnceLock::new();
        C.get_or_init(|| {
            let specs = SPECS
                .iter()
                .map(|f| {
                    let mut doc: Value =
                        serde_json::from_slice(&std::fs::read(reference_dir().join(f)).unwrap()).unwrap();
                    convert(&mut doc);
                    Spec { doc: Arc::new(doc) }
                })
                .collect();
            Contract {
                specs,
                validators: Mutex::new(HashMap::new()),
            }
        })
    }

    /// The response schema for `method path status`, if the specs declare one.
    fn schema_for(&self, method: &str, path: &str, status: u16) -> Option<(usize, String, Value)> {
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, usize, String)> = None;
        for (i, spec) in self.specs.iter().enumerate() {
            for template in spec.doc["paths"].as_object()?.keys() {
                if spec.doc["paths"][template].get(&method).is_none() {
                    continue;
                }
                if let Some(score) = template_matches(template, path)
                    && best.as_ref().is_none_or(|b| score > b.0)
                {
                    best = Some((score, i, template.clone()));
                }
            }
        }
        let (_, i, template) = best?;
        let schema = self.specs[i].doc["paths"][&template][&method]["responses"]
            [status.to_string()]["content"]["application/json"]["schema"]
            .clone();
        (!schema.is_null()).then(|| (i, format!("{method} {template} {status}"), schema))
    }

    /// Asserts that a response conforms. Returns whether a schema existed.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) -> bool {
        let Some((spec, key, schema)) = self.schema_for(method, path, status) else {
            return false;
        };
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let mut root = (*self.specs[spec].doc).clone();
                    root["x-target"] = schema;
                    root["$ref"] = json!("#/x-target");
                    Arc::new(jsonschema::draft4::new(&root).unwrap_or_else(|e| panic!("{key}: {e}")))
                })
                .clone()
        };
        let instance: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{key}: body is not JSON ({e}): {}", String::from_utf8_lossy(body)));
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key}: response does not conform to the official schema:\n{}\nbody: {}",
            errors.join("\n"),
            serde_json::to_string_pretty(&instance).unwrap()
        );
        true
    }
}
