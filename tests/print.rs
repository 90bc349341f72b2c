//! PRINT over the old `/query` (HTTP/1.1) and `/query-stream` (HTTP/1.1 and HTTP/2): the
//! exact text lines, FROM BEGINNING, INTERVAL, LIMIT, tailing new records, and errors.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{response, Client, LineReader, TestServer};

/// Topic `p` (one partition) with three records: string keys, JSON values, known times.
async fn seed(server: &TestServer) {
    let mut client = server.h2().await;
    let (status, _, _) = client
        .send("POST", "/topics", &[], br#"{"name":"p","partitions":1}"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    // keys k1..k3; values {"A":1}..{"A":3}; 2021-01-01T00:00:0N.000Z.
    let body = r#"{"records":[
        {"key":"azE=","value":"eyJBIjoxfQ==","timestamp":1609459200000},
        {"key":"azI=","value":"eyJBIjoyfQ==","timestamp":1609459201000},
        {"key":"azM=","value":"eyJBIjozfQ==","timestamp":1609459202000}]}"#;
    let (status, _, _) = client
        .send(
            "POST",
            "/topics/p",
            &[("content-type", "application/vnd.kafka.binary.v2+json")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

const HEADER: &str = "Key format: KAFKA_STRING\nValue format: JSON or KAFKA_STRING\n";

fn line(n: u32) -> String {
    format!(
        "rowtime: 2021/01/01 00:00:0{}.000 Z, key: k{}, value: {{\"A\":{}}}, partition: 0\n",
        n - 1,
        n,
        n
    )
}

async fn print_on(client: &mut Client, path: &str, sql: &str) -> (StatusCode, String, String) {
    let body = if path == "/query" {
        json!({"ksql": sql, "streamsProperties": {}})
    } else {
        json!({"sql": sql})
    };
    let (status, headers, bytes) = client
        .send("POST", path, &[], body.to_string().as_bytes())
        .await;
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("utf8"),
    )
}

#[tokio::test]
async fn from_beginning_limit_is_byte_exact_on_both_endpoints() {
    let server = TestServer::start().await;
    seed(&server).await;
    let expected = format!("{HEADER}{}{}", line(1), line(2));
    for (mut client, path) in [
        (server.h1().await, "/query"),
        (server.h1().await, "/query-stream"),
        (server.h2().await, "/query-stream"),
    ] {
        let (status, content_type, text) =
            print_on(&mut client, path, "PRINT 'p' FROM BEGINNING LIMIT 2;").await;
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert_eq!(text, expected, "{path}");
    }
}

#[tokio::test]
async fn interval_prints_every_nth_record() {
    let server = TestServer::start().await;
    seed(&server).await;
    let (status, _, text) = print_on(
        &mut server.h1().await,
        "/query",
        "print p from beginning interval 2 limit 2;",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, format!("{HEADER}{}{}", line(1), line(3)));
}

#[tokio::test]
async fn without_from_beginning_prints_only_new_records() {
    let server = TestServer::start().await;
    seed(&server).await;
    let mut client = server.h2().await;
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    tx.send_data(json!({"sql": "PRINT 'p' LIMIT 1;"}).to_string().into())
        .await
        .expect("send");
    drop(tx);
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = LineReader::new(resp.into_body());
    // The response is open before the record arrives: PRINT started at the end.
    let body = r#"{"records":[{"key":"azQ=","value":"NA==","timestamp":0}]}"#;
    let (status, _, _) = server
        .h1()
        .await
        .send("POST", "/topics/p", &[], body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut got = Vec::new();
    while let Some(l) = lines.next_line().await {
        // Empty lines are the idle keep-alives.
        if !l.is_empty() {
            got.push(l);
        }
    }
    assert_eq!(
        got,
        vec![
            "Key format: KAFKA_STRING".to_string(),
            "Value format: JSON or KAFKA_STRING".to_string(),
            "rowtime: 1970/01/01 00:00:00.000 Z, key: k4, value: 4, partition: 0".to_string(),
        ]
    );
}

#[tokio::test]
async fn missing_topic_is_a_statement_error() {
    let server = TestServer::start().await;
    let (status, _, text) = print_on(
        &mut server.h1().await,
        "/query",
        "PRINT 'nope' FROM BEGINNING;",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert_eq!(
        body["message"],
        "Could not find topic 'nope', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive."
    );
}
