//! `POST /inserts-stream` (and `/insert-stream`): rows in, one ack per row out, in order,
//! each sent only once its row is durable.
//!
//! ```text
//!  DATA frames ─► line_splitter ─► InsertSession (engine: decode, batch, append)
//!                                        │ AckStream (engine: tickets awaited in seq order)
//!  response ◄─ ack_encoder ◄─ acks ◄─────┘
//! ```
//!
//! Reading and acking run as two tasks, joined by the engine's bounded queue of pending
//! batches, so acks flow while rows are still arriving (full duplex on HTTP/2) and a
//! producer that outruns the disk is slowed by back-pressure rather than buffered.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use sluice_engine::{Ack, AckStream, Engine, EngineError, ErrorCode, Flow, InsertSession};
use sluice_protocol::framing::line_splitter::LineSplitter;
use sluice_protocol::ksqldb::errors::{
    insert_ack_error, protocol_error, stream_error, MessageStyle,
};
use sluice_protocol::ksqldb::ingest::ack_encoder::AckEncoder;
use sluice_protocol::ksqldb::ingest::insert_request::InsertsStreamArgs;
use sluice_protocol::ksqldb::media_type::{negotiate, ResultFormat};
use sluice_protocol::limits::ROW_BYTES_MAX;
use sluice_protocol::ProtocolError;
use tokio::sync::mpsc;

use crate::body::frames_in::{next_data, ReadError};
use crate::body::frames_out::ResponseBody;
use crate::metrics::{Metrics, StreamCounters};
use crate::response::{error, not_acceptable, read_error, streaming, HttpResponse};

pub async fn handle(
    engine: &Arc<Engine>,
    metrics: &Arc<Metrics>,
    accept: Option<&str>,
    mut body: Incoming,
) -> HttpResponse {
    let Some(format) = negotiate(accept, false) else {
        return not_acceptable();
    };
    let mut splitter = LineSplitter::new(ROW_BYTES_MAX);
    let mut lines = Vec::new();
    let first_read_bytes = match read_first_line(&mut body, &mut splitter, &mut lines).await {
        Ok(bytes) => bytes,
        Err(FirstLineError::Read(e)) => return read_error(e),
        Err(FirstLineError::Protocol(e)) => return error(protocol_error(&e)),
    };
    let args = match InsertsStreamArgs::decode(&lines[0]) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    lines.remove(0);
    let target = args.target_name();
    let (session, acks) = match engine.insert_session(&target) {
        Ok(s) => s,
        Err(e) => return error(stream_error(&e, None, MessageStyle::Raw)),
    };
    let counters = metrics.stream(&target);
    // The first read's bytes: the arguments line and any rows that came with it.
    counters.received(lines.len(), first_read_bytes);
    let (tx, response) = ResponseBody::channel();
    tokio::spawn(read_rows(session, counters.clone(), splitter, lines, body));
    tokio::spawn(write_acks(format, acks, counters, tx));
    streaming(format.content_type(), response)
}

enum FirstLineError {
    Read(ReadError),
    Protocol(ProtocolError),
}

/// Reads until the arguments line is whole; returns the body bytes read.
async fn read_first_line(
    body: &mut Incoming,
    splitter: &mut LineSplitter,
    lines: &mut Vec<Bytes>,
) -> Result<usize, FirstLineError> {
    let mut read = 0;
    while lines.is_empty() {
        match next_data(body).await.map_err(FirstLineError::Read)? {
            Some(chunk) => {
                read += chunk.len();
                splitter
                    .push(chunk, lines)
                    .map_err(FirstLineError::Protocol)?
            }
            None => {
                splitter.finish(lines);
                if lines.is_empty() {
                    return Err(FirstLineError::Protocol(ProtocolError::EmptyBody));
                }
            }
        }
    }
    Ok(read)
}

/// The request half: split the body into rows and push them into the session.
async fn read_rows(
    mut session: InsertSession,
    counters: StreamCounters,
    mut splitter: LineSplitter,
    mut lines: Vec<Bytes>,
    mut body: Incoming,
) {
    loop {
        if session.push(&lines).await == Flow::Stop {
            return;
        }
        lines.clear();
        match next_data(&mut body).await {
            Ok(Some(chunk)) => {
                let bytes = chunk.len();
                let pushed = splitter.push(chunk, &mut lines);
                counters.received(lines.len(), bytes);
                if let Err(e) = pushed {
                    // Rows before the oversized one still count; then the error ends it.
                    if session.push(&lines).await == Flow::Continue {
                        let error = EngineError::new(ErrorCode::BadRequest, e.to_string());
                        session.fail(error).await;
                    }
                    return;
                }
            }
            Ok(None) => {
                splitter.finish(&mut lines);
                counters.received(lines.len(), 0);
                if session.push(&lines).await == Flow::Continue {
                    session.finish().await;
                }
                return;
            }
            // The client went away mid-body: a partial row is dropped, never appended.
            Err(_) => {
                session.finish().await;
                return;
            }
        }
    }
}

/// The response half: one ack per durable row, in order, and the error that ends it.
async fn write_acks(
    format: ResultFormat,
    mut acks: AckStream,
    counters: StreamCounters,
    tx: mpsc::Sender<Bytes>,
) {
    let mut encoder = AckEncoder::new(format);
    let mut out = Vec::with_capacity(4096);
    while let Some(ack) = acks.next().await {
        match ack {
            Ack::Ok {
                first_seq,
                rows,
                received_at,
            } => {
                for seq in first_seq..first_seq + rows {
                    encoder.ok(seq, &mut out);
                }
                counters.acked(received_at.elapsed());
            }
            Ack::Failed { seq, error } => {
                counters.failed();
                if error.class() == sluice_engine::ErrorClass::Internal {
                    tracing::error!(%error, "insert failed");
                }
                let (error_code, message) = insert_ack_error(&error);
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
