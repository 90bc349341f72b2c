//! Windowed aggregation over real HTTP: TUMBLING, HOPPING and SESSION windows written by a
//! CTAS (windowed keys in Kafka Streams' bytes, read back from the sink topic), EMIT FINAL,
//! late records past grace, push queries with WINDOWSTART/WINDOWEND, and an EMIT FINAL
//! aggregate killed with SIGKILL whose final results are neither lost nor repeated.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use http::StatusCode;
use serde_json::{json, Value};
use support::child::{crash_rounds, CrashScenario};
use support::{Client, Proto, TestServer, WAIT};

/// One record of a windowed sink topic: inner key, window start, session end (sessions
/// only), value (`None` for a tombstone) and timestamp.
#[derive(Debug, Clone, PartialEq)]
struct WindowedRecord {
    key: String,
    start: i64,
    end: Option<i64>,
    value: Option<Value>,
    timestamp: i64,
}

/// Every record of partition 0 of `topic`, keys split as Kafka Streams lays them out. Reads
/// page after page: the endpoint returns at most a page's worth per request (its
/// `READ_RECORDS_MAX`), and a crash test's sink grows past one page.
async fn windowed_records(addr: SocketAddr, topic: &str, session: bool) -> Vec<WindowedRecord> {
    let mut c = Client::connect(addr, Proto::H2).await;
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (status, bytes) = c
            .request(
                "GET",
                &format!("/topics/{topic}/partitions/0/records?offset={offset}&limit=100000"),
                None,
                b"",
            )
            .await;
        let body = support::json(&bytes);
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = body["records"].as_array().expect("records");
        if page.is_empty() {
            return out;
        }
        out.extend(page.iter().map(|r| windowed_record(r, session)));
        offset = body["nextOffset"].as_u64().expect("nextOffset");
    }
}

fn windowed_record(r: &Value, session: bool) -> WindowedRecord {
    let b64 = |v: &Value| {
        v.as_str().map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("base64")
        })
    };
    let key = b64(&r["key"]).expect("a windowed key");
    let long = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
    let (inner, start, end) = if session {
        let n = key.len() - 16;
        (&key[..n], long(&key[n + 8..]), Some(long(&key[n..n + 8])))
    } else {
        let n = key.len() - 8;
        (&key[..n], long(&key[n..]), None)
    };
    WindowedRecord {
        key: String::from_utf8(inner.to_vec()).expect("a STRING key"),
        start,
        end,
        value: b64(&r["value"]).map(|v| serde_json::from_slice(&v).expect("JSON value")),
        timestamp: r["timestamp"].as_i64().expect("timestamp"),
    }
}

/// Waits until every persistent query has read its input to the end.
async fn wait_caught_up(addr: SocketAddr) {
    support::wait_all_caught_up(addr, 0).await;
}

/// Inserts `(rowtime, key, value)` rows into stream `s` (columns `K`, `V`).
async fn insert(server: &TestServer, rows: &[(i64, &str, i64)]) {
    for (ts, k, v) in rows {
        server
            .ksql_ok(&format!(
                "INSERT INTO s (ROWTIME, k, v) VALUES ({ts}, '{k}', {v});"
            ))
            .await;
    }
}

const SOURCE: &str =
    "CREATE STREAM s (k STRING KEY, v BIGINT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

fn rec(key: &str, start: i64, value: Option<Value>, timestamp: i64) -> WindowedRecord {
    WindowedRecord {
        key: key.to_string(),
        start,
        end: None,
        value,
        timestamp,
    }
}

#[tokio::test]
async fn tumbling_window_counts_per_window_and_drops_records_past_grace() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    server
        .ksql_ok("CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total, WINDOWSTART AS ws, WINDOWEND AS we FROM s WINDOW TUMBLING (SIZE 1 SECOND, GRACE PERIOD 500 MILLISECONDS) GROUP BY k;")
        .await;
    insert(
        &server,
        &[
            (100, "a", 1),
            (900, "a", 2),
            (1100, "a", 3),
            (1600, "b", 4),
            // Window [0, 1000) closes at 1000 + 500: 1600 has passed it, so this is late.
            (400, "a", 5),
            // Window [1000, 2000) is still open.
            (1200, "a", 6),
        ],
    )
    .await;
    wait_caught_up(server.addr).await;
    let got = windowed_records(server.addr, "T", false).await;
    let row = |n: i64, total: i64, ws: i64| {
        Some(json!({"N": n, "TOTAL": total, "WS": ws, "WE": ws + 1000}))
    };
    assert_eq!(
        got,
        vec![
            rec("a", 0, row(1, 1, 0), 100),
            rec("a", 0, row(2, 3, 0), 900),
            rec("a", 1000, row(1, 3, 1000), 1100),
            rec("b", 1000, row(1, 4, 1000), 1600),
            rec("a", 1000, row(2, 9, 1000), 1200),
        ]
    );
    let described = server.ksql_ok("DESCRIBE t;").await;
    assert_eq!(
        described[0]["sourceDescription"]["windowType"], "TUMBLING",
        "{described}"
    );
    server.stop().await;
}

#[tokio::test]
async fn hopping_window_updates_every_window_a_record_falls_in() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    server
        .ksql_ok("CREATE TABLE h AS SELECT k, COUNT(*) AS n FROM s WINDOW HOPPING (SIZE 3 SECONDS, ADVANCE BY 1 SECOND) GROUP BY k;")
        .await;
    insert(&server, &[(2500, "a", 1), (3500, "a", 1)]).await;
    wait_caught_up(server.addr).await;
    let got: Vec<(i64, Value)> = windowed_records(server.addr, "H", false)
        .await
        .into_iter()
        .map(|r| (r.start, r.value.expect("no tombstones")["N"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, json!(1)),
            (1000, json!(1)),
            (2000, json!(1)),
            (1000, json!(2)),
            (2000, json!(2)),
            (3000, json!(1)),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn session_windows_merge_with_a_tombstone_per_merged_session() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    server
        .ksql_ok("CREATE TABLE sess AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM s WINDOW SESSION (1 SECOND) GROUP BY k;")
        .await;
    insert(
        &server,
        &[(0, "a", 1), (5000, "a", 2), (3000, "a", 4), (4000, "a", 8)],
    )
    .await;
    wait_caught_up(server.addr).await;
    let got: Vec<(i64, Option<i64>, Option<Value>, i64)> =
        windowed_records(server.addr, "SESS", true)
            .await
            .into_iter()
            .map(|r| (r.start, r.end, r.value, r.timestamp))
            .collect();
    let row = |n: i64, total: i64| Some(json!({"N": n, "TOTAL": total}));
    assert_eq!(
        got,
        vec![
            (0, Some(0), row(1, 1), 0),
            (5000, Some(5000), row(1, 2), 5000),
            // 3000 is more than the gap from both: a session of its own.
            (3000, Some(3000), row(1, 4), 3000),
            // 4000 is within the gap of both [3000] and [5000]: both are withdrawn, the merge written.
            (3000, Some(3000), None, 3000),
            (5000, Some(5000), None, 5000),
            (3000, Some(5000), row(3, 14), 5000),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn emit_final_writes_one_result_per_window_once_it_closes() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    server
        .ksql_ok("CREATE TABLE f AS SELECT k, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) GROUP BY k EMIT FINAL;")
        .await;
    insert(
        &server,
        &[
            (1, "a", 0),
            (2, "b", 0),
            (9, "a", 0),
            // Stream time 12: [0, 10) is past its end but not its grace; 8 still counts.
            (12, "a", 0),
            (8, "b", 0),
            // Stream time 15 closes [0, 10).
            (15, "c", 0),
            // Late for [0, 10): dropped, and no second final result.
            (3, "a", 0),
        ],
    )
    .await;
    wait_caught_up(server.addr).await;
    let got = windowed_records(server.addr, "F", false).await;
    assert_eq!(
        got,
        vec![
            rec("a", 0, Some(json!({"N": 2})), 9),
            rec("b", 0, Some(json!({"N": 2})), 8),
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn push_query_shows_window_bounds_and_windowed_errors_are_ksqldbs() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    insert(&server, &[(1500, "a", 1), (1700, "a", 2)]).await;
    let body = json!({
        "sql": "SELECT k, WINDOWSTART, WINDOWEND, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY k EMIT CHANGES LIMIT 2;",
        "properties": {"auto.offset.reset": "earliest"}
    });
    let (status, bytes) = tokio::time::timeout(
        WAIT,
        server.h2().await.post("/query-stream", &body.to_string()),
    )
    .await
    .expect("the push query ends at its LIMIT");
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let rows: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(
        rows,
        vec![json!(["a", 1000, 2000, 1]), json!(["a", 1000, 2000, 2])]
    );

    let (status, body) = server
        .h1()
        .await
        .ksql("CREATE TABLE bad AS SELECT k, COUNT(*) FROM s WINDOW HOPPING (SIZE 1 SECOND, ADVANCE BY 2 SECONDS) GROUP BY k;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server
        .h1()
        .await
        .ksql("CREATE TABLE bad AS SELECT k, COUNT(*) FROM s GROUP BY k EMIT FINAL;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "EMIT FINAL is only supported for windowed aggregations."
    );
    let (status, body) = server
        .h1()
        .await
        .ksql("CREATE TABLE bad AS SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 SECOND) WHERE WINDOWSTART > 0 GROUP BY k;")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "Error in WHERE expression: Unknown column WINDOWSTART."
    );
    server.stop().await;
}

const KEYS: u64 = 7;
const ROUNDS: u64 = 3;
/// Window size of the crash test: rows are 1 ms apart, so each window holds 50 rows.
const CRASH_WINDOW_MS: i64 = 50;

fn crash_row(i: u64) -> String {
    format!("{{\"K\":\"key{}\",\"T\":{i}}}", i % KEYS)
}

/// After a SIGKILL at any moment, the restarted EMIT FINAL aggregate has written exactly one
/// final result per closed (key, window), with the window's full count, and none for a
/// window still open: state, stream time and output stayed in step.
#[test]
fn emit_final_results_are_exactly_once_across_sigkill() {
    let scenario = CrashScenario {
        setup: vec![
            // One partition: stream time is per query, so rows arrive in time order.
            "CREATE STREAM src (k STRING KEY, t BIGINT) WITH (kafka_topic='src', value_format='JSON', partitions=1, timestamp='T');".to_string(),
            format!("CREATE TABLE fin AS SELECT k, COUNT(*) AS n FROM src WINDOW TUMBLING (SIZE {CRASH_WINDOW_MS} MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) GROUP BY k EMIT FINAL;"),
        ],
        settle_after_setup: false,
        stream: "src",
        row: crash_row,
        kill_at: |round| 2_000 + round * 1_000,
    };
    crash_rounds(&scenario, ROUNDS, |addr| async move {
        wait_caught_up(addr).await;
        let source = source_rows(addr).await;
        let sink = windowed_records(addr, "FIN", false).await;
        check_finals(&source, &sink);
    });
}

async fn source_rows(addr: SocketAddr) -> Vec<(String, i64)> {
    let (status, bytes) = Client::connect(addr, Proto::H2)
        .await
        .post(
            "/query-stream",
            &json!({ "sql": "SELECT k, t FROM src;" }).to_string(),
        )
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| {
            let row: Vec<Value> = serde_json::from_str(l).expect("a whole row");
            (
                row[0].as_str().expect("k").to_string(),
                row[1].as_i64().expect("t"),
            )
        })
        .collect()
}

fn check_finals(source: &[(String, i64)], sink: &[WindowedRecord]) {
    let stream_time = source.iter().map(|(_, t)| *t).max().unwrap_or(0);
    let mut want: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for (k, t) in source {
        let start = t - t.rem_euclid(CRASH_WINDOW_MS);
        if start + CRASH_WINDOW_MS <= stream_time {
            *want.entry((k.clone(), start)).or_default() += 1;
        }
    }
    let mut got: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for r in sink {
        let n = r.value.as_ref().expect("finals are never tombstones")["N"]
            .as_i64()
            .expect("N");
        let earlier = got.insert((r.key.clone(), r.start), n);
        assert!(
            earlier.is_none(),
            "window {} of {} written twice ({earlier:?}, then {n})",
            r.start,
            r.key
        );
    }
    assert!(!want.is_empty(), "some windows closed");
    assert_eq!(
        got, want,
        "one final result per closed window, with its full count"
    );
}

#[tokio::test]
async fn push_query_over_a_windowed_table_shows_window_bounds_and_tombstones() {
    let server = TestServer::start().await;
    server.ksql_ok(SOURCE).await;
    server
        .ksql_ok("CREATE TABLE pos AS SELECT k, SUM(v) AS total FROM s WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY k HAVING SUM(v) > 0;")
        .await;
    insert(&server, &[(1, "a", 10), (2, "a", -20), (3, "a", 21)]).await;
    wait_caught_up(server.addr).await;
    let body = json!({
        "ksql": "SELECT * FROM pos EMIT CHANGES LIMIT 3;",
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, bytes) =
        tokio::time::timeout(WAIT, server.h1().await.post("/query", &body.to_string()))
            .await
            .expect("the push query ends at its LIMIT");
    let got = support::json(&bytes);
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got[0]["header"]["schema"],
        "`K` STRING, `WINDOWSTART` BIGINT, `WINDOWEND` BIGINT, `TOTAL` BIGINT"
    );
    assert_eq!(got[1], json!({"row": {"columns": ["a", 0, 1000, 10]}}));
    // The second update fails HAVING: the table deletes the window's row.
    assert_eq!(
        got[2],
        json!({"row": {"columns": ["a", 0, 1000, null], "tombstone": true}})
    );
    assert_eq!(got[3], json!({"row": {"columns": ["a", 0, 1000, 11]}}));
    server.stop().await;
}
