//! Parser cases: expressions.

use super::*;

#[test]
fn arithmetic_and_boolean_precedence() {
    assert_eq!(
        expr("1 + 2 * 3 - 4"),
        bin(
            BinaryOp::Sub,
            bin(BinaryOp::Add, int(1), bin(BinaryOp::Mul, int(2), int(3))),
            int(4)
        )
    );
    // || binds loosest of the value operators in ksqlDB's grammar.
    assert_eq!(
        expr("a || b + c"),
        bin(
            BinaryOp::Concat,
            col("A"),
            bin(BinaryOp::Add, col("B"), col("C"))
        )
    );
    assert_eq!(
        expr("a OR b AND NOT c = 1"),
        bin(
            BinaryOp::Or,
            col("A"),
            bin(
                BinaryOp::And,
                col("B"),
                Expr::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(bin(BinaryOp::Eq, col("C"), int(1)))
                }
            )
        )
    );
    assert_eq!(
        expr("NOT a AND b"),
        bin(
            BinaryOp::And,
            Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(col("A"))
            },
            col("B")
        )
    );
    assert_eq!(
        expr("-a * b"),
        bin(
            BinaryOp::Mul,
            Expr::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(col("A"))
            },
            col("B")
        )
    );
    assert_eq!(expr("a - -5"), bin(BinaryOp::Sub, col("A"), int(-5)));
    assert!(parse_expression("a = b = c").is_err());
}

#[test]
fn literals() {
    assert_eq!(expr("NULL"), Expr::Literal(Literal::Null));
    assert_eq!(expr("false"), Expr::Literal(Literal::Boolean(false)));
    assert_eq!(expr("3000000000"), int(3_000_000_000));
    assert_eq!(expr("1.50"), Expr::Literal(Literal::Decimal("1.50".into())));
    assert_eq!(expr("1.5E3"), Expr::Literal(Literal::Double(1500.0)));
    assert_eq!(expr("'it''s'"), string("it's"));
    assert_eq!(expr("-9223372036854775808"), int(i64::MIN));
    assert!(parse_expression("9223372036854775808")
        .is_err_and(|e| e.code() == crate::error::ErrorCode::InvalidStatement));
}

#[test]
fn predicates() {
    assert_eq!(
        expr("a NOT BETWEEN 1 AND 2 + 3"),
        Expr::Between {
            expr: Box::new(col("A")),
            low: Box::new(int(1)),
            high: Box::new(bin(BinaryOp::Add, int(2), int(3))),
            negated: true
        }
    );
    assert_eq!(
        expr("a IN (1, 2)"),
        Expr::InList {
            expr: Box::new(col("A")),
            list: vec![int(1), int(2)],
            negated: false
        }
    );
    assert_eq!(
        expr("a NOT LIKE 'x!%' ESCAPE '!'"),
        Expr::Like {
            expr: Box::new(col("A")),
            pattern: Box::new(string("x!%")),
            escape: Some('!'),
            negated: true
        }
    );
    assert_eq!(
        expr("a IS NOT NULL"),
        Expr::IsNull {
            expr: Box::new(col("A")),
            negated: true
        }
    );
    assert_eq!(
        expr("a IS DISTINCT FROM b"),
        Expr::IsDistinctFrom {
            left: Box::new(col("A")),
            right: Box::new(col("B")),
            negated: false
        }
    );
    assert_eq!(
        expr("a <> b AND c != d"),
        bin(
            BinaryOp::And,
            bin(BinaryOp::NotEq, col("A"), col("B")),
            bin(BinaryOp::NotEq, col("C"), col("D"))
        )
    );
}

#[test]
fn constructors_cast_case_postfix_and_lambdas() {
    assert_eq!(
        expr("CAST(a AS ARRAY<MAP<STRING, BIGINT>>)"),
        Expr::Cast {
            expr: Box::new(col("A")),
            ty: SqlType::Array(Box::new(SqlType::Map(
                Box::new(SqlType::String),
                Box::new(SqlType::BigInt)
            )))
        }
    );
    assert_eq!(
        expr("CASE WHEN a THEN 1 ELSE 2 END"),
        Expr::Case {
            operand: None,
            whens: vec![(col("A"), int(1))],
            else_result: Some(Box::new(int(2)))
        }
    );
    assert_eq!(
        expr("CASE a WHEN 1 THEN 'x' END"),
        Expr::Case {
            operand: Some(Box::new(col("A"))),
            whens: vec![(int(1), string("x"))],
            else_result: None
        }
    );
    assert_eq!(
        expr("a[1]->b"),
        Expr::Dereference {
            base: Box::new(Expr::Subscript {
                base: Box::new(col("A")),
                index: Box::new(int(1))
            }),
            field: "B".into()
        }
    );
    assert_eq!(expr("ARRAY[1, 2]"), Expr::Array(vec![int(1), int(2)]));
    assert_eq!(
        expr("MAP('k' := 1)"),
        Expr::Map(vec![(string("k"), int(1))])
    );
    assert_eq!(
        expr("STRUCT(f := 1)"),
        Expr::Struct(vec![("F".into(), int(1))])
    );
    assert_eq!(
        expr("TRANSFORM(xs, x => x + 1)"),
        Expr::Function {
            name: "TRANSFORM".into(),
            args: vec![
                col("XS"),
                Expr::Lambda {
                    params: vec!["X".into()],
                    body: Box::new(bin(BinaryOp::Add, col("X"), int(1)))
                }
            ]
        }
    );
    assert_eq!(
        expr("REDUCE(xs, 0, (s, x) => s + x)"),
        Expr::Function {
            name: "REDUCE".into(),
            args: vec![
                col("XS"),
                int(0),
                Expr::Lambda {
                    params: vec!["S".into(), "X".into()],
                    body: Box::new(bin(BinaryOp::Add, col("S"), col("X")))
                }
            ]
        }
    );
    assert_eq!(
        expr("TIMESTAMPADD(SECONDS, 5, ts)"),
        Expr::Function {
            name: "TIMESTAMPADD".into(),
            args: vec![col("SECONDS"), int(5), col("TS")]
        }
    );
    assert_eq!(
        expr("f()"),
        Expr::Function {
            name: "F".into(),
            args: vec![]
        }
    );
}

#[test]
fn types() {
    assert_eq!(parse_type("int").expect("valid"), SqlType::Integer);
    assert_eq!(parse_type("VARCHAR").expect("valid"), SqlType::String);
    assert_eq!(parse_type("VARCHAR(10)").expect("valid"), SqlType::String);
    assert_eq!(
        parse_type("varchar(string)").expect("valid"),
        SqlType::String
    );
    assert!(parse_type("VARCHAR(INT)").is_err());
    assert_eq!(
        parse_type("STRUCT<a STRUCT<`b` ARRAY<DATE>>, c TIME>")
            .expect("valid")
            .to_string(),
        "STRUCT<`A` STRUCT<`b` ARRAY<DATE>>, `C` TIME>"
    );
    assert!(matches!(
        parse_type("DECIMAL(39, 1)"),
        Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement
    ));
    assert!(parse_type("FOO").is_err());
}
