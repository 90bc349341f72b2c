// Expected: append with FsyncPolicy::Never ~2 M records/s (~200 MB/s) — per record a
// ~30 B frame header, a CRC32 over ~130 B and a memcpy into the batch buffer, then one
// write(2) per batch on the partition's writer thread; the queue hop and ticket wake-up cost
// a few µs per 1,024-record batch. FsyncPolicy::Always, one batch in flight: bound by one
// fdatasync per batch (~1–5 ms on a virtual disk), so ~0.2–1 M records/s; with 16 batches in
// flight group commit folds them into one fsync, and it should approach Never. Cursor read
// ~4 M records/s: positioned reads of 64 KiB chunks from the page cache, a CRC check and
// zero-copy `Bytes` slices per record.
// Measured (short run, 2 cores shared with other builds, load avg ~12, so ±50%): Never
// 0.82 M records/s one batch in flight, 0.89 M with 16; Always 158 k records/s one batch in
// flight (~6.5 ms per batch: the fsync), 560 k with 16 in flight (group commit works);
// cursor read 2.9 M records/s. ~100 kB of values per 1,024-record batch.
//
// Stage: `engine/log` (partition writer, segment files, cursor) through the `TopicLog` and
// `PartitionCursor` traits, one partition, records holding seeded ~100 B row values.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::log::{
    AppendTicket, EmbeddedLog, FsyncPolicy, LogConfig, LogStore, PartitionId, Record,
    StartPosition, StoredRecord, TopicLog,
};
use support::RowGen;

/// Records per append: what the inserts-stream endpoint hands the log at most
/// (`INSERT_BATCH_ROWS_MAX`).
const BATCH_RECORDS: usize = 1024;

/// Batches appended before awaiting their tickets in the pipelined case: 16 × 1,024 is one
/// full commit batch (`COMMIT_BATCH_RECORDS_MAX`), so at most one fsync per 16 batches.
const PIPELINED_BATCHES: usize = 16;

/// Records pre-loaded for the cursor bench (~10 MB, comfortably in the page cache).
const READ_RECORDS: usize = 100_000;

/// Records per `PartitionCursor::read` call (as a query's scan asks for).
const READ_CHUNK_RECORDS: usize = 1024;

const PARTITION: PartitionId = PartitionId(0);

fn batch() -> Vec<Record> {
    RowGen::new()
        .values(BATCH_RECORDS)
        .into_iter()
        .enumerate()
        .map(|(i, value)| Record {
            key: None,
            value: Some(value),
            timestamp_ms: 1_700_000_000_000 + i as i64,
            headers: Vec::new(),
        })
        .collect()
}

fn batch_bytes(batch: &[Record]) -> u64 {
    batch
        .iter()
        .map(|r| r.value.as_ref().map_or(0, |v| v.len()) as u64)
        .sum()
}

fn open_topic(dir: &std::path::Path, fsync: FsyncPolicy) -> (Arc<EmbeddedLog>, Arc<dyn TopicLog>) {
    let log = EmbeddedLog::open(
        dir,
        LogConfig {
            fsync,
            ..LogConfig::default()
        },
    )
    .expect("log opens");
    let topic = log.create_topic("bench", 1).expect("topic");
    (log, topic)
}

async fn ticket_offset(ticket: AppendTicket) {
    ticket.await.expect("writer alive").expect("append durable");
}

fn append(c: &mut Criterion) {
    let rt = support::runtime();
    let records = batch();
    let mut group = c.benchmark_group("log_append/append_1024");
    for (policy_name, fsync) in [
        ("fsync_never", FsyncPolicy::Never),
        ("fsync_always", FsyncPolicy::Always),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_log, topic) = open_topic(dir.path(), fsync);
        for in_flight in [1, PIPELINED_BATCHES] {
            group.throughput(Throughput::Elements((BATCH_RECORDS * in_flight) as u64));
            let id = BenchmarkId::new(policy_name, format!("{in_flight}_in_flight"));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        let mut tickets = Vec::with_capacity(in_flight);
                        for _ in 0..iters {
                            for _ in 0..in_flight {
                                // Cloning 1,024 records is refcount bumps on shared `Bytes`.
                                let ticket = topic
                                    .append(PARTITION, records.clone())
                                    .await
                                    .expect("queued");
                                tickets.push(ticket);
                            }
                            for t in tickets.drain(..) {
                                ticket_offset(t).await;
                            }
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    group.finish();
    println!(
        "log_append: {} value bytes per 1,024-record batch",
        batch_bytes(&records)
    );
}

fn cursor_read(c: &mut Criterion) {
    let rt = support::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let (_log, topic) = open_topic(dir.path(), FsyncPolicy::Never);
    let records = batch();
    rt.block_on(async {
        for _ in 0..READ_RECORDS / BATCH_RECORDS {
            let t = topic
                .append(PARTITION, records.clone())
                .await
                .expect("queued");
            ticket_offset(t).await;
        }
    });
    let total = (READ_RECORDS / BATCH_RECORDS * BATCH_RECORDS) as u64;
    let mut group = c.benchmark_group("log_append/cursor_read");
    group.throughput(Throughput::Elements(total));
    let mut out: Vec<StoredRecord> = Vec::with_capacity(READ_CHUNK_RECORDS);
    group.bench_function("earliest_to_end", |b| {
        b.iter(|| {
            let mut cursor = topic
                .cursor(PARTITION, StartPosition::Earliest)
                .expect("cursor");
            let mut read = 0;
            loop {
                out.clear();
                let n = cursor.read(&mut out, READ_CHUNK_RECORDS).expect("read");
                if n == 0 {
                    break;
                }
                read += n as u64;
                black_box(&out);
            }
            assert_eq!(read, total);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = append, cursor_read
}
criterion_main!(benches);
