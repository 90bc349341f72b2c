//! A run of bad inputs, each answered in the endpoint's own error shape, while a producer
//! and a push query on the same server carry on unaffected.

mod support;

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;
use support::{response, LineReader, TestServer};

const CREATE: &str = "CREATE STREAM good (k STRING KEY, v INT) WITH (kafka_topic='good', value_format='JSON', partitions=2);";
const GOOD_ROWS: u64 = 2_000;

/// Sends an inserts-stream body and returns the ack lines.
async fn insert_lines(server: &TestServer, body: &[u8]) -> (StatusCode, Vec<String>) {
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body)
        .await;
    let text = String::from_utf8_lossy(&bytes).to_string();
    (status, text.lines().map(str::to_string).collect())
}

fn error_ack(line: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(line).expect("ack is JSON");
    assert_eq!(v["status"], "error", "{line}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_errors_and_harm_no_one() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;

    // A well-behaved push query and producer run throughout.
    let mut qc = server.h2().await;
    let (mut qtx, qresp) = qc.open("POST", "/query-stream", None).await;
    qtx.send_data(json!({"sql": "SELECT v FROM good EMIT CHANGES;", "properties": {"auto.offset.reset": "earliest"}}).to_string().into())
        .await
        .expect("send");
    drop(qtx);
    let mut query = LineReader::new(response(qresp).await.into_body());
    query.next_line().await.expect("header");

    let mut pc = server.h2().await;
    let (mut ptx, presp) = pc.open("POST", "/inserts-stream", None).await;
    let producer = tokio::spawn(async move {
        ptx.send_data(Bytes::from_static(b"{\"target\":\"good\"}\n"))
            .await
            .expect("send");
        for i in 0..GOOD_ROWS {
            ptx.send_data(Bytes::from(format!(
                "{{\"K\":\"k{}\",\"V\":{i}}}\n",
                i % 10
            )))
            .await
            .expect("send");
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    let mut acks = LineReader::new(response(presp).await.into_body());

    // --- /inserts-stream ---
    let (status, lines) = insert_lines(&server, b"{\"target\":\"good\"}\n[1,2]\n").await;
    assert_eq!(status, StatusCode::OK, "{lines:?}");
    let e = error_ack(&lines[0]);
    assert_eq!(
        (e["seq"].as_u64(), e["error_code"].as_u64()),
        (Some(0), Some(40000))
    );

    let (_, lines) = insert_lines(
        &server,
        b"{\"target\":\"good\"}\n{\"K\":\"a\",\"V\":\"not a number\"}\n",
    )
    .await;
    let e = error_ack(&lines[0]);
    assert_eq!(
        e["message"],
        "Can't coerce a field of type class java.lang.String (not a number) into type INTEGER"
    );

    let (_, lines) = insert_lines(&server, b"{\"target\":\"good\"}\n{\"V\":1}\n").await;
    assert_eq!(
        error_ack(&lines[0])["message"],
        "Key field must be specified: K"
    );

    let (_, lines) = insert_lines(
        &server,
        b"{\"target\":\"good\"}\n{\"K\":\"a\",\"V\":1}\n{\"K\":\"\xff\xfe\",\"V\":1}\n",
    )
    .await;
    assert_eq!(lines[0], "{\"status\":\"ok\",\"seq\":0}");
    let e = error_ack(&lines[1]);
    assert_eq!(
        (e["seq"].as_u64(), e["error_code"].as_u64()),
        (Some(1), Some(40000))
    );

    let mut huge = b"{\"target\":\"good\"}\n{\"K\":\"a\",\"V\":1,\"PAD\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    huge.extend_from_slice(b"\"}\n");
    let (status, lines) = insert_lines(&server, &huge).await;
    assert_eq!(status, StatusCode::OK);
    let e = error_ack(&lines[0]);
    assert_eq!(e["message"], "Row exceeds the limit of 1048576 bytes");

    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, b"")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&bytes)["error_code"], 40000);

    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, b"not json\n")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(support::json(&bytes)["message"]
        .as_str()
        .expect("m")
        .starts_with("Invalid JSON in request: "));

    // A client that disconnects mid-row (raw HTTP/1.1 bytes, then the socket closes):
    // the partial row is never stored.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        let head = "POST /inserts-stream HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n";
        let row = "{\"target\":\"good\"}\n{\"K\":\"partial\",\"V\":99999";
        let req = format!("{head}{:x}\r\n{row}\r\n", row.len());
        sock.write_all(req.as_bytes()).await.expect("write");
        let mut buf = [0u8; 64];
        let n = sock.read(&mut buf).await.expect("read status");
        assert!(std::str::from_utf8(&buf[..n])
            .expect("utf8")
            .starts_with("HTTP/1.1 200 OK"));
        drop(sock);
    }

    // --- /ksql ---
    let mut c = server.h2().await;
    let (status, body) = c.ksql(CREATE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["@type"], "statement_error");
    let (status, body) = c.ksql("CREATE STREAM x (a INT) WITH (kafka_topic='x', value_format='JSON', partitions=1) garbage;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().expect("m").starts_with("line 1:"),
        "{body}"
    );
    let big = format!("{{\"ksql\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, bytes) = c.post("/ksql", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(support::json(&bytes)["error_code"], 41300);
    let (status, _) = c.request("POST", "/ksql", None, b"\xff\xfe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // --- /query-stream ---
    let (status, bytes) = c
        .post(
            "/query-stream",
            &json!({"sql": "SELECT nope FROM good EMIT CHANGES;"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&bytes)["error_code"], 40001);
    let (status, _) = c.post("/query-stream", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The producer and the query were not harmed: every row acked in order and seen.
    producer.await.expect("producer");
    for i in 0..GOOD_ROWS {
        assert_eq!(
            acks.next_line().await.expect("ack"),
            format!("{{\"status\":\"ok\",\"seq\":{i}}}")
        );
    }
    assert_eq!(acks.next_line().await, None);
    // GOOD_ROWS from the producer plus the one valid row sent before the invalid UTF-8 row.
    let mut seen = Vec::new();
    for _ in 0..=GOOD_ROWS {
        let line = query.next_line().await.expect("row");
        let v: i64 = line
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .expect("int");
        seen.push(v);
    }
    seen.sort_unstable();
    let mut want: Vec<i64> = (0..GOOD_ROWS as i64).collect();
    want.push(1);
    want.sort_unstable();
    assert_eq!(
        seen, want,
        "the half-sent row must never appear; every good row must"
    );
    server.stop().await;
}
