//! Crash test for persistent queries: a child `sluice serve` runs a CSAS while rows stream
//! into its source, and is killed with SIGKILL mid-flight. After each restart the query
//! resumes, and once caught up its sink holds exactly one output per source row: no
//! duplicates (an unfinished batch re-run twice) and no gaps (a batch lost).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use http::StatusCode;
use serde_json::json;
use support::child::{crash_rounds, CrashScenario};
use support::{Client, Proto};

const ROUNDS: u64 = 3;
const SOURCE_PARTITIONS: u32 = 4;
/// Different from the source's, so one batch writes to several sink partitions.
const SINK_PARTITIONS: u32 = 3;

fn source_row(i: u64) -> String {
    format!("{{\"K\":\"key{}\",\"V\":{i}}}", i % 37)
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
    let scenario = CrashScenario {
        setup: vec![
            format!("CREATE STREAM src (k STRING KEY, v BIGINT) WITH (kafka_topic='src', value_format='JSON', partitions={SOURCE_PARTITIONS});"),
            format!("CREATE STREAM dst WITH (PARTITIONS={SINK_PARTITIONS}) AS SELECT k, v FROM src WHERE v >= 0;"),
        ],
        settle_after_setup: false,
        stream: "src",
        row: source_row,
        kill_at: |round| 3_000 + round * 2_000,
    };
    crash_rounds(&scenario, ROUNDS, |addr| async move {
        support::wait_all_caught_up(addr, 1).await;
        let source = values(addr, "src").await;
        let sink = values(addr, "dst").await;
        check(&source, &sink);
    });
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
