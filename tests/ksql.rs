//! `POST /ksql` against a real server: entities and errors exactly as ksqlDB shapes them.

mod support;

use http::StatusCode;
use serde_json::json;
use support::TestServer;

const CREATE: &str = "CREATE STREAM pageviews (userid STRING KEY, pageid STRING, viewtime BIGINT) WITH (kafka_topic='pageviews', value_format='JSON', partitions=2);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_stream_returns_current_status() {
    let server = TestServer::start().await;
    let body = server.ksql_ok(CREATE).await;
    assert_eq!(
        body,
        json!([{
            "@type": "currentStatus",
            "statementText": CREATE,
            "commandId": "stream/`PAGEVIEWS`/create",
            "commandStatus": {"status": "SUCCESS", "message": "Stream created", "queryId": null},
            "commandSequenceNumber": 0,
            "warnings": []
        }])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_stream_is_a_statement_error() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let (status, body) = server.h1().await.ksql(CREATE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "@type": "statement_error",
            "error_code": 40001,
            "message": "Cannot add stream 'PAGEVIEWS': A stream with the same name already exists",
            "statementText": CREATE,
            "entities": []
        })
    );
    // IF NOT EXISTS is not an error.
    server
        .ksql_ok("CREATE STREAM IF NOT EXISTS pageviews (userid STRING KEY, pageid STRING) WITH (kafka_topic='pageviews', value_format='JSON');")
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_describe_drop() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let body = server.ksql_ok("SHOW STREAMS;").await;
    assert_eq!(
        body,
        json!([{
            "@type": "streams",
            "statementText": "SHOW STREAMS;",
            "streams": [{"type": "STREAM", "name": "PAGEVIEWS", "topic": "pageviews",
                         "keyFormat": "KAFKA", "valueFormat": "JSON", "isWindowed": false}],
            "warnings": []
        }])
    );
    let listed = server.ksql_ok("LIST STREAMS;").await;
    assert_eq!(listed[0]["streams"], body[0]["streams"]);

    let topics = server.ksql_ok("SHOW TOPICS;").await;
    assert_eq!(topics[0]["@type"], "kafka_topics");
    assert_eq!(
        topics[0]["topics"],
        json!([{"name": "pageviews", "replicaInfo": [1, 1]}])
    );

    let described = server.ksql_ok("DESCRIBE pageviews;").await;
    let d = &described[0]["sourceDescription"];
    assert_eq!(described[0]["@type"], "sourceDescription");
    assert_eq!(d["name"], "PAGEVIEWS");
    assert_eq!(d["type"], "STREAM");
    assert_eq!(d["topic"], "pageviews");
    assert_eq!(
        d["fields"],
        json!([
            {"name": "USERID", "schema": {"type": "STRING", "fields": null, "memberSchema": null}, "type": "KEY"},
            {"name": "PAGEID", "schema": {"type": "STRING", "fields": null, "memberSchema": null}},
            {"name": "VIEWTIME", "schema": {"type": "BIGINT", "fields": null, "memberSchema": null}}
        ])
    );
    assert_eq!(d["partitions"], 0, "plain DESCRIBE leaves partitions unset");
    let extended = server.ksql_ok("DESCRIBE EXTENDED pageviews;").await;
    assert_eq!(extended[0]["sourceDescription"]["partitions"], 2);
    assert_eq!(extended[0]["sourceDescription"]["extended"], true);

    let dropped = server.ksql_ok("DROP STREAM pageviews DELETE TOPIC;").await;
    assert_eq!(dropped[0]["commandId"], "stream/PAGEVIEWS/drop");
    assert_eq!(
        dropped[0]["commandStatus"]["message"],
        "Source `PAGEVIEWS` (topic: pageviews) was dropped."
    );
    let after = server.ksql_ok("SHOW STREAMS; SHOW TOPICS;").await;
    assert_eq!(after[0]["streams"], json!([]));
    assert_eq!(after[1]["topics"], json!([]));

    let (status, body) = server.h2().await.ksql("DROP STREAM pageviews;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "Source PAGEVIEWS does not exist.");
    let gone = server.ksql_ok("DROP STREAM IF EXISTS pageviews;").await;
    assert_eq!(
        gone[0]["commandStatus"]["message"],
        "Source PAGEVIEWS does not exist."
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_column_types_round_trip_through_describe() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM t (k INT KEY, b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(4,2), s STRING, bt BYTES, \
             ts TIMESTAMP, dt DATE, tm TIME, a ARRAY<STRING>, mp MAP<STRING, INT>, st STRUCT<f1 ARRAY<STRING>, f2 INT>) \
             WITH (kafka_topic='t', value_format='JSON', partitions=1);",
        )
        .await;
    let described = server.ksql_ok("DESCRIBE t;").await;
    let fields = described[0]["sourceDescription"]["fields"]
        .as_array()
        .expect("fields")
        .clone();
    let types: Vec<&str> = fields
        .iter()
        .map(|f| f["schema"]["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "INTEGER",
            "BOOLEAN",
            "INTEGER",
            "BIGINT",
            "DOUBLE",
            "DECIMAL",
            "STRING",
            "BYTES",
            "TIMESTAMP",
            "DATE",
            "TIME",
            "ARRAY",
            "MAP",
            "STRUCT"
        ]
    );
    assert_eq!(
        fields[5]["schema"]["parameters"],
        json!({"precision": 4, "scale": 2})
    );
    assert_eq!(fields[11]["schema"]["memberSchema"]["type"], "STRING");
    assert_eq!(fields[13]["schema"]["fields"][0]["name"], "F1");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_is_validated_before_anything_runs() {
    let server = TestServer::start().await;
    let sql = "CREATE STREAM a (v INT) WITH (kafka_topic='a', value_format='JSON', partitions=1); CREATE STREAM b (v INT) WITH (kafka_topic='missing', value_format='JSON');";
    let (status, body) = server.h2().await.ksql(sql).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["entities"], json!([]));
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .starts_with("Topic 'missing' does not exist."),
        "{body}"
    );
    let streams = server.ksql_ok("SHOW STREAMS;").await;
    assert_eq!(
        streams[0]["streams"],
        json!([]),
        "the first statement must not have run"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_statements_and_insert_values() {
    let server = TestServer::start().await;
    let body = server
        .ksql_ok("CREATE STREAM s (id INT KEY, v STRING) WITH (kafka_topic='s', value_format='JSON', partitions=1); INSERT INTO s (id, v) VALUES (1, 'one'); INSERT INTO s VALUES (2, 'two');")
        .await;
    assert_eq!(
        body.as_array().expect("array").len(),
        1,
        "INSERT VALUES yields no entity: {body}"
    );
    let only_insert = server
        .ksql_ok("INSERT INTO s (id, v) VALUES (3, 'three');")
        .await;
    assert_eq!(only_insert, json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_ksqldb_shapes() {
    let server = TestServer::start().await;
    let mut c = server.h2().await;
    let (status, body) = c.ksql("SELECT * FROM x EMIT CHANGES;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], 40002);

    let (status, body) = c.ksql("SLECTT * FROM x;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .starts_with("line 1:1: "),
        "{body}"
    );

    let (status, bytes) = c.post("/ksql", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = support::json(&bytes);
    assert_eq!(body["@type"], "generic_error");
    assert_eq!(body["error_code"], 40000);
    assert!(body["message"]
        .as_str()
        .expect("message")
        .starts_with("Invalid JSON in request: "));

    let (status, bytes) = c.post("/ksql", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&bytes)["error_code"], 40000);

    let (status, body) = c
        .ksql("CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='AVRO', partitions=1);")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], 40001);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_survives_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start_in(dir.path(), sluice_engine::FsyncPolicy::Always).await;
    server.ksql_ok(CREATE).await;
    server
        .ksql_ok("CREATE STREAM gone (v INT) WITH (kafka_topic='gone', value_format='JSON', partitions=1); DROP STREAM gone DELETE TOPIC;")
        .await;
    server.stop().await;
    let server = TestServer::start_in(dir.path(), sluice_engine::FsyncPolicy::Always).await;
    let body = server.ksql_ok("SHOW STREAMS; SHOW TOPICS;").await;
    let names: Vec<&str> = body[0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["PAGEVIEWS"]);
    assert_eq!(
        body[1]["topics"],
        json!([{"name": "pageviews", "replicaInfo": [1, 1]}])
    );
    server.stop().await;
}

/// INSERT VALUES as ksqlDB's RQTT `insert-values` cases expect: values without a column
/// list follow the key-first logical schema, a bare NULL fits any column, and errors
/// carry ksqlDB's messages with the values masked in `statementText`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_values_order_nulls_and_masked_errors() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM t (id INT, k STRING KEY) WITH (kafka_topic='t', value_format='JSON', partitions=1); \
             INSERT INTO t VALUES ('key', 10); INSERT INTO t (k, id) VALUES (NULL, NULL);",
        )
        .await;
    let mut c = server.h2().await;
    let body = json!({"sql": "SELECT * FROM t;"}).to_string();
    let (status, bytes) = c.post("/query-stream", &body).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows, ["[\"key\",10]", "[null,null]"], "{text}");

    for (sql, message, statement_text) in [
        (
            "INSERT INTO t (k, id, ROWOFFSET) VALUES ('a', 1, 5);",
            "Inserting into column `ROWOFFSET` is not allowed.",
            "INSERT INTO `T` (`K`, `ID`, `ROWOFFSET`) VALUES ('[value]', '[value]', '[value]');",
        ),
        (
            "INSERT INTO t (k, id) VALUES ('a');",
            "Failed to prepare statement: Expected number columns and values to match: 2, 1",
            "INSERT INTO `T` (`K`, `ID`) VALUES ('[value]');",
        ),
        (
            "INSERT INTO t (k, id) VALUES (FOO.bar, 1);",
            "Failed to prepare statement: 'FOO' is not a valid stream/table name or alias.",
            "INSERT INTO `T` (`K`, `ID`) VALUES ('[value]', '[value]');",
        ),
    ] {
        let (status, body) = c.ksql(sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["@type"], "statement_error", "{body}");
        assert_eq!(body["message"], message, "{body}");
        assert_eq!(body["statementText"], statement_text, "{body}");
    }
    server.stop().await;
}

/// `RETENTION_MS` reaches the topic a statement creates (its `topic.meta` in the data
/// directory), a table's topic is compacted (retention deletes none of its rows), and a
/// value that is no retention is a statement error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_ms_becomes_the_new_topics_retention() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_in(dir.path(), sluice_engine::FsyncPolicy::Always).await;
    server
        .ksql_ok(
            "CREATE STREAM clicks (id BIGINT KEY, page STRING) WITH (kafka_topic='clicks', \
             value_format='JSON', partitions=1, retention_ms=3600000); \
             CREATE STREAM forever (id BIGINT) WITH (kafka_topic='forever', value_format='JSON', \
             partitions=1, RETENTION_MS=-1); \
             CREATE TABLE pages (id BIGINT PRIMARY KEY, title STRING) WITH (kafka_topic='pages', \
             value_format='JSON', partitions=1, retention_ms=1000); \
             CREATE STREAM home WITH (RETENTION_MS=60000) AS SELECT * FROM clicks \
             WHERE page = 'home' EMIT CHANGES;",
        )
        .await;
    let meta = |topic: &str| {
        std::fs::read_to_string(dir.path().join("topics").join(topic).join("topic.meta"))
            .expect("topic.meta")
    };
    assert_eq!(meta("clicks"), "partitions=1\nretention.ms=3600000\n");
    assert_eq!(meta("forever"), "partitions=1\n");
    assert_eq!(
        meta("pages"),
        "partitions=1\nretention.ms=1000\ncleanup.policy=compact\n"
    );
    assert_eq!(meta("HOME"), "partitions=1\nretention.ms=60000\n");
    for bad in ["0", "-5", "'week'"] {
        let sql = format!(
            "CREATE STREAM bad (id BIGINT) WITH (kafka_topic='bad', value_format='JSON', \
             partitions=1, retention_ms={bad});"
        );
        let (status, body) = server.h2().await.ksql(&sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["@type"], "statement_error", "{body}");
        assert_eq!(body["error_code"], 40001, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("RETENTION_MS")),
            "{body}"
        );
    }
    server.stop().await;
}
