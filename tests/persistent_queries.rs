//! Persistent queries (CSAS, INSERT INTO … SELECT) against a real server: results land in
//! the sink, PARTITION BY re-keys, TERMINATE stops output, SHOW QUERIES/EXPLAIN/DESCRIBE
//! report them, and a restart resumes with no duplicated or lost output.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_engine::FsyncPolicy;
use support::{TestServer, WAIT};

const EARLIEST: &str = r#"{"ksql.streams.auto.offset.reset":"earliest"}"#;

async fn ksql_with(server: &TestServer, sql: &str, props: &str) -> (StatusCode, Json) {
    let body = format!("{{\"ksql\":{},\"streamsProperties\":{props}}}", json!(sql));
    let (status, bytes) = server.h2().await.post("/ksql", &body).await;
    (status, support::json(&bytes))
}

/// Runs a CSAS/INSERT INTO with earliest offsets and returns the new query id.
async fn create_query(server: &TestServer, sql: &str) -> String {
    let (status, body) = ksql_with(server, sql, EARLIEST).await;
    assert_eq!(status, StatusCode::OK, "{sql}: {body}");
    let entity = &body[0];
    assert_eq!(entity["@type"], "currentStatus", "{body}");
    let id = entity["commandStatus"]["queryId"]
        .as_str()
        .expect("queryId")
        .to_string();
    assert_eq!(
        entity["commandStatus"]["message"],
        format!("Created query with ID {id}")
    );
    id
}

async fn insert(server: &TestServer, target: &str, rows: &[Json]) {
    let mut body = json!({"target": target}).to_string();
    for r in rows {
        body.push('\n');
        body.push_str(&r.to_string());
    }
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(!text.contains("error"), "{text}");
}

async fn progress(server: &TestServer, id: &str) -> (StatusCode, Json) {
    let (status, bytes) = server
        .h2()
        .await
        .request("GET", &format!("/queries/{id}/progress"), None, b"")
        .await;
    (status, support::json(&bytes))
}

async fn wait_caught_up(server: &TestServer, id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = progress(server, id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["caughtUp"] == true {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not caught up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A pull query over a stream: every row there now.
async fn pull(server: &TestServer, sql: &str) -> Vec<Json> {
    let (status, bytes) = server
        .h2()
        .await
        .post("/query-stream", &json!({"sql": sql}).to_string())
        .await;
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a row"))
        .collect()
}

fn sorted(mut rows: Vec<Json>) -> Vec<Json> {
    rows.sort_by_key(|r| r.to_string());
    rows
}

#[tokio::test]
async fn csas_filters_projects_and_starts_from_earliest() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM orders (id INT KEY, item STRING, qty INT) WITH (kafka_topic='orders', value_format='JSON', partitions=2);")
        .await;
    insert(
        &server,
        "orders",
        &[
            json!({"ID": 1, "ITEM": "apple", "QTY": 5}),
            json!({"ID": 2, "ITEM": "pear", "QTY": 0}),
        ],
    )
    .await;
    let id = create_query(
        &server,
        "CREATE STREAM big AS SELECT id, UCASE(item) AS item, qty * 10 AS total FROM orders WHERE qty > 0 EMIT CHANGES;",
    )
    .await;
    assert!(id.starts_with("CSAS_BIG_"), "{id}");
    insert(
        &server,
        "orders",
        &[
            json!({"ID": 3, "ITEM": "fig", "QTY": 2}),
            json!({"ID": 4, "ITEM": "kiwi", "QTY": -1}),
        ],
    )
    .await;
    wait_caught_up(&server, &id).await;
    let rows = pull(&server, "SELECT ID, ITEM, TOTAL FROM big;").await;
    assert_eq!(
        sorted(rows),
        vec![json!([1, "APPLE", 50]), json!([3, "FIG", 20])]
    );
    // The sink: ID is its key, in the source's topic shape.
    let body = server.ksql_ok("DESCRIBE big;").await;
    let d = &body[0]["sourceDescription"];
    assert_eq!(
        d["fields"][0],
        json!({"name": "ID", "schema": {"type": "INTEGER", "fields": null, "memberSchema": null}, "type": "KEY"})
    );
    assert_eq!(d["topic"], "BIG");
    assert_eq!(d["writeQueries"][0]["id"], id.as_str());
    let body = server.ksql_ok("DESCRIBE orders;").await;
    assert_eq!(
        body[0]["sourceDescription"]["readQueries"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        server
            .engine
            .describe_topic("BIG")
            .expect("sink topic")
            .partitions
            .len(),
        2
    );
    server.stop().await;
}

#[tokio::test]
async fn key_column_must_be_projected_and_insert_schema_must_match() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM a (id INT KEY, v STRING) WITH (kafka_topic='a', value_format='JSON', partitions=1);")
        .await;
    let (status, body) = server
        .h2()
        .await
        .ksql("CREATE STREAM b AS SELECT v FROM a;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().expect("message");
    assert!(
        message.starts_with("Key missing from projection"),
        "{message}"
    );
    server
        .ksql_ok("CREATE STREAM other (id INT KEY, w INT) WITH (kafka_topic='other', value_format='JSON', partitions=1);")
        .await;
    let (status, body) = server
        .h2()
        .await
        .ksql("INSERT INTO a SELECT * FROM other;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "Incompatible schema between results and sink.\nResult schema is `ID` INTEGER KEY, `W` INTEGER\nSink schema is `ID` INTEGER KEY, `V` STRING"
    );
    server.stop().await;
}

#[tokio::test]
async fn partition_by_rekeys_and_same_keys_share_a_partition() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM clicks (page STRING, user STRING) WITH (kafka_topic='clicks', value_format='JSON', partitions=3);")
        .await;
    let id = create_query(
        &server,
        "CREATE STREAM by_user WITH (PARTITIONS=4) AS SELECT user, page FROM clicks PARTITION BY user;",
    )
    .await;
    let mut rows = Vec::new();
    for i in 0..60 {
        rows.push(json!({"PAGE": format!("p{i}"), "USER": format!("u{}", i % 7)}));
    }
    insert(&server, "clicks", &rows).await;
    wait_caught_up(&server, &id).await;
    // A push query reads ROWPARTITION (pull queries may not, as in ksqlDB); the LIMIT ends it.
    let (status, bytes) = server
        .h2()
        .await
        .post(
            "/query-stream",
            &json!({
                "sql": "SELECT USER, ROWPARTITION, PAGE FROM by_user EMIT CHANGES LIMIT 60;",
                "properties": {"auto.offset.reset": "earliest"}
            })
            .to_string(),
        )
        .await;
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let out: Vec<Json> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a row"))
        .collect();
    assert_eq!(out.len(), 60);
    let mut partition_of: BTreeMap<String, i64> = BTreeMap::new();
    for r in &out {
        let user = r[0].as_str().expect("user").to_string();
        let p = r[1].as_i64().expect("partition");
        assert_eq!(*partition_of.entry(user).or_insert(p), p, "{r}");
    }
    assert_eq!(partition_of.len(), 7);
    let body = server.ksql_ok("DESCRIBE by_user;").await;
    let fields = &body[0]["sourceDescription"]["fields"];
    assert_eq!(fields[0]["name"], "USER");
    assert_eq!(fields[0]["type"], "KEY");
    assert_eq!(fields[1]["name"], "PAGE");
    assert_eq!(body[0]["sourceDescription"]["keyFormat"], "KAFKA");

    // PARTITION BY NULL: keyless; the old key moves into the value.
    server
        .ksql_ok("CREATE STREAM keyed (id INT KEY, name STRING) WITH (kafka_topic='keyed', value_format='JSON', partitions=1);")
        .await;
    let id = create_query(
        &server,
        "CREATE STREAM unkeyed AS SELECT id, name FROM keyed PARTITION BY NULL;",
    )
    .await;
    insert(&server, "keyed", &[json!({"ID": 10, "NAME": "bob"})]).await;
    wait_caught_up(&server, &id).await;
    assert_eq!(
        pull(&server, "SELECT * FROM unkeyed;").await,
        vec![json!([10, "bob"])]
    );
    let body = server.ksql_ok("DESCRIBE unkeyed;").await;
    let d = &body[0]["sourceDescription"];
    assert_eq!(d["keyFormat"], "NONE");
    assert!(d["fields"][0].get("type").is_none(), "{d}");
    server.stop().await;
}

#[tokio::test]
async fn insert_into_merges_two_sources() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM left_s (id INT KEY, v STRING) WITH (kafka_topic='left_s', value_format='JSON', partitions=2);")
        .await;
    server
        .ksql_ok("CREATE STREAM right_s (id INT KEY, v STRING) WITH (kafka_topic='right_s', value_format='JSON', partitions=2);")
        .await;
    let first = create_query(&server, "CREATE STREAM merged AS SELECT * FROM left_s;").await;
    let (status, body) = ksql_with(
        &server,
        "INSERT INTO merged SELECT * FROM right_s;",
        EARLIEST,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["commandId"], "stream/MERGED/create");
    let second = body[0]["commandStatus"]["queryId"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(second.starts_with("INSERTQUERY_"), "{second}");
    insert(
        &server,
        "left_s",
        &[json!({"ID": 1, "V": "l1"}), json!({"ID": 2, "V": "l2"})],
    )
    .await;
    insert(&server, "right_s", &[json!({"ID": 3, "V": "r1"})]).await;
    wait_caught_up(&server, &first).await;
    wait_caught_up(&server, &second).await;
    assert_eq!(
        sorted(pull(&server, "SELECT * FROM merged;").await),
        vec![json!([1, "l1"]), json!([2, "l2"]), json!([3, "r1"])]
    );
    server.stop().await;
}

#[tokio::test]
async fn show_explain_terminate_and_drop() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM src (id INT KEY, v INT) WITH (kafka_topic='src', value_format='JSON', partitions=1);")
        .await;
    let id = create_query(&server, "CREATE STREAM dst AS SELECT id, v FROM src;").await;

    let body = server.ksql_ok("SHOW QUERIES;").await;
    let q = &body[0]["queries"][0];
    assert_eq!(q["id"], id.as_str());
    assert_eq!(q["queryType"], "PERSISTENT");
    assert_eq!(q["sinks"], json!(["DST"]));
    assert_eq!(q["sinkKafkaTopics"], json!(["DST"]));
    assert_eq!(q["state"], "RUNNING");
    assert_eq!(
        q["queryString"],
        "CREATE STREAM dst AS SELECT id, v FROM src;"
    );

    let body = server.ksql_ok(&format!("EXPLAIN {id};")).await;
    let d = &body[0];
    assert_eq!(d["@type"], "queryDescription");
    assert_eq!(d["queryDescription"]["id"], id.as_str());
    assert_eq!(d["queryDescription"]["sources"], json!(["SRC"]));
    assert_eq!(d["queryDescription"]["sinks"], json!(["DST"]));
    assert_eq!(d["queryDescription"]["queryType"], "PERSISTENT");
    assert_eq!(d["queryDescription"]["fields"][1]["name"], "V");

    let (status, body) = server.h2().await.ksql("DROP STREAM src;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        format!("Cannot drop SRC.\nThe following queries read from this source: [{id}].\nThe following queries write into this source: [].\nYou need to terminate them before dropping SRC.")
    );

    insert(&server, "src", &[json!({"ID": 1, "V": 1})]).await;
    wait_caught_up(&server, &id).await;
    let body = server.ksql_ok(&format!("TERMINATE {id};")).await;
    assert_eq!(body[0]["commandId"], format!("terminate/{id}/execute"));
    assert_eq!(body[0]["commandStatus"]["message"], "Query terminated.");
    insert(&server, "src", &[json!({"ID": 2, "V": 2})]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        pull(&server, "SELECT * FROM dst;").await,
        vec![json!([1, 1])]
    );
    let (status, _) = progress(&server, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = server.ksql_ok("SHOW QUERIES;").await;
    assert_eq!(body[0]["queries"], json!([]));
    server.ksql_ok("DROP STREAM dst; DROP STREAM src;").await;
    server.stop().await;
}

#[tokio::test]
async fn set_auto_offset_reset_applies_to_later_statements() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM s1 (id INT KEY, v INT) WITH (kafka_topic='s1', value_format='JSON', partitions=1);")
        .await;
    insert(&server, "s1", &[json!({"ID": 1, "V": 1})]).await;
    // Default is latest: the row already there is not read.
    let body = server
        .ksql_ok("CREATE STREAM latest_s AS SELECT * FROM s1;")
        .await;
    let latest = body[0]["commandStatus"]["queryId"]
        .as_str()
        .expect("id")
        .to_string();
    let body = server
        .ksql_ok(
            "SET 'auto.offset.reset'='earliest'; CREATE STREAM earliest_s AS SELECT * FROM s1;",
        )
        .await;
    let earliest = body[0]["commandStatus"]["queryId"]
        .as_str()
        .expect("id")
        .to_string();
    insert(&server, "s1", &[json!({"ID": 2, "V": 2})]).await;
    wait_caught_up(&server, &latest).await;
    wait_caught_up(&server, &earliest).await;
    assert_eq!(
        pull(&server, "SELECT * FROM latest_s;").await,
        vec![json!([2, 2])]
    );
    assert_eq!(
        pull(&server, "SELECT * FROM earliest_s;").await,
        vec![json!([1, 1]), json!([2, 2])]
    );
    server.stop().await;
}

#[tokio::test]
async fn restart_resumes_without_duplicates_or_loss() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    server
        .ksql_ok("CREATE STREAM src (id INT KEY, v INT) WITH (kafka_topic='src', value_format='JSON', partitions=3);")
        .await;
    let id = create_query(&server, "CREATE STREAM dst AS SELECT id, v FROM src;").await;
    let rows = |range: std::ops::Range<i32>| -> Vec<Json> {
        range.map(|i| json!({"ID": i, "V": i})).collect()
    };
    insert(&server, "src", &rows(0..100)).await;
    wait_caught_up(&server, &id).await;
    server.stop().await;

    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    insert(&server, "src", &rows(100..250)).await;
    wait_caught_up(&server, &id).await;
    let body = server.ksql_ok("SHOW QUERIES;").await;
    assert_eq!(body[0]["queries"][0]["id"], id.as_str());
    let mut got: Vec<i64> = pull(&server, "SELECT V FROM dst;")
        .await
        .iter()
        .map(|r| r[0].as_i64().expect("v"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..250).collect::<Vec<i64>>());
    // New query ids stay unique after the restart.
    let next = create_query(&server, "CREATE STREAM dst2 AS SELECT id, v FROM src;").await;
    assert_ne!(next, id);
    server.stop().await;
}

/// A query whose sink is one of its sources would read every row it writes, without end
/// (issue 9, finding 6): refused up front, by name or through a shared topic, and nothing
/// is left registered.
#[tokio::test]
async fn queries_that_would_feed_themselves_are_refused() {
    let server = TestServer::start().await;
    let (status, body) = ksql_with(
        &server,
        "CREATE STREAM L1 (ID INT KEY, V STRING) WITH (kafka_topic='l1', value_format='JSON', partitions=1);\
         CREATE STREAM L1_TWIN (ID INT KEY, V STRING) WITH (kafka_topic='l1', value_format='JSON', partitions=1);",
        EARLIEST,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = [
        (
            "INSERT INTO L1 SELECT * FROM L1 EMIT CHANGES;",
            "Cannot insert into L1 from itself",
        ),
        (
            "INSERT INTO L1_TWIN SELECT * FROM L1 EMIT CHANGES;",
            "it is the topic of the query's source L1",
        ),
        (
            "CREATE STREAM LOOPED WITH (kafka_topic='l1') AS SELECT * FROM L1 EMIT CHANGES;",
            "it is the topic of the query's source L1",
        ),
    ];
    for (sql, says) in refused {
        let (status, body) = ksql_with(&server, sql, EARLIEST).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
        assert_eq!(body["@type"], "statement_error", "{sql}: {body}");
        assert_eq!(body["error_code"], 40001, "{sql}: {body}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains(says), "{sql}: {message}");
    }
    let (_, queries) = ksql_with(&server, "SHOW QUERIES;", "{}").await;
    assert_eq!(queries[0]["queries"], json!([]), "{queries}");
    let (_, streams) = ksql_with(&server, "SHOW STREAMS;", "{}").await;
    let names: Vec<&str> = streams[0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert!(!names.contains(&"LOOPED"), "{names:?}");
    // A query that writes elsewhere is still fine.
    create_query(
        &server,
        "CREATE STREAM L2 AS SELECT * FROM L1 EMIT CHANGES;",
    )
    .await;
}

#[tokio::test]
async fn terminating_a_query_over_a_quoted_sink_name_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    server
        .ksql_ok("CREATE STREAM src (id INT KEY, v INT) WITH (kafka_topic='src', value_format='JSON', partitions=1);")
        .await;
    let id = create_query(
        &server,
        "CREATE STREAM `odd-sink` AS SELECT id, v FROM src;",
    )
    .await;
    // The id holds the sink's '-': not a plain identifier.
    assert!(id.contains("odd-sink"), "{id}");
    server
        .ksql_ok(&format!(
            "TERMINATE `{id}`; DROP STREAM `odd-sink` DELETE TOPIC;"
        ))
        .await;
    server.stop().await;

    // The catalog journal replays: every command it holds parses again.
    let server = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
    let body = server.ksql_ok("SHOW QUERIES;").await;
    assert_eq!(body[0]["queries"], json!([]));
    let body = server.ksql_ok("SHOW STREAMS;").await;
    let names: Vec<&str> = body[0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["SRC"]);
    server.stop().await;
}
