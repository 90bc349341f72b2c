//! `POST /inserts-stream` over real HTTP/2 and HTTP/1.1: acks in order, full duplex,
//! exact bytes of acks and errors.

mod support;

use bytes::Bytes;
use http::StatusCode;
use support::{response, LineReader, TestServer};

const CREATE: &str = "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=4);";

async fn read_all_rows(server: &TestServer, limit: u64) -> Vec<serde_json::Value> {
    let sql = format!("SELECT * FROM s EMIT CHANGES LIMIT {limit};");
    // Up to 10k rows of backlog: batched frames, as a Rust client reading a large backlog
    // wants them (README, "sluice.query.result.frames"); a frame per row can trip h2's
    // flood guard when this reader falls behind.
    let properties =
        serde_json::json!({"auto.offset.reset": "earliest", "sluice.query.result.frames": "batch"});
    let body = serde_json::json!({"sql": sql, "properties": properties}).to_string();
    let (status, bytes) = server.h2().await.post("/query-stream", &body).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_is_full_duplex_and_acks_in_order() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let (mut tx, resp) = client.open("POST", "/inserts-stream", None).await;
    tx.send_data(Bytes::from_static(b"{\"target\":\"s\"}\n"))
        .await
        .expect("send");
    // Headers arrive before any row is sent.
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut acks = LineReader::new(resp.into_body());
    for i in 0..5 {
        let row = format!("{{\"K\":\"k{i}\",\"V\":{i}}}\n");
        tx.send_data(Bytes::from(row)).await.expect("send row");
        // Each ack arrives while the request is still open.
        let ack = acks.next_line().await.expect("ack");
        assert_eq!(ack, format!("{{\"status\":\"ok\",\"seq\":{i}}}"));
    }
    drop(tx);
    assert_eq!(
        acks.next_line().await,
        None,
        "response ends after the body ends"
    );
    let rows = read_all_rows(&server, 5).await;
    let mut got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().expect("k").to_string(),
                r[1].as_i64().expect("v"),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, i64)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
    assert_eq!(got, want);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_chunked_acks_and_alias_path() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    for path in ["/inserts-stream", "/insert-stream"] {
        let body = "{\"target\":\"S\"}\n{\"k\":\"a\",\"v\":1}\n{\"K\":\"b\",\"V\":2}\n";
        let (status, bytes) = server
            .h1()
            .await
            .request("POST", path, None, body.as_bytes())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf8"),
            "{\"status\":\"ok\",\"seq\":0}\n{\"status\":\"ok\",\"seq\":1}\n"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_array_acks() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let body = b"{\"target\":\"s\"}\n{\"K\":\"a\",\"V\":1}\n{\"K\":\"b\",\"V\":2}\n";
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", Some("application/json"), body)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        &bytes[..],
        b"[{\"status\":\"ok\",\"seq\":0},{\"status\":\"ok\",\"seq\":1}]"
    );
    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/inserts-stream",
            Some("application/json"),
            b"{\"target\":\"s\"}\n",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], b"[]");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_target_is_400_before_streaming() {
    let server = TestServer::start().await;
    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/inserts-stream",
            None,
            b"{\"target\":\"nope\"}\n{\"A\":1}\n",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        std::str::from_utf8(&bytes).expect("utf8"),
        "{\"@type\":\"generic_error\",\"error_code\":40001,\"message\":\"Cannot insert values into an unknown stream/table: NOPE\"}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_error_ends_the_response() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let body =
        b"{\"target\":\"s\"}\n{\"K\":\"a\",\"V\":1}\n{\"K\":\"b\",\"V\":\n{\"K\":\"c\",\"V\":3}\n";
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "{\"status\":\"ok\",\"seq\":0}");
    assert_eq!(
        lines[1],
        "{\"@type\":\"InsertError\",\"status\":\"error\",\"seq\":1,\"error_code\":40000,\"message\":\"Invalid JSON in inserts stream\"}"
    );
    // The row after the error was not inserted.
    let rows = read_all_rows(&server, 1).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "a");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_ack_in_seq_order() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let (mut tx, resp) = client.open("POST", "/inserts-stream", None).await;
    let writer = tokio::spawn(async move {
        tx.send_data(Bytes::from_static(b"{\"target\":\"s\"}\n"))
            .await
            .expect("send");
        let mut chunk = String::new();
        for i in 0..10_000 {
            chunk.push_str(&format!("{{\"K\":\"key{}\",\"V\":{i}}}\n", i % 97));
            // Cut rows across DATA frames at odd places.
            if chunk.len() > 1000 {
                let cut = chunk.len() - 7;
                let rest = chunk.split_off(cut);
                tx.send_data(Bytes::from(std::mem::replace(&mut chunk, rest)))
                    .await
                    .expect("send");
            }
        }
        tx.send_data(Bytes::from(chunk)).await.expect("send");
    });
    let resp = response(resp).await;
    let mut acks = LineReader::new(resp.into_body());
    for i in 0..10_000u64 {
        let ack = acks.next_line().await.expect("ack");
        assert_eq!(ack, format!("{{\"status\":\"ok\",\"seq\":{i}}}"));
    }
    writer.await.expect("writer");
    assert_eq!(acks.next_line().await, None);
    // Same key → same partition, in order.
    let rows = read_all_rows(&server, 10_000).await;
    assert_eq!(rows.len(), 10_000);
    let mut last: std::collections::HashMap<String, i64> = Default::default();
    for r in &rows {
        let (k, v) = (
            r[0].as_str().expect("k").to_string(),
            r[1].as_i64().expect("v"),
        );
        let prev = last.insert(k.clone(), v);
        assert!(prev.is_none_or(|p| p < v), "key {k}: {v} after {prev:?}");
    }
    server.stop().await;
}

/// Issue 9, finding 9: `"x\udc00y"` used to be acked and read back as `""`. A `\u` escape of
/// half a surrogate pair is no Unicode text: refused as invalid JSON, as `/ksql` refuses it;
/// a whole pair is a character like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_surrogate_escapes_are_invalid_json() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM u (v STRING) WITH (kafka_topic='u', value_format='JSON', partitions=1);",
        )
        .await;
    for lone in [
        r#"{"V":"x\udc00y"}"#,
        r#"{"V":"x\ud800"}"#,
        r#"{"V":"\ud800\u0041"}"#,
    ] {
        let body = format!("{{\"target\":\"u\"}}\n{{\"V\":\"before\"}}\n{lone}\n");
        let (status, bytes) = server
            .h2()
            .await
            .request("POST", "/inserts-stream", None, body.as_bytes())
            .await;
        assert_eq!(status, StatusCode::OK);
        let text = std::str::from_utf8(&bytes).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"status\":\"ok\",\"seq\":0}");
        assert_eq!(
            lines[1],
            "{\"@type\":\"InsertError\",\"status\":\"error\",\"seq\":1,\"error_code\":40000,\"message\":\"Invalid JSON in inserts stream\"}",
            "{lone}"
        );
    }
    let body = "{\"target\":\"u\"}\n{\"V\":\"smile \\ud83d\\ude00\"}\n";
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        std::str::from_utf8(&bytes).expect("utf8").trim_end(),
        "{\"status\":\"ok\",\"seq\":0}"
    );
    let sql = "SELECT V FROM u EMIT CHANGES LIMIT 4;";
    let query = serde_json::json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}})
        .to_string();
    let (status, bytes) = server.h2().await.post("/query-stream", &query).await;
    assert_eq!(status, StatusCode::OK);
    let rows: Vec<serde_json::Value> = std::str::from_utf8(&bytes)
        .expect("utf8")
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    let values: Vec<&str> = rows.iter().map(|r| r[0].as_str().expect("V")).collect();
    assert_eq!(values, ["before", "before", "before", "smile \u{1f600}"]);
    server.stop().await;
}
