//! Exporters, and what every exporter shares (the Collector's exporter helper): a
//! bounded sending queue drained by `num_consumers` senders, each attempt bounded by
//! `timeout`, retries with exponential backoff and jitter on retryable failures (never
//! on permanent ones), and every item counted as sent, failed or dropped with its
//! reason. What is specific to an exporter is its [`Sender`].

pub mod debug;
pub mod file;
pub mod grpc;
pub mod http;
pub mod jaeger;
pub mod loki;
pub mod otlp;
pub mod otlphttp;
pub mod persist;
pub mod prometheus;
pub mod remote_write;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lantern_core::selfmon::pipeline as stats;
use tokio::sync::{mpsc, watch, Mutex};

use crate::consumer::{BoxFuture, ConsumeError, Consumer};
use crate::data::Payload;
use crate::id::Signal;
use crate::settings::{QueueSettings, RetrySettings};

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Worth trying again, not before `after` if the server said so.
    Retryable {
        /// What happened.
        message: String,
        /// The server's wish (gRPC RetryInfo, HTTP `Retry-After`).
        after: Option<Duration>,
    },
    /// Trying again would fail the same way.
    Permanent(String),
}

impl SendError {
    /// A retryable failure with no wish from the server.
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable { message: message.into(), after: None }
    }

    fn message(&self) -> &str {
        match self {
            SendError::Retryable { message, .. } | SendError::Permanent(message) => message,
        }
    }
}

/// Sends one payload somewhere.
pub trait Sender: Send + Sync + 'static {
    /// One attempt.
    fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>>;
}

/// How an exporter sends: its queue, retries and attempt timeout.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `sending_queue`.
    pub queue: QueueSettings,
    /// `retry_on_failure`.
    pub retry: RetrySettings,
    /// `timeout` of one attempt (zero: none).
    pub timeout: Duration,
}

/// A queue on disk and what an earlier run left in it.
pub type Disk = (Arc<persist::DiskQueue>, Vec<(u64, Payload)>);

/// A queued request, and its file if the queue is on disk.
type Queued = (Payload, Option<u64>);

/// An exporter: a sender behind the shared queue and retry logic.
pub struct Exporter {
    inner: Arc<Inner>,
    queue: Option<mpsc::Sender<Queued>>,
    block: bool,
    capacity: usize,
}

/// How a delivery ended.
enum Outcome {
    Sent,
    /// Given up on (counted as dropped).
    Dropped(ConsumeError),
    /// Stopped by shutdown while it could still have been retried.
    Interrupted(ConsumeError),
}

struct Inner {
    id: String,
    sender: Arc<dyn Sender>,
    delivery: Delivery,
    shutdown: watch::Receiver<bool>,
    disk: Option<Arc<persist::DiskQueue>>,
}

impl Exporter {
    /// Starts exporter `id` for one signal: its queue's consumers run until `shutdown`
    /// turns true and the queue is empty (each request left then gets one attempt).
    pub fn start(
        id: String,
        signal: Signal,
        sender: Arc<dyn Sender>,
        delivery: Delivery,
        shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        Self::start_with(id, signal, sender, delivery, None, shutdown, tasks)
    }

    /// [`Exporter::start`] with the queue on disk (`disk`: the queue and what an
    /// earlier run left in it, queued again first).
    pub fn start_with(
        id: String,
        signal: Signal,
        sender: Arc<dyn Sender>,
        delivery: Delivery,
        disk: Option<Disk>,
        shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        let q = delivery.queue.clone();
        let (disk, left) = match disk {
            Some((d, left)) => (Some(d), left),
            None => (None, Vec::new()),
        };
        let inner = Arc::new(Inner { id, sender, delivery, shutdown, disk });
        if !q.enabled {
            return Self { inner, queue: None, block: false, capacity: 0 };
        }
        let (tx, rx) = mpsc::channel::<Queued>(q.queue_size.max(1));
        if !left.is_empty() {
            tracing::info!(exporter = %inner.id, requests = left.len(), "sending what an earlier run queued");
            let tx = tx.clone();
            tokio::spawn(async move {
                for (seq, p) in left {
                    if tx.send((p, Some(seq))).await.is_err() {
                        break;
                    }
                }
            });
        }
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..q.num_consumers.max(1) {
            let (inner, rx, tx) = (inner.clone(), rx.clone(), tx.downgrade());
            tasks.push(tokio::spawn(async move {
                let mut shutdown = inner.shutdown.clone();
                loop {
                    let next = {
                        let mut rx = rx.lock().await;
                        if *shutdown.borrow() {
                            rx.try_recv().ok()
                        } else {
                            tokio::select! {
                                p = rx.recv() => p,
                                _ = shutdown.changed() => rx.try_recv().ok(),
                            }
                        }
                    };
                    let Some((p, seq)) = next else {
                        if *shutdown.borrow() {
                            break;
                        }
                        continue;
                    };
                    if let Some(tx) = tx.upgrade() {
                        stats::queue(
                            &inner.id,
                            p.signal.as_str(),
                            tx.max_capacity() - tx.capacity(),
                            tx.max_capacity(),
                        );
                    }
                    let outcome = inner.deliver(p).await;
                    if let (Some(seq), Some(disk)) = (seq, &inner.disk) {
                        // A request stopped by shutdown stays on disk for the next run.
                        if !matches!(outcome, Outcome::Interrupted(_)) {
                            disk.remove(seq);
                        }
                    }
                }
            }));
        }
        stats::queue(&inner.id, signal.as_str(), 0, q.queue_size);
        Self { inner, queue: Some(tx), block: q.block_on_overflow, capacity: q.queue_size }
    }

    /// Requests waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.as_ref().map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// The queue's capacity (0 without a queue).
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Consumer for Exporter {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Some(tx) = &self.queue else {
                return match self.inner.deliver(data).await {
                    Outcome::Sent => Ok(()),
                    Outcome::Dropped(e) | Outcome::Interrupted(e) => Err(e),
                };
            };
            let (signal, items) = (data.signal.as_str(), data.items as u64);
            let seq = match &self.inner.disk {
                Some(d) => Some(
                    d.put(&data).map_err(|e| ConsumeError::retryable(format!("exporter {:?}: {e}", self.inner.id)))?,
                ),
                None => None,
            };
            let sent = if self.block {
                tx.send((data, seq)).await.map_err(|_| ())
            } else {
                tx.try_send((data, seq)).map_err(|_| ())
            };
            match sent {
                Ok(()) => {
                    stats::queue(&self.inner.id, signal, self.queued(), self.capacity);
                    Ok(())
                }
                Err(()) => {
                    if let (Some(seq), Some(d)) = (seq, &self.inner.disk) {
                        d.remove(seq);
                    }
                    stats::dropped(&self.inner.id, signal, "queue_full", items);
                    tracing::warn!(exporter = %self.inner.id, items, "sending queue is full: data dropped");
                    Err(ConsumeError::retryable(format!("sending queue of exporter {:?} is full", self.inner.id)))
                }
            }
        })
    }
}

impl Inner {
    /// Sends with retries; counts the outcome.
    async fn deliver(&self, p: Payload) -> Outcome {
        let (signal, items) = (p.signal.as_str(), p.items as u64);
        let retry = &self.delivery.retry;
        let start = Instant::now();
        let mut backoff = retry.initial_interval.0;
        loop {
            let attempt = if self.delivery.timeout.is_zero() {
                self.sender.send(&p).await
            } else {
                match tokio::time::timeout(self.delivery.timeout, self.sender.send(&p)).await {
                    Ok(r) => r,
                    Err(_) => {
                        Err(SendError::retryable(format!("the request timed out after {:?}", self.delivery.timeout)))
                    }
                }
            };
            let err = match attempt {
                Ok(()) => {
                    stats::sent(&self.id, signal, items);
                    return Outcome::Sent;
                }
                Err(e) => e,
            };
            stats::send_failed(&self.id, signal, items);
            let after = match &err {
                SendError::Permanent(m) => {
                    stats::dropped(&self.id, signal, "permanent", items);
                    tracing::error!(exporter = %self.id, items, error = %m, "exporting failed, not retryable: data dropped");
                    return Outcome::Dropped(ConsumeError::permanent(format!("not retryable error: {m}")));
                }
                SendError::Retryable { after, .. } => *after,
            };
            let shutting_down = *self.shutdown.borrow();
            let delay = jitter(backoff, retry.randomization_factor).max(after.unwrap_or_default());
            let max = retry.max_elapsed_time.0;
            if shutting_down && self.disk.is_some() {
                tracing::warn!(exporter = %self.id, items, error = %err.message(), "stopping: the request stays queued on disk for the next run");
                return Outcome::Interrupted(ConsumeError::retryable(err.message().to_string()));
            }
            if !retry.enabled || shutting_down || (!max.is_zero() && start.elapsed() + delay > max) {
                let reason = if shutting_down { "shutdown" } else { "retries_exhausted" };
                stats::dropped(&self.id, signal, reason, items);
                tracing::error!(exporter = %self.id, items, error = %err.message(), "exporting failed, no more retries left: data dropped");
                return Outcome::Dropped(ConsumeError::retryable(format!("no more retries left: {}", err.message())));
            }
            tracing::warn!(exporter = %self.id, error = %err.message(), interval = ?delay, "exporting failed, will retry");
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
            backoff = backoff.mul_f64(retry.multiplier.max(1.0)).min(retry.max_interval.0);
        }
    }
}

/// An error and its causes, as one line (client errors name only the outermost).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Gzip at the fastest level: a quarter of the CPU of the usual level 6 for somewhat
/// larger bodies, which any gzip reader takes.
pub(crate) fn gzip_fast(b: &[u8]) -> Result<bytes::Bytes, String> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(b.len() / 4), flate2::Compression::fast());
    enc.write_all(b).map_err(|e| format!("gzip: {e}"))?;
    enc.finish().map(bytes::Bytes::from).map_err(|e| format!("gzip: {e}"))
}

/// `d` moved at random up to `factor` of itself either way.
fn jitter(d: Duration, factor: f64) -> Duration {
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
    let u = (r >> 11) as f64 / (1u64 << 53) as f64;
    let f = factor.clamp(0.0, 1.0);
    d.mul_f64(1.0 - f + 2.0 * f * u)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::settings::GoDuration;

    /// Fails `fails` times with `err`, then takes everything.
    struct Flaky {
        fails: AtomicUsize,
        err: SendError,
        got: AtomicUsize,
    }

    impl Sender for Flaky {
        fn send<'a>(&'a self, data: &'a Payload) -> BoxFuture<'a, Result<(), SendError>> {
            Box::pin(async move {
                if self.fails.load(Ordering::SeqCst) > 0 {
                    self.fails.fetch_sub(1, Ordering::SeqCst);
                    return Err(self.err.clone());
                }
                self.got.fetch_add(data.items, Ordering::SeqCst);
                Ok(())
            })
        }
    }

    fn delivery(queue: bool) -> Delivery {
        Delivery {
            queue: QueueSettings { enabled: queue, num_consumers: 2, queue_size: 4, ..Default::default() },
            retry: RetrySettings {
                initial_interval: GoDuration(Duration::from_millis(5)),
                max_interval: GoDuration(Duration::from_millis(20)),
                max_elapsed_time: GoDuration(Duration::from_secs(2)),
                ..Default::default()
            },
            timeout: Duration::from_secs(1),
        }
    }

    fn payload(items: usize) -> Payload {
        Payload { signal: Signal::Traces, body: bytes::Bytes::new(), items }
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_and_permanent_ones_are_not() {
        let (_tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let flaky =
            Arc::new(Flaky { fails: AtomicUsize::new(3), err: SendError::retryable("unavailable"), got: 0.into() });
        let e = Exporter::start("otlp".into(), Signal::Traces, flaky.clone(), delivery(false), rx.clone(), &mut tasks);
        e.consume(payload(7)).await.unwrap();
        assert_eq!(flaky.got.load(Ordering::SeqCst), 7, "delivered after three retries");

        let bad =
            Arc::new(Flaky { fails: AtomicUsize::new(1), err: SendError::Permanent("400".into()), got: 0.into() });
        let e = Exporter::start("otlp".into(), Signal::Traces, bad.clone(), delivery(false), rx, &mut tasks);
        let err = e.consume(payload(2)).await.unwrap_err();
        assert!(!err.retryable && err.message.contains("not retryable error: 400"), "{err:?}");
        assert_eq!(bad.fails.load(Ordering::SeqCst), 0);
        assert_eq!(bad.got.load(Ordering::SeqCst), 0, "a permanent failure is not tried again");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_the_queue_drains_on_shutdown() {
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        // Down for a long time: the consumers hold one request each, the queue fills.
        let down =
            Arc::new(Flaky { fails: AtomicUsize::new(1_000_000), err: SendError::retryable("down"), got: 0.into() });
        let mut d = delivery(true);
        d.retry.max_elapsed_time = GoDuration(Duration::ZERO);
        let e = Exporter::start("otlp".into(), Signal::Traces, down.clone(), d, rx, &mut tasks);
        let mut refused = 0;
        for _ in 0..20 {
            if e.consume(payload(1)).await.is_err() {
                refused += 1;
            }
        }
        assert!(refused >= 20 - 4 - 2, "queue of 4 and 2 consumers: {refused} refused");
        down.fails.store(0, Ordering::SeqCst);
        tx.send(true).unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(down.got.load(Ordering::SeqCst), 20 - refused, "what was queued is sent at shutdown");
    }
}
