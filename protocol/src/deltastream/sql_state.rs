//! DeltaStream's SQLSTATE codes (its Go driver's `sqlcode.go` and the Python connector's
//! `SqlState`), and the one mapping from an engine error to them. A failed statement is
//! still HTTP 200; the code says what went wrong.

use sluice_engine::ErrorCode;

pub const SUCCESSFUL_COMPLETION: &str = "00000";
/// Class 03: the statement is still running (HTTP 202; poll for the result).
pub const NOT_YET_COMPLETE: &str = "03000";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const INVALID_TOPIC: &str = "3D007";
pub const INVALID_PARAMETER: &str = "3D008";
pub const INVALID_RELATION: &str = "3D020";
pub const SYNTAX_ERROR: &str = "42601";
/// DeltaStream's own 6-character code for a relation that exists already.
pub const DUPLICATE_RELATION: &str = "42P017";
pub const LIMIT_EXCEEDED: &str = "53000";
pub const INTERNAL_ERROR: &str = "XX000";

/// The one mapping from an engine error code to a `sqlState`. Exhaustive: a new engine
/// code does not compile until it is placed here.
pub fn sql_state(code: ErrorCode) -> &'static str {
    match code {
        // DeltaStream's table has no separate code for a statement that parses but does
        // not type-check; its clients know 42601 as "the SQL is wrong".
        ErrorCode::Syntax | ErrorCode::InvalidStatement | ErrorCode::InvalidRowJson => SYNTAX_ERROR,
        ErrorCode::QueryOnStatementEndpoint | ErrorCode::Unsupported => FEATURE_NOT_SUPPORTED,
        ErrorCode::BadRequest => INVALID_PARAMETER,
        ErrorCode::NotFound => INVALID_RELATION,
        ErrorCode::TopicNotFound | ErrorCode::PartitionNotFound => INVALID_TOPIC,
        ErrorCode::Conflict => DUPLICATE_RELATION,
        ErrorCode::PushQueryLimit | ErrorCode::ResourceLimit | ErrorCode::StorageFull => {
            LIMIT_EXCEEDED
        }
        ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal => INTERNAL_ERROR,
    }
}
