//! Parser cases: errors, splitting, limits.

use super::*;

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
    let Err(e) = parse("SELECT 1 FROM s;\nSELECT FROM;") else {
        panic!("expected a parse error")
    };
    let syntax = e.syntax().expect("a syntax error");
    assert_eq!((syntax.line, syntax.column), (2, 8));
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
        Err(e) if e.syntax().is_some() => e.syntax().and_then(|s| s.cause),
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
        Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement
            && e.message() == "Illegal argument at Line: 1, Col: 15."
    ));
}

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

/// A comment after a statement's last token is not part of its text: appending the `;` to
/// it would put the `;` inside a `--` comment (found by the `sql_parse` fuzz target).
#[test]
fn statement_text_ends_at_its_last_token() {
    let parsed = parse(
        "SHOW STREAMS -- all of them
;
SHOW TOPICS /* x */ -- y",
    )
    .expect("valid");
    let texts: Vec<_> = parsed.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["SHOW STREAMS;", "SHOW TOPICS;"]);
    for p in &parsed {
        assert_eq!(parse(&p.text).expect("text parses alone")[0], *p);
    }
}

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
