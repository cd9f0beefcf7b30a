//! Processors: each pipeline has its own instance of each processor it lists, in order.

pub mod batch;
pub mod memory_limiter;
