//! One producer: one HTTP/2 `/inserts-stream` request streaming rows in chunks, with at most
//! `window` rows unacked, flat out or paced; and, on the same stream, a reader of its acks
//! that measures each row's ack latency from the row's scheduled send time.
//!
//! ```text
//!  schedule ─► window permits ─► RowGen chunk ─► in-flight queue ─► send_data ─► server
//!  server ─► acks ─► Lines ─► pop in-flight (scheduled µs) ─► Latency ─► permits back
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::client::{headers, Lines, H2};
use super::latency::{Latency, Schedule};
use super::rows::RowSource;
use super::shared::Progress;

/// How long a producer waits for its last acks after its body ended.
pub const FINAL_ACKS_TIMEOUT: Duration = Duration::from_secs(30);

/// What one ok ack starts with (protocol/ingest/ack_encoder, delimited format).
const ACK_OK_PREFIX: &[u8] = b"{\"status\":\"ok\",\"seq\":";

pub struct ProducerSpec {
    pub index: usize,
    pub addr: SocketAddr,
    pub stream: String,
    pub stream_index: usize,
    /// Row ids are `seq * stride + lane`: unique among the `stride` producers of a stream,
    /// so a consumer can tell whose row it saw and which are missing.
    pub lane: u64,
    pub stride: u64,
    pub rows_max: u64,
    pub window_rows: u32,
    pub chunk_rows: u32,
    pub schedule: Schedule,
    pub gen: Box<dyn RowSource>,
    /// Rows' times are µs since `epoch`; the schedule starts at `start_us`.
    pub epoch: Instant,
    pub start_us: u64,
    pub deadline: Instant,
}

#[derive(Debug)]
pub struct ProducerReport {
    pub index: usize,
    pub stream_index: usize,
    pub lane: u64,
    pub stride: u64,
    pub sent_rows: u64,
    pub sent_bytes: u64,
    pub acked_rows: u64,
    pub acked_bytes: u64,
    /// When the last ack arrived, µs since the epoch.
    pub last_ack_us: u64,
    pub ack_latency: Latency,
    pub error: Option<String>,
}

/// Rows sent and not yet acked, oldest first: (scheduled µs, row bytes).
struct InFlight {
    rows: Mutex<VecDeque<(u64, u32)>>,
    /// One permit per row the window still allows; acks give them back.
    window: Semaphore,
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

pub async fn run(spec: ProducerSpec, progress: Arc<Progress>) -> ProducerReport {
    let mut report = ProducerReport {
        index: spec.index,
        stream_index: spec.stream_index,
        lane: spec.lane,
        stride: spec.stride,
        sent_rows: 0,
        sent_bytes: 0,
        acked_rows: 0,
        acked_bytes: 0,
        last_ack_us: 0,
        ack_latency: Latency::new(),
        error: None,
    };
    if let Err(e) = produce(spec, &progress, &mut report).await {
        report.error = Some(format!("{e:#}"));
    }
    report
}

async fn produce(
    mut spec: ProducerSpec,
    progress: &Arc<Progress>,
    report: &mut ProducerReport,
) -> anyhow::Result<()> {
    let mut conn = H2::connect(spec.addr).await?;
    let (mut tx, resp) = conn.open("/inserts-stream").await?;
    let target = serde_json::json!({ "target": spec.stream }).to_string() + "\n";
    tx.send_data(Bytes::from(target))
        .await
        .map_err(|_| anyhow::anyhow!("the server stopped reading the inserts request"))?;
    let resp = headers(resp).await?;
    if resp.status() != StatusCode::OK {
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        bail!(
            "/inserts-stream answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let in_flight = Arc::new(InFlight {
        rows: Mutex::new(VecDeque::with_capacity(spec.window_rows as usize)),
        window: Semaphore::new(spec.window_rows as usize),
    });
    let acks = tokio::spawn(read_acks(
        Lines::new(resp.into_body()),
        Arc::clone(&in_flight),
        spec.epoch,
        Arc::clone(progress),
    ));

    let mut chunk = BytesMut::new();
    let mut scratch = Vec::with_capacity(spec.chunk_rows as usize * 128);
    let mut seq = 0u64;
    while seq < spec.rows_max && Instant::now() < spec.deadline {
        let mut n = u64::from(spec.chunk_rows).min(spec.rows_max - seq);
        let since_start_us = micros_since(spec.epoch).saturating_sub(spec.start_us);
        if let Some(due) = spec.schedule.due_count(since_start_us) {
            if due <= seq {
                let next_us = spec.start_us + spec.schedule.due_us(seq).expect("paced");
                tokio::time::sleep_until(spec.epoch + Duration::from_micros(next_us)).await;
                continue;
            }
            n = n.min(due - seq);
        }
        let n32 = u32::try_from(n).expect("n is at most chunk_rows");
        let permit = tokio::select! {
            p = in_flight.window.acquire_many(n32) => p,
            () = tokio::time::sleep_until(spec.deadline) => break,
        };
        match permit {
            Ok(p) => p.forget(),
            // The ack reader closed the window: it failed, and says why below.
            Err(_) => break,
        }
        let now_us = micros_since(spec.epoch);
        scratch.clear();
        {
            let mut rows = in_flight
                .rows
                .lock()
                .expect("in-flight lock is never poisoned");
            for i in 0..n {
                let row_seq = seq + i;
                let scheduled_us = spec
                    .schedule
                    .due_us(row_seq)
                    .map_or(now_us, |due| spec.start_us + due);
                let before = scratch.len();
                spec.gen.write_row(
                    row_seq * spec.stride + spec.lane,
                    scheduled_us,
                    &mut scratch,
                );
                let len = u32::try_from(scratch.len() - before - 1).expect("rows are small");
                rows.push_back((scheduled_us, len));
            }
        }
        chunk.extend_from_slice(&scratch);
        report.sent_bytes += scratch.len() as u64 - n;
        if tx.send_data(chunk.split().freeze()).await.is_err() {
            // The connection is gone; the ack reader reports why.
            break;
        }
        seq += n;
        report.sent_rows = seq;
        progress.sent_rows.fetch_add(n, Ordering::Relaxed);
    }
    // Ending the body tells the server no more rows come; it acks the rest and ends.
    drop(tx);
    let outcome = tokio::time::timeout(FINAL_ACKS_TIMEOUT, acks)
        .await
        .context("timed out waiting for the final acks")?
        .context("ack reader panicked")?;
    report.acked_rows = outcome.acked_rows;
    report.acked_bytes = outcome.acked_bytes;
    report.last_ack_us = outcome.last_ack_us;
    report.ack_latency = outcome.latency;
    if let Some(e) = outcome.error {
        bail!(e);
    }
    if report.acked_rows != report.sent_rows {
        bail!(
            "{} rows sent but {} acked before the response ended",
            report.sent_rows,
            report.acked_rows
        );
    }
    Ok(())
}

struct AckOutcome {
    acked_rows: u64,
    acked_bytes: u64,
    last_ack_us: u64,
    latency: Latency,
    error: Option<String>,
}

async fn read_acks(
    mut lines: Lines,
    in_flight: Arc<InFlight>,
    epoch: Instant,
    progress: Arc<Progress>,
) -> AckOutcome {
    let mut out = AckOutcome {
        acked_rows: 0,
        acked_bytes: 0,
        last_ack_us: 0,
        latency: Latency::new(),
        error: None,
    };
    loop {
        let mut ok = 0u64;
        let mut bad: Option<String> = None;
        let expected_first = out.acked_rows;
        let more = lines
            .next_chunk(|line| {
                if bad.is_some() {
                    return;
                }
                match ack_seq(line) {
                    Some(seq) if seq == expected_first + ok => ok += 1,
                    Some(seq) => {
                        bad = Some(format!(
                            "ack for seq {seq}, expected {}",
                            expected_first + ok
                        ));
                    }
                    None => bad = Some(String::from_utf8_lossy(line).into_owned()),
                }
            })
            .await;
        if ok > 0 {
            let now_us = micros_since(epoch);
            let mut rows = in_flight
                .rows
                .lock()
                .expect("in-flight lock is never poisoned");
            for _ in 0..ok {
                let Some((scheduled_us, len)) = rows.pop_front() else {
                    bad = Some("more acks than rows sent".into());
                    break;
                };
                out.latency.record(scheduled_us, now_us);
                out.acked_bytes += u64::from(len);
                out.acked_rows += 1;
            }
            drop(rows);
            in_flight
                .window
                .add_permits(usize::try_from(ok).expect("small"));
            progress.acked_rows.fetch_add(ok, Ordering::Relaxed);
            out.last_ack_us = now_us;
        }
        let more = match more {
            Ok(more) => more,
            Err(e) => {
                bad.get_or_insert(format!("{e:#}"));
                false
            }
        };
        if let Some(e) = bad {
            in_flight.window.close();
            out.error = Some(e);
            return out;
        }
        if !more {
            return out;
        }
    }
}

/// The `seq` of an ok ack line, or `None` for anything else (an error ack ends the stream).
fn ack_seq(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(ACK_OK_PREFIX)?.strip_suffix(b"}")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_lines() {
        assert_eq!(ack_seq(b"{\"status\":\"ok\",\"seq\":0}"), Some(0));
        assert_eq!(ack_seq(b"{\"status\":\"ok\",\"seq\":12345}"), Some(12345));
        assert_eq!(
            ack_seq(b"{\"status\":\"error\",\"seq\":3,\"errorCode\":40000,\"message\":\"x\"}"),
            None
        );
        assert_eq!(ack_seq(b""), None);
    }
}
