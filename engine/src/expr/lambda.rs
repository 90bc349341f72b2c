//! Lambdas and the higher-order functions that take them: `TRANSFORM`, `FILTER`, `REDUCE`
//! (`udf/lambda/*.java`).
//!
//! A lambda is compiled in a scope of typed parameters: the compiler pushes the lambda's
//! parameter names with types taken from the collection (and the initial state), compiles
//! the body — where a bare name resolves to a parameter before a column — and pops them.
//! A parameter compiles to `Node::Param(i)`, an index into a stack of values that grows by
//! one frame per nested lambda; evaluation builds that stack per element.
//!
//! ```text
//!  TRANSFORM(arr, x => x + a)      scope while compiling the body: [X: INT]
//!      │                            X → Param(0), A → Column(k)
//!      └─ eval: for each item v: body.eval_in(Scope { row, params: [v] })
//! ```
//!
//! Semantics follow the Java UDFs: a NULL collection gives NULL (REDUCE: the initial
//! state), a NULL initial state gives NULL. ksqlDB compiles lambda bodies to Java that
//! unboxes arithmetic operands, so `x + 1` on a NULL element fails the whole call (the
//! result is NULL), and the map forms build a `HashMap` through `Collectors.toMap`, which
//! rejects NULL values and duplicate keys. Both are reproduced as errors here.

use super::compile::{coerce, Compiler, Typed};
use super::eval::{Node, Scope};
use super::java_hash_map;
use crate::error::EngineError;
use crate::sql::ast::Expr;
use crate::types::{SqlType, Value};

use std::borrow::Cow;

/// Most parameters all enclosing lambdas may bind at once. Nesting is already bounded by
/// `EXPR_DEPTH_MAX`; this bounds the per-element parameter stack a row copies.
pub(crate) const LAMBDA_PARAMS_MAX: usize = 64;

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
    kind: LambdaKind,
    input: Node,
    /// REDUCE's initial state.
    init: Option<Node>,
    /// One body per lambda argument (two for the map form of TRANSFORM).
    bodies: Vec<Node>,
    /// Parameters bound by enclosing lambdas when this call was compiled; evaluation
    /// checks the scope it receives has exactly as many.
    base: usize,
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

fn stmt(msg: impl Into<String>) -> EngineError {
    EngineError::statement(msg.into())
}

/// The error for a NULL arithmetic operand inside a lambda body.
pub(crate) fn null_operand() -> EngineError {
    EngineError::bad_request("NULL operand of arithmetic inside a lambda")
}

/// True for the functions compiled here rather than through the registry.
pub(crate) fn is_higher_order(name: &str) -> bool {
    ["TRANSFORM", "FILTER", "REDUCE"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// Compiles `TRANSFORM`, `FILTER` or `REDUCE`.
pub(crate) fn compile(
    c: &mut Compiler<'_>,
    name: &str,
    args: &[Expr],
) -> Result<Typed, EngineError> {
    let upper = name.to_ascii_uppercase();
    let wrong = |types: &str| {
        stmt(format!(
            "Function '{upper}' does not accept parameters ({types})."
        ))
    };
    let Some(first) = args.first() else {
        return Err(wrong(""));
    };
    let input = c.compile(first)?;
    let base = c.param_count();
    let (kind, init, bodies, ty) = match (upper.as_str(), &input.ty, args) {
        ("TRANSFORM", Some(SqlType::Array(t)), [_, f]) => {
            let body = lambda_body(c, f, &[(**t).clone()])?;
            let ty = SqlType::Array(Box::new(typed(&body, f)?));
            (LambdaKind::TransformArray, None, vec![body.node], ty)
        }
        ("TRANSFORM", Some(SqlType::Map(k, v)), [_, fk, fv]) => {
            let kv = [(**k).clone(), (**v).clone()];
            let key = lambda_body(c, fk, &kv)?;
            let value = lambda_body(c, fv, &kv)?;
            let ty = SqlType::Map(Box::new(typed(&key, fk)?), Box::new(typed(&value, fv)?));
            (
                LambdaKind::TransformMap,
                None,
                vec![key.node, value.node],
                ty,
            )
        }
        ("FILTER", Some(t @ SqlType::Array(elem)), [_, f]) => {
            let body = predicate(c, f, &[(**elem).clone()])?;
            (LambdaKind::FilterArray, None, vec![body], t.clone())
        }
        ("FILTER", Some(t @ SqlType::Map(k, v)), [_, f]) => {
            let body = predicate(c, f, &[(**k).clone(), (**v).clone()])?;
            (LambdaKind::FilterMap, None, vec![body], t.clone())
        }
        ("REDUCE", Some(SqlType::Array(elem)), [_, init, f]) => {
            let (init, state) = initial_state(c, init)?;
            let body = lambda_body(c, f, &[state.clone(), (**elem).clone()])?;
            let body = coerce_state(body, &state, f)?;
            (LambdaKind::ReduceArray, Some(init), vec![body], state)
        }
        ("REDUCE", Some(SqlType::Map(k, v)), [_, init, f]) => {
            let (init, state) = initial_state(c, init)?;
            let body = lambda_body(c, f, &[state.clone(), (**k).clone(), (**v).clone()])?;
            let body = coerce_state(body, &state, f)?;
            (LambdaKind::ReduceMap, Some(init), vec![body], state)
        }
        _ => {
            let shown = input
                .ty
                .as_ref()
                .map_or_else(|| "null".to_string(), ToString::to_string);
            return Err(wrong(&format!("{shown}, …")));
        }
    };
    let call = LambdaCall {
        kind,
        input: input.node,
        init,
        bodies,
        base,
    };
    Ok(Typed {
        node: Node::Lambda(Box::new(call)),
        ty: Some(ty),
    })
}

/// Compiles a lambda argument whose parameters have `types`.
fn lambda_body(c: &mut Compiler<'_>, f: &Expr, types: &[SqlType]) -> Result<Typed, EngineError> {
    let Expr::Lambda { params, body } = f else {
        return Err(stmt(format!(
            "Expected a lambda function with {} argument(s), got {}.",
            types.len(),
            super::display::expr(f)
        )));
    };
    if params.len() != types.len() {
        return Err(stmt(format!(
            "Was expecting {} arguments but found {}, {params:?}. Check your lambda statement.",
            types.len(),
            params.len()
        )));
    }
    if c.param_count() + params.len() > LAMBDA_PARAMS_MAX {
        return Err(stmt(format!(
            "Lambdas nest more than {LAMBDA_PARAMS_MAX} parameters deep."
        )));
    }
    let bound: Vec<(String, SqlType)> = params.iter().cloned().zip(types.iter().cloned()).collect();
    c.compile_in_scope(&bound, body)
}

fn typed(t: &Typed, f: &Expr) -> Result<SqlType, EngineError> {
    t.ty.clone().ok_or_else(|| {
        stmt(format!(
            "Can't infer a type of null in lambda {}. Please explicitly cast it.",
            super::display::expr(f)
        ))
    })
}

fn predicate(c: &mut Compiler<'_>, f: &Expr, types: &[SqlType]) -> Result<Node, EngineError> {
    let body = lambda_body(c, f, types)?;
    match &body.ty {
        None | Some(SqlType::Boolean) => Ok(body.node),
        Some(other) => Err(stmt(format!(
            "The lambda of FILTER must return BOOLEAN, but {} returns {other}.",
            super::display::expr(f)
        ))),
    }
}

fn initial_state(c: &mut Compiler<'_>, init: &Expr) -> Result<(Node, SqlType), EngineError> {
    let t = c.compile(init)?;
    let ty = t.ty.clone().ok_or_else(|| {
        stmt("Can't infer a type of null for the initial state of REDUCE. Please cast it.")
    })?;
    Ok((t.node, ty))
}

/// The state keeps the initial state's type; a body of another type converts to it.
fn coerce_state(body: Typed, state: &SqlType, f: &Expr) -> Result<Node, EngineError> {
    let shown = body.ty.clone();
    coerce(body, state).map_err(|_| {
        stmt(format!(
            "The lambda {} of REDUCE returns {}, which does not convert to the state type {state}.",
            super::display::expr(f),
            shown.map_or_else(|| "null".into(), |t| t.to_string())
        ))
    })
}

type Out<'a> = Result<Cow<'a, Value>, EngineError>;

pub(crate) fn eval<'a>(call: &'a LambdaCall, scope: Scope<'a>) -> Out<'a> {
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
