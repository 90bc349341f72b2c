//! The Foundry face: Foundry's Functions API `execute` and `streamingExecute` over
//! Server-Sent Events (other-faces.md §B) for the query functions in
//! `--foundry-functions`, bearer tokens, Conjure error envelopes.
//!
//! ```text
//!  POST /api/v2/functions/queries/{queryApiName}/streamingExecute[?preview=true]
//!     ─► call (lookup, bind, engine facade) ─► streaming_execute ─► SSE data events … [error event]
//!  POST /api/v2/functions/queries/{queryApiName}/execute
//!     ─► call ─► execute (the pull query to its end) ─► {"value": [rows…]}
//! ```

pub mod call;
pub mod execute;
pub mod streaming_execute;

use std::sync::Arc;

use http::request::Parts;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use sluice_protocol::foundry::events::ConjureError;

use crate::auth::{CredentialKind, Refusal};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::new_task_id;

const PREFIX: &str = "/api/v2/functions/queries/";

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path.starts_with("/api/v2/")
}

/// A Conjure error envelope with its status.
pub fn conjure(e: ConjureError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, e.envelope())
}

/// The operations on a query function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Execute,
    StreamingExecute,
}

impl Operation {
    /// The Conjure name of the error for a principal without the grant.
    fn permission_denied(self) -> &'static str {
        match self {
            Operation::Execute => "ExecuteQueryPermissionDenied",
            Operation::StreamingExecute => "StreamingExecuteQueryPermissionDenied",
        }
    }
}

/// `/api/v2/functions/queries/{queryApiName}/{operation}`, if `path` is one.
fn operation(path: &str) -> Option<(&str, Operation)> {
    let rest = path.strip_prefix(PREFIX)?;
    let (name, op) = rest.split_once('/')?;
    let op = match op {
        "execute" => Operation::Execute,
        "streamingExecute" => Operation::StreamingExecute,
        _ => return None,
    };
    (!name.is_empty()).then_some((name, op))
}

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let path = parts.uri.path();
    let called = operation(path);
    if let Err(refusal) = services.auth.admit(CredentialKind::Bearer, &parts.headers) {
        let (name, op) = called.unwrap_or(("", Operation::StreamingExecute));
        return refuse(refusal, name, op);
    }
    match (&parts.method, called) {
        (&Method::POST, Some((name, Operation::StreamingExecute))) => {
            streaming_execute::handle(services, parts, name, body).await
        }
        (&Method::POST, Some((name, Operation::Execute))) => execute::handle(services, name, body)
            .await
            .unwrap_or_else(conjure),
        (_, Some(_)) => conjure(ConjureError {
            code: "INVALID_ARGUMENT",
            name: "Default:MethodNotAllowed",
            instance_id: new_task_id(),
            description: None,
            parameters: json!({}),
        }),
        (_, None) => conjure(ConjureError {
            code: "NOT_FOUND",
            name: "Default:NotFound",
            instance_id: new_task_id(),
            description: None,
            parameters: json!({"path": path}),
        }),
    }
}

/// Foundry's answers to a refused token: 401 `Default:Unauthorized` without a valid one,
/// 403 `ExecuteQueryPermissionDenied` / `StreamingExecuteQueryPermissionDenied` for a
/// principal without the grant.
fn refuse(refusal: Refusal, api_name: &str, op: Operation) -> HttpResponse {
    let (code, name, parameters) = match refusal {
        Refusal::Missing | Refusal::Malformed | Refusal::Invalid => {
            ("UNAUTHORIZED", "Default:Unauthorized", json!({}))
        }
        Refusal::Forbidden => (
            "PERMISSION_DENIED",
            op.permission_denied(),
            json!({"queryApiName": api_name}),
        ),
    };
    conjure(ConjureError {
        code,
        name,
        instance_id: new_task_id(),
        description: None,
        parameters,
    })
}
