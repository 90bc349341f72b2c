//! The seeded row generator: ~105 B JSON rows shaped like a real event stream, padded to the
//! requested size, each carrying its identity (`ID`) and its scheduled send time (`TS`).
//!
//! Field names are the stream's upper-case column names in column order and every value is
//! already in its stored form, so a keyless stream stores each row's bytes as they arrived
//! (zero-copy) — the ingest path the benchmark is meant to measure.

/// `,"PAD":""`: what padding costs before its first byte of filler. Shorter gaps are filled
/// with spaces before the closing brace (JSON whitespace, so the row stays canonical).
const PAD_OVERHEAD_BYTES: usize = 9;

/// Regions drawn for the `REGION` column (cloud-region-like strings of typical length).
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

/// The bench streams' columns, as the `CREATE STREAM` column list (without the key clause).
pub const VALUE_COLUMNS_SQL: &str =
    "TS BIGINT, USER STRING, REGION STRING, AMOUNT DOUBLE, OK BOOLEAN, PAD STRING";

/// Generates rows deterministically from a seed: the same seed, ids and times give the same
/// bytes, so two runs send identical data.
#[derive(Debug, Clone)]
pub struct RowGen {
    state: u64,
    row_bytes: usize,
}

impl RowGen {
    /// `row_bytes` is the length of one row, without its newline: rows are padded to it
    /// with a `PAD` column, or with spaces when the gap is too small for one. The natural
    /// row is 87–103 B for ids below 10 M and times below 100 s; a longer one is sent as is.
    pub fn new(seed: u64, row_bytes: usize) -> RowGen {
        RowGen {
            state: seed,
            row_bytes,
        }
    }

    /// SplitMix64: tiny, fast, and good enough for synthetic column values.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Appends one row and its newline to `out`. `ts_us` is the row's scheduled send time in
    /// µs since the run epoch; consumers read it back to measure end-to-end latency.
    pub fn write_row(&mut self, id: u64, ts_us: u64, out: &mut Vec<u8>) {
        use std::io::Write;
        let start = out.len();
        let r = self.next_u64();
        let user = r % 1_000_000;
        let region = REGIONS[((r >> 20) % REGIONS.len() as u64) as usize];
        // 1000.00..=9999.99: a fixed-width amount keeps row lengths steady.
        let cents = 100_000 + (r >> 32) % 900_000;
        let ok = (r >> 60) & 1 == 0;
        write!(
            out,
            "{{\"ID\":{id},\"TS\":{ts_us},\"USER\":\"user_{user:06}\",\"REGION\":\"{region}\",\
             \"AMOUNT\":{}.{:02},\"OK\":{ok}",
            cents / 100,
            cents % 100
        )
        .expect("writing to a Vec cannot fail");
        // +1 for the closing brace still to come.
        let natural = out.len() - start + 1;
        let gap = self.row_bytes.saturating_sub(natural);
        if gap >= PAD_OVERHEAD_BYTES {
            out.extend_from_slice(b",\"PAD\":\"");
            out.resize(out.len() + gap - PAD_OVERHEAD_BYTES, b'x');
            out.push(b'"');
        } else {
            out.resize(out.len() + gap, b' ');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Reads `ID` and `TS` from a delimited push-query row (`[<id>,<ts>,...]`, the columns of
/// `SELECT *` in order) without parsing the rest: consumers run this once per row.
pub fn parse_id_ts(line: &[u8]) -> Option<(u64, u64)> {
    let rest = line.strip_prefix(b"[")?;
    let (id, rest) = leading_u64(rest)?;
    let rest = rest.strip_prefix(b",")?;
    let (ts, _) = leading_u64(rest)?;
    Some((id, ts))
}

fn leading_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in &bytes[..digits] {
        n = n * 10 + u64::from(b - b'0');
    }
    Some((n, &bytes[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(gen: &mut RowGen, id: u64, ts: u64) -> Vec<u8> {
        let mut out = Vec::new();
        gen.write_row(id, ts, &mut out);
        out
    }

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        let (mut a, mut b, mut c) = (
            RowGen::new(7, 105),
            RowGen::new(7, 105),
            RowGen::new(8, 105),
        );
        for i in 0..100 {
            let ra = row(&mut a, i, i * 10);
            assert_eq!(ra, row(&mut b, i, i * 10));
            assert_ne!(ra, row(&mut c, i, i * 10));
        }
    }

    #[test]
    fn rows_are_json_objects_with_the_stream_columns() {
        let mut gen = RowGen::new(1, 105);
        let line = row(&mut gen, 123, 1_700_000_000_001);
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        let names: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(names, ["ID", "TS", "USER", "REGION", "AMOUNT", "OK"]);
        assert_eq!(v["ID"], 123);
        assert_eq!(v["TS"], 1_700_000_000_001u64);
        assert!(v["USER"].as_str().expect("user").starts_with("user_"));
    }

    #[test]
    fn default_rows_are_105_bytes() {
        let mut gen = RowGen::new(42, 105);
        for i in 0..10_000u64 {
            // Ids and times of a 10 M-row, 100 s run.
            let line = row(&mut gen, i * 1_000, i * 10_000);
            assert_eq!(line.len() - 1, 105, "{}", String::from_utf8_lossy(&line));
            serde_json::from_slice::<serde_json::Value>(&line).expect("JSON");
        }
    }

    #[test]
    fn padding_reaches_the_requested_size_and_stays_valid_json() {
        for size in [115, 200, 1024, 16 * 1024] {
            let mut gen = RowGen::new(3, size);
            let line = row(&mut gen, 5, 6);
            assert_eq!(line.len() - 1, size);
            let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
            assert!(v["PAD"].as_str().expect("pad").bytes().all(|b| b == b'x'));
        }
        // Too small to pad: the natural row.
        let mut gen = RowGen::new(3, 10);
        let line = row(&mut gen, 5, 6);
        assert!(line.len() > 10 && !line.windows(5).any(|w| w == b"\"PAD\""));
    }

    /// The point of the row shape: a keyless bench stream stores the rows as sent.
    #[test]
    fn rows_are_canonical_for_the_bench_stream() {
        use sluice_engine::codec::decode_insert_row;
        use sluice_engine::types::{Column, ColumnKind, Schema, SqlType};
        let col = |name: &str, ty| Column::new(name, ty, ColumnKind::Value);
        let schema = Schema::new(vec![
            col("ID", SqlType::BigInt),
            col("TS", SqlType::BigInt),
            col("USER", SqlType::String),
            col("REGION", SqlType::String),
            col("AMOUNT", SqlType::Double),
            col("OK", SqlType::Boolean),
            col("PAD", SqlType::String),
        ]);
        for size in [0, 100, 105, 300] {
            let mut gen = RowGen::new(9, size);
            for i in 0..100 {
                let line = row(&mut gen, i, i * 7);
                let decoded = decode_insert_row(&line[..line.len() - 1], &schema).expect("decodes");
                assert!(
                    decoded.value_is_canonical,
                    "{}",
                    String::from_utf8_lossy(&line)
                );
            }
        }
    }

    #[test]
    fn parse_id_ts_reads_the_first_two_columns() {
        assert_eq!(parse_id_ts(b"[12,345,\"user_1\",null]"), Some((12, 345)));
        assert_eq!(parse_id_ts(b"[0,0]"), Some((0, 0)));
        assert_eq!(parse_id_ts(b"{\"queryId\":1}"), None);
        assert_eq!(parse_id_ts(b"[-1,2]"), None);
        assert_eq!(parse_id_ts(b"[1]"), None);
    }
}
