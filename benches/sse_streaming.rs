// Expected: ~100 k rows/s delivered to one SSE client, and 2–3x that in all to four
// clients — rows are inserted once (ingest ~300 k rows/s on these 2 cores) but each push
// query decodes, projects and JSON-encodes every row on its own, so four clients cost
// about four times the per-row query work plus SSE framing; the shared cores, not the
// network, bound it.
// Measured 2026-12-06 (release, 2 shared cores, load average ~5 from other builds): one
// client 342 k rows/s (14.6 ms for 5,000 rows, about what ingesting them alone takes: the
// insert, not the SSE path, bounds it), four clients 629 k rows/s delivered in all (157 k
// each, 31.8 ms). Above the estimate; details in benches/README.md ("Foundry SSE").
//
// Stage: end to end over loopback HTTP/2: `server/faces/foundry/streaming_execute` (a
// query function `SELECT * … EMIT CHANGES` → push query → SSE `data:` events through
// frames_out), with the rows inserted through `/inserts-stream` while the SSE clients are
// subscribed. The time is from the first inserted byte until every client has read every
// row; rows/s counts rows delivered (ROWS × clients).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_engine::{Engine, EngineConfig, FsyncPolicy};
use sluice_protocol::foundry::functions::FunctionRegistry;
use sluice_server::{Server, ServerOptions};
use support::{H2Client, Keying, RowGen, RowStyle, STREAM, WAIT};
use tokio::sync::oneshot;

/// Rows inserted per iteration (~500 KB): small, so a run stays short on shared cores.
const ROWS: u64 = 5_000;

/// SSE client counts measured: one, and several sharing the same inserted rows.
const CLIENTS: [usize; 2] = [1, 4];

/// The query function every client calls: every row of the bench stream, live.
const FUNCTION: &str = "benchLive";

/// What each row's JSON object starts with in a `data:` event (`ID` is the first column),
/// counted to count rows without parsing the events.
const ROW_MARK: &[u8] = b"{\"ID\":";

struct SseServer {
    addr: std::net::SocketAddr,
    engine: Arc<Engine>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> SseServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(EngineConfig {
        data_dir: dir.path().to_path_buf(),
        fsync: FsyncPolicy::Never,
        limits: Default::default(),
    })
    .expect("engine opens");
    let functions = serde_json::json!([{
        "apiName": FUNCTION, "version": "1.0.0",
        "sql": format!("SELECT * FROM {STREAM} EMIT CHANGES;"),
    }]);
    let options = ServerOptions {
        functions: Arc::new(
            FunctionRegistry::parse(functions.to_string().as_bytes()).expect("functions"),
        ),
        ..ServerOptions::default()
    };
    let server = Server::bind_with(
        "127.0.0.1:0".parse().expect("addr"),
        Arc::clone(&engine),
        options,
    )
    .await
    .expect("bind");
    let addr = server.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    SseServer {
        addr,
        engine,
        stop,
        task,
        _dir: dir,
    }
}

/// Opens one `streamingExecute` call and returns its SSE body once the push query runs.
async fn subscribe(client: &mut H2Client) -> Incoming {
    let path = format!("/api/v2/functions/queries/{FUNCTION}/streamingExecute");
    let (mut tx, resp) = client.open(&path, None).await;
    tx.send_data(Bytes::from_static(b"{\"parameters\":{}}"))
        .await
        .expect("send parameters");
    drop(tx);
    let resp = support::response(resp).await;
    assert_eq!(resp.status(), http::StatusCode::OK);
    resp.into_body()
}

/// Reads `body` until `rows` rows have arrived; a row mark split across two frames is
/// counted by carrying the previous frame's tail.
async fn read_rows(mut body: Incoming, rows: u64) -> Incoming {
    let mut seen = 0;
    let mut tail: Vec<u8> = Vec::with_capacity(ROW_MARK.len() * 2);
    while seen < rows {
        let frame = tokio::time::timeout(WAIT, body.frame())
            .await
            .expect("an SSE frame in time")
            .expect("the stream stays open")
            .expect("frame");
        let Ok(data) = frame.into_data() else {
            continue;
        };
        tail.extend_from_slice(&data[..data.len().min(ROW_MARK.len() - 1)]);
        seen += count_marks(&tail) + count_marks(&data);
        // Marks wholly inside `data` were counted; keep only its last bytes, which may
        // begin a mark the next frame ends.
        tail.clear();
        tail.extend_from_slice(&data[data.len().saturating_sub(ROW_MARK.len() - 1)..]);
    }
    assert_eq!(seen, rows, "every row once");
    body
}

fn count_marks(bytes: &[u8]) -> u64 {
    bytes
        .windows(ROW_MARK.len())
        .filter(|w| *w == ROW_MARK)
        .count() as u64
}

/// Waits until the engine runs exactly `n` push queries.
async fn wait_push_queries(engine: &Engine, n: usize) {
    let start = Instant::now();
    while engine.push_query_count() != n {
        assert!(start.elapsed() < WAIT, "push queries never reached {n}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn sse_streaming(c: &mut Criterion) {
    let rt = support::runtime();
    let server = rt.block_on(async {
        let server = start().await;
        let mut client = H2Client::connect(server.addr).await;
        let create = support::create_stream_sql(Keying::Keyless);
        let body = serde_json::json!({"ksql": create, "streamsProperties": {}}).to_string();
        let (status, _) = client.request("/ksql", None, body.into()).await;
        assert_eq!(status, http::StatusCode::OK);
        server
    });
    let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
    let mut group = c.benchmark_group("sse_streaming");
    for clients in CLIENTS {
        group.throughput(Throughput::Elements(ROWS * clients as u64));
        group.bench_function(BenchmarkId::new("foundry_live_rows", clients), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    let mut producer = H2Client::connect(server.addr).await;
                    for _ in 0..iters {
                        // Each SSE client on its own connection, as separate processes are.
                        let mut bodies = Vec::with_capacity(clients);
                        for _ in 0..clients {
                            let mut client = H2Client::connect(server.addr).await;
                            bodies.push((subscribe(&mut client).await, client));
                        }
                        wait_push_queries(&server.engine, clients).await;
                        let start = Instant::now();
                        let readers: Vec<_> = bodies
                            .into_iter()
                            .map(|(body, client)| {
                                tokio::spawn(async move { (read_rows(body, ROWS).await, client) })
                            })
                            .collect();
                        producer.insert_rows(&rows, ROWS).await;
                        let mut done = Vec::with_capacity(clients);
                        for reader in readers {
                            done.push(reader.await.expect("reader"));
                        }
                        total += start.elapsed();
                        // Closing the streams ends the push queries before the next round.
                        drop(done);
                        wait_push_queries(&server.engine, 0).await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
    let SseServer { stop, task, .. } = server;
    let _ = stop.send(());
    // The timer must be made inside the runtime.
    let _ = rt.block_on(async { tokio::time::timeout(WAIT, task).await });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = sse_streaming
}
criterion_main!(benches);
