//! The `JSON` value format: a record value is a JSON object with one field per value column.
//!
//! # Stored bytes: ksqlDB's, byte for byte
//!
//! Encoding writes exactly the bytes ksqlDB would have written, because the Kafka backend
//! exposes them to other clients. ksqlDB serializes a row with Kafka Connect's
//! `JsonConverter` (`schemas.enable=false`, `decimal.format=NUMERIC`;
//! `KsqlJsonSerdeFactory`) over a Connect `Struct`, and Jackson's `ObjectMapper` writes the
//! resulting tree with its default features. That fixes the *canonical* form of a record
//! value, which every ingest path ([`encode_row_value`], and the fast path
//! [`super::canonical_row`]) must produce:
//! - an object with the value columns in schema order (key and header columns left out), each
//!   as `"NAME":value` with no whitespace; a null or absent column is `null`;
//! - BOOLEAN `true`/`false`; INTEGER and BIGINT as decimal integers (`0`, never `-0`);
//! - DOUBLE as Java's `Double.toString` (`1.5`, `100.0`, `1.0E7`, `1.0E-4`, with the
//!   shortest digits that round-trip, as JDK 19+ prints them: on JDK 17, about one
//!   arbitrary double in a thousand prints longer, `1e23` as `9.999999999999999E22`); NaN and
//!   the infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (Jackson's
//!   `QUOTE_NON_NUMERIC_NUMBERS`);
//! - DECIMAL as `BigDecimal.toString` at the column's scale: `12.10`, and scientific once the
//!   adjusted exponent is below -6 (`1.2E-7`, `0E-8`);
//! - STRING escaped as Jackson's UTF-8 generator does: `\"`, `\\`, `\b \t \n \f \r`,
//!   `\u00XX` (upper-case hex) for other control characters, `\uXXXX\uXXXX` for characters
//!   above U+FFFF, and everything else (`/`, DEL, other non-ASCII) as UTF-8;
//! - BYTES as padded standard base64; TIMESTAMP, DATE and TIME as epoch milliseconds, days
//!   since the epoch and milliseconds of the day;
//! - ARRAY elements in order; STRUCT fields in declared order under their declared names,
//!   absent ones `null`; MAP entries in the iteration order of the Java `HashMap` ksqlDB
//!   holds them in (an inserted row's: `new HashMap<>()`, see [`super::java_hash_map`]);
//! - with `WRAP_SINGLE_VALUE=false`, the one value column's bare value, and no value at all
//!   (a tombstone) when it is null.
//!
//! Decoding reads as `KsqlJsonDeserializer` does ([`CoercionMode::KafkaJson`]): fields match
//! a column exactly or upper-cased, missing fields are null, unknown fields are ignored.
//!
//! [`CoercionMode::KafkaJson`]: super::coerce::CoercionMode::KafkaJson

use std::borrow::Borrow;
use std::ops::Range;

use sonic_rs::LazyValue;

use super::coerce::{self, classify, Json};
use super::json_write::{write_json, Flavor};
pub(crate) use super::json_write::write_stored_map_key;
pub use super::json_write::{write_json_value, write_stored_json, TemporalJson};
use super::json_text::{
    exceeds_nesting_depth, write_stored_json_string,
    JSON_NESTING_DEPTH_MAX,
};
use crate::error::{EngineError, ErrorCode, Result};
use crate::types::{Column, ColumnKind, Schema, SqlType, Value};

/// Appends the JSON object `{"COL":v,…}` for `values`, one per column, in order.
///
/// `columns` and `values` must have the same length (a caller bug otherwise).
pub fn encode_value<C: Borrow<Column>>(columns: &[C], values: &[Value], out: &mut Vec<u8>) {
    debug_assert_eq!(columns.len(), values.len(), "one value per value column");
    out.push(b'{');
    for (i, (column, value)) in columns.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_stored_json_string(&column.borrow().name, out);
        out.push(b':');
        write_stored_json(value, out);
    }
    out.push(b'}');
}

/// Appends the record value for a full row (one value per schema column, schema order):
/// only the [`ColumnKind::Value`] columns are written.
pub fn encode_row_value(schema: &Schema, row: &[Value], out: &mut Vec<u8>) {
    debug_assert_eq!(
        schema.columns.len(),
        row.len(),
        "one value per schema column"
    );
    out.push(b'{');
    let mut first = true;
    for (column, value) in schema.columns.iter().zip(row) {
        if column.kind != ColumnKind::Value {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_stored_json_string(&column.name, out);
        out.push(b':');
        write_json(value, Flavor::Inserted, out);
    }
    out.push(b'}');
}

/// Appends a single column's value unwrapped (`WRAP_SINGLE_VALUE=false`): the bare JSON value.
pub fn encode_value_unwrapped(value: &Value, out: &mut Vec<u8>) {
    write_stored_json(value, out);
}

/// [`encode_value_unwrapped`] for an inserted row (maps in `new HashMap<>()` order, as
/// [`encode_row_value`] writes them).
pub fn encode_row_value_unwrapped(value: &Value, out: &mut Vec<u8>) {
    write_json(value, Flavor::Inserted, out);
}

/// True when a record value is a tombstone: no bytes, or the JSON text `null` (which
/// `KsqlJsonDeserializer` reads as a null row). Check this before [`decode_value`].
pub fn is_tombstone(bytes: Option<&[u8]>) -> bool {
    match bytes {
        None => true,
        Some(b) => b.trim_ascii() == b"null",
    }
}

/// Parses a stored JSON object and pushes one [`Value`] per column onto `out`, in order.
///
/// Errors (as `BadRequest`, because the bytes came from whoever produced to the topic) for
/// invalid JSON, a value that is not an object (including JSON `null`: see [`is_tombstone`]),
/// and fields that cannot be read as their column's type, with ksqlDB's message and path.
pub fn decode_value<C: Borrow<Column>>(
    bytes: &[u8],
    columns: &[C],
    out: &mut Vec<Value>,
) -> Result<()> {
    let fields = ValueFields::new(columns);
    out.reserve(columns.len());
    if std::str::from_utf8(bytes).is_ok() {
        let mut spans = vec![(None, None); fields.len()];
        if fields.scan_flat(bytes, &mut spans) {
            for (i, (exact, upper)) in spans.into_iter().enumerate() {
                let text = exact.or(upper).map(|span| &bytes[span]);
                out.push(fields.coerce_text(i, text)?);
            }
            return Ok(());
        }
    }
    decode_fields(&fields, bytes, out)
}

/// [`decode_value`] without its flat-scan fast path: the model the `row_decoder` fuzz target
/// holds the fast path to.
pub fn decode_value_general<C: Borrow<Column>>(
    bytes: &[u8],
    columns: &[C],
    out: &mut Vec<Value>,
) -> Result<()> {
    decode_fields(&ValueFields::new(columns), bytes, out)
}

/// The general (sonic-rs) path of [`decode_value`].
fn decode_fields(fields: &ValueFields, bytes: &[u8], out: &mut Vec<Value>) -> Result<()> {
    let mut slots = vec![(None, None); fields.len()];
    fields.scan(bytes, &mut slots)?;
    for (i, slot) in slots.into_iter().enumerate() {
        out.push(fields.coerce(i, pick(slot).as_ref())?);
    }
    Ok(())
}

/// A value column's field in one record: (exact-name match, upper-cased-name match). The
/// exact one wins and a later field replaces an earlier one, as `KsqlJsonDeserializer`'s
/// Java map lookups do. See [`pick`].
pub(crate) type FieldSlot<'a> = (Option<LazyValue<'a>>, Option<LazyValue<'a>>);

/// The field a column reads from its slot: the exact-name match, else the upper-cased one.
pub(crate) fn pick(slot: FieldSlot<'_>) -> Option<LazyValue<'_>> {
    slot.0.or(slot.1)
}

/// The value columns of a source, prepared once per query so each record's fields are
/// matched to columns in one sonic-rs pass without allocating: a field name is compared by
/// its bytes first (fields usually arrive in column order, so the column after the last
/// match is tried first), and upper-cased only when it has lower-case or non-ASCII letters
/// (an all-upper-case ASCII name upper-cases to itself, so its only match is the exact one).
pub(crate) struct ValueFields {
    names: Vec<String>,
    types: Vec<SqlType>,
}

impl ValueFields {
    pub(crate) fn new<C: Borrow<Column>>(columns: &[C]) -> ValueFields {
        ValueFields {
            names: columns.iter().map(|c| c.borrow().name.clone()).collect(),
            types: columns.iter().map(|c| c.borrow().ty.clone()).collect(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn ty(&self, i: usize) -> &SqlType {
        &self.types[i]
    }

    /// Validates `bytes` as exactly one JSON object (whitespace around it allowed) and fills
    /// `slots` (one per column, all empty) with the fields that match each column.
    pub(crate) fn scan<'a>(&self, bytes: &'a [u8], slots: &mut [FieldSlot<'a>]) -> Result<()> {
        debug_assert_eq!(slots.len(), self.names.len(), "one slot per value column");
        // sonic-rs does not validate UTF-8 of a `&str`; checking here also lets it skip its
        // own check.
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(invalid_json("invalid UTF-8"));
        };
        if exceeds_nesting_depth(bytes) {
            return Err(EngineError::bad_request(format!(
                "Failed to deserialize value: JSON nests deeper than {JSON_NESTING_DEPTH_MAX} levels"
            )));
        }
        let open = skip_json_whitespace(bytes, 0);
        if bytes.get(open) != Some(&b'{') {
            // Not an object: let the general parser say what it is (or why it is invalid).
            let lv = parse_record(bytes)?;
            return Err(EngineError::bad_request(format!(
                "Failed to deserialize value: expected a JSON object, got {}",
                kind_name(&lv)
            )));
        }
        // The object iterator validates every value it skips over (strict mode), so one
        // pass both validates and reads; only what follows the object is left to check.
        let mut end = open + 1;
        let mut hint = 0;
        for entry in sonic_rs::to_object_iter(text) {
            let (key, value) = entry.map_err(|e| invalid_json(&e.to_string()))?;
            end = span_in(bytes, value.as_raw_str().as_bytes()).end;
            self.assign(key.as_bytes(), value, &mut hint, slots);
        }
        let close = skip_json_whitespace(bytes, end);
        if bytes.get(close) != Some(&b'}') || skip_json_whitespace(bytes, close + 1) != bytes.len()
        {
            return Err(invalid_json("trailing characters after the object"));
        }
        Ok(())
    }

    /// Puts one field into the slots of the columns it matches.
    pub(super) fn assign<T: Clone>(
        &self,
        key: &[u8],
        value: T,
        hint: &mut usize,
        slots: &mut [(Option<T>, Option<T>)],
    ) {
        let n = self.names.len();
        let mut exact = None;
        for k in 0..n {
            let i = if *hint + k >= n {
                *hint + k - n
            } else {
                *hint + k
            };
            if self.names[i].as_bytes() == key {
                exact = Some(i);
                *hint = if i + 1 == n { 0 } else { i + 1 };
                break;
            }
        }
        if key.iter().any(|b| b.is_ascii_lowercase() || !b.is_ascii()) {
            // Keys come from UTF-8 text (sonic's, or the flat scanner's ASCII).
            let key = String::from_utf8_lossy(key);
            for (i, name) in self.names.iter().enumerate() {
                if Some(i) != exact && coerce::upper_eq(&key, name) {
                    slots[i].1 = Some(value.clone());
                }
            }
        }
        if let Some(i) = exact {
            slots[i].0 = Some(value);
        }
    }

    /// Column `i`'s value from its field (`None`: missing, read as NULL), with ksqlDB's
    /// error text and path.
    pub(crate) fn coerce(&self, i: usize, field: Option<&LazyValue<'_>>) -> Result<Value> {
        match field {
            None => Ok(Value::Null),
            Some(lv) => {
                coerce::kafka_json_field(lv, &self.types[i], &self.names[i]).map_err(prefix_error)
            }
        }
    }
}

/// Where `part` (a sub-slice of `whole`, as sonic-rs lazy values of a borrowed input are)
/// lies in `whole`.
pub(crate) fn span_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize)
        .checked_sub(whole.as_ptr() as usize)
        .filter(|s| s + part.len() <= whole.len())
        .expect("sonic-rs lazy values of a borrowed input are slices of that input");
    start..start + part.len()
}

/// The index of the first byte at or after `at` that is not JSON whitespace (RFC 8259 §2).
pub(super) fn skip_json_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

pub(super) fn invalid_json(why: &str) -> EngineError {
    EngineError::bad_request(format!("Failed to deserialize value: Invalid JSON: {why}"))
}

/// Decodes a single column's unwrapped value (`WRAP_SINGLE_VALUE=false`).
pub fn decode_value_unwrapped(bytes: &[u8], column: &Column) -> Result<Value> {
    let lv = parse_record(bytes)?;
    coerce::coerce_json(&lv, &column.ty, coerce::CoercionMode::KafkaJson).map_err(prefix_error)
}

fn parse_record(bytes: &[u8]) -> Result<LazyValue<'_>> {
    coerce::parse_json_value(bytes).map_err(prefix_error)
}

fn prefix_error(e: EngineError) -> EngineError {
    match e.code() {
        ErrorCode::BadRequest => e.context("Failed to deserialize value: "),
        _ => e,
    }
}

pub(crate) fn kind_name(lv: &LazyValue<'_>) -> &'static str {
    match classify(lv) {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Int(_) | Json::Float(_) => "a number",
        Json::String(_) => "a string",
        Json::Array => "an array",
        Json::Object => "an object",
    }
}
#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::types::{Decimal, SqlType, StructField};

    /// A value column (also for `flat_scan`'s tests).
    pub(in crate::format) fn col(name: &str, ty: SqlType) -> Column {
        Column::new(name, ty, ColumnKind::Value)
    }

    fn encode(columns: &[Column], values: &[Value]) -> String {
        let mut out = Vec::new();
        encode_value(columns, values, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    /// `json` decoded against `columns` (also for `flat_scan`'s tests).
    pub(in crate::format) fn decode(json: &str, columns: &[Column]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        decode_value(json.as_bytes(), columns, &mut out)?;
        Ok(out)
    }

    #[test]
    fn encodes_every_type() {
        let columns = vec![
            col("B", SqlType::Boolean),
            col("I", SqlType::Integer),
            col("L", SqlType::BigInt),
            col("D", SqlType::Double),
            col(
                "DEC",
                SqlType::Decimal {
                    precision: 4,
                    scale: 2,
                },
            ),
            col("S", SqlType::String),
            col("BY", SqlType::Bytes),
            col("TS", SqlType::Timestamp),
            col("DT", SqlType::Date),
            col("TM", SqlType::Time),
            col("A", SqlType::Array(Box::new(SqlType::Double))),
            col(
                "M",
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
            ),
            col(
                "ST",
                SqlType::Struct(vec![StructField {
                    name: "f1".into(),
                    ty: SqlType::String,
                }]),
            ),
            col("N", SqlType::String),
        ];
        let values = vec![
            Value::Boolean(true),
            Value::Integer(-7),
            Value::BigInt(i64::MIN),
            Value::Double(1.0e10),
            Value::Decimal(Decimal::new(1210, 2)),
            Value::String("a\"b".into()),
            Value::Bytes(vec![1, 2, 3, 4]),
            Value::Timestamp(1_614_834_367_123),
            Value::Date(18_690),
            Value::Time(45_296_789),
            Value::Array(vec![
                Value::Double(1.5),
                Value::Double(f64::NAN),
                Value::Null,
            ]),
            Value::Map(vec![(Value::String("k".into()), Value::Integer(1))]),
            Value::Struct(vec![("f1".into(), Value::String("x".into()))]),
            Value::Null,
        ];
        assert_eq!(
            encode(&columns, &values),
            r#"{"B":true,"I":-7,"L":-9223372036854775808,"D":1.0E10,"DEC":12.10,"S":"a\"b","BY":"AQIDBA==","TS":1614834367123,"DT":18690,"TM":45296789,"A":[1.5,"NaN",null],"M":{"k":1},"ST":{"f1":"x"},"N":null}"#
        );
        let back = decode(&encode(&columns, &values), &columns).expect("decodes");
        assert_eq!(back.len(), values.len());
        assert_eq!(back[..10], values[..10]);
        assert!(
            matches!(&back[10], Value::Array(a) if matches!(a[1], Value::Double(d) if d.is_nan()))
        );
        assert_eq!(back[11..], values[11..]);
    }

    /// The bytes ksqlDB's JSON serializer writes, as Kafka Connect 3.4.0's `JsonConverter`
    /// (`schemas.enable=false`, `decimal.format=NUMERIC`, as `KsqlJsonSerdeFactory`
    /// configures it) printed them on JDK 17 for the Connect values ksqlDB's API coercer
    /// builds (maps in a `new HashMap<>()`); the program is scripts/ksqldb_json_golden.
    /// Two doubles are left out: JDK 17 prints `1e23` as `9.999999999999999E22` and `8.41e21`
    /// as `8.409999999999999E21`, JDK 19+ (and Sluice) the shortest `1.0E23` and `8.41E21`.
    #[test]
    fn stored_bytes_are_ksqldbs() {
        let stored = |column: Column, value: Value| {
            let mut out = Vec::new();
            encode_row_value(&Schema::new(vec![column]), &[value], &mut out);
            String::from_utf8(out).expect("UTF-8")
        };
        let doubles: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1000.0, "1000.0"),
            (12_345_678.0, "1.2345678E7"),
            (1.0E-4, "1.0E-4"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (i64::MAX as f64, "9.223372036854776E18"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2e-3, "0.002"),
            (1_234_567.0, "1234567.0"),
            (1e7, "1.0E7"),
            (0.001, "0.001"),
            (5e-324, "4.9E-324"),
            (f64::MAX, "1.7976931348623157E308"),
            (2.0E22, "2.0E22"),
            (1.0E22, "1.0E22"),
            (5.0E-3, "0.005"),
        ];
        for &(d, want) in doubles {
            assert_eq!(
                stored(col("D", SqlType::Double), Value::Double(d)),
                format!("{{\"D\":{want}}}")
            );
        }
        let decimals: &[(i128, u8, &str)] = &[
            (1210, 2, "12.10"),
            (0, 8, "0E-8"),
            (12, 8, "1.2E-7"),
            (1, 6, "0.000001"),
            (0, 6, "0.000000"),
            (1, 7, "1E-7"),
            (-12, 9, "-1.2E-8"),
            (10, 7, "0.0000010"),
            (123_456, 10, "0.0000123456"),
            (7, 0, "7"),
            (0, 2, "0.00"),
        ];
        for &(unscaled, scale, want) in decimals {
            let ty = SqlType::Decimal {
                precision: 38,
                scale,
            };
            let value = Value::Decimal(Decimal::new(unscaled, scale));
            assert_eq!(stored(col("X", ty), value), format!("{{\"X\":{want}}}"));
        }
        assert_eq!(
            stored(
                col("S", SqlType::String),
                Value::String("a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}/é中😀\u{2028}".into())
            ),
            "{\"S\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001F\u{7f}/é中\\uD83D\\uDE00\u{2028}\"}"
        );
        let map = |keys: &[&str]| {
            let entries = keys
                .iter()
                .map(|k| (Value::String((*k).into()), Value::Integer(1)))
                .collect();
            stored(
                col(
                    "M",
                    SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
                ),
                Value::Map(entries),
            )
        };
        assert_eq!(map(&["c", "b", "a"]), r#"{"M":{"a":1,"b":1,"c":1}}"#);
        assert_eq!(
            map(&["q", "l", "k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"]),
            r#"{"M":{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1,"l":1,"q":1}}"#
        );
        assert_eq!(
            map(&["yes, thanks", "nope", "sure, yeah"]),
            r#"{"M":{"yes, thanks":1,"nope":1,"sure, yeah":1}}"#
        );
        assert_eq!(map(&["Aa", "BB", "x"]), r#"{"M":{"Aa":1,"BB":1,"x":1}}"#);
        assert_eq!(
            map(&["é", "😀", "z", "plan", "ref", "locale"]),
            r#"{"M":{"ref":1,"\uD83D\uDE00":1,"é":1,"z":1,"locale":1,"plan":1}}"#
        );
        let device = SqlType::Struct(vec![
            StructField {
                name: "OS".into(),
                ty: SqlType::String,
            },
            StructField {
                name: "lower".into(),
                ty: SqlType::Integer,
            },
        ]);
        let schema = Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            col("DEVICE", device),
            col("B", SqlType::Bytes),
            col("TS", SqlType::Timestamp),
            col("DT", SqlType::Date),
            col("TM", SqlType::Time),
            col("A", SqlType::Array(Box::new(SqlType::BigInt))),
            col("N", SqlType::Boolean),
        ]);
        let mut out = Vec::new();
        encode_row_value(
            &schema,
            &[
                Value::String("key".into()),
                Value::Struct(vec![
                    ("OS".into(), Value::String("ios".into())),
                    ("lower".into(), Value::Null),
                ]),
                Value::Bytes(vec![1, 2, 3, 4]),
                Value::Timestamp(1_614_834_367_123),
                Value::Date(18_690),
                Value::Time(45_296_789),
                Value::Array(vec![Value::BigInt(1), Value::Null, Value::BigInt(-3)]),
                Value::Null,
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            r#"{"DEVICE":{"OS":"ios","lower":null},"B":"AQIDBA==","TS":1614834367123,"DT":18690,"TM":45296789,"A":[1,null,-3],"N":null}"#
        );
    }

    #[test]
    fn decodes_case_insensitively_and_leniently() {
        let columns = vec![
            col("NAME", SqlType::String),
            col("lower", SqlType::Integer),
            col("TS", SqlType::Timestamp),
            col("MISSING", SqlType::Double),
        ];
        let got = decode(
            r#"{"name": 12.50, "lower": "42", "ts": "17", "extra": 1}"#,
            &columns,
        )
        .expect("decodes");
        assert_eq!(
            got,
            vec![
                Value::String("12.50".into()),
                Value::Integer(42),
                Value::Timestamp(17),
                Value::Null
            ]
        );
        // A quoted lower-case column does not match an upper-cased JSON name.
        let got = decode(r#"{"LOWER": 1}"#, &columns).expect("decodes");
        assert_eq!(got[1], Value::Null);
        // Exact match wins over an upper-cased one, whatever the order.
        let got = decode(r#"{"NAME":"exact","name":"upper"}"#, &columns).expect("decodes");
        assert_eq!(got[0], Value::String("exact".into()));
    }

    #[test]
    fn decode_errors_carry_ksqldb_text_and_path() {
        let columns = vec![col("B", SqlType::Boolean)];
        let err = decode(r#"{"B":"true"}"#, &columns).expect_err("no text booleans");
        assert_eq!(
            err.to_string(),
            "Failed to deserialize value: Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $.B"
        );
        let columns = vec![col("A", SqlType::Array(Box::new(SqlType::Integer)))];
        let err = decode(r#"{"A":[1,"x"]}"#, &columns).expect_err("bad element");
        assert_eq!(
            err.to_string(),
            "Failed to deserialize value: Can't coerce string to type. targetType: INTEGER, path: $.A[1]"
        );
        assert!(decode("[1]", &columns).is_err());
        assert!(decode("{", &columns).is_err());
        assert!(decode("null", &columns).is_err());
        assert!(is_tombstone(Some(b" null ")));
        assert!(is_tombstone(None));
        assert!(!is_tombstone(Some(b"{}")));
    }

    #[test]
    fn decode_rejects_what_follows_the_object() {
        let columns = vec![col("A", SqlType::Integer)];
        assert!(decode(r#"{"A":1} x"#, &columns).is_err());
        assert!(decode(r#"{"A":1}}"#, &columns).is_err());
        assert!(decode(r#"{"A":1,}"#, &columns).is_err());
        assert!(decode(r#" { } "#, &columns).is_ok());
        assert!(decode(r#"{"A":1} "#, &columns).is_ok());
        assert!(decode(r#"{"B":[1,}"#, &columns).is_err());
    }

    #[test]
    fn unwrapped_single_values() {
        let column = col("V", SqlType::BigInt);
        let mut out = Vec::new();
        encode_value_unwrapped(&Value::BigInt(5), &mut out);
        assert_eq!(out, b"5");
        assert_eq!(
            decode_value_unwrapped(&out, &column).expect("decodes"),
            Value::BigInt(5)
        );
        // A struct column reads its fields as a wrapped row does: exact or upper-cased.
        let column = col(
            "V",
            SqlType::Struct(vec![StructField {
                name: "A".into(),
                ty: SqlType::Double,
            }]),
        );
        assert_eq!(
            decode_value_unwrapped(br#"{"a": 45.67}"#, &column).expect("decodes"),
            Value::Struct(vec![("A".into(), Value::Double(45.67))])
        );
        let column = col("V", SqlType::Integer);
        assert_eq!(
            decode_value_unwrapped(b"[1]", &column)
                .expect_err("not an int")
                .to_string(),
            "Failed to deserialize value: Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $"
        );
    }

    #[test]
    fn row_value_skips_keys() {
        let schema = Schema::new(vec![
            Column::new("K", SqlType::String, ColumnKind::Key),
            col("V", SqlType::Integer),
        ]);
        let mut out = Vec::new();
        encode_row_value(
            &schema,
            &[Value::String("k".into()), Value::Integer(1)],
            &mut out,
        );
        assert_eq!(out, br#"{"V":1}"#);
    }
}
