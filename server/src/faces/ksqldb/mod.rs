//! The ksqlDB face: ksqlDB's HTTP API (ksqldb-api.md), one handler per endpoint, each
//! reading top to bottom as its data path.
//!
//! ```text
//!  POST /inserts-stream, /insert-stream ─► inserts_stream (rows in, ordered durable acks out)
//!  POST /query-stream ─► query_stream (push and pull queries; PRINT ─► print)
//!  POST /query ─► query (the old StreamedRow endpoint, over query_stream's path)
//!  POST /close-query ─► close_query          POST /ksql ─► ksql (statements)
//!  GET  /info, /healthcheck, /status, / ─► info   GET /queries/{id}/progress ─► query_progress
//! ```
//!
//! `auth` renders the router's refusals (Basic authentication) in ksqlDB's shapes.

pub mod auth;
pub mod close_query;
pub mod info;
pub mod inserts_stream;
pub mod ksql;
pub mod print;
pub mod query;
pub mod query_progress;
pub mod query_stream;

use std::sync::Arc;

use http::request::Parts;
use http::{header, Method, StatusCode};
use hyper::body::Incoming;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::metrics::Metrics;
use crate::push_quota::PushQuota;
use crate::response::{error, json, HttpResponse};

/// The paths of ksqlDB's endpoints, for the 405 of a wrong method.
const ENDPOINTS: &[&str] = &[
    "/inserts-stream",
    "/insert-stream",
    "/query-stream",
    "/query",
    "/close-query",
    "/ksql",
    "/info",
    "/healthcheck",
    "/status",
];

/// The connection's push-query quota (absent only when a request did not come through a
/// connection, which gets one of its own).
fn push_quota(parts: &Parts) -> PushQuota {
    parts
        .extensions
        .get::<PushQuota>()
        .cloned()
        .unwrap_or_default()
}

/// Serves one request of this face: routes it by method and path.
pub async fn handle(
    engine: &Arc<Engine>,
    metrics: &Arc<Metrics>,
    parts: &Parts,
    body: Incoming,
) -> HttpResponse {
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    match (&parts.method, parts.uri.path()) {
        (&Method::POST, "/inserts-stream" | "/insert-stream") => {
            inserts_stream::handle(engine, metrics, accept, body).await
        }
        (&Method::POST, "/query-stream") => {
            query_stream::handle(engine, metrics, push_quota(parts), accept, body).await
        }
        (&Method::POST, "/query") => {
            let quota = push_quota(parts);
            query::handle(engine, metrics, quota, parts.version, accept, body).await
        }
        (&Method::POST, "/close-query") => close_query::handle(engine, body).await,
        (&Method::POST, "/ksql") => ksql::handle(engine, body).await,
        (&Method::GET, "/info") => info::info(),
        (&Method::GET, "/healthcheck") => info::healthcheck(engine),
        (&Method::GET, "/status") => info::status(engine),
        (&Method::GET, path) if path.starts_with("/status/") => {
            info::command_status(engine, &path["/status/".len()..])
        }
        (&Method::GET, "/") => info::root(),
        (&Method::GET, path) if query_progress::matches(path) => {
            query_progress::handle(engine, path)
        }
        (_, path) if ENDPOINTS.contains(&path) => json(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorResponse::generic(40500, "Method not allowed").body,
        ),
        (_, path) => error(ErrorResponse::generic(
            code::NOT_FOUND,
            &format!("Path not found: {path}"),
        )),
    }
}
