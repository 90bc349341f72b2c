//! KalamDB's auth bodies (`kalamdb-api` auth handlers): setup and login requests, the
//! login/refresh/me responses, and the small `{"error", "message"}` envelope its auth
//! routes answer errors in.

use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::error::ProtocolError;
use crate::json_body::json_text;
use crate::roe::results::rfc3339;

/// `POST /v1/api/auth/login`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
}

/// `POST /v1/api/auth/setup`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SetupRequest {
    pub user: String,
    pub password: String,
    pub root_password: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// Decodes one of the auth request bodies.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ProtocolError> {
    let text = json_text(bytes)?;
    serde_json::from_str(text).map_err(|e| ProtocolError::InvalidJson(e.to_string()))
}

/// A user as KalamDB's auth responses show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView<'a> {
    pub id: &'a str,
    pub role: &'a str,
    pub email: Option<&'a str>,
    pub created_ms: i64,
}

impl UserView<'_> {
    fn json(&self) -> Json {
        json!({
            "id": self.id,
            "role": self.role,
            "email": self.email,
            "created_at": rfc3339(self.created_ms),
            "updated_at": rfc3339(self.created_ms),
        })
    }
}

/// `admin_ui_access`: KalamDB opens its admin UI to the dba and system roles.
pub fn admin_ui_access(role: &str) -> bool {
    matches!(role, "dba" | "system")
}

/// The login and refresh response.
pub fn login_body(
    user: &UserView<'_>,
    access_token: &str,
    expires_ms: i64,
    refresh_token: &str,
    refresh_expires_ms: i64,
) -> Vec<u8> {
    json!({
        "user": user.json(),
        "admin_ui_access": admin_ui_access(user.role),
        "expires_at": rfc3339(expires_ms),
        "access_token": access_token,
        "refresh_token": refresh_token,
        "refresh_expires_at": rfc3339(refresh_expires_ms),
    })
    .to_string()
    .into_bytes()
}

/// The `me` response: the user and `admin_ui_access`.
pub fn me_body(user: &UserView<'_>) -> Vec<u8> {
    let mut body = user.json();
    body["admin_ui_access"] = admin_ui_access(user.role).into();
    body.to_string().into_bytes()
}

/// The auth routes' error envelope.
pub fn auth_error_body(error: &str, message: &str) -> Vec<u8> {
    json!({"error": error, "message": message})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_body_has_kalamdb_fields() {
        let user = UserView {
            id: "u_admin",
            role: "dba",
            email: None,
            created_ms: 0,
        };
        let body: Json =
            serde_json::from_slice(&login_body(&user, "a", 1000, "r", 2000)).expect("json");
        assert_eq!(body["user"]["id"], "u_admin");
        assert_eq!(body["user"]["created_at"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(body["admin_ui_access"], true);
        assert_eq!(body["access_token"], "a");
        assert_eq!(body["refresh_expires_at"], "1970-01-01T00:00:02.000000Z");
        let req: LoginRequest = decode(br#"{"user":"a","password":"b"}"#).expect("valid");
        assert_eq!(req.user, "a");
        assert!(decode::<SetupRequest>(br#"{"user":"a"}"#).is_err());
    }
}
