//! The strict rules for rows sent to `/inserts-stream` (`ApiSqlValueCoercer` over
//! `DefaultSqlValueCoercer.STRICT`).

use sonic_rs::LazyValue;

use crate::error::{EngineError, Result};
use crate::types::{SqlType, Value};

use super::java_json::*;
use crate::format::decimal_text::{self, Rounding};
use crate::types::StructField;

/// Why an API coercion failed.
pub(super) enum ApiFail {
    /// The value does not fit the type: reported with ksqlDB's "Can't coerce" text for the
    /// whole top-level value, as `KeyValueExtractor` does.
    Mismatch,
    /// A specific message (duplicate or malformed struct field names).
    Message(String),
}

/// Coerces a top-level field under the API rules.
pub(crate) fn coerce_api(lv: &LazyValue<'_>, ty: &SqlType) -> Result<Value> {
    api(lv, ty).map_err(|fail| match fail {
        ApiFail::Message(m) => EngineError::bad_request(m),
        ApiFail::Mismatch => {
            let json = classify(lv);
            EngineError::bad_request(format!(
                "Can't coerce a field of type {} ({}) into type {ty}",
                java_class(&json),
                java_to_string(lv, &json)
            ))
        }
    })
}

pub(super) fn api(lv: &LazyValue<'_>, ty: &SqlType) -> Result<Value, ApiFail> {
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
            Json::Float(raw) => Ok(Value::Double(parse_f64(raw))),
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Decimal { precision, scale } => api_decimal(&json, *precision, *scale),
        SqlType::String => match json {
            Json::String(s) => Ok(Value::String(s.into_owned())),
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Bytes => match json {
            Json::String(s) => decode_base64(&s)
                .map(Value::Bytes)
                .ok_or(ApiFail::Mismatch),
            _ => Err(ApiFail::Mismatch),
        },
        SqlType::Timestamp | SqlType::Date | SqlType::Time => match json {
            // `DefaultSqlValueCoercer.parser` trims before parsing.
            Json::String(s) => parse_temporal_text(s.trim(), ty).ok_or(ApiFail::Mismatch),
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
                out.push(api(&elem, item)?);
            }
            Ok(Value::Array(out))
        }
        SqlType::Map(key_ty, value_ty) => {
            if !matches!(json, Json::Object) {
                return Err(ApiFail::Mismatch);
            }
            let iter = lv.clone().into_object_iter().ok_or(ApiFail::Mismatch)?;
            let mut entries = MapBuilder::default();
            for entry in iter {
                let (k, v) = entry.map_err(|_| ApiFail::Mismatch)?;
                let key = api_from_string(&k, key_ty)?;
                let value = api(&v, value_ty)?;
                entries.insert(key, value);
            }
            Ok(Value::Map(entries.finish()))
        }
        SqlType::Struct(fields) => {
            if !matches!(json, Json::Object) {
                return Err(ApiFail::Mismatch);
            }
            api_struct(lv, fields)
        }
    }
}

pub(super) fn api_decimal(json: &Json<'_>, precision: u8, scale: u8) -> Result<Value, ApiFail> {
    match json {
        // `ApiSqlValueCoercer.coerceDecimal`: `new BigDecimal(String.valueOf(d))`, HALF_UP.
        Json::Float(raw) => {
            let parsed = decimal_text::parse_double_token(raw).ok_or(ApiFail::Mismatch)?;
            decimal_text::fit(parsed, precision, scale, Rounding::HalfUp)
                .map(Value::Decimal)
                .map_err(|_| ApiFail::Mismatch)
        }
        // Integer/Long go through `DecimalUtil.ensureFit`: exact or fail.
        Json::Int(raw) => {
            let parsed = decimal_text::parse_decimal(raw).ok_or(ApiFail::Mismatch)?;
            decimal_text::fit(parsed, precision, scale, Rounding::Unnecessary)
                .map(Value::Decimal)
                .map_err(|_| ApiFail::Mismatch)
        }
        // `new BigDecimal(text).setScale(scale, HALF_UP)`: no trimming.
        Json::String(s) => {
            let parsed = decimal_text::parse_decimal(s).ok_or(ApiFail::Mismatch)?;
            decimal_text::fit(parsed, precision, scale, Rounding::HalfUp)
                .map(Value::Decimal)
                .map_err(|_| ApiFail::Mismatch)
        }
        _ => Err(ApiFail::Mismatch),
    }
}

/// API coercion of a JSON object key (always a Java `String`) to a MAP key type.
pub(super) fn api_from_string(s: &str, ty: &SqlType) -> Result<Value, ApiFail> {
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

pub(super) fn api_struct(lv: &LazyValue<'_>, fields: &[StructField]) -> Result<Value, ApiFail> {
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
        // A field the struct does not have is ignored, as ksqlDB does.
        if let Some(i) = fields.iter().position(|f| f.name == *name) {
            slots[i] = Some(v);
        }
    }
    let mut out = Vec::with_capacity(fields.len());
    for (field, slot) in fields.iter().zip(slots) {
        let value = match slot {
            Some(v) => api(&v, &field.ty)?,
            None => Value::Null,
        };
        out.push((field.name.clone(), value));
    }
    Ok(Value::Struct(out))
}
