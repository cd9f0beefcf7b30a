//! Request parameters from the query string and a form body, merged as Prometheus does
//! (repeated keys such as `match[]` keep every value), and size-limited body reading.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{time, ApiError, ErrorKind};

/// All parameters of a request, in order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters from the URL query and, for a POST with a form body, the body.
    pub async fn from_request(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<Self, ApiError> {
        let mut v: Vec<(String, String)> = Vec::new();
        if let Some(q) = uri.query() {
            v.extend(form_urlencoded_pairs(q.as_bytes()));
        }
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if method == Method::POST && is_form {
            let b = read_body_limited(body, limit).await?;
            v.extend(form_urlencoded_pairs(&b));
        }
        Ok(Self(v))
    }

    /// Parameters from pairs (for tests and internal callers).
    pub fn from_pairs(v: Vec<(String, String)>) -> Self {
        Self(v)
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// A time parameter, or `default` when absent.
    pub fn time_ms(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(s) => {
                time::parse_time_ms(s).map_err(|e| ApiError::bad_data(format!("invalid parameter {key:?}: {e}")))
            }
        }
    }

    /// A non-negative integer parameter, or `None` when absent.
    pub fn usize(&self, key: &str) -> Result<Option<usize>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(s) => s.parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_data(format!("invalid parameter {key:?}: {s:?} is not a non-negative integer"))
            }),
        }
    }
}

fn form_urlencoded_pairs(b: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    b.split(|&c| c == b'&').filter(|p| !p.is_empty()).map(|pair| {
        let mut it = pair.splitn(2, |&c| c == b'=');
        let k = decode_component(it.next().unwrap_or_default());
        let v = decode_component(it.next().unwrap_or_default());
        (k, v)
    })
}

fn decode_component(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(s[i + 1]), hex(s[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a request body, answering 413 if it is larger than `limit` bytes.
pub async fn read_body_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::new(ErrorKind::TooLarge, format!("request body is larger than the limit of {limit} bytes")))
        }
        Err(e) => Err(ApiError::bad_data(format!("reading the request body failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeated_and_escaped_parameters() {
        let p: Vec<_> = form_urlencoded_pairs(b"match[]=up%7Bjob%3D%22a%22%7D&match[]=b+c&x=%zz&end=").collect();
        assert_eq!(p[0], ("match[]".into(), "up{job=\"a\"}".into()));
        assert_eq!(p[1], ("match[]".into(), "b c".into()));
        assert_eq!(p[2], ("x".into(), "%zz".into()));
        assert_eq!(p[3], ("end".into(), "".into()));
        assert_eq!(decode_component(b"%4"), "%4");
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let e = read_body_limited(Body::from(vec![0u8; 100]), 10).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert_eq!(read_body_limited(Body::from(vec![0u8; 10]), 10).await.unwrap().len(), 10);
    }
}
