//! `CAST(x AS T)`: which casts exist (checked once, at compile time) and how each converts.
//!
//! The supported pairs are ksqlDB's `CastEvaluator.SUPPORTED` table; a cast to the same type
//! is the identity. Conversions behave as the Java code ksqlDB generates: `BIGINT → INT`
//! keeps the low 32 bits, `DOUBLE → INT` truncates and saturates, `STRING → INT` parses the
//! trimmed text, DECIMAL targets round HALF_UP and reject values that do not fit.

use std::borrow::Cow;

use base64::Engine as _;

use super::decimal::{self, DecType};
use super::java_text;
use crate::error::EngineError;
use crate::types::{temporal, Decimal, SqlType, Value};

const MS_PER_DAY: i64 = 86_400_000;

/// A cast decided at compile time; nested plans for the elements of complex types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CastPlan {
    Identity,
    /// Between primitives (including STRING, DECIMAL and the temporal types).
    Scalar(SqlType),
    Array(Box<CastPlan>),
    Map(Box<CastPlan>, Box<CastPlan>),
    /// Target fields in target order; source fields absent from the target are dropped,
    /// target fields absent from the source are NULL (`CastEvaluator.castStruct`).
    Struct(Vec<FieldCast>),
    /// ARRAY, MAP or STRUCT rendered as Java's `toString`.
    ComplexToString,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldCast {
    name: String,
    /// Index of the same-named source field and how to convert it.
    source: Option<(usize, CastPlan)>,
}

/// ksqlDB's text for a pair missing from its cast table.
pub(crate) fn unsupported(from: &SqlType, to: &SqlType) -> EngineError {
    EngineError::statement(format!("Cast of {from} to {to} is not supported"))
}

/// Decides how to cast `from` to `to`, or fails with ksqlDB's error text.
pub(crate) fn plan(from: &SqlType, to: &SqlType) -> Result<CastPlan, EngineError> {
    if from == to {
        return Ok(CastPlan::Identity);
    }
    use SqlType as T;
    let plan = match (from, to) {
        (T::Array(f), T::Array(t)) => CastPlan::Array(Box::new(nested(from, to, f, t)?)),
        (T::Map(fk, fv), T::Map(tk, tv)) => CastPlan::Map(
            Box::new(nested(from, to, fk, tk)?),
            Box::new(nested(from, to, fv, tv)?),
        ),
        (T::Struct(ff), T::Struct(tf)) => {
            let mut fields = Vec::with_capacity(tf.len());
            for target in tf {
                let source = match ff.iter().position(|f| f.name == target.name) {
                    Some(i) => Some((i, nested(from, to, &ff[i].ty, &target.ty)?)),
                    None => None,
                };
                fields.push(FieldCast {
                    name: target.name.clone(),
                    source,
                });
            }
            CastPlan::Struct(fields)
        }
        (T::Array(_) | T::Map(..) | T::Struct(_), T::String) => CastPlan::ComplexToString,
        _ if scalar_supported(from, to) => CastPlan::Scalar(to.clone()),
        _ => return Err(unsupported(from, to)),
    };
    Ok(plan)
}

/// An element cast inside a complex cast; its failure names the outer types, as ksqlDB does.
fn nested(
    outer_from: &SqlType,
    outer_to: &SqlType,
    from: &SqlType,
    to: &SqlType,
) -> Result<CastPlan, EngineError> {
    plan(from, to).map_err(|_| unsupported(outer_from, outer_to))
}

fn scalar_supported(from: &SqlType, to: &SqlType) -> bool {
    use SqlType as T;
    matches!(
        (from, to),
        (T::Boolean, T::String)
            | (
                T::Integer | T::BigInt | T::Decimal { .. } | T::Double,
                T::Integer | T::BigInt | T::Decimal { .. } | T::Double | T::String
            )
            | (
                T::String,
                T::Boolean
                    | T::Integer
                    | T::BigInt
                    | T::Decimal { .. }
                    | T::Double
                    | T::Timestamp
                    | T::Time
                    | T::Date
                    | T::Bytes
            )
            | (T::Timestamp, T::String | T::Time | T::Date)
            | (T::Date, T::Timestamp | T::String)
            | (T::Time, T::String)
    )
}

/// Applies a plan; NULL stays NULL.
pub(crate) fn apply<'a>(plan: &CastPlan, v: Cow<'a, Value>) -> Result<Cow<'a, Value>, EngineError> {
    if v.is_null() {
        return Ok(v);
    }
    let out = match plan {
        CastPlan::Identity => return Ok(v),
        CastPlan::Scalar(to) => scalar(&v, to)?,
        CastPlan::Array(elem) => array(&v, elem)?,
        CastPlan::Map(k, val) => map(&v, k, val)?,
        CastPlan::Struct(fields) => structure(&v, fields)?,
        CastPlan::ComplexToString => Value::String(java_text::value(&v)),
    };
    Ok(Cow::Owned(out))
}

fn mismatch(v: &Value, what: &str) -> EngineError {
    EngineError::internal(format!("cast expected {what}, got {v:?}"))
}

fn array(v: &Value, elem: &CastPlan) -> Result<Value, EngineError> {
    let Value::Array(items) = v else {
        return Err(mismatch(v, "ARRAY"));
    };
    let out = items
        .iter()
        .map(|i| apply(elem, Cow::Borrowed(i)).map(Cow::into_owned))
        .collect::<Result<_, _>>()?;
    Ok(Value::Array(out))
}

fn map(v: &Value, key: &CastPlan, val: &CastPlan) -> Result<Value, EngineError> {
    let Value::Map(entries) = v else {
        return Err(mismatch(v, "MAP"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, x) in entries {
        let k = apply(key, Cow::Borrowed(k))?.into_owned();
        let x = apply(val, Cow::Borrowed(x))?.into_owned();
        out.push((k, x));
    }
    Ok(Value::Map(out))
}

fn structure(v: &Value, fields: &[FieldCast]) -> Result<Value, EngineError> {
    let Value::Struct(source) = v else {
        return Err(mismatch(v, "STRUCT"));
    };
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let value = match &field.source {
            Some((i, plan)) => match source_field(source, *i, &field.name) {
                Some(x) => apply(plan, Cow::Borrowed(x))?.into_owned(),
                None => Value::Null,
            },
            None => Value::Null,
        };
        out.push((field.name.clone(), value));
    }
    Ok(Value::Struct(out))
}

/// The field at its declared index, or found by name if the row's struct is laid out
/// differently from its type.
pub(crate) fn source_field<'a>(
    fields: &'a [(String, Value)],
    index: usize,
    name: &str,
) -> Option<&'a Value> {
    match fields.get(index) {
        Some((n, v)) if n == name => Some(v),
        _ => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
    }
}

/// Converts a non-null primitive value to `to`.
pub(crate) fn scalar(v: &Value, to: &SqlType) -> Result<Value, EngineError> {
    match to {
        SqlType::String => Ok(Value::String(to_string(v))),
        SqlType::Boolean => to_boolean(v),
        SqlType::Integer => to_integer(v),
        SqlType::BigInt => to_bigint(v),
        SqlType::Double => to_double(v),
        SqlType::Decimal { precision, scale } => to_decimal(v, DecType::new(*precision, *scale)),
        SqlType::Timestamp => to_timestamp(v),
        SqlType::Date => to_date(v),
        SqlType::Time => to_time(v),
        SqlType::Bytes => to_bytes(v),
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            Err(mismatch(v, "a primitive"))
        }
    }
}

fn to_string(v: &Value) -> String {
    java_text::value(v)
}

/// `NumberFormatException`-style text for unparsable input.
fn bad_text(s: &str, to: &str) -> EngineError {
    EngineError::bad_request(format!("Cannot convert '{s}' to {to}"))
}

/// `SqlBooleans.parseBoolean`: any non-empty prefix of `true` or `yes`, ignoring case, is
/// TRUE; everything else is FALSE.
fn to_boolean(v: &Value) -> Result<Value, EngineError> {
    let Value::String(s) = v else {
        return Err(mismatch(v, "STRING"));
    };
    let s = s.trim().to_ascii_lowercase();
    let is_prefix = |word: &str| !s.is_empty() && word.starts_with(s.as_str());
    Ok(Value::Boolean(is_prefix("true") || is_prefix("yes")))
}

fn to_integer(v: &Value) -> Result<Value, EngineError> {
    // Narrowing keeps the low bits (`Long.intValue`), doubles saturate (`(int) d`).
    let i = match v {
        Value::Integer(i) => *i,
        Value::BigInt(i) => *i as i32,
        Value::Double(d) => *d as i32,
        Value::Decimal(d) => decimal_int_part(*d) as i32,
        Value::String(s) => s.trim().parse().map_err(|_| bad_text(s, "INTEGER"))?,
        _ => return Err(mismatch(v, "a number or STRING")),
    };
    Ok(Value::Integer(i))
}

fn to_bigint(v: &Value) -> Result<Value, EngineError> {
    let i = match v {
        Value::Integer(i) => i64::from(*i),
        Value::BigInt(i) => *i,
        Value::Double(d) => *d as i64,
        Value::Decimal(d) => decimal_int_part(*d) as i64,
        Value::String(s) => s.trim().parse().map_err(|_| bad_text(s, "BIGINT"))?,
        _ => return Err(mismatch(v, "a number or STRING")),
    };
    Ok(Value::BigInt(i))
}

/// `BigDecimal.toBigInteger`: the integer part, truncated toward zero.
fn decimal_int_part(d: Decimal) -> i128 {
    match decimal::pow10(u32::from(d.scale)) {
        Some(p) => d.unscaled / p,
        None => 0,
    }
}

fn to_double(v: &Value) -> Result<Value, EngineError> {
    let d = match v {
        Value::Integer(i) => f64::from(*i),
        Value::BigInt(i) => *i as f64,
        Value::Double(d) => *d,
        Value::Decimal(d) => decimal::to_f64(*d),
        Value::String(s) => parse_double(s)?,
        _ => return Err(mismatch(v, "a number or STRING")),
    };
    Ok(Value::Double(d))
}

/// `SqlDoubles.parseDouble`: Java's `Double.parseDouble` on the trimmed text (which allows
/// a trailing `d` or `f`), rejecting NaN and infinities.
fn parse_double(s: &str) -> Result<f64, EngineError> {
    let t = s.trim();
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    let looks_numeric = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match t.parse::<f64>() {
        Ok(d) if looks_numeric && d.is_finite() => Ok(d),
        _ => Err(EngineError::bad_request(format!(
            "Invalid double value: {s}"
        ))),
    }
}

fn to_decimal(v: &Value, ty: DecType) -> Result<Value, EngineError> {
    let d = match v {
        Value::Integer(i) => decimal::cast(Decimal::new(i128::from(*i), 0), ty)?,
        Value::BigInt(i) => decimal::cast(Decimal::new(i128::from(*i), 0), ty)?,
        Value::Decimal(d) => decimal::cast(*d, ty)?,
        Value::Double(d) => double_to_decimal(*d, ty)?,
        Value::String(s) => decimal::from_text(s.trim(), ty)?,
        _ => return Err(mismatch(v, "a number or STRING")),
    };
    Ok(Value::Decimal(d))
}

/// Goes through the shortest text that round-trips the double (`BigDecimal.valueOf`).
fn double_to_decimal(d: f64, ty: DecType) -> Result<Decimal, EngineError> {
    if !d.is_finite() {
        return Err(EngineError::bad_request(format!(
            "Cannot convert {} to {}",
            java_text::double(d),
            ty.sql_type()
        )));
    }
    decimal::from_text(&format!("{d:e}"), ty)
}

fn to_timestamp(v: &Value) -> Result<Value, EngineError> {
    let ms = match v {
        Value::Timestamp(ms) => *ms,
        Value::Date(days) => i64::from(*days) * MS_PER_DAY,
        Value::String(s) => {
            temporal::parse_timestamp(s.trim()).ok_or_else(|| bad_text(s, "TIMESTAMP"))?
        }
        _ => return Err(mismatch(v, "STRING, DATE or TIMESTAMP")),
    };
    Ok(Value::Timestamp(ms))
}

fn to_date(v: &Value) -> Result<Value, EngineError> {
    let days = match v {
        Value::Date(days) => *days,
        Value::Timestamp(ms) => i32::try_from(ms.div_euclid(MS_PER_DAY))
            .map_err(|_| EngineError::bad_request(format!("TIMESTAMP {ms} out of DATE range")))?,
        Value::String(s) => temporal::parse_date(s.trim()).ok_or_else(|| bad_text(s, "DATE"))?,
        _ => return Err(mismatch(v, "STRING or TIMESTAMP")),
    };
    Ok(Value::Date(days))
}

fn to_time(v: &Value) -> Result<Value, EngineError> {
    let ms = match v {
        Value::Time(ms) => *ms,
        Value::Timestamp(ms) => {
            i32::try_from(ms.rem_euclid(MS_PER_DAY)).expect("ms of a day fit in i32")
        }
        Value::String(s) => temporal::parse_time(s.trim()).ok_or_else(|| bad_text(s, "TIME"))?,
        _ => return Err(mismatch(v, "STRING or TIMESTAMP")),
    };
    Ok(Value::Time(ms))
}

fn to_bytes(v: &Value) -> Result<Value, EngineError> {
    match v {
        Value::Bytes(b) => Ok(Value::Bytes(b.clone())),
        Value::String(s) => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(Value::Bytes)
            .map_err(|_| bad_text(s, "BYTES")),
        _ => Err(mismatch(v, "STRING")),
    }
}
