//! `POST /api/v2/functions/queries/{queryApiName}/streamingExecute`: start the function's
//! query (`call`), and stream its rows as SSE `data:` events (one event for a pull query's
//! whole result, one per batch for a push query); an engine error mid-stream is the last
//! event.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use hyper::body::Incoming;
use sluice_engine::{QueryHandle, QueryKind};
use sluice_protocol::foundry::events::rows_event;
use sluice_protocol::statement_table::Cell;
use tokio::sync::mpsc;

use super::call::{self, PULL_RESULT_BYTES_MAX};
use super::conjure;
use crate::body::frames_out::ResponseBody;
use crate::push_quota::{PushQuota, PushSlot};
use crate::response::{streaming, HttpResponse};
use crate::services::Services;

/// Rows per `data:` event of a push query: a batch as the engine hands it over.
pub const EVENT_ROWS_MAX: usize = 256;

/// SSE's media type (the Python SDK refuses any other).
const EVENT_STREAM: &str = "text/event-stream";

pub async fn handle(
    services: &Arc<Services>,
    parts: &Parts,
    api_name: &str,
    body: Incoming,
) -> HttpResponse {
    let query = match call::start(services, api_name, body).await {
        Ok(query) => query,
        Err(e) => return conjure(e),
    };
    let slot = if query.kind() == QueryKind::Push {
        let quota = parts
            .extensions
            .get::<PushQuota>()
            .cloned()
            .unwrap_or_default();
        match quota.try_acquire() {
            Some(slot) => Some(slot),
            None => {
                return conjure(call::error(
                    "INVALID_ARGUMENT",
                    "QueryRuntimeError",
                    "this connection runs as many push queries as it may".into(),
                ))
            }
        }
    } else {
        None
    };
    let (tx, body) = ResponseBody::channel();
    tokio::spawn(pump(query, tx, slot));
    streaming(EVENT_STREAM, body)
}

async fn pump(mut query: QueryHandle, tx: mpsc::Sender<Bytes>, _slot: Option<PushSlot>) {
    let push = query.kind() == QueryKind::Push;
    let columns = query.column_names().to_vec();
    let mut batch = query.new_rows();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut bytes = 0;
    loop {
        batch.clear();
        let step = tokio::select! {
            step = query.next_rows(&mut batch, EVENT_ROWS_MAX) => step,
            _ = tx.closed() => return,
        };
        bytes += call::append_batch(&batch, &mut rows);
        let event = match &step {
            Err(e) => Some(call::runtime_error(e).event()),
            Ok(_) if !push && bytes > PULL_RESULT_BYTES_MAX => Some(call::too_large().event()),
            // A push query's batch goes out as it comes; a pull query's whole result is
            // one event, once it has ended.
            Ok(end) if (push && !rows.is_empty()) || (!push && end.is_some()) => {
                let event = rows_event(&columns, &rows);
                rows.clear();
                Some(event)
            }
            Ok(_) => None,
        };
        let last = !matches!(step, Ok(None)) || (!push && bytes > PULL_RESULT_BYTES_MAX);
        if let Some(event) = event {
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
        }
        if last {
            return;
        }
    }
}
