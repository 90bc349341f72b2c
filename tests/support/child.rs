//! A `sluice serve` child process, and a producer that streams rows into it until it dies:
//! the pieces the crash tests share.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::{Client, Proto, WAIT};

/// A server in its own process, so a test can SIGKILL it mid-write.
pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts `sluice serve` on port 0 over `dir` and waits for its listening line.
    pub fn start(dir: &Path) -> ChildServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        ChildServer::spawn(command)
    }

    /// `start` with more `serve` flags (e.g. `--log kafka`).
    pub fn start_with(dir: &Path, flags: &[&str]) -> ChildServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(flags);
        ChildServer::spawn(command)
    }

    /// `start`, with the process's open-file limit (`RLIMIT_NOFILE`) set to `fd_limit` by
    /// the shell that execs it.
    pub fn start_with_fd_limit(dir: &Path, fd_limit: u32) -> ChildServer {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -n {fd_limit} && exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_sluice"))
            .arg(dir);
        ChildServer::spawn(command)
    }

    fn spawn(mut command: Command) -> ChildServer {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sluice");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("sluice listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .expect("address");
        ChildServer { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap: no chance to flush or shut down cleanly.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for ChildServer {
    /// A test that fails before it kills its server must not leave it running (holding the
    /// test harness's output open): kill and reap it. After `kill` these fail, harmlessly.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Streams `row(first)`, `row(first + 1)`, … (at most `rows_max`) into `target` over one
/// HTTP/2 inserts-stream until the connection dies. Every ack must be ok and in seq order;
/// `acked` counts them, so rows `first..first + acked` are the ones promised durable.
pub async fn produce_until_killed(
    addr: SocketAddr,
    target: &'static str,
    first: u64,
    rows_max: u64,
    row: fn(u64) -> String,
    acked: Arc<AtomicU64>,
) {
    let mut client = Client::connect(addr, Proto::H2).await;
    let (mut tx, resp) = client.open("POST", "/inserts-stream", None).await;
    let sender = tokio::spawn(async move {
        let head = format!("{{\"target\":\"{target}\"}}\n");
        if tx.send_data(Bytes::from(head)).await.is_err() {
            return;
        }
        let mut chunk = String::with_capacity(8192);
        for i in first..first + rows_max {
            chunk.push_str(&row(i));
            chunk.push('\n');
            if chunk.len() >= 4096
                && tx
                    .send_data(Bytes::from(std::mem::take(&mut chunk)))
                    .await
                    .is_err()
            {
                return;
            }
        }
        // The last partial chunk too: every row up to `rows_max` is offered.
        if !chunk.is_empty() {
            let _ = tx.send_data(Bytes::from(chunk)).await;
        }
    });
    let Ok(Ok(resp)) = tokio::time::timeout(WAIT, resp)
        .await
        .expect("response in time")
    else {
        return;
    };
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(d) = frame.into_data() {
            buf.extend_from_slice(&d);
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let ack: serde_json::Value = serde_json::from_slice(&line).expect("ack json");
                assert_eq!(ack["status"], "ok", "{ack}");
                let seq = ack["seq"].as_u64().expect("seq");
                assert_eq!(seq, acked.load(Ordering::SeqCst), "acks are in seq order");
                acked.store(seq + 1, Ordering::SeqCst);
            }
        }
    }
    sender.abort();
}

/// Lets ingest run until `acked` reaches `kill_at`, then SIGKILLs `server` and waits (up to
/// [`WAIT`]) for `producer` to see its connection die. Fails the test if ingest stalls.
pub async fn kill_after_acks(
    server: ChildServer,
    producer: tokio::task::JoinHandle<()>,
    acked: &AtomicU64,
    kill_at: u64,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while acked.load(Ordering::SeqCst) < kill_at {
        assert!(tokio::time::Instant::now() < deadline, "ingest stalled");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    let _ = tokio::time::timeout(WAIT, producer).await;
}

/// One SIGKILL scenario of a persistent query: what the first start sets up, and what a
/// producer streams until the kill.
pub struct CrashScenario {
    /// Statements run once, on the first start; each must answer 200.
    pub setup: Vec<String>,
    /// Wait for every query to catch up after `setup` (when it also inserted rows the
    /// queries must have read before the producer starts).
    pub settle_after_setup: bool,
    /// The stream the producer writes, and its rows by number.
    pub stream: &'static str,
    pub row: fn(u64) -> String,
    /// Acks to wait for before the SIGKILL of round `r`.
    pub kill_at: fn(u64) -> u64,
}

/// Rows a producer may send per round before the kill lands (a bound, not a target).
pub const CRASH_ROWS_PER_ROUND_MAX: u64 = 1_000_000;

/// Runs `rounds` rounds over one data directory: start a child server, set up (first round
/// only), stream rows until a SIGKILL after `kill_at(round)` acks, start again and run
/// `check` against the restarted server. Each round's rows continue where the numbering
/// left off (`round * CRASH_ROWS_PER_ROUND_MAX`), so rows of different rounds never clash.
pub fn crash_rounds<F, Fut>(scenario: &CrashScenario, rounds: u64, check: F)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    for round in 0..rounds {
        let server = ChildServer::start(dir.path());
        let addr = server.addr;
        let acked = Arc::new(AtomicU64::new(0));
        runtime.block_on(async {
            if round == 0 {
                let mut c = Client::connect(addr, Proto::H2).await;
                for sql in &scenario.setup {
                    let (status, body) = c.ksql(sql).await;
                    assert_eq!(status, http::StatusCode::OK, "{sql}: {body}");
                }
                if scenario.settle_after_setup {
                    super::wait_all_caught_up(addr, 0).await;
                }
            }
            let producer = tokio::spawn(produce_until_killed(
                addr,
                scenario.stream,
                round * CRASH_ROWS_PER_ROUND_MAX,
                CRASH_ROWS_PER_ROUND_MAX,
                scenario.row,
                Arc::clone(&acked),
            ));
            kill_after_acks(server, producer, &acked, (scenario.kill_at)(round)).await;
        });
        let server = ChildServer::start(dir.path());
        runtime.block_on(check(server.addr));
        server.kill();
    }
}
