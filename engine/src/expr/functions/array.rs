//! ARRAY functions (`udf/array/*.java`, `udf/list/*.java`).
//!
//! Element equality is Java's `equals` (NULL equals NULL, so set operations keep one
//! NULL); ordering is ksqlDB's comparison order with NULLs last. Set-like results keep
//! first-seen order, as the `LinkedHashSet`s in the Java UDFs do.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::super::compare;
use super::super::java_text;
use super::{
    arg, array_arg, array_of, bool_arg, check_elements, def, int_arg, long_arg, sig, str_arg,
    user_err, usize_to_i32, widens_to, ArgType, EvalFn, FunctionDef, Signature,
};
use crate::error::EngineError;
use crate::types::{SqlType, StructField, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("ARRAY_CONCAT", |a| two_arrays(a, concat)),
    def("ARRAY_CONTAINS", contains),
    def("ARRAY_DISTINCT", |a| one_array(a, None, distinct)),
    def("ARRAY_EXCEPT", |a| two_arrays(a, except)),
    def("ARRAY_INTERSECT", |a| two_arrays(a, intersect)),
    def("ARRAY_JOIN", join),
    def("ARRAY_LENGTH", |a| one_array(a, Some(T::Integer), length)),
    def("ARRAY_MAX", |a| {
        extreme(a, |v, _| pick(v, Ordering::Greater))
    }),
    def("ARRAY_MIN", |a| extreme(a, |v, _| pick(v, Ordering::Less))),
    def("ARRAY_REMOVE", remove),
    def("ARRAY_SORT", sort),
    def("ARRAY_UNION", |a| two_arrays(a, union)),
    def("ENTRIES", entries),
    def("GENERATE_SERIES", generate_series),
    def("SLICE", slice),
];

/// Java `Objects.equals` on values.
fn java_eq(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => compare::equals(a, b),
        _ => false,
    }
}

fn contains_value(items: &[Value], v: &Value) -> bool {
    items.iter().any(|x| java_eq(x, v))
}

/// Distinct values in first-seen order.
fn distinct_values<'v>(items: impl Iterator<Item = &'v Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in items {
        if !contains_value(&out, v) {
            out.push(v.clone());
        }
    }
    out
}

/// Resolves `f(ARRAY<T>) -> ret` (`None`: the array type itself).
fn one_array(args: &[ArgType], ret: Option<SqlType>, eval: EvalFn) -> Option<Signature> {
    let [Some(t @ T::Array(_))] = args else {
        return None;
    };
    sig(vec![None], ret.unwrap_or_else(|| t.clone()), eval)
}

/// Resolves `f(ARRAY<T>, ARRAY<T>) -> ARRAY<T>`, widening the element types.
fn two_arrays(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let [a, b] = args else { return None };
    let ty = match (a, b) {
        (Some(T::Array(x)), Some(T::Array(y))) => array_of(super::super::compile::widen(x, y)?),
        (Some(t @ T::Array(_)), None) | (None, Some(t @ T::Array(_))) => t.clone(),
        _ => return None,
    };
    sig(vec![Some(ty.clone()); 2], ty, eval)
}

/// `ARRAY_CONCAT`: NULL only when both are NULL (`ArrayConcat.java`).
fn concat(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (a, b) = (array_arg(args, 0), array_arg(args, 1));
    if a.is_none() && b.is_none() {
        return Ok(Value::Null);
    }
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    check_elements("ARRAY_CONCAT", a.len() + b.len())?;
    Ok(Value::Array(a.iter().chain(b).cloned().collect()))
}

fn distinct(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    Ok(array_arg(args, 0).map_or(Value::Null, |a| Value::Array(distinct_values(a.iter()))))
}

fn except(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(a), Some(b)) = (array_arg(args, 0), array_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::Array(distinct_values(
        a.iter().filter(|v| !contains_value(b, v)),
    )))
}

fn intersect(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(a), Some(b)) = (array_arg(args, 0), array_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    Ok(Value::Array(distinct_values(
        a.iter().filter(|v| contains_value(b, v)),
    )))
}

fn union(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(a), Some(b)) = (array_arg(args, 0), array_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    check_elements("ARRAY_UNION", a.len() + b.len())?;
    Ok(Value::Array(distinct_values(a.iter().chain(b))))
}

fn length(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    Ok(array_arg(args, 0).map_or(Value::Null, |a| Value::Integer(usize_to_i32(a.len()))))
}

/// `ARRAY_CONTAINS(arr, v)`: FALSE for a NULL array; a NULL `v` finds a NULL element.
fn contains(args: &[ArgType]) -> Option<Signature> {
    let [Some(T::Array(elem)), v] = args else {
        return None;
    };
    let common = match v {
        Some(v) => super::super::compile::widen(elem, v)?,
        None => (**elem).clone(),
    };
    let params = vec![Some(array_of(common.clone())), Some(common)];
    sig(params, T::Boolean, |a, _| {
        let found = array_arg(a, 0).is_some_and(|items| contains_value(items, arg(a, 1)));
        Ok(Value::Boolean(found))
    })
}

/// `ARRAY_REMOVE(arr, v)`: every element equal to `v` (NULL removes NULLs).
fn remove(args: &[ArgType]) -> Option<Signature> {
    let [Some(t @ T::Array(elem)), v] = args else {
        return None;
    };
    if !widens_to(v, elem) {
        return None;
    }
    sig(vec![None, Some((**elem).clone())], t.clone(), |a, _| {
        let Some(items) = array_arg(a, 0) else {
            return Ok(Value::Null);
        };
        let victim = arg(a, 1);
        Ok(Value::Array(
            items
                .iter()
                .filter(|x| !java_eq(x, victim))
                .cloned()
                .collect(),
        ))
    })
}

/// `ARRAY_JOIN(arr [, delimiter])`: elements as Java prints them, NULL as `null`; only
/// primitive elements (`ArrayJoin.java`).
fn join(args: &[ArgType]) -> Option<Signature> {
    let (Some(T::Array(_)), rest) = args.split_first()? else {
        return None;
    };
    if rest.len() > 1 || !rest.iter().all(|a| widens_to(a, &T::String)) {
        return None;
    }
    let mut params = vec![None];
    params.extend(rest.iter().map(|_| Some(T::String)));
    sig(params, T::String, |a, _| {
        let Some(items) = array_arg(a, 0) else {
            return Ok(Value::Null);
        };
        let delimiter = if a.len() > 1 {
            str_arg(a, 1).unwrap_or("")
        } else {
            ","
        };
        let mut out = String::new();
        for (i, v) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(delimiter);
            }
            match v {
                Value::Null
                | Value::Boolean(_)
                | Value::Integer(_)
                | Value::BigInt(_)
                | Value::Double(_)
                | Value::Decimal(_)
                | Value::String(_) => out.push_str(&java_text::value(v)),
                other => {
                    return Err(user_err(format!(
                        "error: hit element of type {} which is currently not supported",
                        type_name(other)
                    )))
                }
            }
            super::check_bytes("ARRAY_JOIN", out.len())?;
        }
        Ok(Value::String(out))
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
        Value::Bytes(_) => "java.nio.HeapByteBuffer",
        Value::Timestamp(_) => "java.sql.Timestamp",
        Value::Date(_) => "java.sql.Date",
        Value::Time(_) => "java.sql.Time",
        _ => "java.lang.Object",
    }
}

fn orderable(t: &SqlType) -> bool {
    t.is_numeric()
        || matches!(
            t,
            T::Boolean | T::String | T::Bytes | T::Date | T::Time | T::Timestamp
        )
}

/// `ARRAY_MAX`/`ARRAY_MIN`: NULL elements ignored; NULL for an empty array.
fn extreme(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let [Some(T::Array(elem))] = args else {
        return None;
    };
    orderable(elem).then(|| sig(vec![None], (**elem).clone(), eval))?
}

fn pick(args: &[Cow<'_, Value>], want: Ordering) -> Result<Value, EngineError> {
    let Some(items) = array_arg(args, 0) else {
        return Ok(Value::Null);
    };
    let mut best: Option<&Value> = None;
    for v in items.iter().filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if compare::order(v, b) != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

/// `ARRAY_SORT(arr [, 'ASC'|'DESC'])`: NULLs last either way; NULL for an unknown
/// direction (`ArraySort.java`).
fn sort(args: &[ArgType]) -> Option<Signature> {
    let (Some(t @ T::Array(elem)), rest) = args.split_first()? else {
        return None;
    };
    if !orderable(elem) || rest.len() > 1 || !rest.iter().all(|a| widens_to(a, &T::String)) {
        return None;
    }
    let mut params = vec![None];
    params.extend(rest.iter().map(|_| Some(T::String)));
    sig(params, t.clone(), |a, _| {
        let Some(items) = array_arg(a, 0) else {
            return Ok(Value::Null);
        };
        let direction = if a.len() > 1 {
            str_arg(a, 1)
        } else {
            Some("ASC")
        };
        let descending = match direction.map(str::to_uppercase).as_deref() {
            Some("ASC" | "ASCENDING") => false,
            Some("DESC" | "DESCENDING") => true,
            _ => return Ok(Value::Null),
        };
        let mut out = items.to_vec();
        out.sort_by(|x, y| match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = compare::order(x, y).unwrap_or(Ordering::Equal);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            }
        });
        Ok(Value::Array(out))
    })
}

/// `SLICE(arr, from, to)`: 1-based, inclusive; NULL bounds mean the ends; NULL when out
/// of range (`Slice.java`, `List.subList`).
fn slice(args: &[ArgType]) -> Option<Signature> {
    let [Some(t @ T::Array(_)), from, to] = args else {
        return None;
    };
    if !widens_to(from, &T::Integer) || !widens_to(to, &T::Integer) {
        return None;
    }
    sig(
        vec![None, Some(T::Integer), Some(T::Integer)],
        t.clone(),
        |a, _| {
            let Some(items) = array_arg(a, 0) else {
                return Ok(Value::Null);
            };
            let start = int_arg(a, 1).map_or(0, |f| i64::from(f) - 1);
            let end = int_arg(a, 2).map_or(items.len() as i64, i64::from);
            let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
                return Ok(Value::Null);
            };
            Ok(items
                .get(start..end)
                .map_or(Value::Null, |s| Value::Array(s.to_vec())))
        },
    )
}

/// `GENERATE_SERIES(start, end [, step])`: INT or BIGINT, inclusive; the default step is
/// ±1; a zero step or one pointing away from `end` fails (`GenerateSeries.java`).
fn generate_series(args: &[ArgType]) -> Option<Signature> {
    if !(2..=3).contains(&args.len()) {
        return None;
    }
    let (start, end) = (&args[0], &args[1]);
    let ty = if [start, end].iter().all(|a| widens_to(a, &T::Integer)) {
        T::Integer
    } else if [start, end].iter().all(|a| widens_to(a, &T::BigInt)) {
        T::BigInt
    } else {
        return None;
    };
    if args.len() == 3 && !widens_to(&args[2], &T::Integer) {
        return None;
    }
    let mut params = vec![Some(ty.clone()), Some(ty.clone())];
    if args.len() == 3 {
        params.push(Some(T::Integer));
    }
    sig(params, array_of(ty), |a, ret| {
        let (Some(start), Some(end)) = (long_arg(a, 0), long_arg(a, 1)) else {
            return Ok(Value::Null);
        };
        let diff = i128::from(end) - i128::from(start);
        let step = if a.len() > 2 {
            match int_arg(a, 2) {
                Some(s) => i128::from(s),
                None => return Ok(Value::Null),
            }
        } else if diff > 0 {
            1
        } else {
            -1
        };
        if step == 0 {
            return Err(user_err("GENERATE_SERIES step cannot be zero"));
        }
        if (diff > 0 && step < 0) || (diff < 0 && step > 0) {
            return Err(user_err("GENERATE_SERIES step has wrong sign"));
        }
        let size = usize::try_from(1 + diff / step).unwrap_or(usize::MAX);
        check_elements("GENERATE_SERIES", size)?;
        let int = matches!(ret, T::Array(e) if **e == T::Integer);
        let out = (0..size)
            .map(|i| {
                let v = i128::from(start) + step * i as i128;
                if int {
                    Value::Integer(i32::try_from(v).unwrap_or_default())
                } else {
                    Value::BigInt(i64::try_from(v).unwrap_or_default())
                }
            })
            .collect();
        Ok(Value::Array(out))
    })
}

/// `ENTRIES(map, sorted)`: `ARRAY<STRUCT<K STRING, V T>>`, optionally sorted by key
/// (`Entries.java`).
fn entries(args: &[ArgType]) -> Option<Signature> {
    let [Some(T::Map(k, v)), sorted] = args else {
        return None;
    };
    if **k != T::String || !widens_to(sorted, &T::Boolean) {
        return None;
    }
    let entry = T::Struct(vec![
        StructField {
            name: "K".into(),
            ty: T::String,
        },
        StructField {
            name: "V".into(),
            ty: (**v).clone(),
        },
    ]);
    sig(vec![None, Some(T::Boolean)], array_of(entry), |a, _| {
        let Value::Map(m) = arg(a, 0) else {
            return Ok(Value::Null);
        };
        let mut items: Vec<&(Value, Value)> = m.iter().collect();
        if bool_arg(a, 1) == Some(true) {
            items.sort_by(|(x, _), (y, _)| compare::order(x, y).unwrap_or(Ordering::Equal));
        }
        let out = items
            .into_iter()
            .map(|(k, v)| Value::Struct(vec![("K".into(), k.clone()), ("V".into(), v.clone())]))
            .collect();
        Ok(Value::Array(out))
    })
}
