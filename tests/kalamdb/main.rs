//! KalamDB's HTTP API against a real server, call for call as its docs' curl examples and
//! the `kalam-client` crate make them. One test binary, split by what is tested:
//! - `sql`: `/health`, `/v1/api/sql` with namespaces, `$n` parameters, one result per
//!   statement with native JSON cells and `took`, KalamDB's error codes, column defaults,
//!   and a table written through ksqlDB's face read through KalamDB's.
//! - `auth`: first-run setup, login, refresh, me, logout, JWTs on SQL, and users managed
//!   in SQL by DBAs.
//! - `user_tables`: USER tables (each user sees only their own rows) and FILE columns.
//!
//! The helpers below make the calls every module makes.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod sql;
mod user_tables;

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, AuthConfig, CredentialStore, JwtKeys};
use sluice_server::ServerOptions;
use support::{json as parse, Client, Proto, TestServer};

async fn sql(client: &mut Client, body: &Json) -> (StatusCode, Json) {
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/api/sql",
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await;
    (status, parse(&bytes))
}

/// Asserts a KalamDB error envelope with `code` and returns its message.
fn expect_error(status: StatusCode, body: &Json, want: StatusCode, code: &str) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["results"], json!([]), "{body}");
    assert!(body["took"].is_f64() || body["took"].is_u64(), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["details"], Json::Null, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

/// [`expect_error`], and its message says `text`.
fn expect_error_containing(
    status: StatusCode,
    body: &Json,
    want: StatusCode,
    code: &str,
    text: &str,
) {
    let message = expect_error(status, body, want, code);
    assert!(message.contains(text), "{message}");
}

async fn auth_call(
    client: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Json,
) -> (StatusCode, http::HeaderMap, Json) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let payload = if method == "GET" {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, headers, bytes) = client.send(method, path, &all, &payload).await;
    let json = if bytes.is_empty() {
        Json::Null
    } else {
        parse(&bytes)
    };
    (status, headers, json)
}

fn cookies(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

/// Logs `user` in and returns their access token.
async fn token(addr: std::net::SocketAddr, user: &str, password: &str) -> String {
    let mut c = Client::connect(addr, Proto::H1).await;
    let body = json!({"user": user, "password": password});
    let (status, _, login) = auth_call(&mut c, "POST", "/v1/api/auth/login", &[], &body).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    login["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// `/v1/api/sql` with a bearer token.
async fn sql_as(addr: std::net::SocketAddr, token: &str, body: Json) -> (StatusCode, Json) {
    let mut c = Client::connect(addr, Proto::H1).await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = auth_call(
        &mut c,
        "POST",
        "/v1/api/sql",
        &[("authorization", &bearer)],
        &body,
    )
    .await;
    (status, body)
}

/// [`sql_as`], answered 200; the body.
async fn sql_ok(addr: std::net::SocketAddr, token: &str, body: Json) -> Json {
    let (status, body) = sql_as(addr, token, body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// [`sql_as`], refused with `want` and KalamDB's error `code`; the error's message.
async fn sql_refused(
    addr: std::net::SocketAddr,
    token: &str,
    body: Json,
    want: StatusCode,
    code: &str,
) -> String {
    let (status, body) = sql_as(addr, token, body).await;
    expect_error(status, &body, want, code)
}
