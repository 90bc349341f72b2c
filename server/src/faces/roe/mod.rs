//! The Roe face: Roe AI's database query tasks (other-faces.md §D), bearer API keys,
//! `{"detail": …}` errors. Paths are documented with a trailing slash; both forms work.
//!
//! ```text
//!  POST /v1/database/query/        ─► query::run (task, wait, one result per statement)
//!  POST /v1/database/query/async/  ─► query::run_async (task id at once, PENDING/STARTED)
//!  GET  /v1/database/query/{id}/status/ | result/ ─► query::read (state machine, results)
//!  POST /v1/tables/query/          ─► tables::submit (one statement, 202 + id)
//!  GET  /v1/tables/query/{id}/result/ ─► tables::result (status, columns, row objects)
//! ```

pub mod query;
pub mod tables;

use std::sync::Arc;

use http::request::Parts;
use http::{Method, StatusCode};
use hyper::body::Incoming;

use crate::auth::{CredentialKind, Principal, Refusal};
use crate::response::HttpResponse;
use crate::services::Services;
use query::{error, View};

/// The path prefixes this face owns: the database query API, and the tables variant the
/// current SDK speaks. Neither collides with KalamDB's `/v1/api/…`.
const PREFIX: &str = "/v1/database/";
const TABLES_PREFIX: &str = "/v1/tables/";

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path.starts_with(PREFIX) || path.starts_with(TABLES_PREFIX)
}

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let principal = match services.auth.admit(CredentialKind::Bearer, &parts.headers) {
        Ok(p) => p,
        Err(refusal) => return refuse(refusal),
    };
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix(TABLES_PREFIX) {
        return handle_tables(services, &principal, parts, rest, body).await;
    }
    let rest = path[PREFIX.len()..].trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["query"]) => query::run(services, &principal, body).await,
        (&Method::POST, ["query", "async"]) => query::run_async(services, &principal, body).await,
        (&Method::GET, ["query", id, "status"]) => {
            query::read(services, &principal, id, View::Status)
        }
        (&Method::GET, ["query", id, "result"]) => {
            query::read(services, &principal, id, View::Result)
        }
        (_, ["query"] | ["query", "async"] | ["query", _, "status" | "result"]) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{}\" not allowed.", parts.method),
        ),
        _ => error(StatusCode::NOT_FOUND, "Not found."),
    }
}

/// `/v1/tables/…`; `rest` is the path after that prefix.
async fn handle_tables(
    services: &Arc<Services>,
    principal: &Principal,
    parts: &Parts,
    rest: &str,
    body: Incoming,
) -> HttpResponse {
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["query"]) => tables::submit(services, principal, body).await,
        (&Method::GET, ["query", id, "result"]) => tables::result(services, principal, id),
        (_, ["query"] | ["query", _, "result"]) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method \"{}\" not allowed.", parts.method),
        ),
        _ => error(StatusCode::NOT_FOUND, "Not found."),
    }
}

/// Roe answers as Django REST framework does: 401 without a valid key, 403 without rights.
fn refuse(refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Missing => error(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        ),
        Refusal::Malformed | Refusal::Invalid => {
            error(StatusCode::UNAUTHORIZED, "Invalid API key.")
        }
        Refusal::Forbidden => error(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        ),
    }
}
