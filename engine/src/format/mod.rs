//! Record formats: how row values become Kafka key/value bytes and back.
//!
//! ```text
//!  ingest:  /inserts-stream line ─► canonical_row (one pass: names, API coercion, stored
//!                                │   spelling; no values) ─► record value + key values
//!                                │ a line it leaves (an error, or a rare valid row)
//!                                ▼
//!           /inserts-stream line ─► insert_row (parse, names, coerce::Api) ─► Vec<Value>
//!                                      ─► json_value::encode_row_value (the same bytes)
//!           key::encode_key (KAFKA | JSON | NONE)      json_value::encode_value (JSON)
//!  query:   key::decode_key ◄─ record key bytes         json_value::decode_value ◄─ value bytes
//!                                                          (coerce::KafkaJson rules)
//! ```
//!
//! Every path stores ksqlDB's own bytes; [`json_value`] says exactly what they are.
//!
//! Modules:
//! - [`coerce`]: JSON → [`Value`](crate::types::Value) for a SQL type, with ksqlDB's two rule
//!   sets: the strict API coercer and the lenient `KsqlJsonDeserializer`.
//! - [`canonical_row`]: the ingest fast path: an `/inserts-stream` line straight to its
//!   stored record value (and key values), for every valid row.
//! - [`insert_row`]: one `/inserts-stream` row into values: names, duplicates, keys, and the
//!   error text for a bad row.
//! - `json_write`: the JSON writers (stored bytes as ksqlDB's serializer writes them, or
//!   rendered as its REST API shows them), used by the value and key formats.
//! - [`json_value`]: the `JSON` value format (encode and decode a record value), and what
//!   ksqlDB's stored bytes are.
//! - `flat_scan`: the decoders' fast path over a record value (field spans and plain
//!   scalar tokens without a parser).
//! - [`stored_text`]: whether a stored value's JSON text already is its result rendering,
//!   scalars and STRUCT/ARRAY/MAP alike (so results copy it).
//! - [`key`]: record keys in the `KAFKA`, `JSON`, `DELIMITED` and `NONE` key formats.
//! - [`kafka_key`]: Kafka's primitive serializers (`KAFKA` format) for one key column.
//! - [`delimited_key`]: key columns as one comma-separated line (`DELIMITED` format).
//! - [`java_double`]: DOUBLE text exactly as Java's `Double.toString`.
//! - [`decimal_text`]: DECIMAL parsing, rescaling and `BigDecimal.toString`.
//! - [`json_text`]: JSON string escaping and the nesting-depth guard.
//! - [`window_key`]: windowed keys (time and session windows) as Kafka Streams writes them.
//! - `java_hash_map`: the iteration order of a `java.util.HashMap` (stored MAPs, REDUCE).
//!
//! Non-goals: Avro, Protobuf, JSON_SR and DELIMITED values; HTTP rendering of values (that is
//! `sluice_protocol::value_json`).

pub mod canonical_row;
pub mod coerce;
pub mod decimal_text;
pub mod delimited_key;
pub(crate) mod flat_scan;
pub mod insert_row;
pub mod java_double;
pub(crate) mod java_hash_map;
pub mod json_text;
pub mod json_value;
pub mod json_write;
pub mod kafka_key;
pub mod key;
pub mod stored_text;
pub(crate) mod timestamp_extractor;
pub mod window_key;

#[cfg(test)]
mod proptests;

pub use coerce::{coerce_json, coerce_json_text, CoercionMode};
pub use insert_row::{decode_insert_row, InsertRow};
pub use json_value::{decode_value, encode_value};
pub use key::{decode_key, encode_key};

use crate::error::{EngineError, Result};

/// Format names ksqlDB knows, so an unsupported one can be told apart from a typo.
/// (`KAFKA` and `NONE` are valid key formats but not value formats here.)
const KSQLDB_FORMAT_NAMES: &[&str] = &[
    "AVRO",
    "PROTOBUF",
    "PROTOBUF_NOSR",
    "JSON_SR",
    "DELIMITED",
    "KAFKA",
    "NONE",
];

/// The `KEY_FORMAT` of a stream or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// Kafka's primitive serializers; one primitive key column (ksqlDB's default key format).
    Kafka,
    /// JSON: a single key column as the bare JSON value, several as an object.
    Json,
    /// No key at all: the stream has no key columns.
    None,
    /// The key columns as one line of text, fields split by this delimiter (`,` unless
    /// `KEY_DELIMITER` says otherwise; `delimited_key`).
    Delimited(u8),
}

/// The `VALUE_FORMAT` of a stream or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueFormat {
    /// A JSON object with one field per value column.
    Json,
}

/// How a record value with exactly one value column is laid out: ksqlDB's
/// `WRAP_SINGLE_VALUE` property and its serde features `WRAP_SINGLES`/`UNWRAP_SINGLES`.
///
/// `Wrapped` is ksqlDB's default (no feature, or `WRAP_SINGLES`): the value is an object
/// with one field. `Unwrapped` (`UNWRAP_SINGLES`) writes and reads the column's bare value,
/// so a `V BIGINT` stream stores `42` rather than `{"V":42}`. Only a source with exactly one
/// value column is ever `Unwrapped` (CREATE and CSAS refuse anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ValueWrapping {
    #[default]
    Wrapped,
    Unwrapped,
}

impl ValueWrapping {
    /// The wrapping for `WRAP_SINGLE_VALUE=<wrap>`.
    pub fn from_wrap_single_value(wrap: bool) -> ValueWrapping {
        if wrap {
            ValueWrapping::Wrapped
        } else {
            ValueWrapping::Unwrapped
        }
    }
}

fn unsupported_format(kind: &str, name: &str) -> EngineError {
    let upper = name.to_ascii_uppercase();
    if KSQLDB_FORMAT_NAMES.contains(&upper.as_str()) {
        EngineError::unsupported(format!(
            "The '{upper}' {kind} format is not supported by this server"
        ))
    } else {
        EngineError::unsupported(format!("Unknown format: {name}"))
    }
}

impl KeyFormat {
    /// Parses a `KEY_FORMAT`/`FORMAT` name, case-insensitively.
    pub fn parse(name: &str) -> Result<KeyFormat> {
        if name.eq_ignore_ascii_case("KAFKA") {
            Ok(KeyFormat::Kafka)
        } else if name.eq_ignore_ascii_case("JSON") {
            Ok(KeyFormat::Json)
        } else if name.eq_ignore_ascii_case("NONE") {
            Ok(KeyFormat::None)
        } else if name.eq_ignore_ascii_case("DELIMITED") {
            Ok(KeyFormat::Delimited(delimited_key::DEFAULT_DELIMITER))
        } else {
            Err(unsupported_format("key", name))
        }
    }

    /// The name DESCRIBE and SHOW print.
    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Kafka => "KAFKA",
            KeyFormat::Json => "JSON",
            KeyFormat::None => "NONE",
            KeyFormat::Delimited(_) => "DELIMITED",
        }
    }
}

impl ValueFormat {
    /// Parses a `VALUE_FORMAT`/`FORMAT` name, case-insensitively.
    pub fn parse(name: &str) -> Result<ValueFormat> {
        if name.eq_ignore_ascii_case("JSON") {
            Ok(ValueFormat::Json)
        } else {
            Err(unsupported_format("value", name))
        }
    }

    /// The name DESCRIBE and SHOW print.
    pub fn name(self) -> &'static str {
        match self {
            ValueFormat::Json => "JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_format_names() {
        assert_eq!(KeyFormat::parse("kafka").ok(), Some(KeyFormat::Kafka));
        assert_eq!(KeyFormat::parse("Json").ok(), Some(KeyFormat::Json));
        assert_eq!(KeyFormat::parse("NONE").ok(), Some(KeyFormat::None));
        assert_eq!(
            KeyFormat::parse("delimited").ok(),
            Some(KeyFormat::Delimited(b','))
        );
        assert_eq!(ValueFormat::parse("json").ok(), Some(ValueFormat::Json));
        assert_eq!(KeyFormat::Kafka.name(), "KAFKA");
        let err = ValueFormat::parse("avro").expect_err("unsupported");
        assert!(err.code() == crate::error::ErrorCode::Unsupported);
        assert_eq!(
            err.to_string(),
            "The 'AVRO' value format is not supported by this server"
        );
        assert_eq!(
            ValueFormat::parse("KAFKA").expect_err("no").to_string(),
            "The 'KAFKA' value format is not supported by this server"
        );
        assert_eq!(
            KeyFormat::parse("xml").expect_err("no").to_string(),
            "Unknown format: xml"
        );
    }
}
