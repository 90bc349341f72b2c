// Expected: a 1-minute tumbling COUNT per user keeps up with ~0.3–0.5 M rows/s on 2 cores
// — per row a cursor read, a decode of the producer's row (~2 M/s), the group key, one
// window-state read and write through the WriteBackCache (~1–3 µs: each user's window is
// new here, so most rows add a window and its due-index entry), the sink record with its
// windowed key, and the materialized table row; commits write every dirty window.
// Measured (2026-12-05, release, 2 cores shared with two other builds, criterion A/B in
// one sitting): with 2048-record batches, per user (~180k keys) 22 k rows/s and per region
// (8 keys) 187 k rows/s; with 16k-record batches (BATCH_RECORDS_MAX), 59 k and 410 k. The
// per-batch state commit set the pace (it writes every B-tree page the batch dirtied).
// The `group_by_*` cases are the same CTAS without WINDOW (COUNT and SUM), the baseline the
// windows are compared with: 58 k rows/s per user, 304 k per region (16k batches, same
// machine, busier: a full test run and two builds beside it). 2026-12-06, with state
// commits deferred to once a second and mimalloc: per user 138 k, per region 450 k, and
// `group_by_count_sum_100k_keys_1m_rows` (issue 10's 100k keys) 285 k rows/s (149 k with
// a state commit per batch); 2026-12-07, with the state cache's keys inline and only the
// read columns decoded: 405 k (benches/README.md, "GROUP BY"); 2026-12-07 evening, with
// the state commit off the query's thread: 100k keys 549–577 k, per user 251 k (GROUP BY)
// and 102 k (tumbling).
//
// Stage: `engine/exec/aggregate/windowed` end to end inside the engine: a CTAS with
// `WINDOW TUMBLING (SIZE 1 MINUTE)` started over ROWS pre-loaded producer rows (mixed-case
// names, shuffled fields, a missing nullable), timed until its committed positions reach
// the source's end (the query is caught up), then dropped.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_engine::FsyncPolicy;
use support::{BenchServer, RowGen, RowStyle, STREAM};

/// Rows pre-loaded and aggregated per iteration: rows are 1 ms apart, so they span a few
/// 1-minute windows.
const ROWS: u64 = 200_000;

/// Rows of the second stream, for issue 10's GROUP BY target (100k distinct keys): each
/// key then comes 10 times, so the state is a steady 100k groups, not one per row.
const ROWS_100K_KEYS: u64 = 1_000_000;

/// The second stream's name.
const STREAM_100K_KEYS: &str = "BENCH_KEYS";

/// Bound on one iteration's wait for the query to catch up.
const CATCH_UP_MAX: Duration = Duration::from_secs(120);

/// A bench stream with `TS` as the row time, so the windows follow the generated times.
fn create_stream_sql(name: &str) -> String {
    format!(
        "CREATE STREAM {name} (ID BIGINT, TS BIGINT, USER STRING, REGION STRING, \
         AMOUNT DOUBLE, OK BOOLEAN) WITH (kafka_topic='{}', value_format='JSON', \
         partitions=1, timestamp='TS');",
        name.to_ascii_lowercase()
    )
}

fn windowed_count(c: &mut Criterion) {
    let rt = support::runtime();
    let server = rt.block_on(async {
        let server = BenchServer::start(FsyncPolicy::Never).await;
        server.ksql_ok(&create_stream_sql(STREAM)).await;
        server.ksql_ok(&create_stream_sql(STREAM_100K_KEYS)).await;
        let mut client = server.h2().await;
        let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
        client.insert_rows(&rows, ROWS).await;
        let mut gen = RowGen::new();
        for _ in 0..ROWS_100K_KEYS / ROWS {
            let rows = Bytes::from(gen.lines(ROWS as usize, RowStyle::Producer));
            client.insert_rows_into(STREAM_100K_KEYS, &rows, ROWS).await;
        }
        server
    });
    let mut group = c.benchmark_group("windowed_aggregate");
    group.sample_size(10);
    let mut n = 0u64;
    // Per user: ~180k distinct keys in the 200k rows, so nearly every row opens a window
    // (state growth dominates). Per region: 8 keys, so the per-row pipeline dominates.
    let tumbling = "COUNT(*) AS N FROM {STREAM} WINDOW TUMBLING (SIZE 1 MINUTE)";
    // And over 100k keys (`ID % 100000`, IDs are sequential), 1M rows: issue 10's target.
    let plain = "COUNT(*) AS N, SUM(AMOUNT) AS TOTAL FROM {STREAM}";
    for (name, key, body, stream, rows) in [
        (
            "tumbling_1min_count_per_user",
            "USER",
            tumbling,
            STREAM,
            ROWS,
        ),
        (
            "tumbling_1min_count_per_region",
            "REGION",
            tumbling,
            STREAM,
            ROWS,
        ),
        ("group_by_count_sum_per_user", "USER", plain, STREAM, ROWS),
        (
            "group_by_count_sum_per_region",
            "REGION",
            plain,
            STREAM,
            ROWS,
        ),
        (
            "group_by_count_sum_100k_keys_1m_rows",
            "ID % 100000",
            plain,
            STREAM_100K_KEYS,
            ROWS_100K_KEYS,
        ),
    ] {
        let body = body.replace("{STREAM}", stream);
        group.throughput(Throughput::Elements(rows));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        n += 1;
                        let sink = format!("W{n}");
                        let start = Instant::now();
                        server
                            .ksql_earliest(&format!(
                                "CREATE TABLE {sink} AS SELECT {key}, {body} GROUP BY {key};"
                            ))
                            .await;
                        let id = server.query_id(&format!("CTAS_{sink}_")).await;
                        server.wait_caught_up(&id, rows, start, CATCH_UP_MAX).await;
                        total += start.elapsed();
                        server.drop_query_and_sink(&id, "TABLE", &sink).await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
    rt.block_on(server.stop());
}

criterion_group!(benches, windowed_count);
criterion_main!(benches);
