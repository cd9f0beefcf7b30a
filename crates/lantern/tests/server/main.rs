//! The integration test binary: starts the real `lantern` binary on free loopback ports
//! and drives it with real clients (our remote-write encoder, Prometheus from Debian's
//! package, curl-like HTTP calls).

mod alerting;
mod api;
mod collect;
mod demo;
mod docs;
mod durability;
mod example;
mod harness;
mod investigate;
mod logs;
mod otlp;
mod prometheus;
mod promql;
mod rules;
mod scrape;
mod selfmon;
mod startup;
mod traces;
mod ui;
