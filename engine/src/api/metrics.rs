//! What the engine counts for operators' metrics (the server's `/metrics` encodes it):
//! fsync latency, persistent queries' throughput, lag and errors, state store size, and the
//! lock-free histogram faces use for their own latencies.
//!
//! Everything here is read at scrape time from counters the data path keeps anyway or adds
//! to once per batch; nothing is looked up per row.

use std::path::Path;

pub use crate::metrics::{HistogramSnapshot, LatencyHistogram, LATENCY_BUCKET_BOUNDS_US};
pub use crate::query::persistent::{PersistentQueryStats, QueryState};

use super::engine::Engine;
use crate::data_dir::STATE_DIR;

/// Files a state-store size scrape looks at, at most: a scrape must stay cheap however many
/// stateful queries there are (redb keeps one file per store; a store is a directory).
pub const STATE_STORE_SCAN_FILES_MAX: usize = 100_000;

impl Engine {
    /// How long the log's fsyncs took; `None` when the log does not fsync itself (Kafka).
    pub fn log_sync_latency(&self) -> Option<HistogramSnapshot> {
        self.rt.log.sync_latency()
    }

    /// How long stateful queries' state commits took in their stores.
    pub fn state_commit_latency(&self) -> HistogramSnapshot {
        self.rt.persistent.state_commit_latency()
    }

    /// State changelog records this node replayed into its stores (the Kafka backend: a
    /// query taken over from another node).
    pub fn state_restored_records(&self) -> u64 {
        self.rt.persistent.state_restored_records()
    }

    /// Every running persistent query's counters and lag.
    pub fn persistent_query_stats(&self) -> Vec<PersistentQueryStats> {
        self.rt.persistent.stats(self.rt.log.as_ref())
    }

    /// Rows persistent queries wrote into each stream or table since the start, by name.
    /// Never goes down, even when the queries end.
    pub fn stream_rows_written(&self) -> Vec<(String, u64)> {
        self.rt.persistent.rows_written_by_sink()
    }

    /// Bytes on disk of the stateful queries' state stores (`<data dir>/state`).
    pub fn state_store_bytes(&self) -> u64 {
        let mut budget = STATE_STORE_SCAN_FILES_MAX;
        dir_bytes(&self.data_dir.join(STATE_DIR), 0, &mut budget)
    }
}

/// Depth of the state directory's tree a scrape descends: `state/<query>.state/<files>`,
/// with a level to spare.
const STATE_DIR_DEPTH_MAX: usize = 3;

/// Bytes of the regular files under `dir`, not following symlinks.
fn dir_bytes(dir: &Path, depth: usize, budget: &mut usize) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            total += meta.len();
        } else if meta.is_dir() && depth < STATE_DIR_DEPTH_MAX {
            total += dir_bytes(&entry.path(), depth + 1, budget);
        }
    }
    total
}
