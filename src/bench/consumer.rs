//! One push query: `SELECT * FROM <stream> EMIT CHANGES` over its own HTTP/2 connection,
//! read as delimited rows. Each row's `ID` marks it seen (to find missing and duplicate rows
//! later) and its `TS`, the row's scheduled send time, gives its end-to-end latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use sluice_server::faces::ksqldb::query_stream::RESULT_FRAMES_PROPERTY;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::client::{headers, Lines, H2};
use super::latency::Latency;
use super::rows::parse_id_ts;
use super::shared::{Progress, ResultFrames};

/// Where a push query starts reading (ksqlDB's `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Only rows produced after the query started: live tailing.
    Latest,
    /// Every stored row first: catch-up.
    Earliest,
}

impl StartFrom {
    fn property(self) -> &'static str {
        match self {
            StartFrom::Latest => "latest",
            StartFrom::Earliest => "earliest",
        }
    }
}

pub struct ConsumerSpec {
    pub index: usize,
    pub addr: SocketAddr,
    pub stream: String,
    pub stream_index: usize,
    pub start_from: StartFrom,
    pub epoch: Instant,
    /// `Some`: only the stream's rows this slice selects (`WHERE ID % n = k`).
    pub slice: Option<IdSlice>,
    pub frames: ResultFrames,
}

/// The rows `WHERE ID % modulus = remainder` selects: with `--query-filter distinct`, the
/// queries on one stream split its rows, each with its own WHERE clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdSlice {
    pub modulus: u64,
    pub remainder: u64,
}

impl IdSlice {
    pub fn contains(self, id: u64) -> bool {
        id % self.modulus == self.remainder
    }
}

/// A push query whose header has arrived: it is registered and sees every later row.
pub struct RunningQuery {
    pub query_id: String,
    pub stream_index: usize,
    /// Rows read so far (the orchestrator waits on it while draining).
    pub rows: Arc<AtomicU64>,
    pub task: JoinHandle<ConsumerReport>,
    /// Tells the reader to stop if closing the query did not end its body.
    pub stop: watch::Sender<bool>,
    pub slice: Option<IdSlice>,
}

#[derive(Debug)]
pub struct ConsumerReport {
    pub index: usize,
    pub stream_index: usize,
    pub slice: Option<IdSlice>,
    pub started_us: u64,
    pub rows: u64,
    pub bytes: u64,
    pub seen: SeenIds,
    /// Rows whose id was already seen.
    pub duplicates: u64,
    /// Lines that were not `[<id>,<ts>,...]` rows (errors, a final message).
    pub unparsed: u64,
    pub unparsed_example: Option<String>,
    pub e2e_latency: Latency,
    pub first_row_us: u64,
    pub last_row_us: u64,
    pub error: Option<String>,
}

/// A bitset of row ids.
#[derive(Debug, Default)]
pub struct SeenIds {
    words: Vec<u64>,
}

impl SeenIds {
    /// Marks `id` seen; `false` if it already was.
    pub fn insert(&mut self, id: u64) -> bool {
        let word = usize::try_from(id / 64).expect("ids fit in memory");
        if word >= self.words.len() {
            self.words.resize((word + 1).next_power_of_two(), 0);
        }
        let bit = 1u64 << (id % 64);
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        new
    }

    pub fn contains(&self, id: u64) -> bool {
        usize::try_from(id / 64)
            .ok()
            .and_then(|w| self.words.get(w))
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Starts the query and returns once its header has arrived.
pub async fn start(spec: ConsumerSpec, progress: Arc<Progress>) -> anyhow::Result<RunningQuery> {
    let started_us = micros_since(spec.epoch);
    let mut conn = H2::connect(spec.addr).await?;
    let target = (spec.stream.as_str(), spec.frames);
    let (query_id, lines) = request(&mut conn, target, spec.start_from, spec.slice).await?;
    let rows = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let report = ConsumerReport {
        index: spec.index,
        stream_index: spec.stream_index,
        slice: spec.slice,
        started_us,
        rows: 0,
        bytes: 0,
        seen: SeenIds::default(),
        duplicates: 0,
        unparsed: 0,
        unparsed_example: None,
        e2e_latency: Latency::new(),
        first_row_us: 0,
        last_row_us: 0,
        error: None,
    };
    let task = tokio::spawn(read_rows(
        lines,
        report,
        spec.epoch,
        Arc::clone(&rows),
        progress,
        stopped,
        // Conn must live as long as the body is read.
        conn,
    ));
    Ok(RunningQuery {
        query_id,
        stream_index: spec.stream_index,
        rows,
        task,
        stop,
        slice: spec.slice,
    })
}

/// Sends `SELECT * FROM <stream> [WHERE ID % n = k] EMIT CHANGES` over `conn` and waits for
/// the header: returns the query id and the body's lines after the header.
pub async fn request(
    conn: &mut H2,
    (stream, frames): (&str, ResultFrames),
    start_from: StartFrom,
    slice: Option<IdSlice>,
) -> anyhow::Result<(String, Lines)> {
    let (mut tx, resp) = conn.open("/query-stream").await?;
    let filter = slice.map_or(String::new(), |s| {
        format!(" WHERE ID % {} = {}", s.modulus, s.remainder)
    });
    let body = serde_json::json!({
        "sql": format!("SELECT * FROM {stream}{filter} EMIT CHANGES;"),
        "properties": {
            "auto.offset.reset": start_from.property(),
            RESULT_FRAMES_PROPERTY: frames.property(),
        },
    })
    .to_string();
    tx.send_data(Bytes::from(body))
        .await
        .map_err(|_| anyhow::anyhow!("the server stopped reading the query request"))?;
    drop(tx);
    let resp = headers(resp).await?;
    if resp.status() != StatusCode::OK {
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        bail!(
            "/query-stream answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let mut lines = Lines::new(resp.into_body());
    let header = lines.first_line().await?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).context("the query header is not JSON")?;
    let query_id = header["queryId"]
        .as_str()
        .with_context(|| format!("no queryId in the header {header}"))?
        .to_string();
    Ok((query_id, lines))
}

async fn read_rows(
    mut lines: Lines,
    mut report: ConsumerReport,
    epoch: Instant,
    rows: Arc<AtomicU64>,
    progress: Arc<Progress>,
    mut stopped: watch::Receiver<bool>,
    _conn: H2,
) -> ConsumerReport {
    loop {
        let mut n = 0u64;
        // The arrival time of the data, read when the first line of it is seen.
        let mut arrived_us: Option<u64> = None;
        let r = &mut report;
        let chunk = lines.next_chunk(|line| {
            let Some((id, ts)) = parse_id_ts(line) else {
                if !line.is_empty() {
                    r.unparsed += 1;
                    r.unparsed_example
                        .get_or_insert_with(|| String::from_utf8_lossy(line).into_owned());
                }
                return;
            };
            n += 1;
            r.bytes += line.len() as u64;
            let now_us = *arrived_us.get_or_insert_with(|| micros_since(epoch));
            r.e2e_latency.record(ts, now_us);
            if !r.seen.insert(id) {
                r.duplicates += 1;
            }
        });
        let more = tokio::select! {
            more = chunk => more,
            _ = stopped.changed() => Ok(false),
        };
        if n > 0 {
            let now_us = arrived_us.unwrap_or_else(|| micros_since(epoch));
            if report.rows == 0 {
                report.first_row_us = now_us;
            }
            report.last_row_us = now_us;
            report.rows += n;
            rows.fetch_add(n, Ordering::Relaxed);
            progress.pushed_rows.fetch_add(n, Ordering::Relaxed);
        }
        match more {
            Ok(true) => {}
            Ok(false) => return report,
            Err(e) => {
                report.error = Some(format!("{e:#}"));
                return report;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_find_duplicates_and_gaps() {
        let mut seen = SeenIds::default();
        assert!(seen.insert(0));
        assert!(seen.insert(1_000_003));
        assert!(!seen.insert(0));
        assert!(seen.contains(1_000_003));
        assert!(!seen.contains(1_000_002));
        assert!(!seen.contains(u64::MAX));
    }
}
