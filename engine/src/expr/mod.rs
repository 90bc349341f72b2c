//! Scalar expressions: compile (bind columns, infer types) and evaluate.
//!
//! A push query compiles its WHERE and SELECT expressions once against the source schema,
//! then evaluates them per row on the hot path:
//!
//! ```text
//!  Expr (AST) ──compile──► CompiledExpr { Node tree, SqlType } ──eval(row)──► Value
//!                │                                   │
//!                ├─ ColumnResolver: name → row index  └─ Cow: columns and literals borrowed
//!                ├─ type checks (ksqlDB's ExpressionTypeManager rules and texts)
//!                └─ implicit casts inserted, constants folded
//! ```
//!
//! Modules:
//! - `compile`: AST → typed `Node` tree; type rules and compile-time error texts.
//! - `eval`: the `Node` tree and per-row evaluation.
//! - `arith`, `decimal`: `+ - * / %`, with Java integer wrapping and exact DECIMALs.
//! - `compare`: comparison validity and ordering.
//! - `equality_probe`: a WHERE's `E = literal`, for bucketing rows among push queries.
//! - `cast`: the CAST table and conversions.
//! - `coerce`: the common type of IN lists and ARRAY/MAP constructors.
//! - `like`: LIKE patterns compiled to a backtracking-free matcher.
//! - `functions`: the scalar function registry, one file per family.
//! - `lambda`: `TRANSFORM`, `FILTER`, `REDUCE` and the scope of lambda parameters.
//! - `names`: ksqlDB's default names for unaliased select expressions.
//! - `display`, `java_text`: expression and value text as ksqlDB/Java print them.
//!
//! Semantics are ksqlDB's, including where they differ from textbook SQL: a comparison
//! with a NULL operand is FALSE, not NULL (so `NOT (x = 1)` is TRUE for a NULL `x`), and
//! `NOT IN`/`NOT BETWEEN` negate those two-valued results. AND, OR and NOT use three-valued
//! logic on NULL booleans (ksqlDB fails such rows; a NULL result filters them out the same).
//!
//! Runtime failures (integer division by zero, a DECIMAL result that needs rounding, an
//! unparsable `CAST('x' AS INT)`) are `Err(EngineError::BadRequest)`. ksqlDB logs such a
//! row to its processing log and yields NULL for a projection and FALSE for a filter; the
//! caller does the same with the error.
//!
//! Non-goals for now: aggregate functions. Table functions (EXPLODE, CUBE_EXPLODE) are not
//! scalar: `exec::table_function` rewrites them out of select expressions before compiling.

mod arith;
mod cast;
mod coerce;
pub(crate) mod compare;
mod compile;
pub(crate) mod decimal;
mod display;
mod equality_probe;
mod eval;
mod functions;
mod java_text;
mod lambda;
mod like;
mod names;
pub(crate) mod table_function;
mod typed;

#[cfg(test)]
mod tests;

use crate::error::EngineError;
use crate::sql::ast::Expr;
use crate::types::{SqlType, Value};

pub use compile::EXPR_DEPTH_MAX;
pub(crate) use equality_probe::{Bucket, EqualityProbe, IndexKey};
pub use functions::function_names;
pub(crate) use functions::TimestampFormat;
pub use names::{default_column_name, ColumnAliasGenerator};

/// Resolves a column reference to an index into the row slice given to `eval`, and its type.
pub trait ColumnResolver {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)>;
}

/// An expression bound to a row layout and type-checked; cheap to evaluate many times.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    node: eval::Node,
    ty: SqlType,
}

impl CompiledExpr {
    /// The type of every value `eval` returns (or NULL).
    pub fn sql_type(&self) -> &SqlType {
        &self.ty
    }

    /// Evaluates over one row laid out as the resolver described.
    pub fn eval(&self, row: &[Value]) -> Result<Value, EngineError> {
        self.node.eval(row).map(std::borrow::Cow::into_owned)
    }

    /// Evaluates a predicate: only TRUE passes (FALSE and NULL do not). Allocates nothing
    /// for comparisons of columns with literals.
    pub fn eval_predicate(&self, row: &[Value]) -> Result<bool, EngineError> {
        Ok(matches!(
            self.node.eval(row)?.as_ref(),
            Value::Boolean(true)
        ))
    }

    /// True when the expression reads no column (it was folded to a constant).
    pub fn is_constant(&self) -> bool {
        self.node.is_constant()
    }

    /// The predicate's `E = literal`, if it has one rows can be bucketed by.
    pub(crate) fn equality_probe(&self) -> Option<EqualityProbe> {
        EqualityProbe::of(&self.node)
    }
}

/// Compiles `expr` against the columns `resolver` knows.
///
/// Errors are `EngineError::Statement` with ksqlDB's texts (unknown column, invalid
/// comparison or arithmetic, unknown function, unsupported cast). A bare `NULL` has no type and is rejected; `CAST(NULL AS T)` types it.
pub fn compile(expr: &Expr, resolver: &dyn ColumnResolver) -> Result<CompiledExpr, EngineError> {
    let typed = compile::Compiler::new(resolver).compile(expr)?;
    let ty = typed.ty.ok_or_else(|| {
        EngineError::statement(
            "Can't infer a type of null. Please explicitly cast it to a required type, \
             e.g. CAST(null AS VARCHAR).",
        )
    })?;
    Ok(CompiledExpr {
        node: typed.node,
        ty,
    })
}
