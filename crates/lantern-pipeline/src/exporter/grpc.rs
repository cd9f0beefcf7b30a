//! A gRPC client for exporters (`otlp`, `jaeger`): the Collector's client settings
//! (`endpoint` in gRPC's target syntax, `tls`, `compression`, `headers`), a connection
//! made lazily so a host that does not resolve yet is a retryable failure, bodies sent
//! as the bytes they already are (framed here, gzip at its fastest level: a quarter of
//! the CPU of level 6 for a few percent more bytes), and gRPC status codes sorted into
//! retryable and permanent failures as the OTLP exporter sorts them.

use std::str::FromStr;

use bytes::{BufMut, Bytes};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};
use tower::Service;

use crate::exporter::{error_chain, gzip_fast, SendError};
use crate::settings::{Headers, TlsSettings};

/// A connection to one gRPC server.
#[derive(Clone)]
pub struct GrpcClient {
    channel: Channel,
    gzip: bool,
    headers: MetadataMap,
    target: String,
}

impl GrpcClient {
    /// A client of `endpoint` (`host:port`, or with `http://`/`https://`); not connected
    /// until the first call.
    pub fn new(endpoint: &str, tls: &TlsSettings, compression: &str, headers: &Headers) -> Result<Self, String> {
        let (secure, hostport) = if let Some(h) = endpoint.strip_prefix("https://") {
            (true, h)
        } else if let Some(h) = endpoint.strip_prefix("http://") {
            (false, h)
        } else {
            (!tls.insecure, endpoint)
        };
        let hostport = hostport.trim_end_matches('/');
        let uri = format!("{}://{hostport}", if secure { "https" } else { "http" });
        let mut ep =
            Endpoint::from_str(&uri).map_err(|e| format!("endpoint {endpoint:?} is not a valid gRPC target: {e}"))?;
        if secure {
            let mut cfg = ClientTlsConfig::new().with_webpki_roots();
            if let Some(ca) = &tls.ca_file {
                let pem = std::fs::read(ca).map_err(|e| format!("tls::ca_file {ca:?}: {e}"))?;
                cfg = cfg.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            if let (Some(c), Some(k)) = (&tls.cert_file, &tls.key_file) {
                let cert = std::fs::read(c).map_err(|e| format!("tls::cert_file {c:?}: {e}"))?;
                let key = std::fs::read(k).map_err(|e| format!("tls::key_file {k:?}: {e}"))?;
                cfg = cfg.identity(tonic::transport::Identity::from_pem(cert, key));
            }
            if let Some(name) = &tls.server_name_override {
                cfg = cfg.domain_name(name.clone());
            }
            ep = ep.tls_config(cfg).map_err(|e| format!("tls: {e}"))?;
        }
        let mut md = MetadataMap::new();
        for (k, v) in headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("headers: {k:?} is not a valid header name"))?;
            let val =
                MetadataValue::try_from(v.as_str()).map_err(|_| format!("headers::{k}: not a valid header value"))?;
            md.insert(key, val);
        }
        Ok(Self { channel: ep.connect_lazy(), gzip: compression == "gzip", headers: md, target: hostport.to_string() })
    }

    /// Calls unary method `path` (`/package.Service/Method`) with `body`; the answer's bytes.
    pub async fn call(&self, path: &'static str, body: Bytes) -> Result<Bytes, SendError> {
        use http_body_util::BodyExt;
        use tonic::codegen::http;
        use tower::ServiceExt;
        let payload = if self.gzip { gzip_fast(&body).map_err(SendError::Permanent)? } else { body };
        let mut frame = bytes::BytesMut::with_capacity(5 + payload.len());
        frame.put_u8(u8::from(self.gzip));
        frame.put_u32(payload.len() as u32);
        frame.put(payload);
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
            .header("grpc-accept-encoding", "gzip");
        if self.gzip {
            req = req.header("grpc-encoding", "gzip");
        }
        let mut req = req
            .body(tonic::body::Body::new(http_body_util::Full::new(frame.freeze())))
            .map_err(|e| SendError::Permanent(format!("building the request: {e}")))?;
        req.headers_mut().extend(self.headers.clone().into_headers());
        let channel = self.channel.clone().ready_oneshot().await;
        let mut channel =
            channel.map_err(|e| SendError::retryable(format!("{}: connection not ready: {e}", self.target)))?;
        let resp = channel
            .call(req)
            .await
            .map_err(|e| SendError::retryable(format!("rpc error to {}: {}", self.target, error_chain(&e))))?;
        let (parts, body) = resp.into_parts();
        if parts.status != http::StatusCode::OK {
            let code = match parts.status.as_u16() {
                400 => Code::Internal,
                401 => Code::Unauthenticated,
                403 => Code::PermissionDenied,
                404 => Code::Unimplemented,
                429 | 502..=504 => Code::Unavailable,
                _ => Code::Unknown,
            };
            return Err(status_error(&self.target, &Status::new(code, format!("HTTP status {}", parts.status))));
        }
        // A trailers-only answer carries the status in its headers.
        if let Some(s) = Status::from_header_map(&parts.headers).filter(|s| s.code() != Code::Ok) {
            return Err(status_error(&self.target, &s));
        }
        let collected = body
            .collect()
            .await
            .map_err(|e| SendError::retryable(format!("rpc error to {}: reading the answer: {e}", self.target)))?;
        if let Some(s) = collected.trailers().and_then(Status::from_header_map).filter(|s| s.code() != Code::Ok) {
            return Err(status_error(&self.target, &s));
        }
        let data = collected.to_bytes();
        // One message: a flag, its length, the bytes (gzip if flagged).
        if data.len() < 5 {
            return Ok(Bytes::new());
        }
        let n = (u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize).min(data.len() - 5);
        let msg = data.slice(5..5 + n);
        if data[0] == 1 {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&msg[..])
                .read_to_end(&mut out)
                .map_err(|e| SendError::retryable(format!("rpc error to {}: the answer's gzip: {e}", self.target)))?;
            return Ok(out.into());
        }
        Ok(msg)
    }
}

/// A status as a retryable or permanent failure.
fn status_error(target: &str, s: &Status) -> SendError {
    let message = format!("rpc error to {target}: code = {:?} desc = {}", s.code(), s.message());
    match s.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => SendError::retryable(message),
        // Only with RetryInfo (carried in the details).
        Code::ResourceExhausted if !s.details().is_empty() => SendError::retryable(message),
        _ => SendError::Permanent(message),
    }
}
