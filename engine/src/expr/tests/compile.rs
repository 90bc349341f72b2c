//! Expression cases: hot path and names.

use super::*;

#[test]
fn predicate_over_columns_and_literals() {
    let pred = bin(
        BinaryOp::And,
        bin(BinaryOp::Gt, col("A"), int(5)),
        bin(BinaryOp::Eq, col("B"), s("x")),
    );
    let c = compiled(&pred);
    assert!(c.eval_predicate(&row()).expect("evaluates"));
    assert!(!c.eval_predicate(&null_row()).expect("evaluates"));
    // Constant subtrees are folded at compile time.
    let folded = compiled(&cast(s("5"), SqlType::Integer));
    assert!(folded.is_constant());
}

#[test]
fn nesting_is_bounded() {
    let mut e = int(1);
    for _ in 0..EXPR_DEPTH_MAX + 1 {
        e = bin(BinaryOp::Add, e, int(1));
    }
    assert!(compile_err(&e).contains("nested more than"));
}

#[test]
fn default_names() {
    let deref = Expr::Dereference {
        base: Box::new(col("S")),
        field: "X".into(),
    };
    assert_eq!(default_column_name(&col("A"), 0), "A");
    assert_eq!(default_column_name(&deref, 3), "X");
    assert_eq!(default_column_name(&int(1), 2), "KSQL_COL_2");

    let mut gen = ColumnAliasGenerator::new(["A", "X", "KSQL_COL_0"]);
    assert_eq!(gen.alias_for(&col("A")), "A");
    assert_eq!(gen.alias_for(&int(1)), "KSQL_COL_1");
    assert_eq!(gen.alias_for(&deref), "X_1");
    assert_eq!(gen.alias_for(&deref), "X_2");
    assert_eq!(gen.alias_for(&call("LEN", vec![col("B")])), "KSQL_COL_2");
    let other = Expr::Dereference {
        base: Box::new(col("S")),
        field: "Y".into(),
    };
    assert_eq!(gen.alias_for(&other), "Y");
}
