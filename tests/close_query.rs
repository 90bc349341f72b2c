//! `POST /close-query`: ends a push query from another connection; unknown ids are 400.

mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::{response, LineReader, TestServer, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_from_another_connection() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        )
        .await;
    for accept in [None, Some("application/vnd.ksql.v1+json")] {
        let mut client = server.h2().await;
        let (mut tx, resp) = client.open("POST", "/query-stream", accept).await;
        tx.send_data(
            json!({"sql": "SELECT * FROM s EMIT CHANGES;"})
                .to_string()
                .into(),
        )
        .await
        .expect("send");
        drop(tx);
        let resp = response(resp).await;
        let mut lines = LineReader::new(resp.into_body());
        let header = lines.next_line().await.expect("header");
        let header = header.trim_start_matches('[').trim_end_matches(',');
        let header: serde_json::Value = serde_json::from_str(header).expect("json");
        let id = header["queryId"]
            .as_str()
            .or_else(|| header["header"]["queryId"].as_str())
            .expect("id")
            .to_string();

        let (status, body) = server
            .h1()
            .await
            .post("/close-query", &json!({"queryId": id}).to_string())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());
        let rest = tokio::time::timeout(WAIT, lines.rest())
            .await
            .expect("ends");
        match accept {
            None => assert_eq!(rest, ""),
            Some(_) => assert_eq!(rest, "{\"finalMessage\":\"Query Completed\"}]"),
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        while server.engine.push_query_count() != 0 {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Closing again: the query is gone.
        let (status, body) = server
            .h2()
            .await
            .post("/close-query", &json!({"queryId": id}).to_string())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            std::str::from_utf8(&body).expect("utf8"),
            format!("{{\"@type\":\"generic_error\",\"error_code\":40000,\"message\":\"No query with id {id}\"}}")
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_a_push_query_over_ksql() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        )
        .await;
    let mut client = server.h2().await;
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    tx.send_data(
        json!({"sql": "SELECT * FROM s EMIT CHANGES;"})
            .to_string()
            .into(),
    )
    .await
    .expect("send");
    drop(tx);
    let mut lines = LineReader::new(response(resp).await.into_body());
    let header: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.expect("header")).expect("json");
    let id = header["queryId"].as_str().expect("id");
    let body = server.ksql_ok(&format!("TERMINATE {id};")).await;
    assert_eq!(body[0]["@type"], "terminate_query");
    assert_eq!(body[0]["queryId"], id);
    assert_eq!(body[0]["wasTerminated"], true);
    assert_eq!(lines.rest().await, "");
    let (status, bytes) = server.h2().await.post("/close-query", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&bytes)["error_code"], 40000);
    server.stop().await;
}
