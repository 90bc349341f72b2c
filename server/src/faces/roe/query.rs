//! Roe's query endpoints: run (sync), run async (→ worksheet query id), status, result.
//! Every call is a task in the shared registry; the sync call waits for it.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use hyper::body::Incoming;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::roe::query_request::QueryRequest;
use sluice_protocol::roe::results::{
    cell_text, error_body, result_body, results_body, rfc3339, status_body, type_name,
    worksheet_query, StatementResult, Summary,
};
use sluice_protocol::statement_split::{is_blank, split};

use crate::auth::Principal;
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::{
    is_uuid, run_batch_with, BatchStatement, StatementOutput, Task, TaskSpec, TaskState,
};

/// How long the sync call waits for its statements. Roe's sync endpoint has no documented
/// limit; five minutes outlasts any pull query a client would run synchronously, and past
/// it the client is told to use the async call rather than held forever.
pub const SYNC_QUERY_WAIT_MS: u64 = 5 * 60 * 1000;

/// Most statements one request may carry.
pub const QUERY_STATEMENTS_MAX: usize = 100;

pub fn error(status: StatusCode, detail: &str) -> HttpResponse {
    json(status, error_body(detail))
}

/// Reads the body and submits its statements as a task.
async fn submit(
    services: &Arc<Services>,
    principal: &Principal,
    mut body: Incoming,
) -> Result<(Arc<Task>, QueryRequest), HttpResponse> {
    let bytes = read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(e) => error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
            ReadError::Disconnected => {
                error(StatusCode::BAD_REQUEST, "the request body was cut off")
            }
        })?;
    let request =
        QueryRequest::decode(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let parts = split(&request.query);
    let mut statements: Vec<BatchStatement> = parts
        .statements
        .iter()
        .map(|s| BatchStatement::Sql(s.to_string()))
        .collect();
    if !is_blank(parts.rest) {
        statements.push(BatchStatement::Sql(format!("{};", parts.rest.trim())));
    }
    if statements.is_empty() || statements.len() > QUERY_STATEMENTS_MAX {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("query must hold 1 to {QUERY_STATEMENTS_MAX} statements"),
        ));
    }
    let spec = TaskSpec {
        owner: principal.name().to_string(),
        sql: request.query.clone(),
        statement_count: statements.len(),
        created_ms: services.engine.now_ms(),
        ..TaskSpec::default()
    };
    let task = services
        .tasks
        .submit(
            spec,
            run_batch_with(
                Arc::clone(&services.engine),
                statements,
                statement_properties(),
            ),
        )
        .map_err(|full| error(StatusCode::SERVICE_UNAVAILABLE, &full.to_string()))?;
    Ok((task, request))
}

/// `POST /v1/database/query/`: runs the statements and answers one result per statement.
pub async fn run(services: &Arc<Services>, principal: &Principal, body: Incoming) -> HttpResponse {
    let task = match submit(services, principal, body).await {
        Ok((task, _)) => task,
        Err(response) => return response,
    };
    match task.wait(Duration::from_millis(SYNC_QUERY_WAIT_MS)).await {
        TaskState::Succeeded(output) => json(
            StatusCode::OK,
            results_body(&statement_results(&task, &output.statements)),
        ),
        TaskState::Failed(failure) => error(StatusCode::BAD_REQUEST, &failure.message),
        TaskState::Canceled => error(StatusCode::BAD_REQUEST, "the query was canceled"),
        TaskState::Pending | TaskState::Running => error(
            StatusCode::GATEWAY_TIMEOUT,
            &format!(
                "the query is still running after {SYNC_QUERY_WAIT_MS} ms; its id is {}: \
                 use /v1/database/query/async/ for long queries",
                task.id()
            ),
        ),
    }
}

/// `POST /v1/database/query/async/`: submits and answers the worksheet query at once.
pub async fn run_async(
    services: &Arc<Services>,
    principal: &Principal,
    body: Incoming,
) -> HttpResponse {
    let (task, request) = match submit(services, principal, body).await {
        Ok(submitted) => submitted,
        Err(response) => return response,
    };
    json(
        StatusCode::OK,
        worksheet_query(
            task.id(),
            task.sql(),
            status_name(&task.state()),
            &rfc3339(task.created_ms()),
            request.worksheet_id.as_deref(),
            principal.name(),
        ),
    )
}

/// Which of status and result a GET asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Status,
    Result,
}

/// `GET /v1/database/query/{id}/status/` and `…/result/`.
pub fn read(services: &Services, principal: &Principal, id: &str, view: View) -> HttpResponse {
    let found = is_uuid(id)
        .then(|| services.tasks.get(id))
        .flatten()
        // Only whole queries have status and result here (not one statement of a batch),
        // and only their owner sees them.
        .filter(|t| t.statement.is_none() && services.auth.may_see(principal, t.task.owner()));
    let Some(found) = found else {
        return error(StatusCode::NOT_FOUND, "Not found.");
    };
    let task = &found.task;
    let state = task.state();
    let status = status_name(&state);
    let error_text = match &state {
        TaskState::Failed(f) => Some(f.message.as_str()),
        _ => None,
    };
    match view {
        View::Status => json(
            StatusCode::OK,
            status_body(
                task.id(),
                status,
                error_text,
                &rfc3339(task.created_ms()),
                task.finished_ms().map(rfc3339).as_deref(),
            ),
        ),
        View::Result => {
            let results = match &state {
                TaskState::Succeeded(out) => statement_results(task, &out.statements),
                TaskState::Failed(f) => statement_results(task, &f.completed),
                TaskState::Pending | TaskState::Running | TaskState::Canceled => Vec::new(),
            };
            json(
                StatusCode::OK,
                result_body(task.id(), status, &results, error_text),
            )
        }
    }
}

/// Roe's task states (Celery's names).
pub fn status_name(state: &TaskState) -> &'static str {
    match state {
        TaskState::Pending => "PENDING",
        TaskState::Running => "STARTED",
        TaskState::Succeeded(_) => "SUCCESS",
        TaskState::Failed(_) => "FAILURE",
        TaskState::Canceled => "REVOKED",
    }
}

fn statement_results(task: &Task, outputs: &[StatementOutput]) -> Vec<StatementResult> {
    outputs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let query_id = task
                .statement_ids()
                .get(i)
                .map_or_else(|| task.id().to_string(), String::clone);
            let rows: Vec<Vec<Option<String>>> = out
                .rows
                .iter()
                .map(|row| row.iter().map(cell_text).collect())
                .collect();
            let result_bytes: usize = out.rows.iter().flatten().map(|c| c.bytes()).sum();
            let result_rows = rows.len() as u64;
            // A query reports the source records it read; any other statement the rows it
            // answers with (what it looked at to build them).
            let (read_rows, read_bytes) = out.scanned.unwrap_or((result_rows, result_bytes as u64));
            StatementResult {
                query_id: query_id.clone(),
                query: out.statement.clone(),
                summary: Summary {
                    read_rows,
                    read_bytes,
                    written_rows: out.written_rows,
                    written_bytes: 0,
                    total_rows_to_read: read_rows,
                    result_rows,
                    result_bytes: result_bytes as u64,
                    elapsed_ns: u64::try_from(out.elapsed.as_nanos()).unwrap_or(u64::MAX),
                    query_id,
                },
                row_count: result_rows,
                column_names: out.columns.iter().map(|c| c.name.clone()).collect(),
                column_types: out.columns.iter().map(|c| type_name(&c.ty)).collect(),
                result_rows: rows,
                start_timestamp: out.started_ms as f64 / 1000.0,
                end_timestamp: out.finished_ms as f64 / 1000.0,
            }
        })
        .collect()
}

/// The properties every Roe statement runs with: Roe's SQL is a database's, so a pull query
/// may aggregate (`SELECT count(*) FROM big`, its smoke scenario 2) rather than get
/// ksqlDB's "Pull queries don't support GROUP BY clauses".
pub(super) fn statement_properties() -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([(
        sluice_engine::PULL_AGGREGATES.to_string(),
        "true".to_string(),
    )])
}
