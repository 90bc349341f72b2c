//! Joins over real HTTP: stream-table enrichment (LEFT JOIN keeps misses), table-table
//! (a delete becomes a tombstone, pull queries read the joined table), stream-stream
//! `WITHIN`, ksqlDB's errors for joins it refuses, and a stream-stream join killed with
//! SIGKILL mid-flight that neither loses nor repeats a result after restart.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use http::StatusCode;
use serde_json::{json, Value};
use support::child::{crash_rounds, CrashScenario};
use support::{Client, Proto, TestServer};

async fn wait_caught_up(addr: SocketAddr) {
    support::wait_all_caught_up(addr, 0).await;
}

/// Every row a query over a stream returns (it reads to the current end).
async fn rows(addr: SocketAddr, sql: &str) -> Vec<Value> {
    let (status, bytes) = Client::connect(addr, Proto::H2)
        .await
        .post("/query-stream", &json!({ "sql": sql }).to_string())
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a whole row"))
        .collect()
}

/// Runs `statements` one by one, letting the queries catch up after each: inputs to
/// different topics are then processed in the order given.
async fn run_in_order(server: &TestServer, statements: &[&str]) {
    for sql in statements {
        server.ksql_ok(sql).await;
        wait_caught_up(server.addr).await;
    }
}

#[tokio::test]
async fn stream_table_left_join_enriches_and_keeps_misses() {
    let server = TestServer::start().await;
    run_in_order(
        &server,
        &[
            "CREATE STREAM orders (id BIGINT KEY, item STRING, qty INT) WITH (kafka_topic='orders', value_format='JSON', partitions=1);",
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name STRING) WITH (kafka_topic='users', value_format='JSON', partitions=1);",
            "CREATE STREAM enriched AS SELECT o.id, item, qty, name FROM orders o LEFT JOIN users u ON o.id = u.id;",
            "INSERT INTO users (id, name) VALUES (1, 'ann');",
            "INSERT INTO orders (id, item, qty) VALUES (1, 'pen', 2);",
            "INSERT INTO orders (id, item, qty) VALUES (2, 'cup', 1);",
            "INSERT INTO users (id, name) VALUES (1, 'anne');",
            "INSERT INTO orders (id, item, qty) VALUES (1, 'ink', 5);",
        ],
    )
    .await;
    let (status, body) = server.h1().await.ksql("DESCRIBE enriched;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: Vec<(String, String)> = body[0]["sourceDescription"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_string(),
                f["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = fields.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["O_ID", "ITEM", "QTY", "NAME"], "{body}");
    let got = rows(server.addr, "SELECT * FROM enriched;").await;
    assert_eq!(
        got,
        vec![
            json!([1, "pen", 2, "ann"]),
            json!([2, "cup", 1, null]),
            json!([1, "ink", 5, "anne"]),
        ],
        "each order once, with the user as it was when the order came"
    );
}

#[tokio::test]
async fn table_table_join_updates_deletes_and_is_queryable() {
    let server = TestServer::start().await;
    run_in_order(
        &server,
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, x STRING) WITH (kafka_topic='a', value_format='JSON', partitions=1);",
            "CREATE TABLE b (id INT PRIMARY KEY, y STRING) WITH (kafka_topic='b', value_format='JSON', partitions=1);",
            "CREATE TABLE ab AS SELECT a.id, x, y FROM a JOIN b ON a.id = b.id;",
            "CREATE STREAM ab_log (id INT KEY, x STRING, y STRING) WITH (kafka_topic='AB', value_format='JSON');",
            "INSERT INTO a (id, x) VALUES (1, 'a1');",
            "INSERT INTO b (id, y) VALUES (1, 'b1');",
            "INSERT INTO b (id, y) VALUES (2, 'b2');",
            "INSERT INTO a (id, x) VALUES (2, 'a2');",
            "INSERT INTO a (id, x) VALUES (1, 'a1v2');",
        ],
    )
    .await;
    let got = rows(server.addr, "SELECT * FROM ab_log;").await;
    assert_eq!(
        got,
        vec![
            json!([1, "a1", "b1"]),
            json!([2, "a2", "b2"]),
            json!([1, "a1v2", "b1"]),
        ],
        "an inner join emits once both sides have the key, then on every change"
    );
    // The joined table is materialized: a pull query reads its current rows.
    let (status, bytes) = server
        .h1()
        .await
        .post(
            "/query",
            &json!({"ksql": "SELECT * FROM ab WHERE A_ID = 1;"}).to_string(),
        )
        .await;
    let body = support::json(&bytes);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[1]["row"]["columns"],
        json!([1, "a1v2", "b1"]),
        "{body}"
    );
}

#[tokio::test]
async fn stream_stream_join_matches_within_the_window() {
    let server = TestServer::start().await;
    run_in_order(
        &server,
        &[
            "CREATE STREAM l (k STRING KEY, v INT) WITH (kafka_topic='l', value_format='JSON', partitions=1);",
            "CREATE STREAM r (k STRING KEY, w INT) WITH (kafka_topic='r', value_format='JSON', partitions=1);",
            "CREATE STREAM lr AS SELECT l.k, v, w FROM l LEFT JOIN r WITHIN 10 SECONDS ON l.k = r.k;",
            "INSERT INTO l (k, v, ROWTIME) VALUES ('a', 1, 1000);",
            "INSERT INTO r (k, w, ROWTIME) VALUES ('a', 10, 5000);",
            "INSERT INTO r (k, w, ROWTIME) VALUES ('a', 11, 60000);",
            "INSERT INTO l (k, v, ROWTIME) VALUES ('b', 2, 61000);",
        ],
    )
    .await;
    let got = rows(server.addr, "SELECT * FROM lr;").await;
    assert_eq!(
        got,
        vec![
            json!(["a", 1, null]),
            json!(["a", 1, 10]),
            json!(["b", 2, null]),
        ],
        "without a grace period a LEFT join emits a miss at once; 'a'@60000 is out of the window"
    );
}

#[tokio::test]
async fn aggregation_over_a_stream_table_join_is_a_queryable_table() {
    let server = TestServer::start().await;
    run_in_order(
        &server,
        &[
            "CREATE STREAM orders (id BIGINT KEY, user_id INT, qty INT) WITH (kafka_topic='orders', value_format='JSON', partitions=2);",
            "CREATE TABLE users (id INT PRIMARY KEY, region STRING) WITH (kafka_topic='users', value_format='JSON', partitions=1);",
            // Joined on a value column (the stream is re-keyed), filtered after the join,
            // then grouped by a column of the table side.
            "CREATE TABLE per_region AS SELECT u.region, COUNT(*) AS n, SUM(qty) AS total FROM orders o JOIN users u ON o.user_id = u.id WHERE qty > 0 GROUP BY u.region;",
            "INSERT INTO users (id, region) VALUES (1, 'eu');",
            "INSERT INTO users (id, region) VALUES (2, 'us');",
            "INSERT INTO orders (id, user_id, qty) VALUES (10, 1, 2);",
            "INSERT INTO orders (id, user_id, qty) VALUES (11, 2, 5);",
            "INSERT INTO orders (id, user_id, qty) VALUES (12, 1, 3);",
            "INSERT INTO orders (id, user_id, qty) VALUES (13, 1, 0);",
            "INSERT INTO orders (id, user_id, qty) VALUES (14, 3, 9);",
        ],
    )
    .await;
    let mut c = server.h1().await;
    for (region, want) in [("eu", json!(["eu", 2, 5])), ("us", json!(["us", 1, 5]))] {
        let sql = format!("SELECT * FROM per_region WHERE region = '{region}';");
        let (status, bytes) = c.post("/query", &json!({ "ksql": sql }).to_string()).await;
        let body = support::json(&bytes);
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body[1]["row"]["columns"], want, "{sql}: {body}");
    }
    // The same aggregation as a push query, from the earliest rows, in memory.
    let (status, bytes) = Client::connect(server.addr, Proto::H2)
        .await
        .post(
            "/query-stream",
            &json!({
                "sql": "SELECT u.region, COUNT(*) AS n FROM orders o JOIN users u ON o.user_id = u.id WHERE qty > 0 GROUP BY u.region EMIT CHANGES LIMIT 3;",
                "properties": {"auto.offset.reset": "earliest"}
            })
            .to_string(),
        )
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let row: Value = serde_json::from_str(line).expect("a whole row");
        last.insert(
            row[0].as_str().expect("region").into(),
            row[1].as_i64().expect("n"),
        );
    }
    assert_eq!(
        last,
        BTreeMap::from([("eu".to_string(), 2), ("us".to_string(), 1)]),
        "{text}"
    );
    let (status, body) = c
        .ksql("CREATE STREAM bad AS SELECT u.region, COUNT(*) FROM orders o JOIN users u ON o.user_id = u.id GROUP BY u.region;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Your SELECT query produces a TABLE"),
        "{body}"
    );
}

#[tokio::test]
async fn partition_by_over_a_stream_stream_join_rekeys_the_result() {
    let server = TestServer::start().await;
    run_in_order(
        &server,
        &[
            "CREATE STREAM l (k STRING KEY, b STRING) WITH (kafka_topic='l', value_format='JSON', partitions=1);",
            "CREATE STREAM r (k STRING KEY, d STRING) WITH (kafka_topic='r', value_format='JSON', partitions=1);",
            "CREATE STREAM lr AS SELECT l.b, l.k, r.k FROM l JOIN r WITHIN 10 SECONDS ON l.k = r.k PARTITION BY l.b;",
            "INSERT INTO l (k, b, ROWTIME) VALUES ('a', 'x', 1000);",
            "INSERT INTO r (k, d, ROWTIME) VALUES ('a', 'y', 2000);",
        ],
    )
    .await;
    let (status, body) = server.h1().await.ksql("DESCRIBE lr;").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: Vec<(String, String)> = body[0]["sourceDescription"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap_or_default().to_string();
            let kind = f["type"].as_str().unwrap_or("VALUE").to_string();
            (name, kind)
        })
        .collect();
    assert_eq!(
        fields,
        [("B", "KEY"), ("L_K", "VALUE"), ("R_K", "VALUE")]
            .map(|(n, k)| (n.to_string(), k.to_string())),
        "the PARTITION BY column is the key: {body}"
    );
    let got = rows(server.addr, "SELECT * FROM lr;").await;
    assert_eq!(got, vec![json!(["x", "a", "a"])]);
}

#[tokio::test]
async fn refused_joins_get_ksqldb_errors() {
    let server = TestServer::start().await;
    for sql in [
        "CREATE STREAM s (id INT KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        "CREATE STREAM s2 (id INT KEY, v INT) WITH (kafka_topic='s2', value_format='JSON', partitions=1);",
        "CREATE TABLE t (id INT PRIMARY KEY, v INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);",
    ] {
        server.ksql_ok(sql).await;
    }
    let mut c = server.h1().await;
    for (sql, want) in [
        (
            "CREATE STREAM o AS SELECT s.id FROM s JOIN s2 ON s.id = s2.id;",
            "Stream-Stream joins must have a WITHIN clause specified",
        ),
        (
            "CREATE STREAM o AS SELECT t.id FROM t JOIN s ON t.id = s.id;",
            "table-stream joins are not supported",
        ),
        (
            "CREATE STREAM o AS SELECT s.id FROM s JOIN t ON s.v = t.v;",
            "Cannot repartition a TABLE source",
        ),
    ] {
        let (status, body) = c.ksql(sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{sql}: {message}");
    }
    let (status, bytes) = c
        .post(
            "/query",
            &json!({"ksql": "SELECT * FROM s JOIN s2 WITHIN 1 SECOND ON s.id = s2.id;"})
                .to_string(),
        )
        .await;
    let body = support::json(&bytes);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "Pull queries don't support JOIN clauses. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
    );
}

const ROUNDS: u64 = 3;
const KEYS: u64 = 13;

fn left_row(i: u64) -> String {
    format!("{{\"K\":\"key{}\",\"V\":{i}}}", i % KEYS)
}

/// After a SIGKILL at any moment, a restarted stream-stream join has written exactly one
/// result per left row (each left row meets the one right row of its key): none lost,
/// none repeated.
#[test]
fn stream_stream_join_is_exactly_once_across_sigkill() {
    let mut setup = vec![
        "CREATE STREAM l (k STRING KEY, v BIGINT) WITH (kafka_topic='l', value_format='JSON', partitions=2);".to_string(),
        "CREATE STREAM r (k STRING KEY, w BIGINT) WITH (kafka_topic='r', value_format='JSON', partitions=2);".to_string(),
        // The query reads from the latest offsets (ksqlDB's default): create it first.
        "CREATE STREAM lr AS SELECT l.k, v, w FROM l JOIN r WITHIN 1 HOURS ON l.k = r.k;".to_string(),
    ];
    for key in 0..KEYS {
        setup.push(format!("INSERT INTO r (k, w) VALUES ('key{key}', {key});"));
    }
    let scenario = CrashScenario {
        setup,
        settle_after_setup: true,
        stream: "l",
        row: left_row,
        kill_at: |round| 2_000 + round * 1_000,
    };
    crash_rounds(&scenario, ROUNDS, |addr| async move {
        wait_caught_up(addr).await;
        let source = rows(addr, "SELECT v FROM l;").await;
        let sink = rows(addr, "SELECT l_k, v, w FROM lr;").await;
        let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
        for row in &sink {
            let v = row[1].as_i64().expect("v");
            let key = row[0].as_str().expect("k");
            assert_eq!(
                key,
                format!("key{}", v as u64 % KEYS),
                "joined with its key's right row"
            );
            assert_eq!(row[2].as_i64(), Some((v as u64 % KEYS) as i64));
            *seen.entry(v).or_default() += 1;
        }
        let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "results repeated: {repeated:?}");
        let want: Vec<i64> = source.iter().map(|r| r[0].as_i64().expect("v")).collect();
        assert_eq!(seen.len(), want.len(), "one result per left row");
        for v in want {
            assert!(seen.contains_key(&v), "left row {v} has no result");
        }
    });
}

/// The region a key of the crash tests' table maps to.
fn region_of(key: u64) -> String {
    format!("R{}", key % 3)
}

/// After a SIGKILL at any moment, a restarted aggregation over a stream-table join has
/// written, per group, the counts 1, 2, … with none lost or repeated, and its final counts
/// and sums are those of the source rows: the join's and the aggregate's state commit with
/// the outputs and positions as one.
#[test]
fn aggregation_over_a_join_is_exactly_once_across_sigkill() {
    let mut setup = vec![
        "CREATE STREAM l (k STRING KEY, v BIGINT) WITH (kafka_topic='l', value_format='JSON', partitions=2);".to_string(),
        "CREATE TABLE r (k STRING PRIMARY KEY, region STRING) WITH (kafka_topic='r', value_format='JSON', partitions=1);".to_string(),
        "CREATE TABLE per_region AS SELECT r.region, COUNT(*) AS n, SUM(v) AS total FROM l JOIN r ON l.k = r.k GROUP BY r.region;".to_string(),
        "CREATE STREAM per_region_log (region STRING KEY, n BIGINT, total BIGINT) WITH (kafka_topic='PER_REGION', value_format='JSON');".to_string(),
    ];
    for key in 0..KEYS {
        setup.push(format!(
            "INSERT INTO r (k, region) VALUES ('key{key}', '{}');",
            region_of(key)
        ));
    }
    let scenario = CrashScenario {
        setup,
        settle_after_setup: true,
        stream: "l",
        row: left_row,
        kill_at: |round| 2_000 + round * 1_000,
    };
    crash_rounds(&scenario, ROUNDS, |addr| async move {
        wait_caught_up(addr).await;
        let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for row in rows(addr, "SELECT v FROM l;").await {
            let v = row[0].as_i64().expect("v");
            let e = want.entry(region_of(v as u64 % KEYS)).or_default();
            e.0 += 1;
            e.1 += v;
        }
        let mut seen: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for row in rows(addr, "SELECT region, n, total FROM per_region_log;").await {
            let region = row[0].as_str().expect("region").to_string();
            let n = row[1].as_i64().expect("n");
            let e = seen.entry(region.clone()).or_default();
            assert_eq!(
                n,
                e.0 + 1,
                "{region}: update {n} after {} (lost or repeated)",
                e.0
            );
            *e = (n, row[2].as_i64().expect("total"));
        }
        assert_eq!(seen, want, "final counts and sums per region");
    });
}
