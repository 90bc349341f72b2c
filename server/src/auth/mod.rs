//! Authentication and authorization for every face: one principal model, one decision.
//!
//! ```text
//!  request headers ─► gate::Auth::admit(face's credential kind) ─► Principal | Refusal
//!                        ├─ Basic ─► credentials (name: password[,roles]) ─┐
//!                        └─ Bearer ─► credentials (name: token[,roles]) ───┴─► allowed roles
//!  Refusal ─► the face's own status and body (ksqlDB 401/40100, DeltaStream 403, …)
//! ```
//!
//! - `principal`: who a request acts for (name, roles, how it authenticated).
//! - `credentials`: credential files in ksqlDB's (Jetty's) `name: secret[,role ...]` format.
//! - `gate`: [`Auth`], which authenticates a request, checks its roles, and decides who may
//!   see a task another request started.
//!
//! Non-goals: password hashing schemes, JWT issuing (KalamDB's face brings its own), TLS
//! client certificates.

mod credentials;
mod gate;
mod principal;

pub use credentials::{
    Credential, CredentialStore, CredentialsError, CREDENTIALS_FILE_BYTES_MAX, CREDENTIALS_MAX,
};
pub use gate::{
    Auth, AuthConfig, CredentialKind, Refusal, ANY_ROLE, AUTHORIZATION_HEADER_BYTES_MAX,
    DEFAULT_REALM,
};
pub use principal::{Principal, Scheme, ANONYMOUS_NAME};
