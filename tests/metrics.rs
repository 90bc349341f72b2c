//! `GET /metrics` over real HTTP/1.1 and HTTP/2: the counters move after inserts, a push
//! query and a persistent query, a stateful query's state commits are timed, in both
//! exposition formats.

mod support;

use std::collections::HashMap;

use http::StatusCode;
use support::TestServer;

/// Reads a scrape into `name{labels} -> value` (labels as written, sorted by the encoder).
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(server: &TestServer, accept: Option<&str>) -> (String, String) {
    let (status, headers, body) = server
        .h1()
        .await
        .send(
            "GET",
            "/metrics",
            &accept
                .map(|a| ("accept", a))
                .into_iter()
                .collect::<Vec<_>>(),
            b"",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers["content-type"].to_str().expect("ascii").to_string();
    (
        content_type,
        String::from_utf8(body.to_vec()).expect("utf-8"),
    )
}

/// Scrapes until `done` holds of a scrape (or the test's wait runs out): the last scrape.
async fn scrape_until(
    server: &TestServer,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> (String, HashMap<String, f64>) {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let (_, text) = scrape(server, None).await;
        let m = parse(&text);
        if done(&m) || tokio::time::Instant::now() > deadline {
            return (text, m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts histogram `name` counted at least one observation, consistently (its `+Inf`
/// bucket holds every one, its sum is positive); returns the count.
fn assert_observed(metrics: &HashMap<String, f64>, name: &str) -> f64 {
    let count = value(metrics, &format!("{name}_count"));
    assert!(count >= 1.0, "{name}: {count}");
    assert_eq!(
        value(metrics, &format!("{name}_bucket{{le=\"+Inf\"}}")),
        count,
        "{name}"
    );
    assert!(value(metrics, &format!("{name}_sum")) > 0.0, "{name}");
    count
}

fn value(metrics: &HashMap<String, f64>, series: &str) -> f64 {
    *metrics
        .get(series)
        .unwrap_or_else(|| panic!("no series {series} in {metrics:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_after_inserts_and_queries() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM pv (k STRING KEY, v INT) WITH (kafka_topic='pv', value_format='JSON', partitions=2);
             CREATE STREAM big AS SELECT k, v FROM pv WHERE v > 1 EMIT CHANGES;",
        )
        .await;

    let (content_type, before) = scrape(&server, None).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let before = parse(&before);
    assert_eq!(
        before.get("sluice_stream_rows_in_total{stream=\"PV\"}"),
        None
    );
    // This scrape's own connection is open while it is served.
    assert!(value(&before, "sluice_connections_open") >= 1.0);
    assert!(value(&before, "process_resident_memory_bytes") > 0.0);
    assert!(value(&before, "process_threads") >= 1.0);
    assert!(value(&before, "process_open_fds") >= 3.0);
    assert_eq!(value(&before, "sluice_push_queries_open"), 0.0);
    assert_eq!(value(&before, "sluice_state_store_bytes"), 0.0);
    assert_eq!(value(&before, "sluice_table_views_bytes"), 0.0);

    // A push query from the start of the stream, waiting for three rows.
    let mut h2 = server.h2().await;
    let (query_tx, query) = h2.open("POST", "/query-stream", None).await;
    let mut query_tx = query_tx;
    query_tx
        .send_data(bytes::Bytes::from_static(
            br#"{"sql":"SELECT k, v FROM pv EMIT CHANGES LIMIT 3;","properties":{"auto.offset.reset":"earliest"}}"#,
        ))
        .await
        .expect("query sent");
    drop(query_tx);
    let query = support::response(query).await;
    assert_eq!(query.status(), StatusCode::OK);
    let mut rows = support::LineReader::new(query.into_body());
    let header = rows.next_line().await.expect("query header");
    let query_id = support::json(header.as_bytes())["queryId"]
        .as_str()
        .expect("query id")
        .to_string();

    let (_, during) = scrape(&server, None).await;
    let during = parse(&during);
    assert_eq!(value(&during, "sluice_push_queries_open"), 1.0);

    let body = "{\"target\":\"pv\"}\n{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"v\":2}\n{\"k\":\"c\",\"v\":3}\n";
    let (status, acks) = h2.post("/inserts-stream", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&acks).lines().count(),
        3,
        "{acks:?}"
    );
    // The three rows reach the query, which then ends at its LIMIT.
    let rest = tokio::time::timeout(support::WAIT, rows.rest())
        .await
        .expect("query ends");
    assert_eq!(rest.lines().count(), 3, "{rest}");

    // The persistent query has processed its source (the scrape reads its lag).
    let (text, after) = scrape_until(&server, |m| {
        m.iter()
            .any(|(k, v)| k.starts_with("sluice_persistent_query_rows_in_total{") && *v == 3.0)
    })
    .await;

    assert_eq!(
        value(&after, "sluice_stream_rows_in_total{stream=\"PV\"}"),
        3.0
    );
    // Rows a persistent query wrote count as rows into its sink stream.
    assert_eq!(
        value(&after, "sluice_stream_rows_in_total{stream=\"BIG\"}"),
        2.0
    );
    // The body as sent (the arguments line included): every byte is counted once.
    assert_eq!(
        value(&after, "sluice_stream_in_bytes_total{stream=\"PV\"}"),
        body.len() as f64
    );
    assert_eq!(
        value(&after, "sluice_stream_insert_errors_total{stream=\"PV\"}"),
        0.0
    );
    assert_eq!(
        value(&after, "sluice_stream_rows_out_total{stream=\"PV\"}"),
        3.0
    );
    assert!(value(&after, "sluice_stream_out_bytes_total{stream=\"PV\"}") > 0.0);
    // The query ended: its own series went with it.
    assert!(
        !text.contains(&query_id),
        "series of ended query {query_id} left behind:\n{text}"
    );
    assert_eq!(value(&after, "sluice_push_queries_open"), 0.0);

    // One ack batch (the three rows came in one read) and one fsync at least per partition
    // written (group commit).
    assert_observed(&after, "sluice_insert_ack_latency_seconds");
    assert!(value(&after, "sluice_log_fsync_latency_seconds_count") >= 2.0);
    assert!(value(&after, "sluice_push_query_e2e_latency_seconds_count") >= 1.0);

    let persistent = "{query_id=\"CSAS_BIG_1\",source=\"PV\",sink=\"BIG\"}";
    assert_eq!(
        value(
            &after,
            &format!("sluice_persistent_query_rows_in_total{persistent}")
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            &format!("sluice_persistent_query_rows_out_total{persistent}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &after,
            &format!("sluice_persistent_query_lag_records{persistent}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &after,
            &format!("sluice_persistent_query_errors_total{persistent}")
        ),
        0.0
    );
    assert_eq!(
        value(
            &after,
            &format!("sluice_persistent_query_failed{persistent}")
        ),
        0.0
    );

    // A pull query over a SOURCE table keeps its rows (three keys) in memory.
    server
        .ksql_ok("CREATE SOURCE TABLE pv_now (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='pv', value_format='JSON');")
        .await;
    let (status, answer) = h2
        .post("/query-stream", r#"{"sql":"SELECT * FROM pv_now;"}"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&answer).lines().count(),
        4,
        "{answer:?}"
    );
    let (_, text) = scrape(&server, None).await;
    let held = value(&parse(&text), "sluice_table_views_bytes");
    assert!(held > 3.0 * 10.0, "{held}");

    // A bad row: the session ends with an error ack, counted for its stream.
    let (status, _) = h2
        .post(
            "/inserts-stream",
            "{\"target\":\"pv\"}\n{\"v\":\"not a number\"}\n",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, text) = scrape(&server, None).await;
    assert_eq!(
        value(
            &parse(&text),
            "sluice_stream_insert_errors_total{stream=\"PV\"}"
        ),
        1.0
    );
    server.stop().await;
}

/// A stateful query's state commits land beside it, so their durations get their own
/// histogram: none before any stateful query, and counted once one has committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commits_are_timed() {
    let server = TestServer::start().await;
    let (_, before) = scrape(&server, None).await;
    let before = parse(&before);
    assert_eq!(
        value(&before, "sluice_state_commit_latency_seconds_count"),
        0.0
    );
    server
        .ksql_ok(
            "CREATE STREAM clicks (user STRING KEY, n INT) WITH (kafka_topic='clicks', value_format='JSON', partitions=1);
             CREATE TABLE per_user AS SELECT user, COUNT(*) AS c FROM clicks GROUP BY user EMIT CHANGES;",
        )
        .await;
    let body = "{\"target\":\"clicks\"}\n{\"user\":\"a\",\"n\":1}\n{\"user\":\"b\",\"n\":2}\n";
    let (status, _) = server.h2().await.post("/inserts-stream", body).await;
    assert_eq!(status, StatusCode::OK);
    // The query commits its state once it has read the rows and gone idle.
    let (_, after) = scrape_until(&server, |m| {
        value(m, "sluice_state_commit_latency_seconds_count") >= 1.0
    })
    .await;
    assert_observed(&after, "sluice_state_commit_latency_seconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_on_request_and_over_http2() {
    let server = TestServer::start().await;
    let (content_type, text) =
        scrape(&server, Some("application/openmetrics-text; version=1.0.0")).await;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE sluice_log_fsync_latency_seconds histogram"));

    let (status, body) = server
        .h2()
        .await
        .request("GET", "/metrics", None, b"")
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(
        text.contains("# TYPE sluice_connections_open gauge"),
        "{text}"
    );
    assert!(!text.contains("# EOF"));

    // Only GET: other methods fall through to ksqlDB's 404.
    let (status, _) = server
        .h2()
        .await
        .request("POST", "/metrics", None, b"")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}
