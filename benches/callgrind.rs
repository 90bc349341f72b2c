// Not a criterion bench: the fixed workload `benches/callgrind.sh` runs under valgrind's
// callgrind to count instructions per row, stage by stage (counts are repeatable on a shared
// machine, where timings are not). The figures and how to read them are in
// benches/README.md, "Where the time per row goes (callgrind)".
//
// Workload: N seeded rows of one `--row-shape` (default `mixed`: the realistic mix `sluice
// bench` sends by default; `exact` is the old workload of ~105 B rows already in stored form;
// the generator is `sluice bench`'s own, src/bench/rows.rs) through both data paths of one
// engine in process, driving the same public APIs the server's endpoints call:
//
//   ingest: body cut into 16 KiB DATA frames ─► LineSplitter ─► Inserter::decode_line
//           (the one-pass fast path, else decode_insert_row) ─► Inserter::record_line
//           ─► TopicLog::append (1,024 rows per batch, ≤ 16 in flight, FsyncPolicy::Never)
//           ─► await the ticket ─► AckEncoder (JSON array)
//   query:  SELECT * … WHERE ID >= 0 EMIT CHANGES LIMIT N from earliest: QueryStream (cursor
//           ─► row decoder ─► WHERE ─► SELECT) ─► ResultEncoder (JSON array)
//
// Each stage the driver can call on its own runs in its own `#[inline(never)]` function
// named `stage_*`, so a function's inclusive cost is the stage's; the script splits the
// query stream further by the engine's own functions (the cursor read, the row decoder) and
// adds the log writer thread (encode, CRC, write(2)). Under `cargo bench` it runs a small
// smoke workload, so the bench build and run stay cheap.

mod support;

/// `sluice bench`'s row generator, shared so both measure the same rows (the driver uses
/// only part of it).
#[allow(dead_code)]
#[path = "../src/bench/rows.rs"]
mod rows;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use anyhow::{anyhow, ensure, Context};
use bytes::Bytes;
use rows::{RowGen, RowShape};
use sluice_engine::exec::result_rows::ResultRows;
use sluice_engine::ingest::inserter::{DecodedLine, Inserter};
use sluice_engine::log::{AppendTicket, FsyncPolicy, PartitionId, Record, TopicLog};
use sluice_engine::plan::transient::{plan_query, QueryProperties};
use sluice_engine::query::transient::{EndReason, QueryStream};
use sluice_engine::statements::insert_target;
use sluice_engine::{Engine, EngineConfig};
use sluice_protocol::framing::line_splitter::LineSplitter;
use sluice_protocol::ksqldb::ingest::ack_encoder::AckEncoder;
use sluice_protocol::ksqldb::media_type::ResultFormat;
use sluice_protocol::ksqldb::query::result_encoder::ResultEncoder;
use sluice_protocol::limits::ROW_BYTES_MAX;
use support::STREAM;
use tokio::runtime::Runtime;

/// Rows per run unless `--rows` says otherwise: enough that one-off costs (opening the
/// engine, planning the query) are well under 1 instruction per row.
const ROWS_DEFAULT: usize = 200_000;

/// Rows for the smoke run `cargo bench` does (it passes `--bench`).
const SMOKE_ROWS: usize = 10_000;

/// HTTP/2's default `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2): how a client's body
/// usually arrives, cutting rows at arbitrary bytes.
const DATA_FRAME_BYTES: usize = 16 * 1024;

/// Rows per append, as the inserts-stream endpoint batches them (`INSERT_BATCH_ROWS_MAX`).
const BATCH_ROWS: usize = 1024;

/// Appends queued before the oldest ticket is awaited (the endpoint allows 64; 16 is one
/// full commit batch of the log writer, so group commit sees what it sees in production).
const BATCHES_IN_FLIGHT_MAX: usize = 16;

/// Result rows asked for per `next_rows` call, as the query-stream endpoint asks.
const CHUNK_ROWS_MAX: usize = 256;

/// The generator's seed (any fixed value: runs must send the same rows).
const SEED: u64 = 1;

/// The one partition of the generated stream (`create_stream_sql` asks for one).
const PARTITION: PartitionId = PartitionId(0);

fn main() -> anyhow::Result<()> {
    let (rows, shape) = args(std::env::args().skip(1))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let _entered = rt.enter();
    let dir = tempfile::tempdir().context("temp dir")?;
    let engine = Engine::open(EngineConfig {
        data_dir: dir.path().to_path_buf(),
        fsync: FsyncPolicy::Never,
        limits: Default::default(),
    })?;
    let create = format!(
        "CREATE STREAM {STREAM} (ID BIGINT, {}) WITH (kafka_topic='bench_rows', \
         value_format='JSON', partitions=1);",
        shape.value_columns_sql()
    );
    rt.block_on(engine.execute(&create, &HashMap::new(), &HashMap::new()))
        .map_err(|e| anyhow!("CREATE STREAM failed: {}", e.error))?;
    let mut gen = RowGen::new(SEED, shape, None);
    let mut body = Vec::with_capacity(rows * 256);
    for id in 0..rows as u64 {
        gen.write_row(id, id * 10, &mut body);
    }
    let body = Bytes::from(body);

    let ack_bytes = ingest(&rt, &engine, &body)?;
    let result_bytes = query(&rt, &engine, rows)?;
    println!(
        "callgrind driver: {rows} {} rows, {} B of rows in, {ack_bytes} B of acks, \
         {result_bytes} B of JSON results out",
        shape.name(),
        body.len()
    );
    Ok(())
}

/// `--rows N` (or the smoke size under `cargo bench`, which passes `--bench`) and
/// `--row-shape NAME`. Other arguments (a criterion filter passed to every bench binary)
/// are ignored.
fn args(mut args: impl Iterator<Item = String>) -> anyhow::Result<(usize, RowShape)> {
    use clap::ValueEnum as _;
    let mut rows = ROWS_DEFAULT;
    let mut shape = RowShape::Mixed;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rows" => {
                let n = args.next().context("--rows needs a number")?;
                rows = n.parse().with_context(|| format!("--rows {n}"))?;
            }
            "--row-shape" => {
                let name = args.next().context("--row-shape needs a shape")?;
                shape =
                    RowShape::from_str(&name, false).map_err(|e| anyhow!("--row-shape: {e}"))?;
            }
            "--bench" => rows = SMOKE_ROWS,
            _ => {}
        }
    }
    ensure!(rows > 0, "--rows must be positive");
    Ok((rows, shape))
}

/// The inserts-stream path over `body`; returns the bytes of acks written.
fn ingest(rt: &Runtime, engine: &Arc<Engine>, body: &Bytes) -> anyhow::Result<usize> {
    let internals = engine.internals();
    let mut inserter = Inserter::new(
        internals.log().as_ref(),
        internals.clock().clone(),
        insert_target(&internals.catalog(), STREAM)?,
    )?;
    let topic = Arc::clone(inserter.topic());
    let mut splitter = LineSplitter::new(ROW_BYTES_MAX);
    let mut acks = AckEncoder::new(ResultFormat::JsonArray);
    let mut lines = Vec::new();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    // (ticket, first seq, rows) per queued append, oldest first.
    let mut in_flight: VecDeque<(AppendTicket, u64, usize)> = VecDeque::new();
    let mut next_seq = 0u64;
    let mut ack_bytes = 0;

    let frames = (0..body.len())
        .step_by(DATA_FRAME_BYTES)
        .map(|at| Some(body.slice(at..(at + DATA_FRAME_BYTES).min(body.len()))));
    // `None` is the end of the body: the splitter hands over a last unterminated line.
    for frame in frames.chain([None]) {
        stage_split(&mut splitter, frame, &mut lines)?;
        let now_ms = inserter.now_ms();
        for line in &lines {
            let decoded = stage_decode(&mut inserter, line)?;
            batch.push(stage_record(&mut inserter, decoded, line, now_ms)?);
            if batch.len() == BATCH_ROWS {
                let records = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                in_flight.push_back((stage_append(rt, &topic, records)?, next_seq, BATCH_ROWS));
                next_seq += BATCH_ROWS as u64;
                if in_flight.len() > BATCHES_IN_FLIGHT_MAX {
                    ack_bytes += ack_oldest(rt, &mut in_flight, &mut acks)?;
                }
            }
        }
    }
    if !batch.is_empty() {
        let rows = batch.len();
        in_flight.push_back((stage_append(rt, &topic, batch)?, next_seq, rows));
        next_seq += rows as u64;
    }
    while !in_flight.is_empty() {
        ack_bytes += ack_oldest(rt, &mut in_flight, &mut acks)?;
    }
    ensure!(next_seq as usize == body.iter().filter(|&&b| b == b'\n').count());
    Ok(ack_bytes)
}

/// Waits for the oldest append to be durable, then acks its rows.
fn ack_oldest(
    rt: &Runtime,
    in_flight: &mut VecDeque<(AppendTicket, u64, usize)>,
    acks: &mut AckEncoder,
) -> anyhow::Result<usize> {
    let (ticket, first_seq, rows) = in_flight.pop_front().expect("called with one in flight");
    stage_await_append(rt, ticket)?;
    Ok(stage_ack(acks, first_seq, rows))
}

/// The query-stream path: every row back from the earliest offset; returns result bytes.
fn query(rt: &Runtime, engine: &Arc<Engine>, rows: usize) -> anyhow::Result<usize> {
    // A WHERE that every row passes: the filter runs (and `ID` is decoded to a value) while
    // every stage still sees all N rows.
    let sql = format!("SELECT * FROM {STREAM} WHERE ID >= 0 EMIT CHANGES LIMIT {rows};");
    let props = QueryProperties {
        auto_offset_reset_earliest: Some(true),
        ..QueryProperties::default()
    };
    let internals = engine.internals();
    let plan = plan_query(
        internals.catalog().as_ref(),
        &sql,
        &HashMap::new(),
        &props,
        engine.now_ms(),
    )?;
    let mut stream = QueryStream::start(
        internals.log().as_ref(),
        internals.queries(),
        internals.shared_batches(),
        plan,
    )?;
    let encoder = ResultEncoder::new(ResultFormat::JsonArray, true);
    let mut out = Vec::with_capacity(64 * 1024);
    let plan = stream.plan();
    encoder.header(&plan.id, &plan.column_names, &plan.column_types, &mut out);
    let mut result = ResultRows::new(plan.column_names.len(), CHUNK_ROWS_MAX);
    let mut result_bytes = out.len();
    let mut emitted = 0;
    loop {
        let end = stage_query_rows(rt, &mut stream, &mut result)?;
        emitted += result.len();
        result_bytes += stage_encode(&encoder, &result, &mut out);
        if let Some(reason) = end {
            ensure!(reason == EndReason::LimitReached, "query ended early");
            break;
        }
    }
    encoder.end(EndReason::LimitReached, &mut out);
    ensure!(emitted == rows, "{emitted} result rows for {rows} rows");
    Ok(result_bytes + out.len())
}

// The stages. Each is one call into the library, kept out of line so callgrind charges it,
// and everything it calls, to one function whose name the script looks for.

/// Ingest: one DATA frame (or the end of the body) into whole lines.
#[inline(never)]
fn stage_split(
    splitter: &mut LineSplitter,
    frame: Option<Bytes>,
    lines: &mut Vec<Bytes>,
) -> anyhow::Result<()> {
    lines.clear();
    match frame {
        Some(frame) => splitter.push(frame, lines)?,
        None => splitter.finish(lines),
    }
    Ok(())
}

/// Ingest: one line decoded as the endpoint does it (the one-pass fast path to the stored
/// record value and key, else the full decoder into column values).
#[inline(never)]
fn stage_decode(inserter: &mut Inserter, line: &Bytes) -> anyhow::Result<DecodedLine> {
    Ok(inserter.decode_line(line)?)
}

/// Ingest: a decoded line into a record (partition, timestamp; for the full decoder's
/// values, also the key and value bytes).
#[inline(never)]
fn stage_record(
    inserter: &mut Inserter,
    decoded: DecodedLine,
    line: &Bytes,
    now_ms: i64,
) -> anyhow::Result<Record> {
    let (partition, record) = inserter.record_line(decoded, line, now_ms)?;
    ensure!(partition == PARTITION, "one partition");
    Ok(record)
}

/// Ingest: hand one batch to the partition's writer thread (which encodes, checksums and
/// writes it: that thread's cost is counted apart).
#[inline(never)]
fn stage_append(
    rt: &Runtime,
    topic: &Arc<dyn TopicLog>,
    records: Vec<Record>,
) -> anyhow::Result<AppendTicket> {
    Ok(rt.block_on(topic.append(PARTITION, records))?)
}

/// Ingest: wait until an append is durable.
#[inline(never)]
fn stage_await_append(rt: &Runtime, ticket: AppendTicket) -> anyhow::Result<()> {
    rt.block_on(ticket)
        .map_err(|_| anyhow!("log writer stopped"))??;
    Ok(())
}

/// Ingest: one ack per row of a durable batch; returns the bytes written.
#[inline(never)]
fn stage_ack(acks: &mut AckEncoder, first_seq: u64, rows: usize) -> usize {
    let mut out = Vec::with_capacity(rows * 32);
    for seq in first_seq..first_seq + rows as u64 {
        acks.ok(seq, &mut out);
    }
    out.len()
}

/// Query: the next batch of result rows (cursor read, row decode, WHERE, SELECT).
#[inline(never)]
fn stage_query_rows(
    rt: &Runtime,
    stream: &mut QueryStream,
    result: &mut ResultRows,
) -> anyhow::Result<Option<EndReason>> {
    result.clear();
    Ok(rt.block_on(stream.next_rows(result, CHUNK_ROWS_MAX))?)
}

/// Query: encode a batch of result rows as the response body; returns the bytes written.
#[inline(never)]
fn stage_encode(encoder: &ResultEncoder, result: &ResultRows, out: &mut Vec<u8>) -> usize {
    out.clear();
    encoder.rows(result, out);
    out.len()
}
