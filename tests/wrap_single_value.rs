//! `WRAP_SINGLE_VALUE` and the `ksql.persistence.*` request properties against a real
//! server: the exact bytes stored for wrapped and unwrapped single value columns, what
//! CREATE refuses, defaults taken from `streamsProperties`, and that a restart rebuilds an
//! unwrapped source as it was created.

mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_engine::FsyncPolicy;
use support::{TestServer, WAIT};

const EARLIEST: &str = r#"{"ksql.streams.auto.offset.reset":"earliest"}"#;

async fn ksql_with(server: &TestServer, sql: &str, props: &str) -> (StatusCode, Json) {
    let body = format!("{{\"ksql\":{},\"streamsProperties\":{props}}}", json!(sql));
    let (status, bytes) = server.h2().await.post("/ksql", &body).await;
    (status, support::json(&bytes))
}

async fn insert(server: &TestServer, target: &str, rows: &[Json]) {
    let mut body = json!({"target": target}).to_string();
    for r in rows {
        body.push('\n');
        body.push_str(&r.to_string());
    }
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(!text.contains("error"), "{text}");
}

/// Every record value of a one-partition topic, as text (`None` for a null value).
async fn values(server: &TestServer, topic: &str) -> Vec<Option<String>> {
    let (records, _) = server
        .engine
        .read_records(topic, 0, Some(0), 100_000)
        .await
        .expect("topic exists");
    records
        .iter()
        .map(|r| {
            r.record
                .value
                .as_ref()
                .map(|v| String::from_utf8(v.to_vec()).expect("utf8"))
        })
        .collect()
}

/// Waits until `topic` holds `n` records.
async fn wait_for_records(server: &TestServer, topic: &str, n: usize) -> Vec<Option<String>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if server.engine.describe_topic(topic).is_some() {
            let got = values(server, topic).await;
            if got.len() >= n {
                return got;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic} never reached {n} records"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A pull query over a stream: every row there now.
async fn pull(server: &TestServer, sql: &str) -> Vec<Json> {
    let (status, bytes) = server
        .h2()
        .await
        .post("/query-stream", &json!({"sql": sql}).to_string())
        .await;
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a row"))
        .collect()
}

#[tokio::test]
async fn unwrapped_values_are_stored_bare_and_sinks_choose_their_own_wrapping() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM input (v BIGINT) WITH (kafka_topic='input', value_format='JSON', partitions=1, WRAP_SINGLE_VALUE=false);")
        .await;
    insert(&server, "input", &[json!({"V": 5}), json!({"V": null})]).await;
    // A null single value is a null record value, not the text `null`.
    assert_eq!(
        values(&server, "input").await,
        vec![Some("5".to_string()), None]
    );
    // Queries read the bare value; the tombstone is no row.
    assert_eq!(
        pull(&server, "SELECT * FROM input;").await,
        vec![json!([5])]
    );

    let (status, body) = ksql_with(
        &server,
        "CREATE STREAM wrapped AS SELECT * FROM input; \
         CREATE STREAM bare WITH (WRAP_SINGLE_VALUE='false') AS SELECT v * 2 AS d FROM input;",
        EARLIEST,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Not inherited from the source: the sink is wrapped unless it says otherwise. The
    // tombstone passes through the projection.
    assert_eq!(
        wait_for_records(&server, "WRAPPED", 2).await,
        vec![Some(r#"{"V":5}"#.to_string()), None]
    );
    assert_eq!(
        wait_for_records(&server, "BARE", 2).await,
        vec![Some("10".to_string()), None]
    );
    server.stop().await;
}

#[tokio::test]
async fn create_refuses_wrapping_for_several_value_columns() {
    let server = TestServer::start().await;
    let (status, body) = server
        .h2()
        .await
        .ksql("CREATE STREAM s (a INT, b INT) WITH (kafka_topic='s', value_format='JSON', partitions=1, wrap_single_value=true);")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
    );
    let (status, body) = server
        .h2()
        .await
        .ksql("CREATE STREAM s (a INT) WITH (kafka_topic='s', value_format='JSON', partitions=1, wrap_single_value='maybe');")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "Invalid value maybe for configuration WRAP_SINGLE_VALUE: Expected value to be either true or false"
    );
    // A keyed stream with one value column is fine, and so is a CSAS sink with one.
    server
        .ksql_ok("CREATE STREAM k (id INT KEY, a INT, b INT) WITH (kafka_topic='k', value_format='JSON', partitions=1);")
        .await;
    let (status, body) = server
        .h2()
        .await
        .ksql("CREATE STREAM o WITH (WRAP_SINGLE_VALUE=false) AS SELECT * FROM k;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
    );
    server
        .ksql_ok("CREATE STREAM o WITH (WRAP_SINGLE_VALUE=false) AS SELECT id, a FROM k;")
        .await;
    server.stop().await;
}

#[tokio::test]
async fn request_properties_set_defaults_that_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    let props = r#"{"ksql.persistence.wrap.single.values":"false","ksql.persistence.default.format.value":"JSON"}"#;
    let (status, body) = ksql_with(
        &server,
        "CREATE STREAM src (k STRING KEY, foo STRING) WITH (kafka_topic='src', partitions=1);",
        props,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = server.ksql_ok("DESCRIBE src;").await;
    assert_eq!(body[0]["sourceDescription"]["valueFormat"], "JSON");
    insert(&server, "src", &[json!({"K": "a", "FOO": "bar"})]).await;
    assert_eq!(
        values(&server, "src").await,
        vec![Some(r#""bar""#.to_string())]
    );
    server.stop().await;

    // Replay has no request properties: the journal kept them with the CREATE.
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    insert(&server, "src", &[json!({"K": "b", "FOO": "baz"})]).await;
    assert_eq!(
        values(&server, "src").await,
        vec![Some(r#""bar""#.to_string()), Some(r#""baz""#.to_string())]
    );
    assert_eq!(
        pull(&server, "SELECT * FROM src;").await,
        vec![json!(["a", "bar"]), json!(["b", "baz"])]
    );
    // Without the property a value format is required, as in ksqlDB.
    let (status, body) = server
        .h2()
        .await
        .ksql("CREATE STREAM other (foo STRING) WITH (kafka_topic='other', partitions=1);")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .starts_with("Statement is missing the 'VALUE_FORMAT' property"),
        "{body}"
    );
    server.stop().await;
}
