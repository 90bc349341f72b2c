//! Peer-comparison drivers for `benches/peers/run.sh`: the workload of `sluice bench` (one
//! producer with a bounded window of unacked rows, one live consumer, ~105 B JSON rows)
//! against Redis Streams, NATS JetStream and a Kafka-API broker, plus an fsync probe and the
//! table that compares them with `sluice bench --json`.
//!
//! ```text
//!  consumer (live, from the empty stream's start) ─┐
//!  producer: chunks of --chunk-rows, at most --window rows unacked ─► acks ─► report JSON
//! ```
//!
//! The JSON uses `sluice bench --json`'s field names (`acked_rows_per_s`, `acked_mb_per_s`,
//! `e2e_latency.p50_us`, …) so `table` reads both alike. Latency is µs from each row's send
//! time (the `TS` it carries, µs since the run epoch) to when the consumer saw it (e2e) or
//! its ack arrived (ack).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Parser, Subcommand};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// How long the consumer may take to see the last acked rows once producing ends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a blocked consumer wakes to check whether it is done.
const POLL_SLICE: Duration = Duration::from_millis(200);
/// Bounds so a typo cannot start an endless load.
const ROWS_MAX: u64 = 100_000_000;
const DURATION_S_MAX: f64 = 3_600.0;

#[derive(Parser)]
#[command(about = "Peer comparison drivers for Sluice (benches/peers)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Redis Streams: XADD pipelines, XREAD BLOCK consumer.
    Redis(Load),
    /// NATS JetStream: async publish acks, pull consumer without acks.
    Nats(Load),
    /// Kafka API (Tansu): acks=all producer, consumer from the start of partition 0.
    Kafka(Load),
    /// p50/p99 of appending --block-bytes and fdatasync, in --dir.
    Fsync(FsyncArgs),
    /// Print the comparison table from the JSON reports (`name=path`, Sluice first).
    Table(TableArgs),
}

#[derive(Args, Clone)]
struct Load {
    /// Server address (loopback).
    #[arg(long)]
    addr: String,
    /// Stop after this many rows…
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// …or this many seconds of producing, whichever comes first.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Bytes per row (JSON, padded like `sluice bench`'s rows).
    #[arg(long, default_value_t = 105)]
    row_bytes: usize,
    /// Most rows sent and not yet acked (as `sluice bench --window`).
    #[arg(long, default_value_t = 16_384)]
    window: u32,
    /// Rows per pipelined batch (as `sluice bench --chunk-rows`).
    #[arg(long, default_value_t = 256)]
    chunk_rows: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct FsyncArgs {
    /// Directory on the disk to probe (a file is created and removed there).
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 2_000)]
    count: u32,
    #[arg(long, default_value_t = 4_096)]
    block_bytes: usize,
    /// Stop early after this many seconds.
    #[arg(long, default_value_t = 20.0)]
    max_seconds: f64,
}

#[derive(Args)]
struct TableArgs {
    /// `name=path` of each system's JSON report (split at the last `=`); the first is the
    /// baseline (Sluice).
    #[arg(required = true)]
    reports: Vec<String>,
    /// The fsync probe's JSON report.
    #[arg(long)]
    fsync: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Fsync(a) => return fsync_probe(&a),
        Cmd::Table(a) => return table(&a),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        match cli.cmd {
            Cmd::Redis(l) => redis_run(l).await,
            Cmd::Nats(l) => nats_run(l).await,
            Cmd::Kafka(l) => kafka_run(l).await,
            _ => unreachable!(),
        }
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report["ok"] != Value::Bool(true) {
        bail!("the run found problems (see the report)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rows and clocks

/// µs since the run epoch.
fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

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

/// The same row shape as `sluice bench` (src/bench/rows.rs), without the newline.
struct RowGen {
    state: u64,
    row_bytes: usize,
}

impl RowGen {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn row(&mut self, id: u64, ts_us: u64) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.row_bytes + 8);
        let r = self.next_u64();
        let region = REGIONS[((r >> 20) % REGIONS.len() as u64) as usize];
        let cents = 100_000 + (r >> 32) % 900_000;
        write!(
            out,
            "{{\"ID\":{id},\"TS\":{ts_us},\"USER\":\"user_{:06}\",\"REGION\":\"{region}\",\
             \"AMOUNT\":{}.{:02},\"OK\":{}",
            r % 1_000_000,
            cents / 100,
            cents % 100,
            (r >> 60) & 1 == 0
        )
        .expect("Vec write");
        let gap = self.row_bytes.saturating_sub(out.len() + 1);
        if gap >= 9 {
            out.extend_from_slice(b",\"PAD\":\"");
            out.resize(out.len() + gap - 9, b'x');
            out.push(b'"');
        } else {
            out.resize(out.len() + gap, b' ');
        }
        out.push(b'}');
        out
    }
}

/// Reads `ID` and `TS` from a row's start (`{"ID":<n>,"TS":<n>,…`).
fn parse_id_ts(row: &[u8]) -> Option<(u64, u64)> {
    fn num(b: &[u8]) -> Option<(u64, &[u8])> {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 19 {
            return None;
        }
        let v = b[..n]
            .iter()
            .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
        Some((v, &b[n..]))
    }
    let (id, rest) = num(row.strip_prefix(b"{\"ID\":")?)?;
    let (ts, _) = num(rest.strip_prefix(b",\"TS\":")?)?;
    Some((id, ts))
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds")
}

fn summary(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "count": h.len(),
        "p50_us": h.value_at_quantile(0.50),
        "p99_us": h.value_at_quantile(0.99),
        "p999_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
        "mean_us": h.mean(),
    })
}

// ---------------------------------------------------------------------------------------
// The shared workload: a windowed producer and a live consumer

/// What producer and consumer share.
#[derive(Default)]
struct Shared {
    acked_rows: AtomicU64,
    producer_done: AtomicBool,
}

/// One chunk's acks: resolves when every row of the chunk is acked.
type AckFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

struct ProducerOut {
    sent_rows: u64,
    acked_rows: u64,
    acked_bytes: u64,
    elapsed_s: f64,
    ack: Histogram<u64>,
    error: Option<String>,
}

/// Sends chunks of rows through `send` (which starts sending and returns the chunk's ack
/// future), keeping at most `window` rows unacked, until `rows` or `duration`.
async fn produce<S, F>(load: &Load, shared: &Shared, mut send: S) -> ProducerOut
where
    S: FnMut(Vec<Vec<u8>>) -> F,
    F: Future<Output = anyhow::Result<AckFuture>>,
{
    let mut gen = RowGen {
        state: load.seed,
        row_bytes: load.row_bytes,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(load.duration);
    let mut inflight = FuturesUnordered::new();
    let (mut inflight_rows, mut sent, mut acked, mut acked_bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut ack = histogram();
    let mut error = None;
    let mut first_ts = None;
    let mut last_ack = 0u64;
    loop {
        let may_send = error.is_none() && sent < load.rows && Instant::now() < deadline;
        if may_send && inflight_rows + u64::from(load.chunk_rows) <= u64::from(load.window) {
            let n = u64::from(load.chunk_rows).min(load.rows - sent);
            let ts = now_us();
            first_ts.get_or_insert(ts);
            let rows: Vec<Vec<u8>> = (0..n).map(|i| gen.row(sent + i, ts)).collect();
            let bytes: u64 = rows.iter().map(|r| r.len() as u64).sum();
            match send(rows).await {
                Ok(fut) => {
                    sent += n;
                    inflight_rows += n;
                    inflight.push(async move { (n, bytes, ts, fut.await) });
                }
                Err(e) => error = Some(format!("send: {e:#}")),
            }
            continue;
        }
        let Some((n, bytes, ts, result)) = inflight.next().await else {
            break;
        };
        inflight_rows -= n;
        match result {
            Ok(()) => {
                let now = now_us();
                last_ack = now;
                acked += n;
                acked_bytes += bytes;
                ack.saturating_record_n(now.saturating_sub(ts).max(1), n);
                shared.acked_rows.store(acked, Ordering::Release);
            }
            Err(e) => {
                error.get_or_insert(format!("ack: {e:#}"));
            }
        }
    }
    shared.producer_done.store(true, Ordering::Release);
    ProducerOut {
        sent_rows: sent,
        acked_rows: acked,
        acked_bytes,
        elapsed_s: last_ack.saturating_sub(first_ts.unwrap_or(0)) as f64 / 1e6,
        ack,
        error,
    }
}

/// The consumer's bookkeeping: e2e latency and which ids it saw.
struct Seen {
    e2e: Histogram<u64>,
    bits: Vec<u64>,
    rows: u64,
    unique: u64,
    duplicates: u64,
    unparsed: u64,
    started_us: u64,
    last_us: u64,
}

impl Seen {
    fn new(rows_max: u64) -> Seen {
        Seen {
            e2e: histogram(),
            bits: vec![0; rows_max.div_ceil(64) as usize],
            rows: 0,
            unique: 0,
            duplicates: 0,
            unparsed: 0,
            started_us: now_us(),
            last_us: 0,
        }
    }

    fn row(&mut self, payload: &[u8], now: u64) {
        self.rows += 1;
        self.last_us = now;
        let Some((id, ts)) = parse_id_ts(payload) else {
            self.unparsed += 1;
            return;
        };
        self.e2e.saturating_record(now.saturating_sub(ts).max(1));
        let (w, b) = ((id / 64) as usize, id % 64);
        match self.bits.get_mut(w) {
            Some(word) if *word & (1 << b) != 0 => self.duplicates += 1,
            Some(word) => {
                *word |= 1 << b;
                self.unique += 1;
            }
            None => self.unparsed += 1,
        }
    }

    /// Done once the producer is and every acked row was seen, or the drain timed out.
    fn done(&self, shared: &Shared, drain_deadline: &mut Option<Instant>) -> bool {
        if !shared.producer_done.load(Ordering::Acquire) {
            return false;
        }
        let acked = shared.acked_rows.load(Ordering::Acquire);
        if self.unique >= acked {
            return true;
        }
        let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_TIMEOUT);
        Instant::now() >= deadline
    }
}

fn report(
    system: &str,
    load: &Load,
    durability: &str,
    p: ProducerOut,
    seen: anyhow::Result<Seen>,
) -> Value {
    let mut errors: Vec<String> = p.error.into_iter().collect();
    let consumer = match seen {
        Ok(s) => {
            // Acked rows the consumer never saw (ids are 0..sent; count the acked ones).
            let missing = p.acked_rows.saturating_sub(s.unique);
            let span = s.last_us.saturating_sub(s.started_us) as f64 / 1e6;
            let c = json!({
                "rows": s.rows,
                "rows_per_s": if span > 0.0 { s.rows as f64 / span } else { 0.0 },
                "missing": missing,
                "duplicates": s.duplicates,
                "unparsed": s.unparsed,
                "e2e": summary(&s.e2e),
            });
            if missing > 0 || s.duplicates > 0 || s.unparsed > 0 {
                errors.push(format!(
                    "consumer: {missing} missing, {} duplicates, {} unparsed",
                    s.duplicates, s.unparsed
                ));
            }
            c
        }
        Err(e) => {
            errors.push(format!("consumer: {e:#}"));
            Value::Null
        }
    };
    let e2e = consumer.get("e2e").cloned().unwrap_or(Value::Null);
    let rate = if p.elapsed_s > 0.0 {
        p.acked_rows as f64 / p.elapsed_s
    } else {
        0.0
    };
    let mb = if p.elapsed_s > 0.0 {
        p.acked_bytes as f64 / p.elapsed_s / 1e6
    } else {
        0.0
    };
    json!({
        "system": system,
        "durability": durability,
        "config": {
            "addr": load.addr, "producers": 1, "queries": 1, "row_bytes": load.row_bytes,
            "window_rows": load.window, "chunk_rows": load.chunk_rows,
            "rows_max": load.rows, "duration_s_max": load.duration,
        },
        "sent_rows": p.sent_rows,
        "acked_rows": p.acked_rows,
        "acked_bytes": p.acked_bytes,
        "elapsed_s": p.elapsed_s,
        "acked_rows_per_s": rate,
        "acked_mb_per_s": mb,
        "ack_latency": summary(&p.ack),
        "e2e_latency": e2e,
        "consumer": consumer,
        "errors": errors,
        "ok": errors.is_empty() && p.acked_rows > 0,
    })
}

fn check_load(load: &Load) -> anyhow::Result<()> {
    if !(1..=ROWS_MAX).contains(&load.rows) {
        bail!("--rows must be 1..={ROWS_MAX}");
    }
    if !(load.duration > 0.0 && load.duration <= DURATION_S_MAX) {
        bail!("--duration must be in (0, {DURATION_S_MAX}]");
    }
    if load.chunk_rows == 0 || load.window < load.chunk_rows {
        bail!("--chunk-rows must be ≥ 1 and ≤ --window");
    }
    if !load.addr.starts_with("127.") && !load.addr.starts_with("localhost") {
        bail!("--addr must be a loopback address");
    }
    now_us(); // start the epoch
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Redis Streams

const REDIS_KEY: &str = "bench_0";

async fn redis_run(load: Load) -> anyhow::Result<Value> {
    check_load(&load)?;
    let client = redis::Client::open(format!("redis://{}/", load.addr))?;
    // XREAD BLOCK outlives the client's default 500 ms response timeout.
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    let mut prod = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .context("connecting to Redis")?;
    let mut cons = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let _: () = redis::cmd("DEL")
        .arg(REDIS_KEY)
        .query_async(&mut prod)
        .await?;
    let shared = Arc::new(Shared::default());

    let rows_max = load.rows;
    let sh = shared.clone();
    let consumer = tokio::spawn(async move {
        let mut seen = Seen::new(rows_max);
        let mut last_id = b"0-0".to_vec();
        let mut drain = None;
        while !seen.done(&sh, &mut drain) {
            let reply: Value0 = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(4096)
                .arg("BLOCK")
                .arg(POLL_SLICE.as_millis() as u64)
                .arg("STREAMS")
                .arg(REDIS_KEY)
                .arg(&last_id)
                .query_async(&mut cons)
                .await?;
            let now = now_us();
            for (id, payload) in xread_entries(&reply)? {
                seen.row(payload, now);
                last_id = id.to_vec();
            }
        }
        anyhow::Ok(seen)
    });

    let p = produce(&load, &shared, |rows| {
        let mut pipe = redis::pipe();
        for r in &rows {
            pipe.cmd("XADD")
                .arg(REDIS_KEY)
                .arg("*")
                .arg("r")
                .arg(r.as_slice());
        }
        let mut conn = prod.clone();
        async move {
            let fut: AckFuture = Box::pin(async move {
                let ids: Vec<Value0> = pipe.query_async(&mut conn).await?;
                if ids.len() != rows.len() {
                    bail!("{} XADD replies for {} rows", ids.len(), rows.len());
                }
                Ok(())
            });
            Ok(fut)
        }
    })
    .await;
    let seen = consumer.await?;
    Ok(report(
        "redis",
        &load,
        "XADD reply after the AOF write(2), before fsync (appendfsync everysec)",
        p,
        seen,
    ))
}

type Value0 = redis::Value;

/// `(id, payload)` of each entry of an XREAD reply for one stream with one field per entry.
fn xread_entries(reply: &redis::Value) -> anyhow::Result<Vec<(&[u8], &[u8])>> {
    use redis::Value as V;
    let streams = match reply {
        V::Nil => return Ok(Vec::new()),
        V::Array(s) => s,
        other => bail!("unexpected XREAD reply {other:?}"),
    };
    let mut out = Vec::new();
    for s in streams {
        let V::Array(kv) = s else {
            bail!("XREAD: stream not an array")
        };
        let Some(V::Array(entries)) = kv.get(1) else {
            bail!("XREAD: no entries")
        };
        for e in entries {
            let V::Array(e) = e else {
                bail!("XREAD: entry not an array")
            };
            let (Some(V::BulkString(id)), Some(V::Array(fields))) = (e.first(), e.get(1)) else {
                bail!("XREAD: bad entry")
            };
            let Some(V::BulkString(payload)) = fields.get(1) else {
                bail!("XREAD: no field")
            };
            out.push((id.as_slice(), payload.as_slice()));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// NATS JetStream

async fn nats_run(load: Load) -> anyhow::Result<Value> {
    use async_nats::jetstream::{
        self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy,
    };
    check_load(&load)?;
    let client = async_nats::connect(load.addr.as_str())
        .await
        .context("connecting to NATS")?;
    // The context's own ack window is the bench window; wait at it instead of failing.
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(load.window as usize + load.chunk_rows as usize)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let _ = js.delete_stream("BENCH_0").await;
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: "BENCH_0".into(),
            subjects: vec!["bench_0".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the stream: {e}"))?;
    // An ephemeral pull consumer without acks (a push query does not ack either), pulling
    // up to 4096 messages at a time (as the Redis driver's XREAD COUNT).
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the consumer: {e}"))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(4096)
        .messages()
        .await
        .map_err(|e| anyhow!("consumer messages: {e}"))?;
    let shared = Arc::new(Shared::default());

    let rows_max = load.rows;
    let sh = shared.clone();
    let consumer = tokio::spawn(async move {
        let mut seen = Seen::new(rows_max);
        let mut drain = None;
        while !seen.done(&sh, &mut drain) {
            match tokio::time::timeout(POLL_SLICE, messages.next()).await {
                Err(_) => continue,
                Ok(None) => bail!("consumer stream ended"),
                Ok(Some(Err(e))) => bail!("consumer: {e}"),
                Ok(Some(Ok(m))) => seen.row(&m.payload, now_us()),
            }
        }
        anyhow::Ok(seen)
    });

    let p = produce(&load, &shared, |rows| {
        let js = js.clone();
        async move {
            let mut acks = Vec::with_capacity(rows.len());
            for r in rows {
                let ack = js
                    .publish("bench_0", r.into())
                    .await
                    .map_err(|e| anyhow!("publish: {e}"))?;
                acks.push(ack);
            }
            let fut: AckFuture = Box::pin(async move {
                for a in acks {
                    a.await.map_err(|e| anyhow!("publish ack: {e}"))?;
                }
                Ok(())
            });
            Ok(fut)
        }
    })
    .await;
    let seen = consumer.await?;
    let _ = js.delete_stream("BENCH_0").await;
    Ok(report(
        "nats",
        &load,
        "JetStream PubAck after the file-store write(2); fsync on the sync interval (2 min default)",
        p,
        seen,
    ))
}

// ---------------------------------------------------------------------------------------
// Kafka API (Tansu)

async fn kafka_run(load: Load) -> anyhow::Result<Value> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
    check_load(&load)?;
    const TOPIC: &str = "bench_0";
    let mut base = ClientConfig::new();
    base.set("bootstrap.servers", &load.addr);
    let admin: AdminClient<DefaultClientContext> = base.create()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let _ = admin.delete_topics(&[TOPIC], &opts).await;
    let created = admin
        .create_topics(
            &[NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1))],
            &opts,
        )
        .await?;
    for r in created {
        r.map_err(|(t, e)| anyhow!("creating topic {t}: {e}"))?;
    }
    let producer: FutureProducer = base
        .clone()
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let consumer: StreamConsumer = base
        .clone()
        .set("group.id", "peers-bench")
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    // Assigned rather than subscribed: the same data path without waiting out a group join.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(TOPIC, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let consumer = Arc::new(consumer);
    let shared = Arc::new(Shared::default());

    let rows_max = load.rows;
    let sh = shared.clone();
    let c = consumer.clone();
    let consumer_task = tokio::spawn(async move {
        let mut seen = Seen::new(rows_max);
        let mut drain = None;
        while !seen.done(&sh, &mut drain) {
            match tokio::time::timeout(POLL_SLICE, c.recv()).await {
                Err(_) => continue,
                Ok(Err(e)) => bail!("consumer: {e}"),
                Ok(Ok(m)) => seen.row(m.payload().unwrap_or_default(), now_us()),
            }
        }
        anyhow::Ok(seen)
    });

    let p = produce(&load, &shared, |rows| {
        let producer = producer.clone();
        async move {
            let mut acks = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut record = FutureRecord::<(), [u8]>::to(TOPIC).payload(r.as_slice());
                loop {
                    match producer.send_result(record) {
                        Ok(f) => {
                            acks.push(f);
                            break;
                        }
                        Err((e, back)) => {
                            if !matches!(
                                e,
                                rdkafka::error::KafkaError::MessageProduction(
                                    rdkafka::types::RDKafkaErrorCode::QueueFull
                                )
                            ) {
                                bail!("produce: {e}");
                            }
                            record = back;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
            }
            let fut: AckFuture = Box::pin(async move {
                for a in acks {
                    a.await
                        .map_err(|_| anyhow!("delivery canceled"))?
                        .map_err(|(e, _)| anyhow!("delivery: {e}"))?;
                }
                Ok(())
            });
            Ok(fut)
        }
    })
    .await;
    let seen = consumer_task.await?;
    // Closing is blocking (LeaveGroup etc.): keep it off the runtime's workers.
    tokio::task::spawn_blocking(move || drop(consumer)).await?;
    tokio::task::spawn_blocking(move || drop(producer)).await?;
    Ok(report(
        "kafka",
        &load,
        "acks=all from Tansu with memory:// storage (no disk at all)",
        p,
        seen,
    ))
}

// ---------------------------------------------------------------------------------------
// fsync probe

fn fsync_probe(a: &FsyncArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let path = a
        .dir
        .join(format!("fsync-probe-{}.bin", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let block = vec![0x5au8; a.block_bytes];
    let mut h = histogram();
    let start = Instant::now();
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..a.count {
            if start.elapsed().as_secs_f64() > a.max_seconds {
                break;
            }
            let t = Instant::now();
            f.write_all(&block)?;
            f.sync_data()?;
            h.saturating_record((t.elapsed().as_micros() as u64).max(1));
        }
        Ok(())
    })();
    drop(f);
    let _ = std::fs::remove_file(&path);
    result?;
    let mut v = summary(&h);
    v["block_bytes"] = json!(a.block_bytes);
    v["dir"] = json!(a.dir.display().to_string());
    v["op"] = json!("append write(2) + fdatasync");
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The table

fn us(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(u) if u < 1_000.0 => format!("{u:.0} µs"),
        Some(u) if u < 1_000_000.0 => format!("{:.2} ms", u / 1e3),
        Some(u) => format!("{:.2} s", u / 1e6),
    }
}

fn table(a: &TableArgs) -> anyhow::Result<()> {
    struct Row {
        name: String,
        rate: Option<f64>,
        mb: Option<f64>,
        p50: Option<f64>,
        p99: Option<f64>,
        note: String,
    }
    let mut rows = Vec::new();
    for spec in &a.reports {
        let (name, path) = spec
            .rsplit_once('=')
            .ok_or_else(|| anyhow!("expected name=path, got {spec}"))?;
        let parsed = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok());
        let row = match parsed {
            Some(v) if v.get("acked_rows_per_s").is_some() => {
                let bad = v["ok"] != Value::Bool(true);
                let errs = v["errors"].as_array().map(|e| e.len()).unwrap_or(0);
                Row {
                    name: name.into(),
                    rate: v["acked_rows_per_s"].as_f64(),
                    mb: v["acked_mb_per_s"].as_f64(),
                    p50: us(&v["e2e_latency"]["p50_us"]),
                    p99: us(&v["e2e_latency"]["p99_us"]),
                    note: if bad {
                        format!("NOT OK ({errs} errors: see {path})")
                    } else {
                        format!("{} rows", v["acked_rows"])
                    },
                }
            }
            Some(v) if v.get("unavailable").is_some() => Row {
                name: name.into(),
                rate: None,
                mb: None,
                p50: None,
                p99: None,
                note: format!("unavailable: {}", v["unavailable"].as_str().unwrap_or("?")),
            },
            _ => Row {
                name: name.into(),
                rate: None,
                mb: None,
                p50: None,
                p99: None,
                note: format!("no report ({path})"),
            },
        };
        rows.push(row);
    }
    let base = &rows[0];
    let ratio = |s: Option<f64>, p: Option<f64>| match (s, p) {
        (Some(s), Some(p)) if p > 0.0 => format!("{:.2}×", s / p),
        _ => "-".into(),
    };
    println!(
        "{:<26} {:>12} {:>8} {:>10} {:>10}   {:>9} {:>9} {:>9}   {}",
        "system", "rows/s", "MB/s", "e2e p50", "e2e p99", "S/p rows", "S/p p50", "S/p p99", "note"
    );
    for r in &rows {
        let same = std::ptr::eq(r, base);
        println!(
            "{:<26} {:>12} {:>8} {:>10} {:>10}   {:>9} {:>9} {:>9}   {}",
            r.name,
            r.rate.map_or("-".into(), |x| format!("{x:.0}")),
            r.mb.map_or("-".into(), |x| format!("{x:.1}")),
            fmt_us(r.p50),
            fmt_us(r.p99),
            if same {
                "1.00×".into()
            } else {
                ratio(base.rate, r.rate)
            },
            if same {
                "1.00×".into()
            } else {
                ratio(base.p50, r.p50)
            },
            if same {
                "1.00×".into()
            } else {
                ratio(base.p99, r.p99)
            },
            r.note
        );
    }
    println!("S/p = Sluice ÷ peer: rows/s above 1× means Sluice is faster; latency below 1× means Sluice is lower.");
    if let Some(path) = &a.fsync {
        match std::fs::read_to_string(path)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        {
            Some(v) => println!(
                "fsync probe ({}, {} B append + fdatasync, {} ops): p50 {}  p99 {}  max {}  → at most ~{:.0} serial fsyncs/s",
                v["dir"].as_str().unwrap_or("?"),
                v["block_bytes"],
                v["count"],
                fmt_us(v["p50_us"].as_f64()),
                fmt_us(v["p99_us"].as_f64()),
                fmt_us(v["max_us"].as_f64()),
                1e6 / v["p50_us"].as_f64().unwrap_or(f64::INFINITY),
            ),
            None => println!("fsync probe: no report ({})", path.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_105_bytes_and_parse() {
        let mut g = RowGen {
            state: 42,
            row_bytes: 105,
        };
        for i in 0..10_000u64 {
            let r = g.row(i * 100, i * 10_000);
            assert_eq!(r.len(), 105, "{}", String::from_utf8_lossy(&r));
            serde_json::from_slice::<Value>(&r).expect("JSON");
            assert_eq!(parse_id_ts(&r), Some((i * 100, i * 10_000)));
        }
    }
}
