//! ksqlDB's answers to a refused request under `authentication.method=BASIC`.
//!
//! From ksqlDB's `AuthHandlers` and `FailureHandler`: no Basic credential, or a wrong one,
//! is 401 with `error_code` 40100 "Unauthorized"; a user without an allowed role is 403
//! with 40300 "Forbidden"; a Basic header that does not decode is 400 with 40000
//! "Malformed authorization header" (`KsqlBasicAuthHandler`). The 401s carry
//! `WWW-Authenticate: Basic realm="…"` so a browser (the console) asks for a password.

use http::{header, Method};
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::auth::Refusal;
use crate::response::{error, with_header, HttpResponse};

/// Paths ksqlDB serves without authentication (its `PATHS_WITHOUT_AUTHORIZATION`): health
/// probes come from load balancers and orchestrators that hold no credentials.
const PUBLIC_PATHS: &[&str] = &["/healthcheck", "/chc/live", "/chc/ready"];

/// True for requests served whoever asks.
pub fn is_public(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && PUBLIC_PATHS.contains(&path)
}

/// The one mapping from a refusal to ksqlDB's status, body and headers.
pub fn refuse(refusal: Refusal, realm: &str) -> HttpResponse {
    let challenge = format!("Basic realm=\"{realm}\"");
    match refusal {
        Refusal::Missing | Refusal::Invalid => with_header(
            error(ErrorResponse::generic(code::UNAUTHORIZED, "Unauthorized")),
            header::WWW_AUTHENTICATE,
            &challenge,
        ),
        Refusal::Malformed => error(ErrorResponse::generic(
            code::BAD_REQUEST,
            "Malformed authorization header",
        )),
        Refusal::Forbidden => error(ErrorResponse::generic(code::FORBIDDEN, "Forbidden")),
    }
}
