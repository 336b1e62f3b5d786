//! The one JSON path language: RFC 9535 JSONPath (`$..email`,
//! `$.validCoupons[*].discountAmount`), by the `serde_json_path` crate.
//! Redaction (`[record] redact_json`) and comparison rules (`replay
//! --rules`, `[shadow] rules`, the built-in rules) all name values with it.
//! A path that is not a JSONPath is refused where it is configured, with
//! the JSONPath that says what the old dotted forms (`email`,
//! `customer.email`, `**.requestId`, `a[*].b`) meant.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json_path::PathElement;

/// One step of a concrete JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A JSONPath query, as written and parsed.
#[derive(Clone)]
pub struct JsonPath {
    text: String,
    query: serde_json_path::JsonPath,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong and, for an old dotted
    /// form, which JSONPath means the same.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        match serde_json_path::JsonPath::parse(text) {
            Ok(query) => match empty_slice(text) {
                // Valid, yet it selects nothing in any document: accepted,
                // it would redact or compare nothing without a word.
                Some(slice) => Err(format!(
                    "\"{text}\" can never select a value: the slice [{}] is empty whatever the array",
                    slice.trim_end_matches(':')
                )),
                None => Ok(JsonPath {
                    text: text.to_owned(),
                    query,
                }),
            },
            Err(e) => {
                let mut message = format!("\"{text}\" is not a JSONPath (RFC 9535): {}", e.message());
                if !text.starts_with('$') {
                    message = format!("\"{text}\" is not a JSONPath (RFC 9535): it must start with `$`");
                }
                if let Some(fix) = rewrite(text) {
                    message.push_str(&format!("; did you mean {fix}?"));
                }
                Err(message)
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The concrete location of every value the query selects in `value`.
    pub fn locate(&self, value: &Value) -> Vec<Vec<Step>> {
        self.query
            .query_located(value)
            .locations()
            .map(|path| {
                path.iter()
                    .map(|e| match e {
                        PathElement::Name(k) => Step::Key((*k).to_owned()),
                        PathElement::Index(i) => Step::Index(*i),
                    })
                    .collect()
            })
            .collect()
    }
}

/// The first slice selector of a valid query, as written, that is empty
/// for every array (RFC 9535 2.3.4: a step of 0 selects nothing; so do
/// bounds of one sign that run against the step), when it is a bracket's
/// only selector. Names are skipped: `'…'` and `"…"` may hold anything,
/// with backslash escapes.
fn empty_slice(text: &str) -> Option<String> {
    let mut selectors = Vec::new();
    let (mut quote, mut depth, mut current) = (None, 0usize, String::new());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', Some(_)) => {
                chars.next();
            }
            (q @ ('\'' | '"'), None) => quote = Some(q),
            (q, Some(open)) if q == open => quote = None,
            ('[', None) => {
                depth += 1;
                current.clear();
            }
            (']', None) if depth > 0 => {
                depth -= 1;
                selectors.push(std::mem::take(&mut current));
            }
            (c, None) if depth == 1 => current.push(c),
            _ => {}
        }
    }
    selectors.into_iter().find(|sel| {
        let parts: Vec<&str> = sel.split(':').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 3 || sel.contains(',') {
            return false;
        }
        let num = |s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>().map(Some)
            }
        };
        let (Ok(start), Ok(end), Ok(step)) = (num(parts[0]), num(parts[1]), num(parts.get(2).copied().unwrap_or("")))
        else {
            return false;
        };
        let step = step.unwrap_or(1);
        match (start, end) {
            _ if step == 0 => true,
            (Some(a), Some(b)) if (a >= 0) == (b >= 0) => {
                if step > 0 {
                    b <= a
                } else {
                    a <= b
                }
            }
            _ => false,
        }
    })
}

/// What an old dotted form meant, as JSONPath: `email` (a key at any
/// depth when redacting, at the top in a rule), `customer.email` and
/// `a[*].b` (from the top), `**.x` (at any depth), `b.[*].c` (a dot too
/// many).
fn rewrite(text: &str) -> Option<String> {
    let t = text.trim().replace(".[", "[").replace("[]", "[*]");
    let fixed = if t.starts_with('$') {
        t
    } else if !t.contains(['.', '[']) && t != "**" {
        let (any, top) = (format!("$..{t}"), format!("$.{t}"));
        return (valid(&any) && valid(&top)).then(|| format!("\"{any}\" (at any depth) or \"{top}\" (at the top)"));
    } else {
        let deep = t.replace(".**.", "..");
        let deep = deep.strip_suffix(".**").map(|s| format!("{s}..*")).unwrap_or(deep);
        match deep.strip_prefix("**.") {
            Some(rest) => format!("$..{rest}"),
            None => format!("$.{deep}"),
        }
    };
    (fixed != text && valid(&fixed)).then(|| format!("\"{fixed}\""))
}

fn valid(text: &str) -> bool {
    serde_json_path::JsonPath::parse(text).is_ok()
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        JsonPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(path: &[&str]) -> Vec<Step> {
        path.iter()
            .map(|s| match s.parse() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key((*s).to_owned()),
            })
            .collect()
    }

    #[test]
    fn queries_locate_what_they_select() {
        let v = json!({"a": [{"email": "x"}, {"email": "y", "b": {"email": "z"}}], "m": [[{"email": "w"}]]});
        let p = |s: &str| JsonPath::parse(s).unwrap().locate(&v);
        assert_eq!(
            p("$.a[*].email"),
            vec![steps(&["a", "0", "email"]), steps(&["a", "1", "email"])]
        );
        assert_eq!(p("$..email").len(), 4);
        assert_eq!(p("$.m[*][*].email"), vec![steps(&["m", "0", "0", "email"])]);
        assert_eq!(p("$.a[?@.b].b.email"), vec![steps(&["a", "1", "b", "email"])]);
        assert!(p("$.nothing").is_empty());
    }

    #[test]
    fn a_query_that_can_select_nothing_is_refused() {
        for empty in [
            "$.a[0:0]",
            "$..items[3:1]",
            "$.a[::0]",
            "$.a[-1:-3]",
            "$.a[1:3:-1]",
            "$['x:y'][2:2]",
            "$[\"it's\"].items[0:0]",
            "$['a\\'b'][1:1]",
        ] {
            let e = JsonPath::parse(empty).unwrap_err();
            assert!(e.contains("can never select a value"), "{empty}: {e}");
        }
        for fine in [
            "$.a[0:1]",
            "$.a[-2:]",
            "$.a[:-1]",
            "$.a[3:1:-1]",
            "$.a[0:0, 1]",
            "$['0:0']",
            "$.a[-1:2]",
            "$[\"'\"][\"][0:0][\"]",
        ] {
            assert!(JsonPath::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn old_dotted_forms_are_refused_with_their_jsonpath() {
        let err = |s: &str| JsonPath::parse(s).unwrap_err();
        assert!(
            err("email").contains("\"$..email\" (at any depth) or \"$.email\" (at the top)"),
            "{}",
            err("email")
        );
        assert!(
            err("customer.email").ends_with("did you mean \"$.customer.email\"?"),
            "{}",
            err("customer.email")
        );
        assert!(err("**.requestId").ends_with("did you mean \"$..requestId\"?"));
        assert!(err("a[*].email").ends_with("did you mean \"$.a[*].email\"?"));
        assert!(err("b.[*].email").ends_with("did you mean \"$.b[*].email\"?"));
        assert!(
            err("$.b.[*].email").ends_with("did you mean \"$.b[*].email\"?"),
            "{}",
            err("$.b.[*].email")
        );
        assert!(err("a.**").ends_with("did you mean \"$.a..*\"?"));
        assert!(err("$.a[").contains("is not a JSONPath"));
    }
}
