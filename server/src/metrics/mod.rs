//! Prometheus metrics at `GET /metrics`: what operators scrape.
//!
//! ```text
//!  data path (per session / per query, handles taken once) ─► registry::Metrics (atomics)
//!  engine counters (fsync, persistent queries, state stores) ─┐
//!  process (/proc/self: RSS, fds, threads) ───────────────────┼─► scrape ─► text exposition
//!  registry::Metrics ─────────────────────────────────────────┘
//! ```
//!
//! - `registry`: the metric families and the handles the data path holds: a stream's or a
//!   query's counters are looked up by name once, when its session or query starts, and then
//!   bumped with one relaxed atomic add per chunk of rows (never per row, never under a
//!   lock). Latencies go to the engine's lock-free `LatencyHistogram`, observed once per
//!   batch.
//! - `process`: the process's resident memory, open descriptors and threads, from `/proc`.
//! - `scrape`: the endpoint: reads everything above and encodes it with `prometheus-client`
//!   (Prometheus text 0.0.4, or OpenMetrics when the scraper asks for it).
//!
//! Why `prometheus-client` (the Prometheus project's own Rust client): it owns the exposition
//! formats (escaping, `# TYPE`/`# HELP`/`# UNIT`, `_total`, OpenMetrics' `# EOF`), keeps no
//! global registry (tests run several servers in one process), and its counters are plain
//! atomics. Its `Histogram` locks a mutex per observation, so latencies use the engine's
//! lock-free histogram and a scrape-time collector instead. The `metrics` crate was the other
//! candidate: a global recorder, and its Prometheus exporter drains histogram samples kept
//! per observation between scrapes, which is unbounded memory when nobody scrapes.
//!
//! Non-goals: push gateways, per-row exemplars, metrics of the Kafka client itself.

pub mod process;
pub mod registry;
pub mod scrape;

pub use registry::{Metrics, QueryCounters, StreamCounters};
