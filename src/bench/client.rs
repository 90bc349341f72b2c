//! The HTTP/2 (prior knowledge) client the bench drives: one TCP connection per producer and
//! per push query (idle queries share a few), streamed request bodies, and the `/ksql` and
//! `/close-query` calls. `sluice shell` talks to its server through the same client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{self, Poll};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// HTTP/2 windows the client advertises for responses: a push query's rows must not wait on
/// WINDOW_UPDATE round trips (the server's own windows are 4 MiB per stream).
const H2_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
const H2_CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;

/// Chunks a streamed request body may queue before `send_data` waits: with ~27 KiB chunks,
/// about a megabyte, enough to keep the connection busy while the window bounds rows.
const BODY_CHUNKS_QUEUED_MAX: usize = 32;

/// Upper bound on one control call (`/ksql`, `/close-query`) and on a response's headers.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A streamed request body fed through one bounded channel; it ends when its sender is
/// dropped, after every chunk sent before that.
///
/// Not http-body-util's `Channel`: that one carries data and its end on two channels, and a
/// body polled between the last send and the sender's drop can see the data channel empty,
/// then the end, and finish without the last chunk. Opening 10,000 queries hit it: the server
/// got one `/query-stream` request with an empty body.
pub struct RequestBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Feeds a [`RequestBody`]; dropping it ends the body.
pub struct BodySender {
    tx: mpsc::Sender<Bytes>,
}

/// The server stopped reading the request body.
#[derive(Debug)]
pub struct BodyClosed;

impl BodySender {
    /// Queues a chunk, waiting while `BODY_CHUNKS_QUEUED_MAX` are queued.
    pub async fn send_data(&mut self, data: Bytes) -> Result<(), BodyClosed> {
        self.tx.send(data).await.map_err(|_| BodyClosed)
    }
}

/// One HTTP/2 connection. Clones share it: each clone can start requests concurrently.
#[derive(Clone)]
pub struct H2 {
    send: SendRequest<RequestBody>,
}

/// A response whose headers are still to come.
pub type PendingResponse = tokio::task::JoinHandle<hyper::Result<http::Response<Incoming>>>;

impl H2 {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<H2> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(H2_STREAM_WINDOW_BYTES)
            .initial_connection_window_size(H2_CONNECTION_WINDOW_BYTES)
            .handshake(TokioIo::new(tcp))
            .await
            .context("HTTP/2 handshake (is it a Sluice server?)")?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "bench connection ended with an error");
            }
        });
        Ok(H2 { send })
    }

    /// Whether the connection has ended (the server closed it, or it failed): requests on it
    /// can only fail, so a long-lived client opens a new one.
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// Starts a POST whose body the caller streams through the returned sender.
    pub async fn open(&mut self, path: &str) -> anyhow::Result<(BodySender, PendingResponse)> {
        self.open_with(Method::POST, path, None).await
    }

    async fn open_with(
        &mut self,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> anyhow::Result<(BodySender, PendingResponse)> {
        let (tx, rx) = mpsc::channel(BODY_CHUNKS_QUEUED_MAX);
        let (tx, body) = (BodySender { tx }, RequestBody { rx });
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"));
        if let Some(accept) = accept {
            req = req.header(http::header::ACCEPT, accept);
        }
        let req = req.body(body).context("building the request")?;
        self.send.ready().await.context("connection not ready")?;
        let fut = self.send.send_request(req);
        Ok((tx, tokio::spawn(fut)))
    }

    /// POSTs a whole body and collects the whole response.
    pub async fn post(&mut self, path: &str, body: String) -> anyhow::Result<(StatusCode, Bytes)> {
        self.post_accepting(path, None, body).await
    }

    /// POSTs a whole body asking for the `accept` media type (the server's default when
    /// `None`) and collects the whole response.
    pub async fn post_accepting(
        &mut self,
        path: &str,
        accept: Option<&str>,
        body: String,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let (mut tx, resp) = self.open_with(Method::POST, path, accept).await?;
        tx.send_data(Bytes::from(body))
            .await
            .map_err(|_| anyhow::anyhow!("the server stopped reading {path}"))?;
        drop(tx);
        let resp = headers(resp).await?;
        let status = resp.status();
        let bytes = tokio::time::timeout(CALL_TIMEOUT, resp.into_body().collect())
            .await
            .context("response body timed out")??
            .to_bytes();
        Ok((status, bytes))
    }

    /// GETs `path` (no body) and collects the whole response.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let (tx, resp) = self.open_with(Method::GET, path, None).await?;
        drop(tx);
        let resp = headers(resp).await?;
        let status = resp.status();
        let bytes = tokio::time::timeout(CALL_TIMEOUT, resp.into_body().collect())
            .await
            .context("response body timed out")??
            .to_bytes();
        Ok((status, bytes))
    }

    /// Runs `/ksql` statements and fails unless they all succeed.
    pub async fn ksql(&mut self, sql: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({"ksql": sql, "streamsProperties": {}}).to_string();
        let (status, bytes) = self.post("/ksql", body).await?;
        if status != StatusCode::OK {
            bail!(
                "{sql} failed ({status}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(())
    }

    pub async fn close_query(&mut self, query_id: &str) -> anyhow::Result<()> {
        let body = serde_json::json!({ "queryId": query_id }).to_string();
        let (status, bytes) = self.post("/close-query", body).await?;
        if status != StatusCode::OK {
            bail!(
                "closing {query_id} failed ({status}): {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(())
    }
}

/// Awaits a response's headers (bounded).
pub async fn headers(resp: PendingResponse) -> anyhow::Result<http::Response<Incoming>> {
    tokio::time::timeout(CALL_TIMEOUT, resp)
        .await
        .context("response headers timed out")?
        .context("request task panicked")?
        .context("request failed")
}

/// Splits a streamed response body into lines, whatever its DATA frames' boundaries.
pub struct Lines {
    body: Incoming,
    buf: BytesMut,
}

impl Lines {
    pub fn new(body: Incoming) -> Lines {
        Lines {
            body,
            buf: BytesMut::new(),
        }
    }

    /// Waits for more data and calls `line` for each complete line in it (without its
    /// newline). Returns `false` at the end of the body; an unterminated last line is passed
    /// on too.
    pub async fn next_chunk(&mut self, mut line: impl FnMut(&[u8])) -> anyhow::Result<bool> {
        loop {
            if let Some(last_nl) = self.buf.iter().rposition(|&b| b == b'\n') {
                let complete = self.buf.split_to(last_nl + 1);
                complete[..last_nl]
                    .split(|&b| b == b'\n')
                    .for_each(&mut line);
                return Ok(true);
            }
            match self.body.frame().await {
                None => {
                    if !self.buf.is_empty() {
                        line(&self.buf);
                        self.buf.clear();
                    }
                    return Ok(false);
                }
                Some(Err(e)) => return Err(e).context("reading the response body"),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    // The common case, a frame of whole lines, is read in place.
                    if self.buf.is_empty() && data.last() == Some(&b'\n') {
                        data[..data.len() - 1]
                            .split(|&b| b == b'\n')
                            .for_each(&mut line);
                        return Ok(true);
                    }
                    self.buf.extend_from_slice(&data);
                }
            }
        }
    }

    /// The body and what was read past the last line handed out (the start of the next one).
    pub fn into_parts(self) -> (Incoming, BytesMut) {
        (self.body, self.buf)
    }

    /// The first line (a query's header), bounded in time.
    pub async fn first_line(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                return Ok(line[..pos].to_vec());
            }
            let frame = tokio::time::timeout(CALL_TIMEOUT, self.body.frame())
                .await
                .context("timed out waiting for the first line")?;
            match frame {
                None => bail!(
                    "the body ended before its first line: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Some(Err(e)) => return Err(e).context("reading the response body"),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
            }
        }
    }
}
