//! One accepted socket: an optional TLS handshake, then HTTP/1.1 or cleartext HTTP/2
//! (prior knowledge, or `h2` by ALPN) on the same port, until the peer closes, a timeout
//! of [`ConnectionLimits`] fires, or the server shuts down.
//!
//! ```text
//! accept ─► [TLS handshake ≤ tls_handshake_timeout] ─► TrackedIo (sees request heads start)
//!        ─► hyper auto (h1 | h2) ─► service: in-flight guard, health-only gate, HEAD ─► router
//! watcher (this task): idle ≥ idle_timeout ─► graceful close (GOAWAY / no keep-alive)
//!                      h1 head unfinished ≥ header_read_timeout ─► drop the socket
//!                      slot evicted (idle at the cap) ─► graceful close, gone within 1 s
//! ```
//!
//! Why the header-read timeout is ours rather than hyper's `header_read_timeout`: hyper
//! starts that timer as soon as a keep-alive connection goes idle, so it would also be the
//! HTTP/1.1 keep-alive timeout, and the two could not be set apart (a 10 s header timeout
//! would close pooled connections after 10 s, below the idle timeouts of the proxies in
//! front). Here the header timer starts at the first byte of a request head.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::body::frames_out::ResponseBody;
use crate::face_port::{route, Face};
use crate::limits::{Admission, AdmissionKind, ConnectionLimits, SlotState};
use crate::push_quota::PushQuota;
use crate::response::{self, HttpResponse};
use crate::services::Services;
use crate::tls::{TlsConfig, ALPN_H2, ALPN_HTTP_1_1};

/// HTTP/2 stream window: large enough that one producer streaming ~100 B rows is not
/// throttled by WINDOW_UPDATE round trips on loopback.
pub const H2_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
/// HTTP/2 connection window: a few streams' worth.
pub const H2_CONNECTION_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
/// Concurrent streams per HTTP/2 connection (push queries, inserts) — bounds per-client state.
pub const H2_CONCURRENT_STREAMS_MAX: u32 = 1024;

/// The HTTP/2 client preface (RFC 9113 §3.4): a connection whose first bytes are these
/// speaks HTTP/2 and has no HTTP/1.1 request heads to time.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1): anything
/// else on a TLS port is not a TLS client.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Bytes read and dropped from a cleartext client on a TLS port after answering it, so
/// closing the socket sends FIN rather than RST (which could destroy the answer before the
/// client reads it). One request head is far less.
const CLEARTEXT_ON_TLS_DRAIN_BYTES_MAX: usize = 64 * 1024;

/// How long that drain may take: the client has its answer and is expected to close.
const CLEARTEXT_ON_TLS_DRAIN_MS: u64 = 1_000;

/// How long an evicted connection may take to close after its graceful close began: long
/// enough for a request that raced the eviction, short enough that the slot's new owner
/// and the evicted socket overlap only briefly.
const EVICTED_CLOSE_MS: u64 = 1_000;

/// Where the server is in its life, as every connection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Finish what is in flight, take no new requests (HTTP/2 GOAWAY, no keep-alive).
    Draining,
    /// The grace period is over: drop the connection.
    Closed,
}

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub(crate) builder: auto::Builder<TokioExecutor>,
    pub(crate) services: Arc<Services>,
    /// The one face this port serves, or `None` on the main port (every face).
    pub(crate) face: Option<Face>,
    pub(crate) limits: ConnectionLimits,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) phase: watch::Receiver<Phase>,
}

/// hyper's per-connection settings: HTTP/2 windows and stream cap, and HTTP/2 keep-alive
/// pings so a peer that vanished without closing loses its connection (and queries).
pub fn builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header-read timeout is this module's (see the module doc), so hyper's, which
    // defaults to 30 s once a timer is set, stays off.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .initial_stream_window_size(H2_STREAM_WINDOW_BYTES)
        .initial_connection_window_size(H2_CONNECTION_WINDOW_BYTES)
        .max_concurrent_streams(H2_CONCURRENT_STREAMS_MAX)
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.h2_keep_alive_interval)
        .keep_alive_timeout(limits.h2_keep_alive_timeout);
    builder
}

/// Serves one accepted socket until it closes; `admission` (its slot) is held until then.
pub(crate) async fn run(stream: TcpStream, admission: Admission, shared: Arc<Shared>) {
    let _counted = shared.services.metrics.connection();
    let _ = stream.set_nodelay(true);
    let Some(tls) = &shared.tls else {
        return serve_http(stream, Protocol::Sniffing, admission, &shared).await;
    };
    let mut phase = shared.phase.clone();
    let handshake =
        tokio::time::timeout(shared.limits.tls_handshake_timeout, handshake(stream, tls));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(_) => {
                tracing::debug!("TLS handshake not done within the timeout; closing");
                return;
            }
        },
        _ = phase.wait_for(|p| *p != Phase::Serving) => return,
        () = admission.slot.evicted() => return,
    };
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(ALPN_H2) => Protocol::H2,
        Some(ALPN_HTTP_1_1) => Protocol::H1,
        _ => Protocol::Sniffing,
    };
    serve_http(stream, protocol, admission, &shared).await;
}

/// The TLS handshake, or `None` (logged) if the peer is not a TLS client or fails it. A
/// cleartext HTTP/1.1 client gets a readable 400 rather than TLS bytes it cannot parse.
async fn handshake(
    stream: TcpStream,
    tls: &TlsConfig,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] != TLS_HANDSHAKE_RECORD => {
            refuse_cleartext(stream, first[0]).await;
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(error = %e, "connection failed before its TLS handshake");
            return None;
        }
    }
    match tls.acceptor().accept(stream).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

/// Answers a cleartext request on a TLS port with ksqlDB's error shape when it looks like
/// HTTP/1.1 (a method starts with a capital letter), then closes.
async fn refuse_cleartext(mut stream: TcpStream, first_byte: u8) {
    tracing::debug!("cleartext connection on a TLS port; closing");
    if !first_byte.is_ascii_uppercase() {
        return;
    }
    let body = ErrorResponse::generic(
        code::BAD_REQUEST,
        "This port speaks TLS: connect with https:// (TLS), not http://",
    )
    .body;
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        response::APPLICATION_JSON,
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(&body).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < CLEARTEXT_ON_TLS_DRAIN_BYTES_MAX {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(CLEARTEXT_ON_TLS_DRAIN_MS), drain).await;
}

/// What a connection is known to speak, as far as request-head timing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// No byte yet ruled the HTTP/2 preface in or out: timed like HTTP/1.1.
    Sniffing,
    H1,
    /// HTTP/2 frames arrive between requests (SETTINGS, PING), so only the idle timeout
    /// applies; hyper's h2 bounds header sizes itself.
    H2,
}

/// Serves HTTP on a connected (and, with TLS, decrypted) stream, enforcing the timeouts.
async fn serve_http<I>(io: I, protocol: Protocol, admission: Admission, shared: &Shared)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new(Arc::clone(&admission.slot)));
    let io = TrackedIo {
        inner: io,
        activity: Arc::clone(&activity),
        protocol,
        preface_matched: 0,
    };
    let service = {
        let services = Arc::clone(&shared.services);
        let activity = Arc::clone(&activity);
        let kind = admission.kind;
        let face = shared.face;
        let push_quota = PushQuota::new(shared.limits.push_queries_per_connection_max);
        let upgrades = UpgradeHooks {
            activity: Arc::clone(&activity),
            phase: shared.phase.clone(),
        };
        service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(push_quota.clone());
            req.extensions_mut().insert(upgrades.clone());
            respond(Arc::clone(&services), face, &activity, kind, req)
        })
    };
    // With upgrades: KalamDB's `/v1/ws` takes the socket over after its 101 response.
    // Boxed rather than pinned on the stack so it can be dropped before waiting on an
    // upgraded socket: its response bodies count as in flight until it is.
    let mut conn = Box::pin(
        shared
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service),
    );

    // A health-only connection closes after one request, so before it the only thing to
    // wait for is that request's head: idling longer would let it hold a reserved slot.
    let idle_timeout = match admission.kind {
        AdmissionKind::Full => shared.limits.idle_timeout,
        AdmissionKind::HealthOnly => shared.limits.header_read_timeout,
    };
    let mut timers = Timers::new(idle_timeout, shared.limits.header_read_timeout);
    let mut phase = shared.phase.clone();
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    // Set once a graceful close has begun: a second idle expiry then drops the socket, as
    // the peer has not finished closing within a whole idle period.
    let mut closing = false;
    // After an eviction: when the socket goes, whatever the peer does.
    let close_by = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(close_by);
    let mut close_by_at: Option<Instant> = None;
    loop {
        let next = timers.next_expiry();
        if let Some((at, _)) = next {
            sleep.as_mut().reset(at);
        }
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = activity.changed.notified() => {
                timers.observe(&activity, Instant::now());
                if activity.close_requested.load(Ordering::Acquire) && !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = &mut sleep, if next.is_some() => match next.map(|(_, expiry)| expiry) {
                Some(Expiry::HeaderRead) => {
                    tracing::debug!("request head not complete within the header-read timeout; closing");
                    return;
                }
                Some(Expiry::Idle) if closing => return,
                Some(Expiry::Idle) => {
                    tracing::debug!("no request within the idle timeout; closing");
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                    timers.restart_idle(Instant::now());
                }
                None => {}
            },
            () = admission.slot.evicted(), if close_by_at.is_none() => {
                // It was idle when chosen; a request that raced in still finishes (GOAWAY
                // names the last stream served), but the socket goes within a second.
                tracing::debug!("idle connection gave its slot to a newer one; closing");
                if !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                let at = Instant::now() + Duration::from_millis(EVICTED_CLOSE_MS);
                close_by.as_mut().reset(at);
                close_by_at = Some(at);
            }
            () = &mut close_by, if close_by_at.is_some() => return,
            changed = phase.changed() => {
                let now = match changed {
                    Ok(()) => *phase.borrow_and_update(),
                    Err(_) => Phase::Closed,
                };
                match now {
                    Phase::Serving => {}
                    Phase::Draining if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    Phase::Draining => {}
                    Phase::Closed => return,
                }
            }
        }
    }
    // An upgraded socket outlives hyper's part of the connection: its slot stays taken
    // until the task serving it lets go.
    drop(conn);
    wait_upgraded(&activity, &mut phase).await;
}

/// Waits while an upgraded socket's task holds the connection ([`UpgradedConnection`]),
/// unless the server's grace period ends first.
async fn wait_upgraded(activity: &Activity, phase: &mut watch::Receiver<Phase>) {
    while activity.slot.in_flight.load(Ordering::Acquire) > 0 {
        tokio::select! {
            () = activity.changed.notified() => {}
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Closed {
                    return;
                }
            }
        }
    }
}

/// In every request's extensions: lets a handler that takes the socket over (an HTTP/1.1
/// upgrade) keep the connection counted, so the connection cap and idle eviction see it.
#[derive(Clone)]
pub(crate) struct UpgradeHooks {
    activity: Arc<Activity>,
    phase: watch::Receiver<Phase>,
}

impl UpgradeHooks {
    /// Call while the upgrading request is still in flight, and keep the result for as
    /// long as the upgraded socket is served.
    pub(crate) fn hold(&self) -> UpgradedConnection {
        UpgradedConnection {
            _in_flight: InFlight::start(&self.activity),
            phase: self.phase.clone(),
        }
    }
}

/// An upgraded socket's claim on its connection: counted in flight (never evicted as idle,
/// its slot held) until dropped.
pub(crate) struct UpgradedConnection {
    _in_flight: InFlight,
    phase: watch::Receiver<Phase>,
}

impl UpgradedConnection {
    /// Resolves once the server drains: the upgraded socket should close then.
    pub(crate) async fn draining(&mut self) {
        loop {
            if *self.phase.borrow_and_update() != Phase::Serving {
                return;
            }
            if self.phase.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The service behind every request: counts it in flight until its response body ends,
/// keeps health-only (reserved) connections to health requests, and sends HEAD responses
/// without a body on both protocols (hyper's HTTP/2 server would send the body a handler
/// built).
fn respond(
    services: Arc<Services>,
    face: Option<Face>,
    activity: &Arc<Activity>,
    kind: AdmissionKind,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response<TrackedBody>, Infallible>> {
    let in_flight = InFlight::start(activity);
    let is_head = req.method() == Method::HEAD;
    // Boxed because hyper keeps each HTTP/2 stream's task as large as this future for the
    // stream's whole life: inlined, the router's state machine (~2.3 KiB, the largest
    // endpoint's) would stay allocated by every open push query after routing.
    let routed: Pin<Box<dyn Future<Output = HttpResponse> + Send>> = match kind {
        AdmissionKind::Full => Box::pin(route(face, services, req)),
        AdmissionKind::HealthOnly => {
            // One request per reserved connection: it closes after this one.
            activity.request_close();
            if is_health_probe(req.method(), req.uri().path()) {
                Box::pin(route(face, services, req))
            } else {
                Box::pin(std::future::ready(at_capacity()))
            }
        }
    };
    async move {
        let response = routed.await;
        Ok(finish(response, is_head, in_flight))
    }
}

/// Requests a health-only connection serves: what load balancers and orchestrators probe.
fn is_health_probe(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && matches!(path, "/healthcheck" | "/info")
}

/// 503 for a request on a health-only connection (ksqlDB's generic error shape).
fn at_capacity() -> HttpResponse {
    response::error(ErrorResponse::generic(
        code::SERVICE_UNAVAILABLE,
        "The server is at its connection limit: only /healthcheck and /info are served on \
         this connection. Retry when other connections have closed.",
    ))
}

/// Wraps the body with the in-flight guard; for HEAD, drops the body but keeps the length
/// a GET would have had (RFC 9110 §9.3.2, RFC 9113 §8.1.1).
fn finish(response: HttpResponse, is_head: bool, in_flight: InFlight) -> Response<TrackedBody> {
    let (mut parts, body) = response.into_parts();
    let body = if is_head {
        if let Some(len) = body.size_hint().exact().filter(|len| *len > 0) {
            parts
                .headers
                .entry(header::CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(len));
        }
        ResponseBody::empty()
    } else {
        body
    };
    Response::from_parts(
        parts,
        TrackedBody {
            body,
            _in_flight: in_flight,
        },
    )
}

/// What the watcher needs to know about a connection, updated by its IO and its requests.
struct Activity {
    /// Its slot; `slot.in_flight` counts requests whose response body has not ended yet
    /// (the pool reads it too, to find idle connections to evict).
    slot: Arc<SlotState>,
    /// Requests ever started, so the watcher sees one that began and ended between looks.
    requests_started: AtomicU64,
    /// HTTP/1.1 bytes arrived with no request in flight: a request head is on its way.
    head_started: AtomicBool,
    /// The connection should close once what is in flight is done (health-only).
    close_requested: AtomicBool,
    /// Wakes the watcher; signalled on busy/idle transitions and head starts only.
    changed: Notify,
}

impl Activity {
    fn new(slot: Arc<SlotState>) -> Activity {
        Activity {
            slot,
            requests_started: AtomicU64::new(0),
            head_started: AtomicBool::new(false),
            close_requested: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn request_close(&self) {
        self.close_requested.store(true, Ordering::Release);
        self.changed.notify_one();
    }
}

/// One request in flight, from its head to the end (or drop) of its response body.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.head_started.store(false, Ordering::Release);
        activity.requests_started.fetch_add(1, Ordering::AcqRel);
        if activity.slot.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            activity.changed.notify_one();
        }
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.slot.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request counted in flight until hyper drops it.
pub struct TrackedBody {
    body: ResponseBody,
    _in_flight: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Idle,
    HeaderRead,
}

/// The watcher's view: since when the connection has been idle, and since when a request
/// head has been arriving.
struct Timers {
    idle_timeout: Duration,
    header_read_timeout: Duration,
    idle_since: Option<Instant>,
    head_since: Option<Instant>,
    requests_seen: u64,
}

impl Timers {
    fn new(idle_timeout: Duration, header_read_timeout: Duration) -> Timers {
        Timers {
            idle_timeout,
            header_read_timeout,
            idle_since: Some(Instant::now()),
            head_since: None,
            requests_seen: 0,
        }
    }

    fn observe(&mut self, activity: &Activity, now: Instant) {
        let started = activity.requests_started.load(Ordering::Acquire);
        if activity.slot.in_flight.load(Ordering::Acquire) > 0 {
            self.idle_since = None;
        } else if self.idle_since.is_none() || started != self.requests_seen {
            self.idle_since = Some(now);
        }
        self.requests_seen = started;
        self.head_since = if activity.head_started.load(Ordering::Acquire) {
            Some(self.head_since.unwrap_or(now))
        } else {
            None
        };
    }

    fn restart_idle(&mut self, now: Instant) {
        if self.idle_since.is_some() {
            self.idle_since = Some(now);
        }
    }

    fn next_expiry(&self) -> Option<(Instant, Expiry)> {
        let idle = self
            .idle_since
            .map(|since| (since + self.idle_timeout, Expiry::Idle));
        let head = self
            .head_since
            .map(|since| (since + self.header_read_timeout, Expiry::HeaderRead));
        match (idle, head) {
            (Some(a), Some(b)) => Some(if b.0 <= a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// The connection's stream, reporting to [`Activity`] when bytes arrive with no request in
/// flight on HTTP/1.1 (a request head has started), and telling HTTP/2 apart by its preface.
struct TrackedIo<I> {
    inner: I,
    activity: Arc<Activity>,
    protocol: Protocol,
    /// Bytes of `H2_PREFACE` seen so far while `Sniffing`.
    preface_matched: usize,
}

impl<I> TrackedIo<I> {
    fn on_bytes(&mut self, bytes: &[u8]) {
        if self.protocol == Protocol::Sniffing {
            self.sniff(bytes);
        }
        if self.protocol == Protocol::H2 {
            return;
        }
        if self.activity.slot.in_flight.load(Ordering::Acquire) == 0
            && !self.activity.head_started.swap(true, Ordering::AcqRel)
        {
            self.activity.changed.notify_one();
        }
    }

    fn sniff(&mut self, bytes: &[u8]) {
        let want = &H2_PREFACE[self.preface_matched..];
        let n = want.len().min(bytes.len());
        if bytes[..n] != want[..n] {
            self.protocol = Protocol::H1;
            return;
        }
        self.preface_matched += n;
        if self.preface_matched == H2_PREFACE.len() {
            self.protocol = Protocol::H2;
            // The preface's first bytes may have started the head timer; HTTP/2 has none.
            if self.activity.head_started.swap(false, Ordering::AcqRel) {
                self.activity.changed.notify_one();
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for TrackedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let new = &buf.filled()[before..];
            if !new.is_empty() && this.protocol != Protocol::H2 {
                this.on_bytes(new);
            }
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TrackedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(protocol: Protocol) -> TrackedIo<()> {
        TrackedIo {
            inner: (),
            activity: Arc::new(Activity::new(Arc::new(SlotState::default()))),
            protocol,
            preface_matched: 0,
        }
    }

    #[test]
    fn the_h2_preface_is_recognised_however_it_is_split() {
        for split in 0..=H2_PREFACE.len() {
            let mut t = io(Protocol::Sniffing);
            t.on_bytes(&H2_PREFACE[..split]);
            t.on_bytes(&H2_PREFACE[split..]);
            assert_eq!(t.protocol, Protocol::H2, "split at {split}");
            assert!(!t.activity.head_started.load(Ordering::Acquire));
        }
    }

    #[test]
    fn an_http1_request_line_starts_the_head_timer() {
        let mut t = io(Protocol::Sniffing);
        t.on_bytes(b"P");
        assert_eq!(t.protocol, Protocol::Sniffing, "PRI and POST share a P");
        t.on_bytes(b"OST /ksql HTTP/1.1\r\n");
        assert_eq!(t.protocol, Protocol::H1);
        assert!(t.activity.head_started.load(Ordering::Acquire));
    }

    #[test]
    fn bytes_while_a_request_is_in_flight_are_not_a_new_head() {
        let mut t = io(Protocol::H1);
        let guard = InFlight::start(&t.activity);
        t.on_bytes(b"request body bytes");
        assert!(!t.activity.head_started.load(Ordering::Acquire));
        drop(guard);
        t.on_bytes(b"GET /info HTTP/1.1\r\n");
        assert!(t.activity.head_started.load(Ordering::Acquire));
        let _next = InFlight::start(&t.activity);
        assert!(
            !t.activity.head_started.load(Ordering::Acquire),
            "its head is complete"
        );
    }

    #[test]
    fn the_earliest_timer_fires_first_and_a_busy_connection_has_no_idle_timer() {
        let activity = Activity::new(Arc::new(SlotState::default()));
        let mut timers = Timers::new(Duration::from_secs(120), Duration::from_secs(10));
        let t0 = Instant::now();
        timers.observe(&activity, t0);
        let (_, first) = timers
            .next_expiry()
            .expect("idle timer runs from the start");
        assert_eq!(first, Expiry::Idle);
        activity.head_started.store(true, Ordering::Release);
        timers.observe(&activity, t0);
        assert_eq!(
            timers.next_expiry(),
            Some((t0 + Duration::from_secs(10), Expiry::HeaderRead))
        );
        activity.head_started.store(false, Ordering::Release);
        activity.slot.in_flight.store(1, Ordering::Release);
        activity.requests_started.store(1, Ordering::Release);
        timers.observe(&activity, t0);
        assert_eq!(timers.next_expiry(), None, "busy: nothing to time");
        activity.slot.in_flight.store(0, Ordering::Release);
        let t1 = t0 + Duration::from_secs(5);
        timers.observe(&activity, t1);
        assert_eq!(
            timers.next_expiry(),
            Some((t1 + Duration::from_secs(120), Expiry::Idle)),
            "idle again from when the request ended"
        );
    }

    #[test]
    fn a_request_that_came_and_went_between_looks_restarts_the_idle_timer() {
        let activity = Activity::new(Arc::new(SlotState::default()));
        let t0 = Instant::now();
        let mut timers = Timers::new(Duration::from_secs(1), Duration::from_secs(1));
        timers.observe(&activity, t0);
        activity.requests_started.store(1, Ordering::Release);
        let t1 = t0 + Duration::from_millis(900);
        timers.observe(&activity, t1);
        assert_eq!(
            timers.next_expiry(),
            Some((t1 + Duration::from_secs(1), Expiry::Idle))
        );
    }
}
