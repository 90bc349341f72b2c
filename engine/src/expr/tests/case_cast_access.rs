//! Expression cases: CASE, CAST, subscripts, dereference, constructors.

use super::*;

#[test]
fn searched_and_simple_case() {
    let searched = Expr::Case {
        operand: None,
        whens: vec![
            (bin(BinaryOp::Gt, col("A"), int(100)), int(1)),
            (bin(BinaryOp::Gt, col("A"), int(5)), col("C")),
        ],
        else_result: Some(Box::new(null())),
    };
    assert_eq!(ty(&searched), SqlType::BigInt);
    assert_eq!(eval(&searched), Value::BigInt(1 << 40));
    assert_eq!(eval_null(&searched), Value::Null);

    let simple = Expr::Case {
        operand: Some(Box::new(col("B"))),
        whens: vec![(s("y"), s("is y")), (s("x"), s("is x"))],
        else_result: Some(Box::new(s("other"))),
    };
    assert_eq!(eval(&simple), Value::String("is x".into()));
    assert_eq!(eval_null(&simple), Value::String("other".into()));

    let mismatch = Expr::Case {
        operand: None,
        whens: vec![(col("F"), int(1)), (col("F"), s("a"))],
        else_result: None,
    };
    assert_eq!(
        compile_err(&mismatch),
        "Invalid Case expression. Type for all 'THEN' clauses should be the same.\nTHEN \
         expression 'WHEN F THEN 'a'' has type: STRING.\nPrevious THEN expression(s) type: \
         INTEGER."
    );
    let not_bool = Expr::Case {
        operand: None,
        whens: vec![(col("A"), int(1))],
        else_result: None,
    };
    assert_eq!(
        compile_err(&not_bool),
        "WHEN operand type should be boolean.\nType for 'A' is INTEGER"
    );
}

#[test]
fn cast_table() {
    let cases: Vec<(Expr, SqlType, Value)> = vec![
        (s(" 42 "), SqlType::Integer, Value::Integer(42)),
        (s("-7"), SqlType::BigInt, Value::BigInt(-7)),
        (dbl(-3.99), SqlType::Integer, Value::Integer(-3)),
        (dbl(1e20), SqlType::Integer, Value::Integer(i32::MAX)),
        (int(1 << 40), SqlType::Integer, Value::Integer(0)),
        (dec("12.345"), decimal_ty(4, 2), d(1235, 2)),
        (dec("-12.345"), decimal_ty(4, 2), d(-1235, 2)),
        (dec("12.99"), SqlType::Integer, Value::Integer(12)),
        (s("1.005"), decimal_ty(4, 2), d(101, 2)),
        (dbl(2.5), decimal_ty(3, 1), d(25, 1)),
        (int(7), decimal_ty(3, 1), d(70, 1)),
        (dec("1.50"), SqlType::Double, Value::Double(1.5)),
        (dbl(1.0), SqlType::String, Value::String("1.0".into())),
        (dbl(1e10), SqlType::String, Value::String("1.0E10".into())),
        (dec("1.50"), SqlType::String, Value::String("1.50".into())),
        (s("tRu"), SqlType::Boolean, Value::Boolean(true)),
        (s("yes"), SqlType::Boolean, Value::Boolean(true)),
        (s("nope"), SqlType::Boolean, Value::Boolean(false)),
        (
            Expr::Literal(Literal::Boolean(true)),
            SqlType::String,
            Value::String("true".into()),
        ),
        (
            s("2021-03-04T05:06:07.123"),
            SqlType::Timestamp,
            Value::Timestamp(1_614_834_367_123),
        ),
        (
            col("T"),
            SqlType::String,
            Value::String("2021-03-04T05:06:07.123".into()),
        ),
        (col("T"), SqlType::Date, Value::Date(18_690)),
        (col("T"), SqlType::Time, Value::Time(18_367_123)),
        (
            col("DT"),
            SqlType::Timestamp,
            Value::Timestamp(1_614_816_000_000),
        ),
        (
            col("DT"),
            SqlType::String,
            Value::String("2021-03-04".into()),
        ),
        (s("AQID"), SqlType::Bytes, Value::Bytes(vec![1, 2, 3])),
        (
            col("ARR"),
            SqlType::String,
            Value::String("[1, 2, 3]".into()),
        ),
        (
            col("ARR"),
            SqlType::Array(Box::new(SqlType::String)),
            Value::Array(vec![
                Value::String("1".into()),
                Value::String("2".into()),
                Value::String("3".into()),
            ]),
        ),
        (
            col("S"),
            SqlType::Struct(vec![
                StructField {
                    name: "X".into(),
                    ty: SqlType::BigInt,
                },
                StructField {
                    name: "Z".into(),
                    ty: SqlType::String,
                },
            ]),
            Value::Struct(vec![
                ("X".into(), Value::BigInt(5)),
                ("Z".into(), Value::Null),
            ]),
        ),
        (null(), SqlType::Integer, Value::Null),
    ];
    for (e, to, want) in cases {
        let c = cast(e.clone(), to.clone());
        assert_eq!(eval(&c), want, "CAST({e:?} AS {to})");
        assert_eq!(ty(&c), to);
    }
}

#[test]
fn failed_casts() {
    for (e, to) in [
        (s("abc"), SqlType::Integer),
        (s("1.5"), SqlType::Integer),
        (s("NaN"), SqlType::Double),
        (dec("123.4"), decimal_ty(3, 1)),
        (s("not a date"), SqlType::Date),
    ] {
        let c = compiled(&cast(e.clone(), to.clone()));
        assert!(c.eval(&row()).is_err(), "CAST({e:?} AS {to}) should fail");
    }
    assert_eq!(
        compile_err(&cast(col("T"), SqlType::BigInt)),
        "Cast of TIMESTAMP to BIGINT is not supported"
    );
    assert_eq!(
        compile_err(&cast(col("BY"), SqlType::String)),
        "Cast of BYTES to STRING is not supported"
    );
}

#[test]
fn subscripts() {
    let at = |i: i64| Expr::Subscript {
        base: Box::new(col("ARR")),
        index: Box::new(int(i)),
    };
    assert_eq!(eval(&at(1)), Value::Integer(1));
    assert_eq!(eval(&at(-1)), Value::Integer(3));
    assert_eq!(eval(&at(0)), Value::Null);
    assert_eq!(eval(&at(4)), Value::Null);
    assert_eq!(eval(&at(-4)), Value::Null);
    assert_eq!(eval_null(&at(1)), Value::Null);
    let key = |k: &str| Expr::Subscript {
        base: Box::new(col("M")),
        index: Box::new(s(k)),
    };
    assert_eq!(eval(&key("k")), Value::Integer(7));
    assert_eq!(eval(&key("nope")), Value::Null);
    let on_struct = Expr::Subscript {
        base: Box::new(col("S")),
        index: Box::new(s("X")),
    };
    assert_eq!(
        compile_err(&on_struct),
        "Subscript expression (S['X']) do not apply to STRUCT<`X` INTEGER, `Y` STRING>. Use the \
         dereference operator for STRUCTS: S->'X'"
    );
}

#[test]
fn dereference() {
    let field = |f: &str| Expr::Dereference {
        base: Box::new(col("S")),
        field: f.into(),
    };
    assert_eq!(eval(&field("Y")), Value::String("why".into()));
    assert_eq!(ty(&field("X")), SqlType::Integer);
    assert_eq!(eval_null(&field("X")), Value::Null);
    assert_eq!(compile_err(&field("Q")), "Could not find field 'Q' in 'S'.");
}

#[test]
fn constructors() {
    let arr = Expr::Array(vec![int(1), col("C"), null()]);
    assert_eq!(ty(&arr), SqlType::Array(Box::new(SqlType::BigInt)));
    assert_eq!(
        eval(&arr),
        Value::Array(vec![Value::BigInt(1), Value::BigInt(1 << 40), Value::Null])
    );
    let map = Expr::Map(vec![(s("a"), int(1)), (s("b"), dec("2.5"))]);
    assert_eq!(
        ty(&map),
        SqlType::Map(Box::new(SqlType::String), Box::new(decimal_ty(11, 1)))
    );
    assert_eq!(
        compile_err(&Expr::Array(vec![])),
        "Array constructor cannot be empty. Please supply at least one element (see \
         https://github.com/confluentinc/ksql/issues/4239)."
    );
    assert!(compile_err(&Expr::Array(vec![null()])).starts_with("Cannot construct an array"));
    // A failing call inside a constructor is NULL there; the rest is kept (QTT array,
    // "Output array with an error").
    let arr = Expr::Array(vec![
        int(44),
        call("STRINGTODATE", vec![s("foo"), s("yyyyMMdd")]),
    ]);
    assert_eq!(ty(&arr), SqlType::Array(Box::new(SqlType::Integer)));
    assert_eq!(
        eval(&arr),
        Value::Array(vec![Value::Integer(44), Value::Null])
    );
    // Compatible mismatching items: ARRAY[NULL, 10, '2e1', A, C] is ARRAY<DECIMAL(19, 0)>.
    let arr = Expr::Array(vec![null(), int(10), s("2e1"), col("A"), col("C")]);
    assert_eq!(ty(&arr), SqlType::Array(Box::new(decimal_ty(19, 0))));
    assert_eq!(
        eval(&arr),
        Value::Array(vec![
            Value::Null,
            d(10, 0),
            d(20, 0),
            d(10, 0),
            d(1 << 40, 0)
        ])
    );
    // MAP(B := F, 'k' := 'no', 10 := 'true') is MAP<STRING, BOOLEAN>.
    let map = Expr::Map(vec![
        (col("B"), col("F")),
        (s("k"), s("no")),
        (int(10), s("true")),
    ]);
    assert_eq!(
        ty(&map),
        SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Boolean))
    );
    let st = Expr::Struct(vec![("P".into(), col("A"))]);
    assert_eq!(
        eval(&st),
        Value::Struct(vec![("P".into(), Value::Integer(10))])
    );
}
