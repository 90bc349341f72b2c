//! The KalamDB face: KalamDB's HTTP API as its 0.4/0.5 line (the `kalam-client` crate)
//! speaks it (other-faces.md §C), on the same engine.
//!
//! ```text
//!  POST /v1/api/sql            ─► sql::run (params bound, namespaces mapped, one result
//!                                  per statement, `took`)
//!  GET  /health, /v1/api/healthcheck ─► health
//!  /v1/api/auth/{setup,status,login,refresh,logout,me} ─► auth (HS256 JWT pair, cookies)
//!  GET  /v1/ws                 ─► ws (upgrade, auth, session) ─► live (one task per
//!                                  subscription: snapshot batches, then changes)
//!                                  ─► live_hub (one feed per distinct live query)
//!                                  ─► live_feed (push query ─► inserts/updates/deletes)
//!  POST /v1/api/topics/{consume,ack} ─► topics ─► consumer_groups (claims, durable offsets)
//!  GET  /v1/files/{ns}/{table}/{sub}/{id} ─► files (FILE cells' bytes; uploads come in
//!                                  multipart /v1/api/sql)
//!  topic statements of /v1/api/sql ─► topic_sql (topics, routes as persistent queries)
//! ```
//!
//! - `state`: what the face keeps beside the engine (namespaces, column defaults), durably.
//! - `sql`: the SQL endpoint (user statements included).
//! - `defaults`: the values of column defaults an insert leaves out.
//! - `file_store`: uploaded files on disk: stored before the INSERT naming them runs.
//! - `files`: the download route for them.
//! - `auth`: setup, status, login, refresh (rotation), logout, me; JWTs and cookies.
//! - `ws`: the WebSocket: upgrade with header auth, message auth, the session's reader
//!   and writer, pings, limits.
//! - `live`: one subscription: who may follow the table, its initial batches, then its
//!   hub's change frames with its id.
//! - `live_hub`: one feed per distinct live query, shared by all its subscriptions (a
//!   bounded ring of change frames encoded once).
//! - `live_feed`: a live query's feed: the push query from earliest, key → row for old
//!   values, `_seq`, rows into inserts, updates and deletes.
//! - `topics`: the consume and ack endpoints, and the consume/ack both they and SQL run.
//! - `topic_sql`: `CREATE/DROP/CLEAR/ALTER TOPIC`, `CONSUME`, `ACK` on the engine.
//! - `consumer_groups`: committed offsets (durable), cursors, claims with a visibility
//!   timeout.

pub mod auth;
pub mod consumer_groups;
pub mod defaults;
pub mod file_store;
pub mod files;
pub mod live;
pub mod live_feed;
pub mod live_hub;
pub mod sql;
pub mod state;
pub mod topic_sql;
pub mod topics;
pub mod ws;

use std::sync::Arc;

use http::request::Parts;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use sluice_protocol::kalamdb::envelope::{code, error_body, health_body};

use crate::auth::{CredentialKind, Refusal};
use crate::response::{json, HttpResponse};
use crate::services::Services;

pub use consumer_groups::{ConsumerGroups, TopicOptions};
pub use state::{KalamState, NAMESPACES_FILE};

const API_PREFIX: &str = "/v1/api/";
const HEALTH_PATH: &str = "/health";

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path == HEALTH_PATH || path.starts_with(API_PREFIX) || path.starts_with(files::FILES_PREFIX)
}

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let path = parts.uri.path();
    match (&parts.method, path) {
        (&Method::GET, HEALTH_PATH | "/v1/api/healthcheck") => {
            json(StatusCode::OK, health_body(env!("CARGO_PKG_VERSION")))
        }
        (&Method::GET, "/v1/api/auth/status") => auth::status(services),
        (&Method::POST, "/v1/api/auth/setup") => auth::setup(services, body).await,
        (&Method::POST, "/v1/api/auth/login") => auth::login(services, body).await,
        (&Method::POST, "/v1/api/auth/refresh") => auth::refresh(services, &parts.headers),
        (&Method::POST, "/v1/api/auth/logout") => auth::logout(),
        (&Method::GET, "/v1/api/auth/me") => auth::me(services, &parts.headers),
        (&Method::POST, topics::CONSUME_PATH) => {
            topics::consume_endpoint(services, &parts.headers, body).await
        }
        (&Method::POST, topics::ACK_PATH) => {
            topics::ack_endpoint(services, &parts.headers, body).await
        }
        (method, _) if path.starts_with(topics::TOPICS_PREFIX) => topics::no_route(method, path),
        (&Method::GET, _) if path.starts_with(files::FILES_PREFIX) => {
            match services.auth.admit(CredentialKind::Jwt, &parts.headers) {
                Ok(principal) => files::download(services, &principal, parts).await,
                Err(refusal) => refuse(refusal, std::time::Instant::now()),
            }
        }
        (&Method::POST, "/v1/api/sql") => {
            let started = std::time::Instant::now();
            let principal = match services.auth.admit(CredentialKind::Jwt, &parts.headers) {
                Ok(p) => p,
                Err(refusal) => return refuse(refusal, started),
            };
            sql::run(services, &principal, &parts.headers, body, started).await
        }
        (_, HEALTH_PATH | "/v1/api/healthcheck" | "/v1/api/sql") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body(
                code::INVALID_INPUT,
                &format!("method {} is not allowed here", parts.method),
                0.0,
            ),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            error_body(code::INVALID_INPUT, &format!("no route {path}"), 0.0),
        ),
    }
}

/// KalamDB answers a missing or bad token on `/sql` (JWT only: Basic is refused) with 401 in its SQL error envelope
/// (`MISSING_AUTHORIZATION` "Authentication required", `INVALID_CREDENTIALS`), and a role
/// that may not with 403 `INSUFFICIENT_PERMISSIONS`.
pub fn refuse(refusal: Refusal, started: std::time::Instant) -> HttpResponse {
    let took = sluice_protocol::kalamdb::envelope::took_ms(started.elapsed());
    let (status, code, message) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            code::MISSING_AUTHORIZATION,
            "Authentication required",
        ),
        Refusal::Malformed | Refusal::Invalid => (
            StatusCode::UNAUTHORIZED,
            code::INVALID_CREDENTIALS,
            "Invalid credentials",
        ),
        Refusal::Forbidden => (
            StatusCode::FORBIDDEN,
            code::INSUFFICIENT_PERMISSIONS,
            "Insufficient permissions",
        ),
    };
    json(status, error_body(code, message, took))
}
