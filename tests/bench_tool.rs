//! `sluice bench` end to end: a tiny run of the real binary against an in-process server,
//! checking the JSON report's counts (every row acked, every acked row pushed once).

mod support;

use std::process::Command;

use support::{TestServer, WAIT};

fn bench(args: &[String]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("bench")
        .args(args)
        .output()
        .expect("runs sluice bench");
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    support::json(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_run_acks_and_pushes_every_row_once() {
    let server = TestServer::start().await;
    let args: Vec<String> = [
        "--addr",
        &server.addr.to_string(),
        // The server runs in this process.
        "--server-pid",
        &std::process::id().to_string(),
        "--rows",
        "2000",
        "--producers",
        "1",
        "--queries",
        "1",
        "--chunk-rows",
        "100",
        "--duration",
        "30",
        "--catch-up",
        "--json",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let report = tokio::time::timeout(WAIT * 3, tokio::task::spawn_blocking(move || bench(&args)))
        .await
        .expect("bench finishes in time")
        .expect("join");

    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["sent_rows"], 2000);
    assert_eq!(report["acked_rows"], 2000);
    assert_eq!(report["ack_latency"]["count"], 2000);
    let consumer = &report["consumers"][0];
    assert_eq!(consumer["rows"], 2000, "{report:#}");
    assert_eq!(consumer["missing"], 0);
    assert_eq!(consumer["duplicates"], 0);
    assert_eq!(consumer["unparsed"], 0);
    assert_eq!(report["e2e_latency"]["count"], 2000);
    let catch_up = &report["catch_up"];
    assert_eq!(catch_up["rows"], 2000, "{report:#}");
    assert_eq!(catch_up["missing"], 0);
    assert!(report["server"]["rss_bytes"].as_u64().expect("rss") > 0);
    assert!(report["errors"].as_array().expect("errors").is_empty());
    server.stop().await;
}

/// `--query-filter distinct`: five push queries with different WHERE clauses split two
/// streams' rows (the k-th of a stream's queries gets `ID % n = k`), and together they see
/// every acked row exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_query_filters_split_the_rows_between_the_queries() {
    let server = TestServer::start().await;
    let args: Vec<String> = [
        "--addr",
        &server.addr.to_string(),
        "--rows",
        "3000",
        "--producers",
        "2",
        "--streams",
        "2",
        "--queries",
        "5",
        "--query-filter",
        "distinct",
        "--chunk-rows",
        "100",
        "--duration",
        "30",
        "--json",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let report = tokio::time::timeout(WAIT * 3, tokio::task::spawn_blocking(move || bench(&args)))
        .await
        .expect("bench finishes in time")
        .expect("join");

    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["acked_rows"], 3000);
    assert_eq!(report["config"]["query_filter"], "distinct");
    let consumers = report["consumers"].as_array().expect("consumers");
    assert_eq!(consumers.len(), 5);
    let mut total = 0;
    for c in consumers {
        assert_eq!(c["missing"], 0, "{c}");
        assert_eq!(c["duplicates"], 0, "{c}");
        assert_eq!(c["unacked_seen"], 0, "{c}");
        let rows = c["rows"].as_u64().expect("rows");
        // Neither every row (no filter) nor none (a filter that selects nothing).
        assert!(rows > 0 && rows < 1500, "{c}");
        total += rows;
    }
    assert_eq!(
        total, 3000,
        "each acked row reached exactly one query: {report:#}"
    );
    assert_eq!(report["e2e_latency"]["count"], 3000);
    server.stop().await;
}

/// 200 push queries on one HTTP/2 connection (more than the 100 empty DATA frames a Rust h2
/// peer tolerates per connection) all get every row inserted after they started, and all end
/// cleanly when closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_queries_on_one_connection_get_every_row_and_close_cleanly() {
    let server = TestServer::start().await;
    let args: Vec<String> = [
        "--addr",
        &server.addr.to_string(),
        "--server-pid",
        &std::process::id().to_string(),
        "--rows",
        "500",
        "--queries",
        "0",
        "--idle-queries",
        "200",
        "--duration",
        "30",
        "--json",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let report = tokio::time::timeout(WAIT * 3, tokio::task::spawn_blocking(move || bench(&args)))
        .await
        .expect("bench finishes in time")
        .expect("join");

    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["acked_rows"], 500);
    let idle = &report["idle"];
    assert_eq!(idle["opened"], 200, "{report:#}");
    assert_eq!(idle["connections"], 1);
    assert_eq!(idle["received_all"], 200, "{report:#}");
    assert_eq!(idle["closed"], 200, "{report:#}");
    assert!(idle["server_rss_bytes_per_query"].is_number());
    assert!(idle["error"].is_null());
    server.stop().await;
}

#[test]
fn rejects_a_run_without_bounds() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["bench", "--rows", "0"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rows"));
}
