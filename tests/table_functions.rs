//! Table functions (EXPLODE, CUBE_EXPLODE) against a real server: in push queries over
//! `/query-stream` (header, zipping, NULL and empty arrays, LIMIT counting output rows) and
//! in a CSAS (output rows keep the source key and ROWTIME), plus the planning errors.

mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use support::{TestServer, WAIT};

const CREATE: &str = "CREATE STREAM s (k STRING KEY, a ARRAY<INT>, b ARRAY<STRING>) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

async fn insert(server: &TestServer, rows: &[Json]) {
    let mut body = json!({"target": "s"}).to_string();
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

/// Runs a query that ends by itself (a pull query, or a push query with LIMIT) and
/// returns its header and rows.
async fn run(server: &TestServer, sql: &str) -> (Json, Vec<Json>) {
    let body = json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}});
    let (status, bytes) = tokio::time::timeout(
        WAIT,
        server.h2().await.post("/query-stream", &body.to_string()),
    )
    .await
    .expect("the query ends");
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let mut lines = text.lines().map(|l| serde_json::from_str(l).expect("json"));
    let header = lines.next().expect("header");
    (header, lines.collect())
}

async fn error(server: &TestServer, sql: &str) -> String {
    let (status, body) = server.h2().await.ksql(sql).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
    body["message"].as_str().expect("message").to_string()
}

async fn started() -> TestServer {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    insert(
        &server,
        &[
            json!({"K": "r1", "A": [1, 2, 3], "B": ["x"]}),
            json!({"K": "r2", "A": null, "B": null}),
            json!({"K": "r3", "A": [], "B": ["y", "z"]}),
        ],
    )
    .await;
    server
}

#[tokio::test]
async fn push_query_explodes_and_zips_to_the_longest() {
    let server = started().await;
    let (header, rows) = run(
        &server,
        "SELECT k, EXPLODE(a) AS x, EXPLODE(b) FROM s EMIT CHANGES LIMIT 5;",
    )
    .await;
    assert_eq!(header["columnNames"], json!(["K", "X", "KSQL_COL_0"]));
    assert_eq!(
        header["columnTypes"],
        json!(["STRING", "INTEGER", "STRING"])
    );
    // r2 (NULL arrays) gives no rows; r3's empty A is padded with NULL next to B.
    assert_eq!(
        rows,
        vec![
            json!(["r1", 1, "x"]),
            json!(["r1", 2, null]),
            json!(["r1", 3, null]),
            json!(["r3", null, "y"]),
            json!(["r3", null, "z"]),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn limit_counts_output_rows() {
    let server = started().await;
    let (_, rows) = run(&server, "SELECT EXPLODE(a) FROM s EMIT CHANGES LIMIT 2;").await;
    assert_eq!(rows, vec![json!([1]), json!([2])]);
    server.stop().await;
}

#[tokio::test]
async fn cube_explode_and_table_functions_inside_expressions() {
    let server = started().await;
    let (header, rows) = run(
        &server,
        "SELECT CUBE_EXPLODE(b) AS c, EXPLODE(a) * 10 FROM s WHERE k = 'r1';",
    )
    .await;
    assert_eq!(header["columnNames"], json!(["C", "KSQL_COL_0"]));
    assert_eq!(header["columnTypes"], json!(["ARRAY<STRING>", "INTEGER"]));
    assert_eq!(
        rows,
        vec![json!([[null], 10]), json!([["x"], 20]), json!([null, 30])]
    );
    server.stop().await;
}

async fn wait_caught_up(server: &TestServer, id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if server
            .engine
            .query_progress(id)
            .is_some_and(|p| p.caught_up)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} not caught up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn csas_rows_keep_the_source_key_and_rowtime() {
    let server = started().await;
    let body = json!({
        "ksql": "CREATE STREAM out AS SELECT k, EXPLODE(a) AS x, CUBE_EXPLODE(b) AS c FROM s;",
        "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"},
    });
    let (status, bytes) = server.h2().await.post("/ksql", &body.to_string()).await;
    let body = support::json(&bytes);
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body[0]["commandStatus"]["queryId"]
        .as_str()
        .expect("query id")
        .to_string();
    wait_caught_up(&server, &id).await;

    let (_, source) = run(&server, "SELECT k, ROWTIME FROM s;").await;
    let rowtime = |k: &str| {
        source
            .iter()
            .find(|r| r[0] == k)
            .map(|r| r[1].clone())
            .expect("source row")
    };
    let (header, rows) = run(&server, "SELECT k, x, c, ROWTIME FROM out;").await;
    assert_eq!(
        header["columnTypes"],
        json!(["STRING", "INTEGER", "ARRAY<STRING>", "BIGINT"])
    );
    let (r1, r3) = (rowtime("r1"), rowtime("r3"));
    assert_eq!(
        rows,
        vec![
            json!(["r1", 1, [null], r1]),
            json!(["r1", 2, ["x"], r1]),
            json!(["r1", 3, null, r1]),
            json!(["r3", null, [null, null], r3]),
            json!(["r3", null, [null, "z"], r3]),
            json!(["r3", null, ["y", null], r3]),
            json!(["r3", null, ["y", "z"], r3]),
        ]
    );
    let description = server.ksql_ok("DESCRIBE out;").await;
    let fields = &description[0]["sourceDescription"]["fields"];
    assert_eq!(fields[0]["name"], "K");
    assert_eq!(fields[0]["type"], "KEY");
    server.stop().await;
}

#[tokio::test]
async fn table_functions_outside_the_select_list_are_rejected() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    server
        .ksql_ok("CREATE TABLE t (id INT PRIMARY KEY, a ARRAY<INT>) WITH (kafka_topic='t', value_format='JSON', partitions=1);")
        .await;
    assert_eq!(
        error(
            &server,
            "CREATE STREAM o AS SELECT k FROM s WHERE EXPLODE(a) > 1;"
        )
        .await,
        "Table functions cannot be used in WHERE: EXPLODE"
    );
    assert_eq!(
        error(
            &server,
            "CREATE STREAM o AS SELECT k, EXPLODE(EXPLODE(a)) FROM s;"
        )
        .await,
        "Table functions cannot be nested: EXPLODE(EXPLODE())"
    );
    assert_eq!(
        error(&server, "CREATE TABLE o AS SELECT id, EXPLODE(a) FROM t;").await,
        "Table source is not supported with table functions"
    );
    assert_eq!(
        error(&server, "CREATE STREAM o AS SELECT k, EXPLODE(k) FROM s;").await,
        "Function 'EXPLODE' does not accept parameters (STRING)."
    );
    server.stop().await;
}
