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
//! It is deliberately conservative: it says yes only when the full decoder would accept the
//! line *and* call it canonical; for anything else (errors, quoted or escaped names,
//! non-ASCII text, `\u` escapes, exponents, nested values, DECIMAL or temporal columns…) it
//! says no and the caller runs the full decoder, which produces the right value or the
//! right error. A property test checks that every line it accepts, the full decoder accepts
//! as canonical.
//!
//! [`Value`]: crate::types::Value

use super::json_text::plain_text_len;
use crate::types::{ColumnKind, Schema, SqlType};

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
}

impl CanonicalRowCheck {
    /// `None` when no line could be canonical for this schema on the fast path: a schema
    /// with key columns (the value never equals the line), or too many value columns.
    pub fn new(schema: &Schema) -> Option<CanonicalRowCheck> {
        if schema.columns.iter().any(|c| c.kind == ColumnKind::Key) {
            return None;
        }
        let columns: Vec<FastColumn> = schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Value && unquoted_spells(&c.name))
            .map(|c| FastColumn {
                name: c.name.as_bytes().into(),
                scalar: scalar_of(&c.ty),
            })
            .collect();
        (columns.len() <= FAST_PATH_COLUMNS_MAX).then_some(CanonicalRowCheck { columns })
    }

    /// True when `line` (without its newline) is a JSON object the full decoder would accept
    /// and store byte for byte. False means "not known": run the full decoder.
    pub fn accepts(&self, line: &[u8]) -> bool {
        self.scan(line).is_some()
    }

    fn scan(&self, line: &[u8]) -> Option<()> {
        let mut s = Scanner { bytes: line, at: 0 };
        s.skip_ws();
        s.expect(b'{')?;
        s.skip_ws();
        let mut seen: u64 = 0;
        // Fields usually come in column order: try the next column first.
        let mut next = 0;
        if s.peek() == Some(b'}') {
            s.at += 1;
        } else {
            loop {
                let name = s.plain_string()?;
                let i = self.column_named(name, next)?;
                let bit = 1u64 << i;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                next = i + 1;
                s.skip_ws();
                s.expect(b':')?;
                s.skip_ws();
                s.value(self.columns[i].scalar)?;
                s.skip_ws();
                match s.next_byte()? {
                    b',' => s.skip_ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        s.skip_ws();
        (s.at == line.len()).then_some(())
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
        CanonicalRowCheck::new(&schema())
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

    #[test]
    fn keyed_schemas_are_never_fast() {
        let keyed = Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            Column::new("V", SqlType::Integer, ColumnKind::Value),
        ]);
        assert!(CanonicalRowCheck::new(&keyed).is_none());
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
