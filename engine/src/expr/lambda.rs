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

use super::eval::{LambdaCall, LambdaKind, Node};
use super::typed::{coerce, Typed};
use crate::error::EngineError;
use crate::sql::ast::Expr;
use crate::types::SqlType;

/// Most parameters all enclosing lambdas may bind at once. Nesting is already bounded by
/// `EXPR_DEPTH_MAX`; this bounds the per-element parameter stack a row copies.
pub(crate) const LAMBDA_PARAMS_MAX: usize = 64;

fn stmt(msg: impl Into<String>) -> EngineError {
    EngineError::statement(msg.into())
}

/// What compiling a lambda needs from the expression compiler: compiling the collection and
/// the initial state, and the body with the lambda's parameters in scope. The compiler
/// implements it; taking it as a trait keeps this module below the compiler.
pub(crate) trait LambdaScope {
    fn compile(&mut self, expr: &Expr) -> Result<Typed, EngineError>;
    /// Compiles `body` with `params` bound on top of the enclosing lambdas' parameters.
    fn compile_in_scope(
        &mut self,
        params: &[(String, SqlType)],
        body: &Expr,
    ) -> Result<Typed, EngineError>;
    /// Parameters bound by enclosing lambdas.
    fn param_count(&self) -> usize;
}

/// True for the functions compiled here rather than through the registry.
pub(crate) fn is_higher_order(name: &str) -> bool {
    ["TRANSFORM", "FILTER", "REDUCE"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// Compiles `TRANSFORM`, `FILTER` or `REDUCE`.
pub(crate) fn compile(
    c: &mut dyn LambdaScope,
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
fn lambda_body(c: &mut dyn LambdaScope, f: &Expr, types: &[SqlType]) -> Result<Typed, EngineError> {
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

fn predicate(c: &mut dyn LambdaScope, f: &Expr, types: &[SqlType]) -> Result<Node, EngineError> {
    let body = lambda_body(c, f, types)?;
    match &body.ty {
        None | Some(SqlType::Boolean) => Ok(body.node),
        Some(other) => Err(stmt(format!(
            "The lambda of FILTER must return BOOLEAN, but {} returns {other}.",
            super::display::expr(f)
        ))),
    }
}

fn initial_state(c: &mut dyn LambdaScope, init: &Expr) -> Result<(Node, SqlType), EngineError> {
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

