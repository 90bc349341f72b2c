//! ksqlDB's error bodies and the one place engine errors become HTTP status + body.
//!
//! Every ksqlDB error is `{"@type","error_code","message"}`; statement errors add
//! `statementText` and `entities` (ksqldb-api.md §2). The code is the HTTP status × 100
//! plus a suffix.

use serde::Serialize;
use sluice_engine::{EngineError, ErrorClass};

use crate::error::ProtocolError;

pub const GENERIC_ERROR: &str = "generic_error";
pub const STATEMENT_ERROR: &str = "statement_error";

/// Error codes ksqlDB uses; the HTTP status is `code / 100`.
pub mod code {
    pub const BAD_REQUEST: u32 = 40000;
    pub const BAD_STATEMENT: u32 = 40001;
    pub const QUERY_ENDPOINT: u32 = 40002;
    pub const MAX_PUSH_QUERIES: u32 = 40003;
    pub const HTTP2_ONLY: u32 = 40004;
    pub const NOT_FOUND: u32 = 40400;
    pub const NOT_ACCEPTABLE: u32 = 40600;
    pub const PAYLOAD_TOO_LARGE: u32 = 41300;
    pub const SERVER_ERROR: u32 = 50000;
    pub const SHUTTING_DOWN: u32 = 50303;
}

/// The text ksqlDB shows instead of internal details when a query fails to start.
pub const INTERNAL_QUERY_ERROR: &str = "The server encountered an internal error when processing the query. Please consult the server logs for more information.";

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "@type")]
    pub type_: &'static str,
    pub error_code: u32,
    pub message: &'a str,
}

/// An HTTP status and the JSON body that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ErrorResponse {
    pub fn generic(error_code: u32, message: &str) -> ErrorResponse {
        let body = serde_json::to_vec(&ErrorBody {
            type_: GENERIC_ERROR,
            error_code,
            message,
        })
        .expect("an error body always serializes");
        ErrorResponse {
            status: status_of(error_code),
            body,
        }
    }
}

fn status_of(error_code: u32) -> u16 {
    u16::try_from(error_code / 100).unwrap_or(500)
}

/// Error code for an engine error on the streaming endpoints (`/query-stream`,
/// `/inserts-stream`, `/close-query`).
pub fn stream_error_code(err: &EngineError) -> u32 {
    match err.class() {
        ErrorClass::BadStatement => code::BAD_STATEMENT,
        ErrorClass::BadRequest | ErrorClass::Conflict | ErrorClass::Unsupported => {
            code::BAD_REQUEST
        }
        ErrorClass::NotFound => code::BAD_STATEMENT,
        ErrorClass::ResourceExhausted => code::MAX_PUSH_QUERIES,
        ErrorClass::Internal => code::SERVER_ERROR,
    }
}

/// The one mapping from an engine error to a streaming endpoint's response before any
/// header was sent. Statement errors carry `statementText` as ksqlDB's do.
pub fn stream_error(err: &EngineError, statement_text: Option<&str>) -> ErrorResponse {
    let code = stream_error_code(err);
    let message = if code == code::SERVER_ERROR {
        INTERNAL_QUERY_ERROR.to_string()
    } else {
        err.to_string()
    };
    match (err.class(), statement_text) {
        (ErrorClass::BadStatement, Some(text)) => statement_error(code, &message, text, b"[]"),
        _ => ErrorResponse::generic(code, &message),
    }
}

/// `statement_error` with pre-rendered `entities` JSON.
pub fn statement_error(
    code: u32,
    message: &str,
    statement_text: &str,
    entities_json: &[u8],
) -> ErrorResponse {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "@type")]
        type_: &'static str,
        error_code: u32,
        message: &'a str,
        #[serde(rename = "statementText")]
        statement_text: &'a str,
        entities: &'a serde_json::value::RawValue,
    }
    let entities = std::str::from_utf8(entities_json)
        .ok()
        .and_then(|s| serde_json::value::RawValue::from_string(s.to_string()).ok())
        .unwrap_or_else(|| {
            serde_json::value::RawValue::from_string("[]".into()).expect("[] is JSON")
        });
    let body = serde_json::to_vec(&Body {
        type_: STATEMENT_ERROR,
        error_code: code,
        message,
        statement_text,
        entities: &entities,
    })
    .expect("an error body always serializes");
    ErrorResponse {
        status: status_of(code),
        body,
    }
}

/// A request body that failed to decode.
pub fn protocol_error(err: &ProtocolError) -> ErrorResponse {
    let code = match err {
        ProtocolError::BodyTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
        _ => code::BAD_REQUEST,
    };
    ErrorResponse::generic(code, &err.to_string())
}
