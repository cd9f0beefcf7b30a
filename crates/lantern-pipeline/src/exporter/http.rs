//! The HTTP client of exporters (`otlphttp`, `loki`): TLS settings, headers, gzip, and
//! answers sorted as the OTLP/HTTP exporter sorts them: 2xx sent; 429, 502, 503 and 504
//! retryable (after `Retry-After` if given); anything else permanent.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use crate::exporter::{error_chain, gzip_fast, SendError};
use crate::settings::{Headers, TlsSettings};

/// An HTTP client with the exporter's settings.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    headers: HeaderMap,
    gzip: bool,
    /// Retry every 5xx (remote write), not only 502, 503 and 504.
    retry_5xx: bool,
}

impl HttpClient {
    /// A client; `timeout` bounds each request (zero: none).
    pub fn new(tls: &TlsSettings, compression: &str, headers: &Headers, timeout: Duration) -> Result<Self, String> {
        let mut b = reqwest::Client::builder().danger_accept_invalid_certs(tls.insecure_skip_verify);
        if !timeout.is_zero() {
            b = b.timeout(timeout);
        }
        if let Some(ca) = &tls.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("tls::ca_file {ca:?}: {e}"))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| format!("tls::ca_file {ca:?}: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        if let (Some(c), Some(k)) = (&tls.cert_file, &tls.key_file) {
            let mut pem = std::fs::read(c).map_err(|e| format!("tls::cert_file {c:?}: {e}"))?;
            pem.extend(std::fs::read(k).map_err(|e| format!("tls::key_file {k:?}: {e}"))?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| format!("tls::cert_file: {e}"))?;
            b = b.identity(id);
        }
        let mut hm = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers: {k:?} is not a valid header name"))?;
            let val = HeaderValue::from_str(v).map_err(|_| format!("headers::{k}: not a valid header value"))?;
            hm.insert(name, val);
        }
        let client = b.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, headers: hm, gzip: compression == "gzip", retry_5xx: false })
    }

    /// The same client retrying every 5xx answer (as the remote-write exporter does).
    pub fn retrying_5xx(mut self) -> Self {
        self.retry_5xx = true;
        self
    }

    /// POSTs `body` of `content_type` to `url`.
    pub async fn post(&self, url: &str, content_type: &str, body: Bytes) -> Result<(), SendError> {
        self.post_with(url, content_type, &[], body).await
    }

    /// [`HttpClient::post`] with more headers.
    pub async fn post_with(
        &self,
        url: &str,
        content_type: &str,
        extra: &[(&'static str, &'static str)],
        body: Bytes,
    ) -> Result<(), SendError> {
        let mut req = self.client.post(url).headers(self.headers.clone()).header(CONTENT_TYPE, content_type);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req = if self.gzip {
            req.header(CONTENT_ENCODING, "gzip").body(gzip_fast(&body).map_err(SendError::Permanent)?)
        } else {
            req.body(body)
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(SendError::retryable(format!("request to {url} failed: {}", error_chain(&e)))),
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let after = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
        let text = resp.text().await.unwrap_or_default();
        let detail: String = text.chars().take(256).collect();
        let message = format!(
            "error exporting items, request to {url} responded with HTTP Status Code {}: {detail}",
            status.as_u16()
        );
        match status.as_u16() {
            429 | 502 | 503 | 504 => Err(SendError::Retryable { message, after }),
            500..=599 if self.retry_5xx => Err(SendError::Retryable { message, after }),
            _ => Err(SendError::Permanent(message)),
        }
    }
}

/// `Retry-After` in seconds (an HTTP date is not honoured: the backoff applies).
fn retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}
