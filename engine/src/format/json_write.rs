//! The JSON writers: a `Value` spelled as ksqlDB's JSON serializer writes it into a topic
//! (stored bytes, see `json_value` for the canonical form) or as its REST API renders it in
//! a query result. Split from `json_value` (which decodes and encodes whole record values)
//! because the writing rules are their own subject and both the value format and the key
//! format use them.

use super::decimal_text::write_java_big_decimal;
use super::java_double::write_java_double;
use super::java_hash_map::{iteration_order_for, Sizing};
use super::json_text::{write_base64_string, write_i64, write_json_string, write_stored_json_string};
use crate::types::Value;

/// How TIMESTAMP, DATE and TIME are written: the difference between a value stored in a
/// topic (epoch numbers, as ksqlDB's JSON serializer writes them) and a value in a query
/// result (ISO text, as ksqlDB's REST API shows them; ksqldb-api.md §7). `Numbers` also
/// spells the rest as the serializer does (see `Flavor::Stored`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalJson {
    /// Epoch milliseconds, days since the epoch, milliseconds of the day.
    Numbers,
    /// `2021-03-04T05:06:07.123`, `2021-03-04`, `12:34:56` / `12:34`.
    IsoText,
}

/// Which of ksqlDB's JSON writers a value is spelled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// A query result, as ksqlDB's REST API renders it: temporal types as ISO text, DECIMAL
    /// in plain notation, text as UTF-8.
    Rendered,
    /// A record value or key in a topic, as ksqlDB's JSON serializer writes it (the module
    /// docs): temporal types as numbers, DECIMAL as `BigDecimal.toString`, characters above
    /// U+FFFF as escaped surrogate pairs, MAP entries in the order the value holds them.
    Stored,
    /// [`Flavor::Stored`] for a row sent to `/inserts-stream` (or `INSERT … VALUES`), whose
    /// every MAP ksqlDB's coercer rebuilt as a `new HashMap<>()`: entries in that map's
    /// iteration order ([`super::java_hash_map`]).
    Inserted,
}

impl Flavor {
    fn stored(self) -> bool {
        self != Flavor::Rendered
    }

    fn string(self, s: &str, out: &mut Vec<u8>) {
        if self.stored() {
            write_stored_json_string(s, out);
        } else {
            write_json_string(s, out);
        }
    }
}

/// Appends `value` in its stored JSON form (see the module docs).
pub fn write_stored_json(value: &Value, out: &mut Vec<u8>) {
    write_json(value, Flavor::Stored, out);
}

/// Appends `value` as JSON: DOUBLE as Java prints it (non-finite values quoted, as Jackson
/// does), BYTES as base64, MAP keys as strings; with `TemporalJson::IsoText` as a query
/// result shows it (DECIMAL in plain notation keeping its scale), with
/// `TemporalJson::Numbers` as the JSON format stores it (`write_stored_json`).
pub fn write_json_value(value: &Value, temporal: TemporalJson, out: &mut Vec<u8>) {
    let flavor = match temporal {
        TemporalJson::Numbers => Flavor::Stored,
        TemporalJson::IsoText => Flavor::Rendered,
    };
    write_json(value, flavor, out);
}

pub(super) fn write_json(value: &Value, flavor: Flavor, out: &mut Vec<u8>) {
    use crate::types::temporal as text;
    let iso = !flavor.stored();
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => write_i64(i64::from(*i), out),
        Value::BigInt(i) => write_i64(*i, out),
        Value::Timestamp(ms) if iso => write_quoted_ascii(&text::format_timestamp(*ms), out),
        Value::Timestamp(ms) => write_i64(*ms, out),
        Value::Date(days) if iso => write_quoted_ascii(&text::format_date(*days), out),
        Value::Date(days) => write_i64(i64::from(*days), out),
        Value::Time(ms) if iso => write_quoted_ascii(&text::format_time(*ms), out),
        Value::Time(ms) => write_i64(i64::from(*ms), out),
        Value::Double(d) => {
            if d.is_finite() {
                write_java_double(*d, out);
            } else {
                out.push(b'"');
                write_java_double(*d, out);
                out.push(b'"');
            }
        }
        Value::Decimal(d) if iso => {
            use std::io::Write as _;
            write!(out, "{d}").expect("writing to a Vec never fails");
        }
        Value::Decimal(d) => write_java_big_decimal(*d, out),
        Value::String(s) => flavor.string(s, out),
        Value::Bytes(b) => write_base64_string(b, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, flavor, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            let ordered = match flavor {
                Flavor::Inserted => iteration_order_for(entries, Sizing::Default),
                Flavor::Rendered | Flavor::Stored => entries.iter().collect(),
            };
            out.push(b'{');
            for (i, (k, v)) in ordered.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_map_key(k, flavor, out);
                out.push(b':');
                write_json(v, flavor, out);
            }
            out.push(b'}');
        }
        Value::Struct(fields) => {
            out.push(b'{');
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                flavor.string(name, out);
                out.push(b':');
                write_json(v, flavor, out);
            }
            out.push(b'}');
        }
    }
}

/// Temporal text is plain ASCII digits and punctuation: no escaping needed.
fn write_quoted_ascii(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// JSON object keys must be strings: a STRING key as itself, any other key as the text of
/// its rendering without surrounding quotes (Jackson's key serializer calls `toString`).
fn write_map_key(key: &Value, flavor: Flavor, out: &mut Vec<u8>) {
    match key {
        Value::String(s) => flavor.string(s, out),
        other => {
            let mut text = Vec::new();
            write_json(other, flavor, &mut text);
            let text = String::from_utf8_lossy(&text);
            let bare = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(&text);
            flavor.string(bare, out);
        }
    }
}

/// Appends the stored map key for `key` (see [`write_stored_json`]): the text the fast path
/// writes for a MAP key that is not a STRING.
pub(crate) fn write_stored_map_key(key: &Value, out: &mut Vec<u8>) {
    write_map_key(key, Flavor::Stored, out);
}
