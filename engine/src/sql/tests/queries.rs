//! Parser cases: queries.

use super::*;

#[test]
fn query_with_every_clause() {
    let q = query(
        "SELECT *, t.*, a + 1 AS b, c d FROM s AS t WINDOW TUMBLING (SIZE 1 HOUR, \
         RETENTION 2 DAYS, GRACE PERIOD 10 MINUTES) WHERE a > 1 GROUP BY (a, c) \
         PARTITION BY a HAVING COUNT(*) > 2 EMIT FINAL LIMIT 5;",
    );
    assert_eq!(q.select[0], SelectItem::Wildcard);
    assert_eq!(q.select[1], SelectItem::QualifiedWildcard("T".into()));
    assert_eq!(
        q.select[2],
        SelectItem::Expr {
            expr: bin(BinaryOp::Add, col("A"), int(1)),
            alias: Some("B".into())
        }
    );
    assert_eq!(
        q.select[3],
        SelectItem::Expr {
            expr: col("C"),
            alias: Some("D".into())
        }
    );
    assert_eq!(q.from, source("S", Some("T")));
    assert_eq!(
        q.window,
        Some(WindowExpr::Tumbling {
            size_ms: 3_600_000,
            retention_ms: Some(2 * 86_400_000),
            grace_ms: Some(600_000)
        })
    );
    assert_eq!(q.where_clause, Some(bin(BinaryOp::Gt, col("A"), int(1))));
    assert_eq!(q.group_by, vec![col("A"), col("C")]);
    assert_eq!(q.partition_by, vec![col("A")]);
    assert!(q.having.is_some());
    assert_eq!(q.emit, Some(Emit::Final));
    assert_eq!(q.limit, Some(5));
}

#[test]
fn hopping_and_session_windows() {
    let q = query("SELECT * FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECOND);");
    assert_eq!(
        q.window,
        Some(WindowExpr::Hopping {
            size_ms: 30_000,
            advance_ms: 10_000,
            retention_ms: None,
            grace_ms: None
        })
    );
    let q = query("SELECT * FROM s WINDOW SESSION (5 MINUTES, GRACE PERIOD 1 MILLISECOND);");
    assert_eq!(
        q.window,
        Some(WindowExpr::Session {
            gap_ms: 300_000,
            retention_ms: None,
            grace_ms: Some(1)
        })
    );
}

#[test]
fn joins_are_left_deep_with_windows() {
    let q = query(
        "SELECT * FROM a JOIN b WITHIN 1 HOUR ON a.id = b.id \
         LEFT OUTER JOIN c cc WITHIN (1 SECOND, 2 SECONDS) GRACE PERIOD 3 SECONDS ON a.id = cc.id \
         FULL JOIN d ON a.id = d.id EMIT CHANGES;",
    );
    let Relation::Join {
        left,
        right,
        join_type,
        within,
        ..
    } = q.from
    else {
        panic!()
    };
    assert_eq!(join_type, JoinType::Full);
    assert_eq!(*right, source("D", None));
    assert_eq!(within, None);
    let Relation::Join {
        left: inner,
        right,
        join_type,
        within,
        ..
    } = *left
    else {
        panic!()
    };
    assert_eq!(join_type, JoinType::Left);
    assert_eq!(*right, source("C", Some("CC")));
    assert_eq!(
        within,
        Some(WithinClause {
            before_ms: 1000,
            after_ms: 2000,
            grace_ms: Some(3000)
        })
    );
    let Relation::Join {
        join_type,
        within,
        on,
        ..
    } = *inner
    else {
        panic!()
    };
    assert_eq!(join_type, JoinType::Inner);
    assert_eq!(
        within,
        Some(WithinClause {
            before_ms: 3_600_000,
            after_ms: 3_600_000,
            grace_ms: None
        })
    );
    assert_eq!(on, bin(BinaryOp::Eq, qcol("A", "ID"), qcol("B", "ID")));
}

#[test]
fn non_reserved_words_work_as_identifiers_but_not_as_aliases_before_clauses() {
    let q = query("SELECT key, timestamp, value, map, `SIZE` FROM s EMIT CHANGES;");
    assert_eq!(q.from, source("S", None));
    assert_eq!(q.emit, Some(Emit::Changes));
    let names: Vec<_> = q
        .select
        .iter()
        .map(|s| match s {
            SelectItem::Expr {
                expr: Expr::Column { name, .. },
                ..
            } => name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["KEY", "TIMESTAMP", "VALUE", "MAP", "SIZE"]);
    let q = query("SELECT * FROM s PARTITION BY a;");
    assert_eq!(q.from, source("S", None));
    assert_eq!(q.partition_by, vec![col("A")]);
    // SIZE is reserved in ksqlDB's grammar, so unquoted it is an error.
    assert!(parse("SELECT size FROM s;").is_err());
}

#[test]
fn identifier_case_rules() {
    assert_eq!(expr("abc"), col("ABC"));
    assert_eq!(expr("`abc`"), col("abc"));
    assert_eq!(expr("\"MiXed\""), col("MiXed"));
    assert_eq!(expr("t.`x`"), qcol("T", "x"));
    assert_eq!(expr("1abc"), col("1ABC"));
    assert_eq!(
        parse_type("STRUCT<a INT>").expect("valid").to_string(),
        "STRUCT<`A` INTEGER>"
    );
}
