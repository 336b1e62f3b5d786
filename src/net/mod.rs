//! HTTP plumbing shared by the adapter, the simulator and the admin
//! listener: body types, the accept loop, the outbound client and small pure
//! header functions. Nothing here knows about coupons.

pub mod client;
pub mod headers;
pub mod server;
pub mod tee;
pub mod tls;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one body type every response and outbound request uses: buffered
/// JSON for translated calls, a stream for pass-through.
pub type Body = BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

pub fn stream(body: Incoming) -> Body {
    body.map_err(|e| Box::new(e) as BoxError).boxed()
}

/// A JSON response. Serializing our own types cannot fail; if it ever did,
/// the client still gets a well-formed 500 rather than a panic.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes_response(status, bytes),
        Err(_) => json_bytes_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"code":5000,"message":"Internal Server Error"}"#.to_vec(),
        ),
    }
}

pub fn json_bytes_response(status: StatusCode, bytes: Vec<u8>) -> Response<Body> {
    let mut res = Response::new(full(bytes));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

#[derive(Debug, thiserror::Error)]
pub enum ReadBodyError {
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the request body failed: {0}")]
    Io(BoxError),
}

/// Reads a whole body, refusing more than `limit` bytes without buffering
/// them (the declared Content-Length is checked before reading).
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ReadBodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if let Some(declared) = http_body::Body::size_hint(&body).exact()
        && declared > limit as u64
    {
        return Err(ReadBodyError::TooLarge(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ReadBodyError::TooLarge(limit)),
        Err(e) => Err(ReadBodyError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_body_enforces_the_limit() {
        let ok = read_body(Full::new(Bytes::from_static(b"12345")), 5).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"12345"));
        let too_big = read_body(Full::new(Bytes::from_static(b"123456")), 5).await;
        assert!(matches!(too_big, Err(ReadBodyError::TooLarge(5))));
    }

    #[test]
    fn json_response_sets_content_type() {
        let res = json_response(StatusCode::OK, &serde_json::json!({"a": 1}));
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json; charset=utf-8");
    }
}
