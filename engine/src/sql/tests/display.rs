//! Parser cases: display round trip.

use super::*;

#[test]
fn display_matches_ksqldb_formatting() {
    let cases = [
        ("a + 1", "(A + 1)"),
        ("a->b", "A->B"),
        ("cast(x as int)", "CAST(X AS INTEGER)"),
        ("count(*)", "COUNT(*)"),
        ("`lower` = 'it''s'", "(`lower` = 'it''s')"),
        ("a NOT IN (1, 2)", "(A NOT IN (1, 2))"),
        ("1.5E3", "1.5E3"),
        ("- -5", "-(-5)"),
        ("TRANSFORM(xs, (k, v) => k)", "TRANSFORM(XS, (K, V) => K)"),
        ("MAP('a' := 1)", "MAP('a':=1)"),
    ];
    for (input, printed) in cases {
        assert_eq!(expr(input).to_string(), printed, "{input}");
    }
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;

    fn ident() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z][A-Z0-9_]{0,5}",
            "[a-z][a-z ]{0,4}",
            Just("KEY".to_string()),
            Just("SIZE".to_string()),
            Just("MAP".to_string()),
        ]
    }

    fn literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            Just(Literal::Null),
            any::<bool>().prop_map(Literal::Boolean),
            any::<i64>().prop_map(Literal::Integer),
            (0u32..1000, 0u32..100).prop_map(|(a, b)| Literal::Decimal(format!("{a}.{b}"))),
            (-1e10f64..1e10).prop_map(Literal::Double),
            "[a-z' ;]{0,6}".prop_map(Literal::String),
        ]
    }

    fn sql_type() -> impl Strategy<Value = SqlType> {
        let leaf = prop_oneof![
            Just(SqlType::Integer),
            Just(SqlType::BigInt),
            Just(SqlType::String),
            Just(SqlType::Decimal {
                precision: 4,
                scale: 2
            }),
        ];
        leaf.prop_recursive(3, 8, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| SqlType::Array(Box::new(t))),
                (inner.clone(), ident())
                    .prop_map(|(t, name)| SqlType::Struct(vec![StructField { name, ty: t }])),
            ]
        })
    }

    fn expression() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            literal().prop_map(Expr::Literal),
            (proptest::option::of(ident()), ident())
                .prop_map(|(qualifier, name)| Expr::Column { qualifier, name }),
        ];
        leaf.prop_recursive(5, 48, 3, |inner| {
            let binary_op = prop_oneof![
                Just(BinaryOp::Add),
                Just(BinaryOp::Sub),
                Just(BinaryOp::Mul),
                Just(BinaryOp::Concat),
                Just(BinaryOp::Eq),
                Just(BinaryOp::LtEq),
                Just(BinaryOp::And),
                Just(BinaryOp::Or),
            ];
            let unary_op = prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Plus), Just(UnaryOp::Not)];
            let b = |e: Expr| Box::new(e);
            prop_oneof![
                (binary_op, inner.clone(), inner.clone()).prop_map(|(op, l, r)| bin(op, l, r)),
                (unary_op, inner.clone()).prop_map(move |(op, e)| Expr::Unary { op, expr: b(e) }),
                (inner.clone(), any::<bool>()).prop_map(move |(e, negated)| Expr::IsNull {
                    expr: b(e),
                    negated
                }),
                (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                    move |(e, l, h, negated)| Expr::Between {
                        expr: b(e),
                        low: b(l),
                        high: b(h),
                        negated
                    }
                ),
                (
                    inner.clone(),
                    prop::collection::vec(inner.clone(), 1..3),
                    any::<bool>()
                )
                    .prop_map(move |(e, list, negated)| Expr::InList {
                        expr: b(e),
                        list,
                        negated
                    }),
                (inner.clone(), inner.clone(), proptest::option::of("[a-z!]")).prop_map(
                    move |(e, p, esc)| Expr::Like {
                        expr: b(e),
                        pattern: b(p),
                        escape: esc.and_then(|s| s.chars().next()),
                        negated: false
                    }
                ),
                (
                    proptest::option::of(inner.clone()),
                    prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                    proptest::option::of(inner.clone())
                )
                    .prop_map(move |(operand, whens, else_result)| Expr::Case {
                        operand: operand.map(b),
                        whens,
                        else_result: else_result.map(b)
                    }),
                (inner.clone(), sql_type()).prop_map(move |(e, ty)| Expr::Cast { expr: b(e), ty }),
                (ident(), prop::collection::vec(inner.clone(), 0..3))
                    .prop_map(|(name, args)| Expr::Function { name, args }),
                (ident(), inner.clone(), inner.clone(), ident()).prop_map(
                    move |(f, first, body, p)| Expr::Function {
                        name: f,
                        args: vec![
                            first,
                            Expr::Lambda {
                                params: vec![p],
                                body: b(body)
                            }
                        ]
                    }
                ),
                ident().prop_map(|name| Expr::Function {
                    name,
                    args: vec![Expr::Star]
                }),
                (inner.clone(), inner.clone()).prop_map(move |(base, index)| Expr::Subscript {
                    base: b(base),
                    index: b(index)
                }),
                (inner.clone(), ident()).prop_map(move |(base, field)| Expr::Dereference {
                    base: b(base),
                    field
                }),
                prop::collection::vec(inner.clone(), 0..3).prop_map(Expr::Array),
                prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Expr::Map),
                prop::collection::vec((ident(), inner.clone()), 0..3).prop_map(Expr::Struct),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_print_parse_is_identity(e in expression()) {
            let printed = e.to_string();
            let reparsed = parse_expression(&printed)
                .unwrap_or_else(|err| panic!("{printed}: {err}"));
            prop_assert_eq!(reparsed, e, "{}", printed);
        }
    }
}

#[test]
fn struct_all_is_a_select_item() {
    let q = query("SELECT k1, I.`V1`->A->*, v1->* FROM INPUT I;");
    assert_eq!(
        q.select[1],
        SelectItem::StructAll(Expr::Dereference {
            base: Box::new(qcol("I", "V1")),
            field: "A".into(),
        })
    );
    assert_eq!(q.select[2], SelectItem::StructAll(col("V1")));
    // `->*` is not an expression: it is refused outside the select list.
    let e = err("SELECT * FROM INPUT WHERE v1->* = 1;");
    assert!(e.contains("->"), "{e}");
}
