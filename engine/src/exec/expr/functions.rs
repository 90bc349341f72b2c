//! The scalar function registry: name → (resolve argument types, evaluate).
//!
//! Each entry resolves its overloads once at compile time, from the argument types, to a
//! [`Signature`]: the types to coerce arguments to, the result type, and one plain `fn`
//! kernel. Adding a function is one row in [`FUNCTIONS`] plus its kernels. Kernels follow
//! the Java UDFs in ksqlDB's `function/udf/` (cited per function) and must not panic.
//!
//! Lambda-taking functions (`TRANSFORM`, `FILTER`, `REDUCE`) will resolve the same way once
//! the compiler types lambda bodies; the `Signature` shape does not preclude them.

use std::borrow::Cow;

use super::decimal::{self, DecType};
use crate::error::EngineError;
use crate::types::{Decimal, SqlType, Value};

/// Evaluates a call. Arguments arrive coerced to `Signature::params`; `ret` is the result
/// type (some kernels, like DECIMAL `ROUND`, need its scale).
pub(crate) type EvalFn = fn(args: &[Cow<'_, Value>], ret: &SqlType) -> Result<Value, EngineError>;

/// An argument type as the compiler sees it: `None` is an untyped `NULL` literal.
pub(crate) type ArgType = Option<SqlType>;

/// One resolved overload.
pub(crate) struct Signature {
    /// Per argument, the type to coerce it to (`None`: leave as is).
    pub params: Vec<Option<SqlType>>,
    pub ret: SqlType,
    pub eval: EvalFn,
}

type ResolveFn = fn(args: &[ArgType]) -> Option<Signature>;

pub(crate) struct FunctionDef {
    pub name: &'static str,
    resolve: ResolveFn,
}

/// Every scalar function, by upper-case name.
static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        name: "ABS",
        resolve: abs,
    },
    FunctionDef {
        name: "CEIL",
        resolve: ceil,
    },
    FunctionDef {
        name: "COALESCE",
        resolve: coalesce,
    },
    FunctionDef {
        name: "CONCAT",
        resolve: concat,
    },
    FunctionDef {
        name: "FLOOR",
        resolve: floor,
    },
    FunctionDef {
        name: "IFNULL",
        resolve: ifnull,
    },
    FunctionDef {
        name: "LCASE",
        resolve: lcase,
    },
    FunctionDef {
        name: "LEN",
        resolve: len,
    },
    FunctionDef {
        name: "ROUND",
        resolve: round,
    },
    FunctionDef {
        name: "SUBSTRING",
        resolve: substring,
    },
    FunctionDef {
        name: "TRIM",
        resolve: trim,
    },
    FunctionDef {
        name: "UCASE",
        resolve: ucase,
    },
];

/// Names of all registered scalar functions (for `SHOW FUNCTIONS`).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

pub(crate) fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

impl FunctionDef {
    pub(crate) fn resolve(&self, args: &[ArgType]) -> Option<Signature> {
        (self.resolve)(args)
    }
}

// ---------------------------------------------------------------------------------------
// Resolution helpers.

fn sig(params: Vec<Option<SqlType>>, ret: SqlType, eval: EvalFn) -> Option<Signature> {
    Some(Signature { params, ret, eval })
}

/// True when an argument of type `arg` can be passed where `want` is expected.
fn accepts(arg: &ArgType, want: &SqlType) -> bool {
    arg.as_ref().is_none_or(|t| t == want)
}

/// Resolves `f(STRING) -> ret`.
fn string_fn(args: &[ArgType], ret: SqlType, eval: EvalFn) -> Option<Signature> {
    match args {
        [a] if accepts(a, &SqlType::String) => sig(vec![Some(SqlType::String)], ret, eval),
        _ => None,
    }
}

/// The first argument's type when it is numeric (an untyped NULL resolves as INTEGER).
fn numeric_arg(arg: &ArgType) -> Option<SqlType> {
    match arg {
        None => Some(SqlType::Integer),
        Some(t) if t.is_numeric() => Some(t.clone()),
        Some(_) => None,
    }
}

fn null_if_any_null(args: &[Cow<'_, Value>]) -> bool {
    args.iter().any(|a| a.is_null())
}

fn bad_arg(name: &str, v: &Value) -> EngineError {
    EngineError::Internal(format!(
        "{name} got an argument it did not resolve for: {v:?}"
    ))
}

// ---------------------------------------------------------------------------------------
// String functions (udf/string/*.java).

fn ucase(args: &[ArgType]) -> Option<Signature> {
    string_fn(args, SqlType::String, |a, _| {
        map_string(a, "UCASE", |s| s.to_uppercase())
    })
}

fn lcase(args: &[ArgType]) -> Option<Signature> {
    string_fn(args, SqlType::String, |a, _| {
        map_string(a, "LCASE", |s| s.to_lowercase())
    })
}

/// `String.trim` strips every char <= U+0020 from both ends, not Unicode whitespace.
fn trim(args: &[ArgType]) -> Option<Signature> {
    string_fn(args, SqlType::String, |a, _| {
        map_string(a, "TRIM", |s| s.trim_matches(|c| c <= ' ').to_string())
    })
}

fn map_string(
    args: &[Cow<'_, Value>],
    name: &str,
    f: impl Fn(&str) -> String,
) -> Result<Value, EngineError> {
    match args.first().map(|a| a.as_ref()) {
        Some(Value::String(s)) => Ok(Value::String(f(s))),
        Some(Value::Null) => Ok(Value::Null),
        Some(other) => Err(bad_arg(name, other)),
        None => Err(EngineError::Internal(format!(
            "{name} called without arguments"
        ))),
    }
}

/// `LEN(STRING)` counts UTF-16 code units (`String.length`); `LEN(BYTES)` counts bytes.
fn len(args: &[ArgType]) -> Option<Signature> {
    let eval: EvalFn = |a, _| match a.first().map(|a| a.as_ref()) {
        Some(Value::String(s)) => Ok(Value::Integer(utf16_len(s))),
        Some(Value::Bytes(b)) => Ok(Value::Integer(i32::try_from(b.len()).unwrap_or(i32::MAX))),
        Some(Value::Null) => Ok(Value::Null),
        Some(other) => Err(bad_arg("LEN", other)),
        None => Err(EngineError::Internal("LEN called without arguments".into())),
    };
    match args {
        [None] | [Some(SqlType::String)] => sig(vec![None], SqlType::Integer, eval),
        [Some(SqlType::Bytes)] => sig(vec![None], SqlType::Integer, eval),
        _ => None,
    }
}

fn utf16_len(s: &str) -> i32 {
    let n = if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `CONCAT(STRING, …)` or `CONCAT(BYTES, …)`: NULL arguments are skipped (`Concat.java`).
fn concat(args: &[ArgType]) -> Option<Signature> {
    let ty = args
        .iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or(SqlType::String);
    if args.is_empty() || !matches!(ty, SqlType::String | SqlType::Bytes) {
        return None;
    }
    if !args.iter().all(|a| accepts(a, &ty)) {
        return None;
    }
    let params = vec![None; args.len()];
    if ty == SqlType::Bytes {
        return sig(params, ty, concat_bytes);
    }
    sig(params, ty, concat_strings)
}

fn concat_strings(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let mut out = String::new();
    for a in args {
        match a.as_ref() {
            Value::String(s) => out.push_str(s),
            Value::Null => {}
            other => return Err(bad_arg("CONCAT", other)),
        }
    }
    Ok(Value::String(out))
}

fn concat_bytes(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let mut out = Vec::new();
    for a in args {
        match a.as_ref() {
            Value::Bytes(b) => out.extend_from_slice(b),
            Value::Null => {}
            other => return Err(bad_arg("CONCAT", other)),
        }
    }
    Ok(Value::Bytes(out))
}

/// `SUBSTRING(str, pos [, len])`: 1-based; a negative `pos` counts from the end; indexes
/// are clamped to the value, never an error (`Substring.java`). Positions count UTF-16
/// code units, as Java's do.
fn substring(args: &[ArgType]) -> Option<Signature> {
    let int_ok = |a: &ArgType| accepts(a, &SqlType::Integer);
    let (first, rest) = args.split_first()?;
    if rest.is_empty() || rest.len() > 2 || !rest.iter().all(int_ok) {
        return None;
    }
    let ty = match first {
        None | Some(SqlType::String) => SqlType::String,
        Some(SqlType::Bytes) => SqlType::Bytes,
        Some(_) => return None,
    };
    sig(vec![None; args.len()], ty, substring_eval)
}

fn substring_eval(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    if null_if_any_null(args) {
        return Ok(Value::Null);
    }
    let int = |i: usize| match args.get(i).map(|a| a.as_ref()) {
        Some(Value::Integer(n)) => Ok(Some(*n)),
        None => Ok(None),
        Some(other) => Err(bad_arg("SUBSTRING", other)),
    };
    let pos = int(1)?.unwrap_or(1);
    let len = int(2)?;
    match args.first().map(|a| a.as_ref()) {
        Some(Value::String(s)) if s.is_ascii() => {
            let (start, end) = substring_range(s.len(), pos, len);
            Ok(Value::String(s[start..end].to_string()))
        }
        Some(Value::String(s)) => {
            let units: Vec<u16> = s.encode_utf16().collect();
            let (start, end) = substring_range(units.len(), pos, len);
            Ok(Value::String(String::from_utf16_lossy(&units[start..end])))
        }
        Some(Value::Bytes(b)) => {
            let (start, end) = substring_range(b.len(), pos, len);
            Ok(Value::Bytes(b[start..end].to_vec()))
        }
        Some(other) => Err(bad_arg("SUBSTRING", other)),
        None => Err(EngineError::Internal("SUBSTRING without arguments".into())),
    }
}

/// `Substring.getStartIndex/getEndIndex`, in i64 so no input overflows.
fn substring_range(value_len: usize, pos: i32, len: Option<i32>) -> (usize, usize) {
    let n = i64::try_from(value_len).unwrap_or(i64::MAX);
    let pos = i64::from(pos);
    let start = if pos < 0 {
        (n + pos).max(0)
    } else {
        (pos - 1).min(n).max(0)
    };
    let end = match len {
        Some(l) => (start + i64::from(l)).min(n).max(start),
        None => n,
    };
    let to_usize = |x: i64| usize::try_from(x).unwrap_or(0);
    (to_usize(start), to_usize(end))
}

// ---------------------------------------------------------------------------------------
// Math functions (udf/math/*.java).

/// `ABS`: same type out; `Math.abs(Integer.MIN_VALUE)` stays negative, as in Java.
fn abs(args: &[ArgType]) -> Option<Signature> {
    let [a] = args else { return None };
    let t = numeric_arg(a)?;
    sig(vec![Some(t.clone())], t, |a, _| {
        Ok(match first(a) {
            Value::Integer(i) => Value::Integer(i.wrapping_abs()),
            Value::BigInt(i) => Value::BigInt(i.wrapping_abs()),
            Value::Double(d) => Value::Double(d.abs()),
            Value::Decimal(d) => Value::Decimal(Decimal::new(d.unscaled.abs(), d.scale)),
            _ => Value::Null,
        })
    })
}

fn first<'v>(args: &'v [Cow<'_, Value>]) -> &'v Value {
    args.first().map_or(&Value::Null, |a| a.as_ref())
}

/// `FLOOR`: integers unchanged, DOUBLE `Math.floor`, DECIMAL keeps its type.
fn floor(args: &[ArgType]) -> Option<Signature> {
    let [a] = args else { return None };
    let t = numeric_arg(a)?;
    sig(vec![Some(t.clone())], t, |a, _| {
        round_toward(first(a), f64::floor, Direction::Down)
    })
}

/// `CEIL`: integers unchanged, DOUBLE `Math.ceil`, DECIMAL keeps its type.
fn ceil(args: &[ArgType]) -> Option<Signature> {
    let [a] = args else { return None };
    let t = numeric_arg(a)?;
    sig(vec![Some(t.clone())], t, |a, _| {
        round_toward(first(a), f64::ceil, Direction::Up)
    })
}

#[derive(Clone, Copy)]
enum Direction {
    Down,
    Up,
}

fn round_toward(v: &Value, f: fn(f64) -> f64, dir: Direction) -> Result<Value, EngineError> {
    Ok(match v {
        Value::Double(d) => Value::Double(f(*d)),
        Value::Decimal(d) => {
            let Some(unit) = decimal::pow10(u32::from(d.scale)) else {
                return Ok(Value::Decimal(Decimal::new(0, d.scale)));
            };
            let q = d.unscaled.div_euclid(unit);
            let exact = d.unscaled.rem_euclid(unit) == 0;
            let q = match dir {
                Direction::Up if !exact => q + 1,
                _ => q,
            };
            // |q · unit| <= |unscaled| + unit, which fits: unscaled has at most 38 digits.
            let unscaled = q
                .checked_mul(unit)
                .ok_or_else(|| EngineError::BadRequest(format!("DECIMAL overflow rounding {d}")))?;
            Value::Decimal(Decimal::new(unscaled, d.scale))
        }
        other => other.clone(),
    })
}

/// `ROUND` (`Round.java`): INT, BIGINT and DOUBLE round to BIGINT; `ROUND(DOUBLE, n)` is a
/// DOUBLE; `ROUND(DECIMAL(p, s))` is DECIMAL(p - s, 0); `ROUND(DECIMAL, n)` keeps the type.
/// Ties go up (toward +∞): HALF_UP for positives, HALF_DOWN for negatives.
fn round(args: &[ArgType]) -> Option<Signature> {
    match args {
        [a] => {
            let t = numeric_arg(a)?;
            match t {
                SqlType::Decimal { precision, scale } => {
                    let ret = DecType::new(precision.saturating_sub(scale).max(1), 0);
                    sig(vec![Some(t)], ret.sql_type(), round_decimal)
                }
                _ => sig(vec![Some(t)], SqlType::BigInt, round_to_bigint),
            }
        }
        [a, n] if accepts(n, &SqlType::Integer) => {
            let t = numeric_arg(a)?;
            let int = Some(SqlType::Integer);
            match t {
                SqlType::Decimal { .. } => sig(vec![Some(t.clone()), int], t, round_decimal),
                _ => sig(
                    vec![Some(SqlType::Double), int],
                    SqlType::Double,
                    round_double_places,
                ),
            }
        }
        _ => None,
    }
}

fn round_to_bigint(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    Ok(match first(args) {
        Value::Integer(i) => Value::BigInt(i64::from(*i)),
        Value::BigInt(i) => Value::BigInt(*i),
        Value::Double(d) => Value::BigInt(java_math_round(*d)),
        _ => Value::Null,
    })
}

/// `Math.round(double)`: floor(x + 0.5) computed without the rounding error of the sum;
/// NaN is 0 and out-of-range values saturate.
fn java_math_round(d: f64) -> i64 {
    let f = d.floor();
    let r = if d - f >= 0.5 { f + 1.0 } else { f };
    r as i64
}

fn places_arg(args: &[Cow<'_, Value>]) -> Option<i32> {
    match args.get(1).map(|a| a.as_ref()) {
        Some(Value::Integer(n)) => Some(*n),
        _ => None,
    }
}

/// Rounds `unscaled × 10^-scale` to `places` decimal places, ties toward +∞.
fn round_unscaled(unscaled: i128, scale: i32, places: i32) -> Option<i128> {
    let drop = i64::from(scale) - i64::from(places);
    if drop <= 0 {
        return Some(unscaled);
    }
    let Some(unit) = u32::try_from(drop).ok().and_then(decimal::pow10) else {
        return Some(0);
    };
    let q = unscaled.div_euclid(unit);
    let r = unscaled.rem_euclid(unit);
    // Floor division: a remainder of at least half the unit rounds up (toward +∞).
    Some(if r >= unit - r { q + 1 } else { q })
}

fn round_decimal(args: &[Cow<'_, Value>], ret: &SqlType) -> Result<Value, EngineError> {
    if null_if_any_null(args) {
        return Ok(Value::Null);
    }
    let Value::Decimal(d) = first(args) else {
        return Err(bad_arg("ROUND", first(args)));
    };
    let places = places_arg(args).unwrap_or(0);
    let SqlType::Decimal {
        scale: out_scale, ..
    } = ret
    else {
        return Err(EngineError::Internal(
            "ROUND(DECIMAL) must return DECIMAL".into(),
        ));
    };
    let overflow = || EngineError::BadRequest(format!("DECIMAL overflow rounding {d}"));
    let scale = i32::from(d.scale);
    let rounded = round_unscaled(d.unscaled, scale, places).ok_or_else(overflow)?;
    // `rounded` is at scale min(places, scale); bring it to the result scale.
    let at = i64::from(places.min(scale));
    let shift = i64::from(*out_scale) - at;
    let unscaled = if shift >= 0 {
        let f = u32::try_from(shift).ok().and_then(decimal::pow10);
        f.and_then(|f| rounded.checked_mul(f))
            .ok_or_else(overflow)?
    } else {
        let f = u32::try_from(-shift).ok().and_then(decimal::pow10);
        f.map_or(0, |f| rounded / f)
    };
    Ok(Value::Decimal(Decimal::new(unscaled, *out_scale)))
}

/// `ROUND(DOUBLE, n)` rounds the shortest decimal text of the double (`BigDecimal.valueOf`).
fn round_double_places(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    if null_if_any_null(args) {
        return Ok(Value::Null);
    }
    let d = match first(args) {
        Value::Double(d) => *d,
        other => return Err(bad_arg("ROUND", other)),
    };
    if !d.is_finite() {
        return Err(EngineError::BadRequest(format!(
            "Cannot round {d}: not a finite number"
        )));
    }
    let places = places_arg(args).unwrap_or(0);
    let text = format!("{d:e}");
    let (unscaled, scale) = decimal::parse_text(&text)
        .ok_or_else(|| EngineError::Internal(format!("unparsable double text {text}")))?;
    let rounded = round_unscaled(unscaled, scale, places).unwrap_or(0);
    let out_scale = places.min(scale);
    let out: f64 = format!("{rounded}e{}", -i64::from(out_scale))
        .parse()
        .unwrap_or(d);
    Ok(Value::Double(out))
}

// ---------------------------------------------------------------------------------------
// Null handling (udf/nulls/*.java).

/// `COALESCE(a, b, …)`: the first non-NULL argument; all arguments share one type.
fn coalesce(args: &[ArgType]) -> Option<Signature> {
    if args.is_empty() {
        return None;
    }
    same_type_args(args, first_non_null)
}

/// `IFNULL(a, b)`: `COALESCE` of two.
fn ifnull(args: &[ArgType]) -> Option<Signature> {
    if args.len() != 2 {
        return None;
    }
    same_type_args(args, first_non_null)
}

fn same_type_args(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let ty = super::compile::common_type(args.iter().flatten()).ok()??;
    sig(vec![Some(ty.clone()); args.len()], ty, eval)
}

fn first_non_null(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    Ok(args
        .iter()
        .find(|a| !a.is_null())
        .map_or(Value::Null, |a| a.as_ref().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_ranges_match_ksqldb() {
        assert_eq!(substring_range(5, 2, None), (1, 5));
        assert_eq!(substring_range(5, -2, None), (3, 5));
        assert_eq!(substring_range(5, 0, Some(2)), (0, 2));
        assert_eq!(substring_range(5, 10, Some(2)), (5, 5));
        assert_eq!(substring_range(5, 2, Some(-1)), (1, 1));
        assert_eq!(substring_range(5, i32::MIN, Some(i32::MAX)), (0, 5));
    }

    #[test]
    fn math_round_matches_java() {
        assert_eq!(java_math_round(2.5), 3);
        assert_eq!(java_math_round(-2.5), -2);
        assert_eq!(java_math_round(0.499_999_999_999_999_94), 0);
        assert_eq!(java_math_round(f64::NAN), 0);
        assert_eq!(java_math_round(1e300), i64::MAX);
    }

    #[test]
    fn round_unscaled_ties_up() {
        assert_eq!(round_unscaled(125, 2, 1), Some(13));
        assert_eq!(round_unscaled(-125, 2, 1), Some(-12));
        assert_eq!(round_unscaled(-126, 2, 1), Some(-13));
        assert_eq!(round_unscaled(125, 2, 5), Some(125));
    }
}
