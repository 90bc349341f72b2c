//! `POST /api/v2/functions/queries/{queryApiName}/streamingExecute`: look the function up,
//! bind its parameters, start its query through the engine facade, and stream its rows as
//! SSE `data:` events (one event for a pull query's whole result, one per batch for a push
//! query); an engine error mid-stream is the last event.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use hyper::body::Incoming;
use serde_json::json;
use sluice_engine::{EngineError, QueryHandle, QueryKind, QueryOutput, QueryRequest};
use sluice_protocol::foundry::events::{rows_event, ConjureError, StreamingExecuteRequest};
use sluice_protocol::foundry::functions::{BindError, Lookup};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::statement_table::{append_rows, Cell};
use tokio::sync::mpsc;

use super::conjure;
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::body::frames_out::ResponseBody;
use crate::push_quota::{PushQuota, PushSlot};
use crate::response::{streaming, HttpResponse};
use crate::services::Services;
use crate::tasks::new_task_id;

/// Rows per `data:` event of a push query: a batch as the engine hands it over.
pub const EVENT_ROWS_MAX: usize = 256;

/// Most bytes of cells a pull query's single event may carry; past it the stream ends with
/// an error event instead of buffering without bound.
pub const PULL_RESULT_BYTES_MAX: usize = 32 * 1024 * 1024;

/// SSE's media type (the Python SDK refuses any other).
const EVENT_STREAM: &str = "text/event-stream";

pub async fn handle(
    services: &Arc<Services>,
    parts: &Parts,
    api_name: &str,
    mut body: Incoming,
) -> HttpResponse {
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(ReadError::TooLarge(e)) => {
            return conjure(error(
                "INVALID_ARGUMENT",
                "Default:InvalidArgument",
                e.to_string(),
            ))
        }
        Err(ReadError::Disconnected) => {
            return conjure(error(
                "INVALID_ARGUMENT",
                "Default:InvalidArgument",
                "the request body was cut off".into(),
            ))
        }
    };
    let request = match StreamingExecuteRequest::decode(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return conjure(error(
                "INVALID_ARGUMENT",
                "Default:InvalidArgument",
                e.to_string(),
            ))
        }
    };
    let include_prerelease = request.include_prerelease.unwrap_or(false);
    let function =
        match services
            .functions
            .lookup(api_name, request.version.as_deref(), include_prerelease)
        {
            Lookup::Found(f) => f,
            Lookup::NoSuchFunction => {
                return conjure(with_params(
                    "NOT_FOUND",
                    "QueryNotFound",
                    json!({"queryApiName": api_name}),
                ))
            }
            Lookup::NoSuchVersion => {
                return conjure(with_params(
                    "NOT_FOUND",
                    "QueryVersionNotFound",
                    json!({"apiName": api_name, "version": request.version}),
                ))
            }
        };
    let vars = match function.bind(&request.parameters) {
        Ok(vars) => vars,
        Err(e) => return conjure(bind_error(e)),
    };
    let none = HashMap::new();
    let query = match services
        .engine
        .start_query(QueryRequest {
            sql: &function.sql,
            properties: &none,
            session_variables: &vars,
        })
        .await
    {
        Ok(QueryOutput::Rows(q)) => q,
        Ok(QueryOutput::Print(_)) => {
            return conjure(runtime_error(&EngineError::unsupported(
                "a query function may not be a PRINT",
            )))
        }
        Err(e) => return conjure(runtime_error(&e)),
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
                return conjure(error(
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

fn error(code: &'static str, name: &'static str, description: String) -> ConjureError {
    ConjureError {
        code,
        name,
        instance_id: new_task_id(),
        parameters: json!({"message": description}),
        description: Some(description),
    }
}

fn with_params(
    code: &'static str,
    name: &'static str,
    parameters: serde_json::Value,
) -> ConjureError {
    ConjureError {
        code,
        name,
        instance_id: new_task_id(),
        description: None,
        parameters,
    }
}

/// Foundry's errors for parameters that do not fit the function.
fn bind_error(e: BindError) -> ConjureError {
    match e {
        BindError::MissingParameter(missing) => with_params(
            "INVALID_ARGUMENT",
            "MissingParameter",
            json!({"parameters": missing}),
        ),
        BindError::UnknownParameter { unknown, expected } => with_params(
            "INVALID_ARGUMENT",
            "UnknownParameter",
            json!({"unknownParameters": unknown, "expectedParameters": expected}),
        ),
        BindError::InvalidQueryParameterValue {
            parameter_id,
            data_type,
            value,
        } => with_params(
            "INVALID_ARGUMENT",
            "InvalidQueryParameterValue",
            json!({"parameterDataType": {"type": data_type.name()}, "parameterId": parameter_id,
                   "parameterValue": value}),
        ),
    }
}

/// An engine error while running a function: Foundry's `QueryRuntimeError`.
fn runtime_error(e: &EngineError) -> ConjureError {
    error(
        "INVALID_ARGUMENT",
        "QueryRuntimeError",
        e.message().to_string(),
    )
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
        let before = rows.len();
        append_rows(&batch, &mut rows);
        bytes += rows[before..]
            .iter()
            .flatten()
            .map(Cell::bytes)
            .sum::<usize>();
        let event = match &step {
            Err(e) => Some(runtime_error(e).event()),
            Ok(_) if !push && bytes > PULL_RESULT_BYTES_MAX => Some(
                error(
                    "INVALID_ARGUMENT",
                    "QueryMemoryExceededLimit",
                    format!("the result is larger than {PULL_RESULT_BYTES_MAX} bytes"),
                )
                .event(),
            ),
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
