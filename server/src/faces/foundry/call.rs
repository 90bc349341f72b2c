//! What the operations on a query function share: the request body, the function's
//! lookup and parameter binding, its query started through the engine facade, a pull
//! query's rows collected to its end; with the Conjure errors of each step.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use serde_json::json;
use sluice_engine::{
    EngineError, ErrorCode, QueryHandle, QueryKind, QueryOutput, QueryRequest, ResultRows,
};
use sluice_protocol::foundry::events::{ConjureError, StreamingExecuteRequest};
use sluice_protocol::foundry::functions::{BindError, Lookup, QueryFunction};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::statement_table::{append_rows, Cell};

use crate::body::frames_in::{read_to_limit, ReadError};
use crate::services::Services;
use crate::tasks::{collect_query, new_task_id, StatementOutput, TASK_RESULT_BYTES_MAX};

/// Most bytes of cells a pull query's result may carry (the single event of
/// `streamingExecute`, the value of `execute` and `executeAsync`): the task registry's
/// bound on one result, so every face holds a pull result to the same size; past it the
/// call fails instead of buffering without bound.
pub const PULL_RESULT_BYTES_MAX: usize = TASK_RESULT_BYTES_MAX;

/// Reads the request (`ExecuteQueryRequest` or `StreamingExecuteQueryRequest`, which share
/// their fields), finds function `api_name` in the registry, binds its parameters and
/// starts its query.
pub async fn start(
    services: &Arc<Services>,
    api_name: &str,
    body: Incoming,
) -> Result<QueryHandle, ConjureError> {
    start_function(services, api_name, body)
        .await
        .map(|(query, _)| query)
}

/// [`start`], also giving the function (and version) the request resolved to.
pub async fn start_function<'a>(
    services: &'a Arc<Services>,
    api_name: &str,
    mut body: Incoming,
) -> Result<(QueryHandle, &'a QueryFunction), ConjureError> {
    let bytes = read_body(&mut body).await?;
    let request = StreamingExecuteRequest::decode(&bytes)
        .map_err(|e| error("INVALID_ARGUMENT", "Default:InvalidArgument", e.to_string()))?;
    let function = find(
        services.functions.lookup(
            api_name,
            request.version.as_deref(),
            request.include_prerelease(),
        ),
        api_name,
        request.version.as_deref(),
    )?;
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
        QueryOutput::Rows(q) => Ok((q, function)),
        QueryOutput::Print(_) => Err(runtime_error(&EngineError::unsupported(
            "a query function may not be a PRINT",
        ))),
    }
}

/// A request body, up to [`REQUEST_BODY_BYTES_MAX`].
pub async fn read_body(body: &mut Incoming) -> Result<bytes::Bytes, ConjureError> {
    read_to_limit(body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| {
            let description = match e {
                ReadError::TooLarge(e) => e.to_string(),
                ReadError::Disconnected => "the request body was cut off".into(),
            };
            error("INVALID_ARGUMENT", "Default:InvalidArgument", description)
        })
}

/// The function a lookup found, or Foundry's `QueryNotFound` / `QueryVersionNotFound`
/// naming what was asked.
pub fn find<'a>(
    found: Lookup<'a>,
    asked: &str,
    version: Option<&str>,
) -> Result<&'a QueryFunction, ConjureError> {
    match found {
        Lookup::Found(f) => Ok(f),
        Lookup::NoSuchFunction => Err(with_params(
            "NOT_FOUND",
            "QueryNotFound",
            json!({"queryApiName": asked}),
        )),
        Lookup::NoSuchVersion => Err(with_params(
            "NOT_FOUND",
            "QueryVersionNotFound",
            json!({"apiName": asked, "version": version}),
        )),
    }
}

/// Refuses a push query where the operation needs the query to end (`execute`,
/// `executeAsync`): a push query's rows are for `streamingExecute`.
pub fn refuse_push(query: &QueryHandle, api_name: &str) -> Result<(), ConjureError> {
    if query.kind() != QueryKind::Push {
        return Ok(());
    }
    Err(error(
        "INVALID_ARGUMENT",
        "QueryRuntimeError",
        format!(
            "query function '{api_name}' streams its rows (a push query never ends): \
             call streamingExecute"
        ),
    ))
}

/// A pull query read to its end (the task registry's `collect_query`, shared with the
/// statement faces), a result past [`PULL_RESULT_BYTES_MAX`] as `QueryMemoryExceededLimit`.
pub async fn collect(query: QueryHandle) -> Result<StatementOutput, ConjureError> {
    collect_query(query).await.map_err(|e| query_error(&e))
}

/// The Conjure error of a query that failed while its rows were read.
pub fn query_error(e: &EngineError) -> ConjureError {
    if e.code() == ErrorCode::ResourceLimit {
        too_large()
    } else {
        runtime_error(e)
    }
}

pub fn error(code: &'static str, name: &'static str, description: String) -> ConjureError {
    ConjureError {
        code,
        name,
        instance_id: new_task_id(),
        parameters: Box::new(json!({"message": description})),
        description: Some(description),
    }
}

pub fn with_params(
    code: &'static str,
    name: &'static str,
    parameters: serde_json::Value,
) -> ConjureError {
    ConjureError {
        code,
        name,
        instance_id: new_task_id(),
        description: None,
        parameters: Box::new(parameters),
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
