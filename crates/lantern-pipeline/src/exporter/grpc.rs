//! A gRPC client for exporters (`otlp`, `jaeger`): the Collector's client settings
//! (`endpoint` in gRPC's target syntax, `tls`, `compression`, `headers`), a connection
//! made lazily so a host that does not resolve yet is a retryable failure, bodies sent
//! as the bytes they already are, and gRPC status codes sorted into retryable and
//! permanent failures as the OTLP exporter sorts them.

use std::marker::PhantomData;
use std::str::FromStr;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use crate::exporter::SendError;
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
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
        }
        grpc.ready().await.map_err(|e| SendError::retryable(format!("{}: connection not ready: {e}", self.target)))?;
        let mut req = tonic::Request::new(body);
        *req.metadata_mut() = self.headers.clone();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        match grpc.unary(req, path, RawCodec(PhantomData)).await {
            Ok(resp) => Ok(resp.into_inner()),
            Err(s) => Err(status_error(&self.target, &s)),
        }
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

/// Sends bytes as they are; hands the answer back as bytes.
pub(crate) struct RawCodec(pub(crate) PhantomData<()>);

pub(crate) struct RawEncoder;
pub(crate) struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}
