//! What the bench's parts share: the run's progress counters, stream names, and which
//! stream idle queries read.

use std::sync::atomic::AtomicU64;

use serde::Serialize;

/// Counters the progress line reads once a second.
#[derive(Debug, Default)]
pub struct Progress {
    pub sent_rows: AtomicU64,
    pub acked_rows: AtomicU64,
    pub pushed_rows: AtomicU64,
}

/// The name of bench stream `i`.
pub fn stream_name(i: usize) -> String {
    format!("bench_{i}")
}

/// What the `--queries` push queries select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryFilter {
    /// `SELECT *` with no WHERE: every query sees every row of its stream.
    None,
    /// A different WHERE per query: the k-th of a stream's n queries selects
    /// `WHERE ID % n = k`, so they split the stream's rows (dashboards with different
    /// filters, not copies of one).
    Distinct,
}

/// How the server frames the push queries' answers (its `sluice.query.result.frames`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultFrames {
    /// The server's default and ksqlDB's: an HTTP/2 DATA frame per row.
    Row,
    /// Up to 256 rows per DATA frame, for clients that read lines.
    Batch,
}

impl ResultFrames {
    /// The property's value.
    pub fn property(self) -> &'static str {
        match self {
            ResultFrames::Row => "row",
            ResultFrames::Batch => "batch",
        }
    }
}

/// Which stream the idle queries read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleStream {
    /// The streams the producers write (idle query i reads `bench_<i % streams>`): every
    /// acked row reaches every idle query.
    Written,
    /// `bench_idle`, which nothing writes: the queries get no rows at all.
    Quiet,
}
