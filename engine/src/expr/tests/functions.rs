//! Expression cases: functions.

use super::*;

#[test]
fn string_functions() {
    assert_eq!(
        eval(&call("UCASE", vec![col("B")])),
        Value::String("X".into())
    );
    assert_eq!(
        eval(&call("LCASE", vec![s("AbC")])),
        Value::String("abc".into())
    );
    assert_eq!(eval(&call("LEN", vec![s("héllo")])), Value::Integer(5));
    assert_eq!(eval(&call("LEN", vec![s("😀")])), Value::Integer(2));
    assert_eq!(
        eval(&call("TRIM", vec![s("  a b \t")])),
        Value::String("a b".into())
    );
    assert_eq!(
        eval(&call("CONCAT", vec![col("B"), null(), s("z")])),
        Value::String("xz".into())
    );
    let sub = |args| eval(&call("SUBSTRING", args));
    assert_eq!(sub(vec![s("hello"), int(2)]), Value::String("ello".into()));
    assert_eq!(
        sub(vec![s("hello"), int(2), int(3)]),
        Value::String("ell".into())
    );
    assert_eq!(sub(vec![s("hello"), int(-3)]), Value::String("llo".into()));
    assert_eq!(sub(vec![s("hello"), int(10)]), Value::String(String::new()));
    assert_eq!(eval_null(&call("UCASE", vec![col("B")])), Value::Null);
}

#[test]
fn math_functions() {
    assert_eq!(eval(&call("ABS", vec![int(-3)])), Value::Integer(3));
    assert_eq!(eval(&call("ABS", vec![dec("-1.50")])), d(150, 2));
    assert_eq!(ty(&call("ROUND", vec![col("D")])), SqlType::BigInt);
    assert_eq!(eval(&call("ROUND", vec![col("D")])), Value::BigInt(3));
    assert_eq!(eval(&call("ROUND", vec![dbl(-2.5)])), Value::BigInt(-2));
    assert_eq!(
        eval(&call("ROUND", vec![dbl(1.005), int(2)])),
        Value::Double(1.01)
    );
    assert_eq!(ty(&call("ROUND", vec![col("E")])), decimal_ty(2, 0));
    assert_eq!(eval(&call("ROUND", vec![dec("10.50")])), d(11, 0));
    assert_eq!(eval(&call("ROUND", vec![dec("-10.50")])), d(-10, 0));
    assert_eq!(
        eval(&call("ROUND", vec![dec("12.345"), int(1)])),
        d(12300, 3)
    );
    assert_eq!(eval(&call("FLOOR", vec![dec("-1.50")])), d(-200, 2));
    assert_eq!(eval(&call("CEIL", vec![dec("1.01")])), d(200, 2));
    assert_eq!(eval(&call("CEIL", vec![col("D")])), Value::Double(3.0));
    assert_eq!(eval(&call("FLOOR", vec![col("A")])), Value::Integer(10));
}

/// QTT greatest/least: a STRING joins DATE arguments; DECIMALs keep their own scale.
#[test]
fn greatest_and_least_widen() {
    let g = call("GREATEST", vec![col("DT"), null(), s("2022-06-14")]);
    assert_eq!(ty(&g), SqlType::Date);
    assert_eq!(eval(&g), Value::Date(19_157));
    let l = call(
        "LEAST",
        vec![col("E"), cast(dec("0.123456"), decimal_ty(7, 6))],
    );
    assert_eq!(ty(&l), decimal_ty(8, 6));
    assert_eq!(eval(&l), d(123_456, 6));
    let g = call(
        "GREATEST",
        vec![col("E"), cast(dec("0.123456"), decimal_ty(7, 6))],
    );
    assert_eq!(eval(&g), d(1001, 2));
}

#[test]
fn null_functions() {
    assert_eq!(
        eval_null(&call("COALESCE", vec![col("A"), col("C"), int(3)])),
        Value::BigInt(3)
    );
    assert_eq!(
        ty(&call("COALESCE", vec![col("A"), col("C")])),
        SqlType::BigInt
    );
    assert_eq!(
        eval(&call("IFNULL", vec![col("B"), s("d")])),
        Value::String("x".into())
    );
    assert_eq!(
        eval_null(&call("IFNULL", vec![col("B"), s("d")])),
        Value::String("d".into())
    );
}

#[test]
fn function_errors() {
    assert_eq!(
        compile_err(&call("NOPE", vec![])),
        "Can't find any functions with the name 'NOPE'"
    );
    assert_eq!(
        compile_err(&call("UCASE", vec![col("A")])),
        "Function 'UCASE' does not accept parameters (INTEGER)."
    );
    let lambda = Expr::Lambda {
        params: vec!["X".into()],
        body: Box::new(col("A")),
    };
    assert!(matches!(
        compile(&lambda, &Resolver),
        Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement
    ));
}
