//! The `batch` processor: requests joined until `send_batch_size` items or `timeout`
//! since the first, then sent on (split at `send_batch_max_size` items if set). It
//! answers the sender at once, as the Collector's does; a failure downstream is logged
//! and counted by the exporter, not returned.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::consumer::{BoxFuture, ConsumeError, Consumer, Next};
use crate::data::{split, Payload};
use crate::id::Signal;
use crate::settings::GoDuration;

/// Its configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Items that make a batch be sent.
    pub send_batch_size: usize,
    /// Most items in one batch (0: no bound).
    pub send_batch_max_size: usize,
    /// Longest wait after the first item before a batch is sent (0: at once).
    pub timeout: GoDuration,
    /// Batching per client metadata (not supported by Lantern: must be empty).
    pub metadata_keys: Vec<String>,
    /// Accepted for compatibility.
    pub metadata_cardinality_limit: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            send_batch_size: 8192,
            send_batch_max_size: 0,
            timeout: GoDuration(Duration::from_millis(200)),
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

impl Config {
    /// Every problem, as the Collector words them.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            p.push("send_batch_max_size must be greater or equal to send_batch_size".into());
        }
        if !self.metadata_keys.is_empty() {
            p.push("metadata_keys: batching by client metadata is not supported by Lantern".into());
        }
        p
    }
}

/// Batches waiting to be sent on, at most.
const OUTBOX: usize = 4;

struct Pending {
    buf: BytesMut,
    items: usize,
    /// Bumped on each send, so a timer armed for an earlier batch does nothing.
    generation: u64,
}

/// One pipeline's batcher.
pub struct Batcher {
    signal: Signal,
    config: Config,
    pending: Arc<Mutex<Pending>>,
    outbox: mpsc::Sender<Payload>,
}

impl Batcher {
    /// Starts a batcher for `signal` sending into `next`; the batch in hand is sent when
    /// `shutdown` turns true.
    pub fn start(
        signal: Signal,
        config: Config,
        next: Next,
        mut shutdown: watch::Receiver<bool>,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<Payload>(OUTBOX);
        tasks.push(tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if let Err(e) = next.consume(p).await {
                    tracing::warn!(error = %e, "sending a batch on failed");
                }
            }
        }));
        let me = Arc::new(Self {
            signal,
            config,
            pending: Arc::new(Mutex::new(Pending { buf: BytesMut::new(), items: 0, generation: 0 })),
            outbox: tx,
        });
        let flusher = me.clone();
        tasks.push(tokio::spawn(async move {
            let _ = shutdown.wait_for(|s| *s).await;
            let last = flusher.take();
            for p in last {
                let _ = flusher.outbox.send(p).await;
            }
        }));
        me
    }

    /// The batch in hand, split as configured; empty if there is none.
    fn take(&self) -> Vec<Payload> {
        let (body, items) = {
            let mut p = self.pending.lock();
            if p.items == 0 && p.buf.is_empty() {
                return Vec::new();
            }
            p.generation += 1;
            let items = std::mem::take(&mut p.items);
            (std::mem::take(&mut p.buf).freeze(), items)
        };
        self.pieces(body, items)
    }

    fn pieces(&self, body: Bytes, items: usize) -> Vec<Payload> {
        let max = self.config.send_batch_max_size;
        if max == 0 || items <= max {
            return vec![Payload { signal: self.signal, body, items }];
        }
        match split(self.signal, &body, max) {
            Ok(parts) => parts.into_iter().map(|(body, items)| Payload { signal: self.signal, body, items }).collect(),
            // Counted when received, so this does not happen; sent whole if it does.
            Err(_) => vec![Payload { signal: self.signal, body, items }],
        }
    }
}

impl Consumer for Batcher {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let timeout = self.config.timeout.0;
            if timeout.is_zero() {
                for p in self.pieces(data.body, data.items) {
                    self.outbox.send(p).await.map_err(|_| ConsumeError::retryable("the pipeline is shutting down"))?;
                }
                return Ok(());
            }
            let (full, arm) = {
                let mut p = self.pending.lock();
                let first = p.items == 0 && p.buf.is_empty();
                p.buf.extend_from_slice(&data.body);
                p.items += data.items;
                (p.items >= self.config.send_batch_size, first.then_some(p.generation))
            };
            if full {
                for p in self.take() {
                    self.outbox.send(p).await.map_err(|_| ConsumeError::retryable("the pipeline is shutting down"))?;
                }
            } else if let Some(generation) = arm {
                let (pending, outbox, me_signal, max) =
                    (self.pending.clone(), self.outbox.clone(), self.signal, self.config.send_batch_max_size);
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    let taken = {
                        let mut p = pending.lock();
                        if p.generation != generation || p.items == 0 {
                            return;
                        }
                        p.generation += 1;
                        let items = std::mem::take(&mut p.items);
                        (std::mem::take(&mut p.buf).freeze(), items)
                    };
                    let parts = if max > 0 && taken.1 > max {
                        split(me_signal, &taken.0, max).unwrap_or_else(|_| vec![taken.clone()])
                    } else {
                        vec![taken]
                    };
                    for (body, items) in parts {
                        let _ = outbox.send(Payload { signal: me_signal, body, items }).await;
                    }
                });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Collect {
        batches: Mutex<Vec<usize>>,
        items: AtomicUsize,
    }

    impl Consumer for Collect {
        fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async move {
                crate::data::count(data.signal, &data.body).map(|n| assert_eq!(n, data.items)).unwrap();
                self.batches.lock().push(data.items);
                self.items.fetch_add(data.items, Ordering::SeqCst);
                Ok(())
            })
        }
    }

    fn request(spans: usize) -> Payload {
        use prost::Message;
        let req = crate::testing::spans("svc", spans);
        Payload::new(Signal::Traces, req.encode_to_vec().into()).unwrap()
    }

    #[tokio::test]
    async fn batches_are_sent_by_size_by_timeout_split_at_the_maximum_and_flushed_at_shutdown() {
        let sink = Arc::new(Collect::default());
        let (tx, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let config = Config {
            send_batch_size: 10,
            send_batch_max_size: 12,
            timeout: GoDuration(Duration::from_millis(100)),
            ..Default::default()
        };
        let b = Batcher::start(Signal::Traces, config, sink.clone(), rx, &mut tasks);
        for _ in 0..3 {
            b.consume(request(3)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(sink.batches.lock().is_empty(), "9 items: under the batch size");
        b.consume(request(3)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*sink.batches.lock(), vec![12], "12 items reach the size");
        b.consume(request(20)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*sink.batches.lock(), vec![12, 12, 8], "20 items split at 12");
        b.consume(request(2)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(*sink.batches.lock(), vec![12, 12, 8, 2], "sent at the timeout");
        b.consume(request(1)).await.unwrap();
        tx.send(true).unwrap();
        drop(b);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        assert_eq!(sink.items.load(Ordering::SeqCst), 35, "the last batch is sent at shutdown");
    }
}
