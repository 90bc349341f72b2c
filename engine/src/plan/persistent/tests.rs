//! The persistent planner's unit tests: sink keys, schemas, topics and decoded columns.

use super::*;
use crate::sql::ast::Statement;
use crate::catalog::CatalogState;
use crate::plan::test_catalog as catalog;

/// The plan of a CSAS, or its error message.
fn plan(state: &CatalogState, csas: &str) -> std::result::Result<PersistentPlan, String> {
    plan_with(state, csas, &[])
}

/// The plan of a CSAS run with request properties `props`, or its error message.
fn plan_with(
    state: &CatalogState,
    csas: &str,
    props: &[(&str, &str)],
) -> std::result::Result<PersistentPlan, String> {
    let props = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = PersistenceConfig::from_props(&props).unwrap();
    let parsed = crate::sql::parse(csas).unwrap().remove(0);
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
    plan_persistent(state, spec, &c.query, csas, |_| Some(1)).map_err(|e| e.to_string())
}

/// The sink schema text of a CSAS, or its error message.
fn sink_schema(state: &CatalogState, csas: &str) -> std::result::Result<String, String> {
    plan(state, csas).map(|p| p.sink.schema.to_schema_text(true))
}

const INPUT: &str = "CREATE STREAM INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input', value_format='JSON');";

#[test]
fn key_columns_follow_ksqldb_rules() {
    let state = catalog(INPUT);
    let cases = [
        (
            "CREATE STREAM O AS SELECT * FROM INPUT;",
            "`ID` INTEGER KEY, `NAME` STRING",
        ),
        (
            "CREATE STREAM O AS SELECT id AS id_copy, name FROM INPUT;",
            "`ID_COPY` INTEGER KEY, `NAME` STRING",
        ),
        (
            "CREATE STREAM O AS SELECT 1 AS K, ID, NAME FROM INPUT PARTITION BY 1;",
            "`K` INTEGER KEY, `ID` INTEGER, `NAME` STRING",
        ),
        (
            "CREATE STREAM O AS SELECT NAME, ID, ABS(ID) FROM INPUT PARTITION BY ABS(ID);",
            "`KSQL_COL_0` INTEGER KEY, `NAME` STRING, `ID` INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT * FROM INPUT PARTITION BY ABS(ID);",
            "`KSQL_COL_0` INTEGER KEY, `NAME` STRING, `ID` INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT * FROM INPUT PARTITION BY ID;",
            "`ID` INTEGER KEY, `NAME` STRING",
        ),
        (
            "CREATE STREAM O AS SELECT * FROM INPUT PARTITION BY NAME;",
            "`NAME` STRING KEY, `ID` INTEGER",
        ),
        (
            "CREATE STREAM O AS SELECT ID, NAME FROM INPUT PARTITION BY NULL;",
            "`ID` INTEGER, `NAME` STRING",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(sink_schema(&state, sql).as_deref(), Ok(want), "{sql}");
    }
}

#[test]
fn keyless_source_partitioned_by_a_value_column() {
    let state = catalog("CREATE STREAM INPUT (NAME STRING, ID INT) WITH (kafka_topic='input', value_format='JSON');");
    assert_eq!(
        sink_schema(
            &state,
            "CREATE STREAM O AS SELECT ID, NAME FROM INPUT PARTITION BY ID;"
        )
        .as_deref(),
        Ok("`ID` INTEGER KEY, `NAME` STRING")
    );
}

#[test]
fn rejected_shapes() {
    let state = catalog(INPUT);
    let err = sink_schema(&state, "CREATE STREAM O AS SELECT NAME FROM INPUT;").unwrap_err();
    assert!(err.starts_with("Key missing from projection"), "{err}");
    let err = sink_schema(
        &state,
        "CREATE STREAM O AS SELECT ID FROM INPUT PARTITION BY NAME;",
    )
    .unwrap_err();
    assert!(err.contains("partitioning expression NAME"), "{err}");
    let err = sink_schema(&state, "CREATE TABLE O AS SELECT * FROM INPUT;").unwrap_err();
    assert!(err.contains("Please use CREATE STREAM AS SELECT"), "{err}");
    let err =
        sink_schema(&state, "CREATE STREAM O AS SELECT * FROM INPUT LIMIT 1;").unwrap_err();
    assert!(err.contains("don't support LIMIT"), "{err}");
}

#[test]
fn header_columns_become_sink_value_columns() {
    let state = catalog("CREATE STREAM INPUT (K STRING KEY, H ARRAY<STRUCT<key STRING, value BYTES>> HEADERS, V BIGINT, A BYTES HEADER('a')) WITH (kafka_topic='input', value_format='JSON');");
    assert_eq!(
        sink_schema(&state, "CREATE STREAM O AS SELECT * FROM INPUT;").as_deref(),
        Ok("`K` STRING KEY, `H` ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, `V` BIGINT, `A` BYTES")
    );
}

#[test]
fn struct_all_expands_into_fields() {
    let state = catalog("CREATE STREAM INPUT (K1 INT KEY, V1 STRUCT<A INT, B STRUCT<C STRING>>) WITH (kafka_topic='input', value_format='JSON');");
    assert_eq!(
        sink_schema(&state, "CREATE STREAM O AS SELECT K1, V1->* FROM INPUT;").as_deref(),
        Ok("`K1` INTEGER KEY, `A` INTEGER, `B` STRUCT<`C` STRING>")
    );
    assert_eq!(
        sink_schema(&state, "CREATE STREAM O AS SELECT K1, V1->B->* FROM INPUT;").as_deref(),
        Ok("`K1` INTEGER KEY, `C` STRING")
    );
    let err =
        sink_schema(&state, "CREATE STREAM O AS SELECT K1, K1->* FROM INPUT;").unwrap_err();
    assert!(err.contains("Expected STRUCT"), "{err}");
}

#[test]
fn null_value_keys_come_from_key_only_expressions() {
    let state = catalog("CREATE STREAM INPUT (AGE INT KEY, NAME STRING, ID INT) WITH (kafka_topic='input', format='JSON');");
    let rekeyed = plan(
        &state,
        "CREATE STREAM O AS SELECT ABS(ID), 1, AGE + 2 AS K3, AGE, NAME FROM INPUT PARTITION BY ABS(ID), 1, AGE + 2;",
    )
    .unwrap();
    let tombstone_key = |p: &PersistentPlan| p.logical.sink_projection().unwrap().tombstone_key;
    let computable: Vec<bool> = tombstone_key(&rekeyed)
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(computable, [false, true, true]);
    let kept = plan(
        &state,
        "CREATE STREAM O AS SELECT NAME, AGE AS A FROM INPUT;",
    )
    .unwrap();
    assert!(matches!(
        tombstone_key(&kept).as_slice(),
        [Some(Projection::Column(0))]
    ));
}

#[test]
fn keyless_source_rekeyed_takes_the_configured_default_key_format() {
    let state = catalog("CREATE STREAM INPUT (FOO INT, BAR INT) WITH (kafka_topic='input', key_format='NONE', value_format='JSON');");
    let csas = "CREATE STREAM O AS SELECT * FROM INPUT PARTITION BY BAR;";
    let key_format_with =
        |props: &[(&str, &str)]| plan_with(&state, csas, props).unwrap().sink.key_format;
    assert_eq!(key_format_with(&[]), KeyFormat::Kafka);
    assert_eq!(
        key_format_with(&[("ksql.persistence.default.format.key", "JSON")]),
        KeyFormat::Json
    );
}

#[test]
fn planners_differ_in_sink_key_columns() {
    let state = catalog("CREATE STREAM INPUT (ID INT KEY, AGE INT KEY, NAME STRING) WITH (kafka_topic='input', format='JSON');");
    let schema = |sql: &str, new_planner: &str| {
        plan_with(
            &state,
            sql,
            &[("ksql.new.query.planner.enabled", new_planner)],
        )
        .map(|p| p.sink.schema.to_schema_text(true))
    };
    let reordered = "CREATE STREAM O AS SELECT AGE, ID, NAME FROM INPUT;";
    assert_eq!(
        schema(reordered, "false").as_deref(),
        Ok("`ID` INTEGER KEY, `AGE` INTEGER KEY, `NAME` STRING")
    );
    assert_eq!(
        schema(reordered, "true").as_deref(),
        Ok("`AGE` INTEGER KEY, `ID` INTEGER KEY, `NAME` STRING")
    );
    let keyless = "CREATE STREAM O AS SELECT NAME FROM INPUT;";
    assert!(schema(keyless, "false")
        .unwrap_err()
        .starts_with("Key missing from projection"));
    assert_eq!(schema(keyless, "true").as_deref(), Ok("`NAME` STRING"));
}

#[test]
fn output_topic_prefix_applies_to_default_topic_names_only() {
    let state = catalog(INPUT);
    let prefix = [("ksql.output.topic.name.prefix", "some-prefix-")];
    let topic = |sql: &str| plan_with(&state, sql, &prefix).unwrap().sink.topic.clone();
    assert_eq!(
        topic("CREATE STREAM O AS SELECT * FROM INPUT;"),
        "some-prefix-O"
    );
    assert_eq!(
        topic("CREATE STREAM O WITH (KAFKA_TOPIC='t') AS SELECT * FROM INPUT;"),
        "t"
    );
}

#[test]
fn aggregations_decode_only_the_columns_they_read() {
    let state = catalog(
        "CREATE STREAM S (K STRING KEY, A INT, B STRING, C DOUBLE, D BIGINT) WITH (kafka_topic='s', value_format='JSON');
         CREATE TABLE T (K STRING PRIMARY KEY, A INT, B STRING, C DOUBLE) WITH (kafka_topic='t', value_format='JSON');",
    );
    let decode = |csas: &str| plan(&state, csas).unwrap().logical.scan().decode.clone();
    // Slots: K 0, A 1, B 2, C 3, D 4, then ROWTIME.
    assert_eq!(
        decode("CREATE TABLE X AS SELECT B, COUNT(*), SUM(C) FROM S WHERE A > 0 GROUP BY B;"),
        DecodeColumns::Only(vec![1, 2, 3])
    );
    assert_eq!(
        decode("CREATE TABLE X AS SELECT D % 10 AS G, MAX(ROWTIME) FROM S GROUP BY D % 10;"),
        DecodeColumns::Only(vec![4, 5])
    );
    assert_eq!(
        decode("CREATE TABLE X AS SELECT B, SUM(A) FROM T WHERE C > 1 GROUP BY B;"),
        DecodeColumns::Only(vec![1, 2, 3])
    );
    // A projection without aggregates still decodes every column for its sink.
    assert_eq!(
        decode("CREATE STREAM X AS SELECT K, A FROM S;"),
        DecodeColumns::All
    );
}
