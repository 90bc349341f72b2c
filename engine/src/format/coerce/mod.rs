//! JSON → [`Value`] for a [`SqlType`], with ksqlDB's two rule sets.
//!
//! * [`CoercionMode::Api`]: rows from `/inserts-stream` and the Java client. ksqlDB parses the
//!   row with Vert.x (ints become `Integer`/`Long`/`BigInteger`, floats `Double`) and coerces
//!   with `ApiSqlValueCoercer` over `DefaultSqlValueCoercer.STRICT` (ksqldb-api.md §5). A value
//!   that does not fit fails with `Can't coerce a field of type class java.lang.String (abc)
//!   into type BIGINT` (the text `KeyValueExtractor.coerceObject` builds: Java class, the
//!   value's `toString`, the column type).
//! * [`CoercionMode::KafkaJson`]: JSON values stored in topics, read as `KsqlJsonDeserializer`
//!   does: temporal types are numbers, numbers may come as numeric text, STRING accepts any
//!   scalar (and arrays/objects as text), struct fields match exactly or upper-cased. Errors
//!   read `Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $.F`.
//!
//! Modules: this one holds the mode switch; `java_json` the Java view of a JSON value and
//! the name, map, base64 and temporal helpers both modes use; `api` and `kafka_json` the two
//! rule sets; `tests` their cases.
//!
//! Input is a [`sonic_rs::LazyValue`]: the JSON is validated once and every value is looked at
//! through its raw text, so numbers keep their exact digits (DECIMAL) and no DOM is built.

mod api;
mod java_json;
mod kafka_json;
#[cfg(test)]
mod tests;

use sonic_rs::LazyValue;

use crate::error::Result;
use crate::types::{SqlType, Value};
pub(crate) use api::coerce_api;
pub(crate) use java_json::{
    classify, decode_base64, duplicate_name_message, identifier_text, parse_f64,
    parse_json_value, parse_temporal_text, Json, NameSet,
};
use kafka_json::coerce_kafka_json;
pub(crate) use kafka_json::{kafka_json_field, kafka_json_fields, upper_eq};

/// Which of ksqlDB's coercion rule sets to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoercionMode {
    /// Strict rules for rows sent to `/inserts-stream` (`ApiSqlValueCoercer`).
    Api,
    /// Lenient rules for JSON stored in topics (`KsqlJsonDeserializer`).
    KafkaJson,
}

/// Coerces one JSON value to `ty` under `mode`.
pub fn coerce_json(json: &LazyValue<'_>, ty: &SqlType, mode: CoercionMode) -> Result<Value> {
    match mode {
        CoercionMode::Api => coerce_api(json, ty),
        CoercionMode::KafkaJson => coerce_kafka_json(json, ty).map_err(|e| e.into_error("$")),
    }
}

/// A JSON object key (a Java `String`) coerced to a MAP key type under the API rules;
/// `None` where ksqlDB fails the row.
pub(crate) fn api_map_key(key: &str, ty: &SqlType) -> Option<Value> {
    api::api_from_string(key, ty).ok()
}

/// Parses `text` as one JSON value and coerces it to `ty` under `mode`.
pub fn coerce_json_text(text: &str, ty: &SqlType, mode: CoercionMode) -> Result<Value> {
    let lv = parse_json_value(text.as_bytes())?;
    coerce_json(&lv, ty, mode)
}

