//! ksqlDB SQL: lexer → parser → AST, and `Display` back to SQL.
//!
//! ```text
//!  text ─► variables (${x}) ─► lexer (tokens + positions) ─► parser ─► expr_parser ─► ast
//!                                                                         ast ─► display
//! ```
//!
//! - [`ast`]: the statement and expression tree.
//! - `lexer`: tokens with line/column, following `SqlBase.g4`'s lexer rules.
//! - `parser`: statements and queries, ANTLR-shaped syntax errors, the depth and size
//!   limits. Every step is linear in the input (`tests/linear.rs` checks each construct).
//! - `expr_parser`: expressions (precedence climbing).
//! - `type_parser`: types, custom type names included.
//! - `display`: ksqlDB-style formatting of expressions.
//! - `variables`: `${name}` substitution.
//! - [`shape`]: a statement with its literals taken out, the key of cached pull plans.

pub mod ast;
mod display;
mod expr_parser;
mod lexer;
mod parser;
pub mod shape;
mod type_parser;
mod variables;

use std::collections::HashMap;

use crate::error::EngineError;
use crate::types::SqlType;
use parser::{Expect, Parser};

pub(crate) use expr_parser::{for_each_child, for_each_child_mut};
pub use ast::TypeRegistry;
pub use parser::{EXPRESSION_DEPTH_MAX, EXPRESSION_TREE_DEPTH_MAX, STATEMENT_EXPRESSION_NODES_MAX};
pub use variables::SUBSTITUTED_SQL_BYTES_MAX;

/// One statement from a request, with the source text ksqlDB echoes as `statementText`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    pub statement: ast::Statement,
    /// The statement's source, trimmed, ending with `;` (added if the input lacked it).
    pub text: String,
}

/// Splits `sql` on top-level `;` (not inside strings, quoted identifiers or comments) and
/// parses each statement. Fails on the first error, with positions relative to `sql`.
pub fn parse(sql: &str) -> Result<Vec<ParsedStatement>, EngineError> {
    parse_with_types(sql, TypeRegistry::new())
}

/// [`parse`], with `types` (and the types the statements create) resolvable by name.
pub fn parse_with_types(
    sql: &str,
    types: TypeRegistry,
) -> Result<Vec<ParsedStatement>, EngineError> {
    let statements = Parser::with_types(sql, types).statements()?;
    Ok(statements
        .into_iter()
        .map(|(statement, text)| ParsedStatement { statement, text })
        .collect())
}

/// Parses a request that must hold exactly one statement (`/query-stream`, `/query`,
/// PRINT), after substituting its `${name}` session variables, as ksqlDB does.
pub fn parse_one(
    sql: &str,
    session_variables: &HashMap<String, String>,
    types: &TypeRegistry,
) -> Result<ParsedStatement, EngineError> {
    let text = if sql.contains("${") {
        substitute_variables(sql, session_variables)?
    } else {
        sql.to_string()
    };
    let mut statements = parse_with_types(&text, types.clone())?;
    if statements.len() != 1 {
        return Err(EngineError::statement(format!(
            "Expected exactly one KSQL statement; found {} instead",
            statements.len()
        )));
    }
    Ok(statements.remove(0))
}

/// Parses a single expression, such as a pull query's key predicate or a test fixture.
pub fn parse_expression(text: &str) -> Result<ast::Expr, EngineError> {
    let mut parser = Parser::new(text);
    let expr = parser.expression()?;
    if !parser.at_eof() {
        return Err(parser.mismatch(&[Expect::Eof]));
    }
    Ok(expr)
}

/// Parses a type name (`INT`, `DECIMAL(4, 2)`, `STRUCT<a ARRAY<STRING>>`).
pub fn parse_type(text: &str) -> Result<SqlType, EngineError> {
    let mut parser = Parser::new(text);
    let ty = parser.parse_type()?;
    if !parser.at_eof() {
        return Err(parser.mismatch(&[Expect::Eof]));
    }
    Ok(ty)
}

/// Replaces `${name}` references with variable values, as ksqlDB does before parsing.
///
/// A reference in identifier or literal position must name a defined variable with a valid
/// identifier or literal value, else `EngineError::statement("Illegal argument at Line: L,
/// Col: C.")`; inside `'…'` strings defined variables are replaced (quotes doubled) and
/// undefined ones left as written.
pub fn substitute_variables(
    sql: &str,
    vars: &HashMap<String, String>,
) -> Result<String, EngineError> {
    variables::substitute(sql, vars)
}

#[cfg(test)]
mod tests;
