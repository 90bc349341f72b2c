//! Parser tests: each statement form, precedence, error shapes, splitting, limits, and a
//! parse → print → parse round trip.

use super::ast::*;
use super::*;
use crate::error::SyntaxCause;
use crate::types::{SqlType, StructField};

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

// ---- statements -------------------------------------------------------------------------

#[test]
fn create_stream_with_columns_constraints_and_properties() {
    let stmt = one(
        "create or replace stream IF NOT EXISTS riderLocations (profileId VARCHAR KEY, \
         `lat` DOUBLE, h BYTES HEADER('k'), hs ARRAY<STRUCT<key STRING, value BYTES>> HEADERS) \
         WITH (kafka_topic='locations', 'value_format'='json', partitions=1, x=-1.5, y=true);",
    );
    let Statement::CreateSource(c) = stmt else {
        panic!("{stmt:?}")
    };
    assert_eq!(c.kind, SourceKind::Stream);
    assert!(c.or_replace && c.if_not_exists && !c.is_source);
    assert_eq!(c.name, "RIDERLOCATIONS");
    assert_eq!(
        c.elements[0],
        TableElement {
            name: "PROFILEID".into(),
            ty: SqlType::String,
            constraint: ColumnConstraint::Key
        }
    );
    assert_eq!(c.elements[1].name, "lat");
    assert_eq!(
        c.elements[2].constraint,
        ColumnConstraint::Header("k".into())
    );
    assert_eq!(c.elements[3].constraint, ColumnConstraint::Headers);
    assert_eq!(
        c.properties,
        vec![
            ("KAFKA_TOPIC".into(), Literal::String("locations".into())),
            ("VALUE_FORMAT".into(), Literal::String("json".into())),
            ("PARTITIONS".into(), Literal::Integer(1)),
            ("X".into(), Literal::Decimal("-1.5".into())),
            ("Y".into(), Literal::Boolean(true)),
        ]
    );
}

#[test]
fn create_source_table_with_primary_key() {
    let Statement::CreateSource(c) =
        one("CREATE SOURCE TABLE t (id INT PRIMARY KEY, v DECIMAL(4, 2)) WITH (kafka_topic='t')")
    else {
        panic!()
    };
    assert!(c.is_source);
    assert_eq!(c.kind, SourceKind::Table);
    assert_eq!(c.elements[0].constraint, ColumnConstraint::PrimaryKey);
    assert_eq!(
        c.elements[1].ty,
        SqlType::Decimal {
            precision: 4,
            scale: 2
        }
    );
}

#[test]
fn create_as_select() {
    let Statement::CreateAsSelect(c) = one(
        "CREATE TABLE counts WITH (kafka_topic='c') AS SELECT k, COUNT(*) AS n FROM s \
         GROUP BY k EMIT CHANGES;",
    ) else {
        panic!()
    };
    assert_eq!(c.kind, SourceKind::Table);
    assert_eq!(c.name, "COUNTS");
    assert_eq!(c.properties.len(), 1);
    assert_eq!(
        c.query.select[1],
        SelectItem::Expr {
            expr: Expr::Function {
                name: "COUNT".into(),
                args: vec![Expr::Star]
            },
            alias: Some("N".into())
        }
    );
    assert_eq!(c.query.group_by, vec![col("K")]);
    assert_eq!(c.query.emit, Some(Emit::Changes));
}

#[test]
fn insert_values_and_insert_select() {
    assert_eq!(
        one("INSERT INTO s (a, `b`) VALUES (1, 'x');"),
        Statement::InsertValues {
            target: "S".into(),
            columns: Some(vec!["A".into(), "b".into()]),
            values: vec![int(1), string("x")],
        }
    );
    assert_eq!(
        one("INSERT INTO s VALUES ();"),
        Statement::InsertValues {
            target: "S".into(),
            columns: None,
            values: vec![],
        }
    );
    let Statement::InsertIntoSelect {
        target, properties, ..
    } = one("INSERT INTO s WITH (query_id='q') SELECT * FROM t EMIT CHANGES;")
    else {
        panic!()
    };
    assert_eq!(target, "S");
    assert_eq!(
        properties,
        vec![("QUERY_ID".into(), Literal::String("q".into()))]
    );
}

#[test]
fn drop_statements() {
    assert_eq!(
        one("DROP STREAM IF EXISTS s DELETE TOPIC;"),
        Statement::DropSource {
            kind: SourceKind::Stream,
            name: "S".into(),
            if_exists: true,
            delete_topic: true
        }
    );
    assert_eq!(
        one("drop table t"),
        Statement::DropSource {
            kind: SourceKind::Table,
            name: "T".into(),
            if_exists: false,
            delete_topic: false
        }
    );
    assert_eq!(
        one("DROP TYPE IF EXISTS address;"),
        Statement::DropType {
            name: "ADDRESS".into(),
            if_exists: true
        }
    );
}

#[test]
fn show_and_list_statements() {
    let cases = [
        (
            "SHOW STREAMS;",
            Statement::ListSources {
                kind: SourceKind::Stream,
                extended: false,
            },
        ),
        (
            "list tables extended;",
            Statement::ListSources {
                kind: SourceKind::Table,
                extended: true,
            },
        ),
        (
            "SHOW ALL TOPICS EXTENDED;",
            Statement::ListTopics {
                all: true,
                extended: true,
            },
        ),
        (
            "SHOW TOPICS;",
            Statement::ListTopics {
                all: false,
                extended: false,
            },
        ),
        (
            "SHOW QUERIES EXTENDED;",
            Statement::ListQueries { extended: true },
        ),
        ("SHOW PROPERTIES;", Statement::ListProperties),
        ("LIST FUNCTIONS;", Statement::ListFunctions),
        ("SHOW TYPES;", Statement::ListTypes),
        ("SHOW VARIABLES;", Statement::ListVariables),
    ];
    for (sql, expected) in cases {
        assert_eq!(one(sql), expected, "{sql}");
    }
}

#[test]
fn describe_statements() {
    assert_eq!(
        one("DESCRIBE s EXTENDED;"),
        Statement::Describe {
            name: "S".into(),
            extended: true
        }
    );
    assert_eq!(
        one("DESCRIBE STREAMS;"),
        Statement::DescribeSources {
            kind: SourceKind::Stream,
            extended: false
        }
    );
    assert_eq!(
        one("DESCRIBE TABLES EXTENDED;"),
        Statement::DescribeSources {
            kind: SourceKind::Table,
            extended: true
        }
    );
    assert_eq!(
        one("DESCRIBE FUNCTION concat;"),
        Statement::DescribeFunction {
            name: "CONCAT".into()
        }
    );
    assert_eq!(
        one("DESCRIBE EXTENDED s;"),
        Statement::Describe {
            name: "S".into(),
            extended: true
        }
    );
    // FUNCTION is non-reserved: alone it names a source.
    assert_eq!(
        one("DESCRIBE function;"),
        Statement::Describe {
            name: "FUNCTION".into(),
            extended: false
        }
    );
}

#[test]
fn terminate_explain_set_define_print_type() {
    assert_eq!(
        one("TERMINATE CTAS_X_1;"),
        Statement::Terminate {
            target: TerminateTarget::Query("CTAS_X_1".into())
        }
    );
    assert_eq!(
        one("TERMINATE ALL;"),
        Statement::Terminate {
            target: TerminateTarget::All
        }
    );
    assert_eq!(
        one("EXPLAIN CTAS_X_1;"),
        Statement::Explain {
            target: ExplainTarget::Query("CTAS_X_1".into())
        }
    );
    let Statement::Explain {
        target: ExplainTarget::Statement(inner),
    } = one("EXPLAIN SELECT * FROM s;")
    else {
        panic!()
    };
    assert!(matches!(*inner, Statement::Query(_)));
    assert_eq!(
        one("SET 'auto.offset.reset'='earliest';"),
        Statement::SetProperty {
            name: "auto.offset.reset".into(),
            value: "earliest".into()
        }
    );
    assert_eq!(
        one("UNSET 'auto.offset.reset';"),
        Statement::UnsetProperty {
            name: "auto.offset.reset".into()
        }
    );
    assert_eq!(
        one("DEFINE myVar = 'it''s';"),
        Statement::DefineVariable {
            name: "myVar".into(),
            value: "it's".into()
        }
    );
    assert_eq!(
        one("UNDEFINE myVar;"),
        Statement::UndefineVariable {
            name: "myVar".into()
        }
    );
    assert_eq!(
        one("PRINT 'my-topic' FROM BEGINNING INTERVAL 2 LIMIT 10;"),
        Statement::Print {
            topic: "my-topic".into(),
            from_beginning: true,
            interval: Some(2),
            limit: Some(10)
        }
    );
    assert_eq!(
        one("PRINT myTopic;"),
        Statement::Print {
            topic: "myTopic".into(),
            from_beginning: false,
            interval: None,
            limit: None
        }
    );
    assert_eq!(
        one("CREATE TYPE IF NOT EXISTS address AS STRUCT<street STRING, `zip` INT>;"),
        Statement::CreateType {
            name: "ADDRESS".into(),
            ty: SqlType::Struct(vec![
                StructField {
                    name: "STREET".into(),
                    ty: SqlType::String
                },
                StructField {
                    name: "zip".into(),
                    ty: SqlType::Integer
                },
            ]),
            if_not_exists: true
        }
    );
}

// ---- queries ----------------------------------------------------------------------------

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

// ---- expressions ------------------------------------------------------------------------

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
    assert!(matches!(
        parse_expression("9223372036854775808"),
        Err(EngineError::Statement(_))
    ));
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
        Err(EngineError::Statement(_))
    ));
    assert!(parse_type("FOO").is_err());
}

// ---- errors -----------------------------------------------------------------------------

#[test]
fn error_positions_and_shapes() {
    assert!(err("SLECTT * FROM X;").starts_with("line 1:1: mismatched input 'SLECTT' expecting {"));
    assert_eq!(
        err("SELECT * FROM riderLocations LIMIT heh;"),
        "line 1:36: mismatched input 'heh' expecting \
         {'-', INTEGER_VALUE, DECIMAL_VALUE, FLOATING_POINT_VALUE}"
    );
    assert_eq!(
        err("SELECT * FROM s t u;"),
        "line 1:19: extraneous input 'u' expecting ';'"
    );
    assert_eq!(
        err("SHOW STREAMZ;"),
        "line 1:6: no viable alternative at input 'SHOW STREAMZ'"
    );
    assert_eq!(
        err("SELECT * FROM\n  s WHERE;"),
        format!(
            "line 2:10: mismatched input ';' expecting {{{}}}",
            "'(', '-', '+', 'NOT', 'NULL', 'TRUE', 'FALSE', 'CASE', 'CAST', 'ARRAY', 'MAP', \
             'STRUCT', STRING, INTEGER_VALUE, DECIMAL_VALUE, FLOATING_POINT_VALUE, IDENTIFIER, \
             DIGIT_IDENTIFIER, QUOTED_IDENTIFIER, BACKQUOTED_IDENTIFIER"
        )
    );
    let Err(EngineError::Parse { line, column, .. }) = parse("SELECT 1 FROM s;\nSELECT FROM;")
    else {
        panic!("expected a parse error")
    };
    assert_eq!((line, column), (2, 8));
    assert_eq!(
        err("SELECT * FROM s EMIT CHANGES EMIT;"),
        "line 1:30: extraneous input 'EMIT' expecting ';'"
    );
    assert!(err("SELECT * FROM s WINDOW TUMBLING (SIZE 1 FORTNIGHT);")
        .starts_with("line 1:41: mismatched input 'FORTNIGHT' expecting {'DAY', 'HOUR',"));
    assert!(err("SELECT * FROM s WHERE a = 'open;").contains("line 1:27:"));
}

/// After a query, a token that is neither `;` nor removable is reported against what could
/// have come at the first clause the parser skipped (ANTLR's `nextTokensContext`).
#[test]
fn expected_set_after_a_query_is_the_skipped_clauses() {
    const AFTER_FROM: &str =
        "{';', 'EMIT', 'WHERE', 'WINDOW', 'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}";
    // RQTT `pull-queries-against-streams - error on ORDER BY`: ORDER is the alias.
    assert_eq!(
        err("SELECT * FROM S1 ORDER BY MYKEY DESC;"),
        format!("line 1:24: mismatched input 'BY' expecting {AFTER_FROM}")
    );
    // The same wherever the query sits: push, persistent, INSERT INTO, EXPLAIN.
    for sql in [
        "SELECT * FROM S1 ORDER BY MYKEY DESC EMIT CHANGES;",
        "CREATE STREAM X AS SELECT * FROM S1 ORDER BY MYKEY;",
        "CREATE TABLE X AS SELECT * FROM S1 ORDER BY MYKEY;",
        "INSERT INTO X SELECT * FROM S1 ORDER BY MYKEY;",
        "EXPLAIN SELECT * FROM S1 ORDER BY MYKEY;",
    ] {
        assert!(
            err(sql).ends_with(&format!("mismatched input 'BY' expecting {AFTER_FROM}")),
            "{sql}: {}",
            err(sql)
        );
    }
    assert_eq!(
        err("SELECT * FROM s WINDOW TUMBLING (SIZE 1 SECOND) ORDER BY x;"),
        "line 1:49: mismatched input 'ORDER' expecting \
         {';', 'EMIT', 'WHERE', 'GROUP', 'HAVING', 'LIMIT', 'PARTITION'}"
    );
    assert_eq!(
        err("SELECT * FROM s EMIT CHANGES ORDER BY x;"),
        "line 1:30: mismatched input 'ORDER' expecting {';', 'LIMIT'}"
    );
    assert!(err("SELECT * FROM s BY x;").starts_with(
        "line 1:17: mismatched input 'BY' expecting {';', 'EMIT', 'AS', 'WHERE', 'WINDOW',"
    ));
    // Nothing optional after LIMIT; expression-ending clauses are not modelled.
    assert_eq!(
        err("SELECT * FROM s LIMIT 1 ORDER BY x;"),
        "line 1:25: mismatched input 'ORDER' expecting ';'"
    );
    // Single-token deletion and insertion still come first, without the set.
    assert_eq!(
        err("SELECT * FROM s t u;"),
        "line 1:19: extraneous input 'u' expecting ';'"
    );
    assert_eq!(
        err("SELECT * FROM s t SELECT * FROM u;"),
        "line 1:19: missing ';' at 'SELECT'"
    );
}

/// The ANTLR exception behind each error shape: ksqlDB's `/query` errors name it.
#[test]
fn syntax_errors_carry_antlr_causes() {
    let cause = |sql: &str| match parse(sql) {
        Err(EngineError::Parse { cause, .. }) => cause,
        other => panic!("{sql}: {other:?}"),
    };
    assert_eq!(
        cause("SELECT * FROM S1 ORDER BY MYKEY DESC;"),
        Some(SyntaxCause::InputMismatch)
    );
    assert_eq!(cause("SLECTT * FROM X;"), Some(SyntaxCause::InputMismatch));
    assert_eq!(
        cause("SHOW STREAMZ;"),
        Some(SyntaxCause::NoViableAlternative)
    );
    assert_eq!(cause("SELECT * FROM s t u;"), None);
    assert_eq!(cause("SELECT * FROM s t SELECT * FROM u;"), None);
}

#[test]
fn unsubstituted_variables_are_rejected() {
    assert!(matches!(
        parse("SELECT * FROM ${src};"),
        Err(EngineError::Statement(m)) if m == "Illegal argument at Line: 1, Col: 15."
    ));
}

// ---- splitting --------------------------------------------------------------------------

#[test]
fn splits_on_top_level_semicolons_only() {
    let parsed = parse(
        "  INSERT INTO s VALUES ('a;b');\n-- c;omment\nSELECT `x;y` FROM s /* ; */ EMIT CHANGES ;;\
         SHOW STREAMS",
    )
    .expect("valid");
    let texts: Vec<_> = parsed.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "INSERT INTO s VALUES ('a;b');",
            // Like ksqlDB, the text starts at the first token, after any leading comment.
            "SELECT `x;y` FROM s /* ; */ EMIT CHANGES;",
            "SHOW STREAMS;",
        ]
    );
    assert!(parse("  ;; ").expect("empty is fine").is_empty());
}

// ---- limits -----------------------------------------------------------------------------

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "SELECT {}1{} FROM s;",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(err(&deep).contains("maximum depth"));
    let unary = format!("{}a", "- ".repeat(10_000));
    assert!(parse_expression(&unary).is_err());
    let nots = format!("{}a", "NOT ".repeat(10_000));
    assert!(parse_expression(&nots).is_err());
    let chain = vec!["a"; 100_000].join(" + ");
    assert!(parse_expression(&chain).is_err());
    let derefs = format!("a{}", "->b".repeat(100_000));
    assert!(parse_expression(&derefs).is_err());
    let calls = format!("{}1{}", "f(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_expression(&calls).is_err());
    let ty = format!("{}INT{}", "ARRAY<".repeat(10_000), ">".repeat(10_000));
    assert!(parse_type(&ty).is_err());
    let legacy = format!("INT{}", " ARRAY".repeat(100_000));
    assert!(parse_type(&legacy).is_err());
}

#[test]
fn nesting_just_under_the_limit_parses() {
    let depth = EXPRESSION_DEPTH_MAX - 2;
    let nested = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(expr(&nested), int(1));
    let chain = vec!["a = 1"; 400].join(" OR ");
    assert!(parse_expression(&chain).is_ok());
}

// ---- display round trip -----------------------------------------------------------------

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
