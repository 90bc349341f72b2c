// Expected: LineSplitter ≥ 3 GiB/s — memchr's SIMD search for `\n` and a refcount bump per
// line, no copy except for lines straddling a DATA frame. decode_insert_row ~1 M rows/s
// (~1 µs per ~100 B row) — a UTF-8 check and a nesting-depth scan, one sonic-rs validating
// pass, name lookup per field, and three small allocations per row (slots, values, USER/REGION
// strings). canonical_check (the fast path the endpoint tries first) ≥ 5 M rows/s: one byte
// scan, no allocation, names compared exactly; keyed_by_id ≥ 4 M rows/s: the same scan, the
// key's digits decoded, and one copy of the line without the key field.
// Measured (2026-11-21, 2 cores shared with other builds, load avg ~7, so ±50%):
// LineSplitter 3.7 GiB/s one chunk, 5.8 GiB/s in 16 KiB frames (was 1.9 GiB/s with a
// byte-at-a-time scan); decode_insert_row 0.66 M rows/s canonical, 0.71 M lower-case names,
// 0.84 M keyed; canonical_check 6.5 M rows/s; split+decode 0.66 M rows/s, split+fast path
// 4.9 M rows/s. Keyed (2026-11-22, load avg ~3): decode_insert_row keyed_by_id 1.30 M
// rows/s, canonical_check keyed_by_id 6.5 M rows/s (canonical 8.1 M in the same run).
// Under perf, decode time goes to sonic's object iterator (~21%), malloc/free
// of the per-row Vecs and Strings (~18%), moving the LazyValue slots around, and
// find_column's case-insensitive name compare (`upper_eq`, ~6%) — all of which the fast
// path skips.
//
// Stage: `protocol/ingest/line_splitter` + `engine/format/insert_row` (the ingest path's row
// decoder), over a 64 KiB chunk of seeded rows.

mod support;

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::format::canonical_row::RowEncoder;
use sluice_engine::format::insert_row::decode_insert_row;
use sluice_engine::format::ValueWrapping;
use sluice_protocol::framing::line_splitter::LineSplitter;
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
        ("canonical", RowStyle::Canonical, Keying::Keyless),
        (
            "lower_case_names",
            RowStyle::LowerCaseNames,
            Keying::Keyless,
        ),
        ("keyed_by_id", RowStyle::Canonical, Keying::KeyedById),
        ("producer", RowStyle::Producer, Keying::Keyless),
        (
            "producer_keyed_by_id",
            RowStyle::Producer,
            Keying::KeyedById,
        ),
    ];
    for (name, style, keying) in cases {
        let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, style));
        let mut lines = Vec::new();
        split(std::slice::from_ref(&chunk), &mut lines);
        let schema = schema(keying);
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

/// The fast path the endpoint tries first: one pass from the line to its stored record
/// value (and key values), for exact and lower-case names, keyless and keyed.
fn fast_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("row_decoder/fast_path");
    let cases = [
        ("canonical", RowStyle::Canonical, Keying::Keyless),
        (
            "lower_case_names",
            RowStyle::LowerCaseNames,
            Keying::Keyless,
        ),
        ("keyed_by_id", RowStyle::Canonical, Keying::KeyedById),
        ("producer", RowStyle::Producer, Keying::Keyless),
        (
            "producer_keyed_by_id",
            RowStyle::Producer,
            Keying::KeyedById,
        ),
    ];
    for (name, style, keying) in cases {
        let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, style));
        let mut lines = Vec::new();
        split(std::slice::from_ref(&chunk), &mut lines);
        let mut encoder = RowEncoder::new(&schema(keying), ValueWrapping::Wrapped, None);
        assert!(
            lines.iter().all(|l| encoder.encode(l).is_some()),
            "bench rows are valid"
        );
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &lines, |b, lines| {
            b.iter(|| {
                for line in lines {
                    black_box(encoder.encode(black_box(line)).expect("valid row"));
                }
            })
        });
    }
    group.finish();
}

/// The whole stage as the endpoint runs it: split a 64 KiB read into lines, decode each.
fn split_and_decode(c: &mut Criterion) {
    let chunk = Bytes::from(RowGen::new().chunk(CHUNK_BYTES, RowStyle::Producer));
    let schema = schema(Keying::Keyless);
    let rows = support::count_lines(&chunk);
    let mut group = c.benchmark_group("row_decoder/split_and_decode");
    group.throughput(Throughput::Elements(rows));
    let mut lines = Vec::with_capacity(rows as usize);
    group.bench_function("producer_64KiB_chunk", |b| {
        b.iter(|| {
            lines.clear();
            split(std::slice::from_ref(black_box(&chunk)), &mut lines);
            for line in &lines {
                black_box(decode_insert_row(line, &schema).expect("row decodes"));
            }
        })
    });
    let mut encoder = RowEncoder::new(&schema, ValueWrapping::Wrapped, None);
    group.bench_function("producer_64KiB_chunk_fast_path", |b| {
        b.iter(|| {
            lines.clear();
            split(std::slice::from_ref(black_box(&chunk)), &mut lines);
            for line in &lines {
                black_box(encoder.encode(line).expect("valid row"));
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
    targets = line_splitter, decode, fast_path, split_and_decode
}
criterion_main!(benches);
