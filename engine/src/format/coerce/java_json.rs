//! The JSON value as Java would see it, and the name, map, base64 and temporal helpers both
//! coercion rule sets use (`api` for inserted rows, `kafka_json` for stored records).

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use sonic_rs::{JsonValueTrait, LazyValue};

use crate::error::{EngineError, Result};
use crate::format::java_double::java_double_string;
use crate::format::json_text::{compact_json, exceeds_nesting_depth, JSON_NESTING_DEPTH_MAX};
use crate::types::{temporal, SqlType, Value};

/// Maps at most this big find duplicate keys by linear scan; bigger ones use a hash map, so
/// a huge object cannot make coercion quadratic.
pub(super) const MAP_LINEAR_DEDUP_ENTRIES_MAX: usize = 16;

/// Milliseconds in a day: ksqlDB's upper bound (inclusive) for a TIME read from JSON
/// (`SerdeUtils.returnTimeOrThrow`).
pub(super) const TIME_MS_MAX: i64 = 86_400_000;

/// Validates `bytes` as exactly one JSON value (whitespace around it allowed), guarding the
/// nesting depth first.
pub(crate) fn parse_json_value(bytes: &[u8]) -> Result<LazyValue<'_>> {
    // sonic-rs does not validate UTF-8 itself (it only debug-asserts); stored or produced
    // bytes may be anything, so check before parsing.
    if std::str::from_utf8(bytes).is_err() {
        return Err(EngineError::bad_request("Invalid JSON: invalid UTF-8"));
    }
    if exceeds_nesting_depth(bytes) {
        return Err(EngineError::bad_request(format!(
            "JSON nests deeper than {JSON_NESTING_DEPTH_MAX} levels"
        )));
    }
    sonic_rs::from_slice::<LazyValue<'_>>(bytes)
        .map_err(|e| EngineError::bad_request(format!("Invalid JSON: {e}")))
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
    // sonic-rs's raw text of a value inside an object or array can end with the whitespace
    // before the next `,`: `{"a":1 ,…}` gives `1 `, which would not parse as a number.
    let raw = lv
        .as_raw_str()
        .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
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
pub(super) enum JavaInt {
    Integer(i32),
    Long(i64),
    BigInteger,
}

pub(super) fn java_int(raw: &str) -> JavaInt {
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
pub(super) fn java_class(json: &Json<'_>) -> &'static str {
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
pub(super) fn java_to_string(lv: &LazyValue<'_>, json: &Json<'_>) -> String {
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

pub(crate) fn parse_f64(raw: &str) -> f64 {
    // A validated JSON number always parses; overflow gives ±inf as Jackson's Double does.
    raw.parse::<f64>().unwrap_or(f64::NAN)
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

pub(super) fn unquote(raw: &str, quote: char) -> Result<Cow<'_, str>, String> {
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
pub(super) struct MapBuilder {
    entries: Vec<(Value, Value)>,
    index: HashMap<String, usize>,
}

impl MapBuilder {
    /// Adds an entry; true if it replaced an earlier one with an equal key.
    pub(super) fn insert(&mut self, key: Value, value: Value) -> bool {
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

    pub(super) fn finish(self) -> Vec<(Value, Value)> {
        self.entries
    }
}

/// A hashable identity for a coerced MAP key (keys are scalars).
pub(super) fn map_key_text(key: &Value) -> String {
    format!("{key:?}")
}

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // Java's `Base64.getDecoder()` accepts missing padding; so do we.
    base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode(text)
    .ok()
}

pub(crate) fn parse_temporal_text(text: &str, ty: &SqlType) -> Option<Value> {
    match ty {
        SqlType::Timestamp => temporal::parse_timestamp(text).map(Value::Timestamp),
        SqlType::Date => temporal::parse_date(text).map(Value::Date),
        SqlType::Time => temporal::parse_time(text).map(Value::Time),
        _ => None,
    }
}
