//! REST Proxy's answers to a refused request under Basic authentication: Confluent's
//! rest-utils render Jetty's 401 and 403 in their JSON error shape,
//! `{"error_code":401,"message":"Unauthorized"}`, with a `WWW-Authenticate` challenge.

use http::header;
use sluice_protocol::rest_proxy::rest_error::{code, rest_error};

use crate::auth::Refusal;
use crate::response::{error, with_header, HttpResponse};

/// The one mapping from a refusal to REST Proxy's status, body and headers.
pub fn refuse(refusal: Refusal, realm: &str) -> HttpResponse {
    match refusal {
        // Jetty's Basic authenticator answers a header it cannot decode like a wrong one.
        Refusal::Missing | Refusal::Invalid | Refusal::Malformed => with_header(
            error(rest_error(code::UNAUTHORIZED, "Unauthorized")),
            header::WWW_AUTHENTICATE,
            &format!("Basic realm=\"{realm}\""),
        ),
        Refusal::Forbidden => error(rest_error(code::FORBIDDEN, "Forbidden")),
    }
}
