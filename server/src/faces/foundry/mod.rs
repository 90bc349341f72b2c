//! The Foundry face: Foundry's Functions API `streamingExecute` over Server-Sent Events
//! (other-faces.md §B) for the query functions in `--foundry-functions`, bearer tokens,
//! Conjure error envelopes.
//!
//! ```text
//!  POST /api/v2/functions/queries/{queryApiName}/streamingExecute[?preview=true]
//!     ─► streaming_execute (lookup, bind, engine facade) ─► SSE data events … [error event]
//! ```

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

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let path = parts.uri.path();
    let api_name = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix("/streamingExecute"))
        .filter(|name| !name.is_empty() && !name.contains('/'));
    if let Err(refusal) = services.auth.admit(CredentialKind::Bearer, &parts.headers) {
        return refuse(refusal, api_name.unwrap_or_default());
    }
    match (&parts.method, api_name) {
        (&Method::POST, Some(name)) => streaming_execute::handle(services, parts, name, body).await,
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
/// 403 `StreamingExecuteQueryPermissionDenied` for a principal without the grant.
fn refuse(refusal: Refusal, api_name: &str) -> HttpResponse {
    let (code, name, parameters) = match refusal {
        Refusal::Missing | Refusal::Malformed | Refusal::Invalid => {
            ("UNAUTHORIZED", "Default:Unauthorized", json!({}))
        }
        Refusal::Forbidden => (
            "PERMISSION_DENIED",
            "StreamingExecuteQueryPermissionDenied",
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
