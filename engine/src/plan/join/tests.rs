//! The join planner's unit tests: plans and refusals for each join shape.

use super::*;
use crate::sql::ast::Statement;
use crate::statements::create::PersistenceConfig;
use crate::catalog::CatalogState;
use crate::plan::test_catalog as catalog;

fn schema(state: &CatalogState, sql: &str) -> std::result::Result<String, String> {
    let config = PersistenceConfig::default();
    let parsed = crate::sql::parse(sql).unwrap().remove(0);
    let Statement::CreateAsSelect(c) = parsed.statement else {
        panic!("not a CSAS");
    };
    let kind = match c.kind {
        SourceKind::Stream => PersistentKind::CreateStreamAs,
        SourceKind::Table => PersistentKind::CreateTableAs,
    };
    let spec = SinkSpec {
        kind,
        name: &c.name,
        properties: &c.properties,
        existing: None,
        config: &config,
    };
    plan_join_persistent(state, spec, &c.query, sql, |_| Some(1))
        .map(|p| p.sink.schema.to_schema_text(true).replace('`', ""))
        .map_err(|e| e.to_string())
}

const DDL: &str = "CREATE STREAM L (A INT KEY, B INT, C INT) WITH (kafka_topic='l', value_format='JSON');
    CREATE STREAM R (A INT KEY, B INT, C INT) WITH (kafka_topic='r', value_format='JSON');
    CREATE TABLE T (ID INT PRIMARY KEY, V0 BIGINT) WITH (kafka_topic='t', value_format='JSON');
    CREATE TABLE U (ID INT PRIMARY KEY, V1 BIGINT, FK INT) WITH (kafka_topic='u', value_format='JSON');";

#[test]
fn result_key_and_names_follow_ksqldb() {
    let state = catalog(DDL);
    let cases = [
        (
            "CREATE STREAM O AS SELECT * FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.A;",
            "L_A INTEGER KEY, L_B INTEGER, L_C INTEGER, R_A INTEGER, R_B INTEGER, R_C INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT L.B, L.C, R.* FROM L JOIN R WITHIN 10 SECONDS ON L.A = R.A;",
            "R_A INTEGER KEY, L_B INTEGER, L_C INTEGER, R_B INTEGER, R_C INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT * FROM L FULL OUTER JOIN R WITHIN 10 SECONDS ON L.A = R.A;",
            "ROWKEY INTEGER KEY, L_A INTEGER, L_B INTEGER, L_C INTEGER, R_A INTEGER, R_B INTEGER, R_C INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT l.a, l.b, v0 FROM L l LEFT JOIN R r WITHIN 1 SECOND ON l.a = r.a LEFT JOIN T t ON l.a = t.id;",
            "L_A INTEGER KEY, L_B INTEGER, V0 BIGINT",
        ),
        (
            "CREATE STREAM O AS SELECT L.C, V0 FROM L JOIN T ON L.C = T.ID;",
            "C INTEGER KEY, V0 BIGINT",
        ),
        (
            "CREATE TABLE O AS SELECT U.ID, V0, V1 FROM U JOIN T ON U.FK = T.ID;",
            "U_ID INTEGER KEY, V0 BIGINT, V1 BIGINT",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(schema(&state, sql).as_deref(), Ok(want), "{sql}");
    }
}

#[test]
fn refused_joins() {
    let state = catalog(DDL);
    let err = |sql: &str| schema(&state, sql).unwrap_err();
    assert!(err("CREATE STREAM O AS SELECT * FROM L JOIN R ON L.A = R.A;").contains("WITHIN"));
    assert!(err("CREATE STREAM O AS SELECT * FROM T JOIN L ON T.ID = L.A;")
        .contains("table-stream joins are not supported"));
    assert!(err("CREATE STREAM O AS SELECT * FROM L FULL JOIN T ON L.A = T.ID;")
        .contains("Invalid join type"));
    assert!(err("CREATE STREAM O AS SELECT * FROM L JOIN U ON L.A = U.FK;")
        .contains("Cannot repartition a TABLE source"));
    assert!(err("CREATE STREAM O AS SELECT L.B FROM L JOIN T ON L.A = T.ID;")
        .starts_with("Key missing from projection"));
    assert!(err("CREATE TABLE O AS SELECT * FROM L JOIN T ON L.A = T.ID;")
        .contains("produces a STREAM"));
}
