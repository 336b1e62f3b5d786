//! Holds couponbridge's published-dialect answers to Gameball's own
//! OpenAPI 3.1 document (copied to `tests/reference/gameball/`, provenance
//! in its `SOURCES.md`). A 200 answer must match the schema its operation
//! declares; `$ref`s into `components` are inlined (the coupon schemas have
//! no cycles), so each response schema stands alone.

use std::sync::OnceLock;

use serde_json::Value;

fn load(relative: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The current reference.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| load("tests/reference/gameball/openapi.json"))
}

/// The reference as of 2026-02-01 (`fb74137c`), the last with Lock Details.
fn spec_with_lock_details() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| load("tests/reference/gameball/history/fb74137c/openapi.json"))
}

fn inline(v: &Value, doc: &Value) -> Value {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.strip_prefix('#').expect("a local $ref");
                return inline(
                    doc.pointer(pointer).unwrap_or_else(|| panic!("{r} not in the spec")),
                    doc,
                );
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inline(v, doc))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| inline(i, doc)).collect()),
        other => other.clone(),
    }
}

/// The 200 schema of `method` `path` (the spec's path template), from the
/// current reference or, for a call it no longer lists, the last that did.
pub fn response_schema(method: &str, path: &str) -> Value {
    let doc = if spec()["paths"][path][method].is_object() {
        spec()
    } else {
        spec_with_lock_details()
    };
    let op = &doc["paths"][path][method];
    let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no 200 schema for {method} {path}");
    inline(schema, doc)
}

/// Panics with every violation when `body` does not match.
pub fn assert_matches(method: &str, path: &str, body: &Value) {
    let schema = response_schema(method, path);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path}: answer does not match Gameball's schema:\n{}\n{body:#}",
        errors.join("\n")
    );
}
