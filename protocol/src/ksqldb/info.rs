//! `/info`, `/healthcheck` and `/status` bodies (ksqldb-api.md §1).

use serde_json::json;
use sluice_engine::CommandStatus;

/// The ksqlDB version Sluice is wire-compatible with; clients gate features on it.
pub const KSQL_COMPATIBLE_VERSION: &str = "0.28.2";
pub const SERVICE_ID: &str = "sluice_";
pub const CLUSTER_ID: &str = "sluice-embedded";

pub fn info_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"KsqlServerInfo": {
        "version": KSQL_COMPATIBLE_VERSION,
        "kafkaClusterId": CLUSTER_ID,
        "ksqlServiceId": SERVICE_ID,
        "serverStatus": "RUNNING",
    }}))
    .expect("info serializes")
}

/// ksqlDB's `/healthcheck` body. `storage_writable` is the log (ksqlDB's `kafka` check);
/// `healthy` is false while any partition cannot write or holds damaged records.
pub fn healthcheck_body(healthy: bool, storage_writable: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "isHealthy": healthy,
        "details": {
            "metastore": {"isHealthy": true},
            "kafka": {"isHealthy": storage_writable},
            "commandRunner": {"isHealthy": true},
        },
        "serverState": "READY",
    }))
    .expect("healthcheck serializes")
}

pub fn status_body(statuses: &[(String, CommandStatus)]) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = statuses
        .iter()
        .map(|(id, s)| (id.clone(), json!(s.status)))
        .collect();
    serde_json::to_vec(&json!({"commandStatuses": map})).expect("status serializes")
}

/// ksqlDB's `CommandStatus` for `GET /status/{type}/{entity}/{action}`.
pub fn command_status_body(status: &CommandStatus) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "status": status.status,
        "message": status.message,
        "queryId": status.query_id,
    }))
    .expect("status serializes")
}
