//! Unit tests of the pull-query bench: key choice, answers checked, the report.

use super::*;

const TAIL: &[u8] = b",\"columnNames\":[\"ID\"],\"columnTypes\":[\"BIGINT\"]}";

fn shape() -> TableShape {
    TableShape::for_rows(RowShape::Lower)
}

fn hash_of(shape: &TableShape, row: &str) -> u64 {
    let values: Vec<Value> = serde_json::from_str(row).expect("JSON");
    shape.row_hash(values).expect("a full row")
}

#[test]
fn the_ctas_names_every_column() {
    let sql = TableShape::for_rows(RowShape::Mixed).ctas_sql();
    assert_eq!(
        sql,
        "CREATE TABLE bench_pull AS SELECT ID, LATEST_BY_OFFSET(TS) AS TS, \
         LATEST_BY_OFFSET(USER) AS USER, LATEST_BY_OFFSET(REGION) AS REGION, \
         LATEST_BY_OFFSET(AMOUNT) AS AMOUNT, LATEST_BY_OFFSET(OK) AS OK, \
         LATEST_BY_OFFSET(MESSAGE) AS MESSAGE, COUNT(*) AS UPDATES \
         FROM bench_pull_src GROUP BY ID EMIT CHANGES;"
    );
    assert!(!shape().ctas_sql().contains("MESSAGE"));
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
    let s = TableShape::for_rows(RowShape::Mixed);
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
        assert_eq!(s.row_hash(row), Some(*hash));
    }
    assert_eq!(hashes.len(), 200);
    // Different keys' rows differ.
    let distinct: std::collections::HashSet<_> = hashes.iter().collect();
    assert_eq!(distinct.len(), 200);
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
