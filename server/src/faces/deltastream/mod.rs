//! The DeltaStream face: DeltaStream's REST API v2 (other-faces.md §A), statements through
//! the shared task registry, bearer-token auth answering 403 as its spec does.
//!
//! ```text
//!  POST /v2/statements (JSON | multipart) ─► statements::submit ─► tasks (run_batch via
//!       the engine facade) ─► wait ≤ statement wait ─► respond: 200 ResultSet | 202
//!  GET  /v2/statements/{id}[?partitionID=n] ─► statements::poll ─► respond (page n)
//!  GET  /v2/version ─► {"major","minor","patch"}
//!  GET  /v2/download/{resourceType}/{organizationID}/{name} ─► sources::download (bytes)
//! ```
//!
//! - `statements`: submit and poll.
//! - `respond`: task state → ResultSet/StatementStatus pages, `{message, traceID}` errors.
//! - `sources`: attached files (`CREATE FUNCTION_SOURCE|DESCRIPTOR_SOURCE`), the download.

pub mod respond;
pub mod sources;
pub mod statements;

use std::sync::Arc;

use http::request::Parts;
use http::{header, Method, StatusCode};
use hyper::body::Incoming;
use sluice_protocol::deltastream::result_set::version;

use crate::auth::{CredentialKind, Refusal};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use respond::error;

/// The path prefix this face owns.
const PREFIX: &str = "/v2/";

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path.starts_with(PREFIX) || path == "/v2"
}

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let principal = match services.auth.admit(CredentialKind::Bearer, &parts.headers) {
        Ok(p) => p,
        Err(refusal) => return refuse(refusal),
    };
    let path = parts.uri.path();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    match (&parts.method, rest) {
        (&Method::POST, "statements") => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            statements::submit(services, &principal, content_type, body).await
        }
        (&Method::GET, "version") => {
            let (major, minor, patch) = crate_version();
            json(StatusCode::OK, version(major, minor, patch))
        }
        (&Method::GET, rest) if rest.starts_with("download/") => {
            sources::download(&services.deltastream_sources, &rest["download/".len()..])
        }
        (&Method::GET, rest) if rest.starts_with("statements/") => {
            let id = &rest["statements/".len()..];
            if id.is_empty() || id.contains('/') {
                return error(StatusCode::NOT_FOUND, &format!("path not found: {path}"));
            }
            statements::poll(services, &principal, id, parts.uri.query()).await
        }
        (_, "statements" | "version") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, &format!("path not found: {path}")),
    }
}

/// DeltaStream's spec answers every bad, missing or expired token with 403.
fn refuse(refusal: Refusal) -> HttpResponse {
    let message = match refusal {
        Refusal::Missing => "missing bearer token",
        Refusal::Malformed | Refusal::Invalid => "invalid or expired token",
        Refusal::Forbidden => "the token's principal may not use this server",
    };
    error(StatusCode::FORBIDDEN, message)
}

/// Sluice's own version, as `/v2/version` reports it.
fn crate_version() -> (u32, u32, u32) {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}
