//! Parser cases: statements.

use super::*;

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
