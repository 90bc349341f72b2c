//! `GET /metrics`: reads the server's families, the engine's counters and the process's
//! resource use, and encodes them in Prometheus' text format (0.0.4), or OpenMetrics when
//! the scraper's `Accept` asks for `application/openmetrics-text` (as Prometheus does).
//!
//! A scrape builds a small registry each time: the families are `Arc`s (cloning one copies a
//! pointer), and reading the engine here rather than keeping it registered means nothing in
//! the data path ever waits for a scrape.

use std::collections::BTreeMap;

use http::{header, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sluice_engine::api::metrics::{HistogramSnapshot, PersistentQueryStats, QueryState};
use sluice_engine::Engine;

use super::process::{self, ProcessStats};
use super::registry::Metrics;
use crate::body::frames_out::ResponseBody;
use crate::response::HttpResponse;

/// Prometheus' classic text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0 text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub fn handle(engine: &Engine, metrics: &Metrics, accept: Option<&str>) -> HttpResponse {
    let registry = registry(engine, metrics);
    let openmetrics = accept.is_some_and(|a| a.contains("application/openmetrics-text"));
    let mut text = String::with_capacity(16 * 1024);
    let encoded = if openmetrics {
        prometheus_client::encoding::text::encode(&mut text, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
    };
    if let Err(e) = encoded {
        // Encoding into a String only fails if a metric's own encoder does.
        tracing::error!(error = %e, "encoding metrics failed");
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(ResponseBody::empty())
            .expect("static response is valid");
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            if openmetrics {
                OPENMETRICS_TEXT
            } else {
                PROMETHEUS_TEXT
            },
        )
        .body(ResponseBody::full(text))
        .expect("static status and header are valid")
}

fn registry(engine: &Engine, metrics: &Metrics) -> Registry {
    let mut r = Registry::default();
    r.register(
        "sluice_stream_in_bytes",
        "Request body bytes received on /inserts-stream, by target stream",
        metrics.stream_bytes_in.clone(),
    );
    r.register(
        "sluice_stream_insert_errors",
        "Insert requests ended by an error ack (a bad row or a failed write), by target stream",
        metrics.stream_insert_errors.clone(),
    );
    r.register(
        "sluice_stream_rows_out",
        "Result rows sent to push and pull query clients, by the stream or table they read",
        metrics.stream_rows_out.clone(),
    );
    r.register(
        "sluice_stream_out_bytes",
        "Result bytes sent to push and pull query clients, by the stream or table they read",
        metrics.stream_bytes_out.clone(),
    );
    r.register(
        "sluice_transient_query_rows_out",
        "Result rows sent by each running push or pull query",
        metrics.query_rows_out.clone(),
    );
    r.register(
        "sluice_transient_query_out_bytes",
        "Result bytes sent by each running push or pull query",
        metrics.query_bytes_out.clone(),
    );
    r.register(
        "sluice_transient_query_errors",
        "Push and pull queries that ended with an error",
        metrics.query_errors.clone(),
    );
    r.register(
        "sluice_connections_open",
        "Client connections being served",
        metrics.connections_open.clone(),
    );
    r.register(
        "sluice_push_queries_open",
        "Push queries running",
        ConstGauge::new(engine.push_query_count() as i64),
    );
    r.register(
        "sluice_pull_plans_reused",
        "Pull queries (key lookups) planned from the kept plan of an earlier statement of the same shape",
        ConstCounter::new(engine.pull_plans_reused()),
    );
    r.register(
        "sluice_table_views_bytes",
        "Bytes of the rows kept for tables read from their topic (SOURCE tables, face tables)",
        ConstGauge::new(i64::try_from(engine.table_views_bytes()).unwrap_or(i64::MAX)),
    );
    r.register(
        "sluice_state_restored_records",
        "State changelog records replayed into this node's state stores (queries taken over from another node)",
        ConstCounter::new(engine.state_restored_records()),
    );
    r.register(
        "sluice_state_store_bytes",
        "Bytes on disk of stateful queries' state stores",
        ConstGauge::new(i64::try_from(engine.state_store_bytes()).unwrap_or(i64::MAX)),
    );
    let mut stream_rows_in: BTreeMap<String, u64> = metrics
        .stream_rows_in
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(stream, rows)| (stream.clone(), rows.get()))
        .collect();
    for (stream, rows) in engine.stream_rows_written() {
        *stream_rows_in.entry(stream).or_default() += rows;
    }
    r.register_collector(Box::new(Scraped {
        stream_rows_in,
        ack_latency: metrics.ack_latency.snapshot(),
        e2e_latency: metrics.e2e_latency.snapshot(),
        fsync_latency: engine.log_sync_latency(),
        state_commit_latency: engine.state_commit_latency(),
        persistent: engine.persistent_query_stats(),
        process: process::read(),
    }));
    r
}

/// What a scrape read from the engine and the process, encoded by hand where
/// `prometheus-client` has no ready metric type (histograms from snapshots, labelled values
/// computed now).
#[derive(Debug)]
struct Scraped {
    /// Rows into each stream: `/inserts-stream`'s and persistent queries' together.
    stream_rows_in: BTreeMap<String, u64>,
    ack_latency: HistogramSnapshot,
    e2e_latency: HistogramSnapshot,
    fsync_latency: Option<HistogramSnapshot>,
    state_commit_latency: HistogramSnapshot,
    persistent: Vec<PersistentQueryStats>,
    process: ProcessStats,
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "sluice_stream_rows_in",
            "Rows written into each stream or table: received on /inserts-stream and written by persistent queries",
            None,
            MetricType::Counter,
        )?;
        for (stream, rows) in &self.stream_rows_in {
            let labels = [("stream", stream.as_str())];
            ConstCounter::new(*rows).encode(family.encode_family(&labels)?)?;
        }
        histogram(
            &mut encoder,
            "sluice_insert_ack_latency_seconds",
            "From the first row of an insert batch reaching the server to the batch's acks being written",
            &self.ack_latency,
        )?;
        histogram(
            &mut encoder,
            "sluice_push_query_e2e_latency_seconds",
            "From a record's timestamp to query result rows from it being written (per chunk, oldest record)",
            &self.e2e_latency,
        )?;
        if let Some(fsync) = &self.fsync_latency {
            histogram(
                &mut encoder,
                "sluice_log_fsync_latency_seconds",
                "Duration of the embedded log's segment fsyncs",
                fsync,
            )?;
        }
        histogram(
            &mut encoder,
            "sluice_state_commit_latency_seconds",
            "Duration of stateful queries' state store commits (written beside the query, not in its way)",
            &self.state_commit_latency,
        )?;
        self.encode_persistent(&mut encoder)?;
        self.encode_process(&mut encoder)
    }
}

impl Scraped {
    fn encode_persistent(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Get = fn(&PersistentQueryStats) -> u64;
        let counters: [(&str, &str, Get); 3] = [
            (
                "sluice_persistent_query_rows_in",
                "Source records a persistent query has read and committed since the server started",
                |q| q.records_in,
            ),
            (
                "sluice_persistent_query_rows_out",
                "Records a persistent query has written to its sink since the server started",
                |q| q.records_out,
            ),
            (
                "sluice_persistent_query_errors",
                "Source records a persistent query skipped because they failed to decode",
                |q| q.records_skipped,
            ),
        ];
        for (name, help, get) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for q in &self.persistent {
                let labels = query_labels(q);
                ConstCounter::new(get(q)).encode(family.encode_family(&labels)?)?;
            }
        }
        let gauges: [(&str, &str, Get); 2] = [
            (
                "sluice_persistent_query_lag_records",
                "Source records not yet processed by a persistent query, over its source partitions",
                |q| q.lag_records,
            ),
            (
                "sluice_persistent_query_failed",
                "1 while a persistent query is stopped by an error (SHOW QUERIES' ERROR state)",
                |q| u64::from(q.state == QueryState::Error),
            ),
        ];
        for (name, help, get) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for q in &self.persistent {
                let labels = query_labels(q);
                let value = i64::try_from(get(q)).unwrap_or(i64::MAX);
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn encode_process(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // The names every Prometheus client library uses for these.
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                self.process.resident_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                self.process.open_fds,
            ),
            (
                "process_threads",
                "Number of OS threads",
                self.process.threads,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(metric)?;
            }
        }
        Ok(())
    }
}

fn query_labels(q: &PersistentQueryStats) -> [(&'static str, &str); 3] {
    [
        ("query_id", q.query_id.as_str()),
        ("source", q.source.as_str()),
        ("sink", q.sink.as_str()),
    ]
}

fn histogram(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    snapshot: &HistogramSnapshot,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    metric.encode_histogram::<NoLabelSet>(
        snapshot.sum_seconds(),
        snapshot.count(),
        &snapshot.buckets_seconds(),
        None,
    )
}
