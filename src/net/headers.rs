//! Small pure header functions, each unit-tested (the rust-rpxy habit).
//!
//! Header names in `http::HeaderMap` are case-insensitive already, so
//! `apikey`, `APIKey` and `ApiKey` are one header to every function here.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, header};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1),
/// and so never cross a proxy.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Removes hop-by-hop headers, including any the `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Adds the reverse-proxy headers: the client address appended to
/// `X-Forwarded-For`, the scheme the client used in `X-Forwarded-Proto`, and
/// the `Host` it asked for in `X-Forwarded-Host` (the outgoing `Host` names
/// the upstream, so the upstream's virtual hosting and TLS name match).
pub fn add_forwarded(headers: &mut HeaderMap, client: IpAddr, tls: bool, original_host: Option<&str>) {
    let chain = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {client}"),
        _ => client.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&chain) {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    if let Some(host) = original_host.and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// The caller's request id if it is usable (printable ASCII, at most 128
/// bytes, so it is safe to log and to echo back), else `None`.
pub fn usable_request_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(&X_REQUEST_ID)?.to_str().ok()?.trim();
    let ok = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_owned())
}

/// A header's value as text, if present and valid UTF-8 (after trimming).
pub fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The URL a client asked for (recordings): its scheme, its `Host` (or
/// the request's authority), its path and query.
pub fn full_url(parts: &http::request::Parts, tls: bool) -> String {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("couponbridge");
    let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}://{host}{pq}", if tls { "https" } else { "http" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("apikey", "k"),
        ]);
        remove_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["apikey"]);
    }

    #[test]
    fn forwarded_for_appends_to_an_existing_chain() {
        let mut h = map(&[("x-forwarded-for", "203.0.113.7")]);
        add_forwarded(&mut h, "10.0.0.1".parse().unwrap(), true, Some("shop.example"));
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "shop.example");
    }

    #[test]
    fn forwarded_for_starts_a_chain() {
        let mut h = HeaderMap::new();
        add_forwarded(&mut h, "::1".parse().unwrap(), false, None);
        assert_eq!(h["x-forwarded-for"], "::1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(h.get("x-forwarded-host").is_none());
    }

    #[test]
    fn request_ids_are_taken_only_when_safe() {
        assert_eq!(
            usable_request_id(&map(&[("X-Request-Id", "abc-123")])).as_deref(),
            Some("abc-123")
        );
        assert_eq!(usable_request_id(&map(&[("x-request-id", "has space")])), None);
        assert_eq!(usable_request_id(&map(&[("x-request-id", &"a".repeat(129))])), None);
        assert_eq!(usable_request_id(&HeaderMap::new()), None);
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let h = map(&[("APIKey", " key-1 ")]);
        assert_eq!(text(&h, "apikey"), Some("key-1"));
        let h = map(&[("SecretKey", "s")]);
        assert_eq!(text(&h, "secretkey"), Some("s"));
        assert_eq!(text(&map(&[("secretKey", "  ")]), "secretkey"), None);
    }
}
