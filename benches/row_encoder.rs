// Expected: ResultEncoder ~5 M rows/s for every format (~200 ns per row) — six values written
// straight into one reused Vec (itoa-style integers, a Java-style shortest double, escaped
// strings); the formats differ only by a few framing bytes per row, so they should be within
// ~10% of each other. decode_value ~2 M rows/s — one sonic-rs pass over the ~100 B stored
// value, a field-name match per column and two String allocations per row.
// Measured (short run, 2 cores shared with other builds, load avg ~11, so ±50%):
// delimited 2.0 M rows/s (60 B/row), JSON array 1.9 M (60 B/row), v1+json 1.74 M (81 B/row);
// decode_value 0.35 M rows/s — as fast as decode_insert_row measured under the same load,
// slower than expected: a UTF-8 check, a depth scan, a validating LazyValue parse, then a
// second pass with the object iterator, and a 6 × 6 name match (exact then `upper_eq`) per
// row, plus a LazyValue clone per matched field.
//
// Stage: `protocol/query/result_encoder` (the query path's row encoder, three response
// formats) and `engine/format/json_value::decode_value` (the read side's decode of a stored
// record value), over 1,024 seeded rows.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::format::insert_row::decode_insert_row;
use sluice_engine::format::json_value::decode_value;
use sluice_engine::types::{Column, Value};
use sluice_protocol::ksqldb::media_type::ResultFormat;
use sluice_protocol::ksqldb::query::result_encoder::ResultEncoder;
use support::{schema, Keying, RowGen};

const ROWS: usize = 1024;

/// Seeded rows as stored record values, and the same rows decoded to values.
fn rows() -> (Vec<bytes::Bytes>, Vec<Vec<Value>>) {
    let stored = RowGen::new().values(ROWS);
    let schema = schema(Keying::Keyless);
    let decoded = stored
        .iter()
        .map(|v| decode_insert_row(v, &schema).expect("row decodes").values)
        .collect();
    (stored, decoded)
}

fn encode(c: &mut Criterion) {
    let (_, decoded) = rows();
    let mut group = c.benchmark_group("row_encoder/result_encoder");
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut out = Vec::with_capacity(256 * ROWS);
    for (name, format) in [
        ("delimited", ResultFormat::Delimited),
        ("json_array", ResultFormat::JsonArray),
        ("ksql_v1_json", ResultFormat::KsqlV1Json),
    ] {
        // Push encoding, as `/query-stream` with EMIT CHANGES uses.
        let encoder = ResultEncoder::new(format, true);
        out.clear();
        for row in &decoded {
            encoder.row(row, &mut out);
        }
        println!("row_encoder: {name} writes {} B per row", out.len() / ROWS);
        group.bench_with_input(BenchmarkId::from_parameter(name), &decoded, |b, rows| {
            b.iter(|| {
                out.clear();
                for row in rows {
                    encoder.row(black_box(row), &mut out);
                }
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let (stored, _) = rows();
    let columns: Vec<Column> = schema(Keying::Keyless).columns;
    let mut group = c.benchmark_group("row_encoder/decode_value");
    group.throughput(Throughput::Elements(ROWS as u64));
    let mut out = Vec::with_capacity(columns.len());
    group.bench_function("stored_json_value", |b| {
        b.iter(|| {
            for value in &stored {
                out.clear();
                decode_value(black_box(value), &columns, &mut out).expect("value decodes");
                black_box(&out);
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
    targets = encode, decode
}
criterion_main!(benches);
