//! Many partitions on one node (issue 11; issue 9, finding 3): a child `sluice serve` under a
//! low open-file limit takes 10,240 partitions (`CREATE STREAM … partitions=256` forty times,
//! which used to exhaust the descriptor limit), serves them with a bounded number of threads
//! and files, reopens the data directory under the same limit after SIGKILL, and refuses, with
//! a clear error, the stream that would take it past the node's partition limit.

mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use serde_json::json;
use support::child::ChildServer;
use support::{response, Client, LineReader, Proto};

/// The child's `RLIMIT_NOFILE`: a quarter of the common 1024 default. Each partition used to
/// hold two descriptors, so this allowed about 120 partitions.
const FD_LIMIT: u32 = 256;
const STREAMS: usize = 40;
const PARTITIONS: u32 = 256;
/// Rows written to the first stream: enough distinct keys to reach all its partitions.
const ROWS: u64 = 2_000;
/// Threads the server may use whatever its partition count: the async runtime's, the log's
/// writer pool and a few helpers. A thread per partition made it 10,000+.
const THREADS_MAX: usize = 64;

fn create(i: usize) -> String {
    format!(
        "CREATE STREAM s{i} (k STRING KEY, v BIGINT) WITH (kafka_topic='s{i}', \
         value_format='JSON', partitions={PARTITIONS});"
    )
}

fn proc_threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .expect("Threads line")
        .trim()
        .parse()
        .expect("a count")
}

fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .count()
}

/// Streams `rows` into `target` over one HTTP/2 inserts-stream; every ack must be ok.
async fn insert(addr: SocketAddr, target: &str, rows: impl Iterator<Item = String>) -> u64 {
    let mut client = Client::connect(addr, Proto::H2).await;
    let mut body = format!("{{\"target\":\"{target}\"}}\n");
    let mut sent = 0u64;
    for row in rows {
        body.push_str(&row);
        body.push('\n');
        sent += 1;
    }
    let (status, bytes) = client
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = std::str::from_utf8(&bytes).expect("utf8");
    let acks: Vec<&str> = text.lines().collect();
    assert_eq!(acks.len() as u64, sent, "{text}");
    for (seq, ack) in acks.iter().enumerate() {
        assert_eq!(*ack, format!("{{\"status\":\"ok\",\"seq\":{seq}}}"));
    }
    sent
}

/// The rows of `stream` now (a pull query over the whole stream).
async fn rows_of(addr: SocketAddr, stream: &str) -> Vec<serde_json::Value> {
    let mut client = Client::connect(addr, Proto::H2).await;
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    tx.send_data(Bytes::from(
        json!({"sql": format!("SELECT K, V FROM {stream};")}).to_string(),
    ))
    .await
    .expect("send");
    drop(tx);
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = LineReader::new(resp.into_body());
    lines.next_line().await.expect("header");
    let mut rows = Vec::new();
    while let Some(line) = lines.next_line().await {
        rows.push(serde_json::from_str(&line).expect("a row"));
    }
    rows
}

async fn ksql(addr: SocketAddr, sql: &str) -> (StatusCode, serde_json::Value) {
    Client::connect(addr, Proto::H2).await.ksql(sql).await
}

async fn check_data(addr: SocketAddr) {
    let mut values: Vec<i64> = rows_of(addr, "s0")
        .await
        .iter()
        .map(|r| r[1].as_i64().expect("V"))
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..ROWS as i64).collect::<Vec<_>>());
    for i in 1..STREAMS {
        let rows = rows_of(addr, &format!("s{i}")).await;
        assert_eq!(rows.len(), 1, "s{i}");
        assert_eq!(rows[0][1], i as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_partitions_under_a_low_fd_limit_survive_a_kill_and_hit_the_node_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start_with_fd_limit(dir.path(), FD_LIMIT);
    for i in 0..STREAMS {
        let (status, body) = ksql(server.addr, &create(i)).await;
        assert_eq!(status, StatusCode::OK, "stream {i}: {body}");
    }
    insert(
        server.addr,
        "s0",
        (0..ROWS).map(|i| format!("{{\"K\":\"key{i}\",\"V\":{i}}}")),
    )
    .await;
    for i in 1..STREAMS {
        insert(
            server.addr,
            &format!("s{i}"),
            std::iter::once(format!("{{\"K\":\"k\",\"V\":{i}}}")),
        )
        .await;
    }
    check_data(server.addr).await;
    let (threads, fds) = (proc_threads(server.pid()), proc_fds(server.pid()));
    assert!(threads <= THREADS_MAX, "{threads} threads");
    // The log keeps at most a quarter of the limit open; connections and journals the rest.
    assert!(fds < FD_LIMIT as usize / 2, "{fds} descriptors open");
    server.kill();

    // The data directory reopens under the same limit, with every acked row.
    let server = ChildServer::start_with_fd_limit(dir.path(), FD_LIMIT);
    check_data(server.addr).await;
    assert!(proc_threads(server.pid()) <= THREADS_MAX);

    // The node's partition limit (PARTITIONS_PER_NODE_MAX, 20,000): 78 streams of 256 fit,
    // the 79th does not, and says why.
    for i in STREAMS..78 {
        let (status, body) = ksql(server.addr, &create(i)).await;
        assert_eq!(status, StatusCode::OK, "stream {i}: {body}");
    }
    let (status, body) = ksql(server.addr, &create(78)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("the node has 19968 partitions and its limit is 20000"),
        "{message}"
    );
    // Still serving: nothing was exhausted on the way.
    insert(
        server.addr,
        "s77",
        std::iter::once("{\"K\":\"k\",\"V\":77}".to_owned()),
    )
    .await;
    assert!(proc_fds(server.pid()) < FD_LIMIT as usize / 2);
    assert!(proc_threads(server.pid()) <= THREADS_MAX);
    let (status, _) = ksql(server.addr, "DROP STREAM s77 DELETE TOPIC;").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ksql(server.addr, &create(78)).await;
    assert_eq!(status, StatusCode::OK, "room again after a drop: {body}");
    server.kill();
}
