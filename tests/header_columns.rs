//! Header columns against a real server: `HEADERS` and `HEADER('k')` columns read record
//! headers produced through the topics API, DESCRIBE marks them, queries use them in
//! projections, functions and WHERE, and a persistent query forwards the headers to its
//! sink. Also a `TIMESTAMP=` STRING column with `TIMESTAMP_FORMAT` setting ROWTIME.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{json, Value as Json};
use support::{Client, TestServer, WAIT};

const BINARY: &str = "application/vnd.kafka.binary.v2+json";

async fn produce(client: &mut Client, topic: &str, records: Json) {
    let body = json!({ "records": records }).to_string();
    let (status, _, bytes) = client
        .send(
            "POST",
            &format!("/topics/{topic}"),
            &[("content-type", BINARY)],
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

/// Runs a query that ends at the current end of the stream and returns its rows.
async fn rows(client: &mut Client, sql: &str) -> Vec<Json> {
    let (status, bytes) = client
        .post("/query-stream", &json!({ "sql": sql }).to_string())
        .await;
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect()
}

const SOURCE: &str = "CREATE STREAM s (k STRING KEY, v BIGINT, \
    all_h ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, abc BYTES HEADER('abc')) \
    WITH (kafka_topic='s', value_format='JSON', partitions=1);";

/// `{"V":1}` and `{"V":2}` in base64.
const V1: &str = "eyJWIjoxfQ==";
const V2: &str = "eyJWIjoyfQ==";

async fn source_with_two_records(server: &TestServer) -> Client {
    server.ksql_ok(SOURCE).await;
    let mut client = server.h1().await;
    produce(
        &mut client,
        "s",
        json!([
            {"key": "YQ==", "value": V1, "headers": [
                {"key": "abc", "value": "Gg=="},
                {"key": "abc", "value": "IQ=="},
                {"key": "def", "value": null}]},
            {"key": "Yg==", "value": V2},
        ]),
    )
    .await;
    client
}

#[tokio::test]
async fn header_columns_read_record_headers() {
    let server = TestServer::start().await;
    let mut client = source_with_two_records(&server).await;
    let got = rows(&mut client, "SELECT * FROM s;").await;
    assert_eq!(
        got,
        vec![
            json!(["a", 1, [
                {"KEY": "abc", "VALUE": "Gg=="},
                {"KEY": "abc", "VALUE": "IQ=="},
                {"KEY": "def", "VALUE": null}], "IQ=="]),
            json!(["b", 2, [], null]),
        ]
    );
    let got = rows(
        &mut client,
        "SELECT k, LEN(abc) AS n FROM s WHERE all_h[1]->key = 'abc';",
    )
    .await;
    assert_eq!(got, vec![json!(["a", 1])]);

    let (status, body) = server.h1().await.ksql("DESCRIBE s;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = body[0]["sourceDescription"]["fields"]
        .as_array()
        .expect("fields");
    let kinds: Vec<(&str, Option<&str>)> = fields
        .iter()
        .map(|f| (f["name"].as_str().expect("name"), f["type"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("K", Some("KEY")),
            ("V", None),
            ("ALL_H", Some("HEADER")),
            ("ABC", Some("HEADER"))
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn header_columns_must_have_ksqldb_types() {
    let server = TestServer::start().await;
    let (status, body) = server
        .h1()
        .await
        .ksql("CREATE STREAM bad (v INT, h STRING HEADER('x')) WITH (kafka_topic='bad', value_format='JSON', partitions=1);")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected BYTES")),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn persistent_query_writes_header_columns_as_values_and_forwards_headers() {
    let server = TestServer::start().await;
    let mut client = source_with_two_records(&server).await;
    let body = json!({
        "ksql": "CREATE STREAM out AS SELECT k, abc FROM s;",
        "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}
    });
    let (status, bytes) = client.post("/ksql", &body.to_string()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );

    let deadline = Instant::now() + WAIT;
    let records = loop {
        let (status, _, bytes) = client
            .send("GET", "/topics/OUT/partitions/0/records?offset=0", &[], b"")
            .await;
        let page: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        let records = page["records"].as_array().cloned().unwrap_or_default();
        if status == StatusCode::OK && records.len() == 2 {
            break records;
        }
        assert!(Instant::now() < deadline, "sink never filled: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // `{"ABC":"IQ=="}` and `{"ABC":null}` in base64.
    assert_eq!(records[0]["value"], "eyJBQkMiOiJJUT09In0=");
    assert_eq!(records[1]["value"], "eyJBQkMiOm51bGx9");
    assert_eq!(
        records[0]["headers"],
        json!([
            {"key": "abc", "value": "Gg=="},
            {"key": "abc", "value": "IQ=="},
            {"key": "def", "value": null}
        ])
    );
    assert_eq!(records[1]["headers"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn timestamp_format_sets_rowtime_and_skips_unparseable_records() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM ts (id INT, event_at STRING) WITH (kafka_topic='ts', value_format='JSON', partitions=1, timestamp='event_at', timestamp_format='yyyy-MM-dd''T''HH:mm:ssX');")
        .await;
    let mut client = server.h1().await;
    // `{"ID":1,"EVENT_AT":"2018-05-11T21:58:33Z"}` and `{"ID":2,"EVENT_AT":"nope"}` in base64.
    produce(
        &mut client,
        "ts",
        json!([
            {"value": "eyJJRCI6MSwiRVZFTlRfQVQiOiIyMDE4LTA1LTExVDIxOjU4OjMzWiJ9", "timestamp": 10},
            {"value": "eyJJRCI6MiwiRVZFTlRfQVQiOiJub3BlIn0=", "timestamp": 10},
        ]),
    )
    .await;
    let got = rows(&mut client, "SELECT id, ROWTIME FROM ts;").await;
    assert_eq!(got, vec![json!([1, 1_526_075_913_000i64])]);
    server.stop().await;
}
