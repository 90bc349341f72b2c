//! Connection timeouts and the connection cap, over real sockets with short limits: trickled
//! and half-sent request heads are cut at the header-read timeout, idle HTTP/1.1 keep-alive
//! and HTTP/2 connections at the idle timeout (and not before), while push queries and slow
//! uploads, which keep a request in flight, are never cut; at the cap, idle connections
//! give their slots to newcomers, health checks get through on the reserved slots when
//! every connection is busy (even with the reserve held by idle or trickling sockets), and
//! past that newcomers are closed at once; an HTTP/2 peer that stops answering PINGs loses
//! its connection and its queries; HEAD responses carry no body on either protocol.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use sluice_server::{ConnectionLimits, ServerOptions};
use support::{response, Client, LineReader, Proto, TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// Slack for timers on a loaded 2-core machine: a timeout must fire no earlier than its
/// value less `EARLY`, and no later than its value plus `LATE`. Without the limit under
/// test, each of these connections would stay open past `WAIT`, far beyond `LATE`.
const EARLY: Duration = Duration::from_millis(50);
const LATE: Duration = Duration::from_millis(3_000);

fn limits(header_read_ms: u64, idle_ms: u64) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_read_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        ..ConnectionLimits::default()
    }
}

async fn server_with(limits: ConnectionLimits) -> TestServer {
    TestServer::start_with(ServerOptions {
        limits,
        ..ServerOptions::default()
    })
    .await
}

/// Reads until the server closes the socket; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("the server closes within WAIT")
        {
            Ok(0) | Err(_) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn assert_within(what: &str, elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed + EARLY >= timeout && elapsed <= timeout + LATE,
        "{what}: closed after {elapsed:?}, timeout {timeout:?}"
    );
}

#[tokio::test]
async fn trickled_headers_are_cut_at_the_header_read_timeout() {
    let header_read = Duration::from_millis(500);
    let server = server_with(limits(500, 30_000)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"GET /info HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .expect("request line");
    let (mut reader, mut writer) = stream.into_split();
    // One header line every 100 ms, for up to 5 s: a slowloris client that is never idle.
    let trickle = tokio::spawn(async move {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer
                .write_all(format!("x-slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return i;
            }
        }
        50
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let closed_at = loop {
        match tokio::time::timeout(WAIT, reader.read(&mut buf))
            .await
            .expect("closed in time")
        {
            Ok(0) | Err(_) => break Instant::now(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    assert_within("trickled head", closed_at - started, header_read);
    assert!(
        got.is_empty(),
        "no response to a head that never ended: {:?}",
        String::from_utf8_lossy(&got)
    );
    let lines_sent = trickle.await.expect("trickle task");
    assert!(lines_sent < 50, "the trickle was cut, not finished");
    server.stop().await;
}

#[tokio::test]
async fn a_half_sent_request_line_is_cut_at_the_header_read_timeout() {
    let server = server_with(limits(400, 30_000)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    stream.write_all(b"GET /inf").await.expect("half a line");
    let (got, closed_at) = read_until_closed(&mut stream).await;
    assert_within("half line", closed_at - started, Duration::from_millis(400));
    assert!(got.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_idle_timeout_not_the_header_timeout() {
    // The header timer starts at a head's first byte, so a connection that sends nothing
    // lasts until the idle timeout.
    let idle = Duration::from_millis(900);
    let server = server_with(limits(200, 900)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    let (got, closed_at) = read_until_closed(&mut stream).await;
    assert_within("silent connection", closed_at - started, idle);
    assert!(got.is_empty());
    server.stop().await;
}

/// Sends a GET over a raw HTTP/1.1 keep-alive connection and reads exactly its response.
async fn raw_get(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("response in time")
            .expect("read");
        assert!(n > 0, "closed before the response ended");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let len: usize = text[..head_end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("content-length")
                .parse()
                .expect("length");
            if got.len() >= head_end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn http1_keep_alive_lasts_the_idle_timeout_not_the_header_timeout() {
    let idle = Duration::from_millis(1_200);
    let server = server_with(limits(300, 1_200)).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let first = raw_get(&mut stream, "/info").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Idle for twice the header timeout: the connection must still be there.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = raw_get(&mut stream, "/healthcheck").await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    let idle_from = Instant::now();
    let (got, closed_at) = read_until_closed(&mut stream).await;
    assert!(got.is_empty());
    assert_within("idle keep-alive", closed_at - idle_from, idle);
    server.stop().await;
}

/// An HTTP/2 client whose connection task the test can watch end.
async fn h2_client(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<Instant>,
) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let ended = tokio::spawn(async move {
        let _ = conn.await;
        Instant::now()
    });
    (send, ended)
}

async fn h2_get(
    send: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    method: &str,
    path: &str,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .body(Empty::new())
        .expect("request");
    let resp = tokio::time::timeout(WAIT, send.send_request(req))
        .await
        .expect("response in time")
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(WAIT, resp.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (status, headers, body)
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_millis(1_000);
    let server = server_with(limits(200, 1_000)).await;
    let (mut send, ended) = h2_client(server.addr).await;
    let (status, _, _) = h2_get(&mut send, "GET", "/info").await;
    assert_eq!(status, StatusCode::OK);
    // A request before the timeout restarts it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _, _) = h2_get(&mut send, "GET", "/healthcheck").await;
    assert_eq!(status, StatusCode::OK);
    let idle_from = Instant::now();
    let ended_at = tokio::time::timeout(WAIT, ended)
        .await
        .expect("the server closes the idle connection")
        .expect("join");
    assert_within("idle h2", ended_at - idle_from, idle);
    server.stop().await;
}

const CREATE: &str = "CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);";

async fn start_push_query(client: &mut Client) -> LineReader {
    let body = json!({"sql": "SELECT * FROM s EMIT CHANGES;", "properties": {}}).to_string();
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    tx.send_data(body.into()).await.expect("send");
    drop(tx);
    let resp = response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = LineReader::new(resp.into_body());
    let header = lines.next_line().await.expect("header");
    assert!(header.contains("queryId"), "{header}");
    lines
}

async fn wait_for_queries(server: &TestServer, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while server.engine.push_query_count() != n {
        assert!(
            Instant::now() < deadline,
            "expected {n} push queries, have {}",
            server.engine.push_query_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn push_queries_and_slow_uploads_outlive_the_idle_timeout() {
    // Idle and header timeouts of a few hundred ms; everything below runs for several times
    // that with long silences, on both protocols, and must not be cut.
    let server = server_with(limits(200, 300)).await;
    server.ksql_ok(CREATE).await;
    let mut h2 = server.h2().await;
    let mut h1 = server.h1().await;
    let mut q2 = start_push_query(&mut h2).await;
    let mut q1 = start_push_query(&mut h1).await;
    wait_for_queries(&server, 2, WAIT).await;

    for proto in [Proto::H2, Proto::H1] {
        let mut producer = Client::connect(server.addr, proto).await;
        let (mut rows, resp) = producer.open("POST", "/inserts-stream", None).await;
        rows.send_data(Bytes::from_static(
            b"{\"target\":\"s\"}\n{\"K\":\"a\",\"V\":1}\n",
        ))
        .await
        .expect("first row");
        let resp = response(resp).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let mut acks = LineReader::new(resp.into_body());
        assert_eq!(
            acks.next_line().await.as_deref(),
            Some(r#"{"status":"ok","seq":0}"#)
        );
        // Four idle timeouts with nothing on the wire, then the next row.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        rows.send_data(Bytes::from_static(b"{\"K\":\"b\",\"V\":2}\n"))
            .await
            .expect("second row after a long silence");
        drop(rows);
        assert_eq!(
            acks.next_line().await.as_deref(),
            Some(r#"{"status":"ok","seq":1}"#),
            "{proto:?} upload survived the silence"
        );
        assert_eq!(acks.next_line().await, None);
    }
    // Each producer sent a then b; both queries, silent for seconds, got all four rows.
    for (name, q) in [("h2", &mut q2), ("h1", &mut q1)] {
        for expected in [r#"["a",1]"#, r#"["b",2]"#, r#"["a",1]"#, r#"["b",2]"#] {
            assert_eq!(
                q.next_line().await.as_deref(),
                Some(expected),
                "{name} query"
            );
        }
    }
    assert_eq!(
        server.engine.push_query_count(),
        2,
        "neither push query was cut"
    );
    server.stop().await;
}

#[tokio::test]
async fn at_the_cap_health_probes_get_in_even_when_idle_sockets_hold_the_reserve() {
    let server = server_with(ConnectionLimits {
        connections_max: 3,
        health_connections_reserved: 2,
        ..limits(10_000, 30_000)
    })
    .await;
    // Fill the general pool with busy connections: each holds a push query (idle ones
    // would give their slots to newcomers; see idle_connections_give_way_to_newcomers).
    server.ksql_ok(CREATE).await;
    let mut general = Vec::new();
    for _ in 0..3 {
        let mut client = server.h2().await;
        let query = start_push_query(&mut client).await;
        general.push((client, query));
    }
    wait_for_queries(&server, 3, WAIT).await;

    // A health probe still gets in, on a reserved slot, and that connection then closes.
    let mut probe = TcpStream::connect(server.addr).await.expect("connect");
    let health = raw_get(&mut probe, "/healthcheck").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""isHealthy":true"#), "{health}");
    let (rest, _) = read_until_closed(&mut probe).await;
    assert!(rest.is_empty(), "closed after one request");

    // Anything else on a reserved slot gets ksqlDB's 503, and GOAWAY.
    let (mut send, ended) = h2_client(server.addr).await;
    let (status, _, body) = h2_get(&mut send, "GET", "/status").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body = support::json(&body);
    assert_eq!(body["@type"], "generic_error");
    assert_eq!(body["error_code"], 50300);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("connection limit"),
        "{body}"
    );
    tokio::time::timeout(WAIT, ended)
        .await
        .expect("the health-only connection closes")
        .expect("join");

    // Fill the reserve with a silent socket and one trickling a head, as an attacker
    // would: a health probe still gets in, taking the oldest one's slot at once (not
    // after a timeout). Refilled, the reserve gives up the trickler next.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut trickling = TcpStream::connect(server.addr).await.expect("connect");
    trickling
        .write_all(b"GET /heal")
        .await
        .expect("half a head");
    let mut refill = None;
    for (evicted, name) in [(&mut silent, "silent"), (&mut trickling, "trickling")] {
        let mut probe = TcpStream::connect(server.addr).await.expect("connect");
        let started = Instant::now();
        let health = raw_get(&mut probe, "/healthcheck").await;
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let (got, closed_at) = read_until_closed(evicted).await;
        assert!(got.is_empty());
        assert!(
            closed_at - started < LATE,
            "the {name} connection was dropped for the probe, not timed out"
        );
        let _ = read_until_closed(&mut probe).await;
        refill = Some(TcpStream::connect(server.addr).await.expect("connect"));
    }
    drop(refill);

    // The accept loop still runs: once a busy connection closes, a new one is served in
    // full (until the server has seen the close, it lands in the reserve: 503).
    drop(general.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let status = raw_get(&mut stream, "/status").await;
        if status.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(status.starts_with("HTTP/1.1 503"), "{status}");
        assert!(Instant::now() < deadline, "no general slot came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_give_way_to_newcomers() {
    let server = server_with(ConnectionLimits {
        connections_max: 2,
        health_connections_reserved: 0,
        ..limits(10_000, 30_000)
    })
    .await;
    let (mut oldest, oldest_ended) = h2_client(server.addr).await;
    assert_eq!(h2_get(&mut oldest, "GET", "/info").await.0, StatusCode::OK);
    let (mut newer, _newer_ended) = h2_client(server.addr).await;
    assert_eq!(h2_get(&mut newer, "GET", "/info").await.0, StatusCode::OK);
    // Both idle, the cap reached: a third client is served in full, in the oldest's place.
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    let evicted_from = Instant::now();
    let status = raw_get(&mut third, "/status").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let ended_at = tokio::time::timeout(WAIT, oldest_ended)
        .await
        .expect("the oldest idle connection is closed")
        .expect("join");
    assert!(
        ended_at - evicted_from < LATE,
        "closed at once, not at the idle timeout"
    );
    assert_eq!(h2_get(&mut newer, "GET", "/info").await.0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn past_busy_connections_without_a_reserve_newcomers_are_closed_at_once() {
    let server = server_with(ConnectionLimits {
        connections_max: 1,
        health_connections_reserved: 0,
        ..limits(10_000, 30_000)
    })
    .await;
    server.ksql_ok(CREATE).await;
    // The only slot is held by a push query over HTTP/1.1: busy, never evicted.
    let mut client = server.h1().await;
    let query = start_push_query(&mut client).await;
    wait_for_queries(&server, 1, WAIT).await;
    for _ in 0..3 {
        let mut refused = TcpStream::connect(server.addr).await.expect("connect");
        let tried = Instant::now();
        let (got, closed_at) = read_until_closed(&mut refused).await;
        assert!(got.is_empty());
        assert!(
            closed_at - tried < LATE,
            "refused at once, not left hanging ({:?})",
            closed_at - tried
        );
    }
    // The push query was untouched, and once it ends its slot serves a newcomer.
    assert_eq!(server.engine.push_query_count(), 1);
    drop((query, client));
    wait_for_queries(&server, 0, WAIT).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /info HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .expect("request");
        let mut buf = [0u8; 12];
        if let Ok(Ok(12)) = tokio::time::timeout(WAIT, stream.read_exact(&mut buf)).await {
            assert_eq!(&buf, b"HTTP/1.1 200");
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// A TCP relay between a client and the server that can be frozen: it then neither reads
/// nor writes, as a peer that vanished without closing (a dead host, a dropped NAT entry).
async fn freezable_relay(server: SocketAddr) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay addr");
    let frozen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&frozen);
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("relay accept");
        let upstream = TcpStream::connect(server).await.expect("relay connect");
        let (cr, cw) = client.into_split();
        let (ur, uw) = upstream.into_split();
        let a = tokio::spawn(pump(cr, uw, Arc::clone(&flag)));
        let b = tokio::spawn(pump(ur, cw, flag));
        let _ = tokio::time::timeout(Duration::from_secs(30), async { (a.await, b.await) }).await;
    });
    (addr, frozen)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(Ordering::Acquire) {
            // Hold both sockets open and silent until the test ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn an_http2_peer_that_stops_answering_pings_loses_its_push_query() {
    let server = server_with(ConnectionLimits {
        h2_keep_alive_interval: Duration::from_millis(300),
        h2_keep_alive_timeout: Duration::from_millis(300),
        ..limits(10_000, 30_000)
    })
    .await;
    server.ksql_ok(CREATE).await;
    let (relay, frozen) = freezable_relay(server.addr).await;
    let mut client = Client::connect(relay, Proto::H2).await;
    let _query = start_push_query(&mut client).await;
    wait_for_queries(&server, 1, WAIT).await;
    // A live peer answers the pings: several intervals later the query is still there.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        server.engine.push_query_count(),
        1,
        "a live peer keeps its query"
    );
    frozen.store(true, Ordering::Release);
    let froze_at = Instant::now();
    wait_for_queries(&server, 0, Duration::from_secs(10)).await;
    let gone_after = froze_at.elapsed();
    assert!(
        gone_after <= Duration::from_millis(600) + LATE,
        "dropped {gone_after:?} after the peer went silent"
    );
    server.stop().await;
}

#[tokio::test]
async fn head_responses_have_no_body_on_either_protocol() {
    let server = server_with(ConnectionLimits::default()).await;
    let (mut send, _ended) = h2_client(server.addr).await;
    for path in ["/info", "/healthcheck", "/nowhere", "/query-stream"] {
        let (get_status, _, get_body) = h2_get(&mut send, "GET", path).await;
        let (status, headers, body) = h2_get(&mut send, "HEAD", path).await;
        assert!(
            body.is_empty(),
            "h2 HEAD {path} sent {} body bytes",
            body.len()
        );
        if status == get_status && !get_body.is_empty() {
            assert_eq!(
                headers
                    .get("content-length")
                    .map(|v| v.to_str().expect("ascii")),
                Some(get_body.len().to_string().as_str()),
                "HEAD {path} tells the GET's length"
            );
        }
    }
    // The connection is still usable: no protocol error came of it.
    assert_eq!(h2_get(&mut send, "GET", "/info").await.0, StatusCode::OK);

    let mut h1 = TcpStream::connect(server.addr).await.expect("connect");
    h1.write_all(b"HEAD /info HTTP/1.1\r\nhost: localhost\r\n\r\nGET /healthcheck HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("two pipelined requests");
    // The HEAD answer must be a bare head: the next bytes are the GET's status line.
    let text = raw_read_responses(&mut h1, 2).await;
    let second = text
        .match_indices("HTTP/1.1 ")
        .nth(1)
        .map(|(i, _)| i)
        .expect("two responses");
    assert!(
        text[..second].ends_with("\r\n\r\n"),
        "the HEAD response has no body: {text:?}"
    );
    assert!(text[second..].starts_with("HTTP/1.1 200"), "{text:?}");
    server.stop().await;
}

/// Reads until `n` status lines and the last response's body (by content-length) are in.
async fn raw_read_responses(stream: &mut TcpStream, n: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        let starts: Vec<usize> = text.match_indices("HTTP/1.1 ").map(|(i, _)| i).collect();
        if starts.len() >= n {
            let last = &text[starts[n - 1]..];
            if let Some(head_end) = last.find("\r\n\r\n") {
                let len: usize = last[..head_end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if last.len() >= head_end + 4 + len {
                    return text;
                }
            }
        }
        let read = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("responses in time")
            .expect("read");
        assert!(read > 0, "closed early: {text:?}");
        got.extend_from_slice(&buf[..read]);
    }
}
