//! `POST /query-stream`: plan the query, send the header, then stream rows until LIMIT,
//! `/close-query`, the client going away, or (pull queries) the end of the data. PRINT
//! goes to `print` instead. The old `/query` endpoint shares this path (`respond`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use sluice_engine::{
    EndReason, Engine, EngineError, ErrorCode, QueryHandle, QueryKind, QueryOutput, QueryRequest,
    ResultRows,
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

/// Rows encoded into one response chunk: large enough to amortise the hand-over to the
/// connection, small enough to keep end-to-end latency low when rows trickle.
pub const CHUNK_ROWS_MAX: usize = 256;

/// Sluice's own query property (ksqlDB has none): how a query's answer is framed. `row` is
/// ksqlDB's: the header and each row in a DATA frame of their own, which clients of push
/// queries rely on (npm's `ksqldb-client` parses each frame of a streamed query as one
/// JSON document); `batch` sends up to [`CHUNK_ROWS_MAX`] rows per frame, at less cost per
/// row (benches/README.md, "Result frames").
///
/// Without the property a push query's rows go a frame each and a pull query's answer in
/// batches. A pull answer is read to its end by every client (npm's client too), and a
/// large one as thousands of tiny frames trips the HTTP/2 flood guard of h2 ≥ 0.4.20, the
/// library under Rust clients (hyper, reqwest): it closes the connection with
/// `ENHANCE_YOUR_CALM` once ~10k frames under 256 bytes wait unread.
pub const RESULT_FRAMES_PROPERTY: &str = "sluice.query.result.frames";

/// How an answer's rows go out ([`RESULT_FRAMES_PROPERTY`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResultFrames {
    Row,
    Batch,
}

impl ResultFrames {
    /// The framing a request asks for, if it names one.
    fn from_properties(
        properties: &HashMap<String, String>,
    ) -> Result<Option<ResultFrames>, EngineError> {
        let Some(value) = properties.get(RESULT_FRAMES_PROPERTY) else {
            return Ok(None);
        };
        match value.to_ascii_lowercase().as_str() {
            "row" => Ok(Some(ResultFrames::Row)),
            "batch" => Ok(Some(ResultFrames::Batch)),
            _ => Err(EngineError::bad_request(format!(
                "Invalid value {value} for property {RESULT_FRAMES_PROPERTY}: expected row or batch"
            ))),
        }
    }

    /// `body`, a whole answer, framed so.
    fn full(self, body: Vec<u8>) -> ResponseBody {
        match self {
            ResultFrames::Row => ResponseBody::full_by_line(body),
            ResultFrames::Batch => ResponseBody::full(body),
        }
    }

    /// A streamed answer's body framed so, and the sender that feeds it.
    fn channel(self) -> (mpsc::Sender<Bytes>, ResponseBody) {
        match self {
            ResultFrames::Row => ResponseBody::channel_by_line(),
            ResultFrames::Batch => ResponseBody::channel(),
        }
    }
}

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
    let frames = match ResultFrames::from_properties(properties) {
        Ok(frames) => frames,
        Err(e) => return error(stream_error(&e, Some(sql), style)),
    };
    let request = QueryRequest {
        sql,
        properties,
        session_variables,
    };
    let mut query = match engine.start_query(request).await {
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
    let counters = metrics.query(
        query.id(),
        query.source_name(),
        query.kind() == QueryKind::Push,
    );
    let frames = frames.unwrap_or(match query.kind() {
        QueryKind::Push => ResultFrames::Row,
        QueryKind::Pull => ResultFrames::Batch,
    });
    let mut pump = Pump::start(Arc::clone(engine), counters, framing, proto, slot, &query);
    if query.kind() == QueryKind::Pull && pump.collect(&mut query).await == Step::Ended {
        return streaming(content_type, frames.full(pump.out));
    }
    let (tx, body) = frames.channel();
    tokio::spawn(pump.run(query, tx));
    streaming(content_type, body)
}

/// A pull query's answer up to this size is built in the handler and sent as one body
/// (on HTTP/2 a DATA frame per line, as ksqlDB writes them, the last ending the stream; a
/// `Content-Length` body on HTTP/1.1): a key lookup then needs no task, channel or
/// hand-off between tasks, which cost more than the lookup. A larger answer streams the
/// rest as a push query's does.
pub const PULL_ANSWER_INLINE_BYTES_MAX: usize = 256 * 1024;

/// How long a pull query's answer is collected before what there is starts streaming, so a
/// slow scan still answers its header and first rows at once.
pub const PULL_ANSWER_INLINE_WAIT: Duration = Duration::from_millis(50);

/// Whether a query has more to give after a batch of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    More,
    Ended,
}

/// What moves one query's rows to its response.
struct Pump {
    engine: Arc<Engine>,
    counters: QueryCounters,
    encoder: ResultEncoder,
    /// Encoded bytes not yet sent: the header, then rows.
    out: Vec<u8>,
    rows: ResultRows,
    /// The connection's push slot, given back when the pump ends.
    _slot: Option<PushSlot>,
}

impl Pump {
    /// A pump for `query` with its header encoded.
    fn start(
        engine: Arc<Engine>,
        counters: QueryCounters,
        framing: Framing,
        proto: Option<ProtoRows>,
        slot: Option<PushSlot>,
        query: &QueryHandle,
    ) -> Pump {
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
        Pump {
            engine,
            counters,
            encoder,
            out,
            // No room reserved: buffers grow with the first rows (a full batch of seven
            // columns is ~100 KiB), so a query that never gets a row holds none.
            rows: query.new_rows(),
            _slot: slot,
        }
    }

    /// Collects a pull query's rows into `out` until it ends, `out` passes
    /// [`PULL_ANSWER_INLINE_BYTES_MAX`] or [`PULL_ANSWER_INLINE_WAIT`] has passed.
    async fn collect(&mut self, query: &mut QueryHandle) -> Step {
        let deadline = tokio::time::Instant::now() + PULL_ANSWER_INLINE_WAIT;
        while self.out.len() <= PULL_ANSWER_INLINE_BYTES_MAX {
            self.rows.clear();
            // `next_rows` only waits where it holds no rows it read, so giving up on it at
            // the deadline loses nothing: `run` asks again.
            let next = query.next_rows(&mut self.rows, CHUNK_ROWS_MAX);
            let Ok(step) = tokio::time::timeout_at(deadline, next).await else {
                return Step::More;
            };
            if self.encode(query, step) == Step::Ended {
                return Step::Ended;
            }
        }
        Step::More
    }

    /// Moves rows from the query to the response until the query or the client ends.
    async fn run(mut self, mut query: QueryHandle, tx: mpsc::Sender<Bytes>) {
        if tx
            .send(Bytes::from(std::mem::take(&mut self.out)))
            .await
            .is_err()
        {
            return;
        }
        loop {
            self.rows.clear();
            let step = tokio::select! {
                step = query.next_rows(&mut self.rows, CHUNK_ROWS_MAX) => step,
                // The client cancelled the stream or closed the connection: free the query now.
                _ = tx.closed() => return,
            };
            let step = self.encode(&query, step);
            // A delimited push query ends with nothing more to say: no chunk at all.
            if !self.out.is_empty()
                && tx
                    .send(Bytes::from(std::mem::take(&mut self.out)))
                    .await
                    .is_err()
            {
                return;
            }
            if step == Step::Ended {
                return;
            }
        }
    }

    /// Encodes the rows one `next_rows` call gave, and the query's end or error, onto
    /// `out`.
    fn encode(
        &mut self,
        query: &QueryHandle,
        step: Result<Option<EndReason>, EngineError>,
    ) -> Step {
        let before = self.out.len();
        self.encoder.rows(&self.rows, &mut self.out);
        let record_age_ms = query.oldest_record_ms().map(|ts| self.engine.now_ms() - ts);
        self.counters
            .sent(self.rows.len(), self.out.len() - before, record_age_ms);
        if self.rows.len() < CHUNK_ROWS_MAX {
            // A short batch means the query caught up and will most likely wait next: free
            // what earlier batches grew, so an idle query costs the same after a burst.
            self.rows.release();
        }
        match step {
            Ok(None) => Step::More,
            Ok(Some(reason)) => {
                self.encoder.end(reason, &mut self.out);
                Step::Ended
            }
            Err(e) => {
                tracing::warn!(error = %e, "push query failed");
                self.counters.failed();
                self.encoder
                    .error(code::SERVER_ERROR, &e.to_string(), &mut self.out);
                Step::Ended
            }
        }
    }
}
