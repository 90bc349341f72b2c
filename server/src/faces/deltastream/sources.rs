//! Attached files (function and descriptor sources) and `GET /v2/download/{resourceType}/
//! {organizationID}/{resourceName}` (DeltaStream REST API v2, other-faces.md §A(a)).
//!
//! `CREATE FUNCTION_SOURCE name WITH ('file' = 'f.jar')` keeps the request's attachment
//! `f.jar` here under (kind, organization, name); `DROP …` forgets it; the download route
//! answers its bytes. The engine runs no UDF jar and reads no descriptor: the files are
//! kept so that what a client uploads, it can fetch back, as DeltaStream's tools do.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use sluice_engine::ErrorCode;
use sluice_protocol::deltastream::dialect::SourceKind;

use super::respond::error;
use crate::body::frames_out::ResponseBody;
use crate::query_string::path_segment;
use crate::response::HttpResponse;
use crate::tasks::is_uuid;

/// Most sources kept at once: each is a file a person uploaded by hand (a UDF jar, a
/// descriptor set), so a few hundred is far beyond use and bounds the map.
pub const SOURCES_MAX: usize = 256;

/// Most bytes all kept sources may hold together: the files live in memory, and 64 MiB
/// holds dozens of typical jars while staying small beside the engine's own buffers.
pub const SOURCE_BYTES_TOTAL_MAX: usize = 64 * 1024 * 1024;

/// `application/octet-stream`, what DeltaStream's spec gives the download's 200.
const OCTET_STREAM: &str = "application/octet-stream";

/// (kind, organization id, name).
type SourceKey = (SourceKind, String, String);

/// Why a source could not be kept or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub code: ErrorCode,
    pub message: String,
}

/// The kept files, bounded by [`SOURCES_MAX`] and [`SOURCE_BYTES_TOTAL_MAX`].
#[derive(Debug, Default)]
pub struct SourceStore {
    /// `Bytes`, so a download shares the kept file instead of copying it.
    files: Mutex<HashMap<SourceKey, Bytes>>,
}

impl SourceStore {
    /// Keeps `bytes` as source `name` of `organization`; a name taken is a conflict.
    pub fn create(
        &self,
        kind: SourceKind,
        organization: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), SourceError> {
        let mut files = self.files.lock().expect("no code panics holding this lock");
        let key = (kind, organization.to_string(), name.to_string());
        if files.contains_key(&key) {
            return Err(SourceError {
                code: ErrorCode::Conflict,
                message: format!("{} {name} already exists", kind.type_name()),
            });
        }
        let held: usize = files.values().map(|f| f.len()).sum();
        if files.len() >= SOURCES_MAX || held + bytes.len() > SOURCE_BYTES_TOTAL_MAX {
            return Err(SourceError {
                code: ErrorCode::ResourceLimit,
                message: format!(
                    "at most {SOURCES_MAX} sources of {SOURCE_BYTES_TOTAL_MAX} bytes in all \
                     may be kept; drop one first"
                ),
            });
        }
        files.insert(key, Bytes::copy_from_slice(bytes));
        Ok(())
    }

    /// Forgets source `name`; an unknown name is not found.
    pub fn drop_source(
        &self,
        kind: SourceKind,
        organization: &str,
        name: &str,
    ) -> Result<(), SourceError> {
        let mut files = self.files.lock().expect("no code panics holding this lock");
        let key = (kind, organization.to_string(), name.to_string());
        match files.remove(&key) {
            Some(_) => Ok(()),
            None => Err(SourceError {
                code: ErrorCode::NotFound,
                message: format!("{} {name} does not exist", kind.type_name()),
            }),
        }
    }

    fn get(&self, kind: SourceKind, organization: &str, name: &str) -> Option<Bytes> {
        let files = self.files.lock().expect("no code panics holding this lock");
        files
            .get(&(kind, organization.to_string(), name.to_string()))
            .cloned()
    }
}

/// `GET /v2/download/{resourceType}/{organizationID}/{resourceName}`; `rest` is the path
/// after `download/`.
pub fn download(store: &SourceStore, rest: &str) -> HttpResponse {
    let segments: Vec<&str> = rest.split('/').collect();
    let [resource_type, organization, name] = segments.as_slice() else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("path not found: /v2/download/{rest}"),
        );
    };
    let Some(kind) = SourceKind::from_resource_type(resource_type) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "resourceType must be function_source or descriptor_source, not `{resource_type}`"
            ),
        );
    };
    if !is_uuid(organization) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("`{organization}` is not an organization ID (a UUID)"),
        );
    }
    let name = path_segment(name);
    match store.get(kind, organization, &name) {
        Some(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, OCTET_STREAM)
            .body(ResponseBody::full(bytes))
            .expect("static status and header are valid"),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("{} {name} not found", kind.type_name()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "5a1ce000-0000-4000-8000-000000000001";

    #[test]
    fn create_drop_and_limits() {
        let store = SourceStore::default();
        store
            .create(SourceKind::Function, ORG, "f", b"PK")
            .expect("kept");
        let again = store.create(SourceKind::Function, ORG, "f", b"PK");
        assert_eq!(again.expect_err("taken").code, ErrorCode::Conflict);
        // Another kind is another namespace.
        store
            .create(SourceKind::Descriptor, ORG, "f", b"x")
            .expect("kept");
        let big = vec![0u8; SOURCE_BYTES_TOTAL_MAX];
        let full = store.create(SourceKind::Function, ORG, "big", &big);
        assert_eq!(full.expect_err("over").code, ErrorCode::ResourceLimit);
        store
            .drop_source(SourceKind::Function, ORG, "f")
            .expect("dropped");
        let gone = store.drop_source(SourceKind::Function, ORG, "f");
        assert_eq!(gone.expect_err("gone").code, ErrorCode::NotFound);
    }
}
