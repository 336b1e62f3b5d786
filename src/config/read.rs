//! Reading the merged document key by key: each key on its own, so a value
//! of the wrong type is one error at its key and the rest of its table is
//! still read. Every key read is recorded with its value in force and its
//! origin (the effective configuration), and a key nobody asked for is an
//! unknown key, with the nearest known one as a suggestion.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use figment::value::{Dict, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::errors::{ConfigError, Origin, Provenance, suggest};
use super::routes::{RouteMode, V4Dialect};
use super::secret::Secret;
use super::source::Document;
use crate::net::tls::Roots;

/// A type a key can hold, and how to say so in an error.
pub(super) trait Kind: DeserializeOwned + Serialize {
    const EXPECTED: &'static str;
}

macro_rules! kinds {
    ($($t:ty => $e:expr),* $(,)?) => {$(impl Kind for $t { const EXPECTED: &'static str = $e; })*};
}

kinds! {
    u64 => "a whole number (0 or more)",
    u32 => "a whole number (0 or more)",
    f64 => "a number",
    bool => "true or false",
    String => "a string",
    PathBuf => "a path (a string)",
    Vec<String> => "a list of strings",
    Vec<PathBuf> => "a list of paths (strings)",
    Vec<Secret> => "a list of strings",
    Secret => "a string",
    RouteMode => "\"translate\", \"passthrough\" or \"shadow\"",
    V4Dialect => "\"seed\" or \"published\"",
    Roots => "\"webpki\" or \"native\"",
}

/// A duration as written (`"10s"`); validation parses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

kinds! { DurationText => "a duration such as \"500ms\", \"10s\" or \"24h\"" }

/// One key of the effective configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: String,
    /// The value in force (secrets as `<redacted>`); `None`: not set.
    pub value: Option<serde_json::Value>,
    #[serde(flatten)]
    pub origin: Origin,
    /// What an unset key means (`"one per core"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unset: Option<&'static str>,
}

/// What reading found: the effective keys, where each was set, and the
/// problems with what was written.
#[derive(Default)]
pub(super) struct Reading {
    pub entries: Vec<Entry>,
    pub provenance: Provenance,
    pub errors: Vec<ConfigError>,
    /// Read as if every map had one key, `*`: the key patterns, for docs.
    schema: bool,
}

/// One table of the document, read key by key.
pub(super) struct Table<'a> {
    doc: &'a Document,
    reading: &'a RefCell<Reading>,
    path: Vec<String>,
    values: Option<&'a Dict>,
    asked: HashSet<&'static str>,
    /// Every key not asked for by name was read as a value ([`Table::rest`]):
    /// none is unknown.
    rest_read: bool,
}

impl<'a> Table<'a> {
    pub fn root(doc: &'a Document, reading: &'a RefCell<Reading>) -> Self {
        Table {
            doc,
            reading,
            path: Vec::new(),
            values: Some(&doc.root),
            asked: HashSet::new(),
            rest_read: false,
        }
    }

    /// Makes `reading` read the key patterns: every map as if it had one
    /// key, `*` (what the docs test checks the reference against).
    pub fn schema(reading: &RefCell<Reading>) {
        reading.borrow_mut().schema = true;
    }

    fn key_of(&self, key: &str) -> String {
        let mut path = self.path.clone();
        path.push(key.to_owned());
        path.join(".")
    }

    fn raw(&mut self, key: &'static str) -> (Option<&'a Value>, Origin) {
        self.asked.insert(key);
        let value = self.values.and_then(|v| v.get(key));
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(key);
        (value, self.doc.origin_of(&path, value))
    }

    fn record(&self, key: String, value: Option<serde_json::Value>, origin: Origin, unset: Option<&'static str>) {
        let mut r = self.reading.borrow_mut();
        r.provenance.origins.insert(key.clone(), origin.clone());
        r.entries.push(Entry {
            key,
            value,
            origin,
            unset,
        });
    }

    fn error(&self, key: String, message: String, origin: Origin) {
        self.reading
            .borrow_mut()
            .errors
            .push(ConfigError { key, message, origin });
    }

    /// The value as `T`; a value of another type is an error at its key.
    fn typed<T: Kind>(&self, key: &str, value: &Value, origin: &Origin) -> Option<T> {
        let json = serde_json::to_value(value).ok()?;
        match T::deserialize(&json) {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    self.key_of(key),
                    format!("expected {}, found {}", T::EXPECTED, describe(&json)),
                    origin.clone(),
                );
                None
            }
        }
    }

    /// An optional key; `unset` says what its absence means.
    pub fn get<T: Kind>(&mut self, key: &'static str, unset: &'static str) -> Option<T> {
        let (value, origin) = self.raw(key);
        let got = value.and_then(|v| self.typed::<T>(key, v, &origin));
        let shown = got.as_ref().and_then(|v| serde_json::to_value(v).ok());
        let origin = if got.is_some() { origin } else { Origin::Default };
        self.record(self.key_of(key), shown, origin, got.is_none().then_some(unset));
        got
    }

    /// A key with a default.
    pub fn or<T: Kind>(&mut self, key: &'static str, default: T) -> T {
        let (value, origin) = self.raw(key);
        let (v, origin) = match value.and_then(|v| self.typed::<T>(key, v, &origin)) {
            Some(v) => (v, origin),
            None => (default, Origin::Default),
        };
        self.record(self.key_of(key), serde_json::to_value(&v).ok(), origin, None);
        v
    }

    /// A duration, as written (or its default, written as the docs write it).
    pub fn duration(&mut self, key: &'static str, default: &str) -> String {
        self.or(key, DurationText(default.to_owned())).0
    }

    /// A duration that falls back to another key's when unset (`unset`
    /// says which).
    pub fn duration_or_inherited(&mut self, key: &'static str, unset: &'static str) -> Option<String> {
        self.get::<DurationText>(key, unset).map(|d| d.0)
    }

    /// A secret: shown as `<redacted>`.
    pub fn secret(&mut self, key: &'static str, unset: &'static str) -> Option<Secret> {
        let (value, origin) = self.raw(key);
        let got = value.and_then(|v| self.typed::<Secret>(key, v, &origin));
        let shown = got.as_ref().map(|_| serde_json::Value::from(super::secret::REDACTED));
        let origin = if got.is_some() { origin } else { Origin::Default };
        self.record(self.key_of(key), shown, origin, got.is_none().then_some(unset));
        got
    }

    /// A secret with a default that is not one (shown as it is).
    pub fn secret_or(&mut self, key: &'static str, default: &str) -> Secret {
        match self.secret(key, "") {
            Some(s) => s,
            None => {
                let mut r = self.reading.borrow_mut();
                if let Some(last) = r.entries.last_mut() {
                    (last.value, last.unset) = (Some(default.into()), None);
                }
                Secret::new(default)
            }
        }
    }

    /// An identifier: text, or a number taken as text (`APP_ID=12345`).
    pub fn text(&mut self, key: &'static str, unset: &'static str) -> Option<String> {
        let (value, origin) = self.raw(key);
        let got = value.and_then(|v| self.typed::<Secret>(key, v, &origin));
        let got = got.map(|s| s.expose().to_owned());
        let origin = if got.is_some() { origin } else { Origin::Default };
        self.record(
            self.key_of(key),
            got.clone().map(Into::into),
            origin,
            got.is_none().then_some(unset),
        );
        got
    }

    /// A table inside this one, read by `read`; its unknown keys are
    /// reported when `read` is done.
    pub fn table<R>(&mut self, key: &'static str, read: impl FnOnce(&mut Table<'a>) -> R) -> R {
        let (value, origin) = self.raw(key);
        let values = self.table_values(key, value, &origin);
        let mut child = self.child(key.to_owned(), values, origin);
        let r = read(&mut child);
        child.finish();
        r
    }

    /// A map of tables (`[tenants.NAME]`), each read by `read`.
    pub fn tables<R>(
        &mut self,
        key: &'static str,
        mut read: impl FnMut(&str, &mut Table<'a>) -> R,
    ) -> BTreeMap<String, R> {
        let (value, origin) = self.raw(key);
        let values = self.table_values(key, value, &origin);
        let parent = self.child(key.to_owned(), values, origin);
        let mut out = BTreeMap::new();
        for name in parent.map_keys() {
            let (value, origin) = parent.raw_dynamic(&name);
            let values = parent.table_values(&name, value, &origin);
            let mut child = parent.child(name.clone(), values, origin);
            out.insert(name.clone(), read(&name, &mut child));
            child.finish();
        }
        out
    }

    /// A map of plain values (`[routes]`, `[tenants.NAME.rewards]`).
    pub fn map<V: Kind>(&mut self, key: &'static str) -> BTreeMap<String, V> {
        let (value, origin) = self.raw(key);
        let values = self.table_values(key, value, &origin);
        let map = self.child(key.to_owned(), values, origin);
        map.values_of(map.map_keys())
    }

    /// Every key of this table not asked for by name, as a plain value
    /// (`[rollout]`: operation shares beside the `guard` table). Ask for
    /// the named keys first.
    pub fn rest<V: Kind>(&mut self) -> BTreeMap<String, V> {
        let names = self
            .map_keys()
            .into_iter()
            .filter(|k| !self.asked.contains(k.as_str()))
            .collect();
        self.rest_read = true;
        self.values_of(names)
    }

    fn values_of<V: Kind>(&self, names: Vec<String>) -> BTreeMap<String, V> {
        let mut out = BTreeMap::new();
        for name in names {
            let (value, origin) = self.raw_dynamic(&name);
            if let Some(v) = value.and_then(|v| self.typed::<V>(&name, v, &origin)) {
                self.record(self.key_of(&name), serde_json::to_value(&v).ok(), origin, None);
                out.insert(name, v);
            } else if value.is_none() {
                self.record(self.key_of(&name), None, Origin::Default, Some("not set"));
            }
        }
        out
    }

    /// The keys of a map, or `*` alone when reading the key patterns.
    fn map_keys(&self) -> Vec<String> {
        if self.reading.borrow().schema {
            return vec!["*".to_owned()];
        }
        self.values.map(|v| v.keys().cloned().collect()).unwrap_or_default()
    }

    fn raw_dynamic(&self, key: &str) -> (Option<&'a Value>, Origin) {
        let value = self.values.and_then(|v| v.get(key));
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(key);
        (value, self.doc.origin_of(&path, value))
    }

    fn table_values(&self, key: &str, value: Option<&'a Value>, origin: &Origin) -> Option<&'a Dict> {
        match value {
            None => None,
            Some(Value::Dict(_, d)) => Some(d),
            Some(other) => {
                let json = serde_json::to_value(other).unwrap_or_default();
                self.error(
                    self.key_of(key),
                    format!("expected a table, found {}", describe(&json)),
                    origin.clone(),
                );
                None
            }
        }
    }

    fn child(&self, key: String, values: Option<&'a Dict>, origin: Origin) -> Table<'a> {
        let mut path = self.path.clone();
        path.push(key);
        self.reading
            .borrow_mut()
            .provenance
            .origins
            .insert(path.join("."), origin);
        Table {
            doc: self.doc,
            reading: self.reading,
            path,
            values,
            asked: HashSet::new(),
            rest_read: false,
        }
    }

    /// Reports every key of this table nobody asked for.
    pub fn finish(self) {
        let Some(values) = self.values.filter(|_| !self.rest_read) else {
            return;
        };
        let known: Vec<&str> = self.asked.iter().copied().collect();
        for key in values.keys().filter(|k| !self.asked.contains(k.as_str())) {
            let (value, origin) = self.raw_dynamic(key);
            let what = if matches!(value, Some(Value::Dict(..))) && self.path.is_empty() {
                "unknown section"
            } else {
                "unknown key"
            };
            let message = match suggest(key, &known) {
                Some(s) => format!("{what}; did you mean `{s}`?"),
                None => {
                    let mut known = known.clone();
                    known.sort_unstable();
                    format!("{what}; known here: {}", known.join(", "))
                }
            };
            self.error(self.key_of(key), message, origin);
        }
    }
}

/// A value as an error names it: `the string "64k"`, `a table`.
fn describe(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "nothing".into(),
        serde_json::Value::Bool(b) => format!("the boolean {b}"),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("the string {s:?}"),
        serde_json::Value::Array(_) => "a list".into(),
        serde_json::Value::Object(_) => "a table".into(),
    }
}
