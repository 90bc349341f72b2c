//! Crash test for persistent queries: a child `sluice serve` runs a CSAS while rows stream
//! into its source, and is killed with SIGKILL mid-flight. After each restart the query
//! resumes, and once caught up its sink holds exactly one output per source row: no
//! duplicates (an unfinished batch re-run twice) and no gaps (a batch lost).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::child::{kill_after_acks, produce_until_killed, ChildServer};
use support::{Client, Proto, WAIT};

const ROUNDS: u64 = 3;
/// Rows a producer may send per round before the kill lands (a bound, not a target).
const ROWS_PER_ROUND_MAX: u64 = 1_000_000;
const SOURCE_PARTITIONS: u32 = 4;
/// Different from the source's, so one batch writes to several sink partitions.
const SINK_PARTITIONS: u32 = 3;

fn source_row(i: u64) -> String {
    format!("{{\"K\":\"key{}\",\"V\":{i}}}", i % 37)
}

async fn query_id(addr: SocketAddr) -> String {
    let (status, body) = Client::connect(addr, Proto::H2)
        .await
        .ksql("SHOW QUERIES;")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body[0]["queries"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a persistent query: {body}"))
        .to_string()
}

async fn wait_caught_up(addr: SocketAddr, id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    let mut c = Client::connect(addr, Proto::H2).await;
    loop {
        let (status, bytes) = c
            .request("GET", &format!("/queries/{id}/progress"), None, b"")
            .await;
        let body = support::json(&bytes);
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["caughtUp"] == true {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not caught up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every V in `stream` (a pull query reads to the current end).
async fn values(addr: SocketAddr, stream: &str) -> Vec<i64> {
    let (status, bytes) = Client::connect(addr, Proto::H2)
        .await
        .post(
            "/query-stream",
            &json!({"sql": format!("SELECT V FROM {stream};")}).to_string(),
        )
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    text.lines()
        .skip(1)
        .map(|l| {
            let row: Vec<i64> = serde_json::from_str(l).expect("a whole row");
            row[0]
        })
        .collect()
}

#[test]
fn csas_output_is_exactly_once_across_sigkill() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let mut next_first = 0u64;
    for round in 0..ROUNDS {
        let server = ChildServer::start(dir.path());
        let addr = server.addr;
        let acked = Arc::new(AtomicU64::new(0));
        runtime.block_on(async {
            if round == 0 {
                let mut c = Client::connect(addr, Proto::H2).await;
                let (status, body) = c
                    .ksql(&format!("CREATE STREAM src (k STRING KEY, v BIGINT) WITH (kafka_topic='src', value_format='JSON', partitions={SOURCE_PARTITIONS});"))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let (status, body) = c
                    .ksql(&format!("CREATE STREAM dst WITH (PARTITIONS={SINK_PARTITIONS}) AS SELECT k, v FROM src WHERE v >= 0;"))
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            let producer = tokio::spawn(produce_until_killed(
                addr,
                "src",
                next_first,
                ROWS_PER_ROUND_MAX,
                source_row,
                Arc::clone(&acked),
            ));
            kill_after_acks(server, producer, &acked, 3_000 + round * 2_000).await;
        });
        next_first += ROWS_PER_ROUND_MAX;

        let server = ChildServer::start(dir.path());
        runtime.block_on(async {
            let id = query_id(server.addr).await;
            wait_caught_up(server.addr, &id).await;
            let source = values(server.addr, "src").await;
            let sink = values(server.addr, "dst").await;
            check(&source, &sink);
        });
        server.kill();
    }
}

fn check(source: &[i64], sink: &[i64]) {
    let mut count: HashMap<i64, i32> = HashMap::new();
    for v in source {
        *count.entry(*v).or_default() += 1;
    }
    assert!(count.values().all(|&c| c == 1), "source rows are unique");
    for v in sink {
        *count.entry(*v).or_default() -= 1;
    }
    let duplicated: Vec<_> = count.iter().filter(|(_, &c)| c < 0).take(5).collect();
    let missing: Vec<_> = count.iter().filter(|(_, &c)| c > 0).take(5).collect();
    assert!(
        duplicated.is_empty(),
        "sink rows written twice: {duplicated:?}"
    );
    assert!(
        missing.is_empty(),
        "source rows missing from the sink: {missing:?}"
    );
    assert_eq!(source.len(), sink.len());
}
