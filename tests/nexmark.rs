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

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use generator::{Auction, Bid, Event, EventKind, GeneratorConfig, Person};
use http::StatusCode;
use serde_json::{json, Value};
use support::{Client, Proto, TestServer, WAIT};

/// Events in the run: 100 people, 300 auctions, 4,600 bids.
const EVENTS: u64 = 5_000;

const CONFIG: GeneratorConfig = GeneratorConfig {
    seed: 20_260_405,
    // 50 s of event time: five of q8's 10 s windows, and room for q11's sessions to end.
    events_per_s: 100.0,
    base_time_ms: 1_700_000_000_000,
};

/// Waits until every persistent query has read its inputs to their ends.
async fn wait_caught_up(addr: SocketAddr) {
    support::wait_all_caught_up(addr, queries::QUERIES.len()).await;
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

/// q13's side input, through `/inserts-stream` as `sluice nexmark` loads it.
async fn load_side_input(addr: SocketAddr) {
    let mut c = Client::connect(addr, Proto::H2).await;
    let body = queries::side_input_body();
    let (status, acks) = c
        .request("POST", "/inserts-stream", None, body.as_bytes())
        .await;
    let acks = std::str::from_utf8(&acks).expect("utf8");
    assert_eq!(status, StatusCode::OK, "{acks:.300}");
    let ok = acks.lines().filter(|l| l.contains("\"ok\"")).count();
    assert_eq!(ok as u64, queries::SIDE_INPUT_ROWS, "{acks:.300}");
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
fn euros(price: u64) -> Value {
    let milli = u128::from(price) * 908;
    serde_json::from_str(&format!("{}.{:03}", milli / 1000, milli % 1000)).expect("a JSON number")
}

fn q1(events: &[Event]) -> Vec<Value> {
    bids(events)
        .map(|b| json!([b.auction, b.bidder, euros(b.price), b.date_time, b.extra]))
        .collect()
}

fn q2(events: &[Event]) -> Vec<Value> {
    bids(events)
        .filter(|b| b.auction % 123 == 0)
        .map(|b| json!([b.auction, b.price]))
        .collect()
}

fn people(events: &[Event]) -> HashMap<u64, &Person> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Person(p) => Some((p.id, p)),
            _ => None,
        })
        .collect()
}

fn auctions(events: &[Event]) -> impl Iterator<Item = &Auction> {
    events.iter().filter_map(|e| match e {
        Event::Auction(a) => Some(a),
        _ => None,
    })
}

/// Each auction's highest bid among those from its start to its expiry, averaged per
/// category (a category's auctions without such a bid do not count).
fn q4(events: &[Event]) -> Vec<Value> {
    let auctions: HashMap<u64, &Auction> = auctions(events).map(|a| (a.id, a)).collect();
    let mut finals: HashMap<u64, u64> = HashMap::new();
    for b in bids(events) {
        if let Some(a) = auctions.get(&b.auction) {
            if (a.date_time..=a.expires).contains(&b.date_time) {
                let f = finals.entry(a.id).or_default();
                *f = (*f).max(b.price);
            }
        }
    }
    let mut per_category: HashMap<u64, (u64, u64)> = HashMap::new();
    for (id, price) in finals {
        let (sum, n) = per_category.entry(auctions[&id].category).or_default();
        *sum += price;
        *n += 1;
    }
    per_category
        .into_iter()
        .map(|(category, (sum, n))| {
            #[allow(clippy::cast_precision_loss)]
            let avg = java_double(sum as f64 / n as f64);
            json!([category, avg])
        })
        .collect()
}

/// People with the auctions they opened in the 10 s tumbling window they joined in, one
/// row per (person, window) with the number of such auctions.
fn q8(events: &[Event]) -> Vec<Value> {
    let window = |t: i64| t - t.rem_euclid(10_000);
    let people = people(events);
    let mut counts: HashMap<(u64, i64), u64> = HashMap::new();
    for a in auctions(events) {
        if let Some(p) = people.get(&a.seller) {
            if window(p.date_time) == window(a.date_time) {
                *counts.entry((p.id, window(p.date_time))).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|((id, start), n)| json!([id, people[&id].name, start, n]))
        .collect()
}

/// Session windows of bids per bidder: a bid more than 10 s after the session's last one
/// starts a new session (Kafka Streams' inclusive gap).
fn q11(events: &[Event]) -> Vec<Value> {
    let mut times: HashMap<u64, Vec<i64>> = HashMap::new();
    for b in bids(events) {
        times.entry(b.bidder).or_default().push(b.date_time);
    }
    let mut rows = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort_unstable();
        let (mut start, mut end, mut n) = (ts[0], ts[0], 0u64);
        for t in ts {
            if t - end > 10_000 {
                rows.push(json!([bidder, start, end, n]));
                (start, n) = (t, 0);
            }
            end = t;
            n += 1;
        }
        rows.push(json!([bidder, start, end, n]));
    }
    rows
}

/// Every bid, with the side input's value for its `auction % 10000` (all 10,000 keys are
/// loaded, so every bid finds one).
fn q13(events: &[Event]) -> Vec<Value> {
    bids(events)
        .map(|b| {
            let key = b.auction % queries::SIDE_INPUT_ROWS;
            json!([
                key,
                b.auction,
                b.bidder,
                b.price,
                b.date_time,
                key.to_string()
            ])
        })
        .collect()
}

fn q14(events: &[Event]) -> Vec<Value> {
    bids(events)
        .filter(|b| {
            let milli = u128::from(b.price) * 908;
            milli > 1_000_000 * 1000 && milli < 50_000_000 * 1000
        })
        .map(|b| {
            let hour = b.date_time.div_euclid(3_600_000).rem_euclid(24);
            let class = if (8..=18).contains(&hour) {
                "dayTime"
            } else if hour <= 6 || hour >= 20 {
                "nightTime"
            } else {
                "otherTime"
            };
            let c = b.extra.matches('c').count();
            json!([
                b.auction,
                b.bidder,
                euros(b.price),
                class,
                b.date_time,
                b.extra,
                c
            ])
        })
        .collect()
}

/// Bids, distinct bidders and distinct auctions per UTC day, overall and per price rank.
fn q15(events: &[Event]) -> Vec<Value> {
    #[derive(Default)]
    struct Day {
        bids: [u64; 4],
        bidders: [HashSet<u64>; 4],
        auctions: [HashSet<u64>; 4],
    }
    let mut days: HashMap<String, Day> = HashMap::new();
    for b in bids(events) {
        let d = days.entry(utc_date(b.date_time)).or_default();
        let rank = 1 + usize::from(b.price >= 10_000) + usize::from(b.price >= 1_000_000);
        for i in [0, rank] {
            d.bids[i] += 1;
            d.bidders[i].insert(b.bidder);
            d.auctions[i].insert(b.auction);
        }
    }
    days.into_iter()
        .map(|(day, d)| {
            let mut row = vec![json!(day)];
            row.extend(d.bids.iter().map(|n| json!(n)));
            row.extend(d.bidders.iter().map(|s| json!(s.len())));
            row.extend(d.auctions.iter().map(|s| json!(s.len())));
            Value::Array(row)
        })
        .collect()
}

/// The UTC date of `ms` since the epoch, `yyyy-MM-dd` (Howard Hinnant's civil_from_days).
fn utc_date(ms: i64) -> String {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// q15's figures per channel and UTC day, with the day's latest bid minute (`HH:mm`).
fn q16(events: &[Event]) -> Vec<Value> {
    #[derive(Default)]
    struct Day {
        minute: String,
        bids: [u64; 4],
        bidders: [HashSet<u64>; 4],
        auctions: [HashSet<u64>; 4],
    }
    let mut groups: HashMap<(String, String), Day> = HashMap::new();
    for b in bids(events) {
        let d = groups
            .entry((b.channel.clone(), utc_date(b.date_time)))
            .or_default();
        let minute = utc_minute(b.date_time);
        if minute > d.minute {
            d.minute = minute;
        }
        let rank = 1 + usize::from(b.price >= 10_000) + usize::from(b.price >= 1_000_000);
        for i in [0, rank] {
            d.bids[i] += 1;
            d.bidders[i].insert(b.bidder);
            d.auctions[i].insert(b.auction);
        }
    }
    groups
        .into_iter()
        .map(|((channel, day), d)| {
            let mut row = vec![json!(channel), json!(day), json!(d.minute)];
            row.extend(d.bids.iter().map(|n| json!(n)));
            row.extend(d.bidders.iter().map(|s| json!(s.len())));
            row.extend(d.auctions.iter().map(|s| json!(s.len())));
            Value::Array(row)
        })
        .collect()
}

/// The UTC `HH:mm` of `ms` since the epoch.
fn utc_minute(ms: i64) -> String {
    let of_day = ms.rem_euclid(86_400_000) / 60_000;
    format!("{:02}:{:02}", of_day / 60, of_day % 60)
}

fn q17(events: &[Event]) -> Vec<Value> {
    #[derive(Default)]
    struct Stats {
        total: u64,
        ranks: [u64; 3],
        min: u64,
        max: u64,
        sum: u64,
    }
    let mut groups: HashMap<(u64, String), Stats> = HashMap::new();
    for b in bids(events) {
        let s = groups
            .entry((b.auction, utc_date(b.date_time)))
            .or_default();
        s.min = if s.total == 0 {
            b.price
        } else {
            s.min.min(b.price)
        };
        s.max = s.max.max(b.price);
        s.total += 1;
        s.sum += b.price;
        s.ranks[usize::from(b.price >= 10_000) + usize::from(b.price >= 1_000_000)] += 1;
    }
    groups
        .into_iter()
        .map(|((auction, day), s)| {
            #[allow(clippy::cast_precision_loss)]
            let avg = java_double(s.sum as f64 / s.total as f64);
            json!([
                auction, day, s.total, s.ranks[0], s.ranks[1], s.ranks[2], s.min, s.max, avg, s.sum
            ])
        })
        .collect()
}

/// `d` as the JSON number ksqlDB prints for a DOUBLE (Java's `Double.toString`: scientific
/// from 10^7 up), parsed by the same parser as the server's rows: serde_json's default float
/// parsing can be 1 ULP off, and it then is off the same way on both sides.
fn java_double(d: f64) -> Value {
    let text = if d.abs() >= 1e7 {
        format!("{d:e}").replace('e', "E")
    } else {
        format!("{d:?}")
    };
    serde_json::from_str(&text).expect("a JSON number")
}

/// Every bid on a category-10 auction, with the auction's columns: a plain inner join.
fn q20(events: &[Event]) -> Vec<Value> {
    let auctions: HashMap<u64, &Auction> = auctions(events)
        .filter(|a| a.category == 10)
        .map(|a| (a.id, a))
        .collect();
    bids(events)
        .filter_map(|b| {
            let a = auctions.get(&b.auction)?;
            Some(json!([
                b.auction,
                b.bidder,
                b.price,
                b.channel,
                b.url,
                b.date_time,
                b.extra,
                a.item_name,
                a.description,
                a.initial_bid,
                a.reserve,
                a.date_time,
                a.expires,
                a.seller,
                a.category,
                a.extra
            ]))
        })
        .collect()
}

/// The `channel_id` URL parameter, as `REGEXP_EXTRACT('(&|^)channel_id=([^&]*)', url, 2)`.
fn channel_id_param(url: &str) -> Option<&str> {
    let at = if url.starts_with("channel_id=") {
        0
    } else {
        url.find("&channel_id=")? + 1
    };
    let value = &url[at + "channel_id=".len()..];
    Some(value.split('&').next().unwrap_or_default())
}

fn q21(events: &[Event]) -> Vec<Value> {
    bids(events)
        .filter_map(|b| {
            let known = match b.channel.to_lowercase().as_str() {
                "apple" => Some("0"),
                "google" => Some("1"),
                "facebook" => Some("2"),
                "baidu" => Some("3"),
                _ => None,
            };
            let id = known.or(channel_id_param(&b.url))?;
            Some(json!([b.auction, b.bidder, b.price, b.channel, id]))
        })
        .collect()
}

fn q22(events: &[Event]) -> Vec<Value> {
    bids(events)
        .map(|b| {
            let parts: Vec<&str> = b.url.split('/').collect();
            json!([
                b.auction,
                b.bidder,
                b.price,
                b.channel,
                parts.get(3),
                parts.get(4),
                parts.get(5)
            ])
        })
        .collect()
}

/// Every (auction, seller) pair of a category-10 auction whose seller lives in OR, ID or CA:
/// a plain inner join, as the reference's unbounded join.
fn q3(events: &[Event]) -> Vec<Value> {
    let people = people(events);
    auctions(events)
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
    // The queries start from the latest offsets: the side input goes in after them (and
    // is read before any event goes in).
    load_side_input(server.addr).await;
    wait_caught_up(server.addr).await;
    let events: Vec<Event> = (0..EVENTS).map(|n| generator::event(&CONFIG, n)).collect();
    // People and auctions first, then bids: the joins' answers do not depend on the order
    // (q3's WITHIN spans the whole run), so this only makes the run's input order fixed.
    for kind in EventKind::ALL {
        insert(server.addr, &events, kind).await;
    }
    wait_caught_up(server.addr).await;

    let cases: Vec<(&str, &str, Vec<Value>)> = vec![
        ("q0", "SELECT AUCTION, BIDDER, PRICE, DATETIME, EXTRA FROM NEXMARK_Q0;", q0(&events)),
        ("q1", "SELECT AUCTION, BIDDER, PRICE, DATETIME, EXTRA FROM NEXMARK_Q1;", q1(&events)),
        ("q2", "SELECT AUCTION, PRICE FROM NEXMARK_Q2;", q2(&events)),
        ("q3", "SELECT SELLER, NAME, CITY, STATE, ID FROM NEXMARK_Q3;", q3(&events)),
        ("q4", "SELECT CATEGORY, AVG_FINAL FROM NEXMARK_Q4;", q4(&events)),
        ("q8", "SELECT ID, NAME, STARTTIME, AUCTIONS FROM NEXMARK_Q8;", q8(&events)),
        (
            "q11",
            "SELECT BIDDER, WINDOWSTART, WINDOWEND, BID_COUNT FROM NEXMARK_Q11;",
            q11(&events),
        ),
        (
            "q13",
            "SELECT `KEY`, AUCTION, BIDDER, PRICE, DATETIME, `VALUE` FROM NEXMARK_Q13;",
            q13(&events),
        ),
        (
            "q14",
            "SELECT AUCTION, BIDDER, PRICE, BIDTIMETYPE, DATETIME, EXTRA, C_COUNTS FROM NEXMARK_Q14;",
            q14(&events),
        ),
        (
            "q15",
            "SELECT DAY, TOTAL_BIDS, RANK1_BIDS, RANK2_BIDS, RANK3_BIDS, TOTAL_BIDDERS, \
             RANK1_BIDDERS, RANK2_BIDDERS, RANK3_BIDDERS, TOTAL_AUCTIONS, RANK1_AUCTIONS, \
             RANK2_AUCTIONS, RANK3_AUCTIONS FROM NEXMARK_Q15;",
            q15(&events),
        ),
        (
            "q16",
            "SELECT CHANNEL, DAY, MINUTE, TOTAL_BIDS, RANK1_BIDS, RANK2_BIDS, RANK3_BIDS, \
             TOTAL_BIDDERS, RANK1_BIDDERS, RANK2_BIDDERS, RANK3_BIDDERS, TOTAL_AUCTIONS, \
             RANK1_AUCTIONS, RANK2_AUCTIONS, RANK3_AUCTIONS FROM NEXMARK_Q16;",
            q16(&events),
        ),
        (
            "q17",
            "SELECT AUCTION, DAY, TOTAL_BIDS, RANK1_BIDS, RANK2_BIDS, RANK3_BIDS, MIN_PRICE, \
             MAX_PRICE, AVG_PRICE, SUM_PRICE FROM NEXMARK_Q17;",
            q17(&events),
        ),
        (
            "q20",
            "SELECT AUCTION, BIDDER, PRICE, CHANNEL, URL, BID_DATETIME, BID_EXTRA, ITEMNAME, \
             DESCRIPTION, INITIALBID, RESERVE, AUCTION_DATETIME, EXPIRES, SELLER, CATEGORY, \
             AUCTION_EXTRA FROM NEXMARK_Q20;",
            q20(&events),
        ),
        (
            "q21",
            "SELECT AUCTION, BIDDER, PRICE, CHANNEL, CHANNEL_ID FROM NEXMARK_Q21;",
            q21(&events),
        ),
        (
            "q22",
            "SELECT AUCTION, BIDDER, PRICE, CHANNEL, DIR1, DIR2, DIR3 FROM NEXMARK_Q22;",
            q22(&events),
        ),
    ];
    let tested: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let supported: Vec<&str> = queries::QUERIES.iter().map(|q| q.name).collect();
    assert_eq!(
        tested, supported,
        "every supported query has a reference here"
    );
    // Every query is checked before failing, so one run shows every mismatch.
    let mut failures = Vec::new();
    for (name, sql, mut expected) in cases {
        sort(&mut expected);
        // Sanity on the reference itself: every query has output on this run.
        assert!(!expected.is_empty(), "{name}: the reference found no rows");
        let got = sorted_rows(server.addr, sql).await;
        if got.len() != expected.len() {
            failures.push(format!(
                "{name}: {} rows, expected {}; first got {:?}, first expected {:?}",
                got.len(),
                expected.len(),
                got.first(),
                expected.first()
            ));
            continue;
        }
        if let Some((g, e)) = got.iter().zip(&expected).find(|(g, e)| g != e) {
            failures.push(format!("{name}: got {g}, expected {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `sluice nexmark` end to end: a small paced q0 run of the real binary against an
/// in-process server, then flat-out q3 and q8 runs on the same server (each drops the earlier
/// run's streams and queries): every event acked, every bid reaches q0's sink and is timed
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_nexmark_reports_every_event_and_sink_row() {
    let server = TestServer::start().await;
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "nexmark",
            "--addr",
            &server.addr.to_string(),
            "--server-pid",
            &std::process::id().to_string(),
            "--events",
            "2000",
            "--json",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        async move {
            let out = tokio::time::timeout(
                WAIT * 3,
                tokio::task::spawn_blocking(move || {
                    std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
                        .args(args.drain(..))
                        .output()
                        .expect("runs sluice nexmark")
                }),
            )
            .await
            .expect("sluice nexmark finishes in time")
            .expect("join");
            assert!(
                out.status.success(),
                "sluice nexmark failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            support::json(&out.stdout)
        }
    };

    let bids = EventKind::Bid.count_in(2000);
    let paced = run(&["--query", "q0", "--rate", "20000"]).await;
    assert_eq!(paced["query"], "q0", "{paced:#}");
    assert_eq!(paced["acked_events"], 2000, "{paced:#}");
    assert_eq!(paced["sink_rows"], bids, "{paced:#}");
    assert_eq!(paced["e2e_latency"]["count"], bids, "{paced:#}");
    assert!(paced["server_cpu_us_per_event"].as_f64().expect("cpu") > 0.0);
    assert!(paced["errors"].as_array().expect("errors").is_empty());

    let flat_out = run(&["--query", "q3", "--bid-producers", "3"]).await;
    assert_eq!(flat_out["acked_events"], 2000, "{flat_out:#}");
    assert!(flat_out["sustained_events_per_s"].as_f64().expect("rate") > 0.0);
    assert!(flat_out["e2e_latency"].is_null(), "flat out times nothing");
    assert!(flat_out["errors"].as_array().expect("errors").is_empty());

    // q8 is two persistent queries (a join, then a GROUP BY over it): both are waited for.
    // Twice: the second run drops the first's intermediate stream too.
    for _ in 0..2 {
        let two = run(&["--query", "q8"]).await;
        assert_eq!(two["acked_events"], 2000, "{two:#}");
        assert!(two["errors"].as_array().expect("errors").is_empty());
    }
    server.stop().await;
}
