//! KalamDB's auth routes (`/v1/api/auth/…`): first-run setup and its status, login for an
//! HS256 access + refresh JWT pair (also set as HttpOnly cookies), refresh with rotation,
//! logout, me. Tokens are issued and checked by the one auth gate (`crate::auth`).

use http::header::{HeaderValue, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use sluice_protocol::kalamdb::auth_body::{
    auth_error_body, decode, login_body, me_body, LoginRequest, SetupRequest, UserView,
};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;

use crate::auth::{
    bearer_or_cookie, CredentialKind, JwtKeys, SetupError, TokenType, User, ACCESS_COOKIE,
    ACCESS_TOKEN_LIFETIME_SECS, REFRESH_COOKIE, REFRESH_TOKEN_LIFETIME_SECS,
};
use crate::body::frames_in::read_to_limit;
use crate::response::{json, HttpResponse};
use crate::services::Services;

fn auth_error(status: StatusCode, error: &str, message: &str) -> HttpResponse {
    json(status, auth_error_body(error, message))
}

fn unauthorized(message: &str) -> HttpResponse {
    auth_error(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

async fn body<T: for<'de> serde::Deserialize<'de>>(mut body: Incoming) -> Result<T, HttpResponse> {
    let bytes = read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|_| auth_error(StatusCode::BAD_REQUEST, "bad_request", "unreadable body"))?;
    decode(&bytes).map_err(|e| auth_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()))
}

/// The answer of a server with no JWT keys configured.
fn no_keys() -> HttpResponse {
    auth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "internal_error",
        "JWT login is not configured on this server (--auth-jwt-secret-file)",
    )
}

/// `GET /v1/api/auth/status`.
pub fn status(services: &Services) -> HttpResponse {
    let needs = services.auth.users().needs_setup();
    let message = if needs {
        "Server requires initial setup"
    } else {
        "Server is set up"
    };
    json(
        StatusCode::OK,
        serde_json::json!({"needs_setup": needs, "message": message}).to_string(),
    )
}

/// `POST /v1/api/auth/setup`: sets root's password and creates the DBA user; no login.
pub async fn setup(services: &Services, request: Incoming) -> HttpResponse {
    let request: SetupRequest = match body(request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let now_ms = services.engine.now_ms();
    match services.auth.users().setup(
        &request.user,
        &request.password,
        &request.root_password,
        request.email,
        now_ms,
    ) {
        Ok(()) => json(
            StatusCode::OK,
            serde_json::json!({
                "message": format!("Server setup complete; log in as '{}'", request.user),
            })
            .to_string(),
        ),
        Err(SetupError::AlreadySetUp) => auth_error(
            StatusCode::CONFLICT,
            "conflict",
            "The server has already been set up",
        ),
        // Setup names no existing user: NotFound cannot come from it.
        Err(e @ (SetupError::Invalid(_) | SetupError::NotFound(_))) => {
            auth_error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string())
        }
        Err(e @ SetupError::Storage(_)) => {
            tracing::error!(error = %e, "first-run setup failed");
            auth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "The users could not be saved; setup did not happen",
            )
        }
    }
}

/// `POST /v1/api/auth/login`.
pub async fn login(services: &Services, request: Incoming) -> HttpResponse {
    let Some(keys) = services.auth.jwt() else {
        return no_keys();
    };
    let request: LoginRequest = match body(request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let users = services.auth.users();
    if users.needs_setup() {
        // KalamDB answers 428, which its SDK reports as "setup required".
        return auth_error(
            StatusCode::PRECONDITION_REQUIRED,
            "setup_required",
            "Server requires initial setup: POST /v1/api/auth/setup",
        );
    }
    match users.verify(&request.user, &request.password) {
        Some(user) => issue_pair(keys, &user, services.engine.now_ms()),
        None => unauthorized("Invalid username or password"),
    }
}

/// `POST /v1/api/auth/refresh`: a refresh token (Bearer or cookie) for a new pair.
pub fn refresh(services: &Services, headers: &HeaderMap) -> HttpResponse {
    let Some(keys) = services.auth.jwt() else {
        return no_keys();
    };
    let token = bearer_or_cookie(headers, REFRESH_COOKIE)
        .or_else(|_| bearer_or_cookie(headers, ACCESS_COOKIE));
    let Ok(token) = token else {
        return unauthorized("Refresh endpoint requires a refresh token");
    };
    let principal = match services.auth.verify_jwt(&token, TokenType::Refresh) {
        Ok(p) => p,
        Err(_) => return unauthorized("Refresh endpoint requires a refresh token"),
    };
    let user = services
        .auth
        .verify_jwt_user(principal.name())
        .expect("verify_jwt found this user a moment ago");
    issue_pair(keys, &user, services.engine.now_ms())
}

/// `POST /v1/api/auth/logout`: clears both cookies.
pub fn logout() -> HttpResponse {
    let mut response = json(
        StatusCode::OK,
        serde_json::json!({"message": "Logged out successfully"}).to_string(),
    );
    for name in [ACCESS_COOKIE, REFRESH_COOKIE] {
        set_cookie(&mut response, name, "", 0);
    }
    response
}

/// `GET /v1/api/auth/me`.
pub fn me(services: &Services, headers: &HeaderMap) -> HttpResponse {
    match services.auth.admit(CredentialKind::Jwt, headers) {
        Ok(principal) => match services.auth.verify_jwt_user(principal.name()) {
            Some(user) => json(StatusCode::OK, me_body(&view(&user))),
            // Authentication off: the anonymous principal has no user record.
            None => unauthorized("Not logged in"),
        },
        Err(_) => unauthorized("Not logged in"),
    }
}

fn view(user: &User) -> UserView<'_> {
    UserView {
        id: &user.id,
        role: &user.role,
        email: user.email.as_deref(),
        created_ms: user.created_ms,
    }
}

fn issue_pair(keys: &JwtKeys, user: &User, now_ms: i64) -> HttpResponse {
    let now = now_ms.div_euclid(1000);
    let (access, a) = keys.issue(
        &user.id,
        &user.role,
        TokenType::Access,
        now,
        ACCESS_TOKEN_LIFETIME_SECS,
    );
    let (refresh, r) = keys.issue(
        &user.id,
        &user.role,
        TokenType::Refresh,
        now,
        REFRESH_TOKEN_LIFETIME_SECS,
    );
    let mut response = json(
        StatusCode::OK,
        login_body(&view(user), &access, a.exp * 1000, &refresh, r.exp * 1000),
    );
    set_cookie(
        &mut response,
        ACCESS_COOKIE,
        &access,
        ACCESS_TOKEN_LIFETIME_SECS,
    );
    set_cookie(
        &mut response,
        REFRESH_COOKIE,
        &refresh,
        REFRESH_TOKEN_LIFETIME_SECS,
    );
    response
}

/// KalamDB's cookies: HttpOnly, SameSite=Strict, Path=/ (never readable by page scripts).
fn set_cookie(response: &mut HttpResponse, name: &str, value: &str, max_age_secs: i64) {
    let cookie =
        format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}");
    response.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("JWTs and cookie names are header-safe ASCII"),
    );
}
