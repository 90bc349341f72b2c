//! Expression cases: lambdas.

use super::*;

#[test]
fn transform_filter_reduce_arrays() {
    // QTT transform-array: TRANSFORM(numbers, x => x + 5).
    let t = call(
        "TRANSFORM",
        vec![
            col("ARR"),
            lambda(&["X"], bin(BinaryOp::Add, col("X"), int(5))),
        ],
    );
    assert_eq!(ty(&t), SqlType::Array(Box::new(SqlType::Integer)));
    assert_eq!(eval(&t), ints(&[6, 7, 8]));
    assert_eq!(eval_null(&t), Value::Null);
    // Parameters shadow columns; outer columns stay visible.
    let shadow = call(
        "TRANSFORM",
        vec![
            col("ARR"),
            lambda(&["A"], bin(BinaryOp::Mul, col("A"), col("C"))),
        ],
    );
    assert_eq!(ty(&shadow), SqlType::Array(Box::new(SqlType::BigInt)));
    let f = call(
        "FILTER",
        vec![
            col("ARR"),
            lambda(&["X"], bin(BinaryOp::Gt, col("X"), int(1))),
        ],
    );
    assert_eq!(eval(&f), ints(&[2, 3]));
    // QTT reduce-array: REDUCE(numbers, 0, (s, x) => s + x); NULL array gives the state.
    let r = call(
        "REDUCE",
        vec![
            col("ARR"),
            int(0),
            lambda(&["S", "X"], bin(BinaryOp::Add, col("S"), col("X"))),
        ],
    );
    assert_eq!(eval(&r), Value::Integer(6));
    assert_eq!(eval_null(&r), Value::Integer(0));
    // A NULL initial state is NULL.
    let r_null = call(
        "REDUCE",
        vec![
            col("ARR"),
            cast(null(), SqlType::BigInt),
            lambda(&["S", "X"], bin(BinaryOp::Add, col("S"), col("X"))),
        ],
    );
    assert_eq!(eval(&r_null), Value::Null);
}

#[test]
fn lambda_arithmetic_on_null_fails_the_call() {
    // QTT transform-array: [5, null] → NULL, as the Java lambda throws on unboxing.
    let t = call(
        "TRANSFORM",
        vec![
            Expr::Array(vec![int(5), null()]),
            lambda(&["X"], bin(BinaryOp::Add, col("X"), int(5))),
        ],
    );
    // The call fails, so it is NULL (ksqlDB's try/catch around every UDF call).
    assert_eq!(eval(&t), Value::Null);
    // A comparison on NULL is just FALSE: QTT filter gives [] for [5, null].
    let f = call(
        "FILTER",
        vec![
            Expr::Array(vec![int(5), null()]),
            lambda(&["X"], bin(BinaryOp::Gt, col("X"), int(5))),
        ],
    );
    assert_eq!(eval(&f), Value::Array(vec![]));
}

#[test]
fn map_lambdas_and_nesting() {
    let k = || Value::String("k".into());
    // TRANSFORM(M, (k, v) => CONCAT(k, 'x'), (k, v) => v * A)
    let t = call(
        "TRANSFORM",
        vec![
            col("M"),
            lambda(&["K", "V"], call("CONCAT", vec![col("K"), s("x")])),
            lambda(&["K", "V"], bin(BinaryOp::Mul, col("V"), col("A"))),
        ],
    );
    assert_eq!(
        eval(&t),
        Value::Map(vec![(Value::String("kx".into()), Value::Integer(70))])
    );
    let f = call(
        "FILTER",
        vec![
            col("M"),
            lambda(&["K", "V"], bin(BinaryOp::Eq, col("V"), int(7))),
        ],
    );
    assert_eq!(eval(&f), Value::Map(vec![(k(), Value::Integer(7))]));
    // QTT reduce-map: REDUCE(map, 0, (s, k, v) => s + v).
    let r = call(
        "REDUCE",
        vec![
            col("M"),
            int(1),
            lambda(&["S", "K", "V"], bin(BinaryOp::Add, col("S"), col("V"))),
        ],
    );
    assert_eq!(eval(&r), Value::Integer(8));
    // Nested: TRANSFORM(ARR, x => REDUCE(ARR, x, (s, y) => s + y)) reads the outer X.
    let nested = call(
        "TRANSFORM",
        vec![
            col("ARR"),
            lambda(
                &["X"],
                call(
                    "REDUCE",
                    vec![
                        col("ARR"),
                        col("X"),
                        lambda(&["S", "Y"], bin(BinaryOp::Add, col("S"), col("Y"))),
                    ],
                ),
            ),
        ],
    );
    assert_eq!(eval(&nested), ints(&[7, 8, 9]));
}

#[test]
fn lambda_errors() {
    let wrong_arity = call("TRANSFORM", vec![col("ARR"), lambda(&["X", "Y"], col("X"))]);
    assert!(compile_err(&wrong_arity).contains("Was expecting 1 arguments"));
    let not_bool = call("FILTER", vec![col("ARR"), lambda(&["X"], col("X"))]);
    assert!(compile_err(&not_bool).contains("must return BOOLEAN"));
    let not_collection = call("TRANSFORM", vec![col("A"), lambda(&["X"], col("X"))]);
    assert!(compile_err(&not_collection).contains("does not accept parameters"));
    // A parameter is out of scope after its lambda.
    let leaked = call(
        "CONCAT",
        vec![
            call(
                "ARRAY_JOIN",
                vec![call(
                    "TRANSFORM",
                    vec![col("ARR"), lambda(&["Q"], col("Q"))],
                )],
            ),
            col("Q"),
        ],
    );
    assert!(compile_err(&leaked).contains("'Q'"));
}
