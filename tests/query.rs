//! The old `POST /query` endpoint: the StreamedRow array over HTTP/1.1 for push (LIMIT)
//! and pull queries, `streamsProperties` offsets, 405 over HTTP/2, the delimited Accept
//! handled as `/query-stream`, and errors before the header.

mod support;

use http::StatusCode;
use serde_json::json;
use support::{Client, TestServer};

async fn seeded() -> TestServer {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1); \
             INSERT INTO s (k, v) VALUES ('a', 1); INSERT INTO s (k, v) VALUES ('b', 2); \
             INSERT INTO s (k, v) VALUES ('c', 3);",
        )
        .await;
    server
}

async fn query(
    client: &mut Client,
    accept: Option<&str>,
    sql: &str,
    props: serde_json::Value,
) -> (StatusCode, String, String) {
    let body = json!({"ksql": sql, "streamsProperties": props}).to_string();
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
    let (status, h, bytes) = client
        .send("POST", "/query", &headers, body.as_bytes())
        .await;
    let content_type = h
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("utf8"),
    )
}

/// The query id from the header element (push ids are random).
fn query_id(text: &str) -> String {
    let first = text.lines().next().expect("header line");
    let header: serde_json::Value =
        serde_json::from_str(first.trim_start_matches('[').trim_end_matches(',')).expect("json");
    header["header"]["queryId"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test]
async fn push_with_limit_ends_with_limit_reached() {
    let server = seeded().await;
    for props in [
        json!({"ksql.streams.auto.offset.reset": "earliest"}),
        json!({"auto.offset.reset": "earliest"}),
    ] {
        let (status, content_type, text) = query(
            &mut server.h1().await,
            None,
            "SELECT * FROM s EMIT CHANGES LIMIT 2;",
            props,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(content_type, "application/vnd.ksql.v1+json");
        let id = query_id(&text);
        assert!(id.starts_with("transient_S_"), "{id}");
        assert_eq!(
            text,
            format!(
                "[{{\"header\":{{\"queryId\":\"{id}\",\"schema\":\"`K` STRING, `V` INTEGER\"}}}},\n\
                 {{\"row\":{{\"columns\":[\"a\",1]}}}},\n\
                 {{\"row\":{{\"columns\":[\"b\",2]}}}},\n\
                 {{\"finalMessage\":\"Limit Reached\"}}]"
            )
        );
    }
}

#[tokio::test]
async fn pull_ends_with_query_completed() {
    let server = seeded().await;
    let (status, content_type, text) = query(
        &mut server.h1().await,
        Some("application/json"),
        "SELECT v FROM s WHERE v > 1;",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(content_type, "application/json");
    let id = query_id(&text);
    assert!(id.starts_with("query_"), "{id}");
    assert_eq!(
        text,
        format!(
            "[{{\"header\":{{\"queryId\":\"{id}\",\"schema\":\"`V` INTEGER\"}}}},\n\
             {{\"row\":{{\"columns\":[2]}}}},\n\
             {{\"row\":{{\"columns\":[3]}}}},\n\
             {{\"finalMessage\":\"Query Completed\"}}]"
        )
    );
}

#[tokio::test]
async fn http2_gets_405_unless_delimited() {
    let server = seeded().await;
    let mut h2 = server.h2().await;
    for accept in [
        None,
        Some("application/vnd.ksql.v1+json"),
        Some("application/json"),
    ] {
        let (status, _, text) = query(&mut h2, accept, "SELECT * FROM s;", json!({})).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            text,
            r#"{"@type":"generic_error","error_code":40500,"message":"The /query endpoint is not available using HTTP2"}"#
        );
    }
    // The delimited type is served as /query-stream would, on either protocol.
    let (status, content_type, text) = query(
        &mut h2,
        Some("application/vnd.ksqlapi.delimited.v1"),
        "SELECT * FROM s;",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/vnd.ksqlapi.delimited.v1");
    let mut lines = text.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("header")).expect("json");
    assert_eq!(header["columnNames"], json!(["K", "V"]));
    assert_eq!(
        lines.collect::<Vec<_>>(),
        vec![r#"["a",1]"#, r#"["b",2]"#, r#"["c",3]"#]
    );
    assert!(text.ends_with('\n'));
    let (status, _, _) = query(&mut h2, Some("text/html"), "SELECT * FROM s;", json!({})).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn errors_before_the_header_are_ksqldb_bodies() {
    let server = seeded().await;
    let mut h1 = server.h1().await;
    let (status, _, text) = query(&mut h1, None, "SELECT * FROM nope;", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert_eq!(body["statementText"], "SELECT * FROM nope;");
    let (status, _, body) = h1.send("POST", "/query", &[], b"{\"sql\":1}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(std::str::from_utf8(&body)
        .expect("utf8")
        .contains("\"error_code\":40000"),);
    let (status, _, text) = query(
        &mut h1,
        None,
        "SELECT * FROM s EMIT CHANGES;",
        json!({"auto.offset.reset": "sideways"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}

/// `LIMIT 0` ends a pull query before its first row, with "Limit Reached" (RQTT
/// `pull-queries-with-limit-clause - on stream`).
#[tokio::test]
async fn pull_with_limit_zero_sends_no_rows() {
    let server = seeded().await;
    let (status, _, text) = query(
        &mut server.h1().await,
        None,
        "SELECT * FROM s LIMIT 0;",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let id = query_id(&text);
    assert_eq!(
        text,
        format!(
            "[{{\"header\":{{\"queryId\":\"{id}\",\"schema\":\"`K` STRING, `V` INTEGER\"}}}},\n\
             {{\"finalMessage\":\"Limit Reached\"}}]"
        )
    );
}

/// Pull-query checks ksqlDB makes before running: no ROWPARTITION/ROWOFFSET, LIMIT an
/// integer (non-negative), and LIMIT only while `ksql.query.pull.limit.clause.enabled`.
#[tokio::test]
async fn pull_query_rejections_use_ksqldb_messages() {
    let server = seeded().await;
    for (sql, props, message) in [
        (
            "SELECT k, ROWPARTITION FROM s;",
            json!({}),
            "Pull queries don't support the following columns in SELECT clauses: `ROWPARTITION`",
        ),
        (
            "SELECT * FROM s WHERE ROWOFFSET > 1;",
            json!({}),
            "Pull queries don't support the following columns in WHERE clauses: `ROWOFFSET`",
        ),
        (
            "SELECT * FROM s LIMIT -1;",
            json!({}),
            "Pull queries don't support negative integers in the LIMIT clause. See https://cnfl.io/queries for more info.",
        ),
        (
            "SELECT * FROM s LIMIT 2.5;",
            json!({}),
            "Failed to prepare statement: Value must be integer for command: LIMIT",
        ),
        (
            "SELECT * FROM s LIMIT 1;",
            json!({"ksql.query.pull.limit.clause.enabled": false}),
            "LIMIT clause in pull queries is currently disabled. You can enable them by setting \
             ksql.query.pull.limit.clause.enabled=true. See https://cnfl.io/queries for more \
             info.\nAdd EMIT CHANGES if you intended to issue a push query.",
        ),
    ] {
        let (status, _, text) = query(&mut server.h1().await, None, sql, props).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).expect("error body");
        assert_eq!(body["message"], message, "{sql}");
    }
    // Push queries may still read the pseudo columns.
    let (status, _, text) = query(
        &mut server.h1().await,
        None,
        "SELECT k, ROWPARTITION FROM s EMIT CHANGES LIMIT 1;",
        json!({"auto.offset.reset": "earliest"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

/// With `ksql.query.push.v2.enabled` and `latest`, a simple push query over a CSAS sink is
/// a scalable push query (ksqlDB's `ScalablePushUtil`): its id is
/// `SCALABLE_PUSH_QUERY_<uuid>`. Any other push query keeps its `transient_` id.
#[tokio::test]
async fn push_v2_gives_scalable_push_query_ids() {
    let server = seeded().await;
    server
        .ksql_ok("CREATE STREAM sink AS SELECT * FROM s;")
        .await;
    let v2_latest = json!({"ksql.query.push.v2.enabled": true, "auto.offset.reset": "latest"});
    for (sql, props, prefix) in [
        (
            "SELECT * FROM sink EMIT CHANGES LIMIT 0;",
            v2_latest.clone(),
            "SCALABLE_PUSH_QUERY_",
        ),
        (
            "SELECT * FROM s EMIT CHANGES LIMIT 0;",
            v2_latest.clone(),
            "transient_S_",
        ),
        (
            "SELECT ROWOFFSET FROM sink EMIT CHANGES LIMIT 0;",
            v2_latest.clone(),
            "transient_SINK_",
        ),
        (
            "SELECT * FROM sink EMIT CHANGES LIMIT 0;",
            json!({"ksql.query.push.v2.enabled": true, "auto.offset.reset": "earliest"}),
            "transient_SINK_",
        ),
        (
            "SELECT * FROM sink EMIT CHANGES LIMIT 0;",
            json!({"auto.offset.reset": "latest"}),
            "transient_SINK_",
        ),
    ] {
        let (status, _, text) = query(&mut server.h1().await, None, sql, props.clone()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let id = query_id(&text);
        assert!(id.starts_with(prefix), "{sql} {props}: {id}");
        assert!(
            text.ends_with("{\"finalMessage\":\"Limit Reached\"}]"),
            "{text}"
        );
    }
}
