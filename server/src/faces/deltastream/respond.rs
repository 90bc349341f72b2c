//! DeltaStream's responses: a task's state as 200 `ResultSet` (one page of rows) or 202
//! `StatementStatus`, and the `{message, traceID}` error body.

use http::StatusCode;
use sluice_protocol::deltastream::cells::{cell_text, type_name};
use sluice_protocol::deltastream::result_set::{
    error_body, statement_status, ResultColumn, ResultContext, ResultSet,
};
use sluice_protocol::deltastream::sql_state::{self, sql_state};

use crate::response::{json, HttpResponse};
use crate::tasks::{new_task_id, StatementOutput, Task, TaskState};

/// Rows per result page (`partitionInfo` entry): DeltaStream's own pages hold a thousand
/// rows, and its clients fetch the next page as they iterate past each.
pub const PAGE_ROWS: usize = 1_000;

/// The organization every request belongs to: Sluice has one tenant, and DeltaStream's
/// clients require `organizationID` to be a UUID.
pub const ORGANIZATION_ID: &str = "5a1ce000-0000-4000-8000-000000000001";

/// `{"message", "traceID"}` with `status`.
pub fn error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, error_body(message, &new_task_id()))
}

/// What to show of `task`: its statement `statement` (or the batch's last/failing one),
/// page `page`, under the id the client asked with.
pub fn task_response(
    task: &Task,
    asked_id: &str,
    statement: Option<usize>,
    page: usize,
) -> HttpResponse {
    let created_on = task.created_ms().div_euclid(1000);
    let context = context_of(task);
    let base = |sql_state: &'static str, message: Option<&str>| Failure {
        statement_id: asked_id,
        statement_ids: task.statement_ids(),
        created_on,
        context: &context,
        sql_state,
        message: message.map(str::to_string),
    };
    match task.state() {
        TaskState::Pending | TaskState::Running => json(
            StatusCode::ACCEPTED,
            statement_status(asked_id, task.statement_ids(), created_on),
        ),
        TaskState::Succeeded(output) => {
            let index = statement.unwrap_or(output.statements.len().saturating_sub(1));
            match output.statements.get(index) {
                Some(out) => {
                    page_response(out, &base(sql_state::SUCCESSFUL_COMPLETION, None), page)
                }
                None => base(sql_state::SUCCESSFUL_COMPLETION, None).respond(),
            }
        }
        TaskState::Canceled => base(CANCELLED, Some("the statement was canceled")).respond(),
        TaskState::Failed(failure) => {
            let index = statement.unwrap_or(failure.statement_index);
            if let Some(out) = failure.completed.get(index) {
                page_response(out, &base(sql_state::SUCCESSFUL_COMPLETION, None), page)
            } else if index == failure.statement_index {
                base(sql_state(failure.code), Some(&failure.message)).respond()
            } else {
                base(
                    CANCELLED,
                    Some("not run: an earlier statement of the request failed"),
                )
                .respond()
            }
        }
    }
}

/// Class 57: the statement was cancelled (never run after an earlier one failed, or its
/// task canceled).
const CANCELLED: &str = "57000";

/// The fields of a `ResultSet` that do not depend on the rows.
struct Failure<'a> {
    statement_id: &'a str,
    statement_ids: &'a [String],
    created_on: i64,
    context: &'a ResultContext,
    sql_state: &'static str,
    message: Option<String>,
}

impl Failure<'_> {
    /// A `ResultSet` with no rows: a failed (or never-run) statement, still HTTP 200.
    fn respond(&self) -> HttpResponse {
        let body = ResultSet {
            sql_state: self.sql_state,
            message: self.message.as_deref(),
            statement_id: self.statement_id,
            statement_ids: self.statement_ids,
            created_on: self.created_on,
            columns: &[],
            context: self.context,
            page_rows: &[],
            data: None,
        }
        .encode();
        json(StatusCode::OK, body)
    }
}

fn page_response(out: &StatementOutput, base: &Failure<'_>, page: usize) -> HttpResponse {
    let page_rows: Vec<usize> = out.rows.chunks(PAGE_ROWS).map(<[_]>::len).collect();
    if page >= page_rows.len() && !(page == 0 && page_rows.is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "partitionID {page} is out of range: the result has {} partitions",
                page_rows.len()
            ),
        );
    }
    let columns: Vec<ResultColumn> = out
        .columns
        .iter()
        .map(|c| ResultColumn {
            name: c.name.clone(),
            type_name: type_name(&c.ty),
            nullable: true,
        })
        .collect();
    let data: Vec<Vec<Option<String>>> = out
        .rows
        .chunks(PAGE_ROWS)
        .nth(page)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            row.iter()
                .zip(&out.columns)
                .map(|(cell, column)| cell_text(cell, &column.ty))
                .collect()
        })
        .collect();
    let body = ResultSet {
        sql_state: base.sql_state,
        message: out.message.as_deref(),
        statement_id: base.statement_id,
        statement_ids: base.statement_ids,
        created_on: base.created_on,
        columns: &columns,
        context: base.context,
        page_rows: &page_rows,
        data: Some(&data),
    }
    .encode();
    json(StatusCode::OK, body)
}

/// Context field names as the task records them (the names of `metadata.context`).
pub mod context_key {
    pub const ORGANIZATION: &str = "organizationID";
    pub const ROLE: &str = "roleName";
    pub const DATABASE: &str = "databaseName";
    pub const SCHEMA: &str = "schemaName";
    pub const STORE: &str = "storeName";
    pub const COMPUTE_POOL: &str = "computePoolName";
}

fn context_of(task: &Task) -> ResultContext {
    let get = |key: &str| {
        task.context()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    ResultContext {
        organization_id: get(context_key::ORGANIZATION)
            .unwrap_or_else(|| ORGANIZATION_ID.to_string()),
        role_name: get(context_key::ROLE),
        database_name: get(context_key::DATABASE),
        schema_name: get(context_key::SCHEMA),
        store_name: get(context_key::STORE),
        compute_pool_name: get(context_key::COMPUTE_POOL),
    }
}
