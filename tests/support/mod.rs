//! Test support: a real Sluice server on 127.0.0.1:0 (in-process or as a child process)
//! and real HTTP/2 (prior knowledge) and HTTP/1.1 clients built on hyper's client
//! connections. No mocks: every test goes through TCP and the HTTP stack.

#![allow(dead_code)]

pub mod child;
pub mod kafka;
pub mod kalam_ws;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::StreamBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value as Json;
use sluice_engine::FsyncPolicy;
use sluice_engine::{Engine, EngineConfig};
use sluice_server::{Server, ServerOptions};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Upper bound on any single wait in a test, so a bug hangs nothing.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server over a fresh data directory.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer::start_in(dir.path(), FsyncPolicy::Always).await;
        s._dir = Some(dir);
        s
    }

    /// A fresh server with the given connection limits and TLS.
    pub async fn start_with(options: ServerOptions) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer::start_in_with(dir.path(), FsyncPolicy::Always, options).await;
        s._dir = Some(dir);
        s
    }

    /// A server over an existing data directory (restarts).
    pub async fn start_in(dir: &Path, fsync: FsyncPolicy) -> TestServer {
        TestServer::start_in_with(dir, fsync, ServerOptions::default()).await
    }

    async fn start_in_with(dir: &Path, fsync: FsyncPolicy, options: ServerOptions) -> TestServer {
        let engine = Engine::open(EngineConfig {
            data_dir: dir.to_path_buf(),
            fsync,
            limits: Default::default(),
        })
        .expect("engine opens");
        TestServer::serve(engine, options).await
    }

    /// A fresh server (fresh data directory for its catalog) over `log`, e.g. Kafka.
    pub async fn start_with_log(log: Arc<dyn sluice_engine::api::storage::LogStore>) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = EngineConfig {
            data_dir: dir.path().to_path_buf(),
            fsync: FsyncPolicy::Always,
            limits: Default::default(),
        };
        let engine = Engine::open_with_log(config, log).expect("engine opens");
        let mut s = TestServer::serve(engine, ServerOptions::default()).await;
        s._dir = Some(dir);
        s
    }

    async fn serve(engine: Arc<Engine>, options: ServerOptions) -> TestServer {
        let addr = "127.0.0.1:0".parse().expect("addr");
        let server = Server::bind_with(addr, Arc::clone(&engine), options)
            .await
            .expect("bind");
        let addr = server.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            engine,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
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

    pub async fn h2(&self) -> Client {
        Client::connect(self.addr, Proto::H2).await
    }

    pub async fn h1(&self) -> Client {
        Client::connect(self.addr, Proto::H1).await
    }

    /// Runs `/ksql` statements over HTTP/2 and asserts they succeed.
    pub async fn ksql_ok(&self, sql: &str) -> Json {
        let (status, body) = self.h2().await.ksql(sql).await;
        assert_eq!(status, StatusCode::OK, "{sql} failed: {body}");
        body
    }
}

/// Chunks a test may queue on a streamed request body before `send_data` waits.
const REQUEST_BODY_CHUNKS_QUEUED_MAX: usize = 64;

/// A streamed request body: the chunks sent through its [`BodySender`], then its end once
/// the sender is dropped.
///
/// One channel carries both, so the end can never overtake a chunk. http-body-util's
/// `Channel` keeps data and end-of-body on two channels: a body polled between a last
/// `send_data` and the sender's drop can find the data channel empty, then the end, and
/// finish without that chunk (the bench tool hit it once in 10,000 requests).
pub type RequestBody = UnsyncBoxBody<Bytes, Infallible>;

/// Feeds a [`RequestBody`]; dropping it ends the body.
pub struct BodySender {
    tx: mpsc::Sender<Bytes>,
}

/// The request went away: nobody reads its body any more.
#[derive(Debug)]
pub struct BodyClosed;

impl BodySender {
    /// Queues one chunk, waiting while the body's queue is full.
    pub async fn send_data(&mut self, chunk: Bytes) -> Result<(), BodyClosed> {
        self.tx.send(chunk).await.map_err(|_| BodyClosed)
    }
}

fn request_body(chunks_queued_max: usize) -> (BodySender, RequestBody) {
    let (tx, rx) = mpsc::channel(chunks_queued_max);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok(Frame::data(chunk)), rx))
    });
    (
        BodySender { tx },
        UnsyncBoxBody::new(StreamBody::new(chunks)),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    H1,
    H2,
}

pub enum Client {
    H1(hyper::client::conn::http1::SendRequest<RequestBody>),
    H2(hyper::client::conn::http2::SendRequest<RequestBody>),
}

impl Client {
    pub async fn connect(addr: SocketAddr, proto: Proto) -> Client {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let io = TokioIo::new(tcp);
        match proto {
            Proto::H2 => {
                let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("h2 handshake");
                tokio::spawn(conn);
                Client::H2(send)
            }
            Proto::H1 => {
                let (send, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .expect("h1 handshake");
                tokio::spawn(conn);
                Client::H1(send)
            }
        }
    }

    /// Starts a request whose body the caller streams through the returned sender.
    pub async fn open(
        &mut self,
        method: &str,
        path: &str,
        accept: Option<&str>,
    ) -> (
        BodySender,
        tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>,
    ) {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        self.open_with(method, path, &headers).await
    }

    /// `open` with arbitrary request headers.
    pub async fn open_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (
        BodySender,
        tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>,
    ) {
        let (tx, body) = request_body(REQUEST_BODY_CHUNKS_QUEUED_MAX);
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"));
        if let Client::H1(_) = self {
            builder = builder.header(http::header::HOST, "localhost");
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder.body(body).expect("request");
        let fut = match self {
            Client::H1(s) => {
                s.ready().await.expect("h1 ready");
                let f = s.send_request(req);
                tokio::spawn(f)
            }
            Client::H2(s) => {
                s.ready().await.expect("h2 ready");
                let f = s.send_request(req);
                tokio::spawn(f)
            }
        };
        (tx, fut)
    }

    /// Sends a whole body and collects the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        accept: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Bytes) {
        let (mut tx, resp) = self.open(method, path, accept).await;
        if !body.is_empty() {
            tx.send_data(Bytes::copy_from_slice(body))
                .await
                .expect("send body");
        }
        drop(tx);
        let resp = tokio::time::timeout(WAIT, resp)
            .await
            .expect("response in time")
            .expect("join")
            .expect("response");
        let status = resp.status();
        let bytes = tokio::time::timeout(WAIT, resp.into_body().collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        (status, bytes)
    }

    /// Sends a whole body with the given headers; returns status, headers and body.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (StatusCode, http::HeaderMap, Bytes) {
        let (mut tx, resp) = self.open_with(method, path, headers).await;
        if !body.is_empty() {
            // A server may answer (405, 413, …) and close the stream before it reads the
            // body; then the send fails and the response says what happened.
            let _ = tx.send_data(Bytes::copy_from_slice(body)).await;
        }
        drop(tx);
        let resp = response(resp).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = tokio::time::timeout(WAIT, resp.into_body().collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        (status, headers, bytes)
    }

    pub async fn post(&mut self, path: &str, body: &str) -> (StatusCode, Bytes) {
        self.request("POST", path, None, body.as_bytes()).await
    }

    pub async fn ksql(&mut self, sql: &str) -> (StatusCode, Json) {
        let body = serde_json::json!({"ksql": sql, "streamsProperties": {}}).to_string();
        let (status, bytes) = self.post("/ksql", &body).await;
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into()));
        (status, json)
    }
}

/// Reads a streaming response body line by line.
pub struct LineReader {
    body: Incoming,
    buf: BytesMut,
}

impl LineReader {
    pub fn new(body: Incoming) -> LineReader {
        LineReader {
            body,
            buf: BytesMut::new(),
        }
    }

    /// The next `\n`-terminated line (without the newline), or `None` at the end.
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                return Some(String::from_utf8(line[..pos].to_vec()).expect("utf8 line"));
            }
            let frame = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("a frame in time");
            match frame {
                None => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    let rest = self.buf.split();
                    return Some(String::from_utf8(rest.to_vec()).expect("utf8"));
                }
                Some(Err(e)) => panic!("body error: {e:?}"),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
            }
        }
    }

    /// Everything left in the body.
    pub async fn rest(self) -> String {
        let mut out = String::from_utf8(self.buf.to_vec()).expect("utf8");
        let more = tokio::time::timeout(WAIT, self.body.collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        out.push_str(std::str::from_utf8(&more).expect("utf8"));
        out
    }
}

/// Awaits a response future from `Client::open`.
pub async fn response(
    fut: tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>,
) -> http::Response<Incoming> {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("response in time")
        .expect("join")
        .expect("response")
}

/// A whole, fixed request body (for clients that are not streaming).
pub fn full(bytes: &'static [u8]) -> Full<Bytes> {
    Full::new(Bytes::from_static(bytes))
}

pub fn json(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Waits (up to 3 × [`WAIT`]) until every persistent query on the server at `addr` reports
/// `caughtUp` on `/queries/{id}/progress`, and at least `queries_min` of them run.
#[allow(dead_code)]
pub async fn wait_all_caught_up(addr: std::net::SocketAddr, queries_min: usize) {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    let mut c = Client::connect(addr, Proto::H2).await;
    loop {
        let (status, body) = c.ksql("SHOW QUERIES;").await;
        assert_eq!(status, http::StatusCode::OK, "{body}");
        let ids: Vec<String> = body[0]["queries"]
            .as_array()
            .expect("queries")
            .iter()
            .map(|q| q["id"].as_str().expect("id").to_string())
            .collect();
        assert!(ids.len() >= queries_min, "{body}");
        let mut all = true;
        for id in &ids {
            let (status, bytes) = c
                .request("GET", &format!("/queries/{id}/progress"), None, b"")
                .await;
            let p = json(&bytes);
            assert_eq!(status, http::StatusCode::OK, "{p}");
            all &= p["caughtUp"] == true;
        }
        if all {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
