//! Operator-level tests of compile + eval against a fixed schema, and a property test that
//! evaluation never panics.

use proptest::prelude::*;

use super::*;
use crate::sql::ast::{BinaryOp, Literal, UnaryOp};
use crate::types::{Decimal, StructField};

mod case_cast_access;
mod compile;
mod equality_probe;
mod functions;
mod lambdas;
mod never_panic;
mod operators;

/// The test schema: name, type, in row order.
fn schema() -> Vec<(&'static str, SqlType)> {
    vec![
        ("A", SqlType::Integer),
        ("B", SqlType::String),
        ("C", SqlType::BigInt),
        ("D", SqlType::Double),
        (
            "E",
            SqlType::Decimal {
                precision: 4,
                scale: 2,
            },
        ),
        ("F", SqlType::Boolean),
        ("T", SqlType::Timestamp),
        ("DT", SqlType::Date),
        ("ARR", SqlType::Array(Box::new(SqlType::Integer))),
        (
            "M",
            SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Integer)),
        ),
        (
            "S",
            SqlType::Struct(vec![
                StructField {
                    name: "X".into(),
                    ty: SqlType::Integer,
                },
                StructField {
                    name: "Y".into(),
                    ty: SqlType::String,
                },
            ]),
        ),
        ("TM", SqlType::Time),
        ("BY", SqlType::Bytes),
    ]
}

struct Resolver;

impl ColumnResolver for Resolver {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        if qualifier.is_some_and(|q| q != "S1") {
            return None;
        }
        schema()
            .into_iter()
            .enumerate()
            .find(|(_, (n, _))| *n == name)
            .map(|(i, (_, t))| (i, t))
    }
}

fn row() -> Vec<Value> {
    vec![
        Value::Integer(10),
        Value::String("x".into()),
        Value::BigInt(1 << 40),
        Value::Double(2.5),
        Value::Decimal(Decimal::new(1001, 2)),
        Value::Boolean(true),
        Value::Timestamp(1_614_834_367_123),
        Value::Date(18_690),
        Value::Array(vec![
            Value::Integer(1),
            Value::Integer(2),
            Value::Integer(3),
        ]),
        Value::Map(vec![(Value::String("k".into()), Value::Integer(7))]),
        Value::Struct(vec![
            ("X".into(), Value::Integer(5)),
            ("Y".into(), Value::String("why".into())),
        ]),
        Value::Time(45_296_000),
        Value::Bytes(vec![1, 2, 3]),
    ]
}

fn null_row() -> Vec<Value> {
    vec![Value::Null; schema().len()]
}

fn col(name: &str) -> Expr {
    Expr::Column {
        qualifier: None,
        name: name.into(),
    }
}

fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Integer(i))
}

fn s(text: &str) -> Expr {
    Expr::Literal(Literal::String(text.into()))
}

fn dec(text: &str) -> Expr {
    Expr::Literal(Literal::Decimal(text.into()))
}

fn dbl(d: f64) -> Expr {
    Expr::Literal(Literal::Double(d))
}

fn null() -> Expr {
    Expr::Literal(Literal::Null)
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: name.into(),
        args,
    }
}

fn cast(e: Expr, ty: SqlType) -> Expr {
    Expr::Cast {
        expr: Box::new(e),
        ty,
    }
}

fn decimal_ty(precision: u8, scale: u8) -> SqlType {
    SqlType::Decimal { precision, scale }
}

fn compiled(e: &Expr) -> CompiledExpr {
    match compile(e, &Resolver) {
        Ok(c) => c,
        Err(err) => panic!("compile {e:?}: {err}"),
    }
}

fn eval(e: &Expr) -> Value {
    compiled(e).eval(&row()).expect("evaluates")
}

fn eval_null(e: &Expr) -> Value {
    compiled(e).eval(&null_row()).expect("evaluates")
}

fn ty(e: &Expr) -> SqlType {
    compiled(e).sql_type().clone()
}

fn compile_err(e: &Expr) -> String {
    match compile(e, &Resolver) {
        Ok(c) => panic!("expected an error, compiled to {c:?}"),
        Err(err) => err.to_string(),
    }
}

fn d(unscaled: i128, scale: u8) -> Value {
    Value::Decimal(Decimal::new(unscaled, scale))
}

fn lambda(params: &[&str], body: Expr) -> Expr {
    Expr::Lambda {
        params: params.iter().map(|p| p.to_string()).collect(),
        body: Box::new(body),
    }
}

fn ints(v: &[i32]) -> Value {
    Value::Array(v.iter().map(|i| Value::Integer(*i)).collect())
}
