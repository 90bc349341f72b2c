// Expected: ~500 k rows/s with fsync never — the row decoder (~1 M rows/s/core on this host)
// plus key/partition/record building, the log append (~2 M/s) and ack encoding, spread over
// the endpoint's reader and ack-writer tasks and the partition writer thread, with HTTP/2
// framing on both sides of loopback, all on 2 shared cores. With fsync always: the endpoint
// keeps up to 64 batches of 1,024 rows in flight, so group commit amortises each fsync over
// many batches and it should stay within ~2× of never.
// Measured (short run, 2 cores shared with other builds, load avg ~13, so ±50%): fsync
// never 490 k rows/s, fsync always 235 k rows/s (~2× apart, as expected). Under perf:
// decode_insert_row and sonic ~25%, malloc/free ~6%, kernel copies into the page cache ~5%,
// LineSplitter ~4%; the rest is spread across HTTP/2, tokio and the log writer.
//
// Stage: end to end over loopback HTTP/2: `server/endpoint/inserts_stream` (frames_in →
// line_splitter → insert_row → ingest → log append → tickets → ack_encoder → frames_out),
// one request streaming N seeded rows as producers send them (mixed-case names, shuffled fields, a missing nullable) while the client reads every ack.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::FsyncPolicy;
use support::{BenchServer, Keying, RowGen, RowStyle};

/// Rows per request: ~2 MB of body, enough that the per-request setup (stream open,
/// target lookup) is under 1% of the time.
const ROWS: u64 = 20_000;

fn inserts_stream(c: &mut Criterion) {
    let rt = support::runtime();
    let rows = Bytes::from(RowGen::new().lines(ROWS as usize, RowStyle::Producer));
    let mut group = c.benchmark_group("inserts_stream");
    group.throughput(Throughput::Elements(ROWS));
    for (name, fsync) in [
        ("fsync_never", FsyncPolicy::Never),
        ("fsync_always", FsyncPolicy::Always),
    ] {
        let server = rt.block_on(async {
            let server = BenchServer::start(fsync).await;
            server
                .ksql_ok(&support::create_stream_sql(Keying::Keyless))
                .await;
            server
        });
        let mut client = rt.block_on(server.h2());
        group.bench_function(BenchmarkId::new("h2_one_request", name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        client.insert_rows(&rows, ROWS).await;
                    }
                    start.elapsed()
                })
            })
        });
        drop(client);
        rt.block_on(server.stop());
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
}

criterion_group! {
    name = benches;
    config = config();
    targets = inserts_stream
}
criterion_main!(benches);
