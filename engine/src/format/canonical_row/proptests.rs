//! Property tests: rows of every shape through the fast path, the full decoder and the
//! canonical encoder, which must agree.
//!
//! Each case is one seed: a random schema (value columns of every type, nested to two
//! levels; zero to two key columns; sometimes unwrapped, sometimes a TIMESTAMP column) and a
//! row for it spelled the ways producers spell rows: names in any letter case, quoted or
//! escaped; fields in any order, absent or null; unknown fields; numbers written every valid
//! way; text with escapes, non-ASCII and characters above U+FFFF; repeated MAP keys and
//! repeated fields; whitespace anywhere. One row in four is then damaged (a wrong type, a
//! cut, a stray byte, a clashing name, a null key), so the error side is covered too.
//!
//! For every row: if the fast path answers, the full decoder must accept the row, the
//! stored bytes must be the canonical encoder's for the full decoder's values, the key
//! values and timestamp must match, and the bytes must read back (as a stored record) to the
//! same values. If it does not answer, the full decoder must refuse the row.

use proptest::prelude::*;

use super::*;
use crate::format::insert_row::decode_insert_row;
use crate::format::json_value::{decode_value, encode_row_value, encode_row_value_unwrapped};
use crate::types::{temporal, Column, StructField};

/// SplitMix64: every choice a case makes comes from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn leaf_type(rng: &mut Rng) -> SqlType {
    match rng.below(12) {
        0 => SqlType::Boolean,
        1 => SqlType::Integer,
        2 | 3 => SqlType::BigInt,
        4 | 5 => SqlType::Double,
        6 => {
            let precision = 1 + rng.below(20) as u8;
            let scale = rng.below(usize::from(precision) + 1) as u8;
            SqlType::Decimal { precision, scale }
        }
        7 => SqlType::Bytes,
        8 => SqlType::Timestamp,
        9 => rng.pick(&[SqlType::Date, SqlType::Time]).clone(),
        _ => SqlType::String,
    }
}

fn sql_type(rng: &mut Rng, depth: usize) -> SqlType {
    if depth >= 2 || !rng.one_in(3) {
        return leaf_type(rng);
    }
    match rng.below(3) {
        0 => SqlType::Array(Box::new(sql_type(rng, depth + 1))),
        1 => SqlType::Map(
            Box::new(SqlType::String),
            Box::new(sql_type(rng, depth + 1)),
        ),
        _ => {
            let count = 1 + rng.below(4);
            let names = names(rng, count);
            SqlType::Struct(
                names
                    .into_iter()
                    .map(|name| StructField {
                        name,
                        ty: sql_type(rng, depth + 1),
                    })
                    .collect(),
            )
        }
    }
}

/// `n` distinct names: mostly upper case (unquoted identifiers), some lower case or
/// non-ASCII (quoted identifiers).
fn names(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    while out.len() < n {
        let len = 1 + rng.below(6);
        let mut name: String = (0..len)
            .map(|i| {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"[rng.below(if i == 0 { 26 } else { 37 })];
                char::from(c)
            })
            .collect();
        match rng.below(10) {
            0 => name = name.to_lowercase(),
            1 => name.push('É'),
            _ => {}
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

struct Case {
    schema: Schema,
    wrapping: ValueWrapping,
    timestamp: Option<String>,
    line: String,
}

fn case(seed: u64) -> Case {
    let rng = &mut Rng(seed);
    let count = 1 + rng.below(7);
    let names = names(rng, count);
    let keys = rng.below(3).min(count - 1);
    let columns: Vec<Column> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            if i < keys {
                let ty = match rng.below(8) {
                    0 => SqlType::Struct(vec![StructField {
                        name: "A".into(),
                        ty: SqlType::Integer,
                    }]),
                    _ => rng
                        .pick(&[
                            SqlType::String,
                            SqlType::Integer,
                            SqlType::BigInt,
                            SqlType::Double,
                            SqlType::Boolean,
                        ])
                        .clone(),
                };
                Column::new(name, ty, ColumnKind::Key)
            } else {
                Column::new(name, sql_type(rng, 0), ColumnKind::Value)
            }
        })
        .collect();
    let mut columns = columns;
    // Keys anywhere in the schema, as CREATE allows.
    let at = rng.below(columns.len());
    if keys > 0 {
        let k = columns.remove(0);
        columns.insert(at, k);
    }
    let schema = Schema::new(columns);
    let wrapping = if count - keys == 1 && rng.one_in(3) {
        ValueWrapping::Unwrapped
    } else {
        ValueWrapping::Wrapped
    };
    let timestamp = schema
        .columns
        .iter()
        .find(|c| matches!(c.ty, SqlType::BigInt | SqlType::Timestamp))
        .filter(|_| rng.one_in(2))
        .map(|c| c.name.clone());
    let mut line = String::new();
    let fields: Vec<(String, SqlType, ColumnKind)> = schema
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.clone(), c.kind))
        .collect();
    object(rng, &fields, &mut line);
    if rng.one_in(4) {
        damage(rng, &schema, &mut line);
    }
    Case {
        schema,
        wrapping,
        timestamp,
        line,
    }
}

fn ws(rng: &mut Rng, out: &mut String) {
    if rng.one_in(6) {
        out.push_str(rng.pick::<&str>(&[" ", "  ", "\t", "\n ", "\r\n"]));
    }
}

/// An object with `fields` (a row's columns, or a STRUCT's fields) in random order, each
/// absent, null or a value, named however a producer might, plus an unknown field now and
/// then.
fn object(rng: &mut Rng, fields: &[(String, SqlType, ColumnKind)], out: &mut String) {
    let mut order: Vec<usize> = (0..fields.len()).collect();
    if rng.one_in(2) {
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
    }
    let mut members = Vec::new();
    for i in order {
        let (name, ty, kind) = &fields[i];
        // Keys are almost always given: a row without one fails.
        let absent = if *kind == ColumnKind::Key { rng.one_in(30) } else { rng.one_in(4) };
        if absent {
            continue;
        }
        let mut member = String::new();
        field_name(rng, name, &mut member);
        member.push(':');
        ws(rng, &mut member);
        if *kind == ColumnKind::Value && rng.one_in(8) {
            member.push_str("null");
        } else {
            value(rng, ty, &mut member);
        }
        members.push(member);
        if rng.one_in(20) {
            // The same name again: the full decoder keeps the last value.
            let mut again = String::new();
            field_name(rng, name, &mut again);
            again.push(':');
            value(rng, ty, &mut again);
            members.push(again);
        }
    }
    if rng.one_in(5) {
        let mut unknown = String::new();
        let name = *rng.pick(&["extra", "ROWTIME", "x_y", "Ünknown"]);
        string(rng, name, &mut unknown);
        unknown.push(':');
        any_json(rng, 0, &mut unknown);
        let at = rng.below(members.len() + 1);
        members.insert(at, unknown);
    }
    out.push('{');
    ws(rng, out);
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
            ws(rng, out);
        }
        out.push_str(m);
        ws(rng, out);
    }
    out.push('}');
}

/// A JSON field name that denotes `name`, spelled at random.
fn field_name(rng: &mut Rng, name: &str, out: &mut String) {
    let unquoted_ok = name.is_ascii() && !name.bytes().any(|b| b.is_ascii_lowercase());
    let raw = match rng.below(8) {
        0 | 1 if unquoted_ok => name.to_lowercase(),
        2 if unquoted_ok => name
            .chars()
            .map(|c| if rng.one_in(2) { c.to_ascii_lowercase() } else { c })
            .collect(),
        3 => format!("`{name}`"),
        4 => format!("\"{name}\""),
        _ if unquoted_ok => name.to_owned(),
        _ => format!("`{name}`"),
    };
    string(rng, &raw, out);
}

/// `text` as a JSON string, each character raw or escaped at random.
fn string(rng: &mut Rng, text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        let must = matches!(c, '"' | '\\') || (c as u32) < 0x20;
        if must || rng.one_in(12) {
            match (c, rng.below(3)) {
                ('"', 0) => out.push_str("\\\""),
                ('\\', 0) => out.push_str("\\\\"),
                ('\n', 0) => out.push_str("\\n"),
                ('\t', 0) => out.push_str("\\t"),
                ('/', _) => out.push_str("\\/"),
                _ => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

fn text(rng: &mut Rng) -> String {
    const PALETTE: &[&str] = &[
        "a", "Z", "0", " ", "-", "_", "/", "\"", "\\", "\n", "\t", "\u{1}", "\u{7f}", "é", "中",
        "\u{1F600}", "\u{2028}",
    ];
    let len = rng.below(8);
    (0..len).map(|_| *rng.pick(PALETTE)).collect()
}

fn double(rng: &mut Rng, out: &mut String) {
    let d: f64 = match rng.below(5) {
        0 => (rng.below(2_000_000) as f64 - 1_000_000.0) / 100.0,
        1 => rng.below(1000) as f64,
        2 => f64::from_bits(rng.next()),
        3 => (rng.next() as i64) as f64,
        _ => 1.0 / (1 + rng.below(100_000)) as f64,
    };
    let d = if d.is_finite() { d } else { 0.5 };
    let spelled = match rng.below(5) {
        0 => format!("{d:?}"),
        1 => format!("{d:e}"),
        2 => format!("{d:E}"),
        3 if d.abs() < 1e15 => format!("{d:.4}"),
        4 if d.fract() == 0.0 && d.abs() < 1e18 => format!("{}", d as i64),
        _ => format!("{d:?}"),
    };
    out.push_str(&spelled);
}

fn decimal(rng: &mut Rng, precision: u8, scale: u8, out: &mut String) {
    let digits = 1 + rng.below(usize::from(precision));
    let unscaled: String = (0..digits).map(|_| char::from(b'0' + rng.below(10) as u8)).collect();
    let scale = usize::from(scale);
    let mut plain = if scale == 0 {
        unscaled
    } else if unscaled.len() > scale {
        format!("{}.{}", &unscaled[..unscaled.len() - scale], &unscaled[unscaled.len() - scale..])
    } else {
        format!("0.{}{}", "0".repeat(scale - unscaled.len()), unscaled)
    };
    if rng.one_in(3) {
        plain.insert(0, '-');
    }
    match rng.below(5) {
        0 => {
            out.push('"');
            out.push_str(&plain);
            out.push('"');
        }
        1 if plain.contains('.') => {
            out.push_str(&plain);
            out.push_str("00");
        }
        2 => {
            out.push_str(&plain);
            out.push_str("e0");
        }
        _ => out.push_str(&plain),
    }
}

/// A value of `ty`, spelled the way some producer would.
fn value(rng: &mut Rng, ty: &SqlType, out: &mut String) {
    if rng.one_in(12) {
        out.push_str("null");
        return;
    }
    match ty {
        SqlType::Boolean => out.push_str(rng.pick::<&str>(&["true", "false"])),
        SqlType::Integer => {
            let i = match rng.below(4) {
                0 => *rng.pick(&[i32::MIN, i32::MAX, 0]) as i64,
                1 => return out.push_str("-0"),
                _ => i64::from(rng.next() as i32 / (1 << rng.below(31))),
            };
            out.push_str(&i.to_string());
        }
        SqlType::BigInt => {
            let i = match rng.below(4) {
                0 => *rng.pick(&[i64::MIN, i64::MAX, 0]),
                1 => return out.push_str("-0"),
                _ => (rng.next() as i64) >> rng.below(63),
            };
            out.push_str(&i.to_string());
        }
        SqlType::Double => double(rng, out),
        SqlType::Decimal { precision, scale } => decimal(rng, *precision, *scale, out),
        SqlType::String => {
            let t = text(rng);
            string(rng, &t, out);
        }
        SqlType::Bytes => {
            use base64::Engine as _;
            let bytes: Vec<u8> = (0..rng.below(8)).map(|_| rng.next() as u8).collect();
            let mut b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            if rng.one_in(3) {
                b64 = b64.trim_end_matches('=').to_owned();
            }
            string(rng, &b64, out);
        }
        SqlType::Timestamp => {
            let ms = (rng.next() % 4_000_000_000_000) as i64;
            let iso = temporal::format_timestamp(ms);
            let iso = if rng.one_in(4) { format!(" {iso} ") } else { iso };
            string(rng, &iso, out);
        }
        SqlType::Date => {
            let iso = temporal::format_date((rng.next() % 40_000) as i32);
            string(rng, &iso, out);
        }
        SqlType::Time => {
            let iso = temporal::format_time((rng.next() % 86_400_000) as i32);
            string(rng, &iso, out);
        }
        SqlType::Array(item) => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                value(rng, item, out);
            }
            out.push(']');
        }
        SqlType::Map(_, v) => {
            out.push('{');
            let mut keys: Vec<String> = Vec::new();
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                let key = match keys.last() {
                    Some(k) if rng.one_in(5) => k.clone(),
                    _ => text(rng),
                };
                string(rng, &key, out);
                keys.push(key);
                out.push(':');
                value(rng, v, out);
            }
            out.push('}');
        }
        SqlType::Struct(fields) => {
            let fields: Vec<(String, SqlType, ColumnKind)> = fields
                .iter()
                .map(|f| (f.name.clone(), f.ty.clone(), ColumnKind::Value))
                .collect();
            object(rng, &fields, out);
        }
    }
}

/// Any JSON value (for unknown fields).
fn any_json(rng: &mut Rng, depth: usize, out: &mut String) {
    match rng.below(if depth < 2 { 6 } else { 4 }) {
        0 => out.push_str(rng.pick::<&str>(&["null", "true", "false"])),
        1 => double(rng, out),
        2 => {
            let t = text(rng);
            string(rng, &t, out);
        }
        3 => out.push_str(&(rng.next() as i64).to_string()),
        4 => {
            out.push('[');
            any_json(rng, depth + 1, out);
            out.push(']');
        }
        _ => {
            out.push_str("{\"k\":");
            any_json(rng, depth + 1, out);
            out.push('}');
        }
    }
}

/// Turns the row into one that (most likely) fails.
fn damage(rng: &mut Rng, schema: &Schema, line: &mut String) {
    match rng.below(6) {
        0 => {
            let mut at = rng.below(line.len());
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line.truncate(at);
        }
        1 => {
            let mut at = rng.below(line.len() + 1);
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line.insert(at, *rng.pick(&['"', ',', '}', ']', 'x', '\\', '{', ':']));
        }
        2 | 3 => {
            // A clashing spelling of, or a value of the wrong kind for, some column.
            let column = rng.pick(&schema.columns);
            let body = line.trim_end().trim_end_matches('}').to_owned();
            let sep = if body.trim_end().ends_with('{') { "" } else { "," };
            let name = if rng.one_in(2) {
                format!("\"`{}`\"", column.name)
            } else {
                format!("\"{}\"", column.name.to_lowercase())
            };
            let wrong = rng.pick(&["\"text\"", "[1]", "{\"a\":1}", "1.5", "true", "99999999999999999999"]);
            *line = format!("{body}{sep}{name}:{wrong}}}");
        }
        4 => {
            if let Some(key) = schema.columns.iter().find(|c| c.kind == ColumnKind::Key) {
                let body = line.trim_end().trim_end_matches('}').to_owned();
                let sep = if body.trim_end().ends_with('{') { "" } else { "," };
                *line = format!("{body}{sep}\"{}\":null}}", key.name);
            }
        }
        _ => line.push_str(" x"),
    }
}

/// What the fast path and the full decoder make of one case, checked against each other.
/// Returns whether the row was valid.
fn check(case: &Case) -> Result<bool, TestCaseError> {
    let Case {
        schema,
        wrapping,
        timestamp,
        line,
    } = case;
    let mut encoder = RowEncoder::new(schema, *wrapping, timestamp.as_deref());
    let full = decode_insert_row(line.as_bytes(), schema);
    let Some(fast) = encoder.encode(line.as_bytes()) else {
        prop_assert!(
            full.is_err(),
            "the fast path left a valid row: {line}\nschema {schema:?}\nfull {full:?}"
        );
        return Ok(false);
    };
    let full = match full {
        Ok(row) => row,
        Err(e) => return Err(TestCaseError::fail(format!("{line}: fast path took a bad row ({e})"))),
    };
    let value_index = schema.columns.iter().position(|c| c.kind == ColumnKind::Value);
    let mut canonical = Vec::new();
    let canonical = match (wrapping, value_index) {
        (ValueWrapping::Unwrapped, Some(i)) => {
            if full.values[i].is_null() {
                None
            } else {
                encode_row_value_unwrapped(&full.values[i], &mut canonical);
                Some(canonical)
            }
        }
        _ => {
            encode_row_value(schema, &full.values, &mut canonical);
            Some(canonical)
        }
    };
    let fast_value = fast.value.as_ref().map(|v| v.to_vec());
    prop_assert_eq!(
        fast_value.as_deref().map(String::from_utf8_lossy),
        canonical.as_deref().map(String::from_utf8_lossy),
        "{}",
        line
    );
    let keys: Vec<Value> = schema
        .columns
        .iter()
        .zip(&full.values)
        .filter(|(c, _)| c.kind == ColumnKind::Key)
        .map(|(_, v)| v.clone())
        .collect();
    prop_assert_eq!(fast.keys, keys.as_slice(), "{}", line);
    let full_timestamp = timestamp.as_ref().and_then(|name| {
        let (i, _) = schema.find(name)?;
        match full.values[i] {
            Value::BigInt(ms) | Value::Timestamp(ms) => Some(ms),
            _ => None,
        }
    });
    prop_assert_eq!(fast.timestamp_ms, full_timestamp, "{}", line);
    // The stored bytes read back, as a stored record, to the row's values.
    if *wrapping == ValueWrapping::Wrapped {
        let value_columns: Vec<&Column> = schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Value)
            .collect();
        let mut back = Vec::new();
        decode_value(fast_value.as_deref().unwrap_or_default(), &value_columns, &mut back)
            .map_err(|e| TestCaseError::fail(format!("{line}: stored bytes do not read back: {e}")))?;
        let want: Vec<Value> = schema
            .columns
            .iter()
            .zip(&full.values)
            .filter(|(c, _)| c.kind == ColumnKind::Value)
            .map(|(_, v)| v.clone())
            .collect();
        // As maps: the stored entries are in `HashMap` order, the row's in the line's.
        let back: Vec<Value> = back.into_iter().map(sorted_maps).collect();
        let want: Vec<Value> = want.into_iter().map(sorted_maps).collect();
        prop_assert_eq!(back, want, "{}", line);
    }
    Ok(true)
}

/// `value` with every MAP's entries sorted by key, so maps compare as maps.
fn sorted_maps(value: Value) -> Value {
    match value {
        Value::Map(entries) => {
            let mut entries: Vec<(Value, Value)> = entries
                .into_iter()
                .map(|(k, v)| (k, sorted_maps(v)))
                .collect();
            entries.sort_by_key(|(k, _)| format!("{k:?}"));
            Value::Map(entries)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_maps).collect()),
        Value::Struct(fields) => {
            Value::Struct(fields.into_iter().map(|(n, v)| (n, sorted_maps(v))).collect())
        }
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn fast_path_agrees_with_full_decoder_and_canonical_encoder(seed in any::<u64>()) {
        check(&case(seed))?;
    }
}

/// The property is not vacuous: most generated rows are valid and take the fast path.
#[test]
fn most_generated_rows_are_valid() {
    let valid = (0..2000u64)
        .filter(|&seed| check(&case(seed)).expect("agrees"))
        .count();
    assert!(valid > 1000, "only {valid} of 2000 generated rows were valid");
}
