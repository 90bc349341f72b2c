//! The node-wide limits are configurable (issue 9, finding 3): `sluice serve` flags lower
//! them, and each refusal names the limit it reached in ksqlDB's error shape.

mod support;

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value as Json;
use support::child::ChildServer;
use support::{Client, LineReader, Proto};

type Running = http::Response<hyper::body::Incoming>;

/// Starts a push query on `client`: its open response (dropping it ends the query), or the
/// refusal's status and error body.
async fn push(client: &mut Client, stream: &str) -> Result<Running, (StatusCode, Json)> {
    let (mut body, response) = client.open("POST", "/query-stream", None).await;
    let sql = format!(r#"{{"sql":"SELECT * FROM {stream} EMIT CHANGES;"}}"#);
    body.send_data(Bytes::from(sql)).await.expect("send");
    drop(body);
    let response = response.await.expect("join").expect("response");
    let status = response.status();
    if status == StatusCode::OK {
        return Ok(response);
    }
    let text = LineReader::new(response.into_body()).rest().await;
    Err((status, support::json(text.as_bytes())))
}

fn message(body: &Json) -> &str {
    body["message"].as_str().expect("an error message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_flags_lower_the_node_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start_with(
        dir.path(),
        &[
            "--sources-max",
            "4",
            "--persistent-queries-max",
            "1",
            "--partitions-max",
            "5",
            "--push-queries-max",
            "2",
            "--push-queries-per-connection-max",
            "1",
        ],
    );
    let mut admin = Client::connect(server.addr, Proto::H1).await;
    let create = |name: &str, partitions: u32| {
        format!("CREATE STREAM {name} (V STRING) WITH (kafka_topic='{name}', value_format='JSON', partitions={partitions});")
    };

    // Partitions: 3 of 5 used, a 3-partition topic would pass the node's limit.
    let (status, body) = admin.ksql(&create("A", 3)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.ksql(&create("B", 3)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("limit is 5"), "{body}");
    let (status, body) = admin.ksql(&create("B", 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Persistent queries: one runs; the second is refused. C (B's one partition, the
    // node's fifth) is the third source.
    let (status, body) = admin.ksql("CREATE STREAM C AS SELECT * FROM B;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .ksql("CREATE STREAM D WITH (kafka_topic='B', partitions=1) AS SELECT * FROM A;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("Cannot add more persistent queries: this node already has 1"),
        "{body}"
    );

    // Sources: A, B, C and E fill the catalog of 4.
    let share_a = |name: &str| {
        format!("CREATE STREAM {name} (V STRING) WITH (kafka_topic='A', value_format='JSON');")
    };
    let (status, body) = admin.ksql(&share_a("E")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.ksql(&share_a("F")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("Cannot add more streams and tables: this node already has 4"),
        "{body}"
    );

    // Push queries: one per connection, two per node.
    let mut first = Client::connect(server.addr, Proto::H2).await;
    let mut running = vec![push(&mut first, "A").await.expect("first push query runs")];
    let (status, body) = push(&mut first, "A")
        .await
        .expect_err("a second on one connection");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).contains("already runs 1 push queries, its limit"),
        "{body}"
    );
    let mut second = Client::connect(server.addr, Proto::H2).await;
    running.push(
        push(&mut second, "B")
            .await
            .expect("second push query runs"),
    );
    let mut third = Client::connect(server.addr, Proto::H2).await;
    let (status, body) = push(&mut third, "B")
        .await
        .expect_err("a third on the node");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).contains("Maximum number of push queries exceeded"),
        "{body}"
    );
    drop(running);
    server.kill();
}
