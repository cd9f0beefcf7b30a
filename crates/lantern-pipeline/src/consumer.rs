//! The one interface between components: a consumer takes a [`Payload`] and says
//! whether it took it. An error is retryable (the sender may try again later: memory
//! is short, a queue is full) or permanent (the data is bad); receivers turn it into
//! the status their protocol uses (gRPC UNAVAILABLE / HTTP 503, or INVALID_ARGUMENT /
//! 400).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::data::Payload;

/// A boxed future of a consumer.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why data was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConsumeError {
    /// Whether the sender may try again.
    pub retryable: bool,
    /// What happened.
    pub message: String,
}

impl ConsumeError {
    /// A refusal the sender should retry.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self { retryable: true, message: message.into() }
    }

    /// A refusal that retrying does not change.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { retryable: false, message: message.into() }
    }
}

/// Takes data.
pub trait Consumer: Send + Sync + 'static {
    /// Takes one payload; returns once it is accepted (queued, batched, sent) or refused.
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>>;
}

/// A shared consumer.
pub type Next = Arc<dyn Consumer>;

/// Hands each payload to every consumer (the pipelines of one receiver, the exporters
/// of one pipeline); refused if any refused, retryable only if every refusal was.
pub struct Fanout(pub Vec<Next>);

impl Consumer for Fanout {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if let [only] = &self.0[..] {
                return only.consume(data).await;
            }
            let results = futures::future::join_all(self.0.iter().map(|c| c.consume(data.clone()))).await;
            let errors: Vec<ConsumeError> = results.into_iter().filter_map(Result::err).collect();
            match errors.len() {
                0 => Ok(()),
                _ => Err(ConsumeError {
                    retryable: errors.iter().all(|e| e.retryable),
                    message: errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
                }),
            }
        })
    }
}
