//! Holds simulator answers to Voucherify's whole-API production spec,
//! `readOnly-openAPI.json` (provenance in `tests/reference/voucherify/
//! SOURCES.md`), the only official document that describes campaigns,
//! publications, loyalties, rewards and qualifications.
//!
//! The conversions of `common::contract` apply (`nullable` becomes "or
//! null", `oneOf` becomes `anyOf`, a required property the schema does
//! not define is dropped). The spec declares no error responses, so errors
//! are held to its `Error` schema and to the documented required members
//! `code` and `message` (and the `key` every documented example carries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use crate::common::contract::{convert, template_matches};

/// Operations whose description and example answer a list of what their
/// schema describes as one object (`POST /v1/loyalties/{campaignId}/rewards`
/// takes an array of assignments and answers the created ones): a list
/// answer is held item by item to that schema.
const LIST_OF_SCHEMA: [(&str, &str); 1] = [("post", "/v1/loyalties/{campaignId}/rewards")];

pub struct ReadOnlySpec {
    doc: Arc<Value>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl ReadOnlySpec {
    pub fn get() -> &'static ReadOnlySpec {
        static S: OnceLock<ReadOnlySpec> = OnceLock::new();
        S.get_or_init(|| {
            let path = crate::common::contract::reference_dir().join("readOnly-openAPI.json");
            let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            convert(&mut doc);
            ReadOnlySpec {
                doc: Arc::new(doc),
                validators: Mutex::new(HashMap::new()),
            }
        })
    }

    /// The template the spec gives `method path`, if any.
    pub fn template(&self, method: &str, path: &str) -> Option<String> {
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, String)> = None;
        for template in self.doc["paths"].as_object()?.keys() {
            if self.doc["paths"][template].get(&method).is_none() {
                continue;
            }
            if let Some(score) = template_matches(template, path)
                && best.as_ref().is_none_or(|b| score > b.0)
            {
                best = Some((score, template.clone()));
            }
        }
        best.map(|b| b.1)
    }

    fn validator(&self, key: &str, schema: Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(key.to_owned())
            .or_insert_with(|| {
                let mut root = (*self.doc).clone();
                root["x-target"] = schema;
                root["$ref"] = json!("#/x-target");
                Arc::new(jsonschema::draft4::new(&root).unwrap_or_else(|e| panic!("{key}: {e}")))
            })
            .clone()
    }

    /// Asserts that an answer conforms; returns whether the spec has the
    /// operation.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &[u8]) -> bool {
        let Some(template) = self.template(method, path) else {
            return false;
        };
        let m = method.to_ascii_lowercase();
        let (key, schema) = if status >= 400 {
            ("Error".to_owned(), json!({"$ref": "#/components/schemas/Error"}))
        } else {
            let s = self.doc["paths"][&template][&m]["responses"][status.to_string()]["content"]["application/json"]
                ["schema"]
                .clone();
            assert!(!s.is_null(), "{m} {template} declares no {status} answer");
            (format!("{m} {template} {status}"), s)
        };
        let instance: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{key}: body is not JSON ({e}): {}", String::from_utf8_lossy(body)));
        if status >= 400 {
            for field in ["code", "message", "key"] {
                assert!(
                    instance.get(field).is_some(),
                    "{m} {path}: the error lacks {field}: {instance}"
                );
            }
            assert_eq!(instance["code"], status, "{m} {path}: code is the status");
        }
        let validator = self.validator(&key, schema);
        let items = match &instance {
            Value::Array(items) if status < 400 && LIST_OF_SCHEMA.contains(&(m.as_str(), template.as_str())) => {
                items.iter().collect()
            }
            _ => vec![&instance],
        };
        let errors: Vec<String> = items
            .into_iter()
            .flat_map(|item| validator.iter_errors(item))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key}: answer does not conform to readOnly-openAPI.json:\n{}\nbody: {}",
            errors.join("\n"),
            serde_json::to_string_pretty(&instance).unwrap()
        );
        true
    }
}
