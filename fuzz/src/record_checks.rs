//! What the fuzz targets over stored data check: the ingest row decoder and each of its fast
//! paths, the key formats, and the embedded log's record and segment reader. Like
//! `checks.rs`, each `pub fn` is one target, called by a one-line file in `fuzz_targets/`
//! and replayed over kept inputs by `tests/fuzz_regressions.rs` in a normal `cargo test`.
//!
//! Each fast path is held to the general decoder it short-cuts (the model), and each codec
//! to its own round trip; none of them may panic on any input.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use bytes::Bytes;
use sluice_engine::format::canonical_row::RowEncoder;
use sluice_engine::format::insert_row::decode_insert_row;
use sluice_engine::format::json_value::{decode_value, decode_value_general, encode_row_value};
use sluice_engine::format::key::{decode_key, encode_key};
use sluice_engine::format::{KeyFormat, ValueWrapping};
use sluice_engine::log::fuzzing::{
    decode_record, encode_record, encoded_len, scan_segment, RecordFrame, SegmentStop,
};
use sluice_engine::log::{partition_for_key, Offset, Record};
use sluice_engine::sql::parse_type;
use sluice_engine::types::{Column, ColumnKind, Schema, Value};

// ---- row decoder ----------------------------------------------------------------------------

/// The schemas rows are decoded against: `(key format, [(name, type, is key)])`. They cover
/// keyless and keyed rows (each key type, in `KAFKA` and `JSON`, two keys, and three in
/// `DELIMITED`), and the columns whose stored spelling differs most from what producers
/// send (DECIMAL, temporal, nested, BYTES, quoted lower-case names).
const ROW_SCHEMAS: &[(KeyFormat, &[ColumnSpec])] = &[
    (
        KeyFormat::Kafka,
        &[
            ("A", "BOOLEAN", false),
            ("B", "INTEGER", false),
            ("C", "BIGINT", false),
            ("D", "DOUBLE", false),
            ("E", "STRING", false),
        ],
    ),
    (
        KeyFormat::Kafka,
        &[
            ("A", "DECIMAL(4, 2)", false),
            ("B", "TIMESTAMP", false),
            ("C", "ARRAY<INTEGER>", false),
            ("D", "MAP<STRING, DOUBLE>", false),
            ("E", "STRUCT<X INTEGER, `y` STRING>", false),
            ("e", "STRING", false),
            ("F", "BYTES", false),
            ("G", "DATE", false),
            ("H", "TIME", false),
        ],
    ),
    (
        KeyFormat::Kafka,
        &[
            ("K", "STRING", true),
            ("A", "INTEGER", false),
            ("B", "STRING", false),
        ],
    ),
    (
        KeyFormat::Kafka,
        &[
            ("A", "DOUBLE", false),
            ("K", "INTEGER", true),
            ("B", "BIGINT", false),
        ],
    ),
    (
        KeyFormat::Kafka,
        &[("K", "BIGINT", true), ("A", "STRING", false)],
    ),
    (
        KeyFormat::Kafka,
        &[("K", "DOUBLE", true), ("A", "BOOLEAN", false)],
    ),
    (
        KeyFormat::Json,
        &[
            ("K", "BOOLEAN", true),
            ("A", "INTEGER", false),
            ("B", "STRING", false),
        ],
    ),
    (
        KeyFormat::Json,
        &[("K", "STRING", true), ("A", "DOUBLE", false)],
    ),
    (
        KeyFormat::Json,
        &[
            ("K1", "INTEGER", true),
            ("K2", "STRING", true),
            ("A", "STRING", false),
        ],
    ),
    (
        KeyFormat::Delimited(b','),
        &[
            ("K1", "INTEGER", true),
            ("K2", "STRING", true),
            ("K3", "DECIMAL(4, 2)", true),
            ("A", "STRING", false),
        ],
    ),
    (
        KeyFormat::Json,
        &[
            ("K", "STRUCT<X INTEGER>", true),
            ("A", "ARRAY<STRING>", false),
        ],
    ),
];

/// A column of a fuzz schema: name, SQL type, and whether it is a key column.
type ColumnSpec = (&'static str, &'static str, bool);

fn schema_of(columns: &[ColumnSpec]) -> Schema {
    Schema::new(
        columns
            .iter()
            .map(|(name, ty, key)| {
                let ty = parse_type(ty).expect("the fuzz schemas' types parse");
                let kind = if *key {
                    ColumnKind::Key
                } else {
                    ColumnKind::Value
                };
                Column::new(*name, ty, kind)
            })
            .collect(),
    )
}

/// The `/inserts-stream` row decoder: its one fast path (`RowEncoder`, every valid row to
/// ksqlDB's stored bytes) and the full decoder (`decode_insert_row`, the model), and the
/// stored-value decoder (`decode_value`) with its flat-scan fast path. Input: a schema
/// selector byte, then one line.
///
/// - the fast path takes exactly the lines the full decoder accepts; for those its key
///   values are the full decoder's and its value bytes the canonical encoder's;
/// - every accepted row's value and key re-encode and decode to the same values;
/// - `decode_value` (fast path) and `decode_value_general` agree on every input.
pub fn row_decoder(data: &[u8]) {
    let Some((&selector, line)) = data.split_first() else {
        return;
    };
    let (key_format, columns) = ROW_SCHEMAS[usize::from(selector) % ROW_SCHEMAS.len()];
    let schema = schema_of(columns);
    let value_columns: Vec<&Column> = schema
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Value)
        .collect();
    let key_columns: Vec<&Column> = schema
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Key)
        .collect();
    let values_of = |values: &[Value], kind: ColumnKind| -> Vec<Value> {
        schema
            .columns
            .iter()
            .zip(values)
            .filter(|(c, _)| c.kind == kind)
            .map(|(_, v)| v.clone())
            .collect()
    };

    // The stored-value reader: fast path and general path agree, on any bytes.
    let mut fast = Vec::new();
    let mut general = Vec::new();
    let fast_result = decode_value(line, &value_columns, &mut fast);
    let general_result = decode_value_general(line, &value_columns, &mut general);
    match (&fast_result, &general_result) {
        (Ok(()), Ok(())) => assert_eq!(fast, general, "decode_value fast path differs"),
        (Err(f), Err(g)) => assert_eq!(f.message(), g.message()),
        _ => panic!("decode_value fast path {fast_result:?} but general path {general_result:?}"),
    }

    let decoded = decode_insert_row(line, &schema);
    let mut encoder = RowEncoder::new(&schema, ValueWrapping::Wrapped, None);
    let fast = encoder.encode(line);
    match (&fast, &decoded) {
        (Some(encoded), Ok(row)) => {
            assert_eq!(
                encoded.keys,
                values_of(&row.values, ColumnKind::Key).as_slice(),
                "the fast path read other keys"
            );
            let mut canonical = Vec::new();
            encode_row_value(&schema, &row.values, &mut canonical);
            assert_eq!(
                encoded.value.as_deref(),
                Some(canonical.as_slice()),
                "the fast path stored other bytes than the canonical encoder"
            );
        }
        (None, Err(_)) => {}
        (Some(_), Err(e)) => panic!("the fast path took a row the full decoder refuses: {e:?}"),
        (None, Ok(_)) => panic!("the fast path left a valid row to the full decoder"),
    }
    let Ok(row) = decoded else {
        return;
    };
    assert_eq!(row.values.len(), schema.columns.len());
    let row_values = values_of(&row.values, ColumnKind::Value);
    let mut encoded = Vec::new();
    encode_row_value(&schema, &row.values, &mut encoded);
    let mut stored = Vec::new();
    decode_value(&encoded, &value_columns, &mut stored).expect("an encoded row decodes");
    assert_eq!(
        stored, row_values,
        "a row's encoded value reads back differently"
    );
    let key_values = values_of(&row.values, ColumnKind::Key);
    assert_key_round_trip(key_format, &key_columns, &key_values);
}

/// `values` encode as a key and decode back to themselves.
fn assert_key_round_trip(format: KeyFormat, columns: &[&Column], values: &[Value]) {
    let bytes = encode_key(format, columns, values).expect("decoded key values encode");
    let mut back = Vec::new();
    decode_key(format, columns, bytes.as_deref(), &mut back).expect("an encoded key decodes");
    assert_eq!(back, values, "the key reads back differently");
}

// ---- key formats ----------------------------------------------------------------------------

/// Key column sets per format: every `KAFKA` primitive, and `JSON` keys of every shape.
const KEY_SCHEMAS: &[(KeyFormat, &[&str])] = &[
    (KeyFormat::Kafka, &["STRING"]),
    (KeyFormat::Kafka, &["INTEGER"]),
    (KeyFormat::Kafka, &["BIGINT"]),
    (KeyFormat::Kafka, &["DOUBLE"]),
    (KeyFormat::Json, &["STRING"]),
    (KeyFormat::Json, &["INTEGER"]),
    (KeyFormat::Json, &["BIGINT"]),
    (KeyFormat::Json, &["DOUBLE"]),
    (KeyFormat::Json, &["BOOLEAN"]),
    (KeyFormat::Json, &["DECIMAL(10, 3)"]),
    (KeyFormat::Json, &["TIMESTAMP"]),
    (KeyFormat::Json, &["BYTES"]),
    (KeyFormat::Json, &["ARRAY<INTEGER>"]),
    (KeyFormat::Json, &["MAP<STRING, BIGINT>"]),
    (KeyFormat::Json, &["STRUCT<A INTEGER, `b` STRING>"]),
    (KeyFormat::Json, &["INTEGER", "STRING"]),
    (KeyFormat::Json, &["DOUBLE", "STRUCT<X BOOLEAN>", "DATE"]),
    (KeyFormat::None, &[]),
    (KeyFormat::Delimited(b','), &["STRING"]),
    (KeyFormat::Delimited(b','), &["DOUBLE"]),
    (KeyFormat::Delimited(b'|'), &["DECIMAL(10, 3)", "BYTES"]),
    (
        KeyFormat::Delimited(b' '),
        &["INTEGER", "STRING", "BOOLEAN", "TIMESTAMP"],
    ),
];

/// Record key bytes in the `KAFKA`, `JSON`, `DELIMITED` and `NONE` formats (`decode_key`,
/// `encode_key`) and Kafka's partitioner over them. Input: a selector byte, then the key
/// bytes.
///
/// Whatever decodes re-encodes to bytes that decode to the same values and re-encode to the
/// same bytes; a `KAFKA` key re-encodes to exactly the bytes read (a DOUBLE's NaN payload
/// aside); every key's partition is in range.
pub fn key_formats(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (format, types) = KEY_SCHEMAS[usize::from(selector) % KEY_SCHEMAS.len()];
    let columns: Vec<Column> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            let ty = parse_type(ty).expect("the fuzz key types parse");
            Column::new(format!("K{i}"), ty, ColumnKind::Key)
        })
        .collect();
    let partitions = u32::from(selector % 64) + 1;
    assert!(partition_for_key(bytes, partitions).0 < partitions);

    let mut values = Vec::new();
    if decode_key(format, &columns, Some(bytes), &mut values).is_err() {
        return;
    }
    assert_eq!(values.len(), columns.len());
    let encoded = encode_key(format, &columns, &values).expect("decoded key values encode");
    let mut again = Vec::new();
    decode_key(format, &columns, encoded.as_deref(), &mut again).expect("an encoded key decodes");
    let reencoded = encode_key(format, &columns, &again).expect("decoded key values encode");
    assert_eq!(encoded, reencoded, "key encoding is not a fixpoint");
    // NaN is the one value not equal to itself, and its payload bits are not kept.
    let nan = values.iter().any(is_nan);
    if !nan {
        assert_eq!(again, values, "the key reads back differently");
    }
    if format == KeyFormat::Kafka && !nan {
        assert_eq!(
            encoded.as_deref(),
            Some(bytes),
            "a KAFKA key re-encodes differently"
        );
    }
}

fn is_nan(value: &Value) -> bool {
    matches!(value, Value::Double(d) if d.is_nan())
}

// ---- log records and segments ---------------------------------------------------------------

/// Records in one generated segment, at most.
const SEGMENT_RECORDS_MAX: usize = 24;

/// Damage applied to one generated segment, at most (flipped bytes).
const SEGMENT_FLIPS_MAX: usize = 3;

/// The embedded log's record framing (`record::decode`, `record::encode`) and its recovery
/// scan (`segment::scan`).
///
/// The input's bytes are first decoded as a frame: a whole valid frame re-encodes to exactly
/// its bytes. Then they are read as a recipe for a segment (records, flipped bytes, a cut,
/// the recovery point) and the segment is written to a file and scanned as recovery scans:
/// - an undamaged segment scans clean to its end with every offset;
/// - a segment cut short keeps exactly the whole records before the cut;
/// - whatever the damage, records before the first damaged byte are kept as written, and
///   every offset the scan passes is either read or reported damaged (never reused);
/// - damage in one record that is not the last, all of it trusted, loses no offset.
pub fn log_reader(data: &[u8]) {
    raw_frame(data);
    let mut recipe = Recipe(data);
    let base = Offset(u64::from(recipe.byte()) * 1000);
    let trusted_fraction = recipe.byte();
    let record_count = usize::from(recipe.byte()) % (SEGMENT_RECORDS_MAX + 1);
    let records: Vec<Record> = (0..record_count).map(|i| recipe.record(i)).collect();

    let mut file_bytes = Vec::new();
    let mut ranges = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let start = file_bytes.len() as u64;
        encode_record(Offset(base.0 + i as u64), record, &mut file_bytes);
        assert_eq!(file_bytes.len() as u64 - start, encoded_len(record) as u64);
        ranges.push(start..file_bytes.len() as u64);
    }
    let flips: Vec<(u64, u8)> = (0..usize::from(recipe.byte()) % (SEGMENT_FLIPS_MAX + 1))
        .filter_map(|_| {
            let at = u64::from(recipe.u16());
            let xor = recipe.byte();
            (xor != 0 && (at as usize) < file_bytes.len()).then_some((at, xor))
        })
        .collect();
    let written = file_bytes.clone();
    for &(at, xor) in &flips {
        file_bytes[at as usize] ^= xor;
    }
    // Two flips of one byte can cancel out: damage is where the bytes now differ.
    let flips: Vec<u64> = (0..written.len())
        .filter(|&at| written[at] != file_bytes[at])
        .map(|at| at as u64)
        .collect();
    let cut = recipe.u16();
    let file_len = if cut != u16::MAX && usize::from(cut) < file_bytes.len() {
        u64::from(cut)
    } else {
        file_bytes.len() as u64
    };
    file_bytes.truncate(file_len as usize);
    let trusted_until = file_len * u64::from(trusted_fraction) / 255;

    let file = scratch_segment(&file_bytes);
    let scan = scan_segment(&file, file_len, base, trusted_until).expect("a scan reads its file");

    // Records before the first damaged byte are intact.
    let first_damage = flips
        .iter()
        .copied()
        .chain((file_len < encoded_total(&ranges)).then_some(file_len))
        .min();
    let intact = ranges
        .iter()
        .take_while(|r| first_damage.is_none_or(|at| r.end <= at))
        .count();
    let intact_end = intact.checked_sub(1).map_or(0, |i| ranges[i].end);

    assert!(scan.valid_bytes <= file_len);
    assert!(
        scan.valid_bytes >= intact_end,
        "intact records were cut: {scan:?}"
    );
    assert!(scan.next_offset.0 >= base.0 + intact as u64);
    let read = walk(&file_bytes, base, &scan);
    for (i, record) in records.iter().enumerate().take(intact) {
        assert_eq!(
            read.get(i),
            Some(&(Offset(base.0 + i as u64), record.clone()))
        );
    }

    if first_damage.is_none() {
        assert_eq!(scan.stop, SegmentStop::Clean);
        assert_eq!(scan.valid_bytes, file_len);
        assert_eq!(scan.next_offset.0, base.0 + records.len() as u64);
        assert!(scan.damage.is_empty());
    } else if flips.is_empty() && trusted_until <= intact_end {
        // A torn tail: cut at the last whole record, nothing reported.
        assert_eq!(scan.valid_bytes, intact_end, "{scan:?}");
        assert_eq!(scan.next_offset.0, base.0 + intact as u64);
        assert!(scan.damage.is_empty());
        let expected = if file_len == intact_end {
            SegmentStop::Clean
        } else {
            SegmentStop::Torn
        };
        assert_eq!(scan.stop, expected);
    } else if file_len == encoded_total(&ranges) && trusted_until == file_len {
        let hit: Vec<usize> = (0..records.len())
            .filter(|&i| flips.iter().any(|at| ranges[i].contains(at)))
            .collect();
        if let [only] = hit[..] {
            if only + 1 < records.len() {
                assert_eq!(scan.stop, SegmentStop::Clean, "{scan:?}");
                assert_eq!(
                    scan.next_offset.0,
                    base.0 + records.len() as u64,
                    "{scan:?}"
                );
                assert!(!scan.damage.is_empty());
            }
        }
    }
}

/// A whole valid frame re-encodes to exactly its bytes; `NeedMore` only when the bytes end
/// before the frame their length field announces.
fn raw_frame(data: &[u8]) {
    let buf = Bytes::copy_from_slice(data);
    match decode_record(&buf) {
        RecordFrame::Record {
            offset,
            record,
            frame_bytes,
        } => {
            assert!(frame_bytes <= data.len());
            let mut again = Vec::new();
            encode_record(offset, &record, &mut again);
            assert_eq!(again, data[..frame_bytes], "a frame re-encodes differently");
        }
        RecordFrame::NeedMore => {
            if let Some(length) = data.get(..4) {
                let length = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
                assert!(
                    data.len() < length + 4,
                    "NeedMore with the whole frame present"
                );
            }
        }
        RecordFrame::Corrupt(_) => {}
    }
}

fn encoded_total(ranges: &[std::ops::Range<u64>]) -> u64 {
    ranges.last().map_or(0, |r| r.end)
}

/// Reads the scanned part of a segment as a reader after recovery would: records from the
/// start, jumping over each reported damaged range. Every offset up to the scan's next
/// offset must be read or reported, in order.
fn walk(
    file: &[u8],
    base: Offset,
    scan: &sluice_engine::log::fuzzing::SegmentScan,
) -> Vec<(Offset, Record)> {
    let bytes = Bytes::copy_from_slice(file);
    let mut damage = scan.damage.iter().peekable();
    let (mut at, mut expected) = (0u64, base);
    let mut read = Vec::new();
    while at < scan.valid_bytes {
        if let Some(&&(start, end, from, to)) = damage.peek() {
            if from == at {
                assert_eq!(
                    start, expected,
                    "damage reported at the wrong offset: {scan:?}"
                );
                assert!(
                    end > start && to > from && to <= scan.valid_bytes,
                    "{scan:?}"
                );
                (at, expected) = (to, end);
                damage.next();
                continue;
            }
        }
        match decode_record(&bytes.slice(at as usize..scan.valid_bytes as usize)) {
            RecordFrame::Record {
                offset,
                record,
                frame_bytes,
            } => {
                assert_eq!(offset, expected, "offsets are not contiguous: {scan:?}");
                read.push((offset, record));
                at += frame_bytes as u64;
                expected = Offset(offset.0 + 1);
            }
            other => panic!("byte {at} below the scan's end is not a record ({other:?}): {scan:?}"),
        }
    }
    assert_eq!(
        at, scan.valid_bytes,
        "the scan ends inside a record: {scan:?}"
    );
    assert!(
        damage.next().is_none(),
        "damage past the scan's end: {scan:?}"
    );
    assert_eq!(expected, scan.next_offset, "{scan:?}");
    read
}

/// A scratch segment file holding `bytes` (the scan reads a `File`). Its name is unlinked
/// at once: the open handle keeps the file, and nothing is left behind in the temp dir.
fn scratch_segment(bytes: &[u8]) -> File {
    let path: PathBuf =
        std::env::temp_dir().join(format!("sluice-fuzz-segment-{}.log", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("the scratch segment opens");
    std::fs::remove_file(&path).expect("the scratch segment's name is removed");
    file.write_all_at(bytes, 0)
        .expect("the scratch segment is written");
    file
}

/// Reads a segment recipe from fuzz bytes; past their end it reads zeros.
struct Recipe<'a>(&'a [u8]);

impl Recipe<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let take = len.min(self.0.len());
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        head.to_vec()
    }

    /// A record shaped like the ones Sluice writes: a key of at most 8 bytes (a `KAFKA`
    /// primitive), a value with no NUL byte (JSON text has none), a wall-clock timestamp,
    /// and up to two headers. The timestamp and the NUL-free value keep records from
    /// containing the bytes of another valid frame, which recovery cannot tell from a real
    /// one (it is why it tries the damaged frame's own length first).
    fn record(&mut self, i: usize) -> Record {
        let shape = self.byte();
        let key = (shape & 1 != 0).then(|| {
            let len = usize::from(self.byte() % 9);
            Bytes::from(self.bytes(len))
        });
        let value = (shape & 2 != 0).then(|| {
            let len = usize::from(self.byte());
            Bytes::from(nul_free(self.bytes(len)))
        });
        let headers = (0..(shape >> 2) % 3)
            .map(|_| {
                let len = usize::from(self.byte() % 16);
                let name = String::from_utf8_lossy(&nul_free(self.bytes(len))).into_owned();
                let len = usize::from(self.byte() % 16);
                (name, Some(Bytes::from(nul_free(self.bytes(len)))))
            })
            .collect();
        Record {
            key,
            value,
            timestamp_ms: 1_700_000_000_000 + i as i64,
            headers,
        }
    }
}

fn nul_free(mut bytes: Vec<u8>) -> Vec<u8> {
    for b in &mut bytes {
        if *b == 0 {
            *b = b' ';
        }
    }
    bytes
}
