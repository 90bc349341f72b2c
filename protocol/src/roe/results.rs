//! Roe's response bodies. One statement's result:
//! `{"query_id","query","summary":{read_rows,read_bytes,written_rows,written_bytes,
//! total_rows_to_read,result_rows,result_bytes,elapsed_ns,query_id},"row_count",
//! "column_names","column_types","result_rows","start_timestamp","end_timestamp"}` with
//! ClickHouse type names and cells as text; the async call's worksheet query; status and
//! result bodies carrying both `worksheet_query_id` and `query_task_id` (the same id: Roe's
//! docs use one or the other by revision); errors as `{"detail": …}`.

use serde::Serialize;
use serde_json::{json, Value as Json};
use sluice_engine::types::SqlType;

use crate::statement_table::Cell;

/// ClickHouse's name for a column type, as Roe reports `column_types`.
pub fn type_name(ty: &SqlType) -> String {
    match ty {
        SqlType::Boolean => "Bool".into(),
        SqlType::Integer => "Int32".into(),
        SqlType::BigInt => "Int64".into(),
        SqlType::Double => "Float64".into(),
        SqlType::Decimal { precision, scale } => format!("Decimal({precision}, {scale})"),
        // ClickHouse strings are byte strings: BYTES is a String too.
        SqlType::String | SqlType::Bytes => "String".into(),
        SqlType::Timestamp => "DateTime64(3)".into(),
        SqlType::Date => "Date".into(),
        SqlType::Time => "Time".into(),
        SqlType::Array(item) => format!("Array({})", type_name(item)),
        SqlType::Map(k, v) => format!("Map({}, {})", type_name(k), type_name(v)),
        SqlType::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.name, type_name(&f.ty)))
                .collect();
            format!("Tuple({})", fields.join(", "))
        }
    }
}

/// A cell as Roe's `result_rows` text (`null` stays null): strings as they are, numbers and
/// booleans as their JSON text, nested values as JSON.
pub fn cell_text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Null => None,
        Cell::Text(s) => Some(s.clone()),
        Cell::Json(text) => Some(text.clone()),
    }
}

/// What one statement did, as ClickHouse's `X-ClickHouse-Summary` counts it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub read_rows: u64,
    pub read_bytes: u64,
    pub written_rows: u64,
    pub written_bytes: u64,
    pub total_rows_to_read: u64,
    pub result_rows: u64,
    pub result_bytes: u64,
    pub elapsed_ns: u64,
    pub query_id: String,
}

/// One statement's result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatementResult {
    pub query_id: String,
    pub query: String,
    pub summary: Summary,
    pub row_count: u64,
    pub column_names: Vec<String>,
    pub column_types: Vec<String>,
    pub result_rows: Vec<Vec<Option<String>>>,
    /// Epoch seconds, fractional.
    pub start_timestamp: f64,
    pub end_timestamp: f64,
}

/// The sync call's body: one result per statement.
pub fn results_body(results: &[StatementResult]) -> Vec<u8> {
    serde_json::to_vec(results).expect("results always serialize")
}

/// The async call's worksheet query, just submitted.
pub fn worksheet_query(
    id: &str,
    query: &str,
    status: &str,
    created_at: &str,
    worksheet_id: Option<&str>,
    creator: &str,
) -> Vec<u8> {
    json!({
        "id": id,
        "created_at": created_at,
        "updated_at": created_at,
        "finished_at": Json::Null,
        "query": query,
        "query_task_id": id,
        "query_task_status": status,
        "error": Json::Null,
        "ai_summary": Json::Null,
        "worksheet": worksheet_id.map(|w| json!({"id": w})),
        "organization": Json::Null,
        "creator": {"username": creator},
    })
    .to_string()
    .into_bytes()
}

/// `GET …/{id}/status/`.
pub fn status_body(
    id: &str,
    status: &str,
    error: Option<&str>,
    created_at: &str,
    finished_at: Option<&str>,
) -> Vec<u8> {
    json!({
        "worksheet_query_id": id,
        "query_task_id": id,
        "status": status,
        "error": error,
        "created_at": created_at,
        "finished_at": finished_at,
    })
    .to_string()
    .into_bytes()
}

/// `GET …/{id}/result/`.
pub fn result_body(
    id: &str,
    status: &str,
    results: &[StatementResult],
    error: Option<&str>,
) -> Vec<u8> {
    json!({
        "worksheet_query_id": id,
        "query_task_id": id,
        "status": status,
        "results": results,
        "error": error,
    })
    .to_string()
    .into_bytes()
}

/// Every error body: `{"detail": …}` (Django REST framework's shape, which Roe's API uses).
pub fn error_body(detail: &str) -> Vec<u8> {
    json!({ "detail": detail }).to_string().into_bytes()
}

/// RFC 3339 UTC text (`2024-04-29T21:11:17.123000Z`) of ms since the epoch, as Django
/// renders datetimes.
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clickhouse_type_names() {
        assert_eq!(type_name(&SqlType::BigInt), "Int64");
        assert_eq!(type_name(&SqlType::Timestamp), "DateTime64(3)");
        assert_eq!(
            type_name(&SqlType::Map(
                Box::new(SqlType::String),
                Box::new(SqlType::Array(Box::new(SqlType::Double)))
            )),
            "Map(String, Array(Float64))"
        );
    }

    #[test]
    fn datetimes_render_like_django() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_714_425_077_123), "2024-04-29T21:11:17.123000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn cells_are_text_or_null() {
        assert_eq!(cell_text(&Cell::Null), None);
        assert_eq!(
            cell_text(&Cell::Json("1.50".into())).as_deref(),
            Some("1.50")
        );
        assert_eq!(cell_text(&Cell::Text("a".into())).as_deref(), Some("a"));
    }
}
