//! Collector mode: the OpenTelemetry Collector's configuration format run by Lantern.
//! [`confmap`] reads and merges the `--config` sources and expands `${…}`; [`config`]
//! decodes and validates them as the Collector's `validate` does ([`components`] knows
//! each component type, [`id`] the names); [`service`] runs the pipelines: receivers
//! ([`receiver`]) hand [`data::Payload`]s (OTLP requests in protobuf) through each
//! pipeline's processors ([`processor`]) to its exporters ([`exporter`]), all behind
//! one interface ([`consumer::Consumer`]).

pub mod components;
pub mod config;
pub mod confmap;
pub mod connector;
pub mod consumer;
pub mod data;
pub mod exporter;
pub mod extension;
pub mod id;
pub mod jaeger_proto;
pub mod ottl;
pub mod processor;
pub mod promconv;
pub mod receiver;
pub mod service;
pub mod settings;
pub mod shape;

#[cfg(test)]
pub(crate) mod testing;

pub use config::Config;
pub use service::{start, Running};

/// Reads, merges, expands and validates `--config` sources; the config and the
/// warnings (unset variables, unused components), or every problem.
pub fn load(sources: &[String]) -> Result<(Config, Vec<String>), Vec<String>> {
    let resolved = confmap::resolve(sources, &|k| std::env::var(k).ok()).map_err(|e| vec![e])?;
    let config = Config::from_value(&resolved.value)?;
    let mut warnings = resolved.warnings;
    warnings.extend(config.warnings.iter().cloned());
    Ok((config, warnings))
}
