//! REST Proxy error bodies, `{"error_code":…,"message":…}`, and the one mapping from
//! protocol and engine errors to them (Confluent REST Proxy v2 API reference: the code is
//! the HTTP status, optionally × 100 plus a suffix).

use serde::Serialize;
use sluice_engine::{EngineError, ErrorCode};

use crate::error::ProtocolError;
use crate::ksqldb::errors::ErrorResponse;

/// Error codes REST Proxy uses; the HTTP status is the code's first three digits.
pub mod code {
    pub const BAD_REQUEST: u32 = 400;
    pub const UNAUTHORIZED: u32 = 401;
    pub const FORBIDDEN: u32 = 403;
    pub const TOPIC_NOT_FOUND: u32 = 40401;
    pub const PARTITION_NOT_FOUND: u32 = 40402;
    pub const METHOD_NOT_ALLOWED: u32 = 405;
    pub const TOPIC_EXISTS: u32 = 40902;
    pub const PAYLOAD_TOO_LARGE: u32 = 413;
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 415;
    /// Well-formed JSON that is not a valid request (bad base64, wrong field types).
    pub const INVALID_REQUEST: u32 = 42201;
    pub const TOO_MANY_REQUESTS: u32 = 429;
    pub const SERVER_ERROR: u32 = 500;
}

pub const TOPIC_NOT_FOUND_MESSAGE: &str = "Topic not found.";
pub const PARTITION_NOT_FOUND_MESSAGE: &str = "Partition not found.";

#[derive(Serialize)]
struct Body<'a> {
    error_code: u32,
    message: &'a str,
}

pub fn rest_error(error_code: u32, message: &str) -> ErrorResponse {
    let status = if error_code >= 1000 {
        error_code / 100
    } else {
        error_code
    };
    ErrorResponse {
        status: u16::try_from(status).unwrap_or(500),
        body: serde_json::to_vec(&Body {
            error_code,
            message,
        })
        .expect("an error body always serializes"),
    }
}

pub fn topic_not_found() -> ErrorResponse {
    rest_error(code::TOPIC_NOT_FOUND, TOPIC_NOT_FOUND_MESSAGE)
}

pub fn partition_not_found() -> ErrorResponse {
    rest_error(code::PARTITION_NOT_FOUND, PARTITION_NOT_FOUND_MESSAGE)
}

/// A request that failed to decode.
pub fn from_protocol(err: &ProtocolError) -> ErrorResponse {
    let error_code = match err {
        ProtocolError::BodyTooLarge { .. } | ProtocolError::RowTooLarge { .. } => {
            code::PAYLOAD_TOO_LARGE
        }
        ProtocolError::InvalidJson(_)
        | ProtocolError::EmptyBody
        | ProtocolError::TruncatedRow
        | ProtocolError::InvalidForm(_)
        | ProtocolError::ResponseTooLarge { .. }
        | ProtocolError::UnsupportedInFormat(_) => code::BAD_REQUEST,
        ProtocolError::InvalidRecord(_) => code::INVALID_REQUEST,
        ProtocolError::UnsupportedMediaType(_) => code::UNSUPPORTED_MEDIA_TYPE,
    };
    rest_error(error_code, &err.to_string())
}

/// The one mapping from an engine error to a `/topics…` error body. Exhaustive over the
/// engine's codes: a new code does not compile until it is placed here.
pub fn from_engine(err: &EngineError) -> ErrorResponse {
    let message = err.to_string();
    match err.code() {
        ErrorCode::TopicNotFound => topic_not_found(),
        ErrorCode::PartitionNotFound | ErrorCode::NotFound => partition_not_found(),
        ErrorCode::Conflict => rest_error(code::TOPIC_EXISTS, &message),
        ErrorCode::Syntax
        | ErrorCode::InvalidStatement
        | ErrorCode::QueryOnStatementEndpoint
        | ErrorCode::BadRequest
        | ErrorCode::InvalidRowJson
        | ErrorCode::Unsupported => rest_error(code::INVALID_REQUEST, &message),
        ErrorCode::PushQueryLimit | ErrorCode::ResourceLimit => {
            rest_error(code::TOO_MANY_REQUESTS, &message)
        }
        ErrorCode::StorageFull | ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal => {
            rest_error(code::SERVER_ERROR, "Internal server error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = topic_not_found();
        assert_eq!(e.status, 404);
        assert_eq!(
            e.body,
            br#"{"error_code":40401,"message":"Topic not found."}"#.to_vec()
        );
        assert_eq!(rest_error(code::UNSUPPORTED_MEDIA_TYPE, "x").status, 415);
        assert_eq!(rest_error(code::INVALID_REQUEST, "x").status, 422);
    }
}
