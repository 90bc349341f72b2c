//! `POST /inserts-stream` (and `/insert-stream`): rows in, one ack per row out, in order,
//! each sent only once its row is durable.
//!
//! ```text
//!  DATA frames ─► line_splitter ─► row decoder ─► Inserter (key, partition, value bytes)
//!      ─► per-partition batch ─► log append (group commit) ─► ticket ─┐
//!                                                                     ▼
//!  response ◄─ ack_encoder ◄─ ack writer: awaits tickets in seq order ◄┘
//! ```
//!
//! Reading and acking run as two tasks joined by a bounded queue of pending batches, so
//! acks flow while rows are still arriving (full duplex on HTTP/2) and a producer that
//! outruns the disk is slowed by back-pressure rather than buffered without bound.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use sluice_engine::format::insert_row::INVALID_JSON_MESSAGE;
use sluice_engine::ingest::inserter::Inserter;
use sluice_engine::log::{AppendTicket, PartitionId, Record};
use sluice_engine::statements::insert_target;
use sluice_engine::{Engine, EngineError, ErrorCode};
use sluice_protocol::error_body::{code, protocol_error, stream_error, MessageStyle};
use sluice_protocol::ingest::ack_encoder::AckEncoder;
use sluice_protocol::ingest::insert_request::InsertsStreamArgs;
use sluice_protocol::ingest::line_splitter::LineSplitter;
use sluice_protocol::limits::ROW_BYTES_MAX;
use sluice_protocol::media_type::{negotiate, ResultFormat};
use sluice_protocol::ProtocolError;
use tokio::sync::mpsc;

use super::{error, not_acceptable, read_error, streaming, HttpResponse};
use crate::body::frames_in::{next_data, ReadError};
use crate::body::frames_out::ResponseBody;

/// Appended-but-unacked batches per request. With up to `INSERT_BATCH_ROWS_MAX` rows per
/// batch this bounds the rows one producer has in flight; beyond it reading pauses.
pub const INSERTS_PENDING_BATCHES_MAX: usize = 64;

/// Rows gathered before they are handed to the log as one append per partition.
pub const INSERT_BATCH_ROWS_MAX: usize = 1024;

/// Message ksqlDB sends when the write itself failed.
const INSERT_FAILED: &str = "Error in processing inserts. Check server logs for details.";

/// Acks owed for a contiguous run of rows, or the error that ends the response.
enum Pending {
    Batch {
        first_seq: u64,
        rows: u64,
        tickets: Vec<AppendTicket>,
    },
    Error {
        seq: u64,
        error_code: u32,
        message: String,
    },
}

pub async fn handle(
    engine: &Arc<Engine>,
    accept: Option<&str>,
    mut body: Incoming,
) -> HttpResponse {
    let Some(format) = negotiate(accept, false) else {
        return not_acceptable();
    };
    let mut splitter = LineSplitter::new(ROW_BYTES_MAX);
    let mut lines = Vec::new();
    if let Err(e) = read_first_line(&mut body, &mut splitter, &mut lines).await {
        return match e {
            FirstLineError::Read(e) => read_error(e),
            FirstLineError::Protocol(e) => error(protocol_error(&e)),
        };
    }
    let args = match InsertsStreamArgs::decode(&lines[0]) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    lines.remove(0);
    let inserter = match insert_target(&engine.catalog(), &args.target_name())
        .and_then(|source| Inserter::new(engine, source))
    {
        Ok(i) => i,
        Err(e) => return error(stream_error(&e, None, MessageStyle::Raw)),
    };
    let (tx, response) = ResponseBody::channel();
    let (pending_tx, pending_rx) = mpsc::channel(INSERTS_PENDING_BATCHES_MAX);
    let reader = RowReader {
        inserter,
        splitter,
        pending_tx,
        next_seq: 0,
        batch_first_seq: 0,
        batch_rows: 0,
        batches: Vec::new(),
    };
    tokio::spawn(reader.run(lines, body));
    tokio::spawn(write_acks(format, pending_rx, tx));
    streaming(format.content_type(), response)
}

enum FirstLineError {
    Read(ReadError),
    Protocol(ProtocolError),
}

async fn read_first_line(
    body: &mut Incoming,
    splitter: &mut LineSplitter,
    lines: &mut Vec<Bytes>,
) -> Result<(), FirstLineError> {
    while lines.is_empty() {
        match next_data(body).await.map_err(FirstLineError::Read)? {
            Some(chunk) => splitter
                .push(chunk, lines)
                .map_err(FirstLineError::Protocol)?,
            None => {
                splitter.finish(lines);
                if lines.is_empty() {
                    return Err(FirstLineError::Protocol(ProtocolError::EmptyBody));
                }
            }
        }
    }
    Ok(())
}

/// The request half: decode rows and append them, queueing a ticket per batch.
struct RowReader {
    inserter: Inserter,
    splitter: LineSplitter,
    pending_tx: mpsc::Sender<Pending>,
    next_seq: u64,
    batch_first_seq: u64,
    batch_rows: u64,
    /// Records per partition for the current batch.
    batches: Vec<(PartitionId, Vec<Record>)>,
}

/// Whether the reader should keep going.
enum Flow {
    Continue,
    Stop,
}

impl RowReader {
    async fn run(mut self, first_lines: Vec<Bytes>, mut body: Incoming) {
        let mut lines = first_lines;
        loop {
            if let Flow::Stop = self.rows(&lines).await {
                return;
            }
            lines.clear();
            match next_data(&mut body).await {
                Ok(Some(chunk)) => {
                    if let Err(e) = self.splitter.push(chunk, &mut lines) {
                        // Rows before the oversized one still count; then the error ends it.
                        if let Flow::Continue = self.rows(&lines).await {
                            self.fail(code::BAD_REQUEST, e.to_string()).await;
                        }
                        return;
                    }
                }
                Ok(None) => {
                    self.splitter.finish(&mut lines);
                    if let Flow::Continue = self.rows(&lines).await {
                        self.flush().await;
                    }
                    return;
                }
                // The client went away mid-body: a partial row is dropped, never appended.
                Err(_) => {
                    self.flush().await;
                    return;
                }
            }
        }
    }

    async fn rows(&mut self, lines: &[Bytes]) -> Flow {
        // The lines of one read arrived together: one clock read stamps them all.
        let now_ms = self.inserter.now_ms();
        for line in lines {
            if let Err(e) = self.add(line, now_ms) {
                if let Flow::Stop = self.flush().await {
                    return Flow::Stop;
                }
                self.fail(code::BAD_REQUEST, error_ack_message(&e)).await;
                return Flow::Stop;
            }
            if self.batch_rows as usize >= INSERT_BATCH_ROWS_MAX {
                if let Flow::Stop = self.flush().await {
                    return Flow::Stop;
                }
            }
        }
        self.flush().await
    }

    /// Decodes one row and adds its record to the current batch.
    fn add(&mut self, line: &Bytes, now_ms: i64) -> Result<(), EngineError> {
        let decoded = self.inserter.decode_line(line)?;
        let (partition, record) = self.inserter.record_line(decoded, line, now_ms)?;
        match self.batches.iter_mut().find(|(p, _)| *p == partition) {
            Some((_, records)) => records.push(record),
            None => self.batches.push((partition, vec![record])),
        }
        self.next_seq += 1;
        self.batch_rows += 1;
        Ok(())
    }

    /// Appends the current batch and queues its acks.
    async fn flush(&mut self) -> Flow {
        if self.batch_rows == 0 {
            return Flow::Continue;
        }
        let mut tickets = Vec::with_capacity(self.batches.len());
        for (partition, records) in self.batches.drain(..) {
            match self.inserter.topic().append(partition, records).await {
                Ok(t) => tickets.push(t),
                Err(e) => {
                    tracing::error!(error = %e, "append failed");
                    let seq = self.batch_first_seq;
                    self.batch_rows = 0;
                    let _ = self
                        .pending_tx
                        .send(Pending::Error {
                            seq,
                            error_code: code::SERVER_ERROR,
                            message: INSERT_FAILED.into(),
                        })
                        .await;
                    return Flow::Stop;
                }
            }
        }
        let pending = Pending::Batch {
            first_seq: self.batch_first_seq,
            rows: self.batch_rows,
            tickets,
        };
        self.batch_first_seq = self.next_seq;
        self.batch_rows = 0;
        // The ack writer is gone only when the client is: stop reading.
        match self.pending_tx.send(pending).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    async fn fail(&mut self, error_code: u32, message: String) {
        let _ = self
            .pending_tx
            .send(Pending::Error {
                seq: self.next_seq,
                error_code,
                message,
            })
            .await;
    }
}

/// The response half: waits for each batch to be durable, in order, and acks its rows.
async fn write_acks(
    format: ResultFormat,
    mut pending: mpsc::Receiver<Pending>,
    tx: mpsc::Sender<Bytes>,
) {
    let mut encoder = AckEncoder::new(format);
    let mut out = Vec::with_capacity(4096);
    while let Some(item) = pending.recv().await {
        match item {
            Pending::Batch {
                first_seq,
                rows,
                tickets,
            } => {
                if !all_durable(tickets).await {
                    encoder.error(first_seq, code::SERVER_ERROR, INSERT_FAILED, &mut out);
                    encoder.finish(&mut out);
                    let _ = tx.send(Bytes::from(out)).await;
                    return;
                }
                for seq in first_seq..first_seq + rows {
                    encoder.ok(seq, &mut out);
                }
            }
            Pending::Error {
                seq,
                error_code,
                message,
            } => {
                encoder.error(seq, error_code, &message, &mut out);
                encoder.finish(&mut out);
                let _ = tx.send(Bytes::from(out)).await;
                return;
            }
        }
        // Send at once: holding durable acks back to coalesce would add latency, and
        // hyper already coalesces small writes into frames.
        if tx
            .send(Bytes::from(std::mem::take(&mut out)))
            .await
            .is_err()
        {
            return;
        }
    }
    encoder.finish(&mut out);
    if !out.is_empty() {
        let _ = tx.send(Bytes::from(out)).await;
    }
}

/// ksqlDB sends the bare "Invalid JSON in inserts stream" for every undecodable row; the
/// decoder's detail (not an object, too deep) goes to the log instead.
fn error_ack_message(e: &EngineError) -> String {
    if e.code() == ErrorCode::InvalidRowJson {
        tracing::debug!(detail = %e, "rejected inserts-stream row");
        return INVALID_JSON_MESSAGE.to_string();
    }
    e.to_string()
}

async fn all_durable(tickets: Vec<AppendTicket>) -> bool {
    for ticket in tickets {
        match ticket.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "append failed");
                return false;
            }
            Err(_) => {
                tracing::error!("log writer stopped before the append was durable");
                return false;
            }
        }
    }
    true
}
