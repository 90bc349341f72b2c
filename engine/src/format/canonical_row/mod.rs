//! The ingest fast path: one schema-directed pass from an `/inserts-stream` line to the record
//! value ksqlDB would have stored for it, with no [`Value`] tree.
//!
//! ```text
//!  line ─► cursor: a validating JSON scan (strings, numbers, nesting depth)
//!       ─► names: each field name to its column (unquoted: upper-cased; quoted: exactly)
//!       ─► values: each column's value read under ksqlDB's API rules and spelled as ksqlDB
//!          stores it — left in the line when it already is (the usual case), else written
//!          to a scratch buffer (`1.50` → `1.5`, `"\u00e9"` → `"é"`, a MAP reordered, …)
//!       ─► record value: value columns in schema order, absent ones `null`, one copy into a
//!          block shared by many rows
//!       └► key column values (for `encode_key`) and the TIMESTAMP column, if any
//! ```
//!
//! What is stored is the *canonical* form of the row, defined (and written for values) by
//! [`super::json_value`]: ksqlDB's own bytes. Every valid row takes this path: field names
//! in any letter case or order, nullable columns absent or null, numbers in any valid
//! spelling, escaped and non-ASCII text, nested STRUCT/ARRAY/MAP columns, DECIMAL, temporal
//! text, keyed and keyless sources with any number of key columns, unwrapped single values
//! and a TIMESTAMP column.
//!
//! The contract, which property tests check against the full decoder
//! ([`super::insert_row::decode_insert_row`]) and the canonical encoder
//! ([`super::json_value::encode_row_value`]):
//! - when [`RowEncoder::encode`] answers, the full decoder accepts the line, the value bytes
//!   are exactly the canonical encoder's for the full decoder's values, and the key values
//!   and timestamp are the full decoder's;
//! - when it answers `None`, the full decoder fails the line and gives its error text
//!   (lines over 4 GiB, far beyond any endpoint's row limit, are left to it whatever they
//!   hold).
//!
//! One valid JSON row is refused by both: a string holding a lone UTF-16 surrogate escape
//! (`"\ud800"`), which no Rust string can hold (ksqlDB would store the escape).

mod cursor;
mod names;
mod values;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use bytes::{Bytes, BytesMut};

use super::coerce::coerce_api;
use super::ValueWrapping;
use crate::types::{ColumnKind, Schema, SqlType, Value};
use cursor::Cursor;
use values::{SlotState, StructPlan, Text, Work, LINE_BYTES_MAX};

/// Bytes of the block record values are copied into: rows share its allocation, one
/// allocation per this many bytes of values instead of one per row.
const VALUES_BLOCK_BYTES: usize = 64 * 1024;

/// The fast path for one source's rows: its plan (built once per producer request) and
/// buffers reused row after row.
#[derive(Debug)]
pub struct RowEncoder {
    /// The row as an object whose fields are the non-header columns, in schema order.
    row: StructPlan,
    /// Indexes into `row` of the value columns.
    value_columns: Vec<usize>,
    /// What goes before each value column's text in the record value: `{"A":`, `,"B":`, …
    value_prefixes: Vec<Box<[u8]>>,
    /// The bytes of `value_prefixes` together.
    value_prefix_bytes: usize,
    /// Indexes into `row` of the key columns, and their types.
    key_columns: Vec<(usize, SqlType)>,
    /// The record value is the one value column's bare value (`WRAP_SINGLE_VALUE=false`).
    unwrapped: bool,
    /// Index into `row` of the column the record timestamp comes from, when it is a
    /// BIGINT or TIMESTAMP column (the only ones the ingest path reads a time from).
    timestamp: Option<usize>,
    work: Work,
    keys: Vec<Value>,
    block: BytesMut,
}

/// What [`RowEncoder::encode`] made of a line.
#[derive(Debug, PartialEq)]
pub struct EncodedRow<'a> {
    /// The record value; `None` for an unwrapped value that is null (a tombstone).
    pub value: Option<Bytes>,
    /// The key columns' values, in schema order.
    pub keys: &'a [Value],
    /// The record timestamp the row's TIMESTAMP column gives, if it gives one.
    pub timestamp_ms: Option<i64>,
}

impl RowEncoder {
    /// `timestamp_column` is the source's `TIMESTAMP` property, if any.
    pub fn new(
        schema: &Schema,
        wrapping: ValueWrapping,
        timestamp_column: Option<&str>,
    ) -> RowEncoder {
        // Header columns are filled from record headers: a field naming one is unknown.
        let columns: Vec<_> = schema
            .columns
            .iter()
            .filter(|c| c.kind != ColumnKind::Header)
            .collect();
        let row = StructPlan::new(columns.iter().map(|c| (c.name.as_str(), &c.ty)));
        let of_kind = |kind: ColumnKind| {
            columns
                .iter()
                .enumerate()
                .filter(move |(_, c)| c.kind == kind)
        };
        let value_columns: Vec<usize> = of_kind(ColumnKind::Value).map(|(i, _)| i).collect();
        let key_columns = of_kind(ColumnKind::Key)
            .map(|(i, c)| (i, c.ty.clone()))
            .collect();
        let timestamp = timestamp_column.and_then(|name| {
            columns.iter().position(|c| {
                c.name == name && matches!(c.ty, SqlType::BigInt | SqlType::Timestamp)
            })
        });
        let value_prefixes: Vec<Box<[u8]>> = value_columns
            .iter()
            .enumerate()
            .map(|(n, &i)| {
                let mut prefix = vec![if n == 0 { b'{' } else { b',' }];
                prefix.extend_from_slice(&row.fields[i].prefix);
                prefix.into_boxed_slice()
            })
            .collect();
        let value_prefix_bytes = value_prefixes.iter().map(|p| p.len()).sum();
        RowEncoder {
            value_prefixes,
            value_prefix_bytes,
            row,
            // As the inserter does: the first (only) value column, if there is one.
            unwrapped: wrapping == ValueWrapping::Unwrapped && !value_columns.is_empty(),
            value_columns,
            key_columns,
            timestamp,
            work: Work::default(),
            keys: Vec::new(),
            block: BytesMut::new(),
        }
    }

    /// Reads one line (without its newline). `None` means the line is bad: the full decoder
    /// says why. (And a line over 4 GiB, which no endpoint accepts, is left to it.)
    pub fn encode(&mut self, line: &[u8]) -> Option<EncodedRow<'_>> {
        if line.len() > LINE_BYTES_MAX {
            return None;
        }
        self.work.clear();
        let mut s = Cursor::new(line);
        s.ws();
        if s.peek() != Some(b'{') {
            return None;
        }
        let base = self.work.object(&self.row, &mut s, 0).ok()?;
        s.ws();
        if s.at != line.len() {
            return None;
        }
        let slots = &self.work.fields[base..base + self.row.fields.len()];
        if slots.iter().any(|f| f.state == SlotState::Failed) {
            return None;
        }
        self.keys.clear();
        for (i, ty) in &self.key_columns {
            // "Key field must be specified" for an absent or null key.
            let SlotState::Set(text) = slots[*i].state else {
                return None;
            };
            if text == Text::Null {
                return None;
            }
            let key = key_value(ty, self.work.bytes(line, text), slots[*i].raw, line)?;
            self.keys.push(key);
        }
        let timestamp_ms = match self.timestamp.map(|i| slots[i].state) {
            Some(SlotState::Set(text)) if text != Text::Null => {
                Some(parse_ascii::<i64>(self.work.bytes(line, text))?)
            }
            _ => None,
        };
        let value = self.write_value(line, base);
        Some(EncodedRow {
            value,
            keys: &self.keys,
            timestamp_ms,
        })
    }

    /// Assembles the record value from the slots of the row read last.
    fn write_value(&mut self, line: &[u8], base: usize) -> Option<Bytes> {
        let text_of = |i: usize| match self.work.fields[base + i].state {
            SlotState::Set(text) => text,
            SlotState::Missing | SlotState::Failed => Text::Null,
        };
        if self.unwrapped {
            let text = text_of(self.value_columns[0]);
            if text == Text::Null {
                return None;
            }
            let bytes = self.work.bytes(line, text);
            reserve_block(&mut self.block, bytes.len());
            self.block.extend_from_slice(bytes);
            return Some(self.block.split().freeze());
        }
        // At most: braces, commas, names, and each column's text, which is `null` or a
        // part of the line or of the scratch buffer (no two columns share a part).
        let len_max = 2
            + self.value_prefix_bytes
            + self.value_columns.len() * "null".len()
            + line.len()
            + self.work.scratch.len();
        reserve_block(&mut self.block, len_max);
        if self.value_columns.is_empty() {
            self.block.extend_from_slice(b"{");
        }
        for (prefix, &i) in self.value_prefixes.iter().zip(&self.value_columns) {
            self.block.extend_from_slice(prefix);
            self.block
                .extend_from_slice(self.work.bytes(line, text_of(i)));
        }
        self.block.extend_from_slice(b"}");
        Some(self.block.split().freeze())
    }
}

/// Makes room for `len` more bytes in `block`, starting a new block when the current one is
/// full (values split off earlier keep the old one alive until their records are written).
fn reserve_block(block: &mut BytesMut, len: usize) {
    if block.capacity() - block.len() < len {
        *block = BytesMut::with_capacity(VALUES_BLOCK_BYTES.max(len));
    }
}

/// A key column's value, as the full decoder coerces it: the common scalar types from
/// their stored text, any other type from its raw JSON through the API coercer itself.
fn key_value(ty: &SqlType, stored: &[u8], raw: (u32, u32), line: &[u8]) -> Option<Value> {
    Some(match ty {
        SqlType::Boolean => Value::Boolean(stored == b"true"),
        SqlType::Integer => Value::Integer(parse_ascii(stored)?),
        SqlType::BigInt => Value::BigInt(parse_ascii(stored)?),
        SqlType::Double => Value::Double(match stored {
            b"\"NaN\"" => f64::NAN,
            b"\"Infinity\"" => f64::INFINITY,
            b"\"-Infinity\"" => f64::NEG_INFINITY,
            // `Double.toString` text reads back as the same double.
            text => parse_ascii(text)?,
        }),
        SqlType::String if !stored.contains(&b'\\') => {
            let inner = stored.get(1..stored.len().saturating_sub(1))?;
            Value::String(std::str::from_utf8(inner).ok()?.to_owned())
        }
        _ => {
            let raw = &line[raw.0 as usize..raw.1 as usize];
            let lv = sonic_rs::from_slice::<sonic_rs::LazyValue<'_>>(raw).ok()?;
            coerce_api(&lv, ty).ok()?
        }
    })
}

/// Why [`strict_json_error`] refused a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictJsonError {
    /// Not one JSON value, with only whitespace around it (RFC 8259).
    Invalid,
    /// Valid JSON, but a string holds a lone UTF-16 surrogate escape (`"\ud800"`).
    LoneSurrogate,
}

/// Checks `line` is exactly one JSON value as strictly as the fast path reads it (every
/// escape, UTF-8, nesting depth): the full decoder's parser skips over string contents.
pub fn strict_json_error(line: &[u8]) -> Option<StrictJsonError> {
    let one_value = |lone_surrogates_ok: bool| {
        let mut s = Cursor::new(line);
        s.lone_surrogates_ok = lone_surrogates_ok;
        s.ws();
        let read = s.skip_value(0).is_some();
        s.ws();
        read && s.at == line.len()
    };
    if one_value(false) {
        None
    } else if one_value(true) {
        Some(StrictJsonError::LoneSurrogate)
    } else {
        Some(StrictJsonError::Invalid)
    }
}

fn parse_ascii<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}
