//! The scalar function registry: name → (resolve argument types, evaluate).
//!
//! Each entry resolves its overloads once at compile time, from the argument types, to a
//! [`Signature`]: the types to coerce arguments to, the result type, and one plain `fn`
//! kernel. Adding a function is one row in its family's `FUNCTIONS` table plus its kernels.
//! Kernels follow the Java UDFs in ksqlDB's `function/udf/` (cited per function) and must
//! not panic: a bad input is `EngineError::BadRequest`, which the caller turns into a NULL
//! (projection) or FALSE (filter) after logging, as ksqlDB's processing log does.
//!
//! Families, one file each: `string`, `regex`, `bytes` (encodings and byte conversions),
//! `math`, `nulls`, `json`, `array`, `map`, `url`, `datetime`. The lambda functions
//! (`TRANSFORM`, `FILTER`, `REDUCE`) are not here: their arguments are compiled against a
//! scope of lambda parameters, so the compiler handles them (`super::lambda`).
//!
//! Every result whose size a query controls (padding, repetition, series, concatenation)
//! is checked against a named limit so no row can allocate without bound.

mod array;
mod bytes;
mod datetime;
pub(crate) use datetime::TimestampFormat;
mod java_time;
mod json;
mod map;
mod math;
mod nulls;
mod regex;
mod string;
mod url;

use std::borrow::Cow;

use crate::error::EngineError;
use crate::types::{SqlType, Value};

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

const fn def(name: &'static str, resolve: ResolveFn) -> FunctionDef {
    FunctionDef { name, resolve }
}

/// Longest STRING or BYTES a function may build, in bytes. Padding, replacement and joins
/// can grow a value multiplicatively and nest; 16 MiB is far above any real row (ksqlDB's
/// default max message size is 1 MB) and small enough that a hostile query cannot exhaust
/// memory.
pub(crate) const RESULT_BYTES_MAX: usize = 16 << 20;

/// Most elements an ARRAY or MAP built by a function may hold (series, splits, unions).
/// 1 Mi elements of ~32-byte values is ~32 MiB, in line with `RESULT_BYTES_MAX`.
pub(crate) const RESULT_ELEMENTS_MAX: usize = 1 << 20;

/// Function families, each a table of rows.
static FAMILIES: &[&[FunctionDef]] = &[
    string::FUNCTIONS,
    regex::FUNCTIONS,
    bytes::FUNCTIONS,
    math::FUNCTIONS,
    nulls::FUNCTIONS,
    json::FUNCTIONS,
    array::FUNCTIONS,
    map::FUNCTIONS,
    url::FUNCTIONS,
    datetime::FUNCTIONS,
];

/// The higher-order functions the compiler resolves itself (see `super::lambda`).
pub const LAMBDA_FUNCTIONS: &[&str] = &["FILTER", "REDUCE", "TRANSFORM"];

/// Names of all registered scalar functions, sorted (for `SHOW FUNCTIONS`).
pub fn function_names() -> impl Iterator<Item = &'static str> {
    let mut names: Vec<&'static str> = FAMILIES
        .iter()
        .flat_map(|f| f.iter().map(|d| d.name))
        .chain(LAMBDA_FUNCTIONS.iter().copied())
        .collect();
    names.sort_unstable();
    names.into_iter()
}

pub(crate) fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// True for calls that must not be folded to a constant: their result changes per call
/// even with the same arguments (`RANDOM()`, `UUID()`, the argument-less clocks).
pub(crate) fn is_volatile(name: &str, arg_count: usize) -> bool {
    arg_count == 0 && matches!(name, "RANDOM" | "UUID" | "UNIX_TIMESTAMP" | "UNIX_DATE")
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

/// True when `arg` converts implicitly to `want`: equal, an untyped NULL, or a numeric
/// widening (INT → BIGINT → DECIMAL → DOUBLE), as ksqlDB's UDF resolution allows.
fn widens_to(arg: &ArgType, want: &SqlType) -> bool {
    use SqlType as T;
    let Some(t) = arg else { return true };
    if t == want {
        return true;
    }
    matches!(
        (t, want),
        (T::Integer, T::BigInt | T::Decimal { .. } | T::Double)
            | (T::BigInt, T::Decimal { .. } | T::Double)
            | (T::Decimal { .. }, T::Double)
    )
}

/// Resolves a fixed parameter list, each argument widened to its parameter type.
fn fixed(args: &[ArgType], params: &[SqlType], ret: SqlType, eval: EvalFn) -> Option<Signature> {
    if args.len() != params.len() || !args.iter().zip(params).all(|(a, p)| widens_to(a, p)) {
        return None;
    }
    sig(params.iter().cloned().map(Some).collect(), ret, eval)
}

/// The argument's type when it is numeric (an untyped NULL resolves as INTEGER).
fn numeric_arg(arg: &ArgType) -> Option<SqlType> {
    match arg {
        None => Some(SqlType::Integer),
        Some(t) if t.is_numeric() => Some(t.clone()),
        Some(_) => None,
    }
}

fn array_of(t: SqlType) -> SqlType {
    SqlType::Array(Box::new(t))
}

fn map_of(k: SqlType, v: SqlType) -> SqlType {
    SqlType::Map(Box::new(k), Box::new(v))
}

// ---------------------------------------------------------------------------------------
// Kernel argument helpers: each reads argument `i` as the type it was coerced to, with
// `None` for NULL (or a missing optional argument).

fn arg<'v>(args: &'v [Cow<'_, Value>], i: usize) -> &'v Value {
    args.get(i).map_or(&Value::Null, |a| a.as_ref())
}

fn str_arg<'v>(args: &'v [Cow<'_, Value>], i: usize) -> Option<&'v str> {
    match arg(args, i) {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn bytes_arg<'v>(args: &'v [Cow<'_, Value>], i: usize) -> Option<&'v [u8]> {
    match arg(args, i) {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn int_arg(args: &[Cow<'_, Value>], i: usize) -> Option<i32> {
    match arg(args, i) {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

fn long_arg(args: &[Cow<'_, Value>], i: usize) -> Option<i64> {
    match arg(args, i) {
        Value::Integer(n) => Some(i64::from(*n)),
        Value::BigInt(n) => Some(*n),
        _ => None,
    }
}

fn f64_arg(args: &[Cow<'_, Value>], i: usize) -> Option<f64> {
    match arg(args, i) {
        Value::Integer(n) => Some(f64::from(*n)),
        Value::BigInt(n) => Some(*n as f64),
        Value::Double(d) => Some(*d),
        Value::Decimal(d) => Some(d.to_f64()),
        _ => None,
    }
}

fn bool_arg(args: &[Cow<'_, Value>], i: usize) -> Option<bool> {
    match arg(args, i) {
        Value::Boolean(b) => Some(*b),
        _ => None,
    }
}

fn array_arg<'v>(args: &'v [Cow<'_, Value>], i: usize) -> Option<&'v [Value]> {
    match arg(args, i) {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn map_arg<'v>(args: &'v [Cow<'_, Value>], i: usize) -> Option<&'v [(Value, Value)]> {
    match arg(args, i) {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

fn any_null(args: &[Cow<'_, Value>]) -> bool {
    args.iter().any(|a| a.is_null())
}

fn string_or_null(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::String)
}

fn bad_arg(name: &str, v: &Value) -> EngineError {
    EngineError::internal(format!(
        "{name} got an argument it did not resolve for: {v:?}"
    ))
}

/// A runtime failure ksqlDB reports as a `KsqlFunctionException`.
fn user_err(msg: impl Into<String>) -> EngineError {
    EngineError::bad_request(msg.into())
}

/// Fails when a built STRING or BYTES value would exceed [`RESULT_BYTES_MAX`].
fn check_bytes(name: &str, len: usize) -> Result<(), EngineError> {
    if len > RESULT_BYTES_MAX {
        return Err(user_err(format!(
            "{name} result of {len} bytes exceeds the limit of {RESULT_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// Fails when a built collection would exceed [`RESULT_ELEMENTS_MAX`].
fn check_elements(name: &str, len: usize) -> Result<(), EngineError> {
    if len > RESULT_ELEMENTS_MAX {
        return Err(user_err(format!(
            "{name} result of {len} elements exceeds the limit of {RESULT_ELEMENTS_MAX}"
        )));
    }
    Ok(())
}

/// Java's `String.length`: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

fn usize_to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
