//! `/ksql` cannot be made to answer more than it should (issue 9, finding 2): identifiers,
//! statements per request and the size of the response are all bounded, and a request over
//! a bound is refused with ksqlDB's `statement_error` before anything runs. DDL cannot
//! grow the catalog without bound either (issue 9, finding 3).

mod support;

use http::StatusCode;
use serde_json::json;
use sluice_engine::limits::{
    IDENTIFIER_CHARS_MAX, KSQL_RESPONSE_BYTES_MAX, SOURCES_MAX, STATEMENTS_PER_REQUEST_MAX,
};
use sluice_engine::FsyncPolicy;
use support::TestServer;

async fn ksql(server: &TestServer, sql: &str) -> (StatusCode, serde_json::Value) {
    let body = json!({ "ksql": sql }).to_string();
    let (status, bytes) = server.h2().await.post("/ksql", &body).await;
    (status, support::json(&bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_longer_than_the_limit_are_refused() {
    let server = TestServer::start().await;
    let longest = "S".repeat(IDENTIFIER_CHARS_MAX);
    let (status, body) = ksql(
        &server,
        &format!("CREATE STREAM {longest} (V STRING) WITH (kafka_topic='t', value_format='JSON', partitions=1);"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for name in [
        format!("{longest}X"),
        format!("`{}`", "é".repeat(IDENTIFIER_CHARS_MAX + 1)),
        "Q".repeat(1_000_000),
    ] {
        let sql = format!("SHOW STREAMS; DESCRIBE {name};");
        let (status, body) = ksql(&server, &sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["@type"], "statement_error", "{body}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains("identifier is longer than 249 characters"),
            "{message}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_per_request_are_bounded() {
    let server = TestServer::start().await;
    let at_limit = "SHOW STREAMS;".repeat(STATEMENTS_PER_REQUEST_MAX);
    let (status, body) = ksql(&server, &at_limit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(STATEMENTS_PER_REQUEST_MAX)
    );
    let (status, body) = ksql(&server, &format!("{at_limit}SHOW STREAMS;")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("too many statements"), "{message}");
    server.stop().await;
}

/// Wide sources with long statements, described a thousand times in one small request:
/// the answer would be hundreds of MB, so the request is refused, nothing is applied, and
/// the server stays responsive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_bounded_before_anything_runs() {
    let server = TestServer::start().await;
    let columns: Vec<String> = (0..400)
        .map(|i| {
            format!(
                "C{i}_{} STRUCT<A ARRAY<MAP<STRING, DOUBLE>>>",
                "X".repeat(60)
            )
        })
        .collect();
    let create = format!(
        "CREATE STREAM WIDE ({}) WITH (kafka_topic='wide', value_format='JSON', partitions=1);",
        columns.join(", ")
    );
    let (status, body) = ksql(&server, &create).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut request = String::from(
        "CREATE STREAM NEVER (V STRING) WITH (kafka_topic='never', value_format='JSON', partitions=1);",
    );
    request.push_str(&"DESCRIBE EXTENDED WIDE;".repeat(STATEMENTS_PER_REQUEST_MAX - 1));
    assert!(request.len() < 64 * 1024, "a small request");
    let (status, body) = ksql(&server, &request).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        &body.to_string()[..200]
    );
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("larger than {KSQL_RESPONSE_BYTES_MAX} bytes")),
        "{message}"
    );
    // Validated first: the CREATE before the offending statements did not run.
    let (status, body) = ksql(&server, "SHOW STREAMS;").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body[0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["WIDE"]);
    // Fewer descriptions are answered.
    let (status, body) = ksql(&server, &"DESCRIBE EXTENDED WIDE;".repeat(10)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(10));
    server.stop().await;
}

/// Streams that share one topic cost no partition, so only the catalog's own limit stops a
/// loop of `CREATE STREAM`: the one past it is refused by name of the limit, and dropping a
/// source makes room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_holds_at_most_its_limit_of_sources() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Never).await;
    let create = |n: usize| {
        format!("CREATE STREAM S{n} (V STRING) WITH (kafka_topic='shared', value_format='JSON', partitions=1);")
    };
    let mut made = 0;
    while made < SOURCES_MAX {
        let batch = (SOURCES_MAX - made).min(STATEMENTS_PER_REQUEST_MAX);
        let sql: String = (made..made + batch).map(create).collect();
        let (status, body) = ksql(&server, &sql).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "at {made}: {}",
            &body.to_string()[..200]
        );
        made += batch;
    }
    let (status, body) = ksql(&server, &create(made)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["@type"], "statement_error", "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains(&format!(
            "Cannot add more streams and tables: this node already has {SOURCES_MAX}"
        )),
        "{message}"
    );
    let (status, body) = ksql(&server, &format!("DROP STREAM S0; {}", create(made))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;
}
