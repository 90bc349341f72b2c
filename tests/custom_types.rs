//! CREATE TYPE, DROP TYPE and SHOW TYPES over `/ksql`, as ksqlDB's type registry answers
//! them: a custom type is usable by the statements after it (in the same request too),
//! sources keep the resolved type, and the registry survives a restart.

mod support;

use http::StatusCode;
use serde_json::Value as Json;
use sluice_engine::FsyncPolicy;
use support::TestServer;

async fn ksql(server: &TestServer, sql: &str) -> (StatusCode, Json) {
    server.h1().await.ksql(sql).await
}

fn message(body: &Json) -> &str {
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_types_are_registered_used_listed_dropped_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;

    let (status, body) = ksql(
        &server,
        "CREATE TYPE ADDRESS AS STRUCT<number INTEGER, street VARCHAR>;",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[0]["commandStatus"]["message"],
        "Registered custom type with name 'ADDRESS' and SQL type STRUCT<`NUMBER` INTEGER, `STREET` STRING>",
        "{body}"
    );

    // A type created earlier in the same request is usable by the statements after it.
    let (status, body) = ksql(
        &server,
        "CREATE TYPE PERSON AS STRUCT<name VARCHAR, address ADDRESS>; \
         CREATE STREAM P (K STRING KEY, WHO PERSON) WITH (kafka_topic='p', value_format='JSON', partitions=1);",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ksql(&server, "DESCRIBE P;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let who = &body[0]["sourceDescription"]["fields"][1];
    assert_eq!(who["name"], "WHO", "{body}");
    assert_eq!(who["schema"]["type"], "STRUCT", "{body}");
    assert_eq!(who["schema"]["fields"][1]["name"], "ADDRESS", "{body}");
    assert_eq!(
        who["schema"]["fields"][1]["schema"]["fields"][0]["name"], "NUMBER",
        "{body}"
    );

    let (status, body) = ksql(&server, "SHOW TYPES;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["@type"], "type_list", "{body}");
    let types = body[0]["types"].as_object().expect("types by name");
    assert_eq!(types.len(), 2, "{body}");
    assert_eq!(types["ADDRESS"]["type"], "STRUCT", "{body}");
    assert_eq!(
        types["ADDRESS"]["fields"][0]["schema"]["type"], "INTEGER",
        "{body}"
    );

    // Registering a name twice is refused, unless IF NOT EXISTS.
    let (status, body) = ksql(&server, "CREATE TYPE ADDRESS AS STRING;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        message(&body),
        "Cannot register custom type 'ADDRESS' since it is already registered with type: STRUCT<`NUMBER` INTEGER, `STREET` STRING>"
    );
    let (status, body) = ksql(&server, "CREATE TYPE IF NOT EXISTS ADDRESS AS STRING;").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A name that is neither built in nor registered.
    let (status, body) = ksql(
        &server,
        "CREATE STREAM Q (V NOSUCHTYPE) WITH (kafka_topic='q', value_format='JSON', partitions=1);",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("Unknown type: NOSUCHTYPE"),
        "{body}"
    );

    // DROP TYPE: sources that used it keep their resolved type.
    let (status, body) = ksql(&server, "DROP TYPE ADDRESS;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[0]["commandStatus"]["message"],
        "Dropped type 'ADDRESS'"
    );
    let (status, body) = ksql(&server, "DROP TYPE ADDRESS;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(message(&body), "Type ADDRESS does not exist.");
    let (status, body) = ksql(&server, "DROP TYPE IF EXISTS ADDRESS;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;

    // After a restart the registry and the source are as they were.
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    let (_, body) = ksql(&server, "SHOW TYPES;").await;
    let names: Vec<&String> = body[0]["types"]
        .as_object()
        .expect("types")
        .keys()
        .collect();
    assert_eq!(names, ["PERSON"], "{body}");
    let (status, body) = ksql(&server, "DESCRIBE P;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[0]["sourceDescription"]["fields"][1]["schema"]["fields"][1]["schema"]["type"],
        "STRUCT",
        "{body}"
    );
    let (status, body) = ksql(
        &server,
        "CREATE STREAM R (K STRING KEY, WHO PERSON) WITH (kafka_topic='p', value_format='JSON');",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;
}
