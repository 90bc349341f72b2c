//! NULL handling and identity functions (`udf/nulls/*.java`, `udf/AsValue.java`).

use std::borrow::Cow;

use super::super::compare;
use super::{def, sig, ArgType, EvalFn, FunctionDef, Signature};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("AS_VALUE", as_value),
    def("COALESCE", |a| {
        (!a.is_empty()).then(|| same_type_args(a, first_non_null))?
    }),
    def("IFNULL", |a| {
        (a.len() == 2).then(|| same_type_args(a, first_non_null))?
    }),
    def("NULLIF", |a| {
        (a.len() == 2).then(|| same_type_args(a, null_if))?
    }),
];

/// `AS_VALUE(key)`: the value itself. In ksqlDB it marks a key column copied into the
/// value; the planner handles that, the expression is the identity.
fn as_value(args: &[ArgType]) -> Option<Signature> {
    let [Some(t)] = args else { return None };
    sig(vec![None], t.clone(), |a, _| {
        Ok(a.first().map_or(Value::Null, |v| v.as_ref().clone()))
    })
}

/// All arguments share one (widened) type, which is the result type.
fn same_type_args(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let ty = super::super::compile::common_type(args.iter().flatten()).ok()??;
    sig(vec![Some(ty.clone()); args.len()], ty, eval)
}

/// `COALESCE(a, b, …)`, `IFNULL(a, b)`: the first non-NULL argument.
fn first_non_null(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    Ok(args
        .iter()
        .find(|a| !a.is_null())
        .map_or(Value::Null, |a| a.as_ref().clone()))
}

/// `NULLIF(a, b)`: NULL when `a` equals `b`, else `a` (`NullIf.java`).
fn null_if(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return Ok(Value::Null);
    };
    if !b.is_null() && compare::equals(a, b) {
        return Ok(Value::Null);
    }
    Ok(a.as_ref().clone())
}
