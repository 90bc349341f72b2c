//! GROUP BY over real HTTP: `CREATE TABLE … AS SELECT … GROUP BY` over a stream and over a
//! table (with ksqlDB's undo), HAVING with its tombstones, the errors ksqlDB gives, and a
//! stateful query killed with SIGKILL mid-flight whose outputs and state stay exact.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use http::StatusCode;
use serde_json::{json, Value};
use support::child::{crash_rounds, CrashScenario};
use support::{Client, Proto, TestServer};

async fn wait_caught_up(addr: SocketAddr) {
    support::wait_all_caught_up(addr, 0).await;
}

/// Every row of `stream` (a query that reads to the current end), as JSON arrays.
async fn rows(addr: SocketAddr, sql: &str) -> Vec<Vec<Value>> {
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

async fn insert(server: &TestServer, stream: &str, values: &[&str]) {
    for v in values {
        server
            .ksql_ok(&format!("INSERT INTO {stream} VALUES ({v});"))
            .await;
    }
}

#[tokio::test]
async fn stream_aggregation_emits_one_update_per_row_with_having_tombstones() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM clicks (user STRING KEY, page STRING, ms BIGINT) WITH (kafka_topic='clicks', value_format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE TABLE per_page AS SELECT page, COUNT(*) AS n, SUM(ms) AS total, AVG(ms) AS mean, COLLECT_LIST(user) AS users FROM clicks WHERE ms >= 0 GROUP BY page HAVING COUNT(*) < 3;")
        .await;
    insert(
        &server,
        "clicks",
        &[
            "'ann', '/a', 10",
            "'bob', '/b', 5",
            "'cat', '/a', 20",
            "'dan', '/a', -1",
            "'eve', '/a', 30",
        ],
    )
    .await;
    // Read the sink topic as a stream: every record, tombstones included as nulls.
    server
        .ksql_ok("CREATE STREAM per_page_log (page STRING KEY, n BIGINT, total BIGINT, mean DOUBLE, users ARRAY<STRING>) WITH (kafka_topic='PER_PAGE', value_format='JSON');")
        .await;
    wait_caught_up(server.addr).await;
    let got = rows(server.addr, "SELECT * FROM per_page_log;").await;
    assert_eq!(
        got,
        vec![
            json!(["/a", 1, 10, 10.0, ["ann"]]),
            json!(["/b", 1, 5, 5.0, ["bob"]]),
            json!(["/a", 2, 30, 15.0, ["ann", "cat"]]),
        ]
        .into_iter()
        .map(|v| v.as_array().cloned().expect("array"))
        .collect::<Vec<_>>(),
        "the third /a row fails HAVING: a tombstone, which a stream query does not show"
    );
    // A pull query reads the table as it is now, one row per key, from the query's store.
    let (status, bytes) = server
        .h1()
        .await
        .post(
            "/query",
            &json!({"ksql": "SELECT page, n, total FROM per_page;"}).to_string(),
        )
        .await;
    let body = support::json(&bytes);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!([
            {"header": {"queryId": body[0]["header"]["queryId"], "schema": "`PAGE` STRING KEY, `N` BIGINT, `TOTAL` BIGINT"}},
            {"row": {"columns": ["/b", 1, 5]}}
        ]),
        "/a's last update failed HAVING: its row is deleted"
    );
    let (status, bytes) = server
        .h1()
        .await
        .post(
            "/query",
            &json!({"ksql": "SELECT * FROM per_page WHERE page = '/b';"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        support::json(&bytes)[1]["row"]["columns"],
        json!(["/b", 1, 5, 5.0, ["bob"]])
    );
    let described = server.ksql_ok("DESCRIBE per_page;").await;
    let fields = described[0]["sourceDescription"]["fields"].to_string();
    assert!(fields.contains("\"PAGE\""), "{fields}");
    assert!(fields.contains("\"BIGINT\""), "{fields}");
    server.stop().await;
}

/// A group's result is stamped with the newest timestamp among its records, as Kafka
/// Streams' aggregations stamp max(record, previous result): a late record updates the
/// group without moving its time back.
#[tokio::test]
async fn aggregate_results_carry_the_newest_timestamp_of_their_group() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM ev (k STRING KEY, v INT) WITH (kafka_topic='ev', value_format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE TABLE per_k AS SELECT k, COUNT(*) AS n FROM ev GROUP BY k;")
        .await;
    for (ts, k) in [(100, "a"), (50, "a"), (70, "b"), (120, "a"), (60, "a")] {
        server
            .ksql_ok(&format!(
                "INSERT INTO ev (ROWTIME, k, v) VALUES ({ts}, '{k}', 1);"
            ))
            .await;
    }
    server
        .ksql_ok("CREATE STREAM per_k_log (k STRING KEY, n BIGINT) WITH (kafka_topic='PER_K', value_format='JSON');")
        .await;
    wait_caught_up(server.addr).await;
    let got = rows(server.addr, "SELECT k, n, ROWTIME FROM per_k_log;").await;
    assert_eq!(
        got,
        [
            json!(["a", 1, 100]),
            json!(["a", 2, 100]),
            json!(["b", 1, 70]),
            json!(["a", 3, 120]),
            json!(["a", 4, 120]),
        ]
        .into_iter()
        .map(|v| v.as_array().cloned().expect("array"))
        .collect::<Vec<_>>()
    );
    server.stop().await;
}

#[tokio::test]
async fn table_aggregation_undoes_replaced_and_deleted_rows() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE TABLE users (id INT PRIMARY KEY, region STRING, age INT) WITH (kafka_topic='users', format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, SUM(age) AS ages FROM users GROUP BY region;")
        .await;
    insert(
        &server,
        "users",
        &["1, 'east', 30", "2, 'east', 40", "1, 'west', 31"],
    )
    .await;
    server
        .ksql_ok("CREATE STREAM per_region_log (region STRING KEY, n BIGINT, ages INT) WITH (kafka_topic='PER_REGION', format='JSON');")
        .await;
    wait_caught_up(server.addr).await;
    let got = rows(server.addr, "SELECT * FROM per_region_log;").await;
    let want: Vec<Vec<Value>> = [
        json!(["east", 1, 30]),
        json!(["east", 2, 70]),
        // Row 1 moves: first its old contribution is taken back, then the new one added.
        json!(["east", 1, 40]),
        json!(["west", 1, 31]),
    ]
    .into_iter()
    .map(|v| v.as_array().cloned().expect("array"))
    .collect();
    assert_eq!(got, want);
    server.stop().await;
}

#[tokio::test]
async fn aggregation_errors_are_ksqldb_errors() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM s (k STRING KEY, v INT, w INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE TABLE t (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);")
        .await;
    let cases = [
        (
            "CREATE TABLE o1 AS SELECT v, w, COUNT(*) FROM s GROUP BY v;",
            "Non-aggregate SELECT expression(s) not part of GROUP BY: W",
        ),
        (
            "CREATE TABLE o2 AS SELECT COUNT(*) FROM s GROUP BY v;",
            "must include the grouping expression V in its projection",
        ),
        (
            "CREATE STREAM o3 AS SELECT v, COUNT(*) FROM s GROUP BY v;",
            "Your SELECT query produces a TABLE",
        ),
        (
            "CREATE TABLE o4 AS SELECT v, MAX(v) FROM t GROUP BY v;",
            "MAX cannot be applied to a table source",
        ),
        (
            "CREATE TABLE o5 AS SELECT v, SUM(k) FROM s GROUP BY v;",
            "Function 'SUM' does not accept parameters (STRING)",
        ),
    ];
    let (status, body) = server
        .h1()
        .await
        .post("/query", &json!({"ksql": "SELECT * FROM t;"}).to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = support::json(&body);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("The `T` table isn't queryable."),
        "{body}"
    );
    let mut c = server.h2().await;
    for (sql, want) in cases {
        let (status, body) = c.ksql(sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{sql}: {message}");
    }
    server.stop().await;
}

const ROUNDS: u64 = 3;
const SOURCE_PARTITIONS: u32 = 4;
const KEYS: u64 = 37;

fn source_row(i: u64) -> String {
    format!("{{\"K\":\"key{}\",\"V\":{i}}}", i % KEYS)
}

/// After a SIGKILL at any moment, a restarted aggregation has written, per key, the counts
/// 1, 2, …, n exactly once and in order (no lost, no repeated update), and its last SUM is
/// the sum of the key's source values: its state equals a clean run's.
#[test]
fn aggregation_is_exactly_once_across_sigkill() {
    let scenario = CrashScenario {
        setup: vec![
            format!("CREATE STREAM src (k STRING KEY, v BIGINT) WITH (kafka_topic='src', value_format='JSON', partitions={SOURCE_PARTITIONS});"),
            "CREATE TABLE agg AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM src GROUP BY k;".to_string(),
            "CREATE STREAM agg_log (k STRING KEY, n BIGINT, total BIGINT) WITH (kafka_topic='AGG', value_format='JSON');".to_string(),
        ],
        settle_after_setup: false,
        stream: "src",
        row: source_row,
        kill_at: |round| 2_000 + round * 1_000,
    };
    crash_rounds(&scenario, ROUNDS, |addr| async move {
        wait_caught_up(addr).await;
        let source = rows(addr, "SELECT k, v FROM src;").await;
        let sink = rows(addr, "SELECT k, n, total FROM agg_log;").await;
        check(&source, &sink);
    });
}

fn check(source: &[Vec<Value>], sink: &[Vec<Value>]) {
    let mut want: HashMap<String, (i64, i64)> = HashMap::new();
    for row in source {
        let e = want
            .entry(row[0].as_str().expect("k").to_string())
            .or_default();
        e.0 += 1;
        e.1 += row[1].as_i64().expect("v");
    }
    let mut seen: HashMap<String, (i64, i64)> = HashMap::new();
    for row in sink {
        let k = row[0].as_str().expect("k").to_string();
        let n = row[1].as_i64().expect("n");
        let total = row[2].as_i64().expect("total");
        let e = seen.entry(k.clone()).or_default();
        assert_eq!(
            n,
            e.0 + 1,
            "key {k}: update {n} after {} (lost or repeated)",
            e.0
        );
        *e = (n, total);
    }
    assert_eq!(seen, want, "final counts and sums per key");
}

#[tokio::test]
async fn push_queries_aggregate_in_memory_without_needing_the_key() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM s (k INT KEY, id INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
        .await;
    insert(&server, "s", &["0, 2", "1, 2", "2, 3"]).await;
    let body = json!({
        "sql": "SELECT COUNT(*) AS n, SUM(id) AS total FROM s GROUP BY ABS(id) EMIT CHANGES LIMIT 3;",
        "properties": {"auto.offset.reset": "earliest"}
    });
    let (status, bytes) = server
        .h2()
        .await
        .post("/query-stream", &body.to_string())
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines[0]["columnNames"], json!(["N", "TOTAL"]));
    assert_eq!(&lines[1..], &[json!([1, 2]), json!([2, 4]), json!([1, 3])]);
    let (status, _) = server
        .h2()
        .await
        .post(
            "/query-stream",
            &json!({"sql": "SELECT COUNT(*) FROM s GROUP BY id;"}).to_string(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "pull queries do not aggregate"
    );
    server.stop().await;
}

/// `sluice_pull_plans_reused_total` from `/metrics`.
async fn pull_plans_reused(server: &TestServer) -> u64 {
    let (status, _, body) = server.h1().await.send("GET", "/metrics", &[], b"").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .find_map(|l| l.strip_prefix("sluice_pull_plans_reused_total "))
        .unwrap_or_else(|| panic!("no pull plan counter in {text}"))
        .parse()
        .expect("a count")
}

#[tokio::test]
async fn key_lookups_of_one_shape_reuse_a_plan_and_answer_their_own_keys() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM orders (id BIGINT KEY, item STRING, qty INT) WITH (kafka_topic='orders', value_format='JSON', partitions=2);")
        .await;
    server
        .ksql_ok("CREATE TABLE latest AS SELECT id, LATEST_BY_OFFSET(item) AS item, SUM(qty) AS qty FROM orders GROUP BY id;")
        .await;
    insert(
        &server,
        "orders",
        &[
            "1, 'a', 1",
            "2, 'b''s', 2",
            "3, 'c', 3",
            "4, 'd', 4",
            "2, 'e', 5",
        ],
    )
    .await;
    wait_caught_up(server.addr).await;
    let reused = pull_plans_reused(&server).await;
    let expected = [(1, "a", 1), (2, "e", 7), (3, "c", 3), (4, "d", 4)];
    for (id, item, qty) in expected {
        assert_eq!(
            rows(
                server.addr,
                &format!("SELECT * FROM latest WHERE id = {id};")
            )
            .await,
            vec![vec![json!(id), json!(item), json!(qty)]],
            "id {id}"
        );
    }
    // A key with no row, and a list of keys in one statement of a shape of its own.
    assert!(rows(server.addr, "SELECT * FROM latest WHERE id = 99;")
        .await
        .is_empty());
    for (list, want) in [
        ("(4, 1, 99)", vec!["a", "d"]),
        ("(2, 3, 98)", vec!["c", "e"]),
    ] {
        let got = rows(
            server.addr,
            &format!("SELECT item FROM latest WHERE id IN {list};"),
        )
        .await;
        let mut got: Vec<&str> = got.iter().map(|r| r[0].as_str().expect("item")).collect();
        got.sort_unstable();
        assert_eq!(got, want, "{list}");
    }
    // Four lookups after the first of their shape, and the second list.
    assert_eq!(pull_plans_reused(&server).await - reused, 5);

    // The table made again under its name with other columns: the same shape answers
    // from the new table, not from the plan kept for the old one.
    server.ksql_ok("TERMINATE ALL;").await;
    server.ksql_ok("DROP TABLE latest;").await;
    server
        .ksql_ok("CREATE TABLE latest AS SELECT id, COUNT(*) AS n FROM orders GROUP BY id;")
        .await;
    // A persistent query starts at the end of its source (ksqlDB's default).
    insert(&server, "orders", &["2, 'f', 6", "2, 'g', 7"]).await;
    wait_caught_up(server.addr).await;
    assert_eq!(
        rows(server.addr, "SELECT * FROM latest WHERE id = 2;").await,
        vec![vec![json!(2), json!(2)]]
    );
}

/// Asserts that a key lookup on `users` answers each `(id, name)`, in turn.
async fn assert_user_lookups(server: &TestServer, expected: &[(i64, &str)]) {
    for &(id, name) in expected {
        assert_eq!(
            rows(
                server.addr,
                &format!("SELECT * FROM users WHERE id = {id};")
            )
            .await,
            vec![vec![json!(id), json!(name)]],
            "id {id}"
        );
    }
}

#[tokio::test]
async fn key_lookups_of_a_table_read_from_its_topic_answer_their_own_keys() {
    // A SOURCE table's rows are read from its topic, not looked up: a second lookup of the
    // same shape must still filter them by its own key.
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM users_in (id BIGINT KEY, name STRING) WITH (kafka_topic='users', value_format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE SOURCE TABLE users (id BIGINT PRIMARY KEY, name STRING) WITH (kafka_topic='users', value_format='JSON');")
        .await;
    insert(&server, "users_in", &["1, 'ann'", "2, 'bob'", "3, 'cat'"]).await;
    assert_user_lookups(&server, &[(1, "ann"), (2, "bob"), (3, "cat"), (2, "bob")]).await;
    // The table kept from the last queries catches up with what was written since: an
    // update of 2, a new 4, and both seen by lookups, a scan and a non-key WHERE.
    insert(&server, "users_in", &["2, 'bea'", "4, 'dan'"]).await;
    assert_user_lookups(&server, &[(2, "bea"), (4, "dan"), (1, "ann")]).await;
    let mut all = rows(server.addr, "SELECT * FROM users;").await;
    all.sort_by_key(|r| r[0].as_i64());
    assert_eq!(
        all,
        [(1, "ann"), (2, "bea"), (3, "cat"), (4, "dan")]
            .map(|(id, name)| vec![json!(id), json!(name)])
    );
    assert_eq!(
        rows(server.addr, "SELECT id FROM users WHERE name = 'bob';").await,
        Vec::<Vec<serde_json::Value>>::new()
    );
}
