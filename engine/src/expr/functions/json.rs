//! JSON functions (`udf/json/*.java`).
//!
//! ksqlDB parses with Jackson, keeping floats as exact `BigDecimal`s; this parses with
//! `serde_json` (object key order preserved), whose floats are `f64`. So a nested float
//! re-serialised by `EXTRACTJSONFIELD`, `JSON_ITEMS` or `JSON_CONCAT` prints in its
//! shortest form (`1.10` becomes `1.1`, `1E+2` becomes `100.0`); everything else — key
//! order, compact output, string escapes, integers — matches.
//!
//! `TO_JSON_STRING` is written by hand so values print as ksqlDB's `UdfJsonMapper` does:
//! doubles as Java's `Double.toString`, DECIMAL in plain notation, temporal values as
//! their SQL text, BYTES as base64, STRUCT and MAP keys sorted.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value as Json;

use super::super::java_text;
use super::{
    any_null, arg, array_of, def, fixed, map_of, sig, str_arg, user_err, usize_to_i32, widens_to,
    ArgType, EvalFn, FunctionDef, Signature,
};
use crate::error::EngineError;
use crate::types::{temporal, SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("EXTRACTJSONFIELD", |a| {
        fixed(a, &[T::String, T::String], T::String, extract_json_field)
    }),
    def("IS_JSON_STRING", |a| {
        fixed(a, &[T::String], T::Boolean, |v, _| {
            let ok = str_arg(v, 0).is_some_and(|s| serde_json::from_str::<Json>(s).is_ok());
            Ok(Value::Boolean(ok))
        })
    }),
    def("JSON_ARRAY_CONTAINS", json_array_contains),
    def("JSON_ARRAY_LENGTH", |a| {
        json_fn(a, T::Integer, |v, _| {
            Ok(match parsed(v)? {
                Some(Json::Array(items)) => Value::Integer(usize_to_i32(items.len())),
                _ => Value::Null,
            })
        })
    }),
    def("JSON_CONCAT", json_concat),
    def("JSON_ITEMS", |a| {
        json_fn(a, array_of(T::String), |v, _| {
            let Some(s) = str_arg(v, 0) else {
                return Ok(Value::Null);
            };
            match parse(s)? {
                Json::Array(items) => Ok(Value::Array(
                    items.iter().map(|i| Value::String(i.to_string())).collect(),
                )),
                _ => Err(user_err(format!("Invalid JSON format:{s}"))),
            }
        })
    }),
    def("JSON_KEYS", |a| {
        json_fn(a, array_of(T::String), |v, _| {
            Ok(match parsed(v)? {
                Some(Json::Object(m)) => {
                    Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())
                }
                _ => Value::Null,
            })
        })
    }),
    def("JSON_RECORDS", |a| {
        json_fn(a, map_of(T::String, T::String), |v, _| {
            Ok(match parsed(v)? {
                Some(Json::Object(m)) => Value::Map(
                    m.iter()
                        .map(|(k, v)| (Value::String(k.clone()), Value::String(text_of(v))))
                        .collect(),
                ),
                _ => Value::Null,
            })
        })
    }),
    def("TO_JSON_STRING", |a| {
        let [Some(_)] = a else { return None };
        sig(vec![None], T::String, |v, _| {
            let mut out = String::new();
            write_json(arg(v, 0), &mut out);
            super::check_bytes("TO_JSON_STRING", out.len())?;
            Ok(Value::String(out))
        })
    }),
];

fn json_fn(args: &[ArgType], ret: SqlType, eval: EvalFn) -> Option<Signature> {
    fixed(args, &[T::String], ret, eval)
}

/// `UdfJsonMapper.parseJson`: invalid JSON is an error. Like Jackson's `readTree` (whose
/// `FAIL_ON_TRAILING_TOKENS` is off by default), only the first JSON value is read and
/// anything after it is ignored: `{"a":1}}` is the object `{"a":1}`.
fn parse(s: &str) -> Result<Json, EngineError> {
    let invalid = || user_err(format!("Invalid JSON format:{s}"));
    match serde_json::Deserializer::from_str(s)
        .into_iter::<Json>()
        .next()
    {
        Some(Ok(v)) => Ok(v),
        Some(Err(_)) | None => Err(invalid()),
    }
}

/// The first argument parsed; `None` for NULL or the empty ("missing") document.
fn parsed(args: &[Cow<'_, Value>]) -> Result<Option<Json>, EngineError> {
    match str_arg(args, 0) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => parse(s).map(Some),
    }
}

/// A JSON node as text: a string's own text, anything else as compact JSON.
fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `EXTRACTJSONFIELD(json, path)`: the node at a JSONPath like `$.a.b[0]['c d']`, as
/// text; NULL when absent (`JsonExtractString.java`).
fn extract_json_field(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(input), Some(path)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    let tokens = json_path(path)?;
    let root = parse(input)?;
    let mut node = &root;
    for token in &tokens {
        let next = match node {
            Json::Array(items) => match token.parse::<usize>() {
                Ok(i) => items.get(i),
                Err(_) => return Ok(Value::Null),
            },
            Json::Object(m) => m.get(token.as_str()),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Ok(Value::Null),
        }
    }
    Ok(Value::String(text_of(node)))
}

/// Splits a JSONPath (`$`, `.name`, `[index]`, `['name']`, `["name"]`) into keys.
fn json_path(path: &str) -> Result<Vec<String>, EngineError> {
    let bad = || user_err(format!("Invalid JsonPath: {path}"));
    let rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let chars: Vec<char> = rest.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                if i == start {
                    return Err(bad());
                }
                tokens.push(chars[start..i].iter().collect());
            }
            '[' => {
                let close = chars[i..].iter().position(|&c| c == ']').ok_or_else(bad)? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                let unquoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    .unwrap_or(inner);
                tokens.push(unquoted.to_string());
                i = close + 1;
            }
            _ => return Err(bad()),
        }
    }
    Ok(tokens)
}

/// `JSON_CONCAT(json, …)`: objects merge (later keys win); otherwise arrays concatenate,
/// wrapping non-arrays; NULL if any input is NULL or empty (`JsonConcat.java`).
fn json_concat(args: &[ArgType]) -> Option<Signature> {
    if args.is_empty() || !args.iter().all(|a| widens_to(a, &T::String)) {
        return None;
    }
    sig(vec![Some(T::String); args.len()], T::String, |a, _| {
        if any_null(a) {
            return Ok(Value::Null);
        }
        let mut nodes = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            match str_arg(a, i) {
                Some(s) if !s.trim().is_empty() => nodes.push(parse(s)?),
                _ => return Ok(Value::Null),
            }
        }
        let merged = if nodes.iter().all(Json::is_object) {
            let mut out = serde_json::Map::new();
            for n in nodes {
                if let Json::Object(m) = n {
                    out.extend(m);
                }
            }
            Json::Object(out)
        } else {
            let mut out = Vec::new();
            for n in nodes {
                match n {
                    Json::Array(items) => out.extend(items),
                    other => out.push(other),
                }
            }
            Json::Array(out)
        };
        let text = merged.to_string();
        super::check_bytes("JSON_CONCAT", text.len())?;
        Ok(Value::String(text))
    })
}

/// `JSON_ARRAY_CONTAINS(json, v)`: whether a top-level scalar of the array equals `v`,
/// integers matching INT/BIGINT and floats DOUBLE; FALSE for invalid JSON or a
/// non-array (`JsonArrayContains.java`).
fn json_array_contains(args: &[ArgType]) -> Option<Signature> {
    let [j, v] = args else { return None };
    let ok = matches!(
        v,
        None | Some(T::Integer | T::BigInt | T::Double | T::String | T::Boolean)
    );
    if !widens_to(j, &T::String) || !ok {
        return None;
    }
    sig(vec![Some(T::String), None], T::Boolean, |a, _| {
        let Some(Json::Array(items)) = str_arg(a, 0).and_then(|s| serde_json::from_str(s).ok())
        else {
            return Ok(Value::Boolean(false));
        };
        let want = arg(a, 1);
        let found = items.iter().any(|item| match (item, want) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(x), Value::Boolean(y)) => x == y,
            (Json::String(x), Value::String(y)) => x == y,
            (Json::Number(n), Value::Integer(y)) => n.as_i64() == Some(i64::from(*y)),
            (Json::Number(n), Value::BigInt(y)) => n.as_i64() == Some(*y),
            (Json::Number(n), Value::Double(y)) => n.is_f64() && n.as_f64() == Some(*y),
            _ => false,
        });
        Ok(Value::Boolean(found))
    })
}

/// Writes a value as `ToJsonString`/`UdfJsonMapper` would.
pub(super) fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(i) => {
            let _ = write!(out, "{i}");
        }
        // Jackson quotes non-finite doubles (QUOTE_NON_NUMERIC_NUMBERS).
        Value::Double(d) if !d.is_finite() => write_json_string(&java_text::double(*d), out),
        Value::Double(d) => out.push_str(&java_text::double(*d)),
        Value::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        Value::String(s) => write_json_string(s, out),
        Value::Bytes(b) => {
            write_json_string(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Value::Timestamp(ms) => write_json_string(&temporal::format_timestamp(*ms), out),
        Value::Date(d) => write_json_string(&temporal::format_date(*d), out),
        Value::Time(t) => write_json_string(&temporal::format_time(*t), out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let mut sorted: Vec<(String, &Value)> = entries
                .iter()
                .map(|(k, v)| (java_text::value(k), v))
                .collect();
            sorted.sort_by(|a, b| super::super::compare::java_str_cmp(&a.0, &b.0));
            sorted.dedup_by(|a, b| a.0 == b.0);
            write_object(sorted.into_iter(), out);
        }
        Value::Struct(fields) => {
            let mut sorted: Vec<(String, &Value)> =
                fields.iter().map(|(k, v)| (k.clone(), v)).collect();
            sorted.sort_by(|a, b| super::super::compare::java_str_cmp(&a.0, &b.0));
            write_object(sorted.into_iter(), out);
        }
    }
}

fn write_object<'v>(entries: impl Iterator<Item = (String, &'v Value)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(&k, out);
        out.push(':');
        write_json(v, out);
    }
    out.push('}');
}

/// Jackson's escaping: `"`, `\` and control characters; short forms where JSON has them.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_text_after_the_first_json_value_is_ignored() {
        let v = parse(r#"{"name": "cdd"}}"#).expect("the first value is complete");
        assert_eq!(v["name"], Json::String("cdd".into()));
        assert!(parse("{").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn json_paths_tokenize() {
        let p = |s: &str| json_path(s).expect("valid path");
        assert_eq!(p("$.a.b"), vec!["a", "b"]);
        assert_eq!(p("$.a[0]['x y'][\"z\"]"), vec!["a", "0", "x y", "z"]);
        assert!(p("$").is_empty());
        assert!(json_path("a.b").is_err());
    }

    #[test]
    fn to_json_string_sorts_and_formats() {
        let v = Value::Struct(vec![
            ("B".into(), Value::Double(1e7)),
            (
                "A".into(),
                Value::Array(vec![Value::Null, Value::String("q\"".into())]),
            ),
            ("C".into(), Value::Date(1)),
        ]);
        let mut out = String::new();
        write_json(&v, &mut out);
        assert_eq!(out, r#"{"A":[null,"q\""],"B":1.0E7,"C":"1970-01-02"}"#);
    }
}
