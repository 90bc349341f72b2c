//! The ingest fast path: proving, in one pass over the bytes, that an `/inserts-stream` line
//! is already the record value the `JSON` format would store, without building any values.
//!
//! Most producers send rows whose field names are the stream's own column names and whose
//! values are plain JSON scalars of the columns' types. For those, the full decoder
//! ([`super::insert_row::decode_insert_row`]) parses the line, allocates one [`Value`] per
//! column and then throws the values away, because the line itself is stored (its
//! `value_is_canonical` case). [`CanonicalRowCheck::accepts`] recognises that case directly
//! with a small byte scanner.
//!
//! A keyed source (one scalar key column) is almost the same case: the record value is the
//! line without its key field. [`CanonicalRowCheck::keyed_row`] finds that field in the same
//! scan, decodes only the key's value, and copies the rest of the line as the value. Every
//! remaining field is proven to be a value column in stored form, so the copy decodes to
//! the same values as the object the full path re-encodes (which also writes the missing
//! columns as `null`, the same thing to a reader).
//!
//! It is deliberately conservative: it says yes only when the full decoder would accept the
//! line *and* call it canonical (keyed: accept it, with every field but the key in stored
//! form); for anything else (errors, quoted or escaped names, non-ASCII text, `\u` escapes, exponents,
//! nested values, DECIMAL or temporal columns, a null, missing or escaped key…) it says no
//! and the caller runs the full decoder, which produces the right value or the right error.
//! Property tests check that every line it accepts, the full decoder accepts as canonical,
//! and that a keyed row it splits gives the full path's key and value.
//!
//! [`Value`]: crate::types::Value

use std::ops::Range;

use super::json_text::plain_text_len;
use super::KeyFormat;
use crate::types::{ColumnKind, Schema, SqlType, Value};

/// More value columns than this and the fast path is not used (the duplicate check is a
/// 64-bit mask).
const FAST_PATH_COLUMNS_MAX: usize = 64;

/// Integer digits a JSON number may have and still be a finite DOUBLE without an exponent
/// (`f64::MAX` is about 1.8e308); longer ones go to the full decoder.
const DOUBLE_INTEGER_DIGITS_MAX: usize = 300;

/// How the fast path checks one column's JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Boolean,
    Integer,
    BigInt,
    Double,
    String,
    /// Any other type: only `null` is taken on the fast path.
    NullOnly,
}

#[derive(Debug, Clone)]
struct FastColumn {
    /// The stored field name: the column name, which is also what an unquoted JSON field
    /// name must be, byte for byte, to denote it (ksqlDB upper-cases unquoted names).
    name: Box<[u8]>,
    scalar: Scalar,
}

/// The fast-path view of one schema, built once per producer request.
#[derive(Debug, Clone)]
pub struct CanonicalRowCheck {
    /// Value columns in schema order. Columns whose name an unquoted field could never spell
    /// exactly (lower case, quotes, non-ASCII) are left out: a field naming them is not on
    /// the fast path.
    columns: Vec<FastColumn>,
    /// The key column of a keyed source; `None` for a keyless one.
    key: Option<FastColumn>,
}

/// A keyed row split by the fast path.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedRow {
    /// The key column's value (never null), as the full decoder would coerce it.
    pub key: Value,
    /// The key field's bytes in the line, with one comma: the record value is the line
    /// without them ([`KeyedRow::value_parts`]).
    pub cut: std::ops::Range<usize>,
}

impl KeyedRow {
    /// The record value, as the two parts of `line` around the key field; the caller
    /// copies them where the value is to live (no buffer of its own per row).
    pub fn value_parts<'l>(&self, line: &'l [u8]) -> [&'l [u8]; 2] {
        [&line[..self.cut.start], &line[self.cut.end..]]
    }
}

/// What one scan found: for a keyed schema, the key's value and the bytes to cut out of the
/// line to drop its field.
struct KeyField {
    value: Value,
    cut: Range<usize>,
}

impl CanonicalRowCheck {
    /// `None` when no line could take the fast path for this schema: several key columns, a
    /// key column of a type (or name) the fast path does not read, or too many value columns.
    /// `key_format` is the source's; a keyless schema ignores it.
    pub fn new(schema: &Schema, key_format: KeyFormat) -> Option<CanonicalRowCheck> {
        let mut keys = schema.columns.iter().filter(|c| c.kind == ColumnKind::Key);
        let key = match (keys.next(), keys.next()) {
            (None, _) => None,
            (Some(k), None) if unquoted_spells(&k.name) && fast_key_type(key_format, &k.ty) => {
                Some(FastColumn {
                    name: k.name.as_bytes().into(),
                    scalar: scalar_of(&k.ty),
                })
            }
            _ => return None,
        };
        let columns: Vec<FastColumn> = schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Value && unquoted_spells(&c.name))
            .map(|c| FastColumn {
                name: c.name.as_bytes().into(),
                scalar: scalar_of(&c.ty),
            })
            .collect();
        (columns.len() <= FAST_PATH_COLUMNS_MAX).then_some(CanonicalRowCheck { columns, key })
    }

    /// True for a check made for a keyed schema: use [`CanonicalRowCheck::keyed_row`].
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// True when `line` (without its newline) is a JSON object the full decoder would accept
    /// and store byte for byte. False means "not known": run the full decoder. Always false
    /// for a keyed schema, whose value is never the line.
    pub fn accepts(&self, line: &[u8]) -> bool {
        self.key.is_none() && self.scan(line).is_some()
    }

    /// For a keyed schema: when the full decoder would accept `line` with a non-null key and
    /// every other field in stored form, the key's value and the line without the key field
    /// (the record value). `None` means "not known": run the full decoder.
    pub fn keyed_row(&self, line: &[u8]) -> Option<KeyedRow> {
        let KeyField { value: key, cut } = self.scan(line)??;
        Some(KeyedRow { key, cut })
    }

    /// One pass over the line. The outer `None` is "not on the fast path"; the inner option
    /// is the key field, always found for a keyed schema and never for a keyless one.
    fn scan(&self, line: &[u8]) -> Option<Option<KeyField>> {
        let mut s = Scanner { bytes: line, at: 0 };
        s.skip_ws();
        s.expect(b'{')?;
        s.skip_ws();
        let mut seen: u64 = 0;
        // Fields usually come in column order: try the next column first.
        let mut next = 0;
        let mut key: Option<KeyField> = None;
        // Where the previous field's value ended: a last key field is cut from there.
        let mut previous_end: Option<usize> = None;
        if s.peek() == Some(b'}') {
            s.at += 1;
        } else {
            loop {
                let field_start = s.at;
                let name = s.plain_string()?;
                s.skip_ws();
                s.expect(b':')?;
                s.skip_ws();
                let key_column = self.key.as_ref().filter(|k| *k.name == *name);
                if let Some(k) = key_column {
                    // The same name twice keeps the last value in the full decoder.
                    if key.is_some() {
                        return None;
                    }
                    let value = s.key_value(k.scalar)?;
                    key = Some(KeyField {
                        value,
                        cut: field_start..s.at,
                    });
                } else {
                    let i = self.column_named(name, next)?;
                    let bit = 1u64 << i;
                    if seen & bit != 0 {
                        return None;
                    }
                    seen |= bit;
                    next = i + 1;
                    s.value(self.columns[i].scalar)?;
                }
                let value_end = s.at;
                s.skip_ws();
                let last = match s.next_byte()? {
                    b',' => false,
                    b'}' => true,
                    _ => return None,
                };
                if !last {
                    s.skip_ws();
                }
                if let (Some(_), Some(k)) = (key_column, key.as_mut()) {
                    // Drop the field with one comma: the one after it (and the whitespace up
                    // to the next name), or, for the last field, the one before it.
                    k.cut = match (last, previous_end) {
                        (false, _) => field_start..s.at,
                        (true, Some(end)) => end..value_end,
                        (true, None) => field_start..value_end,
                    };
                }
                if last {
                    break;
                }
                previous_end = Some(value_end);
            }
        }
        s.skip_ws();
        if s.at != line.len() || key.is_some() != self.key.is_some() {
            return None;
        }
        Some(key)
    }

    fn column_named(&self, name: &[u8], next: usize) -> Option<usize> {
        if self.columns.get(next).is_some_and(|c| *c.name == *name) {
            return Some(next);
        }
        self.columns.iter().position(|c| *c.name == *name)
    }
}

/// True when an unquoted JSON field name equal to `name` denotes the column `name`: unquoted
/// names are upper-cased, so the name must have no lower-case letters, and must not start
/// with a quote character (which would make the field a quoted name).
fn unquoted_spells(name: &str) -> bool {
    !name.is_empty()
        && name.is_ascii()
        && !name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with(['`', '"'])
}

/// True when the fast path reads a key column of type `ty` in `format`: the scalar types
/// the format can hold (the `KAFKA` format has no BOOLEAN).
fn fast_key_type(format: KeyFormat, ty: &SqlType) -> bool {
    match format {
        KeyFormat::Kafka => matches!(
            ty,
            SqlType::Integer | SqlType::BigInt | SqlType::Double | SqlType::String
        ),
        KeyFormat::Json => matches!(
            ty,
            SqlType::Boolean
                | SqlType::Integer
                | SqlType::BigInt
                | SqlType::Double
                | SqlType::String
        ),
        KeyFormat::None => false,
    }
}

fn scalar_of(ty: &SqlType) -> Scalar {
    match ty {
        SqlType::Boolean => Scalar::Boolean,
        SqlType::Integer => Scalar::Integer,
        SqlType::BigInt => Scalar::BigInt,
        SqlType::Double => Scalar::Double,
        SqlType::String => Scalar::String,
        _ => Scalar::NullOnly,
    }
}

/// A cursor over the line. Every method returns `None` for "not on the fast path".
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next_byte()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// Moves past a run of plain string text (see [`plain_text_len`]).
    fn skip_plain_text(&mut self) {
        self.at += plain_text_len(&self.bytes[self.at..]);
    }

    /// A field name without escapes: ASCII, no control characters. Returns its bytes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        self.skip_plain_text();
        let end = self.at;
        self.expect(b'"')?;
        Some(&self.bytes[start..end])
    }

    /// A string value: ASCII with the simple escapes (`\u` goes to the full decoder).
    fn string_value(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            self.skip_plain_text();
            match self.next_byte()? {
                b'"' => return Some(()),
                b'\\' => match self.next_byte()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A JSON number without an exponent: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`. Returns its
    /// integer value when it has no fraction and fits an `i64` (`Integral(None)` when it does
    /// not fit), or `Fraction`.
    fn number(&mut self) -> Option<Number> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int_start = self.at;
        // Accumulated negatively: i64::MIN has no positive counterpart.
        let mut value: Option<i64> = Some(0);
        match self.next_byte()? {
            b'0' => {}
            d @ b'1'..=b'9' => {
                value = Some(-i64::from(d - b'0'));
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    value = value
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_sub(i64::from(d - b'0')));
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let int_digits = self.at - int_start;
        let fraction = self.peek() == Some(b'.');
        if fraction {
            self.at += 1;
            let digits_start = self.at;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
            if self.at == digits_start {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) || int_digits > DOUBLE_INTEGER_DIGITS_MAX {
            return None;
        }
        Some(if fraction {
            Number::Fraction
        } else if negative {
            Number::Integral(value)
        } else {
            Number::Integral(value.and_then(i64::checked_neg))
        })
    }

    /// A key column's value, decoded as the API coercer would: never null, and a string only
    /// when it has no escapes (its text is then the bytes between the quotes).
    fn key_value(&mut self, scalar: Scalar) -> Option<Value> {
        let start = self.at;
        match scalar {
            Scalar::NullOnly => None,
            Scalar::Boolean => match self.peek()? {
                b't' => self.literal(b"true").map(|()| Value::Boolean(true)),
                b'f' => self.literal(b"false").map(|()| Value::Boolean(false)),
                _ => None,
            },
            Scalar::String => {
                self.plain_string()?;
                let text = std::str::from_utf8(&self.bytes[start + 1..self.at - 1]).ok()?;
                Some(Value::String(text.to_owned()))
            }
            Scalar::Integer => match self.number()? {
                Number::Integral(Some(v)) => i32::try_from(v).ok().map(Value::Integer),
                _ => None,
            },
            Scalar::BigInt => match self.number()? {
                Number::Integral(Some(v)) => Some(Value::BigInt(v)),
                _ => None,
            },
            // As the API coercer reads them: an integer (`-0` included) through `i64`, a
            // fraction with Rust's correctly rounded parse, which `coerce` uses too.
            #[allow(clippy::cast_precision_loss)] // Java's Number.doubleValue() rounds too.
            Scalar::Double => match self.number()? {
                Number::Integral(Some(v)) => Some(Value::Double(v as f64)),
                Number::Integral(None) => None,
                Number::Fraction => {
                    let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
                    text.parse::<f64>().ok().map(Value::Double)
                }
            },
        }
    }

    fn value(&mut self, scalar: Scalar) -> Option<()> {
        if self.peek() == Some(b'n') {
            return self.literal(b"null");
        }
        match scalar {
            Scalar::NullOnly => None,
            Scalar::Boolean => match self.peek()? {
                b't' => self.literal(b"true"),
                b'f' => self.literal(b"false"),
                _ => None,
            },
            Scalar::String => self.string_value(),
            Scalar::Integer => match self.number()? {
                Number::Integral(Some(v)) => i32::try_from(v).ok().map(|_| ()),
                _ => None,
            },
            Scalar::BigInt => match self.number()? {
                Number::Integral(Some(_)) => Some(()),
                _ => None,
            },
            // Integers must fit a Long (the API coercer refuses a BigInteger); numbers with
            // a fraction and a bounded integer part are always finite.
            Scalar::Double => match self.number()? {
                Number::Integral(None) => None,
                _ => Some(()),
            },
        }
    }
}

/// A number token the fast path read.
enum Number {
    /// No fraction: its value, or `None` beyond `i64`.
    Integral(Option<i64>),
    /// A fraction (a DOUBLE's text).
    Fraction,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::insert_row::decode_insert_row;
    use crate::format::json_value::{decode_value, encode_row_value};
    use crate::format::key::encode_key;
    use crate::log::partition_for_key;
    use crate::types::Column;
    use proptest::prelude::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Column::new("ID", SqlType::BigInt, ColumnKind::Value),
            Column::new("N", SqlType::Integer, ColumnKind::Value),
            Column::new("NAME", SqlType::String, ColumnKind::Value),
            Column::new("AMOUNT", SqlType::Double, ColumnKind::Value),
            Column::new("OK", SqlType::Boolean, ColumnKind::Value),
            Column::new("TS", SqlType::Timestamp, ColumnKind::Value),
            Column::new("lower", SqlType::Integer, ColumnKind::Value),
            Column::new("H", SqlType::Bytes, ColumnKind::Header),
        ])
    }

    fn accepts(line: &str) -> bool {
        CanonicalRowCheck::new(&schema(), KeyFormat::Kafka)
            .expect("keyless")
            .accepts(line.as_bytes())
    }

    #[test]
    fn takes_plain_rows() {
        assert!(accepts(
            r#"{"ID":1,"N":-2,"NAME":"a\"b\\n","AMOUNT":1.5,"OK":true,"TS":null}"#
        ));
        assert!(accepts(
            r#" { "OK" : false , "ID" : 9223372036854775807 } "#
        ));
        assert!(accepts("{}"));
        assert!(accepts(r#"{"AMOUNT":-0,"N":-2147483648}"#));
    }

    #[test]
    fn leaves_everything_else_to_the_full_decoder() {
        for line in [
            r#"{"id":1}"#,                     // case folding
            r#"{"`ID`":1}"#,                   // quoted name
            r#"{"I\u0044":1}"#,                // escaped name
            r#"{"lower":1}"#,                  // upper-cases to LOWER: not the column
            r#"{"H":"aGk="}"#,                 // header column
            r#"{"X":1}"#,                      // unknown field
            r#"{"ID":1,"ID":2}"#,              // repeated
            r#"{"N":2147483648}"#,             // beyond INTEGER
            r#"{"ID":9223372036854775808}"#,   // beyond BIGINT
            r#"{"ID":1.0}"#,                   // fraction for an integer
            r#"{"AMOUNT":1e3}"#,               // exponent
            r#"{"NAME":"\u00e9"}"#,            // \u escape
            "{\"NAME\":\"\u{e9}\"}",           // non-ASCII
            r#"{"NAME":1}"#,                   // wrong type
            r#"{"TS":"2021-01-01T00:00:00"}"#, // temporal text
            r#"{"OK":true"#,                   // truncated
            r#"{"OK":true} x"#,                // trailing bytes
            r#"{"OK":true,}"#,                 // trailing comma
            r#"{"ID":01}"#,                    // leading zero
            r#"[1]"#,
            "",
        ] {
            assert!(!accepts(line), "{line}");
        }
    }

    #[test]
    fn plain_text_stops_at_the_first_special_byte_wherever_it_is() {
        for len in 0..20 {
            for stop in [b'"', b'\\', 0x00, 0x1f, 0x7f + 1, 0xff] {
                let mut bytes = vec![b'a'; len];
                bytes.push(stop);
                bytes.extend_from_slice(b"\"xyz\\ \x01abcdefgh");
                let mut s = Scanner {
                    bytes: &bytes,
                    at: 0,
                };
                s.skip_plain_text();
                assert_eq!(s.at, len, "len {len} stop {stop:#x}");
            }
            // 0x20 and 0x7f are plain: the run goes to the end.
            let bytes = [0x20u8, 0x7f].repeat(len);
            let mut s = Scanner {
                bytes: &bytes,
                at: 0,
            };
            s.skip_plain_text();
            assert_eq!(s.at, bytes.len());
        }
    }

    #[test]
    fn numbers_at_the_edges_of_their_types() {
        assert!(accepts(r#"{"ID":-9223372036854775808,"N":2147483647}"#));
        assert!(!accepts(r#"{"ID":-9223372036854775809}"#));
        assert!(!accepts(r#"{"N":-2147483649}"#));
        assert!(accepts(r#"{"AMOUNT":9223372036854775807,"ID":0}"#));
        assert!(!accepts(r#"{"AMOUNT":9223372036854775808}"#));
        assert!(accepts(r#"{"AMOUNT":92233720368547758080.5}"#));
        assert!(!accepts(r#"{"ID":-}"#));
        assert!(!accepts(r#"{"AMOUNT":1.}"#));
    }

    fn keyed_schema(key_type: SqlType) -> Schema {
        Schema::new(vec![
            Column::new("V", SqlType::Integer, ColumnKind::Value),
            Column::new("K", key_type, ColumnKind::Key),
            Column::new("NAME", SqlType::String, ColumnKind::Value),
            Column::new("TS", SqlType::Timestamp, ColumnKind::Value),
        ])
    }

    fn split(key_type: SqlType, format: KeyFormat, line: &str) -> Option<(Value, String)> {
        let check = CanonicalRowCheck::new(&keyed_schema(key_type), format).expect("fast key");
        assert!(check.is_keyed() && !check.accepts(line.as_bytes()));
        let row = check.keyed_row(line.as_bytes())?;
        let value = row.value_parts(line.as_bytes()).concat();
        Some((row.key, String::from_utf8(value).expect("ASCII")))
    }

    #[test]
    fn keyed_rows_lose_their_key_field() {
        let bigint = |line| split(SqlType::BigInt, KeyFormat::Kafka, line);
        let value = |line| bigint(line).map(|(_, v)| v);
        assert_eq!(
            bigint(r#"{"K":-7,"V":1}"#),
            Some((Value::BigInt(-7), r#"{"V":1}"#.to_owned()))
        );
        assert_eq!(value(r#"{"V":1,"K":2}"#).as_deref(), Some(r#"{"V":1}"#));
        assert_eq!(
            value(r#" { "V" : 1 , "K" : 2 , "NAME" : "a" } "#).as_deref(),
            Some(r#" { "V" : 1 , "NAME" : "a" } "#)
        );
        assert_eq!(
            value(r#"{ "V":1 , "K":2 }"#).as_deref(),
            Some(r#"{ "V":1 }"#)
        );
        assert_eq!(value(r#"{ "K" : 2 }"#).as_deref(), Some("{  }"));
        assert_eq!(
            split(
                SqlType::String,
                KeyFormat::Kafka,
                r#"{"K":"a b","TS":null}"#
            ),
            Some((Value::String("a b".into()), r#"{"TS":null}"#.to_owned()))
        );
        assert_eq!(
            split(SqlType::Integer, KeyFormat::Json, r#"{"K":-0}"#),
            Some((Value::Integer(0), "{}".to_owned()))
        );
        assert_eq!(
            split(SqlType::Double, KeyFormat::Kafka, r#"{"K":-0}"#).map(|r| r.0),
            Some(Value::Double(0.0))
        );
        assert_eq!(
            split(SqlType::Double, KeyFormat::Kafka, r#"{"K":0.1}"#).map(|r| r.0),
            Some(Value::Double(0.1))
        );
        assert_eq!(
            split(SqlType::Boolean, KeyFormat::Json, r#"{"K":true}"#).map(|r| r.0),
            Some(Value::Boolean(true))
        );
    }

    #[test]
    fn keyed_rows_the_full_decoder_must_see() {
        for line in [
            r#"{"V":1}"#,                   // missing key: "Key field must be specified"
            r#"{"K":null,"V":1}"#,          // null key: the same
            r#"{"k":1}"#,                   // case folding
            r#"{"K":1,"K":2}"#,             // repeated key
            r#"{"K":"1"}"#,                 // wrong type
            r#"{"K":1.5}"#,                 // fraction for an integer
            r#"{"K":9223372036854775808}"#, // beyond BIGINT
            r#"{"K":1,"X":1}"#,             // unknown field
            r#"{"K":1,"V":"x"}"#,           // bad value
            r#"{"K":1,}"#,                  // trailing comma
            r#"{"K":1} x"#,                 // trailing bytes
        ] {
            assert_eq!(
                split(SqlType::BigInt, KeyFormat::Kafka, line),
                None,
                "{line}"
            );
        }
        for line in [r#"{"K":"a\nb"}"#, r#"{"K":"\u0041"}"#, "{\"K\":\"\u{e9}\"}"] {
            assert_eq!(
                split(SqlType::String, KeyFormat::Kafka, line),
                None,
                "{line}"
            );
        }
        assert_eq!(
            split(SqlType::Double, KeyFormat::Kafka, r#"{"K":1e3}"#),
            None
        );
        assert_eq!(
            split(SqlType::Integer, KeyFormat::Kafka, r#"{"K":2147483648}"#),
            None
        );
    }

    #[test]
    fn keys_the_fast_path_does_not_read() {
        let fast = |schema: &Schema, format| CanonicalRowCheck::new(schema, format).is_some();
        assert!(!fast(&keyed_schema(SqlType::Boolean), KeyFormat::Kafka));
        assert!(!fast(&keyed_schema(SqlType::Timestamp), KeyFormat::Json));
        assert!(!fast(&keyed_schema(SqlType::BigInt), KeyFormat::None));
        let two_keys = Schema::new(vec![
            Column::new("K1", SqlType::String, ColumnKind::Key),
            Column::new("K2", SqlType::String, ColumnKind::Key),
        ]);
        assert!(!fast(&two_keys, KeyFormat::Json));
        let lower = Schema::new(vec![Column::new("k", SqlType::String, ColumnKind::Key)]);
        assert!(!fast(&lower, KeyFormat::Kafka));
    }

    /// JSON text of every kind, near-misses included.
    fn any_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<i32>().prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|d| format!("{d}")),
            "-?[0-9]{1,3}(\\.[0-9]{0,2})?([eE][0-9])?",
            "\"[ -~]{0,6}\"",
            "\"(\\\\[nt\"/u])?[a-z]{0,3}\"",
            Just("[1]".to_owned()),
        ]
    }

    /// A field, usually a column with a value of its own type, sometimes anything.
    fn field() -> impl Strategy<Value = String> {
        let typed = prop_oneof![
            any::<i64>().prop_map(|i| format!("\"ID\":{i}")),
            any::<i32>().prop_map(|i| format!("\"N\":{i}")),
            "\"[ -~]{0,12}\"".prop_map(|s| format!("\"NAME\":{s}")),
            any::<f64>().prop_map(|d| format!("\"AMOUNT\":{d}")),
            any::<bool>().prop_map(|b| format!("\"OK\":{b}")),
            Just("\"TS\":null".to_owned()),
        ];
        let name = prop_oneof![
            Just("ID"),
            Just("N"),
            Just("NAME"),
            Just("AMOUNT"),
            Just("OK"),
            Just("TS"),
            Just("lower"),
            Just("id"),
            Just("H"),
            Just("X"),
        ];
        let anything = (name, any_value()).prop_map(|(n, v)| format!("\"{n}\":{v}"));
        prop_oneof![4 => typed, 1 => anything]
    }

    fn key_type() -> impl Strategy<Value = (SqlType, KeyFormat)> {
        prop_oneof![
            Just((SqlType::Integer, KeyFormat::Kafka)),
            Just((SqlType::BigInt, KeyFormat::Kafka)),
            Just((SqlType::Double, KeyFormat::Kafka)),
            Just((SqlType::String, KeyFormat::Kafka)),
            Just((SqlType::Integer, KeyFormat::Json)),
            Just((SqlType::BigInt, KeyFormat::Json)),
            Just((SqlType::Double, KeyFormat::Json)),
            Just((SqlType::String, KeyFormat::Json)),
            Just((SqlType::Boolean, KeyFormat::Json)),
        ]
    }

    /// A key field: usually a value of the key's type, sometimes anything.
    fn key_field(key_type: &SqlType) -> impl Strategy<Value = String> {
        let typed: BoxedStrategy<String> = match key_type {
            SqlType::Integer => prop_oneof![
                any::<i32>().prop_map(|i| i.to_string()),
                "-?[0-9]{1,3}",
                Just("2147483648".to_owned()),
            ]
            .boxed(),
            SqlType::BigInt => prop_oneof![
                any::<i64>().prop_map(|i| i.to_string()),
                "-?[0-9]{1,3}",
                Just("-9223372036854775809".to_owned()),
            ]
            .boxed(),
            SqlType::Double => prop_oneof![
                any::<f64>().prop_map(|d| format!("{d}")),
                any::<i64>().prop_map(|i| i.to_string()),
                "-?[0-9]{1,3}(\\.[0-9]{1,2})?",
            ]
            .boxed(),
            SqlType::Boolean => any::<bool>().prop_map(|b| b.to_string()).boxed(),
            _ => "\"[ -~]{0,8}\"".boxed(),
        };
        let value = prop_oneof![6 => typed, 1 => any_value()];
        let name = prop_oneof![8 => Just("ID"), 1 => Just("id"), 1 => Just("`ID`")];
        (name, value).prop_map(|(n, v)| format!("\"{n}\":{v}"))
    }

    /// The main test schema with `ID` as its key column.
    fn keyed_test_schema(key_type: SqlType) -> Schema {
        let mut schema = schema();
        schema.columns[0] = Column::new("ID", key_type, ColumnKind::Key);
        Schema::new(schema.columns)
    }

    proptest! {
        // About a fifth of the generated lines are plain rows: run enough to see many.
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whatever the keyed fast path takes, the full path takes too, with the same key
        /// bytes and partition and a value that reads back as the same values.
        #[test]
        fn keyed_fast_record_is_the_full_record(
            ((key_type, format), key) in key_type()
                .prop_flat_map(|(ty, format)| (Just((ty.clone(), format)), key_field(&ty))),
            at in 0usize..6,
            mut fields in proptest::collection::vec(field(), 0..5),
            ws in "[ \t]{0,1}",
        ) {
            let schema = keyed_test_schema(key_type);
            let check = CanonicalRowCheck::new(&schema, format).expect("fast key");
            fields.insert(at.min(fields.len()), key);
            let line = format!("{ws}{{{}}}{ws}", fields.join(&format!("{ws},{ws}")));
            if let Some(fast) = check.keyed_row(line.as_bytes()) {
                let full = decode_insert_row(line.as_bytes(), &schema);
                let full = match full {
                    Ok(row) => row,
                    Err(e) => return Err(TestCaseError::fail(format!("{line}: {e}"))),
                };
                let key_columns: Vec<&Column> =
                    schema.columns.iter().filter(|c| c.kind == ColumnKind::Key).collect();
                let value_columns: Vec<&Column> =
                    schema.columns.iter().filter(|c| c.kind == ColumnKind::Value).collect();
                let fast_key = encode_key(format, &key_columns, std::slice::from_ref(&fast.key)).expect("key");
                let full_key = encode_key(format, &key_columns, &[full.values[0].clone()])
                    .expect("key");
                prop_assert!(fast_key.is_some());
                prop_assert_eq!(&fast_key, &full_key, "{}", line);
                let partitions = 7;
                prop_assert_eq!(
                    partition_for_key(fast_key.as_deref().expect("some"), partitions),
                    partition_for_key(full_key.as_deref().expect("some"), partitions)
                );
                let mut full_value = Vec::new();
                encode_row_value(&schema, &full.values, &mut full_value);
                let (mut from_fast, mut from_full) = (Vec::new(), Vec::new());
                let fast_value = fast.value_parts(line.as_bytes()).concat();
                decode_value(&fast_value, &value_columns, &mut from_fast).expect("fast value");
                decode_value(&full_value, &value_columns, &mut from_full).expect("full value");
                prop_assert_eq!(from_fast, from_full, "{}", line);
            }
        }
    }

    proptest! {
        /// Whatever the fast path takes, the full decoder takes and calls canonical.
        #[test]
        fn fast_yes_means_full_canonical(
            fields in proptest::collection::vec(field(), 0..6),
            ws in "[ \t]{0,1}",
        ) {
            let line = format!("{ws}{{{}}}{ws}", fields.join(&format!("{ws},{ws}")));
            if accepts(&line) {
                let row = decode_insert_row(line.as_bytes(), &schema());
                prop_assert!(matches!(&row, Ok(r) if r.value_is_canonical), "{line}: {row:?}");
            }
        }
    }
}
