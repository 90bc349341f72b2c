//! KalamDB's SQL response envelopes (its `kalamdb-api` handlers):
//!
//! - success: `{"status":"success","results":[{"schema"?,"rows"?,"row_count","message"?,
//!   "as_user"}],"took":12.345}`; `schema` and `rows` are left out when empty;
//! - error: `{"status":"error","results":[],"took":1.2,"error":{"code","message","details"}}`.
//!
//! `took` is milliseconds rounded to three decimals. Cells are native JSON values, rows are
//! positional arrays in schema order.

use serde_json::{json, Map, Value as Json};
use sluice_engine::types::SqlType;

use crate::statement_table::Cell;

/// KalamDB's error codes this face answers with.
pub mod code {
    pub const INVALID_SQL: &str = "INVALID_SQL";
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    pub const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
    pub const PARAMS_WITH_BATCH: &str = "PARAMS_WITH_BATCH";
    pub const EMPTY_SQL: &str = "EMPTY_SQL";
    pub const SQL_EXECUTION_ERROR: &str = "SQL_EXECUTION_ERROR";
    pub const TABLE_NOT_FOUND: &str = "TABLE_NOT_FOUND";
    pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
    pub const RATE_LIMIT_EXCEEDED: &str = "RATE_LIMIT_EXCEEDED";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    pub const MISSING_AUTHORIZATION: &str = "MISSING_AUTHORIZATION";
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    pub const INSUFFICIENT_PERMISSIONS: &str = "INSUFFICIENT_PERMISSIONS";
    pub const REMOTE_ACCESS_DENIED: &str = "REMOTE_ACCESS_DENIED";
    pub const FILE_TOO_LARGE: &str = "FILE_TOO_LARGE";
    pub const TOO_MANY_FILES: &str = "TOO_MANY_FILES";
    pub const MISSING_FILE: &str = "MISSING_FILE";
    pub const EXTRA_FILE: &str = "EXTRA_FILE";
    pub const FILE_NOT_FOUND: &str = "FILE_NOT_FOUND";
    pub const INVALID_MIME_TYPE: &str = "INVALID_MIME_TYPE";
}

/// One schema field of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaField {
    pub name: String,
    pub ty: SqlType,
}

/// One statement's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub schema: Vec<SchemaField>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows returned, or rows written by a DML statement.
    pub row_count: u64,
    pub message: Option<String>,
}

/// KalamDB's `data_type` for an engine type (`KalamDataType`'s serde form).
pub fn data_type(ty: &SqlType) -> Json {
    match ty {
        SqlType::Boolean => "Boolean".into(),
        SqlType::Integer => "Int".into(),
        SqlType::BigInt => "BigInt".into(),
        SqlType::Double => "Double".into(),
        SqlType::Decimal { precision, scale } => {
            json!({"Decimal": {"precision": precision, "scale": scale}})
        }
        SqlType::String => "Text".into(),
        SqlType::Bytes => "Bytes".into(),
        SqlType::Timestamp => "Timestamp".into(),
        SqlType::Date => "Date".into(),
        SqlType::Time => "Time".into(),
        SqlType::Struct(_) if super::files::is_file_type(ty) => "File".into(),
        // KalamDB has no collection types; it keeps nested values as JSON.
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => "Json".into(),
    }
}

/// Milliseconds rounded to three decimals, as KalamDB's `took`.
pub fn took_ms(elapsed: std::time::Duration) -> f64 {
    (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A cell as a native JSON value.
pub fn cell_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Text(s) => Json::String(s.clone()),
        Cell::Json(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
    }
}

/// The success envelope.
pub fn success_body(results: &[QueryResult], as_user: &str, took: f64) -> Vec<u8> {
    let results: Vec<Json> = results
        .iter()
        .map(|r| {
            let mut out = Map::new();
            if !r.schema.is_empty() {
                let schema: Vec<Json> = r
                    .schema
                    .iter()
                    .enumerate()
                    .map(|(index, f)| {
                        json!({"name": f.name, "data_type": data_type(&f.ty), "index": index})
                    })
                    .collect();
                out.insert("schema".into(), schema.into());
            }
            if !r.rows.is_empty() {
                let rows: Vec<Json> = r
                    .rows
                    .iter()
                    .map(|row| Json::Array(row.iter().map(cell_json).collect()))
                    .collect();
                out.insert("rows".into(), rows.into());
            }
            out.insert("row_count".into(), r.row_count.into());
            if let Some(message) = &r.message {
                out.insert("message".into(), message.as_str().into());
            }
            out.insert("as_user".into(), as_user.into());
            Json::Object(out)
        })
        .collect();
    json!({"status": "success", "results": results, "took": took})
        .to_string()
        .into_bytes()
}

/// The error envelope.
pub fn error_body(code: &str, message: &str, took: f64) -> Vec<u8> {
    json!({
        "status": "error",
        "results": [],
        "took": took,
        "error": {"code": code, "message": message, "details": null},
    })
    .to_string()
    .into_bytes()
}

/// `GET /health`: KalamDB's health body.
pub fn health_body(version: &str) -> Vec<u8> {
    json!({"status": "healthy", "version": version, "api_version": "v1", "build_date": null})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn success_leaves_out_empty_schema_and_rows() {
        let rows = QueryResult {
            schema: vec![
                SchemaField {
                    name: "id".into(),
                    ty: SqlType::BigInt,
                },
                SchemaField {
                    name: "d".into(),
                    ty: SqlType::Decimal {
                        precision: 4,
                        scale: 2,
                    },
                },
            ],
            rows: vec![vec![Cell::Json("1".into()), Cell::Text("a".into())]],
            row_count: 1,
            message: None,
        };
        let written = QueryResult {
            row_count: 1,
            ..QueryResult::default()
        };
        let body: Json =
            serde_json::from_slice(&success_body(&[rows, written], "alice", 1.5)).expect("json");
        assert_eq!(
            body,
            json!({"status":"success","took":1.5,"results":[
                {"schema":[{"name":"id","data_type":"BigInt","index":0},
                           {"name":"d","data_type":{"Decimal":{"precision":4,"scale":2}},"index":1}],
                 "rows":[[1,"a"]],"row_count":1,"as_user":"alice"},
                {"row_count":1,"as_user":"alice"}]})
        );
    }

    #[test]
    fn error_and_took() {
        let body: Json =
            serde_json::from_slice(&error_body(code::INVALID_SQL, "bad", 0.25)).expect("json");
        assert_eq!(
            body,
            json!({"status":"error","results":[],"took":0.25,
                   "error":{"code":"INVALID_SQL","message":"bad","details":null}})
        );
        assert_eq!(took_ms(Duration::from_nanos(12_345_678)), 12.346);
    }
}
