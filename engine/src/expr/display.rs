//! Expressions as error texts show them: ksqlDB's `ExpressionFormatter` form, which is the
//! parser's own `Display` (`sql::display`: `(A + 1)`, `'text'`, `(NOT x)`, quoted names).

use crate::sql::ast::Expr;

pub(crate) fn expr(e: &Expr) -> String {
    e.to_string()
}

pub(crate) fn when_clause(condition: &Expr, result: &Expr) -> String {
    format!("WHEN {condition} THEN {result}")
}
