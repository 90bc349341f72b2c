//! `POST /v2/statements` and `GET /v2/statements/{statementID}`: a batch becomes a task in
//! the shared registry; the response is its result if it finishes within the statement
//! wait, else 202 and the client polls.

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use sluice_protocol::deltastream::dialect::{map_statement, ContextField, Mapped};
use sluice_protocol::deltastream::result_set::statement_status;
use sluice_protocol::deltastream::statement_request::{decode, Attachment, StatementRequest};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::statement_split::split;

use super::respond::{context_key, error, task_response, ORGANIZATION_ID};
use super::sources::{SourceError, SourceStore};
use crate::auth::Principal;
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::{is_uuid, run_batch, BatchStatement, TaskSpec};
use sluice_engine::ErrorCode;

/// Most statements one request may carry: each gets its own id and retained result.
pub const BATCH_STATEMENTS_MAX: usize = 100;

pub async fn submit(
    services: &Arc<Services>,
    principal: &Principal,
    content_type: Option<&str>,
    mut body: Incoming,
) -> HttpResponse {
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(ReadError::TooLarge(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(ReadError::Disconnected) => {
            return error(StatusCode::BAD_REQUEST, "the request body was cut off")
        }
    };
    let decoded = match decode(content_type, &bytes) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let request = decoded.request;
    let parts = split(&request.statement);
    let mut texts: Vec<String> = parts.statements.iter().map(|s| s.to_string()).collect();
    if !sluice_protocol::statement_split::is_blank(parts.rest) {
        // The last statement may omit its `;`.
        texts.push(format!("{};", parts.rest.trim()));
    }
    if texts.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "the statement field holds no statement",
        );
    }
    if texts.len() > BATCH_STATEMENTS_MAX {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("a request may hold at most {BATCH_STATEMENTS_MAX} statements"),
        );
    }
    let mapped: Vec<Mapped> = texts.iter().map(|t| map_statement(t)).collect();
    let spec = TaskSpec {
        owner: principal.name().to_string(),
        sql: request.statement.clone(),
        statement_count: mapped.len(),
        created_ms: services.engine.now_ms(),
        context: context(&request, &mapped),
        ..TaskSpec::default()
    };
    // Sources are kept (or dropped) now, before the batch runs: the attachments are in
    // this request, and the engine has no part in them.
    let organization = organization_id(&request);
    let statements = batch(
        mapped,
        &decoded.attachments,
        &services.deltastream_sources,
        &organization,
    );
    let submitted = services
        .tasks
        .submit(spec, run_batch(Arc::clone(&services.engine), statements));
    let task = match submitted {
        Ok(task) => task,
        Err(full) => return error(StatusCode::SERVICE_UNAVAILABLE, &full.to_string()),
    };
    match task.finished_within(services.statement_wait).await {
        Some(_) => task_response(&task, task.id(), None, 0),
        None => json(
            StatusCode::ACCEPTED,
            statement_status(
                task.id(),
                task.statement_ids(),
                task.created_ms().div_euclid(1000),
            ),
        ),
    }
}

/// `GET /v2/statements/{id}[?partitionID=n]`.
pub async fn poll(
    services: &Services,
    principal: &Principal,
    id: &str,
    query: Option<&str>,
) -> HttpResponse {
    let page = match partition_id(query) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if !is_uuid(id) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("`{id}` is not a statement ID (a UUID)"),
        );
    }
    let found = services
        .tasks
        .get(id)
        .filter(|t| services.auth.may_see(principal, t.task.owner()));
    match found {
        // Another principal's statement answers as if it did not exist.
        None => error(StatusCode::NOT_FOUND, &format!("statement {id} not found")),
        Some(found) => task_response(&found.task, id, found.statement, page),
    }
}

/// The `partitionID` query parameter (default 0).
fn partition_id(query: Option<&str>) -> Result<usize, String> {
    let value = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "partitionID")
        .map(|(_, v)| v);
    match value {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("partitionID must be an integer >= 0, not `{v}`")),
    }
}

fn batch(
    mapped: Vec<Mapped>,
    attachments: &[Attachment],
    sources: &SourceStore,
    organization: &str,
) -> Vec<BatchStatement> {
    let failed = |text: String, e: SourceError| BatchStatement::Failed {
        text,
        code: e.code,
        message: e.message,
    };
    mapped
        .into_iter()
        .map(|m| match m {
            Mapped::Engine(sql) => BatchStatement::Sql(sql),
            Mapped::Use(_, name) => BatchStatement::Empty(format!("USE {name}")),
            Mapped::CreateSource { kind, name, file } => {
                let text = format!("CREATE {} {name}", kind.type_name());
                let Some(attachment) = attachments.iter().find(|a| a.filename == file) else {
                    return failed(
                        text,
                        SourceError {
                            code: ErrorCode::BadRequest,
                            message: format!("no attachment named `{file}` in the request"),
                        },
                    );
                };
                match sources.create(kind, organization, &name, &attachment.bytes) {
                    Ok(()) => BatchStatement::Empty(text),
                    Err(e) => failed(text, e),
                }
            }
            Mapped::DropSource { kind, name } => {
                let text = format!("DROP {} {name}", kind.type_name());
                match sources.drop_source(kind, organization, &name) {
                    Ok(()) => BatchStatement::Empty(text),
                    Err(e) => failed(text, e),
                }
            }
            Mapped::Invalid(message) => BatchStatement::Failed {
                text: message.clone(),
                code: ErrorCode::InvalidStatement,
                message,
            },
        })
        .collect()
}

/// The organization a request acts in: the one it names if that is a UUID, else Sluice's
/// one organization (the id `metadata.context` echoes and `/v2/download` paths carry).
pub fn organization_id(request: &StatementRequest) -> String {
    request
        .organization
        .clone()
        .filter(|o| is_uuid(o))
        .unwrap_or_else(|| ORGANIZATION_ID.to_string())
}

/// The context to echo: the request's, with the batch's `USE` statements applied in order.
fn context(request: &StatementRequest, mapped: &[Mapped]) -> Vec<(String, String)> {
    let mut ctx: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: Option<&String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            ctx.retain(|(k, _)| k != key);
            ctx.push((key.to_string(), v.clone()));
        }
    };
    // The organization is echoed only when it is the UUID the clients insist on.
    set(
        context_key::ORGANIZATION,
        request.organization.as_ref().filter(|o| is_uuid(o)),
    );
    set(context_key::ROLE, request.role.as_ref());
    set(context_key::DATABASE, request.database.as_ref());
    set(context_key::SCHEMA, request.schema.as_ref());
    set(context_key::STORE, request.store.as_ref());
    set(context_key::COMPUTE_POOL, request.compute_pool.as_ref());
    for m in mapped {
        if let Mapped::Use(field, name) = m {
            let key = match field {
                ContextField::Database => context_key::DATABASE,
                ContextField::Schema => context_key::SCHEMA,
                ContextField::Store => context_key::STORE,
                ContextField::Role => context_key::ROLE,
                ContextField::ComputePool => context_key::COMPUTE_POOL,
            };
            set(key, Some(name));
        }
    }
    ctx
}
