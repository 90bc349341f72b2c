//! Nexmark, the streaming-SQL benchmark (an online auction: people, auctions, bids), run on
//! Sluice through its HTTP API.
//!
//! ```text
//!  generator (event n = f(seed, n)) ─► one producer per source stream (PERSON, AUCTION,
//!  BID) ─► /inserts-stream ─► persistent query (queries: CSAS) ─► sink stream
//!  ─► push query on the sink (e2e latency) ; /queries/{id}/progress (caught up)
//! ```
//!
//! - `generator`: the reference's event generator: mix, id spaces, hot ratios, prices,
//!   event time at a given rate, seeded;
//! - `queries`: the Nexmark queries as ksqlDB SQL, the source streams' DDL, and the list of
//!   queries ksqlDB's SQL cannot express;
//! - `run`: `sluice nexmark`: creates the streams and a query, streams generated events at
//!   it over HTTP/2 and reports events/s, e2e latency and server CPU per event.
//!
//! Three streams rather than the Flink suite's one event stream with a union-typed row:
//! ksqlDB's SQL has no union type, and its queries name `PERSON`, `AUCTION` and `BID` as the
//! reference SQL does (the Flink suite defines them as views over its event stream). Each
//! event goes to its kind's stream; its `DATETIME` is the row's event time.
//!
//! Non-goals: Java's `Random` values (the same seed does not reproduce the Java generator's
//! exact events), and a distributed run.

pub mod generator;
pub mod queries;
mod run;

pub use run::{run, NexmarkArgs};
