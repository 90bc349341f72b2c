//! A push query on a table streams the table's deletes (ksqlDB#10712, #6438): v1+json
//! shows them as `"tombstone":true` rows (the key, nulls), as ksqlDB's does; the delimited
//! and JSON-array formats, which cannot mark a delete, leave them out as ksqlDB does. A
//! delete passes a WHERE: the key's row may have passed before.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{Client, TestServer};

const BINARY: &str = "application/vnd.kafka.binary.v2+json";
const V1_JSON: &str = "application/vnd.ksql.v1+json";

/// `a` = 1, then `a` deleted, then `b` = 2 (KAFKA keys are the raw UTF-8 string).
const RECORDS: &str = r#"{"records":[
    {"key":"YQ==","value":"eyJWIjoxfQ=="},
    {"key":"YQ==","value":null},
    {"key":"Yg==","value":"eyJWIjoyfQ=="}]}"#;

async fn query(client: &mut Client, sql: &str, accept: &str) -> String {
    let body = json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}}).to_string();
    let (status, _, bytes) = client
        .send(
            "POST",
            "/query-stream",
            &[("accept", accept), ("content-type", "application/json")],
            body.as_bytes(),
        )
        .await;
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

/// The v1+json elements after the header, one per line, without separators.
fn elements(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .skip(1)
        .map(|line| {
            let line = line.trim_start_matches('[').trim_end_matches(',');
            let line = line.strip_suffix(']').unwrap_or(line);
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_queries_on_tables_stream_deletes_where_the_format_can_show_them() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE TABLE T (K STRING PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);")
        .await;
    let mut client = server.h1().await;
    let (status, _, bytes) = client
        .send(
            "POST",
            "/topics/t",
            &[("content-type", BINARY)],
            RECORDS.as_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );

    let text = query(
        &mut client,
        "SELECT * FROM T EMIT CHANGES LIMIT 3;",
        V1_JSON,
    )
    .await;
    assert_eq!(
        elements(&text),
        [
            json!({"row": {"columns": ["a", 1]}}),
            json!({"row": {"columns": ["a", null], "tombstone": true}}),
            json!({"row": {"columns": ["b", 2]}}),
            json!({"finalMessage": "Limit Reached"}),
        ],
        "{text}"
    );

    // Computed columns of a delete are null; the delete of `a` passes the WHERE.
    let text = query(
        &mut client,
        "SELECT K, V * 10 AS TEN_V FROM T WHERE V > 1 EMIT CHANGES LIMIT 2;",
        V1_JSON,
    )
    .await;
    assert_eq!(
        elements(&text),
        [
            json!({"row": {"columns": ["a", null], "tombstone": true}}),
            json!({"row": {"columns": ["b", 20]}}),
            json!({"finalMessage": "Limit Reached"}),
        ],
        "{text}"
    );

    // The delimited format has no way to mark a delete: it is left out (but counted by the
    // LIMIT, as ksqlDB counts it).
    let text = query(
        &mut client,
        "SELECT * FROM T EMIT CHANGES LIMIT 3;",
        "application/vnd.ksqlapi.delimited.v1",
    )
    .await;
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows, [r#"["a",1]"#, r#"["b",2]"#], "{text}");
    server.stop().await;
}
