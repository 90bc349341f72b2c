//! What `execute` and `streamingExecute` share: the request body, the function's lookup
//! and parameter binding, and its query started through the engine facade; with the
//! Conjure errors of each step.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use serde_json::json;
use sluice_engine::{EngineError, QueryHandle, QueryOutput, QueryRequest, ResultRows};
use sluice_protocol::foundry::events::{ConjureError, StreamingExecuteRequest};
use sluice_protocol::foundry::functions::{BindError, Lookup};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::statement_table::{append_rows, Cell};

use crate::body::frames_in::{read_to_limit, ReadError};
use crate::services::Services;
use crate::tasks::new_task_id;

/// Most bytes of cells a pull query's result may carry (the single event of
/// `streamingExecute`, the value of `execute`); past it the call fails instead of
/// buffering without bound.
pub const PULL_RESULT_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Reads the request (`ExecuteQueryRequest` or `StreamingExecuteQueryRequest`, which share
/// their fields), finds function `api_name` in the registry, binds its parameters and
/// starts its query.
pub async fn start(
    services: &Arc<Services>,
    api_name: &str,
    mut body: Incoming,
) -> Result<QueryHandle, ConjureError> {
    let bytes = read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| {
            let description = match e {
                ReadError::TooLarge(e) => e.to_string(),
                ReadError::Disconnected => "the request body was cut off".into(),
            };
            error("INVALID_ARGUMENT", "Default:InvalidArgument", description)
        })?;
    let request = StreamingExecuteRequest::decode(&bytes)
        .map_err(|e| error("INVALID_ARGUMENT", "Default:InvalidArgument", e.to_string()))?;
    let include_prerelease = request.include_prerelease.unwrap_or(false);
    let function =
        match services
            .functions
            .lookup(api_name, request.version.as_deref(), include_prerelease)
        {
            Lookup::Found(f) => f,
            Lookup::NoSuchFunction => {
                return Err(with_params(
                    "NOT_FOUND",
                    "QueryNotFound",
                    json!({"queryApiName": api_name}),
                ))
            }
            Lookup::NoSuchVersion => {
                return Err(with_params(
                    "NOT_FOUND",
                    "QueryVersionNotFound",
                    json!({"apiName": api_name, "version": request.version}),
                ))
            }
        };
    let vars = function.bind(&request.parameters).map_err(bind_error)?;
    let none = HashMap::new();
    let output = services
        .engine
        .start_query(QueryRequest {
            sql: &function.sql,
            properties: &none,
            session_variables: &vars,
        })
        .await
        .map_err(|e| runtime_error(&e))?;
    match output {
        QueryOutput::Rows(q) => Ok(q),
        QueryOutput::Print(_) => Err(runtime_error(&EngineError::unsupported(
            "a query function may not be a PRINT",
        ))),
    }
}

pub fn error(code: &'static str, name: &'static str, description: String) -> ConjureError {
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
pub fn runtime_error(e: &EngineError) -> ConjureError {
    error(
        "INVALID_ARGUMENT",
        "QueryRuntimeError",
        e.message().to_string(),
    )
}

/// A pull query's result past [`PULL_RESULT_BYTES_MAX`].
pub fn too_large() -> ConjureError {
    error(
        "INVALID_ARGUMENT",
        "QueryMemoryExceededLimit",
        format!("the result is larger than {PULL_RESULT_BYTES_MAX} bytes"),
    )
}

/// Appends `batch`'s rows to `rows` as cells; returns the bytes of the cells it added (what
/// a pull result counts against [`PULL_RESULT_BYTES_MAX`]).
pub fn append_batch(batch: &ResultRows, rows: &mut Vec<Vec<Cell>>) -> usize {
    let before = rows.len();
    append_rows(batch, rows);
    rows[before..].iter().flatten().map(Cell::bytes).sum()
}
