//! Parser tests: each statement form, precedence, error shapes, splitting, limits, and a
//! parse → print → parse round trip.

use super::ast::*;
use super::*;
use crate::error::SyntaxCause;
use crate::types::{SqlType, StructField};

mod display;
mod errors;
mod expressions;
mod linear;
mod queries;
mod statements;

fn one(sql: &str) -> Statement {
    let mut parsed = parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(parsed.len(), 1, "{sql}");
    parsed.remove(0).statement
}

fn query(sql: &str) -> Query {
    match one(sql) {
        Statement::Query(q) => *q,
        other => panic!("not a query: {other:?}"),
    }
}

fn expr(text: &str) -> Expr {
    parse_expression(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(sql: &str) -> String {
    match parse(sql) {
        Ok(s) => panic!("{sql} parsed: {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn col(name: &str) -> Expr {
    Expr::Column {
        qualifier: None,
        name: name.into(),
    }
}

fn qcol(q: &str, name: &str) -> Expr {
    Expr::Column {
        qualifier: Some(q.into()),
        name: name.into(),
    }
}

fn int(v: i64) -> Expr {
    Expr::Literal(Literal::Integer(v))
}

fn string(s: &str) -> Expr {
    Expr::Literal(Literal::String(s.into()))
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

fn source(name: &str, alias: Option<&str>) -> Relation {
    Relation::Source {
        name: name.into(),
        alias: alias.map(Into::into),
    }
}
