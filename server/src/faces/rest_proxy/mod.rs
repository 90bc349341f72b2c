//! The REST-proxy face: raw topics in Confluent REST Proxy v2 shapes (`/topics…`).
//!
//! - `topics`: list, create, describe, produce, read and delete, with REST Proxy's errors.
//! - `auth`: REST Proxy's 401 and 403 for a refused Basic credential.

pub mod auth;
pub mod topics;

/// True for the paths this face serves.
pub fn claims(path: &str) -> bool {
    path == "/topics" || path.starts_with("/topics/")
}
