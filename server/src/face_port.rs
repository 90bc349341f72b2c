//! Per-face ports: an extra listener that serves one face's routes (and the health
//! check) for clients that expect that face on its own default port (KalamDB's 8080 / 2900,
//! other-faces.md §0.1). Same engine, services, auth, limits and TLS as the main port; the
//! main port keeps serving every face.
//!
//! ```text
//!  face port ─► connection ─► face_port::route ─► face claims the path? ─► router::route
//!                                              └► else the face's own 404 body
//! ```

use std::fmt;
use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::json;
use sluice_protocol::kalamdb::envelope::{code, error_body};

use crate::faces::{deltastream, foundry, kalamdb, roe};
use crate::response::{json as json_response, HttpResponse};
use crate::router;
use crate::services::Services;

/// ksqlDB's health check, served on every face port too: load balancers probe a port, and
/// the answer says the engine behind it is up.
const HEALTH_PATH: &str = "/healthcheck";

/// A face that can have a port of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    KalamDb,
    DeltaStream,
    Foundry,
    Roe,
}

impl Face {
    /// The face's name, as flags (`--kalamdb-listen`) and the start-up lines spell it.
    pub fn name(self) -> &'static str {
        match self {
            Face::KalamDb => "kalamdb",
            Face::DeltaStream => "deltastream",
            Face::Foundry => "foundry",
            Face::Roe => "roe",
        }
    }

    /// True for the paths this face serves on the main port.
    fn claims(self, path: &str) -> bool {
        match self {
            Face::KalamDb => kalamdb::claims(path) || path == kalamdb::ws::WS_PATH,
            Face::DeltaStream => deltastream::claims(path),
            Face::Foundry => foundry::claims(path),
            Face::Roe => roe::claims(path),
        }
    }

    /// The face's own answer to a path it does not serve (what its clients parse).
    fn not_found(self, path: &str) -> HttpResponse {
        match self {
            Face::KalamDb => json_response(
                StatusCode::NOT_FOUND,
                error_body(code::INVALID_INPUT, &format!("no route {path}"), 0.0),
            ),
            Face::DeltaStream => deltastream::respond::error(
                StatusCode::NOT_FOUND,
                &format!("path not found: {path}"),
            ),
            Face::Foundry => foundry::conjure(foundry::call::with_params(
                "NOT_FOUND",
                "Default:NotFound",
                json!({ "path": path }),
            )),
            Face::Roe => roe::query::error(StatusCode::NOT_FOUND, "Not found."),
        }
    }
}

impl fmt::Display for Face {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Routes `req` on a port that serves `only` that face, or every face (`None`, the main
/// port).
pub async fn route(
    only: Option<Face>,
    services: Arc<Services>,
    req: Request<Incoming>,
) -> HttpResponse {
    match only {
        None => router::route(services, req).await,
        Some(face) => {
            let path = req.uri().path();
            if face.claims(path) || path == HEALTH_PATH {
                router::route(services, req).await
            } else {
                face.not_found(path)
            }
        }
    }
}
