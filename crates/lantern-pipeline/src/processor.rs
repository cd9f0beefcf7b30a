//! Processors: each pipeline has its own instance of each processor it lists, in order.
//! Those that change data ([`Mutate`]) decode the request, change it, and encode it
//! again; what they drop is counted.

pub mod actions;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod items;
pub mod matching;
pub mod memory_limiter;
pub mod sampler;
pub mod tail_sampling;
pub mod transform;

use crate::consumer::{BoxFuture, ConsumeError, Consumer, Next};
use crate::data::{Decoded, Payload};

/// A processor that changes decoded data in place.
pub struct Mutate {
    id: String,
    /// The `reason` dropped items are counted under.
    reason: &'static str,
    change: Box<dyn Fn(&mut Decoded) + Send + Sync>,
    next: Next,
}

impl Mutate {
    /// Processor `id` running `change` in front of `next`.
    pub fn new(id: String, reason: &'static str, change: Box<dyn Fn(&mut Decoded) + Send + Sync>, next: Next) -> Self {
        Self { id, reason, change, next }
    }
}

impl Consumer for Mutate {
    fn consume(&self, data: Payload) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let (signal, before) = (data.signal, data.items);
            let mut d = data.decode().map_err(|e| {
                ConsumeError::permanent(format!("processor {}: cannot decode the request: {e}", self.id))
            })?;
            (self.change)(&mut d);
            let p = d.encode();
            if p.items < before {
                lantern_core::selfmon::pipeline::dropped(
                    &self.id,
                    signal.as_str(),
                    self.reason,
                    (before - p.items) as u64,
                );
            }
            if p.items == 0 {
                return Ok(());
            }
            self.next.consume(p).await
        })
    }
}
