//! Request bodies of the ingest endpoints, read one way everywhere: bounded by the
//! configured size (413 past it, before reading when `Content-Length` says so), and
//! their `Content-Encoding` undone (`gzip`, `deflate`; `identity`), bounded again once
//! decompressed. Any other encoding is a 415 naming it.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};

use crate::{read_body_limited, ApiError, ErrorKind};

/// How large a request body may be, as sent and once decompressed (`limits:` in the
/// config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// The body as sent.
    pub max_request_bytes: usize,
    /// The body once its `Content-Encoding` (or remote write's snappy) is undone.
    pub max_decompressed_bytes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self { max_request_bytes: 32 << 20, max_decompressed_bytes: 256 << 20 }
    }
}

fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::new(ErrorKind::TooLarge, format!("{what} is larger than the limit of {limit} bytes"))
}

/// Reads a body within `limits` and undoes its `Content-Encoding`.
pub async fn read_body(headers: &HeaderMap, body: Body, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_request_bytes as u64) {
        return Err(too_large("request body", limits.max_request_bytes));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    // Refused before the body is read: the client learns at once.
    if !matches!(encoding.as_str(), "" | "identity" | "gzip" | "x-gzip" | "deflate") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("Content-Encoding {encoding:?} is not supported: send the body as is, gzip or deflate"),
        ));
    }
    let raw = read_body_limited(body, limits.max_request_bytes).await?;
    decode(&encoding, raw, limits.max_decompressed_bytes)
}

/// Undoes an encoding `read_body` accepts.
fn decode(encoding: &str, raw: Bytes, max: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    let read = match encoding {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&raw[..]).take(max as u64 + 1).read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&raw[..]).take(max as u64 + 1).read_to_end(&mut out),
        _ => return Ok(raw),
    };
    match read {
        Ok(n) if n > max => Err(too_large("decompressed request body", max)),
        Ok(_) => Ok(out.into()),
        Err(e) => Err(ApiError::bad_data(format!("the body is not valid {encoding}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    const L: BodyLimits = BodyLimits { max_request_bytes: 1000, max_decompressed_bytes: 5000 };

    #[tokio::test]
    async fn encodings_are_undone_and_others_refused_by_name() {
        let text = b"{\"event\": \"x\"}\n".repeat(10);
        let got = read_body(&headers(&[("content-encoding", "gzip")]), Body::from(gzip(&text)), L).await.unwrap();
        assert_eq!(&got[..], &text[..]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&text).unwrap();
        let got =
            read_body(&headers(&[("content-encoding", "deflate")]), Body::from(z.finish().unwrap()), L).await.unwrap();
        assert_eq!(&got[..], &text[..]);
        let got = read_body(&HeaderMap::new(), Body::from(text.clone()), L).await.unwrap();
        assert_eq!(&got[..], &text[..]);
        let e = read_body(&headers(&[("content-encoding", "br")]), Body::from("x"), L).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
        assert!(e.message.contains("\"br\""), "{}", e.message);
        let e = read_body(&headers(&[("content-encoding", "gzip")]), Body::from("not gzip"), L).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadData);
    }

    #[tokio::test]
    async fn limits_hold_as_sent_and_decompressed() {
        let e = read_body(&headers(&[("content-length", "2000")]), Body::from(vec![0u8; 2000]), L).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        let e = read_body(&HeaderMap::new(), Body::from(vec![b'a'; 2000]), L).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        // A small body that expands past the decompressed limit.
        let bomb = gzip(&vec![b'a'; 100_000]);
        assert!(bomb.len() < 1000);
        let e = read_body(&headers(&[("content-encoding", "gzip")]), Body::from(bomb), L).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert!(e.message.starts_with("decompressed request body is larger"), "{}", e.message);
    }
}
