//! The metric families the server keeps, and the handles the data path bumps.
//!
//! A family lookup (a read lock and a hash of the labels) happens once per insert session or
//! query, when it starts; the handle it returns is an `Arc` of an atomic, so every later
//! count is one relaxed `fetch_add` on a chunk of rows, with no lock and no name lookup.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sluice_engine::api::metrics::LatencyHistogram;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StreamLabels {
    pub(crate) stream: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct QueryLabels {
    pub(crate) query_id: String,
    pub(crate) stream: String,
}

/// Everything the server counts itself (the engine and the process are read at scrape time).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Rows received on `/inserts-stream`, by target stream. A map rather than a family
    /// because the scrape adds the rows persistent queries wrote into each stream (from the
    /// engine) before encoding; it is locked only when a session opens and when scraped.
    pub(crate) stream_rows_in: Mutex<BTreeMap<String, Counter>>,
    /// Request-body bytes received on `/inserts-stream`, by target stream.
    pub(crate) stream_bytes_in: Family<StreamLabels, Counter>,
    /// Insert sessions that ended with an error ack (a bad row, a failed write).
    pub(crate) stream_insert_errors: Family<StreamLabels, Counter>,
    /// Result rows and encoded bytes sent to push and pull query clients, by the stream or
    /// table they read.
    pub(crate) stream_rows_out: Family<StreamLabels, Counter>,
    pub(crate) stream_bytes_out: Family<StreamLabels, Counter>,
    /// The same per running transient query; a query's series go when it ends, so the
    /// number of series stays bounded by the push-query limit.
    pub(crate) query_rows_out: Family<QueryLabels, Counter>,
    pub(crate) query_bytes_out: Family<QueryLabels, Counter>,
    /// Transient queries that ended with an error.
    pub(crate) query_errors: Counter,
    /// Connections being served now.
    pub(crate) connections_open: Gauge,
    /// From a batch's first row reaching the server to the batch's acks being written.
    pub(crate) ack_latency: LatencyHistogram,
    /// From a record's timestamp to its query's result rows being written (Kafka Streams'
    /// `record-e2e-latency`: wall clock minus record time).
    pub(crate) e2e_latency: LatencyHistogram,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The counters of one insert session into `stream`.
    pub fn stream(self: &Arc<Self>, stream: &str) -> StreamCounters {
        let labels = StreamLabels {
            stream: stream.to_string(),
        };
        StreamCounters {
            rows_in: self
                .stream_rows_in
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(labels.stream.clone())
                .or_default()
                .clone(),
            bytes_in: self.stream_bytes_in.get_or_create_owned(&labels),
            insert_errors: self.stream_insert_errors.get_or_create_owned(&labels),
            metrics: Arc::clone(self),
        }
    }

    /// The counters of one transient query `query_id` reading `stream`; a push query's
    /// per-query series are removed when the returned handle drops. A pull query counts into
    /// its stream's series only: it ends within a scrape interval, so a series of its own
    /// would never be seen, and making and removing one was a share of a key lookup's cost.
    pub fn query(self: &Arc<Self>, query_id: &str, stream: &str, push: bool) -> QueryCounters {
        let stream_labels = StreamLabels {
            stream: stream.to_string(),
        };
        let own = push.then(|| {
            let labels = QueryLabels {
                query_id: query_id.to_string(),
                stream: stream.to_string(),
            };
            OwnSeries {
                rows_out: self.query_rows_out.get_or_create_owned(&labels),
                bytes_out: self.query_bytes_out.get_or_create_owned(&labels),
                labels,
            }
        });
        QueryCounters {
            stream_rows_out: self.stream_rows_out.get_or_create_owned(&stream_labels),
            stream_bytes_out: self.stream_bytes_out.get_or_create_owned(&stream_labels),
            own,
            metrics: Arc::clone(self),
        }
    }

    /// Counts an open connection until the returned guard drops.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_open.inc();
        ConnectionGuard {
            metrics: Arc::clone(self),
        }
    }
}

/// An insert session's counters (its reading and acking tasks each hold a clone).
#[derive(Clone)]
pub struct StreamCounters {
    rows_in: Counter,
    bytes_in: Counter,
    insert_errors: Counter,
    metrics: Arc<Metrics>,
}

impl StreamCounters {
    /// Counts rows received and the body bytes they came in.
    pub fn received(&self, rows: usize, bytes: usize) {
        self.rows_in.inc_by(rows as u64);
        self.bytes_in.inc_by(bytes as u64);
    }

    /// Counts an acked batch's latency.
    pub fn acked(&self, elapsed: Duration) {
        self.metrics.ack_latency.observe(elapsed);
    }

    pub fn failed(&self) {
        self.insert_errors.inc();
    }
}

/// A transient query's counters.
pub struct QueryCounters {
    stream_rows_out: Counter,
    stream_bytes_out: Counter,
    /// A push query's own series.
    own: Option<OwnSeries>,
    metrics: Arc<Metrics>,
}

/// A push query's `query_id`-labelled series.
struct OwnSeries {
    rows_out: Counter,
    bytes_out: Counter,
    labels: QueryLabels,
}

impl QueryCounters {
    /// Counts a chunk of result rows sent, its encoded bytes, and (if the query read
    /// records for it) the age of the oldest record behind it.
    pub fn sent(&self, rows: usize, bytes: usize, record_age_ms: Option<i64>) {
        if rows > 0 {
            if let Some(own) = &self.own {
                own.rows_out.inc_by(rows as u64);
            }
            self.stream_rows_out.inc_by(rows as u64);
            if let Some(age_ms) = record_age_ms {
                // A record stamped in the future (another host's clock) counts as no delay.
                let age_us = u64::try_from(age_ms).unwrap_or(0).saturating_mul(1000);
                self.metrics.e2e_latency.observe_us(age_us);
            }
        }
        if let Some(own) = &self.own {
            own.bytes_out.inc_by(bytes as u64);
        }
        self.stream_bytes_out.inc_by(bytes as u64);
    }

    pub fn failed(&self) {
        self.metrics.query_errors.inc();
    }
}

impl Drop for QueryCounters {
    fn drop(&mut self) {
        if let Some(own) = &self.own {
            self.metrics.query_rows_out.remove(&own.labels);
            self.metrics.query_bytes_out.remove(&own.labels);
        }
    }
}

/// An open connection, counted until dropped.
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics.connections_open.dec();
    }
}
