//! PRINT over `/query` and `/query-stream`: a chunked plain-text stream of the topic's
//! records (ksqlDB serves PRINT on `/query` this way; on `/query-stream` Sluice serves the
//! same text rather than refusing it).
//!
//! ```text
//!  PrintHandle (engine) ─► PrintEncoder (format guess, text lines) ─► bounded channel ─► DATA
//! ```

use std::time::Duration;

use bytes::Bytes;
use sluice_engine::PrintHandle;
use sluice_protocol::ksqldb::query::print_encoder::PrintEncoder;
use tokio::sync::mpsc;

use crate::body::frames_out::ResponseBody;
use crate::response::{streaming, HttpResponse};

/// Content type of PRINT output: text lines, not JSON.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// After this long without a record, PRINT writes an empty line, as ksqlDB does after
/// each empty poll of its disconnect-check interval: it keeps proxies from timing the
/// stream out and shows a client that the server is alive.
pub const PRINT_IDLE_NEWLINE_MS: u64 = 1_000;

/// Records encoded into one response chunk.
pub const PRINT_CHUNK_RECORDS_MAX: usize = 256;

pub fn respond(stream: PrintHandle) -> HttpResponse {
    let (tx, body) = ResponseBody::channel();
    tokio::spawn(pump(stream, tx));
    streaming(TEXT_PLAIN, body)
}

async fn pump(mut stream: PrintHandle, tx: mpsc::Sender<Bytes>) {
    let mut encoder = PrintEncoder::new();
    let mut records = Vec::with_capacity(PRINT_CHUNK_RECORDS_MAX);
    let mut out = Vec::with_capacity(4096);
    let idle = Duration::from_millis(PRINT_IDLE_NEWLINE_MS);
    loop {
        records.clear();
        let step = tokio::select! {
            step = tokio::time::timeout(idle, stream.next_records(&mut records, PRINT_CHUNK_RECORDS_MAX)) => step,
            // The client went away: stop reading the topic now.
            _ = tx.closed() => return,
        };
        let done = match step {
            Err(_elapsed) => {
                PrintEncoder::idle(&mut out);
                false
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "PRINT failed");
                PrintEncoder::error(&e.to_string(), &mut out);
                true
            }
            Ok(Ok(end)) => {
                encoder.records(&records, &mut out);
                end.is_some()
            }
        };
        if !out.is_empty()
            && tx
                .send(Bytes::from(std::mem::take(&mut out)))
                .await
                .is_err()
        {
            return;
        }
        if done {
            return;
        }
    }
}
