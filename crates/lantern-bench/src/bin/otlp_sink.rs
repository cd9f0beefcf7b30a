//! `otlp_sink`: an OTLP/gRPC trace server that takes requests, counts their spans and
//! drops them — the far end of `bench/collect.sh`. With `--rate` it takes at most that
//! many spans per second (a slow backend), answering late rather than refusing. The
//! count so far is written to `--count-file` every 100 ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::{Request, Response, Status};

#[derive(Parser, Debug)]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:4319")]
    addr: String,
    /// Spans per second taken at most (0: as fast as they come).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Where the count of spans taken is written.
    #[arg(long, default_value = "sink_count.txt")]
    count_file: String,
}

struct Sink {
    spans: Arc<AtomicU64>,
    rate: u64,
    start: Instant,
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let n: u64 = req
            .into_inner()
            .resource_spans
            .iter()
            .flat_map(|r| r.scope_spans.iter())
            .map(|s| s.spans.len() as u64)
            .sum();
        let total = self.spans.fetch_add(n, Ordering::SeqCst) + n;
        if self.rate > 0 {
            // Answer when a sink of this rate would have taken them.
            let due = Duration::from_secs_f64(total as f64 / self.rate as f64);
            let elapsed = self.start.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spans = Arc::new(AtomicU64::new(0));
    let counter = spans.clone();
    let file = args.count_file.clone();
    tokio::spawn(async move {
        loop {
            let _ = std::fs::write(&file, counter.load(Ordering::SeqCst).to_string());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let sink = Sink { spans, rate: args.rate, start: Instant::now() };
    tonic::transport::Server::builder()
        .add_service(
            TraceServiceServer::new(sink)
                .max_decoding_message_size(256 << 20)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
        )
        .serve(args.addr.parse()?)
        .await?;
    Ok(())
}
