//! `GET /info`, `/healthcheck`, `/status` over both HTTP versions.

mod support;

use http::StatusCode;
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_healthcheck_status() {
    let server = TestServer::start().await;
    for mut c in [server.h1().await, server.h2().await] {
        let (status, body) = c.request("GET", "/info", None, b"").await;
        assert_eq!(status, StatusCode::OK);
        let info = support::json(&body);
        assert_eq!(info["KsqlServerInfo"]["serverStatus"], "RUNNING");
        assert!(info["KsqlServerInfo"]["version"].is_string());

        let (status, body) = c.request("GET", "/healthcheck", None, b"").await;
        assert_eq!(status, StatusCode::OK);
        let health = support::json(&body);
        assert_eq!(health["isHealthy"], true);
        assert_eq!(health["serverState"], "READY");

        let (status, _) = c.request("GET", "/nope", None, b"").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    server
        .ksql_ok(
            "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        )
        .await;
    let (status, body) = server.h2().await.request("GET", "/status", None, b"").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        support::json(&body),
        serde_json::json!({"commandStatuses": {"stream/`S`/create": "SUCCESS"}})
    );
    server.stop().await;
}

/// `GET /status/{type}/{entity}/{action}` answers one command's status as ksqlDB's
/// `StatusResource` does, with the entity's backticks percent-encoded or not needed, and
/// ksqlDB's 404 for a command that never ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_command_status_by_its_id() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);\
             CREATE STREAM t AS SELECT * FROM s EMIT CHANGES;",
        )
        .await;
    for mut c in [server.h1().await, server.h2().await] {
        let (status, body) = c
            .request("GET", "/status/stream/%60S%60/create", None, b"")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            support::json(&body),
            serde_json::json!({"status": "SUCCESS", "message": "Stream created", "queryId": null})
        );
        let (status, body) = c
            .request("GET", "/status/stream/%60T%60/create", None, b"")
            .await;
        assert_eq!(status, StatusCode::OK);
        let body = support::json(&body);
        assert_eq!(body["status"], "SUCCESS");
        let query_id = body["queryId"].as_str().expect("the CSAS's query id");
        assert!(query_id.starts_with("CSAS_T_"), "{query_id}");
        assert_eq!(body["message"], format!("Created query with ID {query_id}"));

        let (status, body) = c
            .request("GET", "/status/stream/%60NOPE%60/create", None, b"")
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let body = support::json(&body);
        assert_eq!(body["@type"], "generic_error");
        assert_eq!(body["error_code"], 40400);
        assert_eq!(body["message"], "Command not found");
    }
    server.stop().await;
}
