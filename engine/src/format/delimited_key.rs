//! The `DELIMITED` key format: the key columns as one line of comma-separated values, as
//! ksqlDB's `KsqlDelimitedSerializer` writes them through Commons CSV (`CSVFormat.DEFAULT`,
//! minimal quoting) and its deserializer reads them back.
//!
//! | SQL type | text |
//! |---|---|
//! | STRING | the string; quoted (`"a,b"`, `""` for a quote) when Commons CSV would quote it |
//! | INTEGER, BIGINT, BOOLEAN | decimal digits, `true`/`false` |
//! | DOUBLE | Java's `Double.toString` |
//! | DECIMAL | Java's `BigDecimal.toPlainString` (never scientific) |
//! | TIMESTAMP, DATE, TIME | epoch milliseconds, epoch days, milliseconds of the day |
//! | BYTES | base64 |
//! | null | an empty field |
//!
//! Reading takes the first record of the text, as Commons CSV parses it: empty lines before
//! it are skipped, a line break outside quotes (a producer's trailing `\r\n`) ends it, and
//! text with no record at all is an error (ksqlDB's "No fields in record").
//!
//! Why this format matters beyond ksqlDB's tests: it is how a key written as plain text by
//! any producer (`kafka-console-producer`, a script) is read as a number. The delimiter is
//! `,` unless the source's `KEY_DELIMITER` names another ([`parse_delimiter`]); ARRAY, MAP
//! and STRUCT keys are refused as ksqlDB refuses them.

use std::borrow::{Borrow, Cow};

use base64::Engine as _;
use bytes::Bytes;

use super::decimal_text::{fit, parse_decimal, Rounding};
use super::java_double::write_java_double;
use crate::error::{EngineError, Result};
use crate::types::{Column, SqlType, Value};

/// The field delimiter when `KEY_DELIMITER` names none (ksqlDB's default).
pub const DEFAULT_DELIMITER: u8 = b',';
const QUOTE: u8 = b'"';

/// A `KEY_DELIMITER` value as ksqlDB reads it: one character, or `TAB` or `SPACE`. Only
/// ASCII characters other than the quote and line breaks can delimit here.
pub fn parse_delimiter(value: &str) -> Result<u8> {
    let delimiter = match value {
        v if v.eq_ignore_ascii_case("TAB") => b'\t',
        v if v.eq_ignore_ascii_case("SPACE") => b' ',
        v => match v.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\r' | b'\n') => *b,
            _ => {
                return Err(EngineError::statement(format!(
                    "Invalid delimiter value: '{value}'. Delimiter must be a single \
                     character or TAB,SPACE\nExample valid value: ';'"
                )))
            }
        },
    };
    Ok(delimiter)
}

/// Checks the key columns can use the `DELIMITED` format: primitive types only (ksqlDB's
/// text).
pub fn validate_delimited_key_columns<C: Borrow<Column>>(columns: &[C]) -> Result<()> {
    match columns.iter().map(Borrow::borrow).find(|c| !is_primitive(&c.ty)) {
        Some(c) => Err(unsupported(c)),
        None => Ok(()),
    }
}

fn is_primitive(ty: &SqlType) -> bool {
    !matches!(
        ty,
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
    )
}

fn unsupported(column: &Column) -> EngineError {
    EngineError::unsupported(format!(
        "The 'DELIMITED' format does not support type '{}'",
        column.ty.base_name()
    ))
}

/// Serializes the key values (one per column) as one delimited line; `None` when every
/// value is null (no key).
pub fn serialize_delimited_key<C: Borrow<Column>>(
    columns: &[C],
    values: &[Value],
    delimiter: u8,
) -> Result<Option<Bytes>> {
    validate_delimited_key_columns(columns)?;
    if values.iter().all(Value::is_null) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(16 * values.len());
    // A value's text before quoting; one buffer for the whole key.
    let mut text = Vec::new();
    for (i, (column, value)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let field: &[u8] = match value {
            Value::Null => continue,
            Value::String(s) => s.as_bytes(),
            other => {
                text.clear();
                write_text(column.borrow(), other, &mut text)?;
                &text
            }
        };
        write_field(field, i == 0, delimiter, &mut out);
    }
    Ok(Some(Bytes::from(out)))
}

/// A non-string, non-null value's text, before quoting.
fn write_text(column: &Column, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    use std::io::Write as _;
    let written = match value {
        Value::Boolean(b) => write!(out, "{b}"),
        Value::Integer(i) | Value::Date(i) | Value::Time(i) => write!(out, "{i}"),
        Value::BigInt(i) | Value::Timestamp(i) => write!(out, "{i}"),
        Value::Double(d) => {
            write_java_double(*d, out);
            Ok(())
        }
        // ksqlDB: "Avoid scientific notation" (`toPlainString`), which Display is.
        Value::Decimal(d) => write!(out, "{d}"),
        Value::Bytes(b) => {
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(b).as_bytes());
            Ok(())
        }
        Value::Null | Value::String(_) => Ok(()),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => return Err(unsupported(column)),
    };
    written.map_err(|e| EngineError::internal(format!("writing to memory failed: {e}")))
}

/// Writes one field as Commons CSV's minimal quoting does: quoted when it is empty and
/// first on the line, starts with a character up to `#`, holds a delimiter, quote or line
/// break, or ends in a space or control character.
fn write_field(bytes: &[u8], first: bool, delimiter: u8, out: &mut Vec<u8>) {
    let quote = match (bytes.first(), bytes.last()) {
        (Some(&c), Some(&last)) => {
            c <= b'#'
                || last <= b' '
                || bytes
                    .iter()
                    .any(|&b| b == delimiter || matches!(b, b'\n' | b'\r' | QUOTE))
        }
        _ => first,
    };
    if !quote {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(QUOTE);
    for &b in bytes {
        if b == QUOTE {
            out.push(QUOTE);
        }
        out.push(b);
    }
    out.push(QUOTE);
}

/// Deserializes a delimited key line, pushing one value per column onto `out`.
pub fn deserialize_delimited_key<C: Borrow<Column>>(
    columns: &[C],
    bytes: &[u8],
    delimiter: u8,
    out: &mut Vec<Value>,
) -> Result<()> {
    validate_delimited_key_columns(columns)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| bad_key(format!("the key is not valid UTF-8: {e}")))?;
    let fields = split_line(text, delimiter)?;
    if fields.len() != columns.len() {
        return Err(bad_key(format!(
            "Unexpected field count, csvFields:{} schemaFields:{}",
            fields.len(),
            columns.len()
        )));
    }
    for (column, field) in columns.iter().zip(fields) {
        out.push(parse_field(column.borrow(), &field)?);
    }
    Ok(())
}

fn bad_key(message: String) -> EngineError {
    EngineError::bad_request(format!("Failed to deserialize key: {message}"))
}

/// The fields of the first CSV record in `text` (Commons CSV's default format: `"` quotes,
/// `""` inside quotes is one quote, a line break outside quotes ends the record). Unquoted
/// fields borrow from `text`. The delimiter, quote and line breaks are ASCII, so scanning
/// bytes never splits a character.
fn split_line(text: &str, delimiter: u8) -> Result<Vec<Cow<'_, str>>> {
    let text = text.trim_start_matches(['\r', '\n']);
    if text.is_empty() {
        return Err(bad_key("No fields in record".into()));
    }
    let bytes = text.as_bytes();
    let ends_record = |b: u8| matches!(b, b'\r' | b'\n');
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        if bytes.get(at) == Some(&QUOTE) {
            let mut field = String::new();
            let mut from = at + 1;
            loop {
                let Some(q) = bytes[from..].iter().position(|&b| b == QUOTE) else {
                    return Err(bad_key("a quoted field is not closed".into()));
                };
                field.push_str(&text[from..from + q]);
                at = from + q + 1;
                if bytes.get(at) != Some(&QUOTE) {
                    break;
                }
                field.push('"');
                from = at + 1;
            }
            fields.push(Cow::Owned(field));
            match bytes.get(at) {
                None => return Ok(fields),
                Some(&b) if ends_record(b) => return Ok(fields),
                Some(&b) if b == delimiter => at += 1,
                Some(_) => {
                    let c = text[at..].chars().next().unwrap_or_default();
                    return Err(bad_key(format!(
                        "invalid character '{c}' after a quoted field"
                    )));
                }
            }
            continue;
        }
        let end = bytes[at..]
            .iter()
            .position(|&b| b == delimiter || ends_record(b))
            .map_or(bytes.len(), |n| at + n);
        fields.push(Cow::Borrowed(&text[at..end]));
        match bytes.get(end) {
            Some(&b) if b == delimiter => at = end + 1,
            _ => return Ok(fields),
        }
    }
}

/// One field as its column's type: an empty field is null, as ksqlDB reads it.
fn parse_field(column: &Column, field: &str) -> Result<Value> {
    if field.is_empty() {
        return Ok(Value::Null);
    }
    let invalid = || {
        bad_key(format!(
            "'{field}' is not a valid {} for key column `{}`",
            column.ty, column.name
        ))
    };
    let value = match &column.ty {
        SqlType::Boolean => Value::Boolean(field.eq_ignore_ascii_case("true")),
        SqlType::Integer => Value::Integer(field.parse().map_err(|_| invalid())?),
        SqlType::BigInt => Value::BigInt(field.parse().map_err(|_| invalid())?),
        SqlType::Timestamp => Value::Timestamp(field.parse().map_err(|_| invalid())?),
        SqlType::Date => Value::Date(field.parse().map_err(|_| invalid())?),
        SqlType::Time => Value::Time(field.parse().map_err(|_| invalid())?),
        SqlType::Double => Value::Double(field.trim().parse().map_err(|_| invalid())?),
        SqlType::Decimal { precision, scale } => {
            let parsed = parse_decimal(field).ok_or_else(invalid)?;
            Value::Decimal(
                fit(parsed, *precision, *scale, Rounding::Unnecessary).map_err(|_| invalid())?,
            )
        }
        SqlType::String => Value::String(field.to_string()),
        SqlType::Bytes => Value::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(field)
                .map_err(|_| invalid())?,
        ),
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            return Err(EngineError::unsupported(format!(
                "The 'DELIMITED' format does not support type '{}'",
                column.ty.base_name()
            )))
        }
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ColumnKind, Decimal};

    fn key(name: &str, ty: SqlType) -> Column {
        Column::new(name, ty, ColumnKind::Key)
    }

    fn text(columns: &[Column], values: Vec<Value>) -> Option<String> {
        let refs: Vec<&Column> = columns.iter().collect();
        let bytes = serialize_delimited_key(&refs, &values, b',').expect("serializes")?;
        let mut back = Vec::new();
        deserialize_delimited_key(&refs, &bytes, b',', &mut back).expect("deserializes");
        let expected: Vec<Value> = values
            .into_iter()
            .map(|v| match v {
                Value::String(s) if s.is_empty() => Value::Null,
                v => v,
            })
            .collect();
        assert_eq!(back, expected, "round trip");
        Some(String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    #[test]
    fn each_type_is_written_as_ksqldb_writes_it() {
        let cases: Vec<(SqlType, Value, &str)> = vec![
            (SqlType::Integer, Value::Integer(10), "10"),
            (SqlType::BigInt, Value::BigInt(-9_000_000_000), "-9000000000"),
            (SqlType::Boolean, Value::Boolean(true), "true"),
            (SqlType::Double, Value::Double(1.5), "1.5"),
            (SqlType::Double, Value::Double(1e10), "1.0E10"),
            (
                SqlType::Decimal {
                    precision: 4,
                    scale: 2,
                },
                Value::Decimal(Decimal::new(1230, 2)),
                "12.30",
            ),
            (
                SqlType::Decimal {
                    precision: 10,
                    scale: 8,
                },
                Value::Decimal(Decimal::new(12, 8)),
                "0.00000012",
            ),
            (SqlType::String, Value::String("abc".into()), "abc"),
            (SqlType::Timestamp, Value::Timestamp(1_600_000_000_000), "1600000000000"),
            (SqlType::Date, Value::Date(18_000), "18000"),
            (SqlType::Time, Value::Time(3_600_000), "3600000"),
            (SqlType::Bytes, Value::Bytes(vec![0, 1, 255]), "AAH/"),
        ];
        for (ty, value, want) in cases {
            assert_eq!(
                text(&[key("K", ty.clone())], vec![value]).as_deref(),
                Some(want),
                "{ty}"
            );
        }
    }

    #[test]
    fn strings_are_quoted_where_commons_csv_quotes_them() {
        let k = [key("K", SqlType::String)];
        for (value, want) in [
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("line\nbreak", "\"line\nbreak\""),
            ("#tag", "\"#tag\""),
            (" lead", "\" lead\""),
            ("trail ", "\"trail \""),
            ("mid space", "mid space"),
            ("", "\"\""),
        ] {
            assert_eq!(
                text(&k, vec![Value::String(value.into())]).as_deref(),
                Some(want),
                "{value:?}"
            );
        }
    }

    #[test]
    fn several_columns_share_a_line_and_nulls_are_empty_fields() {
        let cols = [
            key("A", SqlType::Integer),
            key("B", SqlType::String),
            key("C", SqlType::BigInt),
        ];
        assert_eq!(
            text(
                &cols,
                vec![Value::Integer(1), Value::String("x,y".into()), Value::BigInt(3)]
            )
            .as_deref(),
            Some("1,\"x,y\",3")
        );
        assert_eq!(
            text(&cols, vec![Value::Null, Value::String("x".into()), Value::Null]).as_deref(),
            Some(",x,")
        );
        assert_eq!(text(&cols, vec![Value::Null, Value::Null, Value::Null]), None);
    }

    #[test]
    fn another_delimiter_splits_and_quotes_by_itself() {
        let cols = [key("A", SqlType::Integer), key("B", SqlType::String)];
        let refs: Vec<&Column> = cols.iter().collect();
        let values = [Value::Integer(1), Value::String("x,y|z".into())];
        let bytes = serialize_delimited_key(&refs, &values, b'|')
            .expect("serializes")
            .expect("a key");
        assert_eq!(&bytes[..], b"1|\"x,y|z\"");
        let mut back = Vec::new();
        deserialize_delimited_key(&refs, b"2|a,b", b'|', &mut back).expect("deserializes");
        assert_eq!(back, [Value::Integer(2), Value::String("a,b".into())]);
        assert_eq!(parse_delimiter("|").ok(), Some(b'|'));
        assert_eq!(parse_delimiter("tab").ok(), Some(b'\t'));
        assert_eq!(parse_delimiter("SPACE").ok(), Some(b' '));
        for bad in ["", "ab", "\"", "\n", "é"] {
            let err = parse_delimiter(bad).expect_err(bad).to_string();
            assert!(err.starts_with("Invalid delimiter value"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_trailing_line_break_ends_the_record() {
        let cols = [key("A", SqlType::BigInt), key("B", SqlType::String)];
        let refs: Vec<&Column> = cols.iter().collect();
        for line in [
            "1511897796092,item_1\r\n",
            "1511897796092,item_1\n",
            "1511897796092,\"item_1\"\r\nrest",
            "\r\n\n1511897796092,item_1",
        ] {
            let mut out = Vec::new();
            deserialize_delimited_key(&refs, line.as_bytes(), b',', &mut out).expect(line);
            assert_eq!(
                out,
                [Value::BigInt(1_511_897_796_092), Value::String("item_1".into())],
                "{line:?}"
            );
        }
    }

    #[test]
    fn bad_lines_and_types_are_refused_with_reasons() {
        let int = key("K", SqlType::Integer);
        let two = [&int, &int];
        for (columns, line, says) in [
            (&[&int][..], "abc", "not a valid INTEGER"),
            (&[&int][..], "1,2", "Unexpected field count, csvFields:2 schemaFields:1"),
            (&two[..], "1", "Unexpected field count, csvFields:1 schemaFields:2"),
            (&[&int][..], "\"1", "not closed"),
            (&[&int][..], "\"1\"x", "after a quoted field"),
            (&[&int][..], "99999999999", "not a valid INTEGER"),
            (&[&int][..], "", "No fields in record"),
            (&[&int][..], "\r\n", "No fields in record"),
        ] {
            let mut out = Vec::new();
            let err = deserialize_delimited_key(columns, line.as_bytes(), b',', &mut out)
                .expect_err(line)
                .to_string();
            assert!(err.contains(says), "{line}: {err}");
        }
        let array = key("K", SqlType::Array(Box::new(SqlType::Integer)));
        let err = validate_delimited_key_columns(&[&array]).expect_err("no arrays");
        assert_eq!(
            err.to_string(),
            "The 'DELIMITED' format does not support type 'ARRAY'"
        );
    }
}
