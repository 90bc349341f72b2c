//! Roe's `/v1/tables/query/` variant (what the current `roe-ai` SDK calls): submit one
//! statement → 202 with its id, then `…/{id}/result/`. The statement is a task in the
//! shared registry, run by the same `run_batch` as `/v1/database/query/`; only the bodies
//! differ.

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use sluice_engine::ErrorCode;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::roe::results::{rfc3339, type_name};
use sluice_protocol::roe::table_query::{
    accepted_body, result_body, TableQueryRequest, TableResult,
};
use sluice_protocol::statement_split::{is_blank, split};

use super::query::{error, statement_properties, status_name};
use crate::auth::Principal;
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::{is_uuid, run_batch_with, BatchStatement, TaskSpec, TaskState};

/// The task-context key that marks a table query and carries its row limit: the registry
/// is shared with other routes, and only table queries answer here.
const LIMIT_KEY: &str = "roe.table_query.limit";

/// `POST /v1/tables/query/`: 202 `{"table_query_id","status","created_at"}`, or 400 when
/// the body is wrong or the engine refuses the SQL within the statement wait (Roe answers
/// bad SQL with 400; a statement still running by then is the client's to poll).
pub async fn submit(
    services: &Arc<Services>,
    principal: &Principal,
    mut body: Incoming,
) -> HttpResponse {
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(ReadError::TooLarge(e)) => return error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
        Err(ReadError::Disconnected) => {
            return error(StatusCode::BAD_REQUEST, "the request body was cut off")
        }
    };
    let request = match TableQueryRequest::decode(&bytes) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let parts = split(&request.sql);
    let mut texts: Vec<String> = parts.statements.iter().map(|s| s.to_string()).collect();
    if !is_blank(parts.rest) {
        texts.push(format!("{};", parts.rest.trim()));
    }
    let [sql] = texts.as_slice() else {
        return error(
            StatusCode::BAD_REQUEST,
            "sql must hold exactly one statement",
        );
    };
    let spec = TaskSpec {
        owner: principal.name().to_string(),
        sql: request.sql.clone(),
        statement_count: 1,
        created_ms: services.engine.now_ms(),
        context: vec![(LIMIT_KEY.to_string(), request.limit().to_string())],
        ..TaskSpec::default()
    };
    let statements = vec![BatchStatement::Sql(sql.clone())];
    let task = match services.tasks.submit(
        spec,
        run_batch_with(
            Arc::clone(&services.engine),
            statements,
            statement_properties(),
        ),
    ) {
        Ok(task) => task,
        Err(full) => return error(StatusCode::SERVICE_UNAVAILABLE, &full.to_string()),
    };
    if let TaskState::Failed(failure) = task.wait(services.statement_wait).await {
        if is_bad_sql(failure.code) {
            return error(StatusCode::BAD_REQUEST, &failure.message);
        }
    }
    json(
        StatusCode::ACCEPTED,
        accepted_body(
            task.id(),
            status_name(&task.state()),
            &rfc3339(task.created_ms()),
        ),
    )
}

/// The failures that are the request's SQL, not the server: Roe's 400.
fn is_bad_sql(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Syntax
            | ErrorCode::InvalidStatement
            | ErrorCode::QueryOnStatementEndpoint
            | ErrorCode::BadRequest
            | ErrorCode::NotFound
            | ErrorCode::TopicNotFound
            | ErrorCode::Unsupported
    )
}

/// `GET /v1/tables/query/{id}/result/`: the status and, once it succeeded, the rows.
pub fn result(services: &Services, principal: &Principal, id: &str) -> HttpResponse {
    let found = is_uuid(id)
        .then(|| services.tasks.get(id))
        .flatten()
        .filter(|t| t.statement.is_none() && services.auth.may_see(principal, t.task.owner()));
    let Some(found) = found else {
        return error(StatusCode::NOT_FOUND, "Not found.");
    };
    let task = &found.task;
    // Only table queries answer here: a /v1/database task or a DeltaStream statement is
    // "not found" on this route, as it would be in Roe.
    let Some(limit) = task
        .context()
        .iter()
        .find(|(k, _)| k == LIMIT_KEY)
        .and_then(|(_, v)| v.parse::<usize>().ok())
    else {
        return error(StatusCode::NOT_FOUND, "Not found.");
    };
    let state = task.state();
    let status = status_name(&state);
    let (output, error_text) = match &state {
        TaskState::Succeeded(out) => (out.statements.last(), None),
        TaskState::Failed(f) => (None, Some(f.message.as_str())),
        TaskState::Pending | TaskState::Running | TaskState::Canceled => (None, None),
    };
    let result = match output {
        Some(out) => TableResult {
            columns: out
                .columns
                .iter()
                .map(|c| (c.name.clone(), type_name(&c.ty)))
                .collect(),
            rows: &out.rows,
            limit,
            execution_time_ms: Some(u64::try_from(out.elapsed.as_millis()).unwrap_or(u64::MAX)),
        },
        None => TableResult {
            limit,
            ..TableResult::default()
        },
    };
    json(
        StatusCode::OK,
        result_body(task.id(), status, error_text, &result),
    )
}
