//! Comparing a live answer with the recorded one, as JSON (pure).
//!
//! * Key order and number formatting do not count (`10` equals `10.0`).
//! * Volatile values are compared by kind: request ids are strings,
//!   timestamps are RFC 3339 timestamps (or null when the recording has null).
//! * Identifiers handed out by the server (`lockReference`) are carried
//!   forward: the first time the recording says R where the live answer says
//!   N, R ↦ N is remembered; later requests are sent with N wherever the
//!   recording had R, and later answers must say N wherever it said R.
//! * A rules file adds rules: ignore a path, compare by type, a numeric
//!   tolerance, or another identifier. A rule names its values with a
//!   JSONPath query ([`path`]); it applies wherever its query selects a
//!   value in either answer.

pub mod path;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use path::{JsonPath, Step};

pub fn render(path: &[Step]) -> String {
    let mut s = String::from("$");
    for step in path {
        match step {
            Step::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// How a path is compared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Not compared at all.
    Ignore,
    /// Same JSON type (null, bool, number, string, array, object).
    Type,
    /// An RFC 3339 timestamp, or null where the recording has null.
    Timestamp,
    /// Numbers within `tolerance` of each other.
    Tolerance,
    /// A server-issued identifier, carried forward.
    Identifier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// A JSONPath query (RFC 9535): a path that is not one is refused when
    /// the rules are read.
    pub path: JsonPath,
    pub compare: How,
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Only for requests whose "METHOD /path" contains this text.
    #[serde(default, rename = "match")]
    pub matching: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RulesFile {
    pub rules: Vec<RuleSpec>,
}

impl RuleSpec {
    /// A built-in rule for every request, without a tolerance; `path` is a
    /// JSONPath written in the code (a test parses every built-in one).
    pub fn new(path: &str, compare: How) -> Self {
        RuleSpec {
            path: JsonPath::parse(path).unwrap_or_else(|e| panic!("a built-in rule: {e}")),
            compare,
            tolerance: None,
            matching: None,
        }
    }
}

/// The built-in rules for Gameball's coupon API.
pub fn builtin() -> Vec<RuleSpec> {
    let rule = RuleSpec::new;
    vec![
        rule("$..requestId", How::Type),
        rule("$..lockReference", How::Identifier),
        rule("$..releasedAt", How::Timestamp),
        rule("$..burnedAt", How::Timestamp),
        rule("$..usedAt", How::Timestamp),
        rule("$..expiredAt", How::Timestamp),
        rule("$..dateToExpire", How::Timestamp),
    ]
}

/// What kind of difference a [`Mismatch`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The expected answer has the field; the one compared lacks it.
    Missing,
    /// The answer compared has a field the expected one lacks. Extra fields
    /// do not break JSON clients, so replay reports these apart and fails
    /// on them only with `--strict`.
    Added,
    /// Both have the value, and they differ (or differ in kind).
    Differs,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Missing => "missing",
            Change::Added => "added",
            Change::Differs => "differs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub change: Change,
    /// Null for an addition.
    #[serde(default)]
    pub expected: Value,
    /// Null for a missing field.
    #[serde(default)]
    pub got: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Mismatch {
    pub fn differs(path: impl Into<String>, expected: Value, got: Value, note: Option<String>) -> Self {
        Mismatch {
            path: path.into(),
            change: Change::Differs,
            expected,
            got,
            note,
        }
    }

    /// One line for people: `missing`, `added: V`, or
    /// `differs: expected X, got Y`, with the note after it.
    pub fn describe(&self) -> String {
        let note = self.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        match self.change {
            Change::Missing => format!("missing (expected {}){note}", self.expected),
            Change::Added => format!("added: {}{note}", self.got),
            Change::Differs => format!("differs: expected {}, got {}{note}", self.expected, self.got),
        }
    }
}

/// The comparison state of one replay: rules and carried identifiers.
#[derive(Debug, Clone)]
pub struct Comparer {
    rules: Vec<RuleSpec>,
    /// Recorded identifier ↦ live identifier.
    pub carried: HashMap<String, String>,
}

impl Comparer {
    /// Later rules win over earlier ones: the file's rules over the
    /// built-in ones.
    pub fn new(extra: &[RuleSpec]) -> Self {
        Comparer {
            rules: builtin().into_iter().chain(extra.iter().cloned()).collect(),
            carried: HashMap::new(),
        }
    }

    /// Which rule applies where, for one comparison: every location a
    /// rule's query selects in either answer, the later rule winning.
    fn locate(&self, request: &str, expected: &Value, got: &Value) -> Located {
        let mut at = HashMap::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matching.as_deref().is_some_and(|m| !request.contains(m)) {
                continue;
            }
            for location in rule.path.locate(expected).into_iter().chain(rule.path.locate(got)) {
                at.insert(location, i);
            }
        }
        Located(at)
    }

    fn how(&self, located: &Located, path: &[Step]) -> Option<(How, f64)> {
        let rule = &self.rules[*located.0.get(path)?];
        Some((rule.compare, rule.tolerance.unwrap_or(0.0)))
    }

    /// Replaces every recorded identifier with its live value in `text`
    /// (a path or a body about to be sent).
    ///
    /// Identifiers are whole tokens (runs of letters, digits, `_` and `-`),
    /// so each token is looked up once: linear in the text, whatever the
    /// number of identifiers a long recording has carried.
    pub fn carry(&self, text: &str) -> String {
        if self.carried.is_empty() {
            return text.to_owned();
        }
        let is_token = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_token) {
            out.push_str(&rest[..start]);
            let token_len = rest[start..].find(|c: char| !is_token(c)).unwrap_or(rest.len() - start);
            let token = &rest[start..start + token_len];
            out.push_str(self.carried.get(token).map_or(token, String::as_str));
            rest = &rest[start + token_len..];
        }
        out.push_str(rest);
        out
    }

    /// Compares a live JSON answer with the recorded one; `request` is
    /// "METHOD /path" (for rules that match requests).
    pub fn compare(&mut self, request: &str, expected: &Value, got: &Value) -> Vec<Mismatch> {
        let located = self.locate(request, expected, got);
        let mut out = Vec::new();
        let mut path = Vec::new();
        self.walk(&located, expected, got, &mut path, &mut out);
        out
    }

    fn walk(&mut self, located: &Located, e: &Value, g: &Value, path: &mut Vec<Step>, out: &mut Vec<Mismatch>) {
        let mismatch = |out: &mut Vec<Mismatch>, path: &[Step], note: Option<String>| {
            out.push(Mismatch::differs(render(path), e.clone(), g.clone(), note))
        };
        // Copied out: the Identifier arm updates `self.carried`.
        if let Some((how, tolerance)) = self.how(located, path) {
            match how {
                How::Ignore => return,
                How::Type => {
                    if kind(e) != kind(g) {
                        mismatch(out, path, Some(format!("expected a {}", kind(e))));
                    }
                    return;
                }
                How::Timestamp => {
                    let ok = match (e, g) {
                        (Value::Null, Value::Null) => true,
                        (Value::String(_), Value::String(s)) => crate::clock::parse_iso(s).is_some(),
                        _ => false,
                    };
                    if !ok {
                        mismatch(out, path, Some("expected a timestamp".into()));
                    }
                    return;
                }
                How::Tolerance => {
                    match (e.as_f64(), g.as_f64()) {
                        (Some(a), Some(b)) if (a - b).abs() <= tolerance => {}
                        _ => mismatch(out, path, Some(format!("expected within {tolerance}"))),
                    }
                    return;
                }
                How::Identifier => {
                    match (e, g) {
                        (Value::String(r), Value::String(n)) => match self.carried.get(r) {
                            Some(expected_live) if expected_live != n => {
                                mismatch(out, path, Some(format!("{r} was carried forward as {expected_live}")))
                            }
                            Some(_) => {}
                            None => {
                                self.carried.insert(r.clone(), n.clone());
                            }
                        },
                        (Value::Null, Value::Null) => {}
                        _ => mismatch(out, path, Some("expected an identifier".into())),
                    }
                    return;
                }
            }
        }
        // A recorded identifier anywhere must come back as its live value.
        if let (Value::String(r), Value::String(n)) = (e, g)
            && let Some(live) = self.carried.get(r)
        {
            if live != n {
                mismatch(out, path, Some(format!("{r} was carried forward as {live}")));
            }
            return;
        }
        match (e, g) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, ev) in a {
                    path.push(Step::Key(k.clone()));
                    match b.get(k) {
                        Some(gv) => self.walk(located, ev, gv, path, out),
                        None => {
                            // An ignored field may be missing altogether.
                            if !matches!(self.how(located, path), Some((How::Ignore, _))) {
                                out.push(Mismatch {
                                    path: render(path),
                                    change: Change::Missing,
                                    expected: ev.clone(),
                                    got: Value::Null,
                                    note: None,
                                });
                            }
                        }
                    }
                    path.pop();
                }
                for (k, gv) in b {
                    if !a.contains_key(k) {
                        path.push(Step::Key(k.clone()));
                        if !matches!(self.how(located, path), Some((How::Ignore, _))) {
                            out.push(Mismatch {
                                path: render(path),
                                change: Change::Added,
                                expected: Value::Null,
                                got: gv.clone(),
                                note: None,
                            });
                        }
                        path.pop();
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if a.len() != b.len() {
                    mismatch(out, path, Some(format!("expected {} items, got {}", a.len(), b.len())));
                    return;
                }
                for (i, (ev, gv)) in a.iter().zip(b).enumerate() {
                    path.push(Step::Index(i));
                    self.walk(located, ev, gv, path, out);
                    path.pop();
                }
            }
            (Value::Number(a), Value::Number(b)) => {
                if !same_number(a, b) {
                    mismatch(out, path, None);
                }
            }
            _ if e == g => {}
            _ => mismatch(out, path, None),
        }
    }
}

/// Concrete location → the index of the rule that applies there.
struct Located(HashMap<Vec<Step>, usize>);

/// A body as answers are compared: its JSON, or its text when it is not
/// JSON; null when empty.
pub fn body_value(bytes: &[u8]) -> Value {
    if bytes.trim_ascii().is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Compares two HTTP answers (bodies as [`body_value`] makes them): the
/// status, then the bodies as JSON, or as text when either is not JSON.
pub fn compare_answers(
    comparer: &mut Comparer,
    request: &str,
    (expected_status, expected): (u16, &Value),
    (got_status, got): (u16, &Value),
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if expected_status != got_status {
        out.push(Mismatch::differs(
            "status",
            expected_status.into(),
            got_status.into(),
            None,
        ));
    }
    match (expected, got) {
        (Value::String(e), Value::String(g)) if e.trim() == g.trim() => {}
        (Value::String(_), _) | (_, Value::String(_)) => out.push(Mismatch::differs(
            "$",
            expected.clone(),
            got.clone(),
            Some("not JSON; compared as text".into()),
        )),
        _ => out.extend(comparer.compare(request, expected, got)),
    }
    out
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    match (
        crate::money::DecimalNumber::parse(&a.to_string()),
        crate::money::DecimalNumber::parse(&b.to_string()),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.as_f64() == b.as_f64(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REQ: &str = "POST /api/v4.0/integrations/coupons/validate";

    #[test]
    fn key_order_and_number_formatting_do_not_count() {
        let mut c = Comparer::new(&[]);
        let e: Value = serde_json::from_str(r#"{"a": 10, "b": [1.50, "x"]}"#).unwrap();
        let g: Value = serde_json::from_str(r#"{"b": [1.5, "x"], "a": 10.0}"#).unwrap();
        assert_eq!(c.compare(REQ, &e, &g), vec![]);
    }

    #[test]
    fn differences_are_reported_with_their_path() {
        let mut c = Comparer::new(&[]);
        let e = json!({"validCoupons": [{"code": "A", "discountAmount": 25}], "extra": 1});
        let g = json!({"validCoupons": [{"code": "A", "discountAmount": 20}], "new": 2});
        let m = c.compare(REQ, &e, &g);
        let paths: Vec<&str> = m.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["$.extra", "$.validCoupons[0].discountAmount", "$.new"]);
        assert_eq!((m[1].expected.clone(), m[1].got.clone()), (json!(25), json!(20)));
    }

    #[test]
    fn volatile_values_are_compared_by_kind() {
        let mut c = Comparer::new(&[]);
        let e = json!({"success": true, "releasedAt": "2025-01-01T00:00:00Z", "requestId": "abc", "usedAt": null});
        let g = json!({"success": true, "releasedAt": "2026-11-21T10:00:00.123Z", "requestId": "xyz", "usedAt": null});
        assert_eq!(c.compare(REQ, &e, &g), vec![]);
        let bad = json!({"success": true, "releasedAt": "yesterday", "requestId": 5, "usedAt": "2026-01-01T00:00:00Z"});
        assert_eq!(c.compare(REQ, &e, &bad).len(), 3);
    }

    #[test]
    fn identifiers_are_carried_forward_into_requests_and_answers() {
        let mut c = Comparer::new(&[]);
        let e = json!({"validCoupons": [{"lockReference": "R1"}, {"lockReference": "R1"}]});
        let g = json!({"validCoupons": [{"lockReference": "N1"}, {"lockReference": "N1"}]});
        assert_eq!(c.compare(REQ, &e, &g), vec![]);
        assert_eq!(
            c.carry("/api/v4.0/integrations/locks/R1"),
            "/api/v4.0/integrations/locks/N1"
        );
        assert_eq!(c.carry(r#"{"lockReference":"R1"}"#), r#"{"lockReference":"N1"}"#);
        // Later, an answer that should contain R1 must contain N1.
        let wrong = json!({"validCoupons": [{"lockReference": "N2"}, {"lockReference": "N1"}]});
        let m = c.compare(REQ, &e, &wrong);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].path, "$.validCoupons[0].lockReference");
    }

    #[test]
    fn rules_ignore_compare_by_type_or_with_tolerance() {
        let rules: RulesFile = serde_json::from_value(json!({"rules": [
            {"path": "$..discountAmount", "compare": "tolerance", "tolerance": 0.01},
            {"path": "$.invalidCoupons[*].error", "compare": "ignore"},
            {"path": "$.total", "compare": "type", "match": "orders"}
        ]}))
        .unwrap();
        let mut c = Comparer::new(&rules.rules);
        let e = json!({"validCoupons": [{"discountAmount": 10.0}], "invalidCoupons": [{"error": "a"}], "total": 1});
        let g = json!({"validCoupons": [{"discountAmount": 10.004}], "invalidCoupons": [{"error": "b"}], "total": 2});
        let m = c.compare(REQ, &e, &g);
        assert_eq!(m.len(), 1, "the type rule only matches orders requests: {m:?}");
        assert_eq!(m[0].path, "$.total");
        assert_eq!(c.compare("POST /api/v4.0/integrations/orders", &e, &g), vec![]);
    }

    #[test]
    fn a_rule_applies_wherever_its_query_selects_in_either_answer() {
        let rules: RulesFile = serde_json::from_value(json!({"rules": [
            {"path": "$.a[*].b", "compare": "ignore"},
            {"path": "$.c[?@.kind == 'volatile'].value", "compare": "type"},
            {"path": "$.d..*", "compare": "ignore"}
        ]}))
        .unwrap();
        let mut c = Comparer::new(&rules.rules);
        let e = json!({"a": [{"b": 1}, {"b": 2}], "c": [{"kind": "volatile", "value": 1}, {"kind": "x", "value": 1}], "d": {"x": 1}});
        let g = json!({"a": [{"b": 3}, {}], "c": [{"kind": "volatile", "value": 9}, {"kind": "x", "value": 1}], "d": {"y": [1]}});
        assert_eq!(c.compare(REQ, &e, &g), vec![]);
        let g = json!({"a": [{"b": 3}, {"b": 4, "extra": 1}], "c": [{"kind": "volatile", "value": "s"}, {"kind": "x", "value": 2}], "d": {}});
        let paths: Vec<String> = c.compare(REQ, &e, &g).into_iter().map(|m| m.path).collect();
        assert_eq!(paths, ["$.a[1].extra", "$.c[0].value", "$.c[1].value"]);
    }

    #[test]
    fn a_rules_file_with_a_path_that_is_not_jsonpath_is_refused_with_the_rewrite() {
        let err =
            serde_json::from_str::<RulesFile>(r#"{"rules": [{"path": "**.discountAmount", "compare": "ignore"}]}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("did you mean \"$..discountAmount\"?"), "{err}");
        assert!(err.contains("line 1"), "serde_json names the place: {err}");
    }

    #[test]
    fn every_built_in_rule_is_a_jsonpath() {
        assert_eq!(builtin().len(), 7, "RuleSpec::new parses each, or panics");
    }
}
