//! The compiled expression tree and its evaluation over one row.
//!
//! Evaluation returns `Cow<Value>`: a column or literal is borrowed from the row or the
//! tree, so `WHERE B = 'x'` compares two borrowed strings and allocates nothing. Results of
//! operators are owned. Nothing here panics on any input: row indexes are checked, and
//! arithmetic wraps or reports an error as ksqlDB does.

use std::borrow::Cow;

use super::arith::{self, ArithKind, ArithOp};
use super::cast::{self, CastPlan};
use super::compare::{self, CmpOp};
use super::functions::{self, EvalFn};
use crate::format::java_hash_map;
use super::like::LikePattern;
use crate::error::{EngineError, ErrorCode};
use crate::types::{SqlType, Value};

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Column(usize),
    Literal(Value),
    Not(Box<Node>),
    Neg(Box<Node>),
    /// `null_fails`: inside a lambda body a NULL operand is an error, not NULL — ksqlDB
    /// compiles lambdas to Java that unboxes the operands, so the whole call fails.
    Arith {
        op: ArithOp,
        kind: ArithKind,
        left: Box<Node>,
        right: Box<Node>,
        null_fails: bool,
    },
    /// A NULL operand makes a comparison FALSE, not NULL (ksqlDB's `nullCheckPrefix`);
    /// `IS [NOT] DISTINCT FROM` treats NULLs as equal to each other.
    Compare {
        op: CmpOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    IsNull {
        expr: Box<Node>,
        negated: bool,
    },
    /// FALSE for a NULL value; NULL list items never match (`InListEvaluator`).
    InList {
        expr: Box<Node>,
        list: Vec<Node>,
    },
    Like {
        expr: Box<Node>,
        pattern: LikeSource,
    },
    /// Searched CASE; a simple CASE compiles to this with `operand = value` conditions.
    Case {
        whens: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    Cast {
        plan: CastPlan,
        expr: Box<Node>,
    },
    /// `arr[i]`: 1-based, negative from the end, out of range is NULL (`ArrayAccess`).
    ArrayIndex {
        base: Box<Node>,
        index: Box<Node>,
    },
    MapLookup {
        base: Box<Node>,
        key: Box<Node>,
    },
    Field {
        base: Box<Node>,
        index: usize,
        name: String,
    },
    MakeArray(Vec<Node>),
    MakeMap(Vec<(Node, Node)>),
    MakeStruct(Vec<(String, Node)>),
    Call {
        name: &'static str,
        eval: EvalFn,
        ret: SqlType,
        args: Vec<Node>,
    },
    /// A lambda parameter: an index into the scope's parameter stack.
    Param(usize),
    /// `TRANSFORM`, `FILTER` or `REDUCE` with their lambdas.
    Lambda(Box<LambdaCall>),
}

/// What a node is evaluated against: the row, and the values of the lambda parameters in
/// scope (outermost first; empty outside lambdas).
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub row: &'a [Value],
    pub params: &'a [Value],
}

/// A LIKE pattern compiled once when it is a literal, else per row.
#[derive(Debug, Clone)]
pub(crate) enum LikeSource {
    Static(LikePattern),
    Dynamic {
        pattern: Box<Node>,
        escape: Option<char>,
    },
}

type Out<'a> = Result<Cow<'a, Value>, EngineError>;

fn owned<'a>(v: Value) -> Out<'a> {
    Ok(Cow::Owned(v))
}

fn boolean<'a>(b: bool) -> Out<'a> {
    owned(Value::Boolean(b))
}

/// Reads a BOOLEAN operand: `Some(b)`, or `None` for NULL.
fn as_bool(v: &Value) -> Result<Option<bool>, EngineError> {
    match v {
        Value::Boolean(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(EngineError::internal(format!(
            "logical operator got non-boolean {other:?}"
        ))),
    }
}

impl Node {
    /// Evaluates over one row, outside any lambda.
    pub(crate) fn eval<'a>(&'a self, row: &'a [Value]) -> Out<'a> {
        self.eval_in(Scope { row, params: &[] })
    }

    pub(crate) fn eval_in<'a>(&'a self, row: Scope<'a>) -> Out<'a> {
        match self {
            Node::Column(i) => row.row.get(*i).map(Cow::Borrowed).ok_or_else(|| {
                EngineError::internal(format!(
                    "column index {i} outside a row of {} values",
                    row.row.len()
                ))
            }),
            Node::Param(i) => row.params.get(*i).map(Cow::Borrowed).ok_or_else(|| {
                EngineError::internal(format!(
                    "lambda parameter {i} outside a scope of {}",
                    row.params.len()
                ))
            }),
            Node::Lambda(call) => null_on_failure(call.name(), eval_lambda(call, row)),
            Node::Literal(v) => Ok(Cow::Borrowed(v)),
            Node::Not(e) => match as_bool(e.eval_in(row)?.as_ref())? {
                Some(b) => boolean(!b),
                None => owned(Value::Null),
            },
            Node::Neg(e) => {
                let v = e.eval_in(row)?;
                if v.is_null() {
                    return Ok(v);
                }
                owned(arith::negate(&v)?)
            }
            Node::Arith {
                op,
                kind,
                left,
                right,
                null_fails,
            } => {
                let a = left.eval_in(row)?;
                let b = right.eval_in(row)?;
                if a.is_null() || b.is_null() {
                    if *null_fails {
                        return Err(null_operand());
                    }
                    return owned(Value::Null);
                }
                owned(arith::apply(*op, *kind, &a, &b)?)
            }
            Node::Compare { op, left, right } => eval_compare(*op, left, right, row),
            Node::And(l, r) => eval_and(l, r, row),
            Node::Or(l, r) => eval_or(l, r, row),
            Node::IsNull { expr, negated } => boolean(expr.eval_in(row)?.is_null() != *negated),
            Node::InList { expr, list } => eval_in(expr, list, row),
            Node::Like { expr, pattern } => eval_like(expr, pattern, row),
            Node::Case { whens, otherwise } => eval_case(whens, otherwise.as_deref(), row),
            Node::Cast { plan, expr } => cast::apply(plan, expr.eval_in(row)?),
            Node::ArrayIndex { base, index } => eval_array_index(base, index, row),
            Node::MapLookup { base, key } => eval_map_lookup(base, key, row),
            Node::Field { base, index, name } => eval_field(base, *index, name, row),
            Node::MakeArray(items) => {
                let values = items
                    .iter()
                    .map(|n| n.eval_in(row).map(Cow::into_owned))
                    .collect::<Result<_, _>>()?;
                owned(Value::Array(values))
            }
            Node::MakeMap(entries) => eval_make_map(entries, row),
            Node::MakeStruct(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for (name, n) in fields {
                    out.push((name.clone(), n.eval_in(row)?.into_owned()));
                }
                owned(Value::Struct(out))
            }
            Node::Call {
                name,
                eval,
                ret,
                args,
            } => {
                let result = args
                    .iter()
                    .map(|a| a.eval_in(row))
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|values| eval(&values, ret));
                // Name the function in internal errors; user-facing ones stay ksqlDB's.
                let result = result.map_err(|e| match e.code() {
                    ErrorCode::Internal => e.context(format!("{name}: ")),
                    _ => e,
                });
                null_on_failure(name, result.map(Cow::Owned))
            }
        }
    }

    /// True when this node reads nothing from the row, so it can be evaluated once at
    /// compile time. Non-deterministic calls (`RANDOM()`, `UUID()`) opt out.
    pub(crate) fn is_constant(&self) -> bool {
        match self {
            Node::Column(_) | Node::Param(_) => false,
            Node::Lambda(call) => call.is_constant(),
            Node::Literal(_) => true,
            Node::Not(e) | Node::Neg(e) => e.is_constant(),
            Node::Arith { left, right, .. } | Node::Compare { left, right, .. } => {
                left.is_constant() && right.is_constant()
            }
            Node::And(l, r) | Node::Or(l, r) => l.is_constant() && r.is_constant(),
            Node::IsNull { expr, .. } | Node::Cast { expr, .. } => expr.is_constant(),
            Node::InList { expr, list } => expr.is_constant() && list.iter().all(Node::is_constant),
            Node::Like { expr, pattern } => {
                expr.is_constant()
                    && match pattern {
                        LikeSource::Static(_) => true,
                        LikeSource::Dynamic { pattern, .. } => pattern.is_constant(),
                    }
            }
            Node::Case { whens, otherwise } => {
                whens
                    .iter()
                    .all(|(w, t)| w.is_constant() && t.is_constant())
                    && otherwise.as_ref().is_none_or(|o| o.is_constant())
            }
            Node::ArrayIndex { base, index } => base.is_constant() && index.is_constant(),
            Node::MapLookup { base, key } => base.is_constant() && key.is_constant(),
            Node::Field { base, .. } => base.is_constant(),
            Node::MakeArray(items) => items.iter().all(Node::is_constant),
            Node::MakeMap(entries) => entries
                .iter()
                .all(|(k, v)| k.is_constant() && v.is_constant()),
            Node::MakeStruct(fields) => fields.iter().all(|(_, n)| n.is_constant()),
            Node::Call { name, args, .. } => {
                !functions::is_volatile(name, args.len()) && args.iter().all(Node::is_constant)
            }
        }
    }
}

fn eval_compare<'a>(op: CmpOp, left: &'a Node, right: &'a Node, row: Scope<'a>) -> Out<'a> {
    let a = left.eval_in(row)?;
    let b = right.eval_in(row)?;
    let result = match (a.is_null(), b.is_null()) {
        (false, false) => compare::holds(op, &a, &b),
        (true, true) => matches!(op, CmpOp::IsNotDistinctFrom),
        // One side NULL: only IS DISTINCT FROM is true.
        _ => matches!(op, CmpOp::IsDistinctFrom),
    };
    boolean(result)
}

/// Three-valued AND: FALSE wins over NULL; the right side is skipped after a FALSE.
fn eval_and<'a>(l: &'a Node, r: &'a Node, row: Scope<'a>) -> Out<'a> {
    let a = as_bool(l.eval_in(row)?.as_ref())?;
    if a == Some(false) {
        return boolean(false);
    }
    match (a, as_bool(r.eval_in(row)?.as_ref())?) {
        (_, Some(false)) => boolean(false),
        (Some(true), Some(true)) => boolean(true),
        _ => owned(Value::Null),
    }
}

/// Three-valued OR: TRUE wins over NULL; the right side is skipped after a TRUE.
fn eval_or<'a>(l: &'a Node, r: &'a Node, row: Scope<'a>) -> Out<'a> {
    let a = as_bool(l.eval_in(row)?.as_ref())?;
    if a == Some(true) {
        return boolean(true);
    }
    match (a, as_bool(r.eval_in(row)?.as_ref())?) {
        (_, Some(true)) => boolean(true),
        (Some(false), Some(false)) => boolean(false),
        _ => owned(Value::Null),
    }
}

/// A function call that fails on this row (bad input to the function or to one of its
/// arguments) is NULL there, and the rest of the expression goes on: ksqlDB wraps every
/// UDF invocation in a try/catch that logs to the processing log and returns NULL
/// (`SqlToJavaVisitor.visitFunctionCall`, `evaluateOrReturnNull`). Internal errors still
/// propagate.
fn null_on_failure<'a>(name: &str, result: Out<'a>) -> Out<'a> {
    match result {
        Err(e) if e.code() == ErrorCode::BadRequest => {
            tracing::debug!(function = name, reason = %e, "function call failed; yielding NULL");
            owned(Value::Null)
        }
        other => other,
    }
}

fn eval_in<'a>(expr: &'a Node, list: &'a [Node], row: Scope<'a>) -> Out<'a> {
    let v = expr.eval_in(row)?;
    if v.is_null() {
        return boolean(false);
    }
    for item in list {
        let candidate = item.eval_in(row)?;
        if !candidate.is_null() && compare::holds(CmpOp::Eq, &v, &candidate) {
            return boolean(true);
        }
    }
    boolean(false)
}

fn eval_like<'a>(expr: &'a Node, pattern: &'a LikeSource, row: Scope<'a>) -> Out<'a> {
    let v = expr.eval_in(row)?;
    let Value::String(s) = v.as_ref() else {
        return owned(Value::Null);
    };
    match pattern {
        LikeSource::Static(p) => boolean(p.matches(s)),
        LikeSource::Dynamic { pattern, escape } => match pattern.eval_in(row)?.as_ref() {
            Value::String(p) => boolean(LikePattern::compile(p, *escape)?.matches(s)),
            _ => owned(Value::Null),
        },
    }
}

fn eval_case<'a>(
    whens: &'a [(Node, Node)],
    otherwise: Option<&'a Node>,
    row: Scope<'a>,
) -> Out<'a> {
    for (condition, result) in whens {
        if as_bool(condition.eval_in(row)?.as_ref())? == Some(true) {
            return result.eval_in(row);
        }
    }
    match otherwise {
        Some(o) => o.eval_in(row),
        None => owned(Value::Null),
    }
}

/// Borrows a sub-value when the container was borrowed, clones it when it was computed.
fn project<'a>(container: Cow<'a, Value>, pick: impl Fn(&Value) -> Option<&Value>) -> Out<'a> {
    match container {
        Cow::Borrowed(c) => Ok(pick(c).map_or(Cow::Owned(Value::Null), Cow::Borrowed)),
        Cow::Owned(c) => owned(pick(&c).cloned().unwrap_or(Value::Null)),
    }
}

fn eval_array_index<'a>(base: &'a Node, index: &'a Node, row: Scope<'a>) -> Out<'a> {
    let b = base.eval_in(row)?;
    let i = match index.eval_in(row)?.as_ref() {
        Value::Integer(i) => i64::from(*i),
        Value::BigInt(i) => *i,
        _ => return owned(Value::Null),
    };
    project(b, |v| match v {
        Value::Array(items) => {
            let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let at = if i >= 0 { i - 1 } else { n + i };
            usize::try_from(at).ok().and_then(|at| items.get(at))
        }
        _ => None,
    })
}

fn eval_map_lookup<'a>(base: &'a Node, key: &'a Node, row: Scope<'a>) -> Out<'a> {
    let b = base.eval_in(row)?;
    let k = key.eval_in(row)?;
    if k.is_null() {
        return owned(Value::Null);
    }
    project(b, |v| match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(mk, _)| !mk.is_null() && compare::equals(mk, &k))
            .map(|(_, mv)| mv),
        _ => None,
    })
}

fn eval_field<'a>(base: &'a Node, index: usize, name: &'a str, row: Scope<'a>) -> Out<'a> {
    let b = base.eval_in(row)?;
    project(b, |v| match v {
        Value::Struct(fields) => cast::source_field(fields, index, name),
        _ => None,
    })
}

/// Later duplicate keys replace earlier ones, as a Java map's `put` does.
fn eval_make_map<'a>(entries: &'a [(Node, Node)], row: Scope<'a>) -> Out<'a> {
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let k = k.eval_in(row)?.into_owned();
        let v = v.eval_in(row)?.into_owned();
        match out.iter_mut().find(|(existing, _)| existing == &k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    owned(Value::Map(out))
}

// ---------------------------------------------------------------------------------------------
// Lambdas: TRANSFORM, FILTER and REDUCE (compiled in `lambda`).

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LambdaKind {
    TransformArray,
    TransformMap,
    FilterArray,
    FilterMap,
    ReduceArray,
    ReduceMap,
}

#[derive(Debug, Clone)]
pub(crate) struct LambdaCall {
    pub(crate) kind: LambdaKind,
    pub(crate) input: Node,
    /// REDUCE's initial state.
    pub(crate) init: Option<Node>,
    /// One body per lambda argument (two for the map form of TRANSFORM).
    pub(crate) bodies: Vec<Node>,
    /// Parameters bound by enclosing lambdas when this call was compiled; evaluation
    /// checks the scope it receives has exactly as many.
    pub(crate) base: usize,
}

impl LambdaCall {
    /// The function's name, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self.kind {
            LambdaKind::TransformArray | LambdaKind::TransformMap => "TRANSFORM",
            LambdaKind::FilterArray | LambdaKind::FilterMap => "FILTER",
            LambdaKind::ReduceArray | LambdaKind::ReduceMap => "REDUCE",
        }
    }

    /// Never folded: the bodies may read parameters of enclosing lambdas.
    pub(crate) fn is_constant(&self) -> bool {
        false
    }
}

/// The error for a NULL arithmetic operand inside a lambda body.
pub(crate) fn null_operand() -> EngineError {
    EngineError::bad_request("NULL operand of arithmetic inside a lambda")
}

/// Evaluates a `TRANSFORM`, `FILTER` or `REDUCE` call (see `lambda` for how it compiles).
pub(crate) fn eval_lambda<'a>(call: &'a LambdaCall, scope: Scope<'a>) -> Out<'a> {
    if scope.params.len() != call.base {
        return Err(EngineError::internal(format!(
            "lambda compiled under {} parameters evaluated under {}",
            call.base,
            scope.params.len()
        )));
    }
    let input = call.input.eval_in(scope)?;
    let out = match call.kind {
        LambdaKind::ReduceArray | LambdaKind::ReduceMap => return reduce(call, scope, &input),
        LambdaKind::TransformArray => match input.as_ref() {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(apply(body(call, 0)?, scope, std::slice::from_ref(item))?);
                }
                Value::Array(out)
            }
            _ => Value::Null,
        },
        LambdaKind::FilterArray => match input.as_ref() {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    if holds(apply(body(call, 0)?, scope, std::slice::from_ref(item))?) {
                        out.push(item.clone());
                    }
                }
                Value::Array(out)
            }
            _ => Value::Null,
        },
        LambdaKind::FilterMap => match input.as_ref() {
            Value::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let kv = [k.clone(), v.clone()];
                    if holds(apply(body(call, 0)?, scope, &kv)?) {
                        let [k, v] = kv;
                        out.push((k, non_null_value(v)?));
                    }
                }
                Value::Map(out)
            }
            _ => Value::Null,
        },
        LambdaKind::TransformMap => match input.as_ref() {
            Value::Map(entries) => {
                let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let kv = [k.clone(), v.clone()];
                    let key = apply(body(call, 0)?, scope, &kv)?;
                    let value = non_null_value(apply(body(call, 1)?, scope, &kv)?)?;
                    if out.iter().any(|(existing, _)| existing == &key) {
                        return Err(EngineError::bad_request(format!(
                            "TRANSFORM produced the duplicate map key {key:?}"
                        )));
                    }
                    out.push((key, value));
                }
                Value::Map(out)
            }
            _ => Value::Null,
        },
    };
    Ok(Cow::Owned(out))
}

fn reduce<'a>(call: &'a LambdaCall, scope: Scope<'a>, input: &Value) -> Out<'a> {
    let Some(init) = &call.init else {
        return Err(EngineError::internal("REDUCE without an initial state"));
    };
    let mut state = init.eval_in(scope)?.into_owned();
    if state.is_null() {
        return Ok(Cow::Owned(Value::Null));
    }
    let f = body(call, 0)?;
    match input {
        Value::Array(items) => {
            for item in items {
                state = apply(f, scope, &[state, item.clone()])?;
            }
        }
        // Java folds over the deserialized `HashMap`, so in its iteration order.
        Value::Map(entries) => {
            for (k, v) in java_hash_map::iteration_order(entries) {
                state = apply(f, scope, &[state, k.clone(), v.clone()])?;
            }
        }
        _ => {}
    }
    Ok(Cow::Owned(state))
}

fn body(call: &LambdaCall, i: usize) -> Result<&Node, EngineError> {
    call.bodies
        .get(i)
        .ok_or_else(|| EngineError::internal(format!("lambda call without body {i}")))
}

/// Evaluates a body with `args` bound after the enclosing lambdas' parameters.
fn apply(body: &Node, scope: Scope<'_>, args: &[Value]) -> Result<Value, EngineError> {
    let mut params = Vec::with_capacity(scope.params.len() + args.len());
    params.extend_from_slice(scope.params);
    params.extend_from_slice(args);
    let inner = Scope {
        row: scope.row,
        params: &params,
    };
    Ok(body.eval_in(inner)?.into_owned())
}

fn holds(v: Value) -> bool {
    matches!(v, Value::Boolean(true))
}

/// `Collectors.toMap` rejects NULL values.
fn non_null_value(v: Value) -> Result<Value, EngineError> {
    if v.is_null() {
        return Err(EngineError::bad_request(
            "a map built by a lambda function cannot hold NULL values",
        ));
    }
    Ok(v)
}
