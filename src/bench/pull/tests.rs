//! Unit tests of the pull-query bench: key choice, answers checked, the report.

use super::*;

const TAIL: &[u8] = b",\"columnNames\":[\"ID\"],\"columnTypes\":[\"BIGINT\"]}";

fn shape() -> TableShape {
    TableShape::for_rows(PullTable::Ctas, RowShape::Lower)
}

fn hash_of(shape: &TableShape, row: &str) -> u64 {
    let values: Vec<Value> = serde_json::from_str(row).expect("JSON");
    shape.row_hash(values).expect("a full row")
}

#[test]
fn the_ctas_names_every_column() {
    let sql = TableShape::for_rows(PullTable::Ctas, RowShape::Mixed).create_sql();
    assert_eq!(
        sql,
        "CREATE TABLE bench_pull AS SELECT ID, LATEST_BY_OFFSET(TS) AS TS, \
         LATEST_BY_OFFSET(USER) AS USER, LATEST_BY_OFFSET(REGION) AS REGION, \
         LATEST_BY_OFFSET(AMOUNT) AS AMOUNT, LATEST_BY_OFFSET(OK) AS OK, \
         LATEST_BY_OFFSET(MESSAGE) AS MESSAGE, COUNT(*) AS UPDATES \
         FROM bench_pull_src GROUP BY ID EMIT CHANGES;"
    );
    assert!(!shape().create_sql().contains("MESSAGE"));
}

#[test]
fn the_source_table_reads_the_streams_topic_with_its_columns() {
    assert_eq!(
        TableShape::for_rows(PullTable::Source, RowShape::Lower).create_sql(),
        "CREATE SOURCE TABLE bench_pull (ID BIGINT PRIMARY KEY, TS BIGINT, USER STRING, \
         REGION STRING, AMOUNT DOUBLE, OK BOOLEAN, PAD STRING) \
         WITH (kafka_topic='bench_pull_src', value_format='JSON');"
    );
    // Every shape's stream columns, nested types and all, as the stream declares them.
    for row_shape in [
        RowShape::Exact,
        RowShape::Sparse,
        RowShape::Nested,
        RowShape::Mixed,
    ] {
        let s = TableShape::for_rows(PullTable::Source, row_shape);
        assert_eq!(
            s.create_sql(),
            format!(
                "CREATE SOURCE TABLE bench_pull (ID BIGINT PRIMARY KEY, {}) \
                 WITH (kafka_topic='bench_pull_src', value_format='JSON');",
                row_shape.value_columns_sql()
            )
        );
        assert!(!s.names().contains(&"UPDATES"));
    }
    let s = TableShape::for_rows(PullTable::Source, RowShape::Mixed);
    assert_eq!(
        s.names(),
        [
            "ID",
            "TS",
            "USER",
            "REGION",
            "AMOUNT",
            "OK",
            "PAD",
            "COUPON",
            "REFERRER",
            "DISCOUNT",
            "CAMPAIGN",
            "DEVICE",
            "TAGS",
            "ATTRS",
            "PRICE",
            "USER_AGENT",
            "MESSAGE"
        ]
    );
    let device = &s.columns[s
        .names()
        .iter()
        .position(|&n| n == "DEVICE")
        .expect("DEVICE")];
    assert_eq!(
        device.ty,
        ColumnType::Struct(vec![
            ("OS".into(), ColumnType::Other),
            ("VERSION".into(), ColumnType::Other),
            ("MODEL".into(), ColumnType::Other),
        ])
    );
    let price = &s.columns[s.names().iter().position(|&n| n == "PRICE").expect("PRICE")];
    assert_eq!(price.ty, ColumnType::Number);
}

#[test]
fn source_rows_are_the_loaded_rows() {
    let s = TableShape::for_rows(PullTable::Source, RowShape::Nested);
    let row = s
        .expected_row(
            7,
            br#"{"id":7,"ts":99,"user":"user_000001","amount":1234,"ok":true,
                "device":{"os":"ios","version":"17.2","model":"iPhone15,2"},
                "tags":["new","vip"],"attrs":{"plan":"pro","ref":"email"},"price":20.5}"#,
        )
        .expect("a row");
    let expected = s.row_hash(row).expect("full");
    // The server names struct fields as the schema does, prints DOUBLE 1234 as 1234.0 and
    // DECIMAL(10, 2) 20.5 as 20.50; left-out columns are null; no COUNT column.
    let answer = |price: &str, os: &str| {
        format!(
            r#"[7,99,"user_000001",null,1234.0,true,null,
               {{"{os}":"ios","VERSION":"17.2","MODEL":"iPhone15,2"}},
               ["new","vip"],{{"plan":"pro","ref":"email"}},{price}]"#
        )
    };
    assert_eq!(hash_of(&s, &answer("20.50", "OS")), expected);
    // A map's entries in another order are the same map (the server sorts them).
    assert_eq!(
        hash_of(
            &s,
            &answer("20.50", "OS").replace(
                r#"{"plan":"pro","ref":"email"}"#,
                r#"{"ref":"email","plan":"pro"}"#
            )
        ),
        expected
    );
    assert_ne!(hash_of(&s, &answer("20.51", "OS")), expected);
    assert_ne!(hash_of(&s, &answer("20.50", "os")), expected);
    assert_ne!(
        hash_of(&s, &answer("20.50", "OS").replace("vip", "new")),
        expected
    );
    // A CTAS-shaped answer (an UPDATES count after the columns) is not the row.
    let with_count = format!("{},1]", answer("20.50", "OS").trim_end_matches(']'));
    let values: Vec<Value> = serde_json::from_str(&with_count).expect("JSON");
    assert!(s.row_hash(values).is_none());
    // A DECIMAL printed as a string is not the number.
    assert_ne!(
        s.row_hash(serde_json::from_str(&answer("\"20.50\"", "OS")).expect("JSON")),
        Some(expected)
    );
}

#[test]
fn expected_rows_match_the_server_spelling() {
    let s = shape();
    let row = s
        .expected_row(
            7,
            br#"{"ok":true,"id":7,"ts":99,"user":"user_000001","amount":1234}"#,
        )
        .expect("a row");
    let expected = s.row_hash(row).expect("full");
    // The server prints DOUBLE 1234 as 1234.0 and the left-out region as null.
    assert_eq!(
        hash_of(&s, r#"[7,99,"user_000001",null,1234.0,true,1]"#),
        expected
    );
    assert_ne!(
        hash_of(&s, r#"[8,99,"user_000001",null,1234.0,true,1]"#),
        expected
    );
    assert_ne!(
        hash_of(&s, r#"[7,99,"user_000001",null,1234.5,true,1]"#),
        expected
    );
    assert!(s.row_hash(vec![Value::from(7)]).is_none());
}

#[test]
fn answers_are_checked_whole() {
    let s = shape();
    let row = r#"[7,99,"user_000001",null,1234.0,true,1]"#;
    let expected = hash_of(&s, row);
    let header = r#"{"queryId":"q1","columnNames":["ID"],"columnTypes":["BIGINT"]}"#;
    let answer = format!("{header}\n{row}\n");
    let check = |status, body: &str| check_answer(&s, TAIL, status, body.as_bytes(), expected);
    assert_eq!(check(StatusCode::OK, &answer), Verdict::Ok);
    assert_eq!(
        check(StatusCode::OK, &format!("{header}\n")),
        Verdict::NoRow
    );
    assert!(matches!(
        check(StatusCode::OK, &format!("{header}\n{row}\n{row}\n")),
        Verdict::WrongRow(_)
    ));
    assert!(matches!(
        check(
            StatusCode::OK,
            &format!("{header}\n[7,99,\"user_000002\",null,1234.0,true,1]\n")
        ),
        Verdict::WrongRow(_)
    ));
    assert!(matches!(
        check(StatusCode::OK, &format!("{header}\n{{\"error\":1}}\n")),
        Verdict::WrongRow(_)
    ));
    assert!(matches!(
        check(StatusCode::OK, &format!("{{\"queryId\":\"q\"}}\n{row}\n")),
        Verdict::Failed(_)
    ));
    assert!(matches!(
        check(StatusCode::BAD_REQUEST, &answer),
        Verdict::Failed(_)
    ));
    assert!(matches!(check(StatusCode::OK, ""), Verdict::Failed(_)));
}

#[test]
fn the_replay_matches_what_the_loader_sends() {
    // The loader's rows, as `producer` writes them: ID seq, TS start + due(seq).
    for kind in [PullTable::Ctas, PullTable::Source] {
        let s = TableShape::for_rows(kind, RowShape::Mixed);
        let hashes = expected_hashes(&s, 5, RowShape::Mixed, None, 200, 1_000).expect("replayed");
        let (mut gen, schedule) = loader_rows(5, RowShape::Mixed, None);
        for (key, hash) in hashes.iter().enumerate() {
            let key = key as u64;
            let mut line = Vec::new();
            gen.write_row(key, 1_000 + schedule.due_us(key).expect("paced"), &mut line);
            line.pop();
            let row = s.expected_row(key, &line).expect("row");
            assert_eq!(row[0], Value::from(key));
            assert_eq!(row[1], Value::from(1_000u64));
            assert_eq!(row.len(), s.columns.len());
            assert_eq!(s.row_hash(row), Some(*hash));
        }
        assert_eq!(hashes.len(), 200);
        // Different keys' rows differ.
        let distinct: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), 200);
    }
}

#[test]
fn outcomes_keep_one_example_per_kind() {
    let mut a = Outcome::default();
    a.count(1, Verdict::Ok);
    a.count(2, Verdict::NoRow);
    a.count(3, Verdict::NoRow);
    a.count(4, Verdict::Failed("x".repeat(1_000)));
    let mut b = Outcome::default();
    b.count(5, Verdict::WrongRow("[1]".into()));
    b.count(6, Verdict::NoRow);
    a.merge(b);
    assert_eq!((a.ok, a.empty, a.failed, a.wrong_rows), (1, 3, 1, 1));
    assert_eq!(a.examples.len(), 3, "{:?}", a.examples);
    assert!(a.examples[1].len() < ERROR_EXAMPLE_BYTES_MAX + 40);
    assert!(a
        .examples
        .iter()
        .any(|e| e.starts_with("wrong row (key 5)")));
}
