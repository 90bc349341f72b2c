//! The lenient rules for JSON stored in topics, as `KsqlJsonDeserializer` reads it.

use std::borrow::Cow;

use sonic_rs::LazyValue;

use crate::error::{EngineError, Result};
use crate::types::{SqlType, Value};

use super::java_json::*;
use crate::format::decimal_text::{self, FitError, ParsedDecimal, Rounding};
use crate::format::json_text::compact_json;
use crate::types::Decimal;

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
        EngineError::bad_request(format!("{}, path: {root}{}", self.message, self.path))
    }
}

/// Jackson's node class for a value, as `JsonSerdeUtils.invalidConversionException` names it
/// (floats are `DecimalNode` because ksqlDB enables `USE_BIG_DECIMAL_FOR_FLOATS`).
pub(super) fn jackson_node(json: &Json<'_>) -> &'static str {
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

pub(super) fn invalid_conversion(json: &Json<'_>, ty: &SqlType) -> KafkaJsonFail {
    KafkaJsonFail::new(format!(
        "Can't convert type. sourceType: {}, requiredType: {ty}",
        jackson_node(json)
    ))
}

pub(super) fn failed_string_coercion(ty: &SqlType) -> KafkaJsonFail {
    KafkaJsonFail::new(format!(
        "Can't coerce string to type. targetType: {}",
        ty.base_name()
    ))
}

/// An integer token's value as Java's `BigInteger`, kept to its low 128 bits.
pub(super) fn int_token_i128(raw: &str) -> i128 {
    raw.parse::<i128>().unwrap_or_else(|_| {
        #[allow(clippy::cast_possible_truncation)] // A rough value for absurd widths is fine.
        let v = parse_f64(raw) as i128;
        v
    })
}

/// A float token truncated toward zero, as `BigDecimal.longValue()`/`intValue()` do.
pub(super) fn float_token_trunc(raw: &str) -> i128 {
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
pub(super) fn numeric_i64(json: &Json<'_>) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    match json {
        Json::Int(raw) => Some(int_token_i128(raw) as i64),
        Json::Float(raw) => Some(float_token_trunc(raw) as i64),
        _ => None,
    }
}

pub(super) fn coerce_kafka_json(lv: &LazyValue<'_>, ty: &SqlType) -> Result<Value, KafkaJsonFail> {
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

pub(super) fn kafka_json_long(json: &Json<'_>, ty: &SqlType) -> Result<i64, KafkaJsonFail> {
    match json {
        Json::Int(_) | Json::Float(_) => Ok(numeric_i64(json).unwrap_or(0)),
        Json::String(s) => s.parse::<i64>().map_err(|_| failed_string_coercion(ty)),
        _ => Err(invalid_conversion(json, ty)),
    }
}

/// A MAP key read from JSON (always text) coerced to the key type.
pub(super) fn kafka_json_key(key: &str, ty: &SqlType) -> Result<Value, KafkaJsonFail> {
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
pub(super) fn kafka_json_string(
    lv: &LazyValue<'_>,
    json: &Json<'_>,
) -> Result<String, KafkaJsonFail> {
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
pub(super) fn java_parse_double(text: &str) -> Option<f64> {
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

pub(super) fn fit_message(e: FitError, parsed: ParsedDecimal, precision: u8, scale: u8) -> String {
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

/// Trailing zeros [`plain_string`] writes out before it switches to `BigDecimal.toString()`'s
/// scientific form. A DECIMAL holds at most 38 digits, so a number needing more is refused
/// anyway, and spelling it out only made its error message huge: `1e2000000000` took 2 GB
/// (found by the `key_formats` fuzz target).
const PLAIN_ZEROS_MAX: usize = 64;

/// `BigDecimal.toPlainString()` of a parsed decimal (`toString()` past [`PLAIN_ZEROS_MAX`]
/// trailing zeros).
pub(super) fn plain_string(p: ParsedDecimal) -> String {
    match u8::try_from(p.scale) {
        Ok(scale) => Decimal::new(p.unscaled, scale).to_string(),
        Err(_) if p.scale < 0 => {
            let zeros = usize::try_from(-i64::from(p.scale)).unwrap_or(usize::MAX);
            if zeros > PLAIN_ZEROS_MAX {
                // Java: one digit before the point, the rest after, then the exponent.
                let digits = p.unscaled.unsigned_abs().to_string();
                let sign = if p.unscaled < 0 { "-" } else { "" };
                let (first, rest) = digits.split_at(1);
                let point = if rest.is_empty() { "" } else { "." };
                let exponent = -i64::from(p.scale) + rest.len() as i64;
                return format!("{sign}{first}{point}{rest}E+{exponent}");
            }
            format!("{}{}", p.unscaled, "0".repeat(zeros))
        }
        Err(_) => format!("{}E-{}", p.unscaled, p.scale),
    }
}
