//! Idle push queries (`--idle-queries N`): many `SELECT * … EMIT CHANGES` queries (from
//! latest) held open over a few shared HTTP/2 connections, to measure what one costs the
//! server while it waits, and whether a node holds that many at once.
//!
//! ```text
//!  RSS before ─► open N over ⌈N / 1000⌉ connections, wait for every header
//!  ─► 1 s with only idle queries attached: server CPU, then RSS ─► … the normal workload …
//!  ─► wait until every query has counted its stream's acked rows ─► RSS
//!  ─► /close-query each (over its own connection) ─► count bodies that then ended cleanly
//! ```
//!
//! On `written` streams every row reaches every idle query, so their work per append shows in
//! the workload's server CPU; on the `quiet` stream nothing is written and they get nothing.
//! Each reader only counts lines, no per-row bookkeeping, so 10,000 stay cheap for the client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_server::connection::H2_CONCURRENT_STREAMS_MAX;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::client::H2;
use super::consumer::{self, StartFrom};
use super::proc_stats::{self, ProcSample};
use super::report::IdleLine;
use super::shared::{stream_name, IdleStream, ResultFrames};

/// Idle queries per HTTP/2 connection: below the server's SETTINGS_MAX_CONCURRENT_STREAMS
/// (`H2_CONCURRENT_STREAMS_MAX`, 1024), so each connection keeps room for the `/close-query`
/// calls sent over it at the end. 10,000 queries take 10 connections.
pub const QUERIES_PER_CONNECTION_MAX: usize = 1000;
const _: () = assert!(QUERIES_PER_CONNECTION_MAX < H2_CONCURRENT_STREAMS_MAX as usize);

/// How long the server sits with only the idle queries attached, after the last header and
/// before its RSS is sampled: its CPU over this time is what idle queries cost at rest.
pub const SETTLE: Duration = Duration::from_secs(1);

/// How long all the idle queries' bodies may take to end once every close was sent.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The stream `quiet` idle queries read: created empty, never written.
pub const QUIET_STREAM: &str = "bench_idle";

/// One idle query whose header has arrived.
struct IdleQuery {
    query_id: String,
    /// The bench stream it reads; `None` for the quiet stream.
    stream_index: Option<usize>,
    rows: Arc<AtomicU64>,
    reader: JoinHandle<ReaderEnd>,
}

/// How an idle query's body ended.
struct ReaderEnd {
    /// Lines that were not `[…]` rows (an error line, a partial last line).
    unexpected: u64,
    error: Option<String>,
}

/// The open idle queries, grouped by the connection that carries them, and what was measured
/// so far.
pub struct IdleQueries {
    conns: Vec<(H2, Vec<IdleQuery>)>,
    line: IdleLine,
}

/// Opens `count` idle queries and samples the server (`pid`) before and after.
pub async fn open(
    addr: SocketAddr,
    count: usize,
    stream: IdleStream,
    streams: usize,
    pid: Option<u32>,
) -> anyhow::Result<IdleQueries> {
    let connections = count.div_ceil(QUERIES_PER_CONNECTION_MAX);
    let before = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let start = Instant::now();
    // Connections open their share one query after another, all connections at once.
    let mut openers = Vec::with_capacity(connections);
    for c in 0..connections {
        let conn = H2::connect(addr).await?;
        let indexes: Vec<usize> = (c..count).step_by(connections).collect();
        openers.push(tokio::spawn(open_on(conn, indexes, stream, streams)));
    }
    let mut conns = Vec::with_capacity(connections);
    let mut error = None;
    for opener in openers {
        let (conn, queries, e) = opener.await.context("opening idle queries panicked")?;
        error = error.or(e);
        conns.push((conn, queries));
    }
    let opened: usize = conns.iter().map(|(_, q)| q.len()).sum();
    let open_s = start.elapsed().as_secs_f64();

    let opened_sample = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let settle_start = Instant::now();
    tokio::time::sleep(SETTLE).await;
    let settled = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let idle_cpu_percent = opened_sample.zip(settled).map(|(o, s)| {
        #[allow(clippy::cast_precision_loss)]
        let cpu_us = s.cpu_us.saturating_sub(o.cpu_us) as f64;
        cpu_us * 100.0 / (settle_start.elapsed().as_secs_f64() * 1e6)
    });
    let line = IdleLine {
        queries: count,
        opened,
        stream,
        connections,
        open_s,
        server_rss_before_bytes: before.map(|s| s.rss_bytes),
        server_rss_opened_bytes: settled.map(|s| s.rss_bytes),
        server_rss_after_load_bytes: None,
        server_rss_bytes_per_query: per_query(before, settled, opened),
        server_rss_bytes_per_query_after_load: None,
        server_cpu_percent_while_idle: idle_cpu_percent,
        received_all: 0,
        closed: 0,
        error,
    };
    Ok(IdleQueries { conns, line })
}

/// RSS growth between two samples, per query.
#[allow(clippy::cast_precision_loss)]
fn per_query(before: Option<ProcSample>, after: Option<ProcSample>, n: usize) -> Option<f64> {
    let (b, a) = before.zip(after)?;
    (n > 0).then(|| (a.rss_bytes as f64 - b.rss_bytes as f64) / n as f64)
}

async fn open_on(
    mut conn: H2,
    indexes: Vec<usize>,
    stream: IdleStream,
    streams: usize,
) -> (H2, Vec<IdleQuery>, Option<String>) {
    let mut queries = Vec::with_capacity(indexes.len());
    for i in indexes {
        let stream_index = match stream {
            IdleStream::Written => Some(i % streams),
            IdleStream::Quiet => None,
        };
        let name = stream_index.map_or_else(|| QUIET_STREAM.to_string(), stream_name);
        match consumer::request(
            &mut conn,
            (&name, ResultFrames::Row),
            StartFrom::Latest,
            None,
        )
        .await
        {
            Ok((query_id, lines)) => {
                let (body, rest) = lines.into_parts();
                let rows = Arc::new(AtomicU64::new(0));
                let reader = tokio::spawn(count_rows(body, rest.freeze(), Arc::clone(&rows)));
                queries.push(IdleQuery {
                    query_id,
                    stream_index,
                    rows,
                    reader,
                });
            }
            Err(e) => return (conn, queries, Some(format!("idle query {i}: {e:#}"))),
        }
    }
    (conn, queries, None)
}

/// Reads a body to its end, counting rows.
async fn count_rows(mut body: Incoming, rest: bytes::Bytes, rows: Arc<AtomicU64>) -> ReaderEnd {
    let mut lines = LineCounter::default();
    rows.fetch_add(lines.feed(&rest), Ordering::Relaxed);
    loop {
        match body.frame().await {
            None => {
                return ReaderEnd {
                    unexpected: lines.finish(),
                    error: None,
                }
            }
            Some(Err(e)) => {
                return ReaderEnd {
                    unexpected: lines.finish(),
                    error: Some(format!("reading the body: {e}")),
                }
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    rows.fetch_add(lines.feed(&data), Ordering::Relaxed);
                }
            }
        }
    }
}

/// Counts delimited result lines however the body is split: a line starting with `[` is a
/// row; anything else (an error object) is unexpected.
#[derive(Debug)]
struct LineCounter {
    at_line_start: bool,
    /// The current line's first byte.
    first: u8,
    unexpected: u64,
}

impl Default for LineCounter {
    fn default() -> LineCounter {
        LineCounter {
            at_line_start: true,
            first: b'\n',
            unexpected: 0,
        }
    }
}

impl LineCounter {
    /// Rows completed in `data`.
    fn feed(&mut self, data: &[u8]) -> u64 {
        let mut rows = 0;
        for &b in data {
            if self.at_line_start {
                self.first = b;
            }
            self.at_line_start = b == b'\n';
            if b == b'\n' {
                if self.first == b'[' {
                    rows += 1;
                } else {
                    self.unexpected += 1;
                }
            }
        }
        rows
    }

    /// Unexpected lines, counting an unterminated last one.
    fn finish(&self) -> u64 {
        self.unexpected + u64::from(!self.at_line_start)
    }
}

impl IdleQueries {
    /// Waits (bounded) until every idle query on a written stream has counted its stream's
    /// acked rows, then samples the server's RSS with all of them still attached.
    pub async fn after_load(
        &mut self,
        acked_per_stream: &[u64],
        pid: Option<u32>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let expected = |q: &IdleQuery| q.stream_index.map_or(0, |s| acked_per_stream[s]);
        let deadline = Instant::now() + timeout;
        for q in self.conns.iter().flat_map(|(_, qs)| qs) {
            while q.rows.load(Ordering::Relaxed) < expected(q) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.line.received_all = self
            .conns
            .iter()
            .flat_map(|(_, qs)| qs)
            .filter(|q| q.rows.load(Ordering::Relaxed) == expected(q))
            .count();
        let after = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
        self.line.server_rss_after_load_bytes = after.map(|s| s.rss_bytes);
        self.line.server_rss_bytes_per_query_after_load = self
            .line
            .server_rss_before_bytes
            .zip(after)
            .filter(|_| self.line.opened > 0)
            .map(|(before, a)| {
                #[allow(clippy::cast_precision_loss)]
                let grown = a.rss_bytes as f64 - before as f64;
                #[allow(clippy::cast_precision_loss)]
                let n = self.line.opened as f64;
                grown / n
            });
        Ok(())
    }

    /// Closes every idle query with `/close-query` (each connection its own, all connections
    /// at once) and counts those whose body then ended cleanly.
    pub async fn close(self) -> IdleLine {
        let mut line = self.line;
        let closers: Vec<_> = self
            .conns
            .into_iter()
            .map(|(conn, queries)| tokio::spawn(close_on(conn, queries)))
            .collect();
        for closer in closers {
            match closer.await {
                Ok((closed, error)) => {
                    line.closed += closed;
                    line.error = line.error.take().or(error);
                }
                Err(e) => line.error = line.error.take().or(Some(format!("closer: {e}"))),
            }
        }
        line
    }
}

/// Closes `queries`; returns how many ended cleanly and the first problem.
async fn close_on(mut conn: H2, queries: Vec<IdleQuery>) -> (usize, Option<String>) {
    let mut error = None;
    let mut closed_ok = Vec::with_capacity(queries.len());
    for q in &queries {
        let r = conn.close_query(&q.query_id).await;
        if let Err(e) = &r {
            error = error.or_else(|| Some(format!("{e:#}")));
        }
        closed_ok.push(r.is_ok());
    }
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    let mut clean = 0;
    for (mut q, closed) in queries.into_iter().zip(closed_ok) {
        match tokio::time::timeout_at(deadline, &mut q.reader).await {
            Ok(Ok(end)) => {
                if let Some(e) = end.error {
                    error = error.or(Some(format!("idle query {}: {e}", q.query_id)));
                } else if end.unexpected > 0 {
                    error = error.or(Some(format!(
                        "idle query {}: {} lines that were not rows",
                        q.query_id, end.unexpected
                    )));
                } else if closed {
                    clean += 1;
                }
            }
            Ok(Err(e)) => error = error.or(Some(format!("idle query reader: {e}"))),
            Err(_) => {
                q.reader.abort();
                error = error.or(Some(format!(
                    "idle query {}: the body did not end after /close-query",
                    q.query_id
                )));
            }
        }
    }
    (clean, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"[1,2,\"a\"]\n[3,4,\"b\"]\n{\"@type\":\"generic_error\"}\n[5,6,\"c\"]\n";

    #[test]
    fn counts_rows_however_the_body_is_split() {
        for split in 0..=BODY.len() {
            let mut lines = LineCounter::default();
            let rows = lines.feed(&BODY[..split]) + lines.feed(&BODY[split..]);
            assert_eq!((rows, lines.finish()), (3, 1), "split at {split}");
        }
    }

    #[test]
    fn an_unterminated_last_line_is_unexpected() {
        let mut lines = LineCounter::default();
        assert_eq!(lines.feed(b"[1]\n[2"), 1);
        assert_eq!(lines.finish(), 1);
    }
}
