//! `sluice bench`: an HTTP/2 load generator against a running Sluice (or one it spawns).
//!
//! ```text
//!  setup: /ksql DROP + CREATE bench_<i> ─► [idle push queries: open N, server RSS per query]
//!         ─► push queries (/query-stream, from latest; wait for each header)
//!         ─► producers (/inserts-stream, windowed, flat out or paced)
//!         ─► final acks ─► drain push queries [and idle ones] ─► /close-query
//!         ─► [catch-up from earliest] ─► report (human or --json)
//! ```
//!
//! Modules, in the order data flows: `rows` (the seeded row generator), `producer`,
//! `consumer`, `idle` (many idle push queries on shared connections), `latency` (HDR
//! histograms from scheduled send times), `proc_stats` (server RSS and CPU from /proc),
//! `report`; `client` is the HTTP/2 plumbing under them.
//!
//! Latency is measured from each row's *scheduled* send time, which the row carries in its
//! `TS` column (µs since the run epoch): a stall delays every row behind it and shows in the
//! tail instead of being hidden by a producer that simply sent less (coordinated omission).

/// Shared with `sluice shell`, which speaks to its server through the same client.
pub(crate) mod client;
mod consumer;
mod idle;
mod kafka_baseline;
// `sluice nexmark` drives its runs with the same producers, latency accounting, process
// samples and spawned server.
pub(crate) mod latency;
pub(crate) mod proc_stats;
pub(crate) mod producer;
mod pull;
pub(crate) mod report;
pub(crate) mod rows;
pub(crate) mod shared;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::time::Instant;

use client::H2;
use consumer::{ConsumerReport, ConsumerSpec, IdSlice, RunningQuery, StartFrom};
use latency::{Latency, Schedule};
use proc_stats::ProcSample;
use producer::{ProducerReport, ProducerSpec};
use report::{CatchUpLine, ConfigEcho, ConsumerLine, IdleLine, ProcLine, ProducerLine, Report};
use rows::{RowGen, RowShape};
use shared::{stream_name, IdleStream, Progress, QueryFilter, ResultFrames};

/// How long push queries may take to deliver the last acked rows once producing ends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a catch-up query may take to read everything (bounds the run).
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a closed query's reader may take to see its body end before it is stopped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `--spawn` waits for the server to print its address.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest `--window`: the server itself holds at most 64 batches of 1024 rows per request,
/// so a larger client window only queues rows in the client.
const WINDOW_ROWS_MAX: u32 = 1 << 20;
/// Bounds on the run's size so a typo cannot start an endless load.
const ROWS_MAX: u64 = 1_000_000_000;
const PRODUCERS_MAX: usize = 256;
const QUERIES_MAX: usize = 1_000;
/// Twice the 10,000 push queries a Sluice node accepts, so the bench can show the refusal.
const IDLE_QUERIES_MAX: usize = 20_000;
const STREAMS_MAX: usize = 64;
const ROW_BYTES_MAX: usize = 512 * 1024;

/// Drive load at a Sluice server and report throughput, latency and server cost.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Server to load (loopback). Ignored with --spawn.
    #[arg(long, default_value = "127.0.0.1:8088")]
    addr: SocketAddr,

    /// Start a server (this binary, `serve`) in a temporary data directory for the run,
    /// and report its RSS and CPU.
    #[arg(long)]
    spawn: bool,

    /// The spawned server's --fsync policy.
    #[arg(long, default_value = "always", requires = "spawn")]
    spawn_fsync: String,

    /// Spawn the server with its log on this Kafka cluster (`--log kafka
    /// --kafka-bootstrap BOOTSTRAP`).
    #[arg(long, value_name = "BOOTSTRAP", requires = "spawn")]
    spawn_kafka: Option<String>,

    /// No Sluice at all: produce the same rows (--rows, --row-shape, --row-bytes, --partitions, --seed)
    /// straight into this Kafka cluster with a bare rdkafka producer using the Kafka log's
    /// settings, as the baseline Sluice's Kafka ingest is compared with.
    #[arg(long, value_name = "BOOTSTRAP", conflicts_with = "spawn")]
    kafka_baseline: Option<String>,

    /// Spawn this `sluice` executable instead of this one (`PATH serve …`): the same load
    /// generator against another build, for A/B comparisons.
    #[arg(long, requires = "spawn")]
    server_exe: Option<PathBuf>,

    /// PID of the (already running) server, to report its RSS and CPU per row.
    #[arg(long, conflicts_with = "spawn")]
    server_pid: Option<u32>,

    /// Concurrent producers: each one HTTP/2 connection streaming one /inserts-stream
    /// request. Producer i writes stream i % streams.
    #[arg(long, default_value_t = 1)]
    producers: usize,

    /// Streams to create (bench_0, bench_1, …). Existing ones are dropped first.
    #[arg(long, default_value_t = 1)]
    streams: usize,

    /// Partitions per stream.
    #[arg(long, default_value_t = 1)]
    partitions: u32,

    /// Give the streams a BIGINT key column (ID), so rows are partitioned by key and
    /// stored without their key field.
    #[arg(long)]
    keyed: bool,

    /// The rows producers send: `mixed` (the default: lower-case names, shuffled fields,
    /// omitted nullables, nested columns and a few 1 KiB and 4 KiB rows), one of those alone
    /// (`lower`, `shuffled`, `sparse`, `nested`, `wide1k`, `wide4k`), or `exact` (the stream's
    /// upper-case names in column order, values already as stored: the old default). The
    /// streams get the columns the shape uses.
    #[arg(long, value_enum, default_value_t = RowShape::Mixed)]
    row_shape: RowShape,

    /// Pad each row (without its newline) to at least this many bytes with a PAD column;
    /// by default `exact` rows are padded to 105 B and other shapes keep their own sizes.
    #[arg(long)]
    row_bytes: Option<usize>,

    /// Most rows a producer has sent and not yet seen acked.
    #[arg(long, default_value_t = 16_384)]
    window: u32,

    /// Rows written per DATA chunk (at most; pacing sends what is due).
    #[arg(long, default_value_t = 256)]
    chunk_rows: u32,

    /// Total rows/s across producers, on a fixed schedule; flat out when absent.
    #[arg(long)]
    rate: Option<f64>,

    /// Concurrent push queries (SELECT * … EMIT CHANGES from latest); query i reads stream
    /// i % streams.
    #[arg(long, default_value_t = 1)]
    queries: usize,

    /// What the push queries select: `none` (every row to every query) or `distinct` (the
    /// k-th of a stream's n queries has `WHERE ID % n = k`: different queries that split
    /// the rows; every acked row must reach exactly one of them).
    #[arg(long, value_enum, default_value_t = QueryFilter::None)]
    query_filter: QueryFilter,

    /// How the push queries ask the server to frame their answers
    /// (`sluice.query.result.frames`): `row` (the server's default and ksqlDB's, an HTTP/2
    /// DATA frame per row) or `batch` (up to 256 rows per frame).
    #[arg(long, value_enum, default_value_t = ResultFrames::Row)]
    result_frames: ResultFrames,

    /// Push queries to hold open and idle besides --queries (SELECT * … EMIT CHANGES, from
    /// latest), 1000 per HTTP/2 connection: reports the server's RSS per idle query and
    /// checks all of them still work at the end.
    #[arg(long, default_value_t = 0)]
    idle_queries: usize,

    /// What the idle queries read: the `written` streams (every row reaches every idle
    /// query) or a `quiet` stream nothing writes.
    #[arg(long, value_enum, default_value_t = IdleStream::Written)]
    idle_stream: IdleStream,

    /// Stop after this many rows in total…
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,

    /// …or after this many seconds of producing, whichever comes first.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,

    /// After producing, read every stream from earliest with a new push query and report
    /// how fast it catches up.
    #[arg(long)]
    catch_up: bool,

    /// Seed of the row generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,

    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,

    /// Pull-query mode (`--pull-queries`): key lookups on a materialized table instead.
    #[command(flatten)]
    pull: pull::PullArgs,
}

/// Runs the bench; the exit status is an error if the run found a problem.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    validate(&args)?;
    if args.pull.enabled() {
        return pull::run(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(bootstrap) = &args.kafka_baseline {
        let report = runtime.block_on(kafka_baseline::run(
            bootstrap,
            args.partitions,
            args.rows,
            args.row_shape,
            args.row_bytes,
            args.seed,
        ))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", kafka_baseline::render_human(&report));
        }
        return Ok(());
    }
    let report = runtime.block_on(async {
        if let Some(bootstrap) = &args.spawn_kafka {
            let mut names: Vec<String> = (0..args.streams).map(stream_name).collect();
            names.push(idle::QUIET_STREAM.to_string());
            kafka_baseline::delete_topics(bootstrap, &names).await?;
        }
        let server = if args.spawn {
            Some(
                SpawnedServer::start(
                    &args.spawn_fsync,
                    args.spawn_kafka.as_deref(),
                    args.server_exe.as_deref(),
                )
                .await?,
            )
        } else {
            None
        };
        let addr = server.as_ref().map_or(args.addr, |s| s.addr);
        let pid = server.as_ref().map(|s| s.pid).or(args.server_pid);
        let result = bench(&args, addr, pid).await;
        drop(server);
        result
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::render_human(&report));
    }
    if !report.ok {
        bail!("the run found problems (see the report)");
    }
    Ok(())
}

fn validate(args: &BenchArgs) -> anyhow::Result<()> {
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{what}"))
        }
    };
    check(
        (1..=PRODUCERS_MAX).contains(&args.producers),
        "--producers must be 1..=256",
    )?;
    check(
        (1..=STREAMS_MAX).contains(&args.streams),
        "--streams must be 1..=64",
    )?;
    check(
        args.queries <= QUERIES_MAX,
        "--queries must be at most 1000",
    )?;
    check(
        args.idle_queries <= IDLE_QUERIES_MAX,
        "--idle-queries must be at most 20000",
    )?;
    check(args.partitions >= 1, "--partitions must be at least 1")?;
    check(
        (1..=ROWS_MAX).contains(&args.rows),
        "--rows must be 1..=10^9",
    )?;
    check(
        args.duration > 0.0 && args.duration.is_finite(),
        "--duration must be > 0",
    )?;
    check(
        args.row_bytes.unwrap_or(0) <= ROW_BYTES_MAX,
        "--row-bytes must be at most 512 KiB",
    )?;
    check(
        (1..=WINDOW_ROWS_MAX).contains(&args.window),
        "--window must be 1..=2^20",
    )?;
    check(args.chunk_rows >= 1, "--chunk-rows must be at least 1")?;
    if let Some(r) = args.rate {
        check(r > 0.0 && r.is_finite(), "--rate must be > 0")?;
    }
    check(
        args.producers >= args.streams,
        "--producers must be at least --streams (every stream needs a producer)",
    )
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[allow(clippy::cast_precision_loss)]
fn per_s(count: u64, us: u64) -> f64 {
    if us == 0 {
        0.0
    } else {
        count as f64 * 1e6 / us as f64
    }
}

async fn bench(args: &BenchArgs, addr: SocketAddr, pid: Option<u32>) -> anyhow::Result<Report> {
    let mut control = H2::connect(addr).await?;
    for i in 0..args.streams {
        let key = if args.keyed {
            "ID BIGINT KEY"
        } else {
            "ID BIGINT"
        };
        let columns = args.row_shape.value_columns_sql();
        create_stream(
            &mut control,
            &stream_name(i),
            key,
            &columns,
            args.partitions,
        )
        .await?;
    }

    let mut idle = None;
    if args.idle_queries > 0 {
        if args.idle_stream == IdleStream::Quiet {
            let columns = args.row_shape.value_columns_sql();
            create_stream(&mut control, idle::QUIET_STREAM, "ID BIGINT", &columns, 1).await?;
        }
        let opened =
            idle::open(addr, args.idle_queries, args.idle_stream, args.streams, pid).await?;
        idle = Some(opened);
    }

    let progress = Arc::new(Progress::default());
    let epoch = Instant::now();
    let mut queries = Vec::with_capacity(args.queries);
    for q in 0..args.queries {
        let spec = ConsumerSpec {
            index: q,
            addr,
            stream: stream_name(q % args.streams),
            stream_index: q % args.streams,
            start_from: StartFrom::Latest,
            epoch,
            slice: slice_of(args, q),
            frames: args.result_frames,
        };
        queries.push(consumer::start(spec, Arc::clone(&progress)).await?);
    }

    // The measured interval starts here: rows are scheduled from this instant.
    let produce_start_us = micros_since(epoch);
    let server_before = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let client_before = proc_stats::sample(None).ok();
    let ticker = tokio::spawn(print_progress(
        Arc::clone(&progress),
        pid,
        args.quiet,
        server_before,
    ));

    let producers = spawn_producers(args, addr, epoch, produce_start_us, &progress);
    let mut producer_reports = Vec::with_capacity(producers.len());
    for p in producers {
        producer_reports.push(p.await.context("producer panicked")?);
    }
    let last_ack_us = producer_reports
        .iter()
        .map(|p| p.last_ack_us)
        .max()
        .unwrap_or(0);
    let elapsed_us = last_ack_us.saturating_sub(produce_start_us);

    let acked_per_stream: Vec<u64> = (0..args.streams)
        .map(|s| {
            producer_reports
                .iter()
                .filter(|p| p.stream_index == s)
                .map(|p| p.acked_rows)
                .sum()
        })
        .collect();
    drain(&queries, &producer_reports).await;
    if let Some(idle) = &mut idle {
        idle.after_load(&acked_per_stream, pid, DRAIN_TIMEOUT)
            .await?;
    }
    let server_after = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let client_after = proc_stats::sample(None).ok();
    let phase_us = micros_since(epoch).saturating_sub(produce_start_us);
    // The server closes connections idle for two minutes (`IDLE_TIMEOUT_MS`), and the
    // control connection sat idle while rows were produced: a fresh one for the rest.
    let mut control = H2::connect(addr).await?;
    let consumer_reports = close_all(&mut control, queries).await;
    let idle = match idle {
        Some(idle) => Some(idle.close().await),
        None => None,
    };

    let mut catch_up = None;
    if args.catch_up {
        catch_up = Some(
            run_catch_up(
                &mut control,
                (addr, args.result_frames),
                epoch,
                pid,
                &progress,
                &producer_reports,
                &acked_per_stream,
            )
            .await?,
        );
    }
    ticker.abort();
    Ok(assemble(
        args,
        addr,
        &producer_reports,
        &consumer_reports,
        catch_up,
        idle,
        elapsed_us,
        phase_us,
        pid.zip(server_before.zip(server_after)),
        client_before.zip(client_after),
    ))
}

/// Drops and creates one bench stream. Dropping first makes every run start from empty
/// topics, so catch-up and the missing-row check see only this run's rows. Two requests:
/// statements of one request are validated together, so a CREATE with other partitions would
/// meet the old topic.
async fn create_stream(
    control: &mut H2,
    name: &str,
    key: &str,
    columns: &str,
    partitions: u32,
) -> anyhow::Result<()> {
    control
        .ksql(&format!("DROP STREAM IF EXISTS {name} DELETE TOPIC;"))
        .await?;
    control
        .ksql(&format!(
            "CREATE STREAM IF NOT EXISTS {name} ({key}, {columns}) \
             WITH (kafka_topic='{name}', value_format='JSON', partitions={partitions});"
        ))
        .await
}

fn spawn_producers(
    args: &BenchArgs,
    addr: SocketAddr,
    epoch: Instant,
    start_us: u64,
    progress: &Arc<Progress>,
) -> Vec<tokio::task::JoinHandle<ProducerReport>> {
    let producers = args.producers as u64;
    let deadline = epoch + Duration::from_micros(start_us) + Duration::from_secs_f64(args.duration);
    (0..args.producers)
        .map(|i| {
            let stream_index = i % args.streams;
            // Producers of one stream are i = stream_index + k * streams.
            let stride = (args.producers - stream_index).div_ceil(args.streams) as u64;
            let lane = (i / args.streams) as u64;
            let rows_max = args.rows / producers + u64::from((i as u64) < args.rows % producers);
            #[allow(clippy::cast_precision_loss)]
            let schedule = match args.rate {
                None => Schedule::FlatOut,
                Some(total) => Schedule::Paced {
                    rows_per_s: total / args.producers as f64,
                },
            };
            let spec = ProducerSpec {
                index: i,
                addr,
                stream: stream_name(stream_index),
                stream_index,
                lane,
                stride,
                rows_max,
                window_rows: args.window,
                chunk_rows: args.chunk_rows.min(args.window),
                schedule,
                gen: Box::new(RowGen::new(
                    args.seed.wrapping_add(i as u64),
                    args.row_shape,
                    args.row_bytes,
                )),
                epoch,
                start_us,
                deadline,
            };
            tokio::spawn(producer::run(spec, Arc::clone(progress)))
        })
        .collect()
}

/// The rows query `q` selects with `--query-filter distinct` (`None`: all of its stream's).
fn slice_of(args: &BenchArgs, q: usize) -> Option<IdSlice> {
    if args.query_filter == QueryFilter::None {
        return None;
    }
    let stream = q % args.streams;
    // Queries on `stream` are stream, stream + streams, …
    let on_stream = (args.queries - stream).div_ceil(args.streams) as u64;
    Some(IdSlice {
        modulus: on_stream,
        remainder: (q / args.streams) as u64,
    })
}

/// The acked ids of `stream_index`'s producers that `slice` selects.
fn acked_ids<'a>(
    producers: &'a [ProducerReport],
    stream_index: usize,
    slice: Option<IdSlice>,
) -> impl Iterator<Item = u64> + 'a {
    producers
        .iter()
        .filter(move |p| p.stream_index == stream_index)
        .flat_map(|p| (0..p.acked_rows).map(move |seq| seq * p.stride + p.lane))
        .filter(move |id| slice.is_none_or(|s| s.contains(*id)))
}

/// Waits until every push query has seen the acked rows it selects, or `DRAIN_TIMEOUT`.
async fn drain(queries: &[RunningQuery], producers: &[ProducerReport]) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    for q in queries {
        let want = acked_ids(producers, q.stream_index, q.slice).count() as u64;
        while q.rows.load(Ordering::Relaxed) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Closes every query through `/close-query` and collects what each saw.
async fn close_all(control: &mut H2, queries: Vec<RunningQuery>) -> Vec<ConsumerReport> {
    let mut reports = Vec::with_capacity(queries.len());
    for q in &queries {
        if let Err(e) = control.close_query(&q.query_id).await {
            tracing::warn!(error = %e, "close-query failed");
        }
    }
    for mut q in queries {
        let report = match tokio::time::timeout(CLOSE_TIMEOUT, &mut q.task).await {
            Ok(r) => r,
            Err(_) => {
                let _ = q.stop.send(true);
                q.task.await
            }
        };
        match report {
            Ok(r) => reports.push(r),
            Err(e) => tracing::error!(error = %e, "push query reader panicked"),
        }
    }
    reports
}

/// Reads every stream from earliest with a new push query and times how fast they finish.
async fn run_catch_up(
    control: &mut H2,
    (addr, frames): (SocketAddr, ResultFrames),
    epoch: Instant,
    pid: Option<u32>,
    progress: &Arc<Progress>,
    producers: &[ProducerReport],
    acked_per_stream: &[u64],
) -> anyhow::Result<CatchUpLine> {
    let server_before = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let start_us = micros_since(epoch);
    let mut queries = Vec::with_capacity(acked_per_stream.len());
    for (s, _) in acked_per_stream.iter().enumerate() {
        let spec = ConsumerSpec {
            index: s,
            addr,
            stream: stream_name(s),
            stream_index: s,
            start_from: StartFrom::Earliest,
            epoch,
            slice: None,
            frames,
        };
        queries.push(consumer::start(spec, Arc::clone(progress)).await?);
    }
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    for q in &queries {
        while q.rows.load(Ordering::Relaxed) < acked_per_stream[q.stream_index]
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let server_after = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let reports = close_all(control, queries).await;
    let rows: u64 = reports.iter().map(|r| r.rows).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let end_us = reports
        .iter()
        .map(|r| r.last_row_us)
        .max()
        .unwrap_or(start_us);
    let elapsed_us = end_us.saturating_sub(start_us);
    let check = reports
        .iter()
        .map(|r| check_seen(r, producers))
        .fold((0, 0), |(m, d), c| (m + c.missing, d + c.duplicates));
    #[allow(clippy::cast_precision_loss)]
    let server_cpu_us_per_row = server_before
        .zip(server_after)
        .filter(|_| rows > 0)
        .map(|(b, a)| a.cpu_us.saturating_sub(b.cpu_us) as f64 / rows as f64);
    #[allow(clippy::cast_precision_loss)]
    Ok(CatchUpLine {
        rows,
        elapsed_s: elapsed_us as f64 / 1e6,
        rows_per_s: per_s(rows, elapsed_us),
        mb_per_s: per_s(bytes, elapsed_us) / 1e6,
        missing: check.0,
        duplicates: check.1,
        server_cpu_us_per_row,
    })
}

struct SeenCheck {
    missing: u64,
    duplicates: u64,
    unacked_seen: u64,
}

/// Compares what a consumer saw with what its stream's producers had acked (of the rows
/// its WHERE selects).
fn check_seen(consumer: &ConsumerReport, producers: &[ProducerReport]) -> SeenCheck {
    let mut missing = 0;
    let mut acked = 0;
    for id in acked_ids(producers, consumer.stream_index, consumer.slice) {
        acked += 1;
        missing += u64::from(!consumer.seen.contains(id));
    }
    let unique_seen = consumer.rows - consumer.duplicates;
    SeenCheck {
        missing,
        duplicates: consumer.duplicates,
        unacked_seen: unique_seen.saturating_sub(acked - missing),
    }
}

#[allow(clippy::too_many_arguments, clippy::cast_precision_loss)]
fn assemble(
    args: &BenchArgs,
    addr: SocketAddr,
    producers: &[ProducerReport],
    consumers: &[ConsumerReport],
    catch_up: Option<CatchUpLine>,
    idle: Option<IdleLine>,
    elapsed_us: u64,
    phase_us: u64,
    server: Option<(u32, (ProcSample, ProcSample))>,
    client: Option<(ProcSample, ProcSample)>,
) -> Report {
    let mut errors = Vec::new();
    let mut ack_latency = Latency::new();
    for p in producers {
        ack_latency.merge(&p.ack_latency);
        if let Some(e) = &p.error {
            errors.push(format!("producer {}: {e}", p.index));
        }
    }
    let mut e2e_latency = Latency::new();
    let mut consumer_lines = Vec::with_capacity(consumers.len());
    for c in consumers {
        e2e_latency.merge(&c.e2e_latency);
        let check = check_seen(c, producers);
        if let Some(e) = &c.error {
            errors.push(format!("push query {}: {e}", c.index));
        }
        if let Some(line) = &c.unparsed_example {
            errors.push(format!(
                "push query {}: {} unexpected lines, e.g. {line}",
                c.index, c.unparsed
            ));
        }
        consumer_lines.push(ConsumerLine {
            index: c.index,
            stream: stream_name(c.stream_index),
            rows: c.rows,
            rows_per_s: per_s(c.rows, c.last_row_us.saturating_sub(c.started_us)),
            missing: check.missing,
            duplicates: check.duplicates,
            unacked_seen: check.unacked_seen,
            unparsed: c.unparsed,
            error: c.error.clone(),
        });
    }
    let sent_rows = producers.iter().map(|p| p.sent_rows).sum();
    let acked_rows: u64 = producers.iter().map(|p| p.acked_rows).sum();
    let acked_bytes = producers.iter().map(|p| p.acked_bytes).sum();
    let proc_line = |pid: u32, (before, after): (ProcSample, ProcSample)| {
        let cpu_us = after.cpu_us.saturating_sub(before.cpu_us);
        ProcLine {
            pid,
            rss_bytes: after.rss_bytes,
            rss_peak_bytes: after.rss_peak_bytes,
            cpu_s: cpu_us as f64 / 1e6,
            cpu_percent: if phase_us == 0 {
                0.0
            } else {
                cpu_us as f64 * 100.0 / phase_us as f64
            },
            cpu_us_per_row: if acked_rows == 0 {
                0.0
            } else {
                cpu_us as f64 / acked_rows as f64
            },
        }
    };
    let missing_or_dup = consumer_lines
        .iter()
        .any(|c| c.missing > 0 || c.duplicates > 0)
        || catch_up
            .as_ref()
            .is_some_and(|c| c.missing > 0 || c.duplicates > 0);
    Report {
        config: ConfigEcho {
            addr: addr.to_string(),
            producers: args.producers,
            streams: args.streams,
            partitions: args.partitions,
            keyed: args.keyed,
            row_shape: args.row_shape,
            row_bytes: args.row_bytes,
            window_rows: args.window,
            chunk_rows: args.chunk_rows,
            rate_rows_per_s: args.rate,
            queries: args.queries,
            query_filter: args.query_filter,
            result_frames: args.result_frames,
            rows_max: args.rows,
            duration_s_max: args.duration,
            catch_up: args.catch_up,
            idle_queries: args.idle_queries,
            idle_stream: args.idle_stream,
        },
        sent_rows,
        acked_rows,
        acked_bytes,
        elapsed_s: elapsed_us as f64 / 1e6,
        acked_rows_per_s: per_s(acked_rows, elapsed_us),
        acked_mb_per_s: per_s(acked_bytes, elapsed_us) / 1e6,
        ack_latency: ack_latency.summary(),
        e2e_latency: e2e_latency.summary(),
        producers: producers
            .iter()
            .map(|p| ProducerLine {
                index: p.index,
                stream: stream_name(p.stream_index),
                sent_rows: p.sent_rows,
                acked_rows: p.acked_rows,
                acked_rows_per_s: per_s(p.acked_rows, elapsed_us),
                error: p.error.clone(),
            })
            .collect(),
        consumers: consumer_lines,
        catch_up,
        server: server.map(|(pid, samples)| proc_line(pid, samples)),
        client: client.map(|samples| proc_line(std::process::id(), samples)),
        ok: errors.is_empty() && !missing_or_dup && idle.as_ref().is_none_or(IdleLine::ok),
        idle,
        errors,
    }
}

/// One line a second on stderr while the run goes.
async fn print_progress(
    progress: Arc<Progress>,
    pid: Option<u32>,
    quiet: bool,
    server_start: Option<ProcSample>,
) {
    if quiet {
        return;
    }
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut last_acked, mut last_pushed) = (0, 0);
    let mut last_cpu = server_start.map(|s| s.cpu_us);
    loop {
        tick.tick().await;
        let acked = progress.acked_rows.load(Ordering::Relaxed);
        let pushed = progress.pushed_rows.load(Ordering::Relaxed);
        let sent = progress.sent_rows.load(Ordering::Relaxed);
        let mut server = String::new();
        if let Some(s) = pid.and_then(|p| proc_stats::sample(Some(p)).ok()) {
            let cpu = last_cpu.map_or(0, |c| s.cpu_us.saturating_sub(c));
            last_cpu = Some(s.cpu_us);
            #[allow(clippy::cast_precision_loss)]
            let mib = s.rss_bytes as f64 / (1024.0 * 1024.0);
            server = format!("  server CPU {:>3}% RSS {mib:.0} MiB", cpu / 10_000);
        }
        eprintln!(
            "bench {:>4}s  sent {:>11}  acked {:>11} ({:>9}/s)  pushed {:>11} ({:>9}/s){server}",
            start.elapsed().as_secs(),
            report::thousands(sent),
            report::thousands(acked),
            report::thousands(acked - last_acked),
            report::thousands(pushed),
            report::thousands(pushed - last_pushed),
        );
        (last_acked, last_pushed) = (acked, pushed);
    }
}

/// A `sluice serve` child over a temporary data directory, killed when dropped.
pub(crate) struct SpawnedServer {
    child: std::process::Child,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    _dir: tempfile::TempDir,
}

impl SpawnedServer {
    /// Starts `exe` (this executable when `None`) as `serve`.
    pub(crate) async fn start(
        fsync: &str,
        kafka: Option<&str>,
        exe: Option<&std::path::Path>,
    ) -> anyhow::Result<SpawnedServer> {
        let dir = tempfile::Builder::new()
            .prefix("sluice-bench-")
            .tempdir()
            .context("creating a temporary data directory")?;
        let exe = match exe {
            Some(path) => path.to_path_buf(),
            None => std::env::current_exe().context("finding this executable")?,
        };
        let data_dir: PathBuf = dir.path().to_path_buf();
        let mut child = std::process::Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--fsync",
                fsync,
                "--data-dir",
            ])
            .arg(&data_dir)
            .args(kafka.map_or_else(Vec::new, |bootstrap| {
                vec!["--log", "kafka", "--kafka-bootstrap", bootstrap]
            }))
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("spawning `sluice serve`")?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout was piped");
        let mut server = SpawnedServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pid,
            _dir: dir,
        };
        let read = tokio::task::spawn_blocking(move || -> anyhow::Result<SocketAddr> {
            let mut lines = std::io::BufReader::new(stdout).lines();
            while let Some(line) = lines.next().transpose()? {
                if let Some(addr) = line.strip_prefix("sluice listening on http://") {
                    return addr.parse().context("the server printed a bad address");
                }
            }
            bail!("the server exited before listening")
        });
        server.addr = tokio::time::timeout(SPAWN_TIMEOUT, read)
            .await
            .context("the server did not start in time")?
            .context("reading the server's output")??;
        Ok(server)
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
