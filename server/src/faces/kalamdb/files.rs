//! `GET /v1/files/{ns}/{table}/{sub}/{id}[?user_id=]`: a FILE cell's bytes, inline, from
//! the face's `file_store`. A USER table's files are read per user.

use std::sync::Arc;

use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use sluice_protocol::kalamdb::dialect::{source_name, valid_namespace};
use sluice_protocol::kalamdb::envelope::{code, error_body};
use sluice_protocol::kalamdb::files::{valid_file_id, valid_subfolder};

use crate::auth::Principal;
use crate::body::frames_out::ResponseBody;
use crate::query_string::query_value;
use crate::response::{json, HttpResponse};
use crate::services::Services;

/// The download route's prefix.
pub const FILES_PREFIX: &str = "/v1/files/";

/// `GET /v1/files/{namespace}/{table}/{subfolder}/{file_id}[?user_id=]`: the bytes, inline.
/// A USER table's files are the caller's own; `user_id` reads another user's where the
/// caller may act for them (`Auth::may_act_as`).
pub async fn download(services: &Services, principal: &Principal, parts: &Parts) -> HttpResponse {
    match serve(services, principal, parts).await {
        Ok(response) => response,
        Err((status, code, message)) => json(status, error_body(code, &message, 0.0)),
    }
}

type Refused = (StatusCode, &'static str, String);

async fn serve(
    services: &Services,
    principal: &Principal,
    parts: &Parts,
) -> Result<HttpResponse, Refused> {
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            code::FILE_NOT_FOUND,
            "File not found".to_string(),
        )
    };
    let rest = parts.uri.path().strip_prefix(FILES_PREFIX).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').collect();
    let [ns, table, sub, id] = segments.as_slice() else {
        return Err((
            StatusCode::BAD_REQUEST,
            code::INVALID_INPUT,
            "the path is /v1/files/{namespace}/{table}/{subfolder}/{file_id}".into(),
        ));
    };
    if !valid_namespace(ns) || !valid_subfolder(sub) || !valid_file_id(id) {
        return Err(not_found());
    }
    let table = source_name(ns, table);
    let owner = match services.kalamdb.table_kind(&table) {
        Some(kind) if kind.is_per_user() => Some(owner_for(services, principal, parts)?),
        _ => None,
    };
    // Reading up to FILE_BYTES_MAX from disk is the blocking pool's work.
    let store = Arc::clone(&services.kalamdb_files);
    let (sub, id) = (sub.to_string(), id.to_string());
    let (meta, bytes) =
        tokio::task::spawn_blocking(move || store.load(&table, owner.as_deref(), &sub, &id))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
            .map_err(|e| {
                tracing::warn!(error = %e, "a stored file could not be read");
                not_found()
            })?
            .ok_or_else(not_found)?;
    let mut response = http::Response::new(ResponseBody::full(bytes));
    let headers = response.headers_mut();
    let mime = HeaderValue::from_str(&meta.mime)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, mime);
    let name: String = meta
        .name
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect();
    if let Ok(disposition) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// Whose files of a USER table the caller reads: their own, or `?user_id=`'s.
fn owner_for(services: &Services, principal: &Principal, parts: &Parts) -> Result<String, Refused> {
    let Some(wanted) = query_value(parts.uri.query(), "user_id") else {
        return Ok(principal.name().to_string());
    };
    let users = services.auth.users();
    let user = users.by_name(&wanted).or_else(|| users.by_id(&wanted));
    let (name, role) = match user {
        Some(u) => (u.name, u.role),
        None if !services.auth.is_enabled() => (wanted, String::new()),
        None => {
            return Err((
                StatusCode::NOT_FOUND,
                code::FILE_NOT_FOUND,
                "File not found".into(),
            ))
        }
    };
    if !services.auth.may_act_as(principal, &name, &role) {
        return Err((
            StatusCode::FORBIDDEN,
            code::PERMISSION_DENIED,
            format!("'{}' may not read the files of '{name}'", principal.name()),
        ));
    }
    Ok(name)
}
