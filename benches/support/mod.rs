//! Bench support: a seeded row generator (the same rows in every run, so figures compare
//! across commits) and a real Sluice server on 127.0.0.1:0 with an HTTP/2 client, as in
//! `tests/support` (no mocks: end-to-end benches go through TCP and the HTTP/2 stack).
//!
//! Every bench file includes this module and uses part of it.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::channel::{Channel, Sender};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_engine::types::{Column, ColumnKind, Schema, SqlType};
use sluice_engine::FsyncPolicy;
use sluice_engine::{Engine, EngineConfig};
use sluice_server::Server;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The allocator the `sluice` binary ships with (src/main.rs), so in-process benches
/// measure the allocation costs a server has, not glibc malloc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The one seed every bench uses.
pub const SEED: u64 = 0x5EED_51CE;

/// Upper bound on any single wait, so a bug hangs no bench.
pub const WAIT: Duration = Duration::from_secs(60);

/// Bytes per request-body chunk the end-to-end client sends: hyper then cuts each into
/// 16 KiB DATA frames (the HTTP/2 default `SETTINGS_MAX_FRAME_SIZE`, RFC 9113 §6.5.2).
pub const SEND_CHUNK_BYTES: usize = 64 * 1024;

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny PRNG whose output depends only on the
/// seed, never on a crate version, so the generated rows stay byte-identical over time.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `0..n` for a benchmark (modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Whether `ID` is the stream's key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keying {
    /// No key column: a row in stored form can be kept byte for byte (the canonical path).
    Keyless,
    /// `ID BIGINT KEY`: the key is split out. The full decoder re-encodes the value; the
    /// fast path copies the line without the key field.
    KeyedById,
}

/// How the generator spells field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStyle {
    /// Exactly the stored column names (`"ID"`): the line is the stored record value.
    Canonical,
    /// Lower-case names (`"id"`): normalised like identifiers, then re-encoded.
    LowerCaseNames,
    /// What real producers send: each row's names in lower, upper or capitalised case,
    /// its fields in a shuffled order, and the nullable `OK` missing from one row in four.
    /// The headline benches use this, so no figure rests on a fast path only the
    /// generator's own rows take.
    Producer,
}

/// Stream name used by the end-to-end benches.
pub const STREAM: &str = "BENCH_ROWS";

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

/// The schema of the generated rows. `TS` is BIGINT epoch ms, not TIMESTAMP: the inserts API
/// takes TIMESTAMP only as text (ksqlDB's strict API coercer refuses a Long), and text is
/// never the stored form, so a TIMESTAMP column would keep every row off the canonical path.
pub fn schema(keying: Keying) -> Schema {
    let id_kind = match keying {
        Keying::Keyless => ColumnKind::Value,
        Keying::KeyedById => ColumnKind::Key,
    };
    Schema::new(vec![
        Column::new("ID", SqlType::BigInt, id_kind),
        Column::new("TS", SqlType::BigInt, ColumnKind::Value),
        Column::new("USER", SqlType::String, ColumnKind::Value),
        Column::new("REGION", SqlType::String, ColumnKind::Value),
        Column::new("AMOUNT", SqlType::Double, ColumnKind::Value),
        Column::new("OK", SqlType::Boolean, ColumnKind::Value),
    ])
}

/// The `CREATE STREAM` matching [`schema`], one partition so the end-to-end figures line
/// up with the single-partition log bench.
pub fn create_stream_sql(keying: Keying) -> String {
    let id = match keying {
        Keying::Keyless => "ID BIGINT",
        Keying::KeyedById => "ID BIGINT KEY",
    };
    format!(
        "CREATE STREAM {STREAM} ({id}, TS BIGINT, USER STRING, REGION STRING, \
         AMOUNT DOUBLE, OK BOOLEAN) WITH (kafka_topic='bench_rows', value_format='JSON', \
         partitions=1);"
    )
}

/// Seeded rows like
/// `{"ID":123,"TS":1700000000001,"USER":"user_499574","REGION":"ap-south-1","AMOUNT":9574.74,"OK":true}`
/// (about 100 bytes each).
pub struct RowGen {
    rng: Rng,
    next_id: u64,
}

impl RowGen {
    pub fn new() -> RowGen {
        RowGen {
            rng: Rng::new(SEED),
            next_id: 0,
        }
    }

    /// Appends one row (no newline).
    pub fn row(&mut self, style: RowStyle, out: &mut Vec<u8>) {
        use std::io::Write;
        let id = self.next_id;
        self.next_id += 1;
        let user = self.rng.below(1_000_000);
        let region = REGIONS[self.rng.below(REGIONS.len() as u64) as usize];
        let cents = self.rng.below(1_000_000);
        let ok = self.rng.below(8) != 0;
        let ts = 1_700_000_000_000 + id;
        let values = [
            id.to_string(),
            ts.to_string(),
            format!("\"user_{user:06}\""),
            format!("\"{region}\""),
            format!("{}.{:02}", cents / 100, cents % 100),
            ok.to_string(),
        ];
        const UPPER: [&str; 6] = ["ID", "TS", "USER", "REGION", "AMOUNT", "OK"];
        const LOWER: [&str; 6] = ["id", "ts", "user", "region", "amount", "ok"];
        const CAPITALISED: [&str; 6] = ["Id", "Ts", "User", "Region", "Amount", "Ok"];
        let mut order = [0usize, 1, 2, 3, 4, 5];
        let (names, fields) = match style {
            RowStyle::Canonical => (UPPER, 6),
            RowStyle::LowerCaseNames => (LOWER, 6),
            RowStyle::Producer => {
                // Fisher-Yates over the field order, from the seeded generator.
                for i in (1..order.len()).rev() {
                    order.swap(i, self.rng.below(i as u64 + 1) as usize);
                }
                let names = [UPPER, LOWER, CAPITALISED][self.rng.below(3) as usize];
                let missing_ok = self.rng.below(4) == 0;
                if missing_ok {
                    let at = order.iter().position(|&f| f == 5).expect("OK is a field");
                    order[at..].rotate_left(1);
                }
                (names, if missing_ok { 5 } else { 6 })
            }
        };
        out.push(b'{');
        for (n, &f) in order[..fields].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write!(out, "\"{}\":{}", names[f], values[f]).expect("writing to a Vec cannot fail");
        }
        out.push(b'}');
    }

    /// `n` rows, one per `\n`-terminated line.
    pub fn lines(&mut self, n: usize, style: RowStyle) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * 112);
        for _ in 0..n {
            self.row(style, &mut out);
            out.push(b'\n');
        }
        out
    }

    /// As many whole `\n`-terminated rows as fit in `bytes_max`.
    pub fn chunk(&mut self, bytes_max: usize, style: RowStyle) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes_max);
        let mut row = Vec::with_capacity(128);
        loop {
            row.clear();
            self.row(style, &mut row);
            row.push(b'\n');
            if out.len() + row.len() > bytes_max {
                return out;
            }
            out.extend_from_slice(&row);
        }
    }

    /// `n` rows, each as its own `Bytes` (no newline): record values in stored form.
    pub fn values(&mut self, n: usize) -> Vec<Bytes> {
        (0..n)
            .map(|_| {
                let mut v = Vec::with_capacity(112);
                self.row(RowStyle::Canonical, &mut v);
                Bytes::from(v)
            })
            .collect()
    }
}

impl Default for RowGen {
    fn default() -> RowGen {
        RowGen::new()
    }
}

/// Counts `\n` bytes (rows, acks) in a response chunk.
pub fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// A multi-threaded runtime sized to the machine (2 workers on the bench host), shared by
/// the server and the client as in a loopback deployment.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A Sluice server on 127.0.0.1:0 over a fresh temp directory.
pub struct BenchServer {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Must run inside a tokio runtime.
    pub async fn start(fsync: FsyncPolicy) -> BenchServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(EngineConfig {
            data_dir: dir.path().to_path_buf(),
            fsync,
            limits: Default::default(),
        })
        .expect("engine opens");
        let server = Server::bind("127.0.0.1:0".parse().expect("addr"), Arc::clone(&engine))
            .await
            .expect("bind");
        let addr = server.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        BenchServer {
            addr,
            engine,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(WAIT, t).await;
        }
    }

    pub async fn h2(&self) -> H2Client {
        H2Client::connect(self.addr).await
    }

    /// Runs one `/ksql` statement and asserts it succeeds.
    pub async fn ksql_ok(&self, sql: &str) {
        let body = serde_json::json!({"ksql": sql, "streamsProperties": {}}).to_string();
        let (status, bytes) = self.h2().await.request("/ksql", None, body.into()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{sql} failed: {}",
            String::from_utf8_lossy(&bytes)
        );
    }

    /// Runs one `/ksql` statement with `auto.offset.reset=earliest` (a persistent query
    /// then reads the rows already loaded) and asserts it succeeds.
    pub async fn ksql_earliest(&self, sql: &str) {
        let body = serde_json::json!({
            "ksql": sql,
            "streamsProperties": {"auto.offset.reset": "earliest"}
        })
        .to_string();
        let (status, bytes) = self.h2().await.request("/ksql", None, body.into()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{sql} failed: {}",
            String::from_utf8_lossy(&bytes)
        );
    }

    /// The id of the running persistent query whose id starts with `prefix` (`CTAS_T_`),
    /// from `SHOW QUERIES`.
    pub async fn query_id(&self, prefix: &str) -> String {
        let body =
            serde_json::json!({"ksql": "SHOW QUERIES;", "streamsProperties": {}}).to_string();
        let (_, bytes) = self.h2().await.request("/ksql", None, body.into()).await;
        let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        reply[0]["queries"]
            .as_array()
            .expect("queries")
            .iter()
            .filter_map(|q| q["id"].as_str())
            .find(|id| id.starts_with(prefix))
            .unwrap_or_else(|| panic!("no query {prefix}… runs"))
            .to_string()
    }

    /// Waits until query `id` has caught up, asserting it then read `records` source
    /// records in all (so it caught up at the end of the data, not at an empty start).
    /// Panics past `bound`, measured from `start`.
    pub async fn wait_caught_up(&self, id: &str, records: u64, start: Instant, bound: Duration) {
        loop {
            let progress = self.engine.query_progress(id).expect("query runs");
            if progress.caught_up {
                let read: u64 = progress.sources.iter().map(|s| s.2).sum();
                assert_eq!(read, records, "{id} read every record");
                return;
            }
            assert!(start.elapsed() < bound, "{id} did not catch up");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Terminates query `id` and drops its sink (`STREAM` or `TABLE`) with its topic.
    pub async fn drop_query_and_sink(&self, id: &str, kind: &str, sink: &str) {
        self.ksql_ok(&format!("TERMINATE {id};")).await;
        self.ksql_ok(&format!("DROP {kind} {sink} DELETE TOPIC;"))
            .await;
    }
}

/// An HTTP/2 (prior knowledge) client on one connection.
pub struct H2Client {
    send: hyper::client::conn::http2::SendRequest<Channel<Bytes, Infallible>>,
}

impl H2Client {
    pub async fn connect(addr: SocketAddr) -> H2Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        H2Client { send }
    }

    /// Starts a POST whose body the caller streams through the returned sender.
    pub async fn open(
        &mut self,
        path: &str,
        accept: Option<&str>,
    ) -> (
        Sender<Bytes, Infallible>,
        tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>,
    ) {
        let (tx, body) = Channel::<Bytes, Infallible>::new(64);
        let mut builder = Request::builder()
            .method("POST")
            .uri(format!("http://localhost{path}"));
        if let Some(a) = accept {
            builder = builder.header(http::header::ACCEPT, a);
        }
        let req = builder.body(body).expect("request");
        self.send.ready().await.expect("h2 ready");
        let fut = self.send.send_request(req);
        (tx, tokio::spawn(fut))
    }

    /// Sends a whole body and collects the whole response.
    pub async fn request(
        &mut self,
        path: &str,
        accept: Option<&str>,
        body: Bytes,
    ) -> (StatusCode, Bytes) {
        let (mut tx, resp) = self.open(path, accept).await;
        tx.send_data(body).await.expect("send body");
        drop(tx);
        let resp = response(resp).await;
        let status = resp.status();
        let bytes = tokio::time::timeout(WAIT, resp.into_body().collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        (status, bytes)
    }

    /// One `/inserts-stream` request: the target line, then `rows` (whole `\n`-terminated
    /// lines) in [`SEND_CHUNK_BYTES`] chunks, reading acks while sending (full duplex).
    /// Returns the number of acks; panics unless every row was acked.
    pub async fn insert_rows(&mut self, rows: &Bytes, row_count: u64) -> u64 {
        self.insert_rows_into(STREAM, rows, row_count).await
    }

    /// [`H2Client::insert_rows`] into the stream `target`.
    pub async fn insert_rows_into(&mut self, target: &str, rows: &Bytes, row_count: u64) -> u64 {
        let (mut tx, resp) = self.open("/inserts-stream", None).await;
        tx.send_data(Bytes::from(format!("{{\"target\":\"{target}\"}}\n")))
            .await
            .expect("send target");
        let rows = rows.clone();
        let sender = tokio::spawn(async move {
            let mut at = 0;
            while at < rows.len() {
                let end = (at + SEND_CHUNK_BYTES).min(rows.len());
                tx.send_data(rows.slice(at..end)).await.expect("send rows");
                at = end;
            }
            // Dropping `tx` ends the request body, which lets the response end.
        });
        let resp = response(resp).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let acks = count_body_lines(resp.into_body()).await;
        sender.await.expect("sender task");
        assert_eq!(acks, row_count, "one ack per row");
        acks
    }

    /// A push query from earliest over the bench stream with `LIMIT limit`, in the
    /// default (delimited) format. Returns the number of rows read.
    pub async fn query_rows(&mut self, limit: u64, accept: Option<&str>) -> u64 {
        let sql = format!("SELECT * FROM {STREAM} EMIT CHANGES LIMIT {limit};");
        let body = serde_json::json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}})
            .to_string();
        let (mut tx, resp) = self.open("/query-stream", accept).await;
        tx.send_data(body.into()).await.expect("send query");
        drop(tx);
        let resp = response(resp).await;
        assert_eq!(resp.status(), StatusCode::OK);
        count_body_lines(resp.into_body()).await
    }
}

/// Awaits a response future from [`H2Client::open`].
pub async fn response(
    fut: tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>,
) -> http::Response<Incoming> {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("response in time")
        .expect("join")
        .expect("response")
}

/// Reads a streaming body to its end, counting `\n`s without keeping the bytes.
pub async fn count_body_lines(mut body: Incoming) -> u64 {
    let mut lines = 0;
    loop {
        let frame = tokio::time::timeout(WAIT, body.frame())
            .await
            .expect("a frame in time");
        match frame {
            None => return lines,
            Some(Err(e)) => panic!("body error: {e}"),
            Some(Ok(f)) => {
                if let Ok(d) = f.into_data() {
                    lines += count_lines(&d);
                }
            }
        }
    }
}
