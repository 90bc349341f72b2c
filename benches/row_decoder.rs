// Expected: LineSplitter ~1.5 GiB/s — one byte-at-a-time scan for `\n` (no SIMD memchr) and a
// refcount bump per line, no copy except for lines straddling a DATA frame. decode_insert_row
// ~2.5 M rows/s (~400 ns per ~100 B row) — a UTF-8 check and a nesting-depth scan, one
// sonic-rs validating pass, name lookup per field, and three small allocations per row (slots,
// values, USER/REGION strings); lower-case names and the keyed schema cost a little more for
// identifier normalisation, not another pass.
// Measured (short run, 2 cores shared with other builds, load avg 4–13, so ±50%):
// LineSplitter 1.9 GiB/s (whole 64 KiB chunk and 16 KiB frames alike: carries are rare);
// decode_insert_row 1.05 M rows/s canonical, 1.08 M lower-case names, 1.06 M keyed at load 4
// (0.35 M at load 13); split+decode 0.73 M rows/s. Under perf, decode time goes to sonic's
// object iterator (~21%), malloc/free of the per-row Vecs and Strings (~18%), moving the
// LazyValue slots around, and find_column's case-insensitive name compare (`upper_eq`, ~6%).
//
// Stage: `protocol/ingest/line_splitter` + `engine/format/insert_row` (the ingest path's row
// decoder), over a 64 KiB chunk of seeded rows.

mod support;

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::format::insert_row::decode_insert_row;
use sluice_protocol::ingest::line_splitter::LineSplitter;
use sluice_protocol::limits::ROW_BYTES_MAX;
use support::{schema, Keying, RowGen, RowStyle};

/// One HTTP/2 read's worth of rows (whole lines).
const CHUNK_BYTES: usize = 64 * 1024;

/// HTTP/2's default `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2): how a client's body
/// usually arrives, cutting rows at arbitrary bytes.
const DATA_FRAME_BYTES: usize = 16 * 1024;

fn split(chunks: &[Bytes], out: &mut Vec<Bytes>) {
    let mut splitter = LineSplitter::new(ROW_BYTES_MAX);
    for c in chunks {
        splitter.push(c.clone(), out).expect("rows fit");
    }
    splitter.finish(out);
}

fn line_splitter(c: &mut Criterion) {
    let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, RowStyle::Canonical));
    let frames: Vec<Bytes> = (0..chunk.len())
        .step_by(DATA_FRAME_BYTES)
        .map(|at| chunk.slice(at..(at + DATA_FRAME_BYTES).min(chunk.len())))
        .collect();
    let rows = support::count_lines(&chunk) as usize;

    let mut group = c.benchmark_group("row_decoder/line_splitter");
    group.throughput(Throughput::Bytes(chunk.len() as u64));
    let mut out = Vec::with_capacity(rows);
    for (name, input) in [
        ("one_64KiB_chunk", std::slice::from_ref(&chunk)),
        ("16KiB_data_frames", frames.as_slice()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                split(black_box(input), &mut out);
                assert_eq!(out.len(), rows);
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("row_decoder/decode_insert_row");
    let cases = [
        ("canonical", RowStyle::Canonical, Keying::Keyless, true),
        (
            "lower_case_names",
            RowStyle::LowerCaseNames,
            Keying::Keyless,
            false,
        ),
        ("keyed_by_id", RowStyle::Canonical, Keying::KeyedById, false),
    ];
    for (name, style, keying, canonical) in cases {
        let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, style));
        let mut lines = Vec::new();
        split(std::slice::from_ref(&chunk), &mut lines);
        let schema = schema(keying);
        // The case measures the path it names: check once, outside the timed loop.
        for line in &lines {
            let row = decode_insert_row(line, &schema).expect("row decodes");
            assert_eq!(row.value_is_canonical, canonical, "{name}");
        }
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &lines, |b, lines| {
            b.iter(|| {
                for line in lines {
                    black_box(decode_insert_row(black_box(line), &schema).expect("row decodes"));
                }
            })
        });
    }
    group.finish();
}

/// The whole stage as the endpoint runs it: split a 64 KiB read into lines, decode each.
fn split_and_decode(c: &mut Criterion) {
    let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, RowStyle::Canonical));
    let schema = schema(Keying::Keyless);
    let rows = support::count_lines(&chunk);
    let mut group = c.benchmark_group("row_decoder/split_and_decode");
    group.throughput(Throughput::Elements(rows));
    let mut lines = Vec::with_capacity(rows as usize);
    group.bench_function("canonical_64KiB_chunk", |b| {
        b.iter(|| {
            lines.clear();
            split(std::slice::from_ref(black_box(&chunk)), &mut lines);
            for line in &lines {
                black_box(decode_insert_row(line, &schema).expect("row decodes"));
            }
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = line_splitter, decode, split_and_decode
}
criterion_main!(benches);
