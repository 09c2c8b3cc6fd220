//! flamedb benchmarks: seeded synthetic inputs for the criterion benches in `benches/`,
//! the loader of ../shared/bench's generated fleet, and the `flamedb-bench` driver of the
//! macro comparison against DuckDB and chDB.
//!
//! The synthetic generators are deterministic by seed: a call graph of `functions` names,
//! stacks as random walks of depth 10..60 from a few roots, stack popularity skewed
//! (Zipf-like) so a few hundred stacks carry most samples, as in a real CPU profile.

pub mod distinct;
pub mod flame3m;
pub mod folded;
pub mod input;
pub mod queries;
pub mod regressions;
pub mod server;
pub mod synth;
pub mod via_cli;
pub mod via_http;
pub mod workload;
