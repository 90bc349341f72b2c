//! One client cannot take every push-query slot of the node (issue 9, finding 10): a
//! connection runs at most `PUSH_QUERIES_PER_CONNECTION_MAX` push queries, the one past it
//! gets ksqlDB's push-query-limit error, a closed query gives its slot back, and other
//! connections are unaffected.

mod support;

use bytes::Bytes;
use http::StatusCode;
use sluice_server::push_quota::PUSH_QUERIES_PER_CONNECTION_MAX;
use support::{Client, TestServer};

const PUSH: &str = r#"{"sql":"SELECT * FROM S EMIT CHANGES;"}"#;

/// Starts a push query on `client` and returns its response once the head arrived.
async fn start_push(client: &mut Client) -> http::Response<hyper::body::Incoming> {
    let (mut body, response) = client.open("POST", "/query-stream", None).await;
    body.send_data(Bytes::from_static(PUSH.as_bytes()))
        .await
        .expect("send");
    drop(body);
    response.await.expect("join").expect("response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_runs_at_most_its_share_of_push_queries() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM S (V STRING) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        )
        .await;
    let mut hog = server.h2().await;
    let mut running = Vec::with_capacity(PUSH_QUERIES_PER_CONNECTION_MAX);
    for i in 0..PUSH_QUERIES_PER_CONNECTION_MAX {
        let response = start_push(&mut hog).await;
        assert_eq!(response.status(), StatusCode::OK, "push query {i}");
        running.push(response);
    }
    let refused = start_push(&mut hog).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body = support::json(
        &support::LineReader::new(refused.into_body())
            .rest()
            .await
            .into_bytes(),
    );
    assert_eq!(body["@type"], "generic_error", "{body}");
    assert_eq!(body["error_code"], 40003, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("push queries, its limit"), "{message}");

    // Another connection is not held back by this one.
    let mut other = server.h2().await;
    assert_eq!(start_push(&mut other).await.status(), StatusCode::OK);

    // Ending one of the hog's queries (the client resets its stream) frees its slot.
    drop(running.pop());
    let mut freed = false;
    for _ in 0..100 {
        let response = start_push(&mut hog).await;
        if response.status() == StatusCode::OK {
            freed = true;
            running.push(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(freed, "a closed push query gave its slot back");
    drop(running);
    server.stop().await;
}
