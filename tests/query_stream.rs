//! `POST /query-stream`: push and pull queries over real HTTP/2 and HTTP/1.1, the three
//! response formats, LIMIT, cancellation, and errors before and after the header.

mod support;

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::{response, Client, LineReader, TestServer, WAIT};

const CREATE: &str = "CREATE STREAM s (k STRING KEY, v INT, d DOUBLE, ts TIMESTAMP) WITH (kafka_topic='s', value_format='JSON', partitions=2);";

async fn insert(server: &TestServer, rows: &str) {
    let body = format!("{{\"target\":\"s\"}}\n{rows}");
    let (status, bytes) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(!text.contains("error"), "{text}");
}

fn query_body(sql: &str, earliest: bool) -> String {
    let props = if earliest {
        json!({"auto.offset.reset": "earliest"})
    } else {
        json!({})
    };
    json!({"sql": sql, "properties": props}).to_string()
}

/// Starts a streaming query and returns its body reader once the header is in.
async fn start_query(
    client: &mut Client,
    body: String,
    accept: Option<&str>,
) -> (String, LineReader) {
    let (mut tx, resp) = client.open("POST", "/query-stream", accept).await;
    tx.send_data(body.into()).await.expect("send");
    drop(tx);
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = LineReader::new(resp.into_body());
    let header = lines.next_line().await.expect("header");
    (header, lines)
}

/// Waits until the engine has `n` push queries registered.
async fn wait_for_queries(server: &TestServer, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.engine.push_query_count() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} queries, have {}",
            server.engine.push_query_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_query_sees_only_new_rows_by_default() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    insert(&server, "{\"K\":\"old\",\"V\":5}\n").await;
    let mut client = server.h2().await;
    let (header, mut lines) = start_query(
        &mut client,
        query_body(
            "SELECT k, v * 2 AS doubled, ts FROM s WHERE v > 1 EMIT CHANGES;",
            false,
        ),
        None,
    )
    .await;
    let header: serde_json::Value = serde_json::from_str(&header).expect("json");
    let id = header["queryId"].as_str().expect("id").to_string();
    assert!(id.starts_with("transient_S_"), "{id}");
    assert_eq!(header["columnNames"], json!(["K", "DOUBLED", "TS"]));
    assert_eq!(
        header["columnTypes"],
        json!(["STRING", "INTEGER", "TIMESTAMP"])
    );
    assert_eq!(header.as_object().expect("object").len(), 3);
    wait_for_queries(&server, 1).await;
    insert(
        &server,
        "{\"K\":\"a\",\"V\":1}\n{\"K\":\"b\",\"V\":2,\"TS\":\"2021-03-04T05:06:07.123\"}\n",
    )
    .await;
    assert_eq!(
        lines.next_line().await.expect("row"),
        "[\"b\",4,\"2021-03-04T05:06:07.123\"]"
    );
    // SHOW QUERIES lists the push query while it runs.
    let shown = server.ksql_ok("SHOW QUERIES;").await;
    assert_eq!(shown[0]["queries"][0]["id"], id);
    assert_eq!(shown[0]["queries"][0]["queryType"], "PUSH");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earliest_with_limit_ends_cleanly_in_all_formats() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    insert(&server, "{\"K\":\"a\",\"V\":1,\"D\":1.5}\n{\"K\":\"a\",\"V\":2,\"D\":10000000000}\n{\"K\":\"a\",\"V\":3}\n").await;
    let sql = "SELECT v, d FROM s WHERE k = 'a' EMIT CHANGES LIMIT 2;";

    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/query-stream",
            None,
            query_body(sql, true).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].ends_with(
            ",\"columnNames\":[\"V\",\"D\"],\"columnTypes\":[\"INTEGER\",\"DOUBLE\"]}\n"
        ),
        "{text}"
    );
    assert_eq!(lines[1], "[1,1.5]\n");
    assert_eq!(lines[2], "[2,1.0E10]\n");

    let (status, bytes) = server
        .h1()
        .await
        .request(
            "POST",
            "/query-stream",
            Some("application/json"),
            query_body(sql, true).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(text.starts_with("[{\"queryId\":\"transient_S_"), "{text}");
    assert!(text.ends_with(",\"columnNames\":[\"V\",\"D\"],\"columnTypes\":[\"INTEGER\",\"DOUBLE\"]},[1,1.5],[2,1.0E10]]"), "{text}");

    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/query-stream",
            Some("application/vnd.ksql.v1+json"),
            query_body(sql, true).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(
        text.starts_with("[{\"header\":{\"queryId\":\"transient_S_"),
        "{text}"
    );
    assert!(
        text.ends_with("\",\"schema\":\"`V` INTEGER, `D` DOUBLE\"}},\n{\"row\":{\"columns\":[1,1.5]}},\n{\"row\":{\"columns\":[2,1.0E10]}},\n{\"finalMessage\":\"Limit Reached\"}]"),
        "{text}"
    );

    // A pull over a stream: ksqlDB runs it as a push query that stops at the end of the
    // data, so in the v1 format it ends with a final message too (a table pull does not).
    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/query-stream",
            Some("application/vnd.ksql.v1+json"),
            query_body("SELECT v FROM s;", false).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert!(
        text.ends_with("{\"row\":{\"columns\":[3]}},\n{\"finalMessage\":\"Query Completed\"}]"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudo_columns_and_operators() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    insert(
        &server,
        "{\"K\":\"x\",\"V\":7}\n{\"K\":\"y\",\"V\":null}\n{\"K\":\"zz\",\"V\":12}\n",
    )
    .await;
    let sql = "SELECT k, ROWPARTITION >= 0 AS p, ROWOFFSET >= 0 AS o, ROWTIME > 0 AS t FROM s \
               WHERE (v BETWEEN 5 AND 10 OR v IS NULL OR k LIKE 'z%') AND k IN ('x', 'y', 'zz') EMIT CHANGES LIMIT 3;";
    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/query-stream",
            None,
            query_body(sql, true).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    let mut rows: Vec<&str> = text.lines().skip(1).collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        [
            "[\"x\",true,true,true]",
            "[\"y\",true,true,true]",
            "[\"zz\",true,true,true]"
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_query_on_a_stream_returns_what_is_there_and_ends() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    insert(&server, "{\"K\":\"a\",\"V\":1}\n{\"K\":\"b\",\"V\":2}\n").await;
    let (status, bytes) = server
        .h2()
        .await
        .request(
            "POST",
            "/query-stream",
            None,
            query_body("SELECT * FROM s;", false).as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("{\"queryId\":\"query_"), "{text}");
    assert!(lines[0].ends_with("\"columnNames\":[\"K\",\"V\",\"D\",\"TS\"],\"columnTypes\":[\"STRING\",\"INTEGER\",\"DOUBLE\",\"TIMESTAMP\"]}"));
    let mut rows = lines[1..].to_vec();
    rows.sort_unstable();
    assert_eq!(rows, ["[\"a\",1,null,null]", "[\"b\",2,null,null]"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_stream_frees_the_query() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    for proto in [support::Proto::H2, support::Proto::H1] {
        let mut client = Client::connect(server.addr, proto).await;
        let (_, lines) = start_query(
            &mut client,
            query_body("SELECT * FROM s EMIT CHANGES;", false),
            None,
        )
        .await;
        wait_for_queries(&server, 1).await;
        drop(lines);
        drop(client);
        wait_for_queries(&server, 0).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_before_the_header() {
    let server = TestServer::start().await;
    let mut c = server.h2().await;
    let (status, bytes) = c
        .post(
            "/query-stream",
            &query_body("SELECT * FROM missing EMIT CHANGES;", false),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = support::json(&bytes);
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert_eq!(body["message"], "MISSING does not exist.");

    let (status, bytes) = c.post("/query-stream", "{\"properties\":{}}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = support::json(&bytes);
    assert_eq!(body["error_code"], 40000);
    assert!(body["message"]
        .as_str()
        .expect("m")
        .starts_with("Invalid JSON in request: missing field `sql`"));

    let (status, _) = c
        .request("POST", "/query-stream", Some("text/html"), b"{}")
        .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);

    server.ksql_ok(CREATE).await;
    let (status, bytes) = c
        .post(
            "/query-stream",
            &query_body("SELECT nope FROM s EMIT CHANGES;", false),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(support::json(&bytes)["error_code"], 40001);

    let body = json!({
        "sql": "SELECT * FROM s EMIT CHANGES;",
        "properties": {"sluice.query.result.frames": "some"},
    });
    let (status, bytes) = c.post("/query-stream", &body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = support::json(&bytes);
    assert_eq!(body["error_code"], 40000, "{body}");
    assert!(body["message"]
        .as_str()
        .expect("m")
        .contains("expected row or batch"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_ends_push_queries() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let (_, lines) = start_query(
        &mut client,
        query_body("SELECT * FROM s EMIT CHANGES;", false),
        None,
    )
    .await;
    wait_for_queries(&server, 1).await;
    server.ksql_ok("DROP STREAM s DELETE TOPIC;").await;
    assert_eq!(lines.rest().await, "");
    server.stop().await;
}

/// A selective push query whose filter drops whole reads (more records arrive at once than
/// one read takes) still reaches the matching row behind them, with no further insert to
/// wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selective_push_query_reads_past_reads_its_filter_drops() {
    const ROWS: usize = 5_000;
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM one (v INT) WITH (kafka_topic='one', value_format='JSON', partitions=1);")
        .await;
    let mut client = server.h2().await;
    let (_, mut lines) = start_query(
        &mut client,
        query_body("SELECT v FROM one WHERE v = -1 EMIT CHANGES;", false),
        None,
    )
    .await;
    wait_for_queries(&server, 1).await;
    let mut rows = String::from("{\"target\":\"one\"}\n");
    for v in 0..ROWS {
        rows.push_str(&format!("{{\"V\":{v}}}\n"));
    }
    rows.push_str("{\"V\":-1}\n");
    let (status, body) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, rows.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the matching row arrives without another insert")
        .expect("row");
    assert_eq!(line, "[-1]");
    server.stop().await;
}

/// Push queries with different WHERE clauses and projections on one stream share each
/// read's decoded records (one reads and decodes what any of them reads, each runs its own
/// filter and projection), and each still sees exactly its rows, in order per key; a LIMIT query ends
/// after its rows without disturbing the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_push_queries_share_decoding_and_each_sees_its_rows() {
    const QUERIES: usize = 12;
    const BATCHES: usize = 5;
    const ROWS_PER_BATCH: usize = 24;
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let mut queries = Vec::new();
    for j in 0..QUERIES {
        // Half project the stored columns, half compute: both kinds run over shared rows.
        let sql = if j % 2 == 0 {
            format!("SELECT k, v FROM s WHERE v % {QUERIES} = {j} EMIT CHANGES;")
        } else {
            format!("SELECT k, v, v * 2 AS w, d FROM s WHERE v % {QUERIES} = {j} EMIT CHANGES;")
        };
        queries.push(
            start_query(&mut client, query_body(&sql, false), None)
                .await
                .1,
        );
    }
    let (_, limited) = start_query(
        &mut client,
        query_body(
            "SELECT v FROM s WHERE v % 2 = 1 EMIT CHANGES LIMIT 3;",
            false,
        ),
        None,
    )
    .await;
    wait_for_queries(&server, QUERIES + 1).await;
    let decoded_before = server.engine.shared_records_decoded();

    let mut expected = Vec::new();
    for b in 0..BATCHES {
        let mut rows = String::new();
        for r in 0..ROWS_PER_BATCH {
            let v = b * ROWS_PER_BATCH + r;
            rows.push_str(&format!("{{\"K\":\"k{}\",\"V\":{v},\"D\":{v}.5}}\n", v % 3));
            expected.push(v);
        }
        insert(&server, &rows).await;
    }
    let by_key = |vs: &[usize]| -> Vec<Vec<usize>> {
        (0..3)
            .map(|k| vs.iter().copied().filter(|v| v % 3 == k).collect())
            .collect()
    };
    for (j, lines) in queries.iter_mut().enumerate() {
        let want: Vec<usize> = expected
            .iter()
            .copied()
            .filter(|v| v % QUERIES == j)
            .collect();
        let mut seen = Vec::new();
        for _ in 0..want.len() {
            let line = lines.next_line().await.expect("row");
            let row: serde_json::Value = serde_json::from_str(&line).expect("json");
            let v = row[1].as_u64().expect("V") as usize;
            assert_eq!(row[0], json!(format!("k{}", v % 3)), "query {j}: {line}");
            if j % 2 == 1 {
                assert_eq!(row[2], json!(v * 2), "query {j}: {line}");
                assert_eq!(row[3], json!(v as f64 + 0.5), "query {j}: {line}");
            }
            seen.push(v);
        }
        assert_eq!(by_key(&seen), by_key(&want), "query {j}");
    }
    let limited = limited.rest().await;
    let limited: Vec<usize> = limited
        .lines()
        .filter_map(|l| serde_json::from_str::<Vec<usize>>(l).ok())
        .map(|row| row[0])
        .collect();
    assert_eq!(limited.len(), 3, "{limited:?}");
    assert!(limited.iter().all(|v| v % 2 == 1), "{limited:?}");

    let decoded = server.engine.shared_records_decoded() - decoded_before;
    assert!(decoded > 0, "no query took decoded records from another");
    assert!(decoded <= (QUERIES * expected.len()) as u64, "{decoded}");
    server.stop().await;
}

/// A shared decode decodes only the columns its members read as values; a member that
/// joins reading one more (D, in its WHERE and an expression) must not be served rows
/// decoded without it, and the members before it keep seeing their rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_query_reading_more_columns_joins_a_decode_group_correctly() {
    const NARROW: usize = 4;
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let mut narrow = Vec::new();
    for j in 0..NARROW {
        let sql = format!("SELECT * FROM s WHERE v % {NARROW} = {j} EMIT CHANGES;");
        narrow.push(
            start_query(&mut client, query_body(&sql, false), None)
                .await
                .1,
        );
    }
    wait_for_queries(&server, NARROW).await;
    let rows = |from: usize, to: usize| -> String {
        (from..to)
            .map(|v| format!("{{\"K\":\"k{v}\",\"V\":{v},\"D\":{v}.5}}\n"))
            .collect()
    };
    // Each narrow query's next rows (two partitions: in order within each, so compare
    // sorted), checking every row's D against its V.
    async fn narrow_rows(lines: &mut LineReader, want: Vec<usize>, j: usize) {
        let mut seen = Vec::new();
        for _ in 0..want.len() {
            let line = lines.next_line().await.expect("row");
            let row: serde_json::Value = serde_json::from_str(&line).expect("json");
            let v = row[1].as_u64().expect("V") as usize;
            assert_eq!(row[0], json!(format!("k{v}")), "query {j}: {line}");
            assert_eq!(row[2], json!(v as f64 + 0.5), "query {j}: {line}");
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, want, "query {j}");
    }
    insert(&server, &rows(0, 40)).await;
    // Read the first rows, so the group's batches of them are decoded (without D).
    for (j, lines) in narrow.iter_mut().enumerate() {
        narrow_rows(lines, (0..40).filter(|v| v % NARROW == j).collect(), j).await;
    }
    let (_, mut wide) = start_query(
        &mut client,
        query_body(
            "SELECT v, d * 2 AS dd FROM s WHERE d > 50.0 EMIT CHANGES;",
            false,
        ),
        None,
    )
    .await;
    wait_for_queries(&server, NARROW + 1).await;
    insert(&server, &rows(40, 100)).await;
    let mut seen = Vec::new();
    for _ in 50..100 {
        let line = wide.next_line().await.expect("row");
        let row: serde_json::Value = serde_json::from_str(&line).expect("json");
        let v = row[0].as_u64().expect("V") as usize;
        assert_eq!(row[1], json!((v as f64 + 0.5) * 2.0), "{line}");
        seen.push(v);
    }
    seen.sort_unstable();
    assert_eq!(seen, (50..100).collect::<Vec<_>>());
    for (j, lines) in narrow.iter_mut().enumerate() {
        narrow_rows(lines, (40..100).filter(|v| v % NARROW == j).collect(), j).await;
    }
    server.stop().await;
}

/// Push queries whose WHERE is `E = literal` read only their literal's rows of a shared
/// batch (rows bucketed by `E` once), and still see exactly what their filter passes: string
/// keys, an AND, a DOUBLE column against an integer literal (no bucket: every filter
/// decides), and rows whose `E` is NULL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucketed_push_queries_see_exactly_their_rows() {
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let filters = [
        "k = 'k1'",
        "'k2' = k",
        "v % 2 = 0 AND d > 10",
        "d = 3",
        "v % 2 = 1",
    ];
    let mut queries = Vec::new();
    for f in filters {
        let sql = format!("SELECT v FROM s WHERE {f} EMIT CHANGES;");
        queries.push(
            start_query(&mut client, query_body(&sql, false), None)
                .await
                .1,
        );
    }
    wait_for_queries(&server, filters.len()).await;
    // v 0..40; k cycles k0..k2; d = v except every 5th row, whose d and v are null.
    let mut rows = String::new();
    let mut expected: Vec<Vec<i64>> = vec![Vec::new(); filters.len()];
    for v in 0..40i64 {
        let k = format!("k{}", v % 3);
        if v % 5 == 4 {
            rows.push_str(&format!("{{\"K\":\"{k}\",\"V\":null,\"D\":null}}\n"));
            continue;
        }
        rows.push_str(&format!("{{\"K\":\"{k}\",\"V\":{v},\"D\":{v}}}\n"));
        let passes = [
            k == "k1",
            k == "k2",
            v % 2 == 0 && v > 10,
            v == 3,
            v % 2 == 1,
        ];
        for (j, pass) in passes.into_iter().enumerate() {
            if pass {
                expected[j].push(v);
            }
        }
    }
    // Null-v rows still pass the key filters.
    for v in (0..40i64).filter(|v| v % 5 == 4) {
        for (j, k) in ["k1", "k2"].iter().enumerate() {
            if format!("k{}", v % 3) == *k {
                expected[j].push(-1);
            }
        }
    }
    insert(&server, &rows).await;
    for (j, lines) in queries.iter_mut().enumerate() {
        let mut seen = Vec::new();
        for _ in 0..expected[j].len() {
            let line = lines.next_line().await.expect("row");
            let row: Vec<Option<i64>> = serde_json::from_str(&line).expect("a row");
            seen.push(row[0].unwrap_or(-1));
        }
        seen.sort_unstable();
        let mut want = expected[j].clone();
        want.sort_unstable();
        assert_eq!(seen, want, "{}", filters[j]);
    }
    // A later batch is bucketed afresh: one more row, passing only the last filter.
    insert(&server, "{\"K\":\"k0\",\"V\":41,\"D\":41}\n").await;
    let last = queries.last_mut().expect("queries");
    assert_eq!(last.next_line().await.expect("row"), "[41]");
    server.stop().await;
}

/// The decoded records a group shares go once every member has read them: queries that
/// keep up leave only the last commits held, not a window of everything recent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_decoding_lets_go_of_what_every_query_read() {
    const BATCHES: usize = 20;
    const ROWS_PER_BATCH: usize = 25;
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let mut queries = Vec::new();
    for j in 0..2 {
        let sql = format!("SELECT v FROM s WHERE v % 2 = {j} EMIT CHANGES;");
        queries.push(
            start_query(&mut client, query_body(&sql, false), None)
                .await
                .1,
        );
    }
    wait_for_queries(&server, 2).await;
    for b in 0..BATCHES {
        let rows: String = (0..ROWS_PER_BATCH)
            .map(|r| format!("{{\"K\":\"k\",\"V\":{}}}\n", b * ROWS_PER_BATCH + r))
            .collect();
        insert(&server, &rows).await;
        // Both queries read the whole batch before the next one is written.
        for (j, lines) in queries.iter_mut().enumerate() {
            let batch = b * ROWS_PER_BATCH..(b + 1) * ROWS_PER_BATCH;
            for v in batch.filter(|v| v % 2 == j) {
                let line = lines.next_line().await.expect("row");
                assert_eq!(line, format!("[{v}]"), "query {j}");
            }
        }
    }
    let held = server.engine.shared_records_held();
    assert!(
        held <= 2 * ROWS_PER_BATCH,
        "{held} decoded records held after every query read all {} rows",
        BATCHES * ROWS_PER_BATCH
    );
    server.stop().await;
}

/// Identical push queries share each read's result rows (one reads and decodes, the rest
/// copy), and every one still sees every row, in order, exactly once; a query that differs
/// and one that starts later from earliest are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_push_queries_share_results_and_each_sees_every_row() {
    const IDENTICAL: usize = 8;
    const BATCHES: usize = 5;
    const ROWS_PER_BATCH: usize = 20;
    let server = TestServer::start().await;
    server.ksql_ok(CREATE).await;
    let mut client = server.h2().await;
    let sql = "SELECT * FROM s EMIT CHANGES;";
    let mut identical = Vec::new();
    for _ in 0..IDENTICAL {
        identical.push(
            start_query(&mut client, query_body(sql, false), None)
                .await
                .1,
        );
    }
    let (_, mut narrow) = start_query(
        &mut client,
        query_body("SELECT v FROM s EMIT CHANGES;", false),
        None,
    )
    .await;
    wait_for_queries(&server, IDENTICAL + 1).await;
    let shared_before = server.engine.shared_rows_taken();

    let mut expected = Vec::new();
    for b in 0..BATCHES {
        let mut rows = String::new();
        for r in 0..ROWS_PER_BATCH {
            let v = b * ROWS_PER_BATCH + r;
            rows.push_str(&format!("{{\"K\":\"k{}\",\"V\":{v},\"D\":{v}.5}}\n", v % 3));
            expected.push(v);
        }
        insert(&server, &rows).await;
    }
    let total = expected.len();
    // Rows of one key land on one partition, so per key they arrive in insert order.
    let by_key = |vs: &[usize]| -> Vec<Vec<usize>> {
        (0..3)
            .map(|k| vs.iter().copied().filter(|v| v % 3 == k).collect())
            .collect()
    };
    for lines in &mut identical {
        let mut seen = Vec::new();
        for _ in 0..total {
            let line = lines.next_line().await.expect("row");
            let row: serde_json::Value = serde_json::from_str(&line).expect("json");
            let v = row[1].as_u64().expect("V") as usize;
            assert_eq!(row[0], json!(format!("k{}", v % 3)), "{line}");
            assert_eq!(row[2], json!(v as f64 + 0.5), "{line}");
            seen.push(v);
        }
        assert_eq!(by_key(&seen), by_key(&expected));
    }
    let mut narrow_seen = Vec::new();
    for _ in 0..total {
        let line = narrow.next_line().await.expect("row");
        let row: Vec<usize> = serde_json::from_str(&line).expect("json");
        narrow_seen.extend(row);
    }
    assert_eq!(by_key(&narrow_seen), by_key(&expected));

    // Only two workers serve eight identical queries, so most reads find a batch another
    // query already made.
    let shared = server.engine.shared_rows_taken() - shared_before;
    assert!(shared > 0, "no rows were shared");
    assert!(shared <= ((IDENTICAL - 1) * total) as u64, "{shared}");

    // A late query from earliest reads the whole topic, shared batches or not.
    let (_, mut late) = start_query(&mut client, query_body(sql, true), None).await;
    let mut late_seen = Vec::new();
    for _ in 0..total {
        let line = late.next_line().await.expect("row");
        let row: serde_json::Value = serde_json::from_str(&line).expect("json");
        late_seen.push(row[1].as_u64().expect("V") as usize);
    }
    assert_eq!(by_key(&late_seen), by_key(&expected));
    server.stop().await;
}

/// The DATA frames of a `/query-stream` answer to `sql`, and its `content-length` header.
async fn answer_frames(
    server: &TestServer,
    proto: support::Proto,
    sql: &str,
) -> (Vec<bytes::Bytes>, Option<String>) {
    answer_frames_with(server, proto, sql, json!({})).await
}

/// [`answer_frames`] with query `properties`.
async fn answer_frames_with(
    server: &TestServer,
    proto: support::Proto,
    sql: &str,
    properties: serde_json::Value,
) -> (Vec<bytes::Bytes>, Option<String>) {
    use http_body_util::BodyExt;
    let mut client = Client::connect(server.addr, proto).await;
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    let body = json!({"sql": sql, "properties": properties}).to_string();
    tx.send_data(body.into()).await.expect("send");
    drop(tx);
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let length = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .map(|v| v.to_str().expect("ascii").to_string());
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    while let Some(frame) = tokio::time::timeout(WAIT, body.frame())
        .await
        .expect("frame in time")
    {
        if let Ok(data) = frame.expect("frame").into_data() {
            frames.push(data);
        }
    }
    (frames, length)
}

/// A key lookup's answer is one body (on HTTP/2 one DATA frame, or with
/// `sluice.query.result.frames=row` its header and its row each a frame of their own, as
/// ksqlDB writes them; a sized body on HTTP/1.1); an answer larger than the inline limit
/// streams in batches of rows and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_answers_are_one_body_until_they_are_large() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM docs (id INT KEY, body STRING) WITH (kafka_topic='docs', value_format='JSON', partitions=1);")
        .await;
    server
        .ksql_ok("CREATE TABLE latest AS SELECT id, LATEST_BY_OFFSET(body) AS body FROM docs GROUP BY id;")
        .await;
    let rows = 600;
    let text = |i: usize| format!("{i:04}").repeat(250);
    let mut body = String::from("{\"target\":\"docs\"}\n");
    for i in 0..rows {
        body.push_str(&json!({"ID": i, "BODY": text(i)}).to_string());
        body.push('\n');
    }
    let (status, acks) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&acks).contains("error"));
    support::wait_all_caught_up(server.addr, 1).await;

    let lookup = "SELECT * FROM latest WHERE id = 7;";
    let by_row = json!({"sluice.query.result.frames": "row"});
    let (frames, _) = answer_frames_with(&server, support::Proto::H2, lookup, by_row).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    let lines: Vec<&str> = frames
        .iter()
        .map(|f| std::str::from_utf8(f).expect("utf8"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with('\n') && l.matches('\n').count() == 1),
        "{lines:?}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(lines[1]).expect("row"),
        json!([7, text(7)])
    );
    let (frames, length) = answer_frames(&server, support::Proto::H1, lookup).await;
    let whole: usize = frames.iter().map(|f| f.len()).sum();
    assert_eq!(length, Some(whole.to_string()), "a sized HTTP/1.1 body");
    // By default (or `sluice.query.result.frames=batch`): the whole answer in one frame.
    for props in [json!({}), json!({"sluice.query.result.frames": "batch"})] {
        let (frames, _) = answer_frames_with(&server, support::Proto::H2, lookup, props).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(
            std::str::from_utf8(&frames[0])
                .expect("utf8")
                .lines()
                .count(),
            2
        );
    }

    // 600 rows of 1 KiB: more than `PULL_ANSWER_INLINE_BYTES_MAX`, so it streams.
    let (frames, length) =
        answer_frames(&server, support::Proto::H2, "SELECT * FROM latest;").await;
    // (Then an empty frame ends the stream: the rows streamed, in batches.)
    let data_frames = frames.iter().filter(|f| !f.is_empty()).count();
    assert!(
        data_frames > 1 && data_frames < rows / 10,
        "{data_frames} frames"
    );
    assert_eq!(length, None);
    let whole: Vec<u8> = frames.concat();
    let mut ids: Vec<i64> = std::str::from_utf8(&whole)
        .expect("utf8")
        .lines()
        .skip(1)
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).expect("a whole row");
            let id = row[0].as_i64().expect("id");
            assert_eq!(row[1], json!(text(id as usize)));
            id
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>());
    server.stop().await;
}

/// A pull answer of many small rows reaches a hyper (h2) client whole: as a frame per row
/// it tripped h2's flood guard (`GOAWAY ENHANCE_YOUR_CALM "too_many_data_frames"` once
/// ~10k frames under 256 bytes waited unread), which every Rust HTTP/2 client inherits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_pull_answer_of_small_rows_reaches_a_hyper_client() {
    use http_body_util::BodyExt;
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM small (k STRING KEY, v BIGINT) WITH (kafka_topic='small', value_format='JSON', partitions=1);")
        .await;
    let rows = 30_000;
    let mut body = String::from("{\"target\":\"small\"}\n");
    for i in 0..rows {
        body.push_str(&format!("{{\"K\":\"a\",\"V\":{i}}}\n"));
    }
    let (status, _) = server.h2().await.post("/inserts-stream", &body).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        let mut client = Client::connect(server.addr, support::Proto::H2).await;
        let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
        tx.send_data(bytes::Bytes::from_static(
            br#"{"sql":"SELECT v FROM small;"}"#,
        ))
        .await
        .expect("send");
        drop(tx);
        let resp = response(resp).await;
        assert_eq!(resp.status(), StatusCode::OK);
        // A reader that is late (a busy client): the answer waits in its buffers meanwhile.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let answer = tokio::time::timeout(WAIT, resp.into_body().collect())
            .await
            .expect("body in time")
            .expect("the whole body, no GOAWAY")
            .to_bytes();
        let text = std::str::from_utf8(&answer).expect("utf8");
        let values: Vec<i64> = text
            .lines()
            .skip(1)
            .map(|l| serde_json::from_str::<Vec<i64>>(l).expect("a row")[0])
            .collect();
        assert_eq!(values, (0..rows).collect::<Vec<i64>>());
    }
    server.stop().await;
}

/// A scalable push query (`ksql.query.push.v2.enabled`, `latest`, over a CSAS sink) skips
/// what ksqlDB's scalable push consumer skips: a record without a key of a source that has
/// key columns, and a tombstone. A plain push query on the same sink shows the keyless
/// row (RQTT "scalable-push-queries - non-windowed stream with nulls" and its push twin).
#[tokio::test]
async fn scalable_push_queries_skip_keyless_records_plain_ones_show_them() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM i (k INT KEY, id INT) WITH (kafka_topic='i', value_format='JSON', partitions=1); \
             CREATE STREAM o AS SELECT * FROM i;",
        )
        .await;
    let mut started = Vec::new();
    for v2 in [true, false] {
        let mut client = server.h2().await;
        let props = json!({"ksql.query.push.v2.enabled": v2, "auto.offset.reset": "latest"});
        let body = json!({"sql": "SELECT * FROM o EMIT CHANGES LIMIT 2;", "properties": props});
        let (header, lines) = start_query(&mut client, body.to_string(), None).await;
        let id = serde_json::from_str::<serde_json::Value>(&header).expect("header")["queryId"]
            .as_str()
            .expect("queryId")
            .to_string();
        assert_eq!(id.starts_with("SCALABLE_PUSH_QUERY_"), v2, "{id}");
        started.push((v2, lines, client));
    }
    wait_for_queries(&server, 2).await;
    server
        .ksql_ok(
            "INSERT INTO i (id) VALUES (110); INSERT INTO i (k, id) VALUES (11, 111); \
             INSERT INTO i (k, id) VALUES (12, 112);",
        )
        .await;
    for (v2, lines, _client) in started {
        let rows: Vec<serde_json::Value> = lines
            .rest()
            .await
            .lines()
            .map(|l| serde_json::from_str(l).expect("row"))
            .collect();
        let want = match v2 {
            true => [json!([11, 111]), json!([12, 112])],
            false => [json!([null, 110]), json!([11, 111])],
        };
        assert_eq!(rows, want, "scalable: {v2}");
    }
}
