//! Expression cases: literals and columns, arithmetic, comparisons and logic.

use super::*;

#[test]
fn literal_types() {
    assert_eq!(ty(&int(5)), SqlType::Integer);
    assert_eq!(ty(&int(1 << 40)), SqlType::BigInt);
    assert_eq!(ty(&dec("1.50")), decimal_ty(3, 2));
    assert_eq!(eval(&dec("1.50")), d(150, 2));
    assert_eq!(ty(&dbl(1.5)), SqlType::Double);
    assert_eq!(ty(&s("a")), SqlType::String);
    assert_eq!(
        compile_err(&null()),
        "Can't infer a type of null. Please explicitly cast it to a required type, e.g. \
         CAST(null AS VARCHAR)."
    );
}

#[test]
fn unknown_column() {
    assert_eq!(
        compile_err(&col("NOPE")),
        "Column 'NOPE' cannot be resolved."
    );
    let q = Expr::Column {
        qualifier: Some("Z".into()),
        name: "A".into(),
    };
    assert_eq!(compile_err(&q), "Column 'Z.A' cannot be resolved.");
}

#[test]
fn arithmetic_widens() {
    assert_eq!(ty(&bin(BinaryOp::Add, col("A"), int(1))), SqlType::Integer);
    assert_eq!(
        eval(&bin(BinaryOp::Add, col("A"), int(1))),
        Value::Integer(11)
    );
    assert_eq!(ty(&bin(BinaryOp::Add, col("A"), col("C"))), SqlType::BigInt);
    assert_eq!(
        eval(&bin(BinaryOp::Mul, col("A"), col("D"))),
        Value::Double(25.0)
    );
    // DECIMAL with DOUBLE is DOUBLE.
    assert_eq!(ty(&bin(BinaryOp::Add, col("E"), col("D"))), SqlType::Double);
    // INT + DECIMAL(4,2): INT is DECIMAL(10,0) → DECIMAL(13,2).
    assert_eq!(
        ty(&bin(BinaryOp::Add, col("A"), col("E"))),
        decimal_ty(13, 2)
    );
    assert_eq!(eval(&bin(BinaryOp::Add, col("A"), col("E"))), d(2001, 2));
}

#[test]
fn decimal_result_types_and_values() {
    let a = dec("10.1");
    let b = dec("2.0");
    assert_eq!(
        ty(&bin(BinaryOp::Add, a.clone(), b.clone())),
        decimal_ty(4, 1)
    );
    assert_eq!(
        ty(&bin(BinaryOp::Mul, a.clone(), b.clone())),
        decimal_ty(6, 2)
    );
    assert_eq!(
        ty(&bin(BinaryOp::Div, a.clone(), b.clone())),
        decimal_ty(9, 6)
    );
    assert_eq!(
        ty(&bin(BinaryOp::Mod, a.clone(), b.clone())),
        decimal_ty(2, 1)
    );
    assert_eq!(eval(&bin(BinaryOp::Add, a.clone(), b.clone())), d(121, 1));
    assert_eq!(eval(&bin(BinaryOp::Mul, a.clone(), b.clone())), d(2020, 2));
    assert_eq!(
        eval(&bin(BinaryOp::Div, a.clone(), b.clone())),
        d(5_050_000, 6)
    );
    assert_eq!(eval(&bin(BinaryOp::Mod, a.clone(), b.clone())), d(1, 1));
    assert_eq!(eval(&bin(BinaryOp::Sub, a.clone(), dec("-5.0"))), d(151, 1));
    // A quotient that needs rounding fails, as MathContext(UNNECESSARY) does.
    let inexact = compiled(&bin(BinaryOp::Div, col("E"), dec("3.0")));
    assert!(inexact.eval(&row()).is_err());
}

#[test]
fn integer_overflow_wraps_and_division_by_zero_fails() {
    let max = bin(BinaryOp::Add, int(i64::from(i32::MAX)), int(1));
    assert_eq!(eval(&max), Value::Integer(i32::MIN));
    let min_div = bin(BinaryOp::Div, int(i64::from(i32::MIN)), int(-1));
    assert_eq!(eval(&min_div), Value::Integer(i32::MIN));
    let by_zero = compiled(&bin(BinaryOp::Div, col("A"), int(0)));
    assert_eq!(
        by_zero.eval(&row()).expect_err("fails").to_string(),
        "/ by zero"
    );
    assert!(compiled(&bin(BinaryOp::Mod, col("C"), int(0)))
        .eval(&row())
        .is_err());
    // Doubles follow IEEE 754.
    assert_eq!(
        eval(&bin(BinaryOp::Div, col("D"), dbl(0.0))),
        Value::Double(f64::INFINITY)
    );
    assert_eq!(
        eval(&Expr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(int(i64::from(i32::MIN)))
        }),
        Value::Integer(i32::MIN)
    );
}

#[test]
fn arithmetic_propagates_null() {
    assert_eq!(
        eval_null(&bin(BinaryOp::Add, col("A"), int(1))),
        Value::Null
    );
    assert_eq!(
        eval_null(&bin(BinaryOp::Div, col("A"), int(0))),
        Value::Null
    );
}

#[test]
fn string_plus_concatenates() {
    assert_eq!(
        eval(&bin(BinaryOp::Add, col("B"), s("y"))),
        Value::String("xy".into())
    );
    assert_eq!(
        eval(&bin(BinaryOp::Concat, col("B"), s("y"))),
        Value::String("xy".into())
    );
    // `||` is CONCAT, which skips NULLs.
    assert_eq!(
        eval_null(&bin(BinaryOp::Concat, col("B"), s("y"))),
        Value::String("y".into())
    );
}

#[test]
fn arithmetic_type_errors() {
    assert_eq!(
        compile_err(&bin(BinaryOp::Add, col("B"), int(1))),
        "Error processing expression: (B + 1). Unsupported arithmetic types. STRING INTEGER"
    );
    assert_eq!(
        compile_err(&bin(BinaryOp::Add, col("A"), null())),
        "Error processing expression: (A + null). Arithmetic on types INTEGER and null are not \
         supported."
    );
}

#[test]
fn comparisons_widen_numbers() {
    assert_eq!(
        eval(&bin(BinaryOp::Gt, col("A"), int(5))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Lt, col("A"), col("C"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Eq, col("E"), dec("10.010"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Gt, col("E"), col("A"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Lt, col("D"), col("A"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Eq, col("B"), s("x"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Lt, col("B"), s("y"))),
        Value::Boolean(true)
    );
    assert_eq!(
        eval(&bin(BinaryOp::Eq, col("F"), col("F"))),
        Value::Boolean(true)
    );
}

#[test]
fn comparison_with_null_operand_is_false() {
    let gt = bin(BinaryOp::Gt, col("A"), int(5));
    assert_eq!(eval_null(&gt), Value::Boolean(false));
    let ne = bin(BinaryOp::NotEq, col("A"), int(5));
    assert_eq!(eval_null(&ne), Value::Boolean(false));
}

#[test]
fn temporal_comparisons_convert_strings_and_dates() {
    let t = bin(BinaryOp::Gt, col("T"), s("2021-03-04T00:00:00"));
    assert_eq!(eval(&t), Value::Boolean(true));
    let t = bin(BinaryOp::Eq, col("DT"), s("2021-03-04"));
    assert_eq!(eval(&t), Value::Boolean(true));
    let t = bin(BinaryOp::Gt, col("T"), col("DT"));
    assert_eq!(eval(&t), Value::Boolean(true));
    let t = bin(BinaryOp::Lt, col("TM"), s("13:00"));
    assert_eq!(eval(&t), Value::Boolean(true));
}

#[test]
fn complex_equality() {
    let arr = Expr::Array(vec![int(1), int(2), int(3)]);
    assert_eq!(
        eval(&bin(BinaryOp::Eq, col("ARR"), arr)),
        Value::Boolean(true)
    );
    let st = Expr::Struct(vec![("X".into(), int(5)), ("Y".into(), s("why"))]);
    assert_eq!(eval(&bin(BinaryOp::Eq, col("S"), st)), Value::Boolean(true));
}

#[test]
fn comparison_type_errors() {
    assert_eq!(
        compile_err(&bin(BinaryOp::Gt, col("B"), int(1))),
        "Cannot compare B (STRING) to 1 (INTEGER) with GREATER_THAN."
    );
    assert_eq!(
        compile_err(&bin(BinaryOp::Lt, col("F"), col("F"))),
        "Cannot compare F (BOOLEAN) to F (BOOLEAN) with LESS_THAN."
    );
    assert_eq!(
        compile_err(&bin(BinaryOp::Eq, col("A"), null())),
        "Comparison with NULL not supported: INTEGER = NULL\nUse 'IS NULL' or 'IS NOT NULL' \
         instead."
    );
}

#[test]
fn three_valued_logic() {
    let t = || Expr::Literal(Literal::Boolean(true));
    let f = || Expr::Literal(Literal::Boolean(false));
    let n = || col("F"); // NULL in the null row
    let and = |l, r| bin(BinaryOp::And, l, r);
    let or = |l, r| bin(BinaryOp::Or, l, r);
    assert_eq!(eval_null(&and(n(), f())), Value::Boolean(false));
    assert_eq!(eval_null(&and(n(), t())), Value::Null);
    assert_eq!(eval_null(&or(n(), t())), Value::Boolean(true));
    assert_eq!(eval_null(&or(n(), f())), Value::Null);
    let not = Expr::Unary {
        op: UnaryOp::Not,
        expr: Box::new(n()),
    };
    assert_eq!(eval_null(&not), Value::Null);
    assert_eq!(
        compile_err(&and(col("A"), t())),
        "Type mismatch: expected BOOLEAN, but A is INTEGER."
    );
}

#[test]
fn is_null_and_distinct() {
    let is_null = |negated| Expr::IsNull {
        expr: Box::new(col("A")),
        negated,
    };
    assert_eq!(eval_null(&is_null(false)), Value::Boolean(true));
    assert_eq!(eval(&is_null(true)), Value::Boolean(true));
    let distinct = |negated| Expr::IsDistinctFrom {
        left: Box::new(col("A")),
        right: Box::new(col("C")),
        negated,
    };
    assert_eq!(eval_null(&distinct(false)), Value::Boolean(false));
    assert_eq!(eval_null(&distinct(true)), Value::Boolean(true));
    assert_eq!(eval(&distinct(false)), Value::Boolean(true));
}

#[test]
fn between_and_in() {
    let between = |negated| Expr::Between {
        expr: Box::new(col("A")),
        low: Box::new(int(1)),
        high: Box::new(dec("10.5")),
        negated,
    };
    assert_eq!(eval(&between(false)), Value::Boolean(true));
    assert_eq!(eval(&between(true)), Value::Boolean(false));
    // ksqlDB: NULL BETWEEN is FALSE, so NOT BETWEEN is TRUE.
    assert_eq!(eval_null(&between(false)), Value::Boolean(false));
    assert_eq!(eval_null(&between(true)), Value::Boolean(true));

    let in_list = |negated| Expr::InList {
        expr: Box::new(col("A")),
        list: vec![
            int(1),
            null(),
            Expr::Literal(Literal::Integer(10)),
            dbl(3.5),
        ],
        negated,
    };
    assert_eq!(eval(&in_list(false)), Value::Boolean(true));
    assert_eq!(eval(&in_list(true)), Value::Boolean(false));
    assert_eq!(eval_null(&in_list(false)), Value::Boolean(false));
    let bad = Expr::InList {
        expr: Box::new(col("A")),
        list: vec![s("a")],
        negated: false,
    };
    assert_eq!(
        compile_err(&bad),
        "invalid input syntax for type INTEGER: \"a\"."
    );
    let bad = Expr::InList {
        expr: Box::new(col("A")),
        list: vec![col("B")],
        negated: false,
    };
    assert_eq!(
        compile_err(&bad),
        "operator does not exist: INTEGER = STRING (B)\nHint: You might need to add \
         explicit type casts."
    );
}

/// QTT in.json: items join one common type, string literals counting as what they spell.
#[test]
fn in_lists_coerce_to_a_common_type() {
    let in_list = |value: Expr, list: Vec<Expr>| Expr::InList {
        expr: Box::new(value),
        list,
        negated: false,
    };
    // '10.000' is a DECIMAL(5, 3) next to an INTEGER column; 10 matches it by value.
    assert_eq!(
        eval(&in_list(col("A"), vec![s("10.000")])),
        Value::Boolean(true)
    );
    // '2147483648' makes the list BIGINT rather than wrapping around.
    assert_eq!(
        eval(&in_list(col("A"), vec![int(1), s("2147483648")])),
        Value::Boolean(false)
    );
    // Booleans are spelled as prefixes of true/yes/false/no.
    assert_eq!(eval(&in_list(col("F"), vec![s("Y")])), Value::Boolean(true));
    assert_eq!(
        compile_err(&in_list(col("F"), vec![s("maybe")])),
        "invalid input syntax for type BOOLEAN: \"maybe\"."
    );
    // A number joins a STRING list as its text.
    assert_eq!(
        eval(&in_list(col("B"), vec![int(1), s("x")])),
        Value::Boolean(true)
    );
    // Constructors fold item by item: ARRAY['1', 2, 3] fits ARRAY<INTEGER>.
    assert_eq!(
        eval(&in_list(
            col("ARR"),
            vec![Expr::Array(vec![s("1"), int(2), int(3)])]
        )),
        Value::Boolean(true)
    );
    // STRUCT(X := 10) has no Y, so after widening its Y is NULL, which S's Y is not.
    let st = |fields: Vec<(&str, Expr)>| {
        Expr::Struct(
            fields
                .into_iter()
                .map(|(n, e)| (n.to_string(), e))
                .collect(),
        )
    };
    assert_eq!(
        eval(&in_list(col("S"), vec![st(vec![("X", int(10))])])),
        Value::Boolean(false)
    );
    assert_eq!(
        ty(&Expr::Array(vec![
            st(vec![("X", col("A"))]),
            st(vec![("Z", col("C")), ("X", col("C"))]),
        ])),
        SqlType::Array(Box::new(SqlType::Struct(vec![
            StructField {
                name: "Z".into(),
                ty: SqlType::BigInt,
            },
            StructField {
                name: "X".into(),
                ty: SqlType::BigInt,
            },
        ])))
    );
}

/// QTT magic-timestamp-conversion: ROWTIME compares with (partial) timestamp text.
#[test]
fn pseudo_time_columns_read_string_literals_as_timestamps() {
    struct WithRowtime;
    impl ColumnResolver for WithRowtime {
        fn resolve(&self, _: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
            (name == "ROWTIME").then_some((0, SqlType::BigInt))
        }
    }
    let ge = bin(BinaryOp::GtEq, col("ROWTIME"), s("2018"));
    let c = compile(&ge, &WithRowtime).expect("compiles");
    assert!(c
        .eval_predicate(&[Value::BigInt(1_514_764_800_000)])
        .expect("evaluates"));
    assert!(!c
        .eval_predicate(&[Value::BigInt(1_514_764_799_999)])
        .expect("evaluates"));
    let between = Expr::Between {
        expr: Box::new(col("ROWTIME")),
        low: Box::new(s("2018-01-01T00:00:00.001")),
        high: Box::new(s("2018-01-01T00:00:01")),
        negated: false,
    };
    let c = compile(&between, &WithRowtime).expect("compiles");
    assert!(c
        .eval_predicate(&[Value::BigInt(1_514_764_801_000)])
        .expect("evaluates"));
    let bad = bin(BinaryOp::Gt, s("soon"), col("ROWTIME"));
    assert!(compile(&bad, &WithRowtime).is_err());
}

#[test]
fn like_with_escape() {
    let like = |pattern: &str, escape, negated| Expr::Like {
        expr: Box::new(col("B")),
        pattern: Box::new(s(pattern)),
        escape,
        negated,
    };
    assert_eq!(eval(&like("x%", None, false)), Value::Boolean(true));
    assert_eq!(eval(&like("_", None, false)), Value::Boolean(true));
    assert_eq!(eval(&like("y%", None, true)), Value::Boolean(true));
    assert_eq!(eval(&like("x!%", Some('!'), false)), Value::Boolean(false));
    assert_eq!(eval_null(&like("%", None, false)), Value::Null);
    assert_eq!(
        compile_err(&like("x!", Some('!'), false)),
        "LIKE pattern must not end with escape character"
    );
    let dynamic = Expr::Like {
        expr: Box::new(s("abc")),
        pattern: Box::new(bin(BinaryOp::Add, col("B"), s("%"))),
        escape: None,
        negated: false,
    };
    assert_eq!(eval(&dynamic), Value::Boolean(false));
}
