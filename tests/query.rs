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
