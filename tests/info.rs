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
