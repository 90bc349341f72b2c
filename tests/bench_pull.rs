//! `sluice bench --pull-queries` end to end: a short run of the real binary against an
//! in-process server with a small table, checking every lookup got exactly its key's row.

mod support;

use std::process::Command;

use support::{TestServer, WAIT};

/// Runs `sluice bench --pull-queries` on `endpoint` over a `table` (`ctas` or `source`)
/// against `server` and returns its report.
async fn pull_bench(server: &TestServer, endpoint: &str, table: &str) -> serde_json::Value {
    let args: Vec<String> = [
        "bench",
        "--addr",
        &server.addr.to_string(),
        // The server runs in this process.
        "--server-pid",
        &std::process::id().to_string(),
        "--pull-queries",
        "--pull-keys",
        "500",
        "--pull-connections",
        "2",
        "--pull-in-flight",
        "4",
        "--pull-duration",
        "1",
        "--pull-endpoint",
        endpoint,
        "--pull-table",
        table,
        "--json",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(&args)
            .output()
            .expect("runs sluice bench")
    });
    let out = tokio::time::timeout(WAIT * 3, run)
        .await
        .expect("bench finishes in time")
        .expect("join");
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    support::json(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_queries_get_their_rows_without_errors() {
    let server = TestServer::start().await;
    // Each run finds the last one's leftovers gone and sets up again.
    for (endpoint, path, table) in [
        ("query-stream", "/query-stream", "ctas"),
        ("query", "/query", "ctas"),
        ("query-stream", "/query-stream", "source"),
    ] {
        let report = pull_bench(&server, endpoint, table).await;
        assert_eq!(report["ok"], true, "{report:#}");
        assert_eq!(report["config"]["endpoint"], path, "{report:#}");
        assert_eq!(report["config"]["table_kind"], table, "{report:#}");
        assert_eq!(report["loaded_rows"], 500, "{report:#}");
        let ok = report["queries_ok"].as_u64().expect("a count");
        assert!(ok > 0, "{report:#}");
        assert_eq!(report["wrong_rows"], 0, "{report:#}");
        assert_eq!(report["empty_answers"], 0, "{report:#}");
        assert_eq!(report["failed"], 0, "{report:#}");
        assert_eq!(report["latency"]["count"], ok, "{report:#}");
        assert!(report["errors"].as_array().expect("errors").is_empty());
        assert!(report["server"]["cpu_us_per_query"].is_number());
        // The run cleans up after itself: the table, its query and its stream are gone.
        let tables = server.ksql_ok("SHOW TABLES;").await.to_string();
        assert!(!tables.contains("BENCH_PULL"), "{tables}");
        let queries = server.ksql_ok("SHOW QUERIES;").await.to_string();
        assert!(!queries.contains("CTAS_BENCH_PULL"), "{queries}");
        let streams = server.ksql_ok("SHOW STREAMS;").await.to_string();
        assert!(!streams.contains("BENCH_PULL_SRC"), "{streams}");
    }
    server.stop().await;
}

#[test]
fn refuses_unbounded_pull_runs() {
    for (flag, value) in [
        ("--pull-keys", "0"),
        ("--pull-in-flight", "5000"),
        ("--pull-duration", "0"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["bench", "--pull-queries", flag, value])
            .output()
            .expect("runs");
        assert!(!out.status.success(), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
