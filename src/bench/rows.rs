//! The seeded row generator: JSON rows shaped like what producers send, each carrying its
//! identity (`ID`) and its scheduled send time (`TS`).
//!
//! `--row-shape` picks the shape ([`RowShape`]), and the bench stream gets the columns that
//! shape uses ([`RowShape::value_columns_sql`]):
//!
//! | shape | rows | bytes |
//! |---|---|---|
//! | `exact` | the stream's upper-case column names in column order, every value already spelled as stored (the fast path's favourite, and the old default) | 87–105 |
//! | `lower` | lower-case names, amounts as a JSON library prints them (`1234.5`, `1234`) | ~95 |
//! | `shuffled` | `lower`, fields in a random order per row | ~95 |
//! | `sparse` | `lower` with nullable columns left out (each of the usual four 40% of the time) and rarely-set optional columns | ~70–130 |
//! | `nested` | `lower` plus a STRUCT, an ARRAY, a MAP and a DECIMAL column, struct fields in lower case | ~260 |
//! | `wide1k`, `wide4k` | `nested` plus a user-agent string and a log message filling the row to 1 KiB or 4 KiB | 1,024 / 4,096 |
//! | `mixed` (default) | per row: `lower` 30%, `shuffled` 20%, `sparse` 25%, `nested` 20%, `wide1k` 4%, `wide4k` 1% | ~200 mean |
//!
//! `mixed` is the default because it is what a stream of real events looks like: mostly
//! small rows written by different producers and libraries, now and then a big one. Its
//! stream has every column, so a small row also stores `null` for the columns it leaves out,
//! as ksqlDB would.
//!
//! `--row-bytes` pads each row to at least that many bytes with a `PAD` string column (or
//! spaces, when the gap is too small for a field); `exact` rows are padded to 105 bytes
//! unless told otherwise, as before.

use clap::ValueEnum;
use serde::Serialize;

/// `,"PAD":""`: what padding costs before its first byte of filler. Shorter gaps are filled
/// with spaces before the closing brace (JSON whitespace: the row stays valid).
const PAD_OVERHEAD_BYTES: usize = 9;

/// What `exact` rows are padded to when `--row-bytes` is not given: the size the bench has
/// always used, so figures stay comparable across versions.
pub const EXACT_ROW_BYTES_DEFAULT: usize = 105;

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

const DEVICES: [(&str, &str, &str); 4] = [
    ("ios", "17.2", "iPhone15,2"),
    ("android", "14", "Pixel 8"),
    ("macos", "14.1", "MacBookPro18,3"),
    ("windows", "11", "Surface Laptop 5"),
];

const TAGS: [&str; 6] = ["new", "mobile", "promo", "returning", "beta", "vip"];

const ATTRS: [(&str, &str); 6] = [
    ("plan", "pro"),
    ("ref", "email"),
    ("locale", "en-GB"),
    ("ab", "variant-b"),
    ("tz", "Europe/Berlin"),
    ("src", "app"),
];

const USER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                          (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

const WORDS: [&str; 12] = [
    "request", "served", "from", "cache", "after", "retry", "upstream", "latency", "ms", "user",
    "session", "checkout",
];

/// The shape of the generated rows (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowShape {
    Exact,
    Lower,
    Shuffled,
    Sparse,
    Nested,
    #[value(name = "wide1k")]
    Wide1k,
    #[value(name = "wide4k")]
    Wide4k,
    Mixed,
}

/// Column groups of the bench streams (after `ID`, which is `ID BIGINT [KEY]`).
const BASE_COLUMNS_SQL: &str =
    "TS BIGINT, USER STRING, REGION STRING, AMOUNT DOUBLE, OK BOOLEAN, PAD STRING";
const SPARSE_COLUMNS_SQL: &str = "COUPON STRING, REFERRER STRING, DISCOUNT DOUBLE, CAMPAIGN STRING";
const NESTED_COLUMNS_SQL: &str = "DEVICE STRUCT<OS STRING, VERSION STRING, MODEL STRING>, \
                                  TAGS ARRAY<STRING>, ATTRS MAP<STRING, STRING>, \
                                  PRICE DECIMAL(10, 2)";
const WIDE_COLUMNS_SQL: &str = "USER_AGENT STRING, MESSAGE STRING";

impl RowShape {
    /// The name `--row-shape` takes.
    pub fn name(self) -> &'static str {
        match self {
            RowShape::Exact => "exact",
            RowShape::Lower => "lower",
            RowShape::Shuffled => "shuffled",
            RowShape::Sparse => "sparse",
            RowShape::Nested => "nested",
            RowShape::Wide1k => "wide1k",
            RowShape::Wide4k => "wide4k",
            RowShape::Mixed => "mixed",
        }
    }

    /// The bench stream's value columns for rows of this shape, as the `CREATE STREAM`
    /// column list (without `ID`): the columns the shape's rows can name.
    pub fn value_columns_sql(self) -> String {
        let mut groups = vec![BASE_COLUMNS_SQL];
        if matches!(self, RowShape::Sparse | RowShape::Mixed) {
            groups.push(SPARSE_COLUMNS_SQL);
        }
        if matches!(
            self,
            RowShape::Nested | RowShape::Wide1k | RowShape::Wide4k | RowShape::Mixed
        ) {
            groups.push(NESTED_COLUMNS_SQL);
        }
        if matches!(self, RowShape::Wide1k | RowShape::Wide4k | RowShape::Mixed) {
            groups.push(WIDE_COLUMNS_SQL);
        }
        groups.join(", ")
    }
}

/// One row's shape once `mixed` has drawn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawn {
    Exact,
    Lower,
    Shuffled,
    Sparse,
    Nested,
    Wide(usize),
}

/// What a producer sends: row `id`, scheduled at `ts_us` (µs since the run epoch), appended
/// with its newline. `RowGen` writes the bench's rows; `sluice nexmark` writes Nexmark events
/// through the same producer.
pub trait RowSource: Send {
    fn write_row(&mut self, id: u64, ts_us: u64, out: &mut Vec<u8>);
}

impl RowSource for RowGen {
    fn write_row(&mut self, id: u64, ts_us: u64, out: &mut Vec<u8>) {
        RowGen::write_row(self, id, ts_us, out);
    }
}

/// Generates rows deterministically from a seed: the same seed, ids and times give the same
/// bytes, so two runs send identical data.
#[derive(Debug, Clone)]
pub struct RowGen {
    state: u64,
    shape: RowShape,
    /// Pad rows to at least this many bytes (without the newline).
    row_bytes: Option<usize>,
    /// A row's fields before they are put in order: `"name":value` texts.
    fields: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl RowGen {
    /// `row_bytes` pads rows to at least that length (without the newline); `None` keeps
    /// each shape's natural size (`exact`: 105 B, as the bench always sent).
    pub fn new(seed: u64, shape: RowShape, row_bytes: Option<usize>) -> RowGen {
        let row_bytes = match (shape, row_bytes) {
            (RowShape::Exact, None) => Some(EXACT_ROW_BYTES_DEFAULT),
            (_, bytes) => bytes,
        };
        RowGen {
            state: seed,
            shape,
            row_bytes,
            fields: Vec::with_capacity(4096),
            spans: Vec::with_capacity(32),
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

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Appends one row and its newline to `out`. `ts_us` is the row's scheduled send time in
    /// µs since the run epoch; consumers read it back to measure end-to-end latency.
    pub fn write_row(&mut self, id: u64, ts_us: u64, out: &mut Vec<u8>) {
        let start = out.len();
        let drawn = self.draw();
        self.fields.clear();
        self.spans.clear();
        let exact = drawn == Drawn::Exact;
        self.base_fields(drawn, id, ts_us);
        match drawn {
            Drawn::Exact | Drawn::Lower | Drawn::Shuffled => {}
            Drawn::Sparse => self.sparse_fields(),
            Drawn::Nested => self.nested_fields(),
            Drawn::Wide(bytes) => {
                self.nested_fields();
                self.field("user_agent", |_, out| json_string(USER_AGENT, out));
                // The message fills the row to `bytes`: what the row has so far, its
                // braces and commas, and the message field's own overhead.
                // Braces, a comma before each field but the first, the fields' bytes.
                let so_far = 2 + self.spans.len() + self.fields.len();
                let fill = bytes.saturating_sub(so_far + "\"message\":\"\"".len());
                self.field("message", |gen, out| gen.message(fill, out));
            }
        }
        if drawn == Drawn::Shuffled {
            for i in (1..self.spans.len()).rev() {
                let j = self.below(i as u64 + 1) as usize;
                self.spans.swap(i, j);
            }
        }
        out.push(b'{');
        for (i, &(from, to)) in self.spans.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.fields[from..to]);
        }
        // +1 for the closing brace still to come.
        let natural = out.len() - start + 1;
        let gap = self.row_bytes.unwrap_or(0).saturating_sub(natural);
        if gap >= PAD_OVERHEAD_BYTES {
            out.extend_from_slice(if exact {
                b",\"PAD\":\""
            } else {
                b",\"pad\":\""
            });
            out.resize(out.len() + gap - PAD_OVERHEAD_BYTES, b'x');
            out.push(b'"');
        } else {
            out.resize(out.len() + gap, b' ');
        }
        out.extend_from_slice(b"}\n");
    }

    fn draw(&mut self) -> Drawn {
        match self.shape {
            RowShape::Exact => Drawn::Exact,
            RowShape::Lower => Drawn::Lower,
            RowShape::Shuffled => Drawn::Shuffled,
            RowShape::Sparse => Drawn::Sparse,
            RowShape::Nested => Drawn::Nested,
            RowShape::Wide1k => Drawn::Wide(1024),
            RowShape::Wide4k => Drawn::Wide(4096),
            RowShape::Mixed => match self.below(100) {
                0..30 => Drawn::Lower,
                30..50 => Drawn::Shuffled,
                50..75 => Drawn::Sparse,
                75..95 => Drawn::Nested,
                95..99 => Drawn::Wide(1024),
                _ => Drawn::Wide(4096),
            },
        }
    }

    /// Adds `"name":` and the value `write` appends as one field.
    fn field(&mut self, name: &str, write: impl FnOnce(&mut RowGen, &mut Vec<u8>)) {
        let from = self.fields.len();
        let mut buf = std::mem::take(&mut self.fields);
        buf.push(b'"');
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":");
        write(self, &mut buf);
        self.spans.push((from, buf.len()));
        self.fields = buf;
    }

    fn base_fields(&mut self, drawn: Drawn, id: u64, ts_us: u64) {
        use std::io::Write;
        let r = self.next_u64();
        let user = r % 1_000_000;
        let region = REGIONS[((r >> 20) % REGIONS.len() as u64) as usize];
        // 1000.00..=9999.99: a fixed-width amount keeps row lengths steady.
        let cents = 100_000 + (r >> 32) % 900_000;
        let ok = (r >> 60) & 1 == 0;
        let upper = drawn == Drawn::Exact;
        let name = |n: &'static str, u: &'static str| if upper { u } else { n };
        // A sparse row leaves each nullable column out 40% of the time.
        let keep = |gen: &mut RowGen| drawn != Drawn::Sparse || gen.below(10) >= 4;
        self.field(name("id", "ID"), |_, out| write_u64(id, out));
        self.field(name("ts", "TS"), |_, out| write_u64(ts_us, out));
        if keep(self) {
            self.field(name("user", "USER"), |_, out| {
                write!(out, "\"user_{user:06}\"").expect("writing to a Vec cannot fail");
            });
        }
        if keep(self) {
            self.field(name("region", "REGION"), |_, out| json_string(region, out));
        }
        if keep(self) {
            self.field(name("amount", "AMOUNT"), |_, out| {
                if upper {
                    // Already as Java prints it but for a trailing zero now and then.
                    write!(out, "{}.{:02}", cents / 100, cents % 100)
                } else {
                    // As most JSON libraries print a double: shortest, `1234` when whole.
                    #[allow(clippy::cast_precision_loss)]
                    let amount = cents as f64 / 100.0;
                    write!(out, "{amount}")
                }
                .expect("writing to a Vec cannot fail");
            });
        }
        if keep(self) {
            self.field(name("ok", "OK"), |_, out| {
                out.extend_from_slice(if ok { b"true" } else { b"false" });
            });
        }
    }

    fn sparse_fields(&mut self) {
        if self.below(10) == 0 {
            let code = self.below(90) + 10;
            self.field("coupon", |_, out| {
                out.extend_from_slice(b"\"SAVE");
                write_u64(code, out);
                out.push(b'"');
            });
        }
        if self.below(7) == 0 {
            let page = self.below(1000);
            self.field("referrer", |_, out| {
                out.extend_from_slice(b"\"https://news.example.com/story/");
                write_u64(page, out);
                out.push(b'"');
            });
        }
        if self.below(10) == 0 {
            self.field("discount", |_, out| out.extend_from_slice(b"0.15"));
        }
        if self.below(10) == 0 {
            self.field("campaign", |_, out| json_string("spring-sale", out));
        }
    }

    fn nested_fields(&mut self) {
        let r = self.next_u64();
        let (os, version, model) = DEVICES[(r % DEVICES.len() as u64) as usize];
        self.field("device", |_, out| {
            out.extend_from_slice(b"{\"os\":");
            json_string(os, out);
            out.extend_from_slice(b",\"version\":");
            json_string(version, out);
            out.extend_from_slice(b",\"model\":");
            json_string(model, out);
            out.push(b'}');
        });
        let tags = 1 + (r >> 8) % 4;
        let first = (r >> 16) as usize;
        self.field("tags", |_, out| {
            out.push(b'[');
            for i in 0..tags as usize {
                if i > 0 {
                    out.push(b',');
                }
                json_string(TAGS[(first + i) % TAGS.len()], out);
            }
            out.push(b']');
        });
        let attrs = 1 + (r >> 24) % 4;
        let first = (r >> 32) as usize;
        self.field("attrs", |_, out| {
            out.push(b'{');
            for i in 0..attrs as usize {
                if i > 0 {
                    out.push(b',');
                }
                let (k, v) = ATTRS[(first + i) % ATTRS.len()];
                json_string(k, out);
                out.push(b':');
                json_string(v, out);
            }
            out.push(b'}');
        });
        let cents = 99 + (r >> 40) % 20_000;
        self.field("price", |_, out| {
            use std::io::Write;
            // Prices as producers send them: `19.99`, `20.5`, `12`.
            #[allow(clippy::cast_precision_loss)]
            let price = cents as f64 / 100.0;
            write!(out, "{price}").expect("writing to a Vec cannot fail");
        });
    }

    /// A log-like message of `len` bytes (at least a quoted empty string).
    fn message(&mut self, len: usize, out: &mut Vec<u8>) {
        out.push(b'"');
        let end = out.len() + len;
        while out.len() < end {
            let word = WORDS[self.below(WORDS.len() as u64) as usize];
            let room = end - out.len();
            out.extend_from_slice(&word.as_bytes()[..word.len().min(room)]);
            if out.len() < end {
                out.push(b' ');
            }
        }
        out.push(b'"');
    }
}

/// A JSON string of text that needs no escaping (the generator's own constants).
fn json_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
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

    const SHAPES: [RowShape; 8] = [
        RowShape::Exact,
        RowShape::Lower,
        RowShape::Shuffled,
        RowShape::Sparse,
        RowShape::Nested,
        RowShape::Wide1k,
        RowShape::Wide4k,
        RowShape::Mixed,
    ];

    #[test]
    fn same_seed_same_rows_other_seed_other_rows() {
        for shape in SHAPES {
            let (mut a, mut b, mut c) = (
                RowGen::new(7, shape, None),
                RowGen::new(7, shape, None),
                RowGen::new(8, shape, None),
            );
            let mut differ = 0;
            for i in 0..100 {
                let ra = row(&mut a, i, i * 10);
                assert_eq!(ra, row(&mut b, i, i * 10));
                differ += usize::from(ra != row(&mut c, i, i * 10));
            }
            // A sparse row may leave out every column that differs.
            assert!(differ > 50, "{shape:?}: {differ}");
        }
    }

    #[test]
    fn shape_names_are_the_option_values() {
        for shape in SHAPES {
            assert_eq!(RowShape::from_str(shape.name(), false), Ok(shape));
        }
    }

    #[test]
    fn exact_rows_are_the_old_105_byte_rows() {
        let mut gen = RowGen::new(42, RowShape::Exact, None);
        for i in 0..10_000u64 {
            // Ids and times of a 10 M-row, 100 s run.
            let line = row(&mut gen, i * 1_000, i * 10_000);
            assert_eq!(line.len() - 1, 105, "{}", String::from_utf8_lossy(&line));
            let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
            let names: Vec<&str> = v
                .as_object()
                .expect("object")
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert_eq!(names[..6], ["ID", "TS", "USER", "REGION", "AMOUNT", "OK"]);
        }
    }

    #[test]
    fn padding_reaches_the_requested_size_and_stays_valid_json() {
        for shape in SHAPES {
            for size in [300, 1024, 16 * 1024] {
                let mut gen = RowGen::new(3, shape, Some(size));
                let line = row(&mut gen, 5, 6);
                // `line` ends with its newline: the row itself is at least `size` bytes.
                assert!(line.len() > size, "{shape:?} {size}");
                serde_json::from_slice::<serde_json::Value>(&line).expect("JSON");
            }
        }
    }

    #[test]
    fn wide_rows_have_their_size() {
        for (shape, size) in [(RowShape::Wide1k, 1024), (RowShape::Wide4k, 4096)] {
            let mut gen = RowGen::new(5, shape, None);
            for i in 0..100 {
                let line = row(&mut gen, i, i);
                assert_eq!(line.len() - 1, size, "{}", String::from_utf8_lossy(&line));
            }
        }
    }

    /// Every shape's rows are valid rows of its stream: the bench stream is created as
    /// `sluice bench` creates it, every row goes through an insert session as the
    /// inserts-stream endpoint sends it, and every row is acked.
    #[test]
    fn rows_fit_their_streams_schema() {
        use sluice_engine::Ack;
        use sluice_engine::{Engine, EngineConfig, FsyncPolicy};
        const ROWS: u64 = 2_000;
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(EngineConfig {
            data_dir: dir.path().to_path_buf(),
            fsync: FsyncPolicy::Never,
            limits: Default::default(),
        })
        .expect("engine opens");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for (i, shape) in SHAPES.into_iter().enumerate() {
            let columns_sql = format!("ID BIGINT, {}", shape.value_columns_sql());
            let sql = format!(
                "CREATE STREAM S{i} ({columns_sql}) WITH (kafka_topic='s{i}', \
                 value_format='JSON', partitions=1);"
            );
            rt.block_on(engine.execute(&sql, &Default::default(), &Default::default()))
                .unwrap_or_else(|e| panic!("{shape:?}: {}", e.error));
            let (mut session, mut acks) = engine
                .insert_session(&format!("S{i}"))
                .expect("the stream exists");
            let mut gen = RowGen::new(11, shape, None);
            let mut lines = Vec::new();
            let mut named = std::collections::BTreeSet::new();
            for id in 0..ROWS {
                let mut line = row(&mut gen, id, id * 7);
                line.pop();
                let fields: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&line).expect("a JSON object");
                named.extend(fields.into_iter().map(|(k, _)| k.to_uppercase()));
                lines.push(bytes::Bytes::from(line));
            }
            let acked = rt.block_on(async {
                let _ = session.push(&lines).await;
                session.finish().await;
                let mut acked = 0;
                while let Some(ack) = acks.next().await {
                    match ack {
                        Ack::Ok { rows, .. } => acked += rows,
                        Ack::Failed { seq, error } => panic!(
                            "{shape:?}: row {seq} refused: {error}: {}",
                            String::from_utf8_lossy(&lines[seq as usize])
                        ),
                    }
                }
                acked
            });
            assert_eq!(acked, ROWS, "{shape:?}");
            // Every column but the padding is named by some row.
            let unused: Vec<String> = column_names(&columns_sql)
                .into_iter()
                .filter(|c| c != "PAD" && !named.contains(c))
                .collect();
            assert!(unused.is_empty(), "{shape:?} never sets {unused:?}");
        }
    }

    /// The column names of a `CREATE STREAM` column list (commas inside `<…>` and `(…)`
    /// belong to a type).
    fn column_names(columns_sql: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut depth = 0i32;
        let mut start = 0;
        for (i, c) in columns_sql.char_indices().chain([(columns_sql.len(), ',')]) {
            match c {
                '<' | '(' => depth += 1,
                '>' | ')' => depth -= 1,
                ',' if depth == 0 => {
                    let item = columns_sql[start..i].trim();
                    let name = item.split_whitespace().next().expect("a column name");
                    names.push(name.to_owned());
                    start = i + 1;
                }
                _ => {}
            }
        }
        names
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
