//! `sluice bench --pull-queries`: key lookups on a materialized table, the read path of a
//! ksqlDB application (`SELECT * FROM t WHERE ID = ?` on `/query-stream`).
//!
//! ```text
//!  setup: /ksql DROP + CREATE STREAM bench_pull_src (ID BIGINT KEY, <the row shape's columns>)
//!         ─► producer (/inserts-stream): one row per key 0..keys from the bench's generator
//!         ─► --pull-table ctas (default): CTAS bench_pull: LATEST_BY_OFFSET of each column,
//!            COUNT(*), GROUP BY ID, from earliest ─► GET /queries/{id}/progress until every
//!            loaded row is read
//!            --pull-table source: CREATE SOURCE TABLE bench_pull (ID BIGINT PRIMARY KEY,
//!            <the stream's value columns>) over the stream's topic: no query, nothing to
//!            wait for (every row the loader had acked is durable and readable)
//!            (meanwhile the generator is replayed: every key's expected row, hashed)
//!  run:   connections × in-flight workers, each: pick a random key ─► POST /query-stream
//!         (or /query with `--pull-endpoint query`)
//!         ─► status 200, the table's header, exactly that key's row ─► HDR latency
//!  end:   TERMINATE (ctas) + DROP ─► report (human or --json)
//! ```
//!
//! Workers run a closed loop (each sends its next lookup when its last is answered) or, with
//! `--pull-rate`, a fixed schedule; then latency counts from each lookup's scheduled time, so
//! a stalled server shows in the tail instead of the workers simply sending less.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use http::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use super::client::H2;
use super::latency::{Latency, Schedule};
use super::proc_stats::{self, ProcSample};
use super::producer::{self, ProducerSpec};
use super::report::{self, PullConfigEcho, PullProcLine, PullReport};
use super::rows::{RowGen, RowShape};
use super::shared::Progress;
use super::{micros_since, per_s, BenchArgs, SpawnedServer};
#[cfg(test)]
use table_shape::ColumnType;
use table_shape::{PullTable, TableShape, SOURCE_STREAM, TABLE};

/// `CTAS_<TABLE>_<n>`: how the table's query id starts (ksqlDB upper-cases the name).
const QUERY_ID_PREFIX: &str = "CTAS_BENCH_PULL_";

/// Upper bounds on the options, so a typo cannot start an endless or unbounded run.
const KEYS_MAX: u64 = 100_000_000;
const CONNECTIONS_MAX: usize = 256;
/// The server allows 1,024 concurrent streams per HTTP/2 connection; stay below it.
const IN_FLIGHT_PER_CONNECTION_MAX: usize = 1_000;
const DURATION_S_MAX: f64 = 3_600.0;

/// Rows the loader may have unacked, and per DATA chunk: the ingest bench's defaults.
const LOAD_WINDOW_ROWS: u32 = 16_384;
const LOAD_CHUNK_ROWS: u32 = 256;
/// A schedule that is always due: the loader runs flat out, and every row's `TS` is a pure
/// function of its sequence number (`start + seq / rate`, µs), so the generator can be
/// replayed to know each key's row. At 10^12 rows/s, `TS` moves 1 µs per million rows.
const LOAD_RATE_ROWS_PER_S: f64 = 1e12;
/// Bounds on the setup: loading, and the CTAS reading everything loaded.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(900);
/// How often setup asks the CTAS where it stands.
const PROGRESS_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Error examples kept per kind of error (the counts are exact).
const ERROR_EXAMPLE_BYTES_MAX: usize = 300;

/// The `--pull-*` options.
#[derive(Debug, Clone, clap::Args)]
pub struct PullArgs {
    /// Instead of ingest: load --pull-keys rows into a stream, make a table of them
    /// (`bench_pull`, keyed by ID; see --pull-table) and run key lookups on it over
    /// `/query-stream`.
    #[arg(long)]
    pull_queries: bool,

    /// Distinct keys (one row each) in the table.
    #[arg(long, default_value_t = 1_000_000, requires = "pull_queries")]
    pull_keys: u64,

    /// HTTP/2 connections carrying the lookups.
    #[arg(long, default_value_t = 8, requires = "pull_queries")]
    pull_connections: usize,

    /// Lookups in flight per connection (one worker each).
    #[arg(long, default_value_t = 16, requires = "pull_queries")]
    pull_in_flight: usize,

    /// Seconds of lookups.
    #[arg(long, default_value_t = 10.0, requires = "pull_queries")]
    pull_duration: f64,

    /// Total lookups/s on a fixed schedule (latency from each lookup's scheduled time);
    /// a closed loop when absent.
    #[arg(long, requires = "pull_queries")]
    pull_rate: Option<f64>,

    /// The endpoint the lookups go to: `query-stream` (ksqlDB's v2 API) or the old `query`.
    #[arg(long, value_enum, default_value_t = PullEndpoint::QueryStream, requires = "pull_queries")]
    pull_endpoint: PullEndpoint,

    /// The table the lookups read: `ctas` (a CTAS over the stream, materialized by its
    /// query) or `source` (a SOURCE table over the stream's topic, read from the topic).
    #[arg(long, value_enum, default_value_t = PullTable::Ctas, requires = "pull_queries")]
    pull_table: PullTable,
}

/// Where lookups are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullEndpoint {
    /// `POST /query-stream` with `{"sql": …}`, delimited rows (the default media type).
    QueryStream,
    /// `POST /query` with `{"ksql": …}`. Over HTTP/2 ksqlDB refuses this endpoint's
    /// StreamedRow array (405), so the request asks for the delimited type, which ksqlDB
    /// (and Sluice) serve as `/query-stream` would.
    Query,
}

/// The delimited media type (ksqldb-api.md §6), the only one `/query` serves over HTTP/2.
const DELIMITED_MEDIA_TYPE: &str = "application/vnd.ksqlapi.delimited.v1";

impl PullEndpoint {
    fn path(self) -> &'static str {
        match self {
            PullEndpoint::QueryStream => "/query-stream",
            PullEndpoint::Query => "/query",
        }
    }

    fn accept(self) -> Option<&'static str> {
        match self {
            PullEndpoint::QueryStream => None,
            PullEndpoint::Query => Some(DELIMITED_MEDIA_TYPE),
        }
    }

    /// The request body looking up `key`.
    fn body(self, key: u64) -> String {
        let sql = format!("SELECT * FROM {TABLE} WHERE ID = {key};");
        match self {
            PullEndpoint::QueryStream => format!("{{\"sql\":\"{sql}\",\"properties\":{{}}}}"),
            PullEndpoint::Query => format!("{{\"ksql\":\"{sql}\",\"streamsProperties\":{{}}}}"),
        }
    }

    /// Sends the lookup of `key` on `conn` and collects the answer.
    async fn lookup(self, conn: &mut H2, key: u64) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
        conn.post_accepting(self.path(), self.accept(), self.body(key))
            .await
    }
}

impl PullArgs {
    /// Whether the bench runs lookups instead of its ingest workload.
    pub fn enabled(&self) -> bool {
        self.pull_queries
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(1..=KEYS_MAX).contains(&self.pull_keys) {
            bail!("--pull-keys must be 1..={KEYS_MAX}");
        }
        if !(1..=CONNECTIONS_MAX).contains(&self.pull_connections) {
            bail!("--pull-connections must be 1..={CONNECTIONS_MAX}");
        }
        if !(1..=IN_FLIGHT_PER_CONNECTION_MAX).contains(&self.pull_in_flight) {
            bail!("--pull-in-flight must be 1..={IN_FLIGHT_PER_CONNECTION_MAX}");
        }
        if !(self.pull_duration > 0.0 && self.pull_duration <= DURATION_S_MAX) {
            bail!("--pull-duration must be > 0 and at most {DURATION_S_MAX} s");
        }
        if let Some(r) = self.pull_rate {
            if !(r > 0.0 && r.is_finite()) {
                bail!("--pull-rate must be > 0");
            }
        }
        Ok(())
    }
}

/// Runs the pull-query bench: spawns the server if asked, sets up, looks up, reports.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    args.pull.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let server = if args.spawn {
            Some(SpawnedServer::start(&args.spawn_fsync, None, args.server_exe.as_deref()).await?)
        } else {
            None
        };
        let addr = server.as_ref().map_or(args.addr, |s| s.addr);
        let pid = server.as_ref().map(|s| s.pid).or(args.server_pid);
        let result = bench(args, addr, pid).await;
        drop(server);
        result
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::render_pull_human(&report));
    }
    if !report.ok {
        bail!("the run found problems (see the report)");
    }
    Ok(())
}

/// Replays the loader's generator: the hash of every key's expected row, by key.
fn expected_hashes(
    shape: &TableShape,
    seed: u64,
    row_shape: RowShape,
    row_bytes: Option<usize>,
    keys: u64,
    start_us: u64,
) -> anyhow::Result<Vec<u64>> {
    let (mut gen, schedule) = loader_rows(seed, row_shape, row_bytes);
    let mut hashes = Vec::with_capacity(usize::try_from(keys).context("keys fit in memory")?);
    let mut line = Vec::with_capacity(8 * 1024);
    for key in 0..keys {
        line.clear();
        let ts = start_us + schedule.due_us(key).expect("the load is paced");
        gen.write_row(key, ts, &mut line);
        line.pop();
        let row = shape.expected_row(key, &line)?;
        hashes.push(
            shape
                .row_hash(row)
                .expect("an expected row has every column"),
        );
    }
    Ok(hashes)
}

/// The generator and schedule the one loader uses (`ProducerSpec` with lane 0, stride 1:
/// row `seq` has ID `seq`).
fn loader_rows(seed: u64, row_shape: RowShape, row_bytes: Option<usize>) -> (RowGen, Schedule) {
    (
        RowGen::new(seed, row_shape, row_bytes),
        Schedule::Paced {
            rows_per_s: LOAD_RATE_ROWS_PER_S,
        },
    )
}

async fn bench(args: &BenchArgs, addr: SocketAddr, pid: Option<u32>) -> anyhow::Result<PullReport> {
    let pull = &args.pull;
    let shape = TableShape::for_rows(pull.pull_table, args.row_shape);
    let mut control = H2::connect(addr).await?;
    drop_leftovers(&mut control).await?;
    let columns = args.row_shape.value_columns_sql();
    super::create_stream(
        &mut control,
        SOURCE_STREAM,
        "ID BIGINT KEY",
        &columns,
        args.partitions,
    )
    .await?;

    let epoch = Instant::now();
    let load_start_us = micros_since(epoch);
    let (gen, schedule) = loader_rows(args.seed, args.row_shape, args.row_bytes);
    let spec = ProducerSpec {
        index: 0,
        addr,
        stream: SOURCE_STREAM.to_string(),
        stream_index: 0,
        lane: 0,
        stride: 1,
        rows_max: pull.pull_keys,
        window_rows: LOAD_WINDOW_ROWS,
        chunk_rows: LOAD_CHUNK_ROWS,
        schedule,
        gen: Box::new(gen),
        epoch,
        start_us: load_start_us,
        deadline: Instant::now() + LOAD_TIMEOUT,
    };
    let loaded = producer::run(spec, Arc::new(Progress::default())).await;
    if let Some(e) = loaded.error {
        bail!("loading {SOURCE_STREAM}: {e}");
    }
    if loaded.acked_rows != pull.pull_keys {
        bail!(
            "loading {SOURCE_STREAM}: {} of {} rows acked",
            loaded.acked_rows,
            pull.pull_keys
        );
    }
    let load_us = loaded.last_ack_us.saturating_sub(load_start_us);
    if !args.quiet {
        eprintln!(
            "bench pull: {} rows loaded in {:.2} s; creating {TABLE} ({})",
            report::thousands(loaded.acked_rows),
            load_us as f64 / 1e6,
            pull.pull_table.name()
        );
    }

    let table_start = Instant::now();
    let replay = {
        let (shape, seed, row_shape, row_bytes) =
            (shape.clone(), args.seed, args.row_shape, args.row_bytes);
        let keys = pull.pull_keys;
        tokio::task::spawn_blocking(move || {
            expected_hashes(&shape, seed, row_shape, row_bytes, keys, load_start_us)
        })
    };
    // A source table has no query: the rows the loader had acked are readable already.
    let query_id = create_table(&mut control, &shape).await?;
    if let Some(query_id) = &query_id {
        wait_caught_up(&mut control, query_id, pull.pull_keys).await?;
    }
    let ctas_catch_up_s = table_start.elapsed().as_secs_f64();
    let expected = Arc::new(replay.await.context("replaying the generator")??);
    let header_tail = probe_header(&mut control, pull.pull_endpoint, &shape).await?;
    if !args.quiet {
        eprintln!(
            "bench pull: {} in {ctas_catch_up_s:.2} s; looking up for {} s",
            match &query_id {
                Some(id) => format!("{id} caught up"),
                None => format!("source table {TABLE} created"),
            },
            pull.pull_duration
        );
    }

    let server_before = pid.map(|p| proc_stats::sample(Some(p))).transpose()?;
    let client_before = proc_stats::sample(None).ok();
    let counters = Arc::new(Counters::default());
    let ticker = tokio::spawn(print_progress(Arc::clone(&counters), args.quiet));
    let lookup = Lookup {
        shape: Arc::new(shape),
        expected,
        header_tail: Arc::new(header_tail),
        counters: Arc::clone(&counters),
    };
    let outcome = run_lookups(addr, pull, args.seed, &lookup).await;
    ticker.abort();
    let server_after = pid.and_then(|p| proc_stats::sample(Some(p)).ok());
    let client_after = proc_stats::sample(None).ok();
    // Cleaned up whatever the lookups did, so a rerun against the same server starts over.
    if let Err(e) = drop_table(&mut control, query_id.as_deref()).await {
        tracing::warn!(error = %e, "dropping the bench table failed");
    }
    let outcome = outcome?;

    let answered = outcome.ok + outcome.wrong_rows + outcome.empty + outcome.failed;
    let proc_line = |pid: u32, (before, after): (ProcSample, ProcSample)| {
        let cpu_us = after.cpu_us.saturating_sub(before.cpu_us);
        PullProcLine {
            pid,
            rss_bytes: after.rss_bytes,
            rss_peak_bytes: after.rss_peak_bytes,
            cpu_s: cpu_us as f64 / 1e6,
            cpu_percent: if outcome.elapsed_us == 0 {
                0.0
            } else {
                cpu_us as f64 * 100.0 / outcome.elapsed_us as f64
            },
            cpu_us_per_query: if answered == 0 {
                0.0
            } else {
                cpu_us as f64 / answered as f64
            },
        }
    };
    let errors_total = outcome.wrong_rows + outcome.empty + outcome.failed;
    Ok(PullReport {
        config: PullConfigEcho {
            addr: addr.to_string(),
            keys: pull.pull_keys,
            connections: pull.pull_connections,
            in_flight_per_connection: pull.pull_in_flight,
            rate_queries_per_s: pull.pull_rate,
            duration_s_max: pull.pull_duration,
            endpoint: pull.pull_endpoint.path().to_string(),
            table: TABLE.to_string(),
            table_kind: pull.pull_table.name().to_string(),
            row_shape: args.row_shape,
            partitions: args.partitions,
            seed: args.seed,
        },
        loaded_rows: loaded.acked_rows,
        load_s: load_us as f64 / 1e6,
        load_rows_per_s: per_s(loaded.acked_rows, load_us),
        ctas_catch_up_s,
        queries_ok: outcome.ok,
        wrong_rows: outcome.wrong_rows,
        empty_answers: outcome.empty,
        failed: outcome.failed,
        elapsed_s: outcome.elapsed_us as f64 / 1e6,
        queries_per_s: per_s(outcome.ok, outcome.elapsed_us),
        latency: outcome.latency.summary(),
        server: pid
            .zip(server_before.zip(server_after))
            .map(|(p, s)| proc_line(p, s)),
        client: client_before
            .zip(client_after)
            .map(|s| proc_line(std::process::id(), s)),
        ok: errors_total == 0 && outcome.ok > 0,
        errors: outcome.examples,
    })
}

/// Runs `/ksql` with properties and returns the parsed reply, failing on a non-200.
async fn ksql_reply(control: &mut H2, sql: &str, properties: Value) -> anyhow::Result<Value> {
    let body = serde_json::json!({"ksql": sql, "streamsProperties": properties}).to_string();
    let (status, bytes) = control.post("/ksql", body).await?;
    if status != StatusCode::OK {
        bail!(
            "{sql} failed ({status}): {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{sql}: the reply is not JSON"))
}

/// Terminates a bench table's query left by an earlier run and drops the table, so the run
/// starts from nothing (DROP refuses a table a query still writes).
async fn drop_leftovers(control: &mut H2) -> anyhow::Result<()> {
    let reply = ksql_reply(control, "SHOW QUERIES;", serde_json::json!({})).await?;
    let ids: Vec<String> = reply[0]["queries"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .filter_map(|q| q["id"].as_str())
                .filter(|id| id.starts_with(QUERY_ID_PREFIX))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        control.ksql(&format!("TERMINATE {id};")).await?;
    }
    if control
        .ksql(&format!("DROP TABLE IF EXISTS {TABLE} DELETE TOPIC;"))
        .await
        .is_err()
    {
        // A source table left by `--pull-table source`, whose topic ksqlDB may refuse to
        // delete with it: the stream's topic, which the stream's drop then deletes.
        control
            .ksql(&format!("DROP TABLE IF EXISTS {TABLE};"))
            .await?;
    }
    Ok(())
}

/// Creates the table from earliest (it reads the rows already loaded); returns the CTAS's
/// query id (`None` for a source table, which has no query).
async fn create_table(control: &mut H2, shape: &TableShape) -> anyhow::Result<Option<String>> {
    let sql = shape.create_sql();
    let reply = ksql_reply(
        control,
        &sql,
        serde_json::json!({"auto.offset.reset": "earliest"}),
    )
    .await?;
    if shape.kind == PullTable::Source {
        return Ok(None);
    }
    reply[0]["commandStatus"]["queryId"]
        .as_str()
        .map(|id| Some(id.to_string()))
        .with_context(|| format!("{sql}: no query id in {reply}"))
}

/// Waits until the CTAS has read every loaded row (`caughtUp` alone is also true before it
/// read anything on a slow start).
async fn wait_caught_up(control: &mut H2, query_id: &str, rows: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        let (status, bytes) = control
            .get(&format!("/queries/{query_id}/progress"))
            .await?;
        if status != StatusCode::OK {
            bail!(
                "progress of {query_id}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let progress: Value = serde_json::from_slice(&bytes).context("progress is not JSON")?;
        let read: u64 = progress["sources"]
            .as_array()
            .map(|s| s.iter().filter_map(|p| p["position"].as_u64()).sum())
            .unwrap_or(0);
        if progress["caughtUp"] == Value::Bool(true) && read >= rows {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{query_id} read {read} of {rows} rows in {CATCH_UP_TIMEOUT:?}: {progress}");
        }
        tokio::time::sleep(PROGRESS_POLL_INTERVAL).await;
    }
}

/// Drops the table (a CTAS's query first, and its topic with it; a source table's topic is
/// the stream's), then the stream and its topic.
async fn drop_table(control: &mut H2, query_id: Option<&str>) -> anyhow::Result<()> {
    match query_id {
        Some(query_id) => {
            control.ksql(&format!("TERMINATE {query_id};")).await?;
            control
                .ksql(&format!("DROP TABLE {TABLE} DELETE TOPIC;"))
                .await?;
        }
        None => control.ksql(&format!("DROP TABLE {TABLE};")).await?,
    }
    control
        .ksql(&format!("DROP STREAM {SOURCE_STREAM} DELETE TOPIC;"))
        .await
}

/// One lookup to learn the answer's header: checks its column names are the table's and
/// returns what follows the query id (`,"columnNames":…`), which every answer then repeats.
async fn probe_header(
    control: &mut H2,
    endpoint: PullEndpoint,
    shape: &TableShape,
) -> anyhow::Result<Vec<u8>> {
    let (status, body) = endpoint.lookup(control, 0).await?;
    if status != StatusCode::OK {
        bail!(
            "the first lookup answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let header = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let parsed: Value = serde_json::from_slice(header).with_context(|| {
        format!(
            "the header is not JSON: {}",
            String::from_utf8_lossy(header)
        )
    })?;
    let names: Vec<&str> = parsed["columnNames"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names != shape.names() {
        bail!(
            "the table's columns are {names:?}, expected {:?}",
            shape.names()
        );
    }
    let at = find(header, b",\"columnNames\":").with_context(|| {
        format!(
            "no columnNames in the header {}",
            String::from_utf8_lossy(header)
        )
    })?;
    Ok(header[at..].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What every worker shares: the table's shape, every key's expected row and the header.
struct Lookup {
    shape: Arc<TableShape>,
    expected: Arc<Vec<u64>>,
    header_tail: Arc<Vec<u8>>,
    counters: Arc<Counters>,
}

/// Answers so far, for the progress line.
#[derive(Debug, Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// How one answer compares with its key's row.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Not the key's row, not a row, or more than one.
    WrongRow(String),
    /// A well-formed answer without a row.
    NoRow,
    /// Another status than 200, or a malformed answer.
    Failed(String),
}

/// Checks one delimited answer: status 200, the table's header, then exactly the row
/// whose hash is `expected`.
fn check_answer(
    shape: &TableShape,
    header_tail: &[u8],
    status: StatusCode,
    body: &[u8],
    expected: u64,
) -> Verdict {
    let text = || String::from_utf8_lossy(body).into_owned();
    if status != StatusCode::OK {
        return Verdict::Failed(format!("status {status}: {}", text()));
    }
    let mut lines = body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        return Verdict::Failed("an empty answer".to_string());
    };
    if !header.starts_with(b"{") || !header.ends_with(header_tail) {
        return Verdict::Failed(format!("not the table's header: {}", text()));
    }
    let Some(row) = lines.next() else {
        return Verdict::NoRow;
    };
    if lines.next().is_some() {
        return Verdict::WrongRow(format!("more than one row: {}", text()));
    }
    let hash = serde_json::from_slice::<Vec<Value>>(row)
        .ok()
        .and_then(|values| shape.row_hash(values));
    match hash {
        Some(h) if h == expected => Verdict::Ok,
        _ => Verdict::WrongRow(text()),
    }
}

/// What all workers saw.
#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    wrong_rows: u64,
    empty: u64,
    failed: u64,
    latency: Latency,
    /// From the first lookup to the last answer.
    elapsed_us: u64,
    examples: Vec<String>,
}

impl Outcome {
    fn count(&mut self, key: u64, verdict: Verdict) {
        let example = |examples: &mut Vec<String>, kind: &str, text: String| {
            if !examples.iter().any(|e| e.starts_with(kind)) {
                let mut text = text;
                if text.len() > ERROR_EXAMPLE_BYTES_MAX {
                    let mut end = ERROR_EXAMPLE_BYTES_MAX;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.truncate(end);
                    text.push('…');
                }
                examples.push(format!("{kind} (key {key}): {text}"));
            }
        };
        match verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::WrongRow(text) => {
                self.wrong_rows += 1;
                example(&mut self.examples, "wrong row", text);
            }
            Verdict::NoRow => {
                self.empty += 1;
                example(&mut self.examples, "no row", String::new());
            }
            Verdict::Failed(text) => {
                self.failed += 1;
                example(&mut self.examples, "failed", text);
            }
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.wrong_rows += other.wrong_rows;
        self.empty += other.empty;
        self.failed += other.failed;
        self.latency.merge(&other.latency);
        self.elapsed_us = self.elapsed_us.max(other.elapsed_us);
        for e in other.examples {
            let kind = e.split(" (").next().unwrap_or_default().to_string();
            if !self.examples.iter().any(|x| x.starts_with(&kind)) {
                self.examples.push(e);
            }
        }
    }
}

/// One worker's part of the load.
struct WorkerSpec {
    conn: H2,
    endpoint: PullEndpoint,
    /// Its own key sequence.
    seed: u64,
    epoch: Instant,
    deadline: Instant,
    /// Its lookups' schedule (µs since `epoch`), `None` in a closed loop.
    pace: Option<Pace>,
}

#[derive(Debug, Clone, Copy)]
struct Pace {
    offset_us: f64,
    interval_us: f64,
}

/// Opens the connections, runs every worker until the deadline, and merges what they saw.
async fn run_lookups(
    addr: SocketAddr,
    pull: &PullArgs,
    seed: u64,
    lookup: &Lookup,
) -> anyhow::Result<Outcome> {
    let mut conns = Vec::with_capacity(pull.pull_connections);
    for _ in 0..pull.pull_connections {
        conns.push(H2::connect(addr).await?);
    }
    let workers = pull.pull_connections * pull.pull_in_flight;
    let epoch = Instant::now();
    let deadline = epoch + Duration::from_secs_f64(pull.pull_duration);
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        #[allow(clippy::cast_precision_loss)]
        let pace = pull.pull_rate.map(|rate| Pace {
            // Worker w's lookups are due at (w + k·workers) / rate: spread evenly.
            offset_us: w as f64 * 1e6 / rate,
            interval_us: workers as f64 * 1e6 / rate,
        });
        let spec = WorkerSpec {
            conn: conns[w % conns.len()].clone(),
            endpoint: pull.pull_endpoint,
            seed: seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            epoch,
            deadline,
            pace,
        };
        tasks.push(tokio::spawn(worker(
            spec,
            Arc::clone(&lookup.shape),
            Arc::clone(&lookup.expected),
            Arc::clone(&lookup.header_tail),
            Arc::clone(&lookup.counters),
        )));
    }
    let mut outcome = Outcome::default();
    for t in tasks {
        outcome.merge(t.await.context("a lookup worker panicked")?);
    }
    Ok(outcome)
}

async fn worker(
    mut spec: WorkerSpec,
    shape: Arc<TableShape>,
    expected: Arc<Vec<u64>>,
    header_tail: Arc<Vec<u8>>,
    counters: Arc<Counters>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = spec.seed;
    let keys = expected.len() as u64;
    let mut sent = 0u64;
    loop {
        let due_us = match spec.pace {
            None => micros_since(spec.epoch),
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            Some(p) => (p.offset_us + sent as f64 * p.interval_us) as u64,
        };
        let due = spec.epoch + Duration::from_micros(due_us);
        if due >= spec.deadline {
            break;
        }
        tokio::time::sleep_until(due).await;
        sent += 1;
        let key = splitmix(&mut rng) % keys;
        let answer = spec.endpoint.lookup(&mut spec.conn, key).await;
        let now_us = micros_since(spec.epoch);
        out.latency.record(due_us, now_us);
        out.elapsed_us = now_us;
        let verdict = match answer {
            Ok((status, body)) => check_answer(
                &shape,
                &header_tail,
                status,
                &body,
                expected[usize::try_from(key).expect("keys fit in memory")],
            ),
            Err(e) => Verdict::Failed(format!("{e:#}")),
        };
        if verdict == Verdict::Ok {
            counters.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        out.count(key, verdict);
    }
    out
}

/// SplitMix64, as the row generator uses: uniform keys, reproducible per seed.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One line a second on stderr while lookups run.
async fn print_progress(counters: Arc<Counters>, quiet: bool) {
    if quiet {
        return;
    }
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last_ok = 0;
    loop {
        tick.tick().await;
        let ok = counters.ok.load(Ordering::Relaxed);
        let errors = counters.errors.load(Ordering::Relaxed);
        eprintln!(
            "bench pull {:>4}s  answered {:>11} ({:>9}/s)  errors {}",
            start.elapsed().as_secs(),
            report::thousands(ok),
            report::thousands(ok - last_ok),
            report::thousands(errors),
        );
        last_ok = ok;
    }
}

mod table_shape;
#[cfg(test)]
mod tests;
