//! Processors in front of a store (`lantern serve`'s `processors:` and `pipelines:`):
//! the processors that change data where it stands (`attributes`, `resource`, `filter`,
//! `transform`, `probabilistic_sampler`) run on each OTLP request before the store's
//! handler takes it. Those that hold data (`batch`, `tail_sampling`) or refuse it
//! (`memory_limiter`) are not offered here: a 2xx from `serve` means the data is stored.

use std::sync::Arc;

use bytes::Bytes;
use lantern_otlp::grpc::Export;
use lantern_otlp::ingest::IngestError;

use crate::components::Processor;
use crate::data::{Decoded, Payload};
use crate::id::{ComponentId, Signal};

/// One change to decoded data.
pub type Step = Box<dyn Fn(&mut Decoded) + Send + Sync>;

/// The step of a processor that changes data in place; an error for the others.
pub fn step(id: &ComponentId, p: &Processor) -> Result<Step, String> {
    use crate::processor::{attributes, filter, sampler, transform};
    Ok(match p {
        Processor::Attributes(c) => {
            let a = attributes::Attributes::new(c)?;
            Box::new(move |d| a.process(d))
        }
        Processor::Resource(c) => {
            let r = attributes::ResourceProcessor::new(c)?;
            Box::new(move |d| r.process(d))
        }
        Processor::Filter(c) => {
            let f = filter::Filter::new(c)?;
            Box::new(move |d| f.process(d))
        }
        Processor::Transform(c) => {
            let t = transform::Transform::new(c)?;
            Box::new(move |d| t.process(d))
        }
        Processor::Sampler(c) => {
            let s = sampler::Sampler::new(c);
            Box::new(move |d| s.process(d))
        }
        Processor::Batch(_) | Processor::MemoryLimiter(_) | Processor::TailSampling(_) => {
            return Err(format!(
                "the {} processor cannot run in front of a store: it holds or refuses data, and a 2xx from serve means stored",
                id.kind
            ))
        }
    })
}

/// A handler behind processors.
#[derive(Clone)]
pub struct Shaped<E> {
    inner: E,
    signal: Signal,
    steps: Arc<Vec<(String, Step)>>,
}

impl<E: Export> Shaped<E> {
    /// `inner` behind `steps` (by processor ID), for requests of `signal`.
    pub fn new(inner: E, signal: Signal, steps: Arc<Vec<(String, Step)>>) -> Self {
        Self { inner, signal, steps }
    }
}

impl<E: Export> Export for Shaped<E> {
    const SERVICE: &'static str = E::SERVICE;
    type Response = E::Response;

    async fn export(&self, body: Bytes) -> Result<Self::Response, IngestError> {
        if self.steps.is_empty() {
            return self.inner.export(body).await;
        }
        let p = Payload::new(self.signal, body).map_err(|e| {
            IngestError::Invalid(format!("body is not a valid OTLP {} request: {e}", self.signal.as_str()))
        })?;
        let before = p.items;
        let mut d = p.decode().map_err(|e| IngestError::Invalid(format!("cannot decode the request: {e}")))?;
        let mut left = before;
        for (id, step) in self.steps.iter() {
            step(&mut d);
            let now = d.items();
            if now < left {
                lantern_core::selfmon::pipeline::dropped(id, self.signal.as_str(), "filtered", (left - now) as u64);
                left = now;
            }
        }
        if left == 0 {
            return Ok(Self::Response::default());
        }
        self.inner.export(d.encode().body).await
    }
}
