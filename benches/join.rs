// Expected: a stream-table enrichment join keeps up with a few hundred thousand rows/s on 2
// cores — per row a cursor read, a decode of the producer's row (~2 M/s), the join key,
// one table lookup through the WriteBackCache (a hot key: ~0.2 µs), building the joined row
// and encoding the sink record; the state commit per batch writes nothing for the stream.
// Measured (2026-12-05, release, 2 cores shared with two builds): 257 k rows/s with
// 2,048-record batches, 387 k with 16k (BATCH_RECORDS_MAX).
//
// The stream-stream case buffers every row of both sides in the query's store (each row:
// its buffer entry, a per-key count and the side's observed time, then a prefix scan of
// the other side, which reads the committed store too). Measured the same day: ~39 k
// records/s (~20 k rows/s per side); the profile is flat — redb's B-tree searches and page
// reads for the per-record store scans, allocation, and the commit. 2026-12-07 (evening),
// the two builds alternating: 92–95 k records/s before, 100–101 k with the state commit
// off the query's thread, 118–123 k once a probe during a commit merges the landing keys
// instead of waiting for it (the enrichment case: ~705–712 k, unchanged). Then the
// stream-table result taking the stream row's values instead of a copy, and the join key
// evaluated once (it was twice, for its bytes and its value): enrichment 651–670 k →
// 705–728 k, alternating three times.
//
// Stage: `engine/exec/join` end to end inside the engine: a CSAS `LEFT JOIN` of ROWS
// pre-loaded producer rows (mixed-case names, shuffled fields, a missing nullable) with a
// small REGIONS table on a value column (so the stream is re-keyed by it), started from the
// earliest offsets and timed until its committed positions reach both sources' ends, then
// dropped.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_engine::FsyncPolicy;
use support::{BenchServer, RowGen, RowStyle, STREAM};

/// Rows pre-loaded and joined per iteration.
const ROWS: u64 = 200_000;

/// Bound on one iteration's wait for the query to catch up.
const CATCH_UP_MAX: Duration = Duration::from_secs(120);

/// The regions the row generator draws from (`support::REGIONS`), each a table row.
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

fn stream_table_join(c: &mut Criterion) {
    let rt = support::runtime();
    let server = rt.block_on(async {
        let server = BenchServer::start(FsyncPolicy::Never).await;
        server
            .ksql_ok(&support::create_stream_sql(support::Keying::Keyless))
            .await;
        server
            .ksql_ok(
                "CREATE TABLE REGIONS (REGION STRING PRIMARY KEY, NAME STRING, ZONE INT) \
                 WITH (kafka_topic='regions', value_format='JSON', partitions=1);",
            )
            .await;
        // Older than every stream row, so the join sees the table first.
        for (i, region) in REGIONS.iter().enumerate() {
            server
                .ksql_ok(&format!(
                    "INSERT INTO REGIONS (REGION, NAME, ZONE, ROWTIME) VALUES ('{region}', 'Region {i}', {i}, 0);"
                ))
                .await;
        }
        let mut client = server.h2().await;
        let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
        client.insert_rows(&rows, ROWS).await;
        server
    });
    let mut group = c.benchmark_group("join");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS));
    let mut n = 0u64;
    group.bench_function("stream_table_enrichment_left_join", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let sink = format!("J{n}");
                    let start = Instant::now();
                    server
                        .ksql_earliest(&format!(
                            "CREATE STREAM {sink} AS SELECT s.REGION, s.ID, s.USER, s.AMOUNT, \
                             r.NAME, r.ZONE FROM {STREAM} s LEFT JOIN REGIONS r \
                             ON s.REGION = r.REGION;"
                        ))
                        .await;
                    let id = server.query_id(&format!("CSAS_{sink}_")).await;
                    let records = ROWS + REGIONS.len() as u64;
                    server
                        .wait_caught_up(&id, records, start, CATCH_UP_MAX)
                        .await;
                    total += start.elapsed();
                    server.drop_query_and_sink(&id, "STREAM", &sink).await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(server.stop());
}

/// A stream-stream INNER JOIN `WITHIN 1 MINUTE` of two streams of ROWS producer rows each,
/// on the value column `ID` (both sides re-keyed): every row meets exactly one row of the
/// other side, and both sides' window buffers grow to ROWS rows in the query's store.
fn stream_stream_join(c: &mut Criterion) {
    let rt = support::runtime();
    let server = rt.block_on(async {
        let server = BenchServer::start(FsyncPolicy::Never).await;
        server
            .ksql_ok(&support::create_stream_sql(support::Keying::Keyless))
            .await;
        server
            .ksql_ok(&format!(
                "CREATE STREAM {RIGHT} (ID BIGINT, TS BIGINT, USER STRING, REGION STRING, \
                 AMOUNT DOUBLE, OK BOOLEAN) WITH (kafka_topic='bench_rows_right', \
                 value_format='JSON', partitions=1);"
            ))
            .await;
        let mut client = server.h2().await;
        let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
        client.insert_rows(&rows, ROWS).await;
        let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
        client.insert_rows_into(RIGHT, &rows, ROWS).await;
        server
    });
    let mut group = c.benchmark_group("join");
    group.sample_size(10);
    // Records read: both sides.
    group.throughput(Throughput::Elements(2 * ROWS));
    let mut n = 0u64;
    group.bench_function("stream_stream_inner_join_within_1min", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let sink = format!("SS{n}");
                    let start = Instant::now();
                    server
                        .ksql_earliest(&format!(
                            "CREATE STREAM {sink} AS SELECT l.ID, l.USER, l.AMOUNT, r.REGION \
                             FROM {STREAM} l JOIN {RIGHT} r WITHIN 1 MINUTE ON l.ID = r.ID;"
                        ))
                        .await;
                    let id = server.query_id(&format!("CSAS_{sink}_")).await;
                    server
                        .wait_caught_up(&id, 2 * ROWS, start, CATCH_UP_MAX)
                        .await;
                    total += start.elapsed();
                    server.drop_query_and_sink(&id, "STREAM", &sink).await;
                }
                total
            })
        })
    });
    group.finish();
    rt.block_on(server.stop());
}

/// The second stream of the stream-stream join, with the bench stream's schema.
const RIGHT: &str = "BENCH_RIGHT";

criterion_group!(benches, stream_table_join, stream_stream_join);
criterion_main!(benches);
