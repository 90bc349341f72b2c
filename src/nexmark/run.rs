//! `sluice nexmark`: one Nexmark query on a running Sluice (or one it spawns), fed by the
//! generator over HTTP/2 `/inserts-stream`, reported as events/s sustained, e2e latency and
//! server CPU per event.
//!
//! ```text
//!  /ksql: drop earlier nexmark objects, CREATE PERSON/AUCTION/BID, CREATE the query (CSAS)
//!  ─► [paced: push query on the sink (SELECT ROWTIME …, from earliest)]
//!  ─► producers (bench::producer): PERSON, AUCTION, and --bid-producers for BID,
//!      paced or flat out ─► all acked ─► poll /queries/{id}/progress until caught up
//!  ─► [paced: sink quiet] ─► report
//! ```
//!
//! Sustained events/s is the run's events over the time from the first send until the query
//! had read them all (`caughtUp`), so ingest and the query are measured together, as a
//! Nexmark run reports throughput. E2E latency is measured only in paced runs (`--rate`):
//! event `n` is scheduled at `n / rate` s after the start and its event time (`DATETIME`,
//! which becomes the row's and its outputs' `ROWTIME`) is the wall-clock time of that
//! schedule, so a sink row's latency is the wall clock when the push query delivers it minus
//! its `ROWTIME`. `ROWTIME` has ms resolution, so latencies are overstated by up to 1 ms.
//! Flat out, event time runs at `FLAT_OUT_EVENT_RATE` and no latency is reported.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::generator::{self, EventKind, GeneratorConfig};
use super::queries::{self, Query};
use crate::bench::client::{headers, Lines, H2};
use crate::bench::latency::{Latency, LatencySummary, Schedule};
use crate::bench::producer::{self, ProducerSpec};
use crate::bench::report::thousands;
use crate::bench::rows::RowSource;
use crate::bench::shared::Progress;
use crate::bench::{proc_stats, SpawnedServer};

/// Event-time rate of a flat-out run: a round figure near what Sluice sustains, so event
/// time and wall time stay within the same order of magnitude.
const FLAT_OUT_EVENT_RATE: f64 = 1_000_000.0;
/// Bounds on a run, so a typo cannot start an endless one.
const EVENTS_MAX: u64 = 1_000_000_000;
const PARTITIONS_MAX: u32 = 64;
const BID_PRODUCERS_MAX: u32 = 64;
/// How long the query may take to catch up after the last ack.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);
/// A sink is done once its push query has delivered nothing new for this long after the
/// query caught up (the push query trails the sink by at most a poll).
const SINK_QUIET: Duration = Duration::from_millis(300);
/// How often the catch-up and the sink's quiet are checked.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// Producers stop sending after this long whatever their count (they normally stop on it).
const PRODUCE_DURATION_MAX: Duration = Duration::from_secs(3_600);

/// Run one Nexmark query and report events/s, e2e latency and server CPU per event.
#[derive(Debug, Clone, clap::Args)]
pub struct NexmarkArgs {
    /// The query: q0–q4, q8, q11, q14–q17 or q20–q22 (see
    /// src/nexmark/queries.rs).
    #[arg(long)]
    query: String,

    /// Events to generate (1 person : 3 auctions : 46 bids).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,

    /// Events/s across the three streams, paced (and then e2e latency is measured); flat
    /// out when absent.
    #[arg(long)]
    rate: Option<f64>,

    /// Server to run on (loopback). Ignored with --spawn. Earlier Nexmark streams and
    /// queries on it are dropped first.
    #[arg(long, default_value = "127.0.0.1:8088")]
    addr: SocketAddr,

    /// Start a server (this binary, `serve`) in a temporary data directory for the run, and
    /// report its CPU and RSS.
    #[arg(long)]
    spawn: bool,

    /// The spawned server's --fsync policy.
    #[arg(long, default_value = "always", requires = "spawn")]
    spawn_fsync: String,

    /// PID of the (already running) server, to report its CPU per event and RSS.
    #[arg(long, conflicts_with = "spawn")]
    server_pid: Option<u32>,

    /// Partitions of each source stream.
    #[arg(long, default_value_t = 1)]
    partitions: u32,

    /// Producers (HTTP/2 connections) writing the BID stream, which gets 46 of every 50
    /// events; PERSON and AUCTION get one each.
    #[arg(long, default_value_t = 2)]
    bid_producers: u32,

    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Most rows a producer has sent and not yet seen acked.
    #[arg(long, default_value_t = 16_384)]
    window: u32,

    /// Rows written per DATA chunk (at most).
    #[arg(long, default_value_t = 256)]
    chunk_rows: u32,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
pub struct NexmarkReport {
    pub query: &'static str,
    pub about: &'static str,
    pub events: u64,
    pub rate_events_per_s: Option<f64>,
    pub partitions: u32,
    pub acked_events: u64,
    /// From the first send to the last ack.
    pub ingest_s: f64,
    pub ingest_events_per_s: f64,
    /// From the first send until the query had read every event.
    pub caught_up_s: f64,
    pub sustained_events_per_s: f64,
    /// Rows the sink's push query delivered (paced runs only).
    pub sink_rows: Option<u64>,
    pub ack_latency: Option<LatencySummary>,
    /// Paced runs only.
    pub e2e_latency: Option<LatencySummary>,
    pub server_cpu_us_per_event: Option<f64>,
    pub server_cpu_percent: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_peak_bytes: Option<u64>,
    /// This process (the generator and its HTTP/2 client), which shares the machine.
    pub client_cpu_us_per_event: Option<f64>,
    pub errors: Vec<String>,
}

/// Runs the query; the exit status is an error if the run found a problem.
pub fn run(args: NexmarkArgs) -> anyhow::Result<()> {
    let query = queries::find(&args.query).with_context(|| {
        let names: Vec<&str> = queries::QUERIES.iter().map(|q| q.name).collect();
        format!(
            "unknown query {:?}: Sluice runs {}",
            args.query,
            names.join(", ")
        )
    })?;
    validate(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let server = if args.spawn {
            Some(SpawnedServer::start(&args.spawn_fsync, None, None).await?)
        } else {
            None
        };
        let addr = server.as_ref().map_or(args.addr, |s| s.addr);
        let pid = server.as_ref().map(|s| s.pid).or(args.server_pid);
        let result = nexmark(&args, query, addr, pid).await;
        drop(server);
        result
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_human(&report));
    }
    if !report.errors.is_empty() {
        bail!("the run found problems (see the report)");
    }
    Ok(())
}

fn validate(args: &NexmarkArgs) -> anyhow::Result<()> {
    if !(1..=EVENTS_MAX).contains(&args.events) {
        bail!("--events must be 1..=10^9");
    }
    if !(1..=PARTITIONS_MAX).contains(&args.partitions) {
        bail!("--partitions must be 1..=64");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be > 0");
    }
    if !(1..=BID_PRODUCERS_MAX).contains(&args.bid_producers) {
        bail!("--bid-producers must be 1..=64");
    }
    if args.window == 0 || args.chunk_rows == 0 {
        bail!("--window and --chunk-rows must be at least 1");
    }
    Ok(())
}

/// The events of one kind, as one producer's rows: row id `k` is the `k`-th event of the kind.
struct EventRows {
    config: GeneratorConfig,
    kind: EventKind,
}

impl RowSource for EventRows {
    fn write_row(&mut self, id: u64, _ts_us: u64, out: &mut Vec<u8>) {
        generator::event(&self.config, self.kind.event_number(id)).write_json(out);
        out.push(b'\n');
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn wall_clock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[allow(clippy::cast_precision_loss)]
fn per_s(count: u64, us: u64) -> f64 {
    if us == 0 {
        0.0
    } else {
        count as f64 * 1e6 / us as f64
    }
}

async fn nexmark(
    args: &NexmarkArgs,
    query: &'static Query,
    addr: SocketAddr,
    pid: Option<u32>,
) -> anyhow::Result<NexmarkReport> {
    let mut control = H2::connect(addr).await?;
    drop_earlier_runs(&mut control).await?;
    control
        .ksql(&queries::create_sources_sql(args.partitions))
        .await?;
    load_side_input(&mut control).await?;
    let query_ids = create_query(&mut control, query).await?;

    // Only a paced run reads the sink: flat out, its push query would cost the server (and
    // this client, on the same 2 cores) more than some queries do, and time nothing.
    let sink = match args.rate {
        Some(_) => Some(SinkReader::start(addr, query.sink).await?),
        None => None,
    };
    let epoch = Instant::now();
    let server_before = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let client_before = proc_stats::sample(None).ok();
    // Event 0's event time is the wall clock at its scheduled send time.
    let start_us = micros_since(epoch);
    let config = GeneratorConfig {
        seed: args.seed,
        events_per_s: args.rate.unwrap_or(FLAT_OUT_EVENT_RATE),
        base_time_ms: i64::try_from(wall_clock_us() / 1000).context("the clock is past 2262")?,
    };
    let progress = Arc::new(Progress::default());
    // (kind, lane, lanes): lane `l` of a kind's `lanes` producers sends its events k with
    // k % lanes == l, as row ids k = seq * lanes + l.
    let lanes: Vec<(EventKind, u64, u64)> = EventKind::ALL
        .iter()
        .flat_map(|kind| {
            let n = match kind {
                EventKind::Bid => u64::from(args.bid_producers),
                EventKind::Person | EventKind::Auction => 1,
            };
            (0..n).map(move |lane| (*kind, lane, n))
        })
        .collect();
    let producers: Vec<_> = lanes
        .iter()
        .enumerate()
        .map(|(i, &(kind, lane, stride))| {
            let events_of_kind = kind.count_in(args.events);
            #[allow(clippy::cast_precision_loss)]
            let schedule = args.rate.map_or(Schedule::FlatOut, |rate| Schedule::Paced {
                rows_per_s: rate * kind.proportion() as f64
                    / generator::PROPORTION_DENOMINATOR as f64
                    / stride as f64,
            });
            let spec = ProducerSpec {
                index: i,
                addr,
                stream: queries::source_stream(kind).to_string(),
                stream_index: i,
                lane,
                stride,
                rows_max: events_of_kind / stride + u64::from(lane < events_of_kind % stride),
                window_rows: args.window,
                chunk_rows: args.chunk_rows.min(args.window),
                schedule,
                gen: Box::new(EventRows { config, kind }),
                epoch,
                start_us,
                deadline: epoch + PRODUCE_DURATION_MAX,
            };
            tokio::spawn(producer::run(spec, Arc::clone(&progress)))
        })
        .collect();

    let mut errors = Vec::new();
    let mut acked_events = 0;
    let mut last_ack_us = start_us;
    let mut ack_latency = Latency::new();
    for p in producers {
        let report = p.await.context("producer panicked")?;
        acked_events += report.acked_rows;
        last_ack_us = last_ack_us.max(report.last_ack_us);
        ack_latency.merge(&report.ack_latency);
        if let Some(e) = report.error {
            errors.push(format!("producer {}: {e}", report.index));
        }
    }
    if acked_events != args.events {
        errors.push(format!("{} events acked of {}", acked_events, args.events));
    }
    // The server closes connections idle for two minutes (`IDLE_TIMEOUT_MS`), and the
    // control connection sat idle while events were produced: a fresh one for the rest.
    let mut control = H2::connect(addr).await?;
    // A query of two statements (q8) has caught up when its last one has, after the first.
    for id in &query_ids {
        wait_caught_up(&mut control, id).await?;
    }
    let caught_up_us = micros_since(epoch);
    let server_after = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let client_after = proc_stats::sample(None).ok();
    let (sink_rows, e2e_latency) = match sink {
        Some(sink) => {
            let (rows, latency, error) = sink.finish(&mut control).await;
            errors.extend(error);
            (Some(rows), latency)
        }
        None => (None, None),
    };

    let ingest_us = last_ack_us.saturating_sub(start_us);
    let caught_up_span_us = caught_up_us.saturating_sub(start_us);
    #[allow(clippy::cast_precision_loss)]
    let cpu = server_before.zip(server_after).map(|(b, a)| {
        let cpu_us = a.cpu_us.saturating_sub(b.cpu_us) as f64;
        (
            cpu_us / acked_events.max(1) as f64,
            cpu_us * 100.0 / caught_up_span_us.max(1) as f64,
        )
    });
    #[allow(clippy::cast_precision_loss)]
    Ok(NexmarkReport {
        query: query.name,
        about: query.about,
        events: args.events,
        rate_events_per_s: args.rate,
        partitions: args.partitions,
        acked_events,
        ingest_s: ingest_us as f64 / 1e6,
        ingest_events_per_s: per_s(acked_events, ingest_us),
        caught_up_s: caught_up_span_us as f64 / 1e6,
        sustained_events_per_s: per_s(acked_events, caught_up_span_us),
        sink_rows,
        ack_latency: ack_latency.summary(),
        e2e_latency: e2e_latency.and_then(|l| l.summary()),
        server_cpu_us_per_event: cpu.map(|c| c.0),
        server_cpu_percent: cpu.map(|c| c.1),
        server_rss_bytes: server_after.map(|s| s.rss_bytes),
        server_rss_peak_bytes: server_after.map(|s| s.rss_peak_bytes),
        client_cpu_us_per_event: client_before
            .zip(client_after)
            .map(|(b, a)| a.cpu_us.saturating_sub(b.cpu_us) as f64 / acked_events.max(1) as f64),
        errors,
    })
}

/// Terminates earlier Nexmark queries and drops their sinks (every `NEXMARK_*` stream and
/// table) and the source streams, so a run on a long-lived server starts from empty streams.
async fn drop_earlier_runs(control: &mut H2) -> anyhow::Result<()> {
    let listed = ksql_json(control, "SHOW QUERIES; SHOW STREAMS; SHOW TABLES;").await?;
    let names = |i: usize, list: &str, field: &str| -> Vec<String> {
        listed[i][list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|q| q[field].as_str())
            .filter(|name| name.to_ascii_uppercase().contains("NEXMARK_"))
            .map(str::to_string)
            .collect()
    };
    for id in names(0, "queries", "id") {
        control.ksql(&format!("TERMINATE {id};")).await?;
    }
    for stream in names(1, "streams", "name") {
        control
            .ksql(&format!("DROP STREAM IF EXISTS {stream} DELETE TOPIC;"))
            .await?;
    }
    for table in names(2, "tables", "name") {
        control
            .ksql(&format!("DROP TABLE IF EXISTS {table} DELETE TOPIC;"))
            .await?;
    }
    for kind in EventKind::ALL {
        control
            .ksql(&format!(
                "DROP STREAM IF EXISTS {} DELETE TOPIC;",
                queries::source_stream(kind)
            ))
            .await?;
    }
    Ok(())
}

/// Loads q13's bounded side input (every run: it is small, and a run's sources are fresh)
/// and checks every row was acked.
async fn load_side_input(control: &mut H2) -> anyhow::Result<()> {
    let (status, acks) = control
        .post("/inserts-stream", queries::side_input_body())
        .await?;
    let acks = String::from_utf8_lossy(&acks);
    let ok = acks.lines().filter(|l| l.contains("\"ok\"")).count();
    if status != StatusCode::OK || ok as u64 != queries::SIDE_INPUT_ROWS {
        bail!(
            "loading the side input ({status}): {ok} of {} rows acked: {}",
            queries::SIDE_INPUT_ROWS,
            &acks[..acks.len().min(300)]
        );
    }
    Ok(())
}

/// Runs `/ksql` statements and returns the response's JSON array.
async fn ksql_json(control: &mut H2, sql: &str) -> anyhow::Result<serde_json::Value> {
    let body = serde_json::json!({"ksql": sql, "streamsProperties": {}});
    let (status, bytes) = control.post("/ksql", body.to_string()).await?;
    if status != StatusCode::OK {
        bail!(
            "{sql} failed ({status}): {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("the response to {sql}"))
}

/// Creates the query's persistent queries and returns their ids, in statement order.
async fn create_query(control: &mut H2, query: &Query) -> anyhow::Result<Vec<String>> {
    let body = serde_json::json!({
        "ksql": query.sql,
        "streamsProperties": {"auto.offset.reset": "earliest"},
    });
    let (status, bytes) = control.post("/ksql", body.to_string()).await?;
    let text = String::from_utf8_lossy(&bytes);
    if status != StatusCode::OK {
        bail!("{} failed ({status}): {text}", query.name);
    }
    let body: serde_json::Value = serde_json::from_slice(&bytes).context("the CSAS response")?;
    let ids: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|status| status["commandStatus"]["queryId"].as_str())
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        bail!("no query id in {text}");
    }
    Ok(ids)
}

async fn wait_caught_up(control: &mut H2, query_id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    let path = format!("/queries/{query_id}/progress");
    loop {
        let (status, bytes) = control.get(&path).await?;
        if status != StatusCode::OK {
            bail!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let progress: serde_json::Value = serde_json::from_slice(&bytes).context("progress")?;
        if progress["caughtUp"] == true {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{query_id} did not catch up within {CATCH_UP_TIMEOUT:?}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A push query on the sink, counting its rows and (paced) timing them from their
/// `ROWTIME`.
struct SinkReader {
    query_id: String,
    rows: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<(Option<Latency>, Option<String>)>,
}

impl SinkReader {
    async fn start(addr: SocketAddr, sink: &str) -> anyhow::Result<SinkReader> {
        let mut conn = H2::connect(addr).await?;
        let (mut tx, resp) = conn.open("/query-stream").await?;
        let body = serde_json::json!({
            "sql": format!("SELECT ROWTIME FROM {sink} EMIT CHANGES;"),
            "properties": {"auto.offset.reset": "earliest"},
        });
        tx.send_data(Bytes::from(body.to_string()))
            .await
            .map_err(|_| anyhow::anyhow!("the server stopped reading the push query"))?;
        drop(tx);
        let resp = headers(resp).await?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            bail!(
                "the push query on {sink} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let mut lines = Lines::new(resp.into_body());
        let header: serde_json::Value =
            serde_json::from_slice(&lines.first_line().await?).context("the push header")?;
        let query_id = header["queryId"]
            .as_str()
            .context("no queryId in the push query's header")?
            .to_string();
        let rows = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(read_sink(lines, Arc::clone(&rows), stopped, conn));
        Ok(SinkReader {
            query_id,
            rows,
            stop,
            task,
        })
    }

    /// Waits until the sink has been quiet for `SINK_QUIET`, closes the push query and
    /// returns the rows it read and their latencies.
    async fn finish(self, control: &mut H2) -> (u64, Option<Latency>, Option<String>) {
        let mut last = self.rows.load(Ordering::Relaxed);
        let mut quiet_since = Instant::now();
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        while quiet_since.elapsed() < SINK_QUIET && Instant::now() < deadline {
            tokio::time::sleep(POLL_INTERVAL).await;
            let now = self.rows.load(Ordering::Relaxed);
            if now != last {
                (last, quiet_since) = (now, Instant::now());
            }
        }
        let mut error = control
            .close_query(&self.query_id)
            .await
            .err()
            .map(|e| format!("closing the sink's push query: {e:#}"));
        let _ = self.stop.send(true);
        let (latency, read_error) = self
            .task
            .await
            .unwrap_or_else(|e| (None, Some(format!("the sink reader panicked: {e}"))));
        error = error.or(read_error);
        (self.rows.load(Ordering::Relaxed), latency, error)
    }
}

async fn read_sink(
    mut lines: Lines,
    rows: Arc<AtomicU64>,
    mut stopped: watch::Receiver<bool>,
    _conn: H2,
) -> (Option<Latency>, Option<String>) {
    let mut latency = Some(Latency::new());
    loop {
        let mut bad = None;
        let mut n = 0;
        let chunk = tokio::select! {
            r = lines.next_chunk(|line| {
                n += 1;
                let Some(l) = latency.as_mut() else { return };
                // A row is `[<rowtime ms>]`.
                match std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| s.strip_prefix('[')?.strip_suffix(']')?.parse::<u64>().ok())
                {
                    Some(ms) => l.record(ms * 1000, wall_clock_us()),
                    None => bad = Some(String::from_utf8_lossy(line).into_owned()),
                }
            }) => r,
            _ = stopped.changed() => return (latency, None),
        };
        rows.fetch_add(n, Ordering::Relaxed);
        if let Some(line) = bad {
            return (latency, Some(format!("unexpected sink line: {line}")));
        }
        match chunk {
            Ok(true) => {}
            Ok(false) => return (latency, None),
            Err(e) => return (latency, Some(format!("reading the sink: {e:#}"))),
        }
    }
}

fn render_human(r: &NexmarkReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let rate = r.rate_events_per_s.map_or("flat out".to_string(), |x| {
        format!("paced at {x:.0} events/s")
    });
    let _ = writeln!(
        out,
        "nexmark {} ({}): {} events, {rate}, {} partition(s)",
        r.query,
        r.about,
        thousands(r.events),
        r.partitions
    );
    let _ = writeln!(
        out,
        "  ingest      {} events acked in {:.3} s: {:.0} events/s",
        thousands(r.acked_events),
        r.ingest_s,
        r.ingest_events_per_s
    );
    let _ = writeln!(
        out,
        "  sustained   caught up after {:.3} s: {:.0} events/s{}",
        r.caught_up_s,
        r.sustained_events_per_s,
        r.sink_rows
            .map_or(String::new(), |n| format!("; sink rows {}", thousands(n)))
    );
    let lat = |name: &str, l: Option<&LatencySummary>, out: &mut String| {
        if let Some(l) = l {
            let _ = writeln!(
                out,
                "  {name:<11} p50 {} µs  p99 {} µs  p99.9 {} µs  max {} µs ({} rows)",
                thousands(l.p50_us),
                thousands(l.p99_us),
                thousands(l.p999_us),
                thousands(l.max_us),
                thousands(l.count)
            );
        }
    };
    lat("ack", r.ack_latency.as_ref(), &mut out);
    lat("e2e", r.e2e_latency.as_ref(), &mut out);
    if let (Some(cpu), Some(pct), Some(rss), Some(peak)) = (
        r.server_cpu_us_per_event,
        r.server_cpu_percent,
        r.server_rss_bytes,
        r.server_rss_peak_bytes,
    ) {
        let _ = writeln!(
            out,
            "  server      {cpu:.2} µs CPU/event ({pct:.0}% of a core), RSS {} MiB (peak {} MiB)",
            rss >> 20,
            peak >> 20
        );
    }
    if let Some(cpu) = r.client_cpu_us_per_event {
        let _ = writeln!(
            out,
            "  client      {cpu:.2} µs CPU/event (generator and HTTP/2)"
        );
    }
    for e in &r.errors {
        let _ = writeln!(out, "  error: {e}");
    }
    out
}
