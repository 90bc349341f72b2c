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
//! Input is a [`sonic_rs::LazyValue`]: the JSON is validated once and every value is looked at
//! through its raw text, so numbers keep their exact digits (DECIMAL) and no DOM is built.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use sonic_rs::{JsonValueTrait, LazyValue};

use super::decimal_text::{self, FitError, ParsedDecimal, Rounding};
use super::java_double::java_double_string;
use super::json_text::{compact_json, exceeds_nesting_depth, JSON_NESTING_DEPTH_MAX};
use crate::error::{EngineError, Result};
use crate::types::{temporal, Decimal, SqlType, StructField, Value};

/// Maps at most this big find duplicate keys by linear scan; bigger ones use a hash map, so
/// a huge object cannot make coercion quadratic.
const MAP_LINEAR_DEDUP_ENTRIES_MAX: usize = 16;

/// Milliseconds in a day: ksqlDB's upper bound (inclusive) for a TIME read from JSON
/// (`SerdeUtils.returnTimeOrThrow`).
const TIME_MS_MAX: i64 = 86_400_000;

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
        CoercionMode::Api => {
            let mut canonical = true;
            coerce_api(json, ty, &mut canonical)
        }
        CoercionMode::KafkaJson => coerce_kafka_json(json, ty).map_err(|e| e.into_error("$")),
    }
}

/// Parses `text` as one JSON value and coerces it to `ty` under `mode`.
pub fn coerce_json_text(text: &str, ty: &SqlType, mode: CoercionMode) -> Result<Value> {
    let lv = parse_json_value(text.as_bytes())?;
    coerce_json(&lv, ty, mode)
}

/// Validates `bytes` as exactly one JSON value (whitespace around it allowed), guarding the
/// nesting depth first.
pub(crate) fn parse_json_value(bytes: &[u8]) -> Result<LazyValue<'_>> {
    // sonic-rs does not validate UTF-8 itself (it only debug-asserts); stored or produced
    // bytes may be anything, so check before parsing.
    if std::str::from_utf8(bytes).is_err() {
        return Err(EngineError::BadRequest(
            "Invalid JSON: invalid UTF-8".into(),
        ));
    }
    if exceeds_nesting_depth(bytes) {
        return Err(EngineError::BadRequest(format!(
            "JSON nests deeper than {JSON_NESTING_DEPTH_MAX} levels"
        )));
    }
    sonic_rs::from_slice::<LazyValue<'_>>(bytes)
        .map_err(|e| EngineError::BadRequest(format!("Invalid JSON: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The JSON value as Java would see it.

/// One JSON value, classified by its raw text.
pub(crate) enum Json<'v> {
    Null,
    Bool(bool),
    /// An integer token (no `.`, `e` or `E`): the raw text.
    Int(&'v str),
    /// A float token: the raw text.
    Float(&'v str),
    String(Cow<'v, str>),
    Array,
    Object,
}

pub(crate) fn classify<'v>(lv: &'v LazyValue<'_>) -> Json<'v> {
    let raw = lv.as_raw_str();
    match raw.as_bytes().first() {
        Some(b'n') | None => Json::Null,
        Some(b't') => Json::Bool(true),
        Some(b'f') => Json::Bool(false),
        Some(b'"') => Json::String(match lv.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(String::new()),
        }),
        Some(b'[') => Json::Array,
        Some(b'{') => Json::Object,
        Some(_) if raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => Json::Float(raw),
        Some(_) => Json::Int(raw),
    }
}

/// Vert.x/Jackson's Java type for an integer token.
enum JavaInt {
    Integer(i32),
    Long(i64),
    BigInteger,
}

fn java_int(raw: &str) -> JavaInt {
    match raw.parse::<i64>() {
        Ok(v) => match i32::try_from(v) {
            Ok(i) => JavaInt::Integer(i),
            Err(_) => JavaInt::Long(v),
        },
        Err(_) => JavaInt::BigInteger,
    }
}

/// The Java class of a value as the API coercer's error message names it. Nested values
/// come out of Vert.x's `JsonObject.getValue` wrapped as `JsonObject`/`JsonArray`.
fn java_class(json: &Json<'_>) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "class java.lang.Boolean",
        Json::Int(raw) => match java_int(raw) {
            JavaInt::Integer(_) => "class java.lang.Integer",
            JavaInt::Long(_) => "class java.lang.Long",
            JavaInt::BigInteger => "class java.math.BigInteger",
        },
        Json::Float(_) => "class java.lang.Double",
        Json::String(_) => "class java.lang.String",
        Json::Array => "class io.vertx.core.json.JsonArray",
        Json::Object => "class io.vertx.core.json.JsonObject",
    }
}

/// The value's Java `toString`, as the API coercer's error message prints it.
fn java_to_string(lv: &LazyValue<'_>, json: &Json<'_>) -> String {
    match json {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Int(raw) => match java_int(raw) {
            JavaInt::Integer(i) => i.to_string(),
            JavaInt::Long(l) => l.to_string(),
            JavaInt::BigInteger => (*raw).to_owned(),
        },
        Json::Float(raw) => java_double_string(parse_f64(raw)),
        Json::String(s) => s.to_string(),
        Json::Array | Json::Object => compact_json(lv.as_raw_str()),
    }
}

fn parse_f64(raw: &str) -> f64 {
    // A validated JSON number always parses; overflow gives ±inf as Jackson's Double does.
    raw.parse::<f64>().unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------------------
// Api mode.

/// Why an API coercion failed.
enum ApiFail {
    /// The value does not fit the type: reported with ksqlDB's "Can't coerce" text for the
    /// whole top-level value, as `KeyValueExtractor` does.
    Mismatch,
    /// A specific message (duplicate or malformed struct field names).
    Message(String),
}

/// Coerces a top-level field under the API rules; `canonical` is cleared when the value's
/// JSON is not already what the `JSON` value format would store for it (see
/// [`super::insert_row`]).
pub(crate) fn coerce_api(lv: &LazyValue<'_>, ty: &SqlType, canonical: &mut bool) -> Result<Value> {
    api(lv, ty, canonical).map_err(|fail| match fail {
        ApiFail::Message(m) => EngineError::BadRequest(m),
        ApiFail::Mismatch => {
            let json = classify(lv);
            EngineError::BadRequest(format!(
                "Can't coerce a field of type {} ({}) into type {ty}",
                java_class(&json),
                java_to_string(lv, &json)
            ))
        }
    })
}

fn api(lv: &LazyValue<'_>, ty: &SqlType, canonical: &mut bool) -> Result<Value, ApiFail> {
    let json = classify(lv);
    if let Json::Null = json {
        return Ok(Value::Null);
    }
    match ty {
        SqlType::Boolean => match json {
            Json::Bool(b) => Ok(Value::Boolean(b)),
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Integer => match json {
            Json::Int(raw) => match java_int(raw) {
                JavaInt::Integer(i) => Ok(Value::Integer(i)),
                // STRICT has no BIGINT → INTEGER rule: a Long never narrows.
                _ => Err(ApiFail::Mismatch),
            },
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::BigInt => match json {
            Json::Int(raw) => match java_int(raw) {
                JavaInt::Integer(i) => Ok(Value::BigInt(i64::from(i))),
                JavaInt::Long(l) => Ok(Value::BigInt(l)),
                JavaInt::BigInteger => Err(ApiFail::Mismatch),
            },
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Double => match json {
            Json::Int(raw) => match java_int(raw) {
                JavaInt::Integer(i) => Ok(Value::Double(f64::from(i))),
                #[allow(clippy::cast_precision_loss)] // Java's Number.doubleValue() rounds too.
                JavaInt::Long(l) => Ok(Value::Double(l as f64)),
                JavaInt::BigInteger => Err(ApiFail::Mismatch),
            },
            Json::Float(raw) => {
                let d = parse_f64(raw);
                if !d.is_finite() {
                    *canonical = false;
                }
                Ok(Value::Double(d))
            }
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Decimal { precision, scale } => api_decimal(&json, *precision, *scale, canonical),
        SqlType::String => match json {
            Json::String(s) => Ok(Value::String(s.into_owned())),
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Bytes => match json {
            Json::String(s) => {
                let bytes = decode_base64(&s).ok_or(ApiFail::Mismatch)?;
                // Stored form is padded standard base64 without escapes; anything else is
                // re-encoded so topics hold exactly what ksqlDB would write.
                let raw_len = lv.as_raw_str().len();
                if raw_len != s.len() + 2
                    || s.len() != base64::encoded_len(bytes.len(), true).unwrap_or(0)
                {
                    *canonical = false;
                }
                Ok(Value::Bytes(bytes))
            }
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Timestamp | SqlType::Date | SqlType::Time => match json {
            Json::String(s) => {
                // Stored as numbers, so text is never the stored form.
                *canonical = false;
                // `DefaultSqlValueCoercer.parser` trims before parsing.
                parse_temporal_text(s.trim(), ty).ok_or(ApiFail::Mismatch)
            }
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Array(item) => {
            if !matches!(json, Json::Array) {
                return Err(ApiFail::Mismatch);
            }
            let iter = lv.clone().into_array_iter().ok_or(ApiFail::Mismatch)?;
            let mut out = Vec::new();
            for elem in iter {
                let elem = elem.map_err(|_| ApiFail::Mismatch)?;
                out.push(api(&elem, item, canonical)?);
            }
            Ok(Value::Array(out))
        }
        SqlType::Map(key_ty, value_ty) => {
            if !matches!(json, Json::Object) {
                return Err(ApiFail::Mismatch);
            }
            if **key_ty != SqlType::String {
                // The JSON value format only stores STRING keys as themselves.
                *canonical = false;
            }
            let iter = lv.clone().into_object_iter().ok_or(ApiFail::Mismatch)?;
            let mut entries = MapBuilder::default();
            for entry in iter {
                let (k, v) = entry.map_err(|_| ApiFail::Mismatch)?;
                let key = api_from_string(&k, key_ty)?;
                let value = api(&v, value_ty, canonical)?;
                if entries.insert(key, value) {
                    *canonical = false;
                }
            }
            Ok(Value::Map(entries.finish()))
        }
        SqlType::Struct(fields) => {
            if !matches!(json, Json::Object) {
                return Err(ApiFail::Mismatch);
            }
            api_struct(lv, fields, canonical)
        }
    }
}

fn api_decimal(
    json: &Json<'_>,
    precision: u8,
    scale: u8,
    canonical: &mut bool,
) -> Result<Value, ApiFail> {
    match json {
        // `ApiSqlValueCoercer.coerceDecimal`: `new BigDecimal(String.valueOf(d))`, HALF_UP.
        Json::Float(raw) => {
            let parsed =
                decimal_text::parse_double_digits(parse_f64(raw)).ok_or(ApiFail::Mismatch)?;
            let d = decimal_text::fit(parsed, precision, scale, Rounding::HalfUp)
                .map_err(|_| ApiFail::Mismatch)?;
            if !is_stored_decimal_text(raw, d) {
                *canonical = false;
            }
            Ok(Value::Decimal(d))
        }
        // Integer/Long go through `DecimalUtil.ensureFit`: exact or fail.
        Json::Int(raw) => {
            let parsed = decimal_text::parse_decimal(raw).ok_or(ApiFail::Mismatch)?;
            let d = decimal_text::fit(parsed, precision, scale, Rounding::Unnecessary)
                .map_err(|_| ApiFail::Mismatch)?;
            if scale != 0 {
                *canonical = false;
            }
            Ok(Value::Decimal(d))
        }
        // `new BigDecimal(text).setScale(scale, HALF_UP)`: no trimming.
        Json::String(s) => {
            *canonical = false;
            let parsed = decimal_text::parse_decimal(s).ok_or(ApiFail::Mismatch)?;
            decimal_text::fit(parsed, precision, scale, Rounding::HalfUp)
                .map(Value::Decimal)
                .map_err(|_| ApiFail::Mismatch)
        }
        _ => Err(ApiFail::Mismatch),
    }
}

/// True when `raw` is exactly the plain text the `JSON` value format writes for `d`: no
/// exponent and exactly `scale` fractional digits, with the same value.
fn is_stored_decimal_text(raw: &str, d: Decimal) -> bool {
    if raw.bytes().any(|b| b == b'e' || b == b'E') {
        return false;
    }
    let frac_len = raw.split_once('.').map_or(0, |(_, f)| f.len());
    frac_len == usize::from(d.scale)
        && decimal_text::parse_decimal(raw)
            == Some(ParsedDecimal {
                unscaled: d.unscaled,
                scale: i32::from(d.scale),
            })
}

/// API coercion of a JSON object key (always a Java `String`) to a MAP key type.
fn api_from_string(s: &str, ty: &SqlType) -> Result<Value, ApiFail> {
    match ty {
        SqlType::String => Ok(Value::String(s.to_owned())),
        SqlType::Decimal { precision, scale } => {
            let parsed = decimal_text::parse_decimal(s).ok_or(ApiFail::Mismatch)?;
            decimal_text::fit(parsed, *precision, *scale, Rounding::HalfUp)
                .map(Value::Decimal)
                .map_err(|_| ApiFail::Mismatch)
        }
        SqlType::Timestamp | SqlType::Date | SqlType::Time => {
            parse_temporal_text(s.trim(), ty).ok_or(ApiFail::Mismatch)
        }
        _ => Err(ApiFail::Mismatch),
    }
}

fn api_struct(
    lv: &LazyValue<'_>,
    fields: &[StructField],
    canonical: &mut bool,
) -> Result<Value, ApiFail> {
    let iter = lv.clone().into_object_iter().ok_or(ApiFail::Mismatch)?;
    let mut slots: Vec<Option<LazyValue<'_>>> = vec![None; fields.len()];
    let mut seen = NameSet::default();
    for entry in iter {
        let (raw_name, v) = entry.map_err(|_| ApiFail::Mismatch)?;
        // `JsonUtil.convertJsonFieldCase`: unquoted names upper-cased, quoted kept.
        let name = identifier_text(&raw_name).map_err(ApiFail::Message)?;
        if !seen.insert(&raw_name, &name) {
            return Err(ApiFail::Message(duplicate_name_message(&name)));
        }
        match fields.iter().position(|f| f.name == *name) {
            Some(i) => {
                if raw_name != fields[i].name {
                    *canonical = false;
                }
                slots[i] = Some(v);
            }
            None => *canonical = false,
        }
    }
    let mut out = Vec::with_capacity(fields.len());
    for (field, slot) in fields.iter().zip(slots) {
        let value = match slot {
            Some(v) => api(&v, &field.ty, canonical)?,
            None => Value::Null,
        };
        out.push((field.name.clone(), value));
    }
    Ok(Value::Struct(out))
}

/// ksqlDB's duplicate-name message (`JsonUtil.convertJsonFieldCase`).
pub(crate) fn duplicate_name_message(name: &str) -> String {
    format!("Found duplicate column / struct field name: {name}")
}

/// The SQL identifier a JSON field name denotes, as `Identifiers.getIdentifierText` computes
/// it: names in backticks or double quotes are unquoted (a doubled quote escapes itself) and
/// keep their case; other names are upper-cased. Borrows when nothing changes.
pub(crate) fn identifier_text(raw: &str) -> Result<Cow<'_, str>, String> {
    let Some(first) = raw.chars().next() else {
        return Ok(Cow::Borrowed(raw));
    };
    if first == '`' || first == '"' {
        return unquote(raw, first).map_err(|reason| {
            format!("Invalid column / struct field name. Name: {raw}. Reason: {reason}.")
        });
    }
    if raw.bytes().all(|b| b.is_ascii() && !b.is_ascii_lowercase()) {
        Ok(Cow::Borrowed(raw))
    } else {
        Ok(Cow::Owned(raw.to_uppercase()))
    }
}

fn unquote(raw: &str, quote: char) -> Result<Cow<'_, str>, String> {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() < 2 || chars[chars.len() - 1] != quote {
        return Err("Expected matching quote at end of value".to_owned());
    }
    let inner = &chars[1..chars.len() - 1];
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == quote {
            if inner.get(i + 1) != Some(&quote) {
                return Err(format!(
                    "Un-escaped quote in middle of value at index {}",
                    i + 1
                ));
            }
            out.push(quote);
            i += 2;
        } else {
            out.push(inner[i]);
            i += 1;
        }
    }
    Ok(Cow::Owned(out))
}

/// Normalised field names seen in one JSON object. Two different raw names with the same
/// normalised name are duplicates; the very same raw name twice is not (Vert.x keeps the last
/// value, as a Java map does).
#[derive(Default)]
pub(crate) struct NameSet {
    names: Vec<(String, String)>,
}

impl NameSet {
    /// Records `name` (normalised from `raw`); false if it clashes with another raw name.
    pub(crate) fn insert(&mut self, raw: &str, name: &str) -> bool {
        for (seen_raw, seen_name) in &self.names {
            if seen_name == name {
                return seen_raw == raw;
            }
        }
        self.names.push((raw.to_owned(), name.to_owned()));
        true
    }
}

/// Builds MAP entries with Java map semantics: a repeated key replaces the earlier value in
/// place.
#[derive(Default)]
struct MapBuilder {
    entries: Vec<(Value, Value)>,
    index: HashMap<String, usize>,
}

impl MapBuilder {
    /// Adds an entry; true if it replaced an earlier one with an equal key.
    fn insert(&mut self, key: Value, value: Value) -> bool {
        if self.entries.len() < MAP_LINEAR_DEDUP_ENTRIES_MAX && self.index.is_empty() {
            if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                return true;
            }
            self.entries.push((key, value));
            if self.entries.len() == MAP_LINEAR_DEDUP_ENTRIES_MAX {
                for (i, (k, _)) in self.entries.iter().enumerate() {
                    self.index.insert(map_key_text(k), i);
                }
            }
            return false;
        }
        let text = map_key_text(&key);
        if let Some(&i) = self.index.get(&text) {
            self.entries[i].1 = value;
            return true;
        }
        self.index.insert(text, self.entries.len());
        self.entries.push((key, value));
        false
    }

    fn finish(self) -> Vec<(Value, Value)> {
        self.entries
    }
}

/// A hashable identity for a coerced MAP key (keys are scalars).
fn map_key_text(key: &Value) -> String {
    format!("{key:?}")
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // Java's `Base64.getDecoder()` accepts missing padding; so do we.
    base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode(text)
    .ok()
}

fn parse_temporal_text(text: &str, ty: &SqlType) -> Option<Value> {
    match ty {
        SqlType::Timestamp => temporal::parse_timestamp(text).map(Value::Timestamp),
        SqlType::Date => temporal::parse_date(text).map(Value::Date),
        SqlType::Time => temporal::parse_time(text).map(Value::Time),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// KafkaJson mode.

/// A `KsqlJsonDeserializer` failure: the message and the JSON path below the current level.
pub(crate) struct KafkaJsonFail {
    message: String,
    path: String,
}

impl KafkaJsonFail {
    fn new(message: String) -> KafkaJsonFail {
        KafkaJsonFail {
            message,
            path: String::new(),
        }
    }

    /// Prefixes one path step, as `CoercionException` does while unwinding.
    pub(crate) fn under(mut self, step: &str) -> KafkaJsonFail {
        self.path.insert_str(0, step);
        self
    }

    /// The final error, rooted at `root` (`$`).
    pub(crate) fn into_error(self, root: &str) -> EngineError {
        EngineError::BadRequest(format!("{}, path: {root}{}", self.message, self.path))
    }
}

/// Jackson's node class for a value, as `JsonSerdeUtils.invalidConversionException` names it
/// (floats are `DecimalNode` because ksqlDB enables `USE_BIG_DECIMAL_FOR_FLOATS`).
fn jackson_node(json: &Json<'_>) -> &'static str {
    match json {
        Json::Null => "NullNode",
        Json::Bool(_) => "BooleanNode",
        Json::Int(raw) => match java_int(raw) {
            JavaInt::Integer(_) => "IntNode",
            JavaInt::Long(_) => "LongNode",
            JavaInt::BigInteger => "BigIntegerNode",
        },
        Json::Float(_) => "DecimalNode",
        Json::String(_) => "TextNode",
        Json::Array => "ArrayNode",
        Json::Object => "ObjectNode",
    }
}

fn invalid_conversion(json: &Json<'_>, ty: &SqlType) -> KafkaJsonFail {
    KafkaJsonFail::new(format!(
        "Can't convert type. sourceType: {}, requiredType: {ty}",
        jackson_node(json)
    ))
}

fn failed_string_coercion(ty: &SqlType) -> KafkaJsonFail {
    KafkaJsonFail::new(format!(
        "Can't coerce string to type. targetType: {}",
        ty.base_name()
    ))
}

/// An integer token's value as Java's `BigInteger`, kept to its low 128 bits.
fn int_token_i128(raw: &str) -> i128 {
    raw.parse::<i128>().unwrap_or_else(|_| {
        #[allow(clippy::cast_possible_truncation)] // A rough value for absurd widths is fine.
        let v = parse_f64(raw) as i128;
        v
    })
}

/// A float token truncated toward zero, as `BigDecimal.longValue()`/`intValue()` do.
fn float_token_trunc(raw: &str) -> i128 {
    if let Some(p) = decimal_text::parse_decimal(raw) {
        if p.scale >= 0 {
            if let Some(div) = u32::try_from(p.scale)
                .ok()
                .and_then(|s| 10i128.checked_pow(s))
            {
                return p.unscaled / div;
            }
            return 0;
        }
        if let Some(v) = u32::try_from(-p.scale)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
            .and_then(|m| p.unscaled.checked_mul(m))
        {
            return v;
        }
    }
    #[allow(clippy::cast_possible_truncation)]
    let v = parse_f64(raw).trunc() as i128;
    v
}

/// `asLong()`/`longValue()` of a numeric node, wrapping like Java's narrowing.
fn numeric_i64(json: &Json<'_>) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    match json {
        Json::Int(raw) => Some(int_token_i128(raw) as i64),
        Json::Float(raw) => Some(float_token_trunc(raw) as i64),
        _ => None,
    }
}

fn coerce_kafka_json(lv: &LazyValue<'_>, ty: &SqlType) -> Result<Value, KafkaJsonFail> {
    let json = classify(lv);
    if let Json::Null = json {
        return Ok(Value::Null);
    }
    match ty {
        SqlType::Boolean => match json {
            Json::Bool(b) => Ok(Value::Boolean(b)),
            _ => Err(invalid_conversion(&json, ty)),
        },
        SqlType::Integer => match json {
            #[allow(clippy::cast_possible_truncation)] // Java's `intValue()` wraps.
            Json::Int(_) | Json::Float(_) => {
                Ok(Value::Integer(numeric_i64(&json).unwrap_or(0) as i32))
            }
            Json::String(s) => s
                .parse::<i32>()
                .map(Value::Integer)
                .map_err(|_| failed_string_coercion(ty)),
            _ => Err(invalid_conversion(&json, ty)),
        },
        SqlType::BigInt => match json {
            Json::Int(_) | Json::Float(_) => Ok(Value::BigInt(numeric_i64(&json).unwrap_or(0))),
            Json::String(s) => s
                .parse::<i64>()
                .map(Value::BigInt)
                .map_err(|_| failed_string_coercion(ty)),
            _ => Err(invalid_conversion(&json, ty)),
        },
        SqlType::Double => match json {
            Json::Int(raw) | Json::Float(raw) => Ok(Value::Double(parse_f64(raw))),
            Json::String(s) => java_parse_double(&s)
                .map(Value::Double)
                .ok_or_else(|| failed_string_coercion(ty)),
            _ => Err(invalid_conversion(&json, ty)),
        },
        SqlType::Decimal { precision, scale } => {
            let text: &str = match &json {
                Json::Int(raw) | Json::Float(raw) => raw,
                Json::String(s) => s,
                _ => return Err(invalid_conversion(&json, ty)),
            };
            let parsed = decimal_text::parse_decimal(text)
                .ok_or_else(|| KafkaJsonFail::new(format!("Invalid DECIMAL text: '{text}'")))?;
            decimal_text::fit(parsed, *precision, *scale, Rounding::Unnecessary)
                .map(Value::Decimal)
                .map_err(|e| KafkaJsonFail::new(fit_message(e, parsed, *precision, *scale)))
        }
        SqlType::String => kafka_json_string(lv, &json).map(Value::String),
        SqlType::Bytes => match json {
            Json::String(s) => decode_base64(&s).map(Value::Bytes).ok_or_else(|| {
                KafkaJsonFail::new(format!("Value is not a valid Base64 encoded string: {s}"))
            }),
            _ => Err(invalid_conversion(&json, ty)),
        },
        SqlType::Timestamp => kafka_json_long(&json, ty).map(Value::Timestamp),
        #[allow(clippy::cast_possible_truncation)] // Java narrows days the same way.
        SqlType::Date => kafka_json_long(&json, ty).map(|d| Value::Date(d as i32)),
        SqlType::Time => {
            let ms = kafka_json_long(&json, ty)?;
            if !(0..=TIME_MS_MAX).contains(&ms) {
                return Err(KafkaJsonFail::new(format!(
                    "Time values must use number of milliseconds greater than 0 and less than \
                     {TIME_MS_MAX}."
                )));
            }
            Ok(Value::Time(
                i32::try_from(ms).expect("TIME_MS_MAX fits in an i32"),
            ))
        }
        SqlType::Array(item) => {
            if !matches!(json, Json::Array) {
                return Err(invalid_conversion(&json, ty));
            }
            let iter = lv
                .clone()
                .into_array_iter()
                .ok_or_else(|| invalid_conversion(&json, ty))?;
            let mut out = Vec::new();
            for (i, elem) in iter.enumerate() {
                let elem = elem.map_err(|e| KafkaJsonFail::new(e.to_string()))?;
                out.push(coerce_kafka_json(&elem, item).map_err(|e| e.under(&format!("[{i}]")))?);
            }
            Ok(Value::Array(out))
        }
        SqlType::Map(key_ty, value_ty) => {
            if !matches!(json, Json::Object) {
                return Err(invalid_conversion(&json, ty));
            }
            let iter = lv
                .clone()
                .into_object_iter()
                .ok_or_else(|| invalid_conversion(&json, ty))?;
            let mut entries = MapBuilder::default();
            for entry in iter {
                let (k, v) = entry.map_err(|e| KafkaJsonFail::new(e.to_string()))?;
                let key = kafka_json_key(&k, key_ty).map_err(|e| e.under(&format!(".{k}.key")))?;
                let value =
                    coerce_kafka_json(&v, value_ty).map_err(|e| e.under(&format!(".{k}.value")))?;
                entries.insert(key, value);
            }
            Ok(Value::Map(entries.finish()))
        }
        SqlType::Struct(fields) => {
            if !matches!(json, Json::Object) {
                return Err(invalid_conversion(&json, ty));
            }
            let mut out = Vec::with_capacity(fields.len());
            kafka_json_fields(
                lv,
                fields.len(),
                |i| &fields[i].name,
                |i| &fields[i].ty,
                |i, v| out.push((fields[i].name.clone(), v)),
            )?;
            Ok(Value::Struct(out))
        }
    }
}

/// Reads the fields of a JSON object the way `KsqlJsonDeserializer` reads a STRUCT (and a
/// whole wrapped record value): each declared field takes the JSON field with exactly its
/// name, else the one whose upper-cased name equals it; missing fields are null; unknown
/// fields are ignored. `emit` receives the fields in declared order.
pub(crate) fn kafka_json_fields<'n>(
    object: &LazyValue<'_>,
    count: usize,
    name_of: impl Fn(usize) -> &'n str,
    type_of: impl Fn(usize) -> &'n SqlType,
    mut emit: impl FnMut(usize, Value),
) -> Result<(), KafkaJsonFail> {
    let iter = object
        .clone()
        .into_object_iter()
        .ok_or_else(|| KafkaJsonFail::new("Expected a JSON object".to_owned()))?;
    // (exact match, upper-cased match) per declared field; later JSON fields win, as in a
    // Java map.
    let mut slots: Vec<(Option<LazyValue<'_>>, Option<LazyValue<'_>>)> = vec![(None, None); count];
    for entry in iter {
        let (key, v) = entry.map_err(|e| KafkaJsonFail::new(e.to_string()))?;
        for (i, slot) in slots.iter_mut().enumerate() {
            let name = name_of(i);
            if *key == *name {
                slot.0 = Some(v.clone());
            } else if upper_eq(&key, name) {
                slot.1 = Some(v.clone());
            }
        }
    }
    for (i, (exact, upper)) in slots.into_iter().enumerate() {
        let value = match exact.or(upper) {
            Some(v) => coerce_kafka_json(&v, type_of(i))
                .map_err(|e| e.under(&format!(".{}", name_of(i))))?,
            None => Value::Null,
        };
        emit(i, value);
    }
    Ok(())
}

/// One field of a stored JSON record value coerced to its column's type, with the error path
/// `$.NAME` that [`kafka_json_fields`] reports.
pub(crate) fn kafka_json_field(lv: &LazyValue<'_>, ty: &SqlType, name: &str) -> Result<Value> {
    coerce_kafka_json(lv, ty).map_err(|e| e.under(&format!(".{name}")).into_error("$"))
}

/// `raw.toUpperCase().equals(upper)` without allocating when `raw` is ASCII.
pub(crate) fn upper_eq(raw: &str, upper: &str) -> bool {
    if raw.is_ascii() {
        raw.len() == upper.len()
            && raw
                .bytes()
                .zip(upper.bytes())
                .all(|(a, b)| a.to_ascii_uppercase() == b)
    } else {
        raw.to_uppercase() == upper
    }
}

fn kafka_json_long(json: &Json<'_>, ty: &SqlType) -> Result<i64, KafkaJsonFail> {
    match json {
        Json::Int(_) | Json::Float(_) => Ok(numeric_i64(json).unwrap_or(0)),
        Json::String(s) => s.parse::<i64>().map_err(|_| failed_string_coercion(ty)),
        _ => Err(invalid_conversion(json, ty)),
    }
}

/// A MAP key read from JSON (always text) coerced to the key type.
fn kafka_json_key(key: &str, ty: &SqlType) -> Result<Value, KafkaJsonFail> {
    let json = Json::String(Cow::Borrowed(key));
    match ty {
        SqlType::String => Ok(Value::String(key.to_owned())),
        SqlType::Integer => key
            .parse::<i32>()
            .map(Value::Integer)
            .map_err(|_| failed_string_coercion(ty)),
        SqlType::BigInt => key
            .parse::<i64>()
            .map(Value::BigInt)
            .map_err(|_| failed_string_coercion(ty)),
        SqlType::Double => java_parse_double(key)
            .map(Value::Double)
            .ok_or_else(|| failed_string_coercion(ty)),
        SqlType::Decimal { precision, scale } => decimal_text::parse_decimal(key)
            .and_then(|p| decimal_text::fit(p, *precision, *scale, Rounding::Unnecessary).ok())
            .map(Value::Decimal)
            .ok_or_else(|| failed_string_coercion(ty)),
        SqlType::Timestamp => kafka_json_long(&json, ty).map(Value::Timestamp),
        _ => Err(invalid_conversion(&json, ty)),
    }
}

/// `KsqlJsonDeserializer.processString`: text as is, other scalars as their `asText()`,
/// objects re-serialized compactly, arrays as `[a, b]` of their elements' text.
fn kafka_json_string(lv: &LazyValue<'_>, json: &Json<'_>) -> Result<String, KafkaJsonFail> {
    Ok(match json {
        Json::Null => "null".to_owned(),
        Json::String(s) => s.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Int(raw) => match raw.parse::<i128>() {
            Ok(v) => v.to_string(),
            Err(_) => (*raw).to_owned(),
        },
        Json::Float(raw) => {
            decimal_text::big_decimal_to_string(raw).unwrap_or_else(|| (*raw).to_owned())
        }
        Json::Object => compact_json(lv.as_raw_str()),
        Json::Array => {
            let iter = lv
                .clone()
                .into_array_iter()
                .ok_or_else(|| KafkaJsonFail::new("Expected a JSON array".to_owned()))?;
            let mut out = String::from("[");
            for (i, elem) in iter.enumerate() {
                let elem = elem.map_err(|e| KafkaJsonFail::new(e.to_string()))?;
                if i > 0 {
                    out.push_str(", ");
                }
                let inner = classify(&elem);
                out.push_str(
                    &kafka_json_string(&elem, &inner).map_err(|e| e.under(&format!("[{i}]")))?,
                );
            }
            out.push(']');
            out
        }
    })
}

/// Java's `Double.parseDouble`: surrounding whitespace trimmed, `NaN`, `Infinity` and an
/// optional `f`/`d` suffix accepted; Rust-only spellings (`inf`, `nan`) rejected.
fn java_parse_double(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "NaN" {
        return Some(f64::NAN);
    }
    if unsigned == "Infinity" {
        return Some(if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let body = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    body.parse::<f64>().ok()
}

fn fit_message(e: FitError, parsed: ParsedDecimal, precision: u8, scale: u8) -> String {
    let plain = plain_string(parsed);
    match e {
        FitError::NeedsRounding => format!(
            "Cannot fit decimal '{plain}' into DECIMAL({precision}, {scale}) without rounding. \
             (Requires {},{})",
            Decimal::new(parsed.unscaled, 0).digits(),
            parsed.scale
        ),
        FitError::Overflow => format!(
            "Numeric field overflow: A field with precision {precision} and scale {scale} must \
             round to an absolute value less than 10^{}. Got {plain}",
            i32::from(precision) - i32::from(scale)
        ),
        FitError::Invalid => format!("Invalid DECIMAL value: {plain}"),
    }
}

/// `BigDecimal.toPlainString()` of a parsed decimal.
fn plain_string(p: ParsedDecimal) -> String {
    match u8::try_from(p.scale) {
        Ok(scale) => Decimal::new(p.unscaled, scale).to_string(),
        Err(_) if p.scale < 0 => {
            let zeros = usize::try_from(-p.scale).unwrap_or(0);
            format!("{}{}", p.unscaled, "0".repeat(zeros))
        }
        Err(_) => format!("{}E-{}", p.unscaled, p.scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(precision: u8, scale: u8) -> SqlType {
        SqlType::Decimal { precision, scale }
    }

    fn api(json: &str, ty: &SqlType) -> Result<Value> {
        coerce_json_text(json, ty, CoercionMode::Api)
    }

    fn kj(json: &str, ty: &SqlType) -> Result<Value> {
        coerce_json_text(json, ty, CoercionMode::KafkaJson)
    }

    fn api_err(json: &str, ty: &SqlType) -> String {
        api(json, ty).expect_err("should fail").to_string()
    }

    fn kj_err(json: &str, ty: &SqlType) -> String {
        kj(json, ty).expect_err("should fail").to_string()
    }

    #[test]
    fn api_accepts_what_ksqldb_accepts() {
        let ok = |json: &str, ty: SqlType, want: Value| {
            assert_eq!(api(json, &ty).expect(json), want, "{json} as {ty}");
        };
        ok("true", SqlType::Boolean, Value::Boolean(true));
        ok("2147483647", SqlType::Integer, Value::Integer(i32::MAX));
        ok("-5", SqlType::BigInt, Value::BigInt(-5));
        ok("3000000000", SqlType::BigInt, Value::BigInt(3_000_000_000));
        ok("2", SqlType::Double, Value::Double(2.0));
        ok("2.5e3", SqlType::Double, Value::Double(2500.0));
        ok("1.005", dec(4, 2), Value::Decimal(Decimal::new(101, 2)));
        ok("-1.005", dec(4, 2), Value::Decimal(Decimal::new(-101, 2)));
        ok("12", dec(4, 2), Value::Decimal(Decimal::new(1200, 2)));
        ok(
            "\"12.345\"",
            dec(4, 2),
            Value::Decimal(Decimal::new(1235, 2)),
        );
        ok("\"x\\u00e9\"", SqlType::String, Value::String("xé".into()));
        ok("\"AQID\"", SqlType::Bytes, Value::Bytes(vec![1, 2, 3]));
        ok("\"AQI\"", SqlType::Bytes, Value::Bytes(vec![1, 2]));
        ok(
            "\"2021-03-04T05:06:07.123\"",
            SqlType::Timestamp,
            Value::Timestamp(1_614_834_367_123),
        );
        ok("\"2021-03-04\"", SqlType::Date, Value::Date(18_690));
        ok("\"12:34:56\"", SqlType::Time, Value::Time(45_296_000));
        ok("null", SqlType::Integer, Value::Null);
        ok(
            "{\"2021-03-04\": 1}",
            SqlType::Map(Box::new(SqlType::Date), Box::new(SqlType::Integer)),
            Value::Map(vec![(Value::Date(18_690), Value::Integer(1))]),
        );
        ok(
            "{\"a\":1,\"a\":2}",
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
            Value::Map(vec![(Value::String("a".into()), Value::Integer(2))]),
        );
    }

    #[test]
    fn api_rejects_with_ksqldb_text() {
        let cases = [
            (
                "\"1\"",
                SqlType::BigInt,
                "class java.lang.String (1) into type BIGINT",
            ),
            (
                "1",
                SqlType::String,
                "class java.lang.Integer (1) into type STRING",
            ),
            (
                "1.5",
                SqlType::Integer,
                "class java.lang.Double (1.5) into type INTEGER",
            ),
            (
                "1e10",
                SqlType::BigInt,
                "class java.lang.Double (1.0E10) into type BIGINT",
            ),
            (
                "3000000000",
                SqlType::Integer,
                "class java.lang.Long (3000000000) into type INTEGER",
            ),
            (
                "99999999999999999999",
                SqlType::BigInt,
                "class java.math.BigInteger (99999999999999999999) into type BIGINT",
            ),
            (
                "true",
                SqlType::String,
                "class java.lang.Boolean (true) into type STRING",
            ),
            (
                "\"true\"",
                SqlType::Boolean,
                "class java.lang.String (true) into type BOOLEAN",
            ),
            (
                "123456",
                dec(4, 2),
                "class java.lang.Integer (123456) into type DECIMAL(4, 2)",
            ),
            (
                "99.999",
                dec(4, 2),
                "class java.lang.Double (99.999) into type DECIMAL(4, 2)",
            ),
            (
                "\"abc\"",
                dec(4, 2),
                "class java.lang.String (abc) into type DECIMAL(4, 2)",
            ),
            (
                "1614834367123",
                SqlType::Timestamp,
                "class java.lang.Long (1614834367123) into type TIMESTAMP",
            ),
            (
                "\"yesterday\"",
                SqlType::Date,
                "class java.lang.String (yesterday) into type DATE",
            ),
            (
                "\"25:00\"",
                SqlType::Time,
                "class java.lang.String (25:00) into type TIME",
            ),
            (
                "\"!!\"",
                SqlType::Bytes,
                "class java.lang.String (!!) into type BYTES",
            ),
            (
                "[1, \"a\"]",
                SqlType::Array(Box::new(SqlType::Integer)),
                "class io.vertx.core.json.JsonArray ([1,\"a\"]) into type ARRAY<INTEGER>",
            ),
            (
                "{\"a\": 1}",
                SqlType::Array(Box::new(SqlType::Integer)),
                "class io.vertx.core.json.JsonObject ({\"a\":1}) into type ARRAY<INTEGER>",
            ),
            (
                "{\"a\": 1}",
                SqlType::Map(Box::new(SqlType::Integer), Box::new(SqlType::Integer)),
                "class io.vertx.core.json.JsonObject ({\"a\":1}) into type MAP<INTEGER, INTEGER>",
            ),
        ];
        for (json, ty, tail) in cases {
            assert_eq!(
                api_err(json, &ty),
                format!("Can't coerce a field of type {tail}"),
                "{json} as {ty}"
            );
        }
    }

    #[test]
    fn api_structs_normalise_names() {
        let ty = SqlType::Struct(vec![
            StructField {
                name: "A".into(),
                ty: SqlType::Integer,
            },
            StructField {
                name: "b".into(),
                ty: SqlType::String,
            },
        ]);
        assert_eq!(
            api("{\"a\":1,\"`b`\":\"x\",\"other\":true}", &ty).expect("coerces"),
            Value::Struct(vec![
                ("A".into(), Value::Integer(1)),
                ("b".into(), Value::String("x".into())),
            ])
        );
        assert_eq!(
            api("{\"b\":\"x\"}", &ty).expect("coerces"),
            Value::Struct(vec![("A".into(), Value::Null), ("b".into(), Value::Null)])
        );
        assert_eq!(
            api_err("{\"a\":1,\"`A`\":2}", &ty),
            "Found duplicate column / struct field name: A"
        );
        assert_eq!(
            api_err("{\"`a``\":1}", &ty),
            "Invalid column / struct field name. Name: `a``. Reason: Un-escaped quote in middle of value at index 2."
        );
        assert_eq!(identifier_text("`a``b`").as_deref(), Ok("a`b"));
        assert_eq!(identifier_text("\"Mixed\"").as_deref(), Ok("Mixed"));
        assert_eq!(identifier_text("straße").as_deref(), Ok("STRASSE"));
    }

    #[test]
    fn kafka_json_is_lenient_like_the_deserializer() {
        let ok = |json: &str, ty: SqlType, want: Value| {
            assert_eq!(kj(json, &ty).expect(json), want, "{json} as {ty}");
        };
        ok(
            "1614834367123",
            SqlType::Timestamp,
            Value::Timestamp(1_614_834_367_123),
        );
        ok("\"17\"", SqlType::Timestamp, Value::Timestamp(17));
        ok("18690", SqlType::Date, Value::Date(18_690));
        ok("45296789", SqlType::Time, Value::Time(45_296_789));
        ok("\"42\"", SqlType::Integer, Value::Integer(42));
        ok("1.9", SqlType::Integer, Value::Integer(1));
        ok("-1.9", SqlType::BigInt, Value::BigInt(-1));
        ok(
            "3000000000",
            SqlType::Integer,
            Value::Integer(-1_294_967_296),
        );
        ok("\" 2.5 \"", SqlType::Double, Value::Double(2.5));
        assert!(matches!(kj("\"NaN\"", &SqlType::Double), Ok(Value::Double(d)) if d.is_nan()));
        ok("\"12.1\"", dec(4, 2), Value::Decimal(Decimal::new(1210, 2)));
        ok("1", SqlType::String, Value::String("1".into()));
        ok("1.50", SqlType::String, Value::String("1.50".into()));
        ok("1e5", SqlType::String, Value::String("1E+5".into()));
        ok("true", SqlType::String, Value::String("true".into()));
        ok(
            "{ \"a\" : 1 }",
            SqlType::String,
            Value::String("{\"a\":1}".into()),
        );
        ok(
            "[1, \"a\", null]",
            SqlType::String,
            Value::String("[1, a, null]".into()),
        );
        ok("\"AQID\"", SqlType::Bytes, Value::Bytes(vec![1, 2, 3]));
        ok(
            "{\"x\": 1}",
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::BigInt)),
            Value::Map(vec![(Value::String("x".into()), Value::BigInt(1))]),
        );
    }

    #[test]
    fn kafka_json_errors_carry_ksqldb_text() {
        assert_eq!(
            kj_err("\"yes\"", &SqlType::Boolean),
            "Can't convert type. sourceType: TextNode, requiredType: BOOLEAN, path: $"
        );
        assert_eq!(
            kj_err("true", &SqlType::Integer),
            "Can't convert type. sourceType: BooleanNode, requiredType: INTEGER, path: $"
        );
        assert_eq!(
            kj_err("\"x\"", &SqlType::BigInt),
            "Can't coerce string to type. targetType: BIGINT, path: $"
        );
        assert_eq!(
            kj_err("1.234", &dec(4, 2)),
            "Cannot fit decimal '1.234' into DECIMAL(4, 2) without rounding. (Requires 4,3), path: $"
        );
        assert_eq!(
            kj_err("123.4", &dec(4, 2)),
            "Numeric field overflow: A field with precision 4 and scale 2 must round to an \
             absolute value less than 10^2. Got 123.4, path: $"
        );
        assert_eq!(
            kj_err("86400001", &SqlType::Time),
            "Time values must use number of milliseconds greater than 0 and less than 86400000., path: $"
        );
        assert_eq!(
            kj_err("\"!!\"", &SqlType::Bytes),
            "Value is not a valid Base64 encoded string: !!, path: $"
        );
        let nested = SqlType::Struct(vec![StructField {
            name: "F".into(),
            ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
        }]);
        assert_eq!(
            kj_err("{\"f\": {\"k\": []}}", &nested),
            "Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $.F.k.value"
        );
    }

    #[test]
    fn java_double_parsing_rejects_rust_only_spellings() {
        assert_eq!(java_parse_double("inf"), None);
        assert_eq!(java_parse_double("1.5d"), Some(1.5));
        assert_eq!(java_parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(java_parse_double(""), None);
    }
}
