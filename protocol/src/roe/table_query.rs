//! Roe's table-query variant, the one the current `roe-ai` SDK speaks (other-faces.md
//! §D(a)): `POST /v1/tables/query/` `{"sql", "limit"?}` → 202 `{"table_query_id",
//! "status", "created_at"}`; `GET /v1/tables/query/{id}/result/` → `{"table_query_id",
//! "status", "error", "columns", "rows", "row_count", "truncated", "execution_time_ms"}`,
//! rows as objects keyed by column name with native JSON values.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::error::ProtocolError;
use crate::statement_table::Cell;

/// Rows a result holds when the request names no `limit` (the SDK's default).
pub const TABLE_QUERY_LIMIT_DEFAULT: u64 = 1_000;

/// The largest `limit` a request may ask: each row is an object in one JSON body, and the
/// registry retains the whole result; ten thousand rows keeps that body a few MiB.
pub const TABLE_QUERY_LIMIT_MAX: u64 = 10_000;

/// `{"sql": "...", "limit"?: n}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TableQueryRequest {
    pub sql: String,
    #[serde(default)]
    pub limit: Option<u64>,
}

impl TableQueryRequest {
    /// Decodes and checks the body: `sql` not blank, `limit` within 1 ..= the maximum.
    pub fn decode(bytes: &[u8]) -> Result<TableQueryRequest, ProtocolError> {
        let request: TableQueryRequest =
            serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
        if request.sql.trim().is_empty() {
            return Err(ProtocolError::InvalidJson("sql may not be blank".into()));
        }
        if let Some(limit) = request.limit {
            if !(1..=TABLE_QUERY_LIMIT_MAX).contains(&limit) {
                return Err(ProtocolError::InvalidJson(format!(
                    "limit must be 1 to {TABLE_QUERY_LIMIT_MAX}, not {limit}"
                )));
            }
        }
        Ok(request)
    }

    /// The limit in force.
    pub fn limit(&self) -> u64 {
        self.limit.unwrap_or(TABLE_QUERY_LIMIT_DEFAULT)
    }
}

/// The 202 body of a submitted table query.
pub fn accepted_body(id: &str, status: &str, created_at: &str) -> Vec<u8> {
    json!({ "table_query_id": id, "status": status, "created_at": created_at })
        .to_string()
        .into_bytes()
}

/// A finished (or not yet finished) table query's rows, before rendering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableResult<'a> {
    /// Column names and their ClickHouse type names.
    pub columns: Vec<(String, String)>,
    pub rows: &'a [Vec<Cell>],
    /// Most rows to render; the rest are cut and `truncated` says so.
    pub limit: usize,
    pub execution_time_ms: Option<u64>,
}

/// `GET /v1/tables/query/{id}/result/`.
pub fn result_body(id: &str, status: &str, error: Option<&str>, result: &TableResult) -> Vec<u8> {
    let names: Vec<&str> = result.columns.iter().map(|(n, _)| n.as_str()).collect();
    let rows: Vec<Json> = result
        .rows
        .iter()
        .take(result.limit)
        .map(|row| {
            let object: Map<String, Json> = names
                .iter()
                .zip(row)
                .map(|(name, cell)| ((*name).to_string(), cell_json(cell)))
                .collect();
            Json::Object(object)
        })
        .collect();
    let columns: Vec<Json> = result
        .columns
        .iter()
        .map(|(name, ty)| json!({ "name": name, "type": ty }))
        .collect();
    json!({
        "table_query_id": id,
        "status": status,
        "error": error,
        "columns": columns,
        "row_count": rows.len(),
        "rows": rows,
        "truncated": result.rows.len() > result.limit,
        "execution_time_ms": result.execution_time_ms,
    })
    .to_string()
    .into_bytes()
}

/// A cell as a native JSON value: text stays a string, numbers and nested values are
/// their JSON (the SDK hands rows to Python as dicts of plain values).
fn cell_json(cell: &Cell) -> Json {
    match cell {
        Cell::Null => Json::Null,
        Cell::Text(s) => Json::String(s.clone()),
        Cell::Json(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_need_sql_and_a_sane_limit() {
        let r = TableQueryRequest::decode(br#"{"sql":"SELECT 1;"}"#).expect("valid");
        assert_eq!(r.limit(), TABLE_QUERY_LIMIT_DEFAULT);
        let r = TableQueryRequest::decode(br#"{"sql":"SELECT 1;","limit":5}"#).expect("valid");
        assert_eq!(r.limit(), 5);
        assert!(TableQueryRequest::decode(br#"{"sql":" "}"#).is_err());
        assert!(TableQueryRequest::decode(br#"{"sql":"x","limit":0}"#).is_err());
        assert!(TableQueryRequest::decode(br#"{"sql":"x","limit":10001}"#).is_err());
        assert!(TableQueryRequest::decode(br#"{"query":"x"}"#).is_err());
    }

    #[test]
    fn rows_are_objects_of_native_values_cut_at_the_limit() {
        let rows = vec![
            vec![Cell::Text("a".into()), Cell::Json("1.5".into())],
            vec![Cell::Null, Cell::Json("[1,2]".into())],
        ];
        let result = TableResult {
            columns: vec![
                ("K".into(), "String".into()),
                ("V".into(), "Float64".into()),
            ],
            rows: &rows,
            limit: 1,
            execution_time_ms: Some(3),
        };
        let body: Json =
            serde_json::from_slice(&result_body("id", "SUCCESS", None, &result)).expect("json");
        assert_eq!(body["rows"], json!([{"K": "a", "V": 1.5}]));
        assert_eq!(body["row_count"], 1);
        assert_eq!(body["truncated"], true);
        assert_eq!(body["columns"][1], json!({"name": "V", "type": "Float64"}));
        assert_eq!(body["error"], Json::Null);
    }
}
