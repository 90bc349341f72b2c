//! Authentication and authorization for every face: one principal model, one decision.
//!
//! ```text
//!  request headers ─► gate::Auth::admit(face's credential kind) ─► Principal | Refusal
//!                        ├─ Basic ─► credentials (name: password[,roles]) ─┐
//!                        ├─ Bearer ─► credentials (name: token[,roles]) ───┤
//!                        └─ Jwt ─► jwt (HS256, KalamDB claims) + users ────┴─► allowed roles
//!  Refusal ─► the face's own status and body (ksqlDB 401/40100, DeltaStream 403, …)
//! ```
//!
//! - `principal`: who a request acts for (name, roles, how it authenticated).
//! - `credentials`: credential files in ksqlDB's (Jetty's) `name: secret[,role ...]` format.
//! - `jwt`: KalamDB's HS256 tokens (claims, access/refresh, lifetimes).
//! - `users`: password users that log in for a JWT (first-run setup, root, DBA).
//! - `gate`: [`Auth`], which authenticates a request, checks its roles, decides who may
//!   see a task another request started, and which roles may do what ([`Action`]).
//!
//! Non-goals: external JWT issuers, TLS client certificates.

mod credentials;
mod gate;
mod jwt;
mod principal;
mod users;

pub use credentials::{
    Credential, CredentialStore, CredentialsError, CREDENTIALS_FILE_BYTES_MAX, CREDENTIALS_MAX,
};
pub use gate::{
    bearer_or_cookie, cookie_value, Action, Auth, AuthConfig, CredentialKind, Refusal,
    ACCESS_COOKIE, ANY_ROLE, AUTHORIZATION_HEADER_BYTES_MAX, DBA_TABLE_ROLES, DEFAULT_REALM,
    REFRESH_COOKIE, SHARED_TABLE_ROLES, TABLE_DROP_ROLES, TOPIC_CLEAR_ROLES, TOPIC_ROLES,
    USER_ADMIN_ROLES,
};
pub use jwt::{
    Claims, JwtError, JwtKeys, TokenType, ACCESS_TOKEN_LIFETIME_SECS, JWT_SECRET_BYTES_MIN,
    REFRESH_TOKEN_LIFETIME_SECS,
};
pub use principal::{Principal, Scheme, ANONYMOUS_NAME};
pub use users::{
    SetupError, User, UserStore, UserUpdate, PASSWORD_CHARS_MAX, PASSWORD_HASH_ROUNDS, ROLES,
    ROLE_SYSTEM, USERS_FILE, USER_NAME_CHARS_MAX,
};
