//! DeltaStream's response bodies: `ResultSet` (200), `StatementStatus` (202), the error
//! body `{message, traceID}`, and `Version` (DeltaStream REST API v2 OpenAPI spec).

use serde::Serialize;

/// One result column.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ResultColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub nullable: bool,
}

/// The session context echoed back; clients copy its non-empty fields into their next
/// request.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ResultContext {
    #[serde(rename = "organizationID")]
    pub organization_id: String,
    #[serde(rename = "roleName", skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(rename = "databaseName", skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(rename = "schemaName", skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
    #[serde(rename = "storeName", skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    #[serde(rename = "computePoolName", skip_serializing_if = "Option::is_none")]
    pub compute_pool_name: Option<String>,
}

#[derive(Debug, Serialize)]
struct PartitionInfo {
    #[serde(rename = "rowCount")]
    row_count: usize,
}

#[derive(Debug, Serialize)]
struct Metadata<'a> {
    encoding: &'static str,
    #[serde(rename = "partitionInfo")]
    partition_info: Vec<PartitionInfo>,
    columns: &'a [ResultColumn],
    context: &'a ResultContext,
}

#[derive(Debug, Serialize)]
struct ResultSetBody<'a> {
    #[serde(rename = "sqlState")]
    sql_state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(rename = "statementID")]
    statement_id: &'a str,
    #[serde(rename = "statementIDs", skip_serializing_if = "<[_]>::is_empty")]
    statement_ids: &'a [String],
    #[serde(rename = "createdOn")]
    created_on: i64,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a [Vec<Option<String>>]>,
}

/// A 200 `ResultSet`: one page (`data`) of a result whose pages have `page_rows` rows each.
#[derive(Debug)]
pub struct ResultSet<'a> {
    pub sql_state: &'a str,
    pub message: Option<&'a str>,
    pub statement_id: &'a str,
    pub statement_ids: &'a [String],
    /// UTC POSIX seconds.
    pub created_on: i64,
    pub columns: &'a [ResultColumn],
    pub context: &'a ResultContext,
    /// Row counts of every page (`partitionInfo`); each equals its page's `data` length.
    pub page_rows: &'a [usize],
    /// The asked page's rows; `None` for a failed statement.
    pub data: Option<&'a [Vec<Option<String>>]>,
}

impl ResultSet<'_> {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&ResultSetBody {
            sql_state: self.sql_state,
            message: self.message,
            statement_id: self.statement_id,
            statement_ids: self.statement_ids,
            created_on: self.created_on,
            metadata: Metadata {
                encoding: "json",
                partition_info: self
                    .page_rows
                    .iter()
                    .map(|&row_count| PartitionInfo { row_count })
                    .collect(),
                columns: self.columns,
                context: self.context,
            },
            data: self.data,
        })
        .expect("a result set always serializes")
    }
}

#[derive(Debug, Serialize)]
struct StatementStatusBody<'a> {
    #[serde(rename = "sqlState")]
    sql_state: &'static str,
    #[serde(rename = "statementID")]
    statement_id: &'a str,
    #[serde(rename = "statementIDs", skip_serializing_if = "<[_]>::is_empty")]
    statement_ids: &'a [String],
    #[serde(rename = "createdOn")]
    created_on: i64,
}

/// A 202 `StatementStatus`: still running, poll `GET /v2/statements/{statementID}`.
pub fn statement_status(statement_id: &str, statement_ids: &[String], created_on: i64) -> Vec<u8> {
    serde_json::to_vec(&StatementStatusBody {
        sql_state: super::sql_state::NOT_YET_COMPLETE,
        statement_id,
        statement_ids,
        created_on,
    })
    .expect("a statement status always serializes")
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(rename = "traceID")]
    trace_id: &'a str,
}

/// The body of every 4xx/5xx: `{"message": …, "traceID": …}`.
pub fn error_body(message: &str, trace_id: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody { message, trace_id }).expect("an error body always serializes")
}

/// `GET /v2/version`.
pub fn version(major: u32, minor: u32, patch: u32) -> Vec<u8> {
    serde_json::json!({"major": major, "minor": minor, "patch": patch})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_set_has_the_spec_fields() {
        let columns = [ResultColumn {
            name: "Type".into(),
            type_name: "VARCHAR".into(),
            nullable: true,
        }];
        let context = ResultContext {
            organization_id: "0d3d2d4e-0000-4000-8000-000000000001".into(),
            database_name: Some("db".into()),
            ..ResultContext::default()
        };
        let data = vec![vec![Some("stream".to_string()), None]];
        let body = ResultSet {
            sql_state: "00000",
            message: None,
            statement_id: "id-1",
            statement_ids: &[],
            created_on: 1_703_907_114,
            columns: &columns,
            context: &context,
            page_rows: &[1],
            data: Some(&data),
        }
        .encode();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "sqlState": "00000", "statementID": "id-1", "createdOn": 1703907114,
                "metadata": {
                    "encoding": "json", "partitionInfo": [{"rowCount": 1}],
                    "columns": [{"name": "Type", "type": "VARCHAR", "nullable": true}],
                    "context": {"organizationID": "0d3d2d4e-0000-4000-8000-000000000001",
                                "databaseName": "db"}
                },
                "data": [["stream", null]]
            })
        );
        let status: serde_json::Value =
            serde_json::from_slice(&statement_status("id-2", &[], 5)).expect("json");
        assert_eq!(
            status,
            serde_json::json!({"sqlState": "03000", "statementID": "id-2", "createdOn": 5})
        );
    }
}
