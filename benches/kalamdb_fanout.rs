//! KalamDB live-query fan-out: N WebSocket subscribers to one table while a writer inserts
//! rows at a paced rate; reports end-to-end latency (each row's INSERT call to its
//! `change` frame at a subscriber) and rows delivered / expected.
//!
//! Expected on the 2-core development VM (release build, writer and subscribers on the same
//! cores): every row delivered; p50 ~1 ms and p99 ~3 ms at the small defaults
//! (20 subscribers × 100 rows/s × 3 s); p50 ~8 ms, p99 ~120 ms at 200 × 1,000 rows/s.
//! Measured runs are in benches/README.md.
//!
//! Not a criterion bench: fan-out latency is a distribution over one paced run, not a
//! per-iteration time. Sized by environment variables so `cargo bench` stays a short smoke
//! run: `SLUICE_FANOUT_SUBSCRIBERS` (20), `SLUICE_FANOUT_RATE` rows/s (100),
//! `SLUICE_FANOUT_SECS` (3). Subscribers take KalamDB's default protocol (JSON, frames of
//! 512 bytes and more gzip'd), as the SDK does; `SLUICE_FANOUT_COMPRESSION=none` asks for
//! plain frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value as Json};
use sluice_engine::{Engine, EngineConfig, FsyncPolicy};
use sluice_server::{Server, ServerOptions};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a subscriber waits for its next frame before it stops (once rows stop coming:
/// the stragglers' time after the last row was written, however long writing took).
const DRAIN_SECS: u64 = 5;

/// Highest latency the histograms track (µs): a minute, far past the drain time; an
/// auto-sized histogram would clamp `saturating_record` at its initial 2 ms.
const LATENCY_US_MAX: u64 = 60_000_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros() as u64
}

/// The next JSON message: a text frame, or a binary one holding gzip'd JSON (what the
/// default protocol sends for frames of 512 bytes and more, and the SDK inflates).
async fn next_text(ws: &mut Ws) -> Option<Json> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Binary(gz)) => {
                let mut json = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut json)
                    .ok()?;
                return serde_json::from_slice(&json).ok();
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Opens a subscriber and waits until its initial load is `ready`.
async fn subscribe(addr: std::net::SocketAddr, id: usize) -> Ws {
    let query = match std::env::var("SLUICE_FANOUT_COMPRESSION").as_deref() {
        Ok("none") => "?compression=none",
        _ => "",
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws{query}"))
        .await
        .expect("upgraded");
    let hello = next_text(&mut ws).await.expect("auth_success");
    assert_eq!(hello["type"], "auth_success", "{hello}");
    let subscribe = json!({"type": "subscribe", "subscription":
        {"id": format!("s{id}"), "sql": "SELECT id, body FROM bench.t"}});
    ws.send(Message::Text(subscribe.to_string().into()))
        .await
        .expect("sent");
    loop {
        let frame = next_text(&mut ws).await.expect("initial load");
        if frame["type"] == "initial_data_batch" && frame["batch_control"]["status"] == "ready" {
            return ws;
        }
        assert_ne!(frame["type"], "error", "{frame}");
    }
}

/// What one subscriber saw.
struct Received {
    delivered: u64,
    latency: Histogram<u64>,
    /// The server dropped the subscription (an `error` frame: it fell too far behind).
    dropped: bool,
}

/// Counts rows and records their latency until `expected` arrived, an `error` frame, or
/// [`DRAIN_SECS`] without a frame (or `until`).
async fn receive(mut ws: Ws, expected: u64, until: Instant) -> Received {
    let mut latency = Histogram::<u64>::new_with_bounds(1, LATENCY_US_MAX, 3).expect("histogram");
    let mut delivered = 0;
    let mut dropped = false;
    while delivered < expected {
        let idle = Instant::now() + Duration::from_secs(DRAIN_SECS);
        let Ok(Some(frame)) = tokio::time::timeout_at(idle.min(until), next_text(&mut ws)).await
        else {
            break;
        };
        if frame["type"] == "error" {
            dropped = true;
            break;
        }
        if frame["type"] != "change" {
            continue;
        }
        let received = now_us();
        for row in frame["rows"].as_array().into_iter().flatten() {
            let Some(scheduled) = row["BODY"].as_str().and_then(|s| s.parse::<u64>().ok()) else {
                panic!("a row without its scheduled time: {row}");
            };
            latency.saturating_record(received.saturating_sub(scheduled));
            delivered += 1;
        }
    }
    Received {
        delivered,
        latency,
        dropped,
    }
}

/// Row `i` as producers write it: lower-case names (ksqlDB matches them to `ID` and
/// `BODY`), in either order; `BODY` carries the time it was sent.
fn producer_row(i: u64, sent_us: u64) -> String {
    match i % 2 {
        0 => format!(r#"{{"id":"k{i}","body":"{sent_us}"}}"#),
        _ => format!(r#"{{"body":"{sent_us}","id":"k{i}"}}"#),
    }
}

fn main() {
    let subscribers = setting("SLUICE_FANOUT_SUBSCRIBERS", 20) as usize;
    let rate = setting("SLUICE_FANOUT_RATE", 100).max(1);
    let secs = setting("SLUICE_FANOUT_SECS", 3);
    let rows = rate * secs;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(EngineConfig {
            data_dir: dir.path().to_path_buf(),
            fsync: FsyncPolicy::Always,
            limits: Default::default(),
        })
        .expect("engine");
        let server = Server::bind_with("127.0.0.1:0".parse().expect("addr"), Arc::clone(&engine), ServerOptions::default())
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let none = HashMap::new();
        engine
            .execute(
                "CREATE TABLE `bench.t` (ID STRING PRIMARY KEY, BODY STRING) WITH (kafka_topic='bench.t', value_format='JSON', partitions=1);",
                &none,
                &none,
            )
            .await
            .expect("table");

        let mut ready = Vec::with_capacity(subscribers);
        for id in 0..subscribers {
            ready.push(subscribe(addr, id).await);
        }
        // A backstop only: receivers stop when rows stop coming.
        let until = Instant::now() + Duration::from_secs(10 * secs + DRAIN_SECS);
        let receivers: Vec<_> = ready
            .into_iter()
            .map(|ws| tokio::spawn(receive(ws, rows, until)))
            .collect();

        // Paced writer: row i is due at start + i/rate. Each tick the rows due by then go
        // to an insert session (`/inserts-stream`'s path) together, so rows written in the
        // same moment share an append and its fsync, as concurrent producers' rows do. A
        // row's body is the wall time it was handed to the engine, so latency covers the
        // write (durable append) and the fan-out. A writer that cannot keep the pace shows
        // as "written in" longer than the run.
        let (mut session, mut acks) = engine.insert_session("bench.t").expect("insert session");
        let acked = tokio::spawn(async move {
            let mut n = 0u64;
            while let Some(ack) = acks.next().await {
                match ack {
                    sluice_engine::Ack::Ok { rows, .. } => n += rows,
                    other => panic!("a row failed: {other:?}"),
                }
            }
            n
        });
        let start = Instant::now();
        let mut next = 0u64;
        while next < rows {
            let due = Duration::from_micros(next * 1_000_000 / rate);
            tokio::time::sleep_until(start + due).await;
            let elapsed = start.elapsed().as_micros() as u64;
            let until = (elapsed * rate / 1_000_000 + 1).min(rows);
            let sent_us = now_us();
            let lines: Vec<bytes::Bytes> = (next..until)
                .map(|i| producer_row(i, sent_us).into())
                .collect();
            next = until;
            assert_eq!(session.push(&lines).await, sluice_engine::Flow::Continue);
        }
        session.finish().await;
        assert_eq!(acked.await.expect("acks"), rows, "every row acked");
        let write_secs = start.elapsed().as_secs_f64();

        let mut all = Histogram::<u64>::new_with_bounds(1, LATENCY_US_MAX, 3).expect("histogram");
        let (mut delivered, mut dropped) = (0, 0);
        for r in receivers {
            let received = r.await.expect("receiver");
            delivered += received.delivered;
            dropped += usize::from(received.dropped);
            all.add(received.latency).expect("same bounds");
        }
        let expected = rows * subscribers as u64;
        let ms = |us: u64| us as f64 / 1000.0;
        println!(
            "kalamdb_fanout: {subscribers} subscribers, {rate} rows/s for {secs} s (written in {write_secs:.2} s): \
             delivered {delivered}/{expected} ({dropped} subscribers dropped for falling behind), e2e p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(all.value_at_quantile(0.5)),
            ms(all.value_at_quantile(0.99)),
            ms(all.max()),
        );
        let _ = stop.send(());
        let _ = serving.await;
    });
}
