//! MAP functions (`udf/map/*.java`).
//!
//! Java builds these results in `HashMap`s, whose iteration order is unspecified; entries
//! here keep first-seen order (a later duplicate key replaces the value in place).

use super::{
    array_arg, array_of, check_elements, def, map_arg, map_of, sig, ArgType, FunctionDef, Signature,
};
use crate::types::{SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("AS_MAP", as_map),
    def("MAP_KEYS", |a| {
        let [Some(T::Map(k, _))] = a else { return None };
        sig(vec![None], array_of((**k).clone()), |a, _| {
            Ok(map_arg(a, 0).map_or(Value::Null, |m| {
                Value::Array(m.iter().map(|(k, _)| k.clone()).collect())
            }))
        })
    }),
    def("MAP_UNION", map_union),
    def("MAP_VALUES", |a| {
        let [Some(T::Map(_, v))] = a else { return None };
        sig(vec![None], array_of((**v).clone()), |a, _| {
            Ok(map_arg(a, 0).map_or(Value::Null, |m| {
                Value::Array(m.iter().map(|(_, v)| v.clone()).collect())
            }))
        })
    }),
];

fn put(out: &mut Vec<(Value, Value)>, k: Value, v: Value) {
    match out.iter_mut().find(|(existing, _)| existing == &k) {
        Some(slot) => slot.1 = v,
        None => out.push((k, v)),
    }
}

/// `AS_MAP(keys, values)`: pairs by position; missing values are NULL (`AsMap.java`).
fn as_map(args: &[ArgType]) -> Option<Signature> {
    let [Some(T::Array(k)), Some(T::Array(v))] = args else {
        return None;
    };
    if **k != T::String {
        return None;
    }
    sig(
        vec![None, None],
        map_of(T::String, (**v).clone()),
        |a, _| {
            let (Some(keys), Some(values)) = (array_arg(a, 0), array_arg(a, 1)) else {
                return Ok(Value::Null);
            };
            let mut out = Vec::with_capacity(keys.len());
            for (i, k) in keys.iter().enumerate() {
                put(
                    &mut out,
                    k.clone(),
                    values.get(i).cloned().unwrap_or(Value::Null),
                );
            }
            Ok(Value::Map(out))
        },
    )
}

/// `MAP_UNION(a, b)`: entries of both, `b` winning; NULL only when both are NULL
/// (`MapUnion.java`).
fn map_union(args: &[ArgType]) -> Option<Signature> {
    let ty = match args {
        [Some(T::Map(k1, v1)), Some(T::Map(k2, v2))] => {
            if k1 != k2 {
                return None;
            }
            map_of((**k1).clone(), super::super::compile::widen(v1, v2)?)
        }
        [Some(t @ T::Map(..)), None] | [None, Some(t @ T::Map(..))] => t.clone(),
        _ => return None,
    };
    sig(vec![Some(ty.clone()); 2], ty, |a, _| {
        let (x, y) = (map_arg(a, 0), map_arg(a, 1));
        if x.is_none() && y.is_none() {
            return Ok(Value::Null);
        }
        let mut out = Vec::new();
        for (k, v) in x.unwrap_or_default().iter().chain(y.unwrap_or_default()) {
            put(&mut out, k.clone(), v.clone());
        }
        check_elements("MAP_UNION", out.len())?;
        Ok(Value::Map(out))
    })
}
