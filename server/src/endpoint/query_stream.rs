//! `POST /query-stream`: plan the query, send the header, then stream rows until LIMIT,
//! `/close-query`, the client going away, or (pull queries) the end of the data. PRINT
//! goes to `print` instead. The old `/query` endpoint shares this path (`respond`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use sluice_engine::exec::result_rows::ResultRows;
use sluice_engine::plan::transient::{plan_query, QueryKind, QueryProperties};
use sluice_engine::query::print::{looks_like_print, plan_print};
use sluice_engine::query::transient::QueryStream;
use sluice_engine::Engine;
use sluice_protocol::error_body::{
    code, protocol_error, stream_error, ErrorResponse, MessageStyle,
};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::media_type::{negotiate, ResultFormat};
use sluice_protocol::query::query_request::{string_map, QueryStreamArgs};
use sluice_protocol::query::result_encoder::ResultEncoder;
use tokio::sync::mpsc;

use super::{error, not_acceptable, print, read_error, streaming, HttpResponse};
use crate::body::frames_in::read_to_limit;
use crate::body::frames_out::ResponseBody;

/// Concurrent push queries per server (ksqlDB's `ksql.max.push.queries` defaults to 100).
/// Sluice's are cheap while idle, ~9 KiB of RSS each (`sluice bench --idle-queries`), so the
/// bound is about their cost when the stream they read is written: every one of them is
/// woken, reads and encodes each commit (~6 µs of CPU per query per commit).
pub const PUSH_QUERIES_MAX: usize = 10_000;

/// Rows encoded into one response chunk: large enough to amortise a DATA frame, small
/// enough to keep end-to-end latency low when rows trickle.
pub const CHUNK_ROWS_MAX: usize = 256;

pub async fn handle(
    engine: &Arc<Engine>,
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
    respond(
        engine,
        Framing::QueryStream(format),
        format.content_type(),
        MessageStyle::WithStatement,
        &args.sql,
        &string_map(&args.properties),
        &string_map(&args.session_variables),
    )
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
pub fn respond(
    engine: &Arc<Engine>,
    framing: Framing,
    content_type: &str,
    style: MessageStyle,
    sql: &str,
    properties: &HashMap<String, String>,
    session_variables: &HashMap<String, String>,
) -> HttpResponse {
    if looks_like_print(sql) {
        match plan_print(sql, session_variables) {
            Ok(Some(plan)) => return print::respond(engine, plan, style),
            Ok(None) => {}
            Err(e) => return error(stream_error(&e, Some(sql), style)),
        }
    }
    let stream = match start(engine, style, sql, properties, session_variables) {
        Ok(s) => s,
        Err(resp) => return error(resp),
    };
    let (tx, body) = ResponseBody::channel();
    tokio::spawn(pump(stream, framing, tx));
    streaming(content_type, body)
}

fn start(
    engine: &Arc<Engine>,
    style: MessageStyle,
    sql: &str,
    properties: &HashMap<String, String>,
    session_variables: &HashMap<String, String>,
) -> Result<QueryStream, ErrorResponse> {
    let fail = |e: sluice_engine::EngineError| stream_error(&e, Some(sql), style);
    let props = QueryProperties::from_map(properties).map_err(fail)?;
    let plan = plan_query(
        &engine.catalog(),
        sql,
        session_variables,
        &props,
        engine.clock.now_ms(),
    )
    .map_err(fail)?;
    if plan.kind == QueryKind::Push && engine.queries.len() >= PUSH_QUERIES_MAX {
        return Err(ErrorResponse::generic(
            code::MAX_PUSH_QUERIES,
            "Maximum number of push queries exceeded",
        ));
    }
    QueryStream::start(engine, plan).map_err(fail)
}

/// Moves rows from the query to the response until the query or the client ends.
async fn pump(mut stream: QueryStream, framing: Framing, tx: mpsc::Sender<Bytes>) {
    let push = stream.plan().kind == QueryKind::Push;
    let encoder = match framing {
        Framing::QueryStream(format) => ResultEncoder::new(format, push),
        Framing::OldQuery => ResultEncoder::old_query(),
    };
    let mut out = Vec::with_capacity(4096);
    {
        let plan = stream.plan();
        encoder.header(&plan.id, &plan.column_names, &plan.column_types, &mut out);
    }
    if tx
        .send(Bytes::from(std::mem::take(&mut out)))
        .await
        .is_err()
    {
        return;
    }
    // No room reserved: buffers grow with the first rows (a full batch of seven columns
    // is ~100 KiB), so a query that never gets a row holds none.
    let mut rows = ResultRows::new(stream.plan().column_names.len(), 0);
    loop {
        rows.clear();
        let step = tokio::select! {
            step = stream.next_rows(&mut rows, CHUNK_ROWS_MAX) => step,
            // The client cancelled the stream or closed the connection: free the query now.
            _ = tx.closed() => return,
        };
        encoder.rows(&rows, &mut out);
        if rows.len() < CHUNK_ROWS_MAX {
            // A short batch means the query caught up and will most likely wait next: free
            // what earlier batches grew, so an idle query costs the same after a burst.
            rows.release();
        }
        let end = match step {
            Ok(end) => end,
            Err(e) => {
                tracing::warn!(error = %e, "push query failed");
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
