//! List endpoints' query parameters: `limit` (1 to 100, default 10) and
//! `page` (1-based), as the spec's `ParameterLimit` / `ParameterPage`
//! declare them, and the filters each list takes.
//!
//! An out-of-range parameter is a 400 `invalid_payload`: the spec bounds
//! the values but documents no error body for query parameters, so the
//! simulator answers with the key it uses for every malformed request.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::wire::ApiError;

/// A request's decoded query parameters (the last value of a repeated one).
#[derive(Debug, Clone, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            map.insert(decode(k), decode(v));
        }
        Query(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether a boolean flag is set (`?join_once=true`).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    fn bounded(&self, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_payload(format!("Query parameter {name} should be an integer from 1 to {max}"))
                }),
        }
    }

    /// `limit` and `page`; `max_page` is 99 for vouchers, 100 elsewhere.
    pub fn page(&self, max_page: usize) -> Result<Page, ApiError> {
        Ok(Page {
            limit: self.bounded("limit", 10, 100)?,
            page: self.bounded("page", 1, max_page)?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: usize,
    pub page: usize,
}

impl Page {
    /// The slice of `items` this page shows.
    pub fn of<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip((self.page - 1) * self.limit)
            .take(self.limit)
            .collect()
    }
}

/// `{object: "list", data_ref, <data_ref>: items, total}`.
pub fn list(data_ref: &str, items: Vec<Value>, total: usize) -> Value {
    let mut out = json!({"object": "list", "data_ref": data_ref, "total": total});
    out[data_ref] = Value::Array(items);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_page_are_bounded() {
        let q = Query::parse(Some("limit=100&page=2&customer=a%40b.c"));
        let p = q.page(99).unwrap();
        assert_eq!((p.limit, p.page), (100, 2));
        assert_eq!(q.get("customer"), Some("a@b.c"));
        assert!(Query::parse(Some("limit=101")).page(99).is_err());
        assert!(Query::parse(Some("page=0")).page(99).is_err());
        assert!(Query::parse(Some("page=100")).page(99).is_err());
        assert_eq!(Query::parse(None).page(99).unwrap().limit, 10);
    }

    #[test]
    fn a_page_is_a_slice() {
        let p = Page { limit: 3, page: 2 };
        assert_eq!(p.of((1..=8).collect()), vec![4, 5, 6]);
        assert!(Page { limit: 3, page: 4 }.of((1..=8).collect::<Vec<i32>>()).is_empty());
    }
}
