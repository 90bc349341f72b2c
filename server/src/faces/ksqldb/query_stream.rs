//! `POST /query-stream`: plan the query, send the header, then stream rows until LIMIT,
//! `/close-query`, the client going away, or (pull queries) the end of the data. PRINT
//! goes to `print` instead. The old `/query` endpoint shares this path (`respond`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use sluice_engine::{
    Engine, EngineError, ErrorCode, QueryHandle, QueryKind, QueryOutput, QueryRequest,
};
use sluice_protocol::ksqldb::errors::{code, protocol_error, stream_error, MessageStyle};
use sluice_protocol::ksqldb::media_type::{negotiate, ResultFormat};
use sluice_protocol::ksqldb::query::protobuf_rows::ProtoRows;
use sluice_protocol::ksqldb::query::query_request::{string_map, QueryStreamArgs};
use sluice_protocol::ksqldb::query::result_encoder::ResultEncoder;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use tokio::sync::mpsc;

use super::print;
use crate::body::frames_in::read_to_limit;
use crate::body::frames_out::ResponseBody;
use crate::metrics::{Metrics, QueryCounters};
use crate::push_quota::{PushQuota, PushSlot};
use crate::response::{error, not_acceptable, read_error, streaming, HttpResponse};

/// Rows encoded into one response chunk: large enough to amortise a DATA frame, small
/// enough to keep end-to-end latency low when rows trickle.
pub const CHUNK_ROWS_MAX: usize = 256;

pub async fn handle(
    engine: &Arc<Engine>,
    metrics: &Arc<Metrics>,
    push_quota: PushQuota,
    accept: Option<&str>,
    mut body: Incoming,
) -> HttpResponse {
    let Some(format) = negotiate(accept, true) else {
        return not_acceptable();
    };
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => return read_error(e),
    };
    let args = match QueryStreamArgs::decode(&bytes) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    let reply = Reply {
        framing: Framing::QueryStream(format),
        content_type: format.content_type(),
        style: MessageStyle::WithStatement,
    };
    respond(
        engine,
        (metrics, &push_quota),
        reply,
        &args.sql,
        &string_map(&args.properties),
        &string_map(&args.session_variables),
    )
    .await
}

/// How the response is shaped: its rows' framing, content type and error wording.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub framing: Framing,
    pub content_type: &'a str,
    pub style: MessageStyle,
}

/// How result rows are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `/query-stream`'s rules for the negotiated format.
    QueryStream(ResultFormat),
    /// The old `/query` StreamedRow array (every query ends with a final message).
    OldQuery,
}

/// Starts `sql` (a query or PRINT) and streams its results; errors before the header are
/// ordinary HTTP errors with ksqlDB bodies, their messages in the calling endpoint's
/// `style`.
pub async fn respond(
    engine: &Arc<Engine>,
    (metrics, push_quota): (&Arc<Metrics>, &PushQuota),
    reply: Reply<'_>,
    sql: &str,
    properties: &HashMap<String, String>,
    session_variables: &HashMap<String, String>,
) -> HttpResponse {
    let Reply {
        framing,
        content_type,
        style,
    } = reply;
    let request = QueryRequest {
        sql,
        properties,
        session_variables,
    };
    let query = match engine.start_query(request).await {
        Ok(QueryOutput::Rows(query)) => query,
        Ok(QueryOutput::Print(print)) => return print::respond(print),
        Err(e) => return error(stream_error(&e, Some(sql), style)),
    };
    // The protobuf format's message is fixed by the columns: a result it cannot carry is
    // refused before anything is streamed.
    let proto = match framing {
        Framing::QueryStream(ResultFormat::KsqlV1Protobuf) => {
            match ProtoRows::new(query.column_names(), query.column_types()) {
                Ok(p) => Some(p),
                Err(e) => return error(protocol_error(&e)),
            }
        }
        _ => None,
    };
    let slot = if query.kind() == QueryKind::Push {
        let Some(slot) = push_quota.try_acquire() else {
            let message = format!(
                "This connection already runs {} push queries, its limit; close one first",
                push_quota.max()
            );
            let e = EngineError::new(ErrorCode::PushQueryLimit, message);
            return error(stream_error(&e, None, style));
        };
        Some(slot)
    } else {
        None
    };
    let counters = metrics.query(query.id(), query.source_name());
    let (tx, body) = ResponseBody::channel();
    let task = Pump {
        engine: Arc::clone(engine),
        counters,
        framing,
        proto,
        _slot: slot,
    };
    tokio::spawn(task.run(query, tx));
    streaming(content_type, body)
}

/// What moves one query's rows to its response.
struct Pump {
    engine: Arc<Engine>,
    counters: QueryCounters,
    framing: Framing,
    /// The rows' message in the protobuf format.
    proto: Option<ProtoRows>,
    /// The connection's push slot, given back when the pump ends.
    _slot: Option<PushSlot>,
}

impl Pump {
    /// Moves rows from the query to the response until the query or the client ends.
    async fn run(self, mut query: QueryHandle, tx: mpsc::Sender<Bytes>) {
        let Pump {
            engine,
            counters,
            framing,
            proto,
            _slot,
        } = self;
        // ksqlDB runs a pull over a stream as a push query that stops at the end of the
        // data, so it too ends with a final message; only a pull over a table does not.
        let final_message = !query.is_table_pull();
        let encoder = match (framing, proto) {
            (Framing::QueryStream(_), Some(proto)) => ResultEncoder::protobuf(proto, final_message),
            (Framing::QueryStream(format), None) => ResultEncoder::new(format, final_message),
            (Framing::OldQuery, _) if query.is_table_pull() => {
                ResultEncoder::old_query_table_pull()
            }
            (Framing::OldQuery, _) => ResultEncoder::old_query(),
        };
        let mut out = Vec::with_capacity(4096);
        encoder.header_with_keys(
            query.id(),
            query.column_names(),
            query.column_types(),
            query.key_columns(),
            &mut out,
        );
        if tx
            .send(Bytes::from(std::mem::take(&mut out)))
            .await
            .is_err()
        {
            return;
        }
        // No room reserved: buffers grow with the first rows (a full batch of seven columns
        // is ~100 KiB), so a query that never gets a row holds none.
        let mut rows = query.new_rows();
        loop {
            rows.clear();
            let step = tokio::select! {
                step = query.next_rows(&mut rows, CHUNK_ROWS_MAX) => step,
                // The client cancelled the stream or closed the connection: free the query now.
                _ = tx.closed() => return,
            };
            encoder.rows(&rows, &mut out);
            let record_age_ms = query.oldest_record_ms().map(|ts| engine.now_ms() - ts);
            counters.sent(rows.len(), out.len(), record_age_ms);
            if rows.len() < CHUNK_ROWS_MAX {
                // A short batch means the query caught up and will most likely wait next: free
                // what earlier batches grew, so an idle query costs the same after a burst.
                rows.release();
            }
            let end = match step {
                Ok(end) => end,
                Err(e) => {
                    tracing::warn!(error = %e, "push query failed");
                    counters.failed();
                    encoder.error(code::SERVER_ERROR, &e.to_string(), &mut out);
                    let _ = tx.send(Bytes::from(out)).await;
                    return;
                }
            };
            if let Some(reason) = end {
                encoder.end(reason, &mut out);
                // A delimited push query ends with nothing more to say: no chunk at all.
                if !out.is_empty() {
                    let _ = tx.send(Bytes::from(out)).await;
                }
                return;
            }
            if !out.is_empty()
                && tx
                    .send(Bytes::from(std::mem::take(&mut out)))
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}
