//! The Foundry face: Foundry's Functions API for the query functions in
//! `--foundry-functions` (other-faces.md §B): metadata, `execute`, `executeAsync` with its
//! executions, `streamingExecute` over Server-Sent Events; bearer tokens, Conjure error
//! envelopes.
//!
//! ```text
//!  POST /api/v2/functions/queries/{queryApiName}/streamingExecute[Events][?preview=true]
//!     ─► call (lookup, bind, engine facade) ─► streaming_execute ─► SSE data events … [error event]
//!  POST /api/v2/functions/queries/{queryApiName}/execute
//!     ─► call ─► (the pull query to its end) ─► {"value": [rows…]}
//!  POST /api/v2/functions/queries/{queryApiName}/executeAsync ─► executions ─► task registry
//!  POST /api/v2/functions/executions/{executionId}/getResult | cancel ─► executions
//!  GET  /api/v2/functions/queries/{queryApiName} | getByRid?rid=   POST …/getByRidBatch
//!     ─► metadata (the SQL planned for its output type) ─► functions.Query
//! ```

pub mod call;
pub mod execute;
pub mod executions;
pub mod metadata;
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

const QUERIES: &str = "/api/v2/functions/queries/";
const EXECUTIONS: &str = "/api/v2/functions/executions/";

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path.starts_with("/api/v2/")
}

/// A Conjure error envelope with its status.
pub fn conjure(e: ConjureError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, e.envelope())
}

/// What a path names: an operation and its target (a query's api name, an execution id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Get,
    GetByRid,
    GetByRidBatch,
    Execute,
    ExecuteAsync,
    StreamingExecute,
    StreamingExecuteEvents,
    GetResult,
    Cancel,
}

impl Operation {
    fn method(self) -> Method {
        match self {
            Operation::Get | Operation::GetByRid => Method::GET,
            _ => Method::POST,
        }
    }

    /// The Conjure error for a principal without the grant, and its parameters.
    fn permission_denied(self, target: &str) -> (&'static str, serde_json::Value) {
        let query = json!({ "queryApiName": target });
        let execution = json!({ "executionId": target });
        match self {
            // The SDK knows no operation-specific error for these two reads.
            Operation::Get => ("Default:PermissionDenied", query),
            Operation::GetByRid => ("GetByRidPermissionDenied", json!({})),
            Operation::GetByRidBatch => ("Default:PermissionDenied", json!({})),
            Operation::Execute => ("ExecuteQueryPermissionDenied", query),
            Operation::ExecuteAsync => ("ExecuteAsyncQueryPermissionDenied", query),
            Operation::StreamingExecute => ("StreamingExecuteQueryPermissionDenied", query),
            Operation::StreamingExecuteEvents => {
                ("StreamingExecuteEventsQueryPermissionDenied", query)
            }
            Operation::GetResult => ("GetResultExecutionPermissionDenied", execution),
            Operation::Cancel => ("CancelExecutionPermissionDenied", execution),
        }
    }
}

/// The operation `path` names and its target, if it names one.
fn operation(path: &str) -> Option<(&str, Operation)> {
    if let Some(rest) = path.strip_prefix(EXECUTIONS) {
        let (id, op) = rest.split_once('/')?;
        let op = match op {
            "getResult" => Operation::GetResult,
            "cancel" => Operation::Cancel,
            _ => return None,
        };
        return (!id.is_empty()).then_some((id, op));
    }
    let rest = path.strip_prefix(QUERIES)?;
    let (name, op) = match rest.split_once('/') {
        None => match rest {
            "getByRid" => ("", Operation::GetByRid),
            "getByRidBatch" => ("", Operation::GetByRidBatch),
            name => (name, Operation::Get),
        },
        Some((name, op)) => {
            let op = match op {
                "execute" => Operation::Execute,
                "executeAsync" => Operation::ExecuteAsync,
                "streamingExecute" => Operation::StreamingExecute,
                "streamingExecuteEvents" => Operation::StreamingExecuteEvents,
                _ => return None,
            };
            (name, op)
        }
    };
    let targetless = matches!(op, Operation::GetByRid | Operation::GetByRidBatch);
    (targetless || !name.is_empty()).then_some((name, op))
}

/// Serves one request of this face.
pub async fn handle(services: &Arc<Services>, parts: &Parts, body: Incoming) -> HttpResponse {
    let path = parts.uri.path();
    let called = operation(path);
    let principal = match services.auth.admit(CredentialKind::Bearer, &parts.headers) {
        Ok(principal) => principal,
        Err(refusal) => {
            let (target, op) = called.unwrap_or(("", Operation::StreamingExecute));
            return refuse(refusal, target, op);
        }
    };
    let Some((target, op)) = called else {
        return conjure(call::with_params(
            "NOT_FOUND",
            "Default:NotFound",
            json!({ "path": path }),
        ));
    };
    if parts.method != op.method() {
        return conjure(call::with_params(
            "INVALID_ARGUMENT",
            "Default:MethodNotAllowed",
            json!({}),
        ));
    }
    let answer = match op {
        Operation::StreamingExecute | Operation::StreamingExecuteEvents => {
            return streaming_execute::handle(services, parts, target, body).await
        }
        Operation::Execute => execute::handle(services, target, body).await,
        Operation::ExecuteAsync => {
            executions::execute_async(services, &principal, target, body).await
        }
        Operation::GetResult => executions::get_result(services, &principal, target, body).await,
        Operation::Cancel => executions::cancel(services, &principal, target),
        Operation::Get => metadata::get(services, target, parts),
        Operation::GetByRid => metadata::get_by_rid(services, parts),
        Operation::GetByRidBatch => metadata::get_by_rid_batch(services, body).await,
    };
    answer.unwrap_or_else(conjure)
}

/// Foundry's answers to a refused token: 401 `Default:Unauthorized` without a valid one,
/// 403 with the operation's permission error (`ExecuteQueryPermissionDenied`, …) for a
/// principal without the grant.
fn refuse(refusal: Refusal, target: &str, op: Operation) -> HttpResponse {
    let (code, name, parameters) = match refusal {
        Refusal::Missing | Refusal::Malformed | Refusal::Invalid => {
            ("UNAUTHORIZED", "Default:Unauthorized", json!({}))
        }
        Refusal::Forbidden => {
            let (name, parameters) = op.permission_denied(target);
            ("PERMISSION_DENIED", name, parameters)
        }
    };
    conjure(call::with_params(code, name, parameters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_operations() {
        let q = "/api/v2/functions/queries/";
        assert_eq!(operation(&format!("{q}top")), Some(("top", Operation::Get)));
        assert_eq!(
            operation(&format!("{q}getByRid")),
            Some(("", Operation::GetByRid))
        );
        assert_eq!(
            operation(&format!("{q}getByRidBatch")),
            Some(("", Operation::GetByRidBatch))
        );
        assert_eq!(
            operation(&format!("{q}top/executeAsync")),
            Some(("top", Operation::ExecuteAsync))
        );
        assert_eq!(
            operation(&format!("{q}top/streamingExecuteEvents")),
            Some(("top", Operation::StreamingExecuteEvents))
        );
        assert_eq!(operation(&format!("{q}top/nope")), None);
        assert_eq!(operation(&format!("{q}/execute")), None);
        assert_eq!(operation(q), None);
        assert_eq!(
            operation("/api/v2/functions/executions/e1/getResult"),
            Some(("e1", Operation::GetResult))
        );
        assert_eq!(
            operation("/api/v2/functions/executions/e1/cancel"),
            Some(("e1", Operation::Cancel))
        );
        assert_eq!(operation("/api/v2/functions/executions//cancel"), None);
        assert_eq!(operation("/api/v2/ontologies"), None);
    }
}
