//! Nexmark correctness: a small seeded run of the generator inserted through
//! `/inserts-stream` into a real server running every Nexmark query Sluice supports; each
//! query's sink is compared, row for row (as multisets), with a reference computation of the
//! same events written here in plain Rust (loops and hash maps, no Sluice).

mod support;

// The generator and the queries are the binary's own modules, compiled into this test too,
// so the test inserts exactly what `sluice nexmark` inserts.
#[allow(dead_code)]
#[path = "../src/nexmark/generator.rs"]
mod generator;
#[allow(dead_code)]
#[path = "../src/nexmark/queries.rs"]
mod queries;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use generator::{Auction, Bid, Event, EventKind, GeneratorConfig, Person};
use http::StatusCode;
use serde_json::{json, Value};
use support::{Client, Proto, TestServer, WAIT};

/// Events in the run: 100 people, 300 auctions, 4,600 bids.
const EVENTS: u64 = 5_000;

const CONFIG: GeneratorConfig = GeneratorConfig {
    seed: 20_260_405,
    events_per_s: 10_000.0,
    base_time_ms: 1_700_000_000_000,
};

/// Waits until every persistent query has read its inputs to their ends.
async fn wait_caught_up(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    let mut c = Client::connect(addr, Proto::H2).await;
    loop {
        let (status, body) = c.ksql("SHOW QUERIES;").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let ids: Vec<String> = body[0]["queries"]
            .as_array()
            .expect("queries")
            .iter()
            .map(|q| q["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids.len(), queries::QUERIES.len(), "{body}");
        let mut all = true;
        for id in &ids {
            let (status, bytes) = c
                .request("GET", &format!("/queries/{id}/progress"), None, b"")
                .await;
            let p = support::json(&bytes);
            assert_eq!(status, StatusCode::OK, "{p}");
            all &= p["caughtUp"] == true;
        }
        if all {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every row of a stream, read to its current end, sorted (the sink's order across
/// partitions is not the reference's).
async fn sorted_rows(addr: SocketAddr, sql: &str) -> Vec<Value> {
    let (status, bytes) = Client::connect(addr, Proto::H2)
        .await
        .post(
            "/query-stream",
            &json!({ "sql": sql, "properties": {"auto.offset.reset": "earliest"} }).to_string(),
        )
        .await;
    let text = std::str::from_utf8(&bytes).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{text}");
    let mut rows: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).expect("a whole row"))
        .collect();
    sort(&mut rows);
    rows
}

fn sort(rows: &mut [Value]) {
    rows.sort_by_cached_key(Value::to_string);
}

/// Inserts the run's events of `kind` into their stream and checks every row was acked.
async fn insert(addr: SocketAddr, events: &[Event], kind: EventKind) {
    let mut body = json!({ "target": queries::source_stream(kind) }).to_string();
    body.push('\n');
    let mut rows = 0;
    let mut bytes = body.into_bytes();
    for e in events.iter().filter(|e| kind_of(e) == kind) {
        e.write_json(&mut bytes);
        bytes.push(b'\n');
        rows += 1;
    }
    let mut c = Client::connect(addr, Proto::H2).await;
    let (status, acks) = c.request("POST", "/inserts-stream", None, &bytes).await;
    let acks = std::str::from_utf8(&acks).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{acks}");
    let ok: Vec<&str> = acks.lines().collect();
    assert_eq!(
        ok.len(),
        rows,
        "one ack per row: {}",
        &acks[..acks.len().min(300)]
    );
    assert!(ok.iter().all(|l| l.contains("\"ok\"")), "{acks:.300}");
}

fn kind_of(e: &Event) -> EventKind {
    match e {
        Event::Person(_) => EventKind::Person,
        Event::Auction(_) => EventKind::Auction,
        Event::Bid(_) => EventKind::Bid,
    }
}

// The reference computations: what each query's sink must hold, from the events alone.

fn bids(events: &[Event]) -> impl Iterator<Item = &Bid> {
    events.iter().filter_map(|e| match e {
        Event::Bid(b) => Some(b),
        _ => None,
    })
}

fn q0(events: &[Event]) -> Vec<Value> {
    bids(events)
        .map(|b| json!([b.auction, b.bidder, b.price, b.date_time, b.extra]))
        .collect()
}

/// `0.908 * price` is exact in DECIMAL: price × 908 with three decimals.
fn q1(events: &[Event]) -> Vec<Value> {
    bids(events)
        .map(|b| {
            let milli = u128::from(b.price) * 908;
            let euros: Value =
                serde_json::from_str(&format!("{}.{:03}", milli / 1000, milli % 1000))
                    .expect("a JSON number");
            json!([b.auction, b.bidder, euros, b.date_time, b.extra])
        })
        .collect()
}

fn q2(events: &[Event]) -> Vec<Value> {
    bids(events)
        .filter(|b| b.auction % 123 == 0)
        .map(|b| json!([b.auction, b.price]))
        .collect()
}

/// Every (auction, seller) pair of a category-10 auction whose seller lives in OR, ID or CA:
/// a plain inner join, as the reference's unbounded join.
fn q3(events: &[Event]) -> Vec<Value> {
    let people: HashMap<u64, &Person> = events
        .iter()
        .filter_map(|e| match e {
            Event::Person(p) => Some((p.id, p)),
            _ => None,
        })
        .collect();
    let auctions = events.iter().filter_map(|e| match e {
        Event::Auction(a) => Some(a),
        _ => None,
    });
    auctions
        .filter(|a: &&Auction| a.category == 10)
        .filter_map(|a| people.get(&a.seller).map(|p| (a, p)))
        .filter(|(_, p)| ["OR", "ID", "CA"].contains(&p.state.as_str()))
        .map(|(a, p)| json!([p.id, p.name, p.city, p.state, a.id]))
        .collect()
}

#[tokio::test]
async fn every_query_matches_the_reference_on_a_seeded_run() {
    let server = TestServer::start().await;
    server.ksql_ok(&queries::create_sources_sql(2)).await;
    for q in queries::QUERIES {
        server.ksql_ok(q.sql).await;
    }
    let events: Vec<Event> = (0..EVENTS).map(|n| generator::event(&CONFIG, n)).collect();
    // People and auctions first, then bids: the joins' answers do not depend on the order
    // (q3's WITHIN spans the whole run), so this only makes the run's input order fixed.
    for kind in EventKind::ALL {
        insert(server.addr, &events, kind).await;
    }
    wait_caught_up(server.addr).await;

    let cases: [(&str, &str, Vec<Value>); 4] = [
        (
            "q0",
            "SELECT AUCTION, BIDDER, PRICE, DATETIME, EXTRA FROM NEXMARK_Q0;",
            q0(&events),
        ),
        (
            "q1",
            "SELECT AUCTION, BIDDER, PRICE, DATETIME, EXTRA FROM NEXMARK_Q1;",
            q1(&events),
        ),
        ("q2", "SELECT AUCTION, PRICE FROM NEXMARK_Q2;", q2(&events)),
        (
            "q3",
            "SELECT SELLER, NAME, CITY, STATE, ID FROM NEXMARK_Q3;",
            q3(&events),
        ),
    ];
    for (name, sql, mut expected) in cases {
        sort(&mut expected);
        let got = sorted_rows(server.addr, sql).await;
        // Sanity on the reference itself: every query has output on this run.
        assert!(!expected.is_empty(), "{name}: the reference found no rows");
        assert_eq!(got.len(), expected.len(), "{name}: row count");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{name}: first differing row");
        }
    }
}
