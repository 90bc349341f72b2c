//! Async executions: `POST /queries/{queryApiName}/executeAsync` starts a function's pull
//! query as a task of the shared registry and answers `completed` with its rows when it
//! ends within the statement wait, else `submitted` with the execution id; then
//! `POST /executions/{id}/getResult` (`running` or `succeeded`, long-polled up to its
//! `timeout`) and `POST /executions/{id}/cancel`. With `--statement-wait-ms 0` every
//! execution answers `submitted`.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use hyper::body::Incoming;
use serde_json::json;
use sluice_engine::EngineError;
use sluice_protocol::foundry::events::{
    execution_result, ConjureError, ExecutionAnswer, GetResultRequest,
};
use sluice_protocol::foundry::functions::function_rid;
use sluice_protocol::statement_table::Cell;

use super::call;
use crate::auth::Principal;
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::{
    collect_query, StatementOutput, Task, TaskFailure, TaskOutput, TaskSpec, TaskState,
};

/// The registry's origin of this face's tasks: an execution id names only these.
const ORIGIN: &str = "foundry";

/// The task context keys naming the function an execution runs (for `AsyncQueryCanceled`).
const RID_KEY: &str = "functionRid";
const VERSION_KEY: &str = "functionVersion";

/// `executeAsync`.
pub async fn execute_async(
    services: &Arc<Services>,
    principal: &Principal,
    api_name: &str,
    body: Incoming,
) -> Result<HttpResponse, ConjureError> {
    let (query, function) = call::start_function(services, api_name, body).await?;
    call::refuse_push(&query, api_name)?;
    let spec = TaskSpec {
        owner: principal.name().to_string(),
        sql: query.sql().to_string(),
        statement_count: 1,
        created_ms: services.engine.now_ms(),
        context: vec![
            (RID_KEY.into(), function_rid(&function.api_name)),
            (VERSION_KEY.into(), function.version.clone()),
        ],
        origin: ORIGIN,
    };
    let work = async move {
        let statement = query.sql().to_string();
        match collect_query(query).await {
            Ok(output) => Ok(TaskOutput {
                statements: vec![StatementOutput {
                    statement,
                    ..output
                }],
            }),
            Err(e) => Err(TaskFailure {
                code: e.code(),
                message: e.message().to_string(),
                statement_index: 0,
                completed: Vec::new(),
            }),
        }
    };
    let task = services
        .tasks
        .submit(spec, work)
        .map_err(|full| call::error("INTERNAL", "Default:Internal", full.to_string()))?;
    match task.finished_within(services.statement_wait).await {
        Some(state) => finished(&task, &state, "completed"),
        None => Ok(json(
            StatusCode::OK,
            ExecutionAnswer::Submitted(task.id()).encode(),
        )),
    }
}

/// `getResult`: the execution's state after waiting up to the request's `timeout`.
pub async fn get_result(
    services: &Services,
    principal: &Principal,
    id: &str,
    mut body: Incoming,
) -> Result<HttpResponse, ConjureError> {
    let bytes = call::read_body(&mut body).await?;
    let request = GetResultRequest::decode(&bytes)
        .map_err(|e| call::error("INVALID_ARGUMENT", "Default:InvalidArgument", e.to_string()))?;
    let task = find(services, principal, id)?;
    let state = task.wait(Duration::from_secs(request.wait_s())).await;
    match state {
        TaskState::Pending | TaskState::Running => {
            Ok(json(StatusCode::OK, ExecutionAnswer::Running.encode()))
        }
        state => finished(&task, &state, "succeeded"),
    }
}

/// `cancel`: stops the execution if it still runs; `{"id": …}` either way.
pub fn cancel(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<HttpResponse, ConjureError> {
    let task = find(services, principal, id)?;
    task.cancel();
    Ok(json(
        StatusCode::OK,
        json!({ "id": task.id() }).to_string().into_bytes(),
    ))
}

/// The execution `id` of this face that `principal` may see, or `ExecutionNotFound`.
fn find(services: &Services, principal: &Principal, id: &str) -> Result<Arc<Task>, ConjureError> {
    services
        .tasks
        .get(id)
        .filter(|t| {
            t.statement.is_none()
                && t.task.origin() == ORIGIN
                && services.auth.may_see(principal, t.task.owner())
        })
        .map(|t| t.task)
        .ok_or_else(|| {
            call::with_params(
                "NOT_FOUND",
                "ExecutionNotFound",
                json!({ "executionId": id }),
            )
        })
}

/// The answer for a finished execution: its rows as `kind` (`completed` / `succeeded`), or
/// the error it ended with.
fn finished(task: &Task, state: &TaskState, kind: &str) -> Result<HttpResponse, ConjureError> {
    match state {
        TaskState::Succeeded(output) => {
            let (columns, rows): (Vec<String>, &[Vec<Cell>]) = match output.statements.first() {
                Some(out) => (
                    out.columns.iter().map(|c| c.name.clone()).collect(),
                    &out.rows,
                ),
                None => (Vec::new(), &[]),
            };
            Ok(json(StatusCode::OK, execution_result(kind, &columns, rows)))
        }
        TaskState::Failed(failure) => Err(failure_error(failure)),
        TaskState::Canceled => {
            let context = |key: &str| {
                task.context()
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            Err(call::with_params(
                "INVALID_ARGUMENT",
                "AsyncQueryCanceled",
                json!({"functionRid": context(RID_KEY), "functionVersion": context(VERSION_KEY)}),
            ))
        }
        TaskState::Pending | TaskState::Running => Err(call::error(
            "INTERNAL",
            "Default:Internal",
            "the execution has not finished".into(),
        )),
    }
}

/// The Conjure error a failed execution answers with (the one `execute` would have given).
fn failure_error(failure: &TaskFailure) -> ConjureError {
    call::query_error(&EngineError::new(failure.code, failure.message.clone()))
}
