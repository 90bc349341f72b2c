//! Parser cases: every construct costs time linear in the input (issue 9, finding 5).
//!
//! Each class is parsed at a size `n` and at `4 n`, both large enough that the quadratic
//! code this replaced took seconds (a 120,000-term OR chain took 8.7 s). The results are
//! checked exactly, and the bytes the lexer's searches and column counting scanned (see
//! `lexer::scan_work`) must stay within a small multiple of the input: a count, which a
//! shared machine cannot make flaky the way a timing would.

use super::*;
use crate::sql::lexer::scan_work;

/// Runs `run` on `make(n)` and `make(4 n)`; returns each result and checks that neither
/// scanned more than `SCAN_PER_BYTE_MAX` bytes per input byte.
fn at_n_and_4n<T>(n: usize, make: impl Fn(usize) -> String, run: impl Fn(&str) -> T) -> [T; 2] {
    /// Every byte is scanned for its token, its column and at most two searches.
    const SCAN_PER_BYTE_MAX: usize = 4;
    [n, 4 * n].map(|size| {
        let input = make(size);
        scan_work::take();
        let result = run(&input);
        let scanned = scan_work::take();
        assert!(
            scanned <= SCAN_PER_BYTE_MAX * input.len(),
            "size {size}: scanned {scanned} bytes of a {}-byte input",
            input.len()
        );
        result
    })
}

/// The error's `line L:C:` position (C is 1-based).
fn position(error: &EngineError) -> (u32, u32) {
    match error.syntax() {
        Some(detail) => (detail.line, detail.column),
        None => panic!("not a parse error: {error:?}"),
    }
}

#[test]
fn operator_chains_fail_at_the_depth_limit_whatever_their_length() {
    const PREFIX: &str = "SELECT * FROM s WHERE ";
    let chain = |terms: usize| format!("{PREFIX}{};", vec!["a = 1"; terms].join(" OR "));
    // The WHERE expression is one nesting level deep and each term two levels, so the tree
    // is too deep once the 511th OR is built; the error points at the 512th.
    let or_column = |k: usize| PREFIX.len() + k * "a = 1".len() + (k - 1) * " OR ".len() + 2;
    let expected = format!(
        "line 1:{}: expression is deeper than the maximum of {EXPRESSION_TREE_DEPTH_MAX} levels",
        or_column(EXPRESSION_TREE_DEPTH_MAX)
    );
    for result in at_n_and_4n(30_000, chain, parse) {
        assert_eq!(result.expect_err("too deep").to_string(), expected);
    }
    let just_under = chain(EXPRESSION_TREE_DEPTH_MAX - 12);
    assert!(parse(&just_under).is_ok());

    // Arithmetic and postfix chains: the same limit, the same position at any length.
    let plus = |terms: usize| vec!["a"; terms].join(" + ");
    let [small, large] = at_n_and_4n(30_000, plus, parse_expression);
    assert_eq!(
        small.expect_err("too deep").to_string(),
        large.expect_err("too deep").to_string()
    );
    let derefs = |links: usize| format!("a{}", "->b".repeat(links));
    let [small, large] = at_n_and_4n(30_000, derefs, parse_expression);
    assert_eq!(
        small.expect_err("too deep").to_string(),
        large.expect_err("too deep").to_string()
    );
}

#[test]
fn long_in_lists_parse_until_the_expression_node_limit() {
    const PREFIX: &str = "SELECT * FROM s WHERE a IN (";
    let in_list = |items: usize| format!("{PREFIX}{});", vec!["1"; items].join(", "));
    // The column `a`, the items and the IN itself: 96,002 nodes fit in 100,000.
    for (result, items) in at_n_and_4n(24_000, in_list, parse)
        .into_iter()
        .zip([24_000, 96_000])
    {
        let parsed = result.expect("within the node limit");
        let Statement::Query(query) = &parsed[0].statement else {
            panic!("not a query")
        };
        let Some(Expr::InList { list, .. }) = &query.where_clause else {
            panic!("not an IN list")
        };
        assert_eq!(list.len(), items);
    }
    // Item k is node k + 1, so the limit is passed at the last item; the error points at
    // the token after it.
    let items = STATEMENT_EXPRESSION_NODES_MAX;
    let error = parse(&in_list(items)).expect_err("over the node limit");
    let after_last_item = PREFIX.len() + (items - 1) * ", ".len() + items;
    assert_eq!(
        error.to_string(),
        format!(
            "line 1:{}: statement has more than the maximum of \
             {STATEMENT_EXPRESSION_NODES_MAX} expression nodes",
            after_last_item + 1
        )
    );
    // The limit is per statement.
    let two = format!("{}\n{}", in_list(60_000), in_list(60_000));
    assert_eq!(
        parse(&two)
            .expect("each statement is within the limit")
            .len(),
        2
    );
}

#[test]
fn long_lines_of_strings_keep_exact_columns() {
    // `é` is two bytes and one column: columns count characters, as ANTLR does.
    const ITEM: &str = "'ébc'";
    let line = |items: usize| format!("SELECT {} # FROM s;", vec![ITEM; items].join(", "));
    let hash_column = |items: usize| {
        let chars = "SELECT ".len() + items * ITEM.chars().count() + (items - 1) * 2 + 1;
        u32::try_from(chars + 1).expect("small")
    };
    // 80,000 items stay under the expression node limit.
    let [small, large] = at_n_and_4n(20_000, line, parse);
    assert_eq!(
        position(&small.expect_err("# is no token")),
        (1, hash_column(20_000))
    );
    assert_eq!(
        position(&large.expect_err("# is no token")),
        (1, hash_column(80_000))
    );

    let one_string = |chars: usize| format!("SELECT '{}' # FROM s;", "é".repeat(chars));
    let [small, large] = at_n_and_4n(300_000, one_string, parse);
    let column = |chars: usize| u32::try_from("SELECT '' # ".len() + chars - 1).expect("small");
    assert_eq!(position(&small.expect_err("#")), (1, column(300_000)));
    assert_eq!(position(&large.expect_err("#")), (1, column(1_200_000)));

    // A long run of lines: the line number and column of the last one are exact.
    let lines = |count: usize| format!("SELECT a\n{} FROM s WHERE ;", ", a\n".repeat(count));
    for (result, count) in at_n_and_4n(20_000, lines, parse)
        .into_iter()
        .zip([20_000, 80_000])
    {
        let line = u32::try_from(count + 2).expect("small");
        assert_eq!(position(&result.expect_err("empty WHERE")), (line, 15));
    }
}

#[test]
fn long_identifiers_are_refused_in_one_pass() {
    let quoted = |chars: usize| format!("SELECT 1 AS x, `{}` FROM s;", "q".repeat(chars));
    for result in at_n_and_4n(300_000, quoted, parse) {
        assert_eq!(
            result.expect_err("too long").to_string(),
            format!(
                "line 1:16: identifier is longer than {} characters",
                crate::limits::IDENTIFIER_CHARS_MAX
            )
        );
    }
}

#[test]
fn unterminated_comments_and_quotes_are_scanned_once() {
    // Without its `*/`, each `/*` is two operator tokens; the search for `*/` is not redone.
    let comments = |count: usize| "/* ".repeat(count);
    let [small, large] = at_n_and_4n(100_000, comments, parse);
    let small = small.expect_err("no statement").to_string();
    assert!(small.starts_with("line 1:1: mismatched input '/' expecting {'SELECT',"));
    assert_eq!(small, large.expect_err("no statement").to_string());

    // An unterminated quote scans to the end once; every later quote closes a string.
    let quotes = |count: usize| format!("SELECT a FROM s WHERE b = '{}", "x ''".repeat(count));
    let [small, large] = at_n_and_4n(100_000, quotes, parse);
    assert_eq!(
        small.expect_err("unterminated").to_string(),
        large.expect_err("unterminated").to_string()
    );
    let ids = |count: usize| format!("SELECT a FROM s WHERE b = `{}", "x ``".repeat(count));
    let [small, large] = at_n_and_4n(100_000, ids, parse);
    assert_eq!(
        small.expect_err("unterminated").to_string(),
        large.expect_err("unterminated").to_string()
    );
}

#[test]
fn display_of_large_expressions_round_trips() {
    let in_list = |items: usize| {
        let values: Vec<String> = (0..items).map(|i| format!("'v{i}'")).collect();
        format!("a IN ({})", values.join(", "))
    };
    for (expr, items) in at_n_and_4n(24_000, in_list, parse_expression)
        .into_iter()
        .zip([24_000, 96_000])
    {
        let expr = expr.expect("within the node limit");
        let printed = expr.to_string();
        assert!(printed.starts_with("(A IN ('v0', 'v1',"));
        assert!(printed.ends_with(&format!("'v{}'))", items - 1)));
        assert_eq!(parse_expression(&printed).expect("reparses"), expr);
    }
}

#[test]
fn nesting_and_chains_together_measure_depth_exactly() {
    // Sixty levels, each a parenthesised chain whose first operand is the level inside:
    // the tree is 60 × 8 deep, under the limit, and each level's depth check is O(1).
    let mut nested = "a".to_string();
    for _ in 0..60 {
        nested = format!("({nested} + b + c + d + e + f + g + h)");
    }
    let expr = parse_expression(&nested).expect("480 levels is under the limit");
    assert_eq!(crate::sql::expr_parser::expr_depth(&expr), 60 * 7 + 1);
    // A longer chain outside passes the limit by tree depth, though no single chain is long.
    let too_deep = format!("{nested}{}", " + z".repeat(100));
    assert!(parse_expression(&too_deep)
        .expect_err("over 512 levels")
        .to_string()
        .ends_with(&format!(
            "expression is deeper than the maximum of {EXPRESSION_TREE_DEPTH_MAX} levels"
        )));
}

#[test]
fn variable_substitution_is_linear_and_bounded() {
    let vars: HashMap<String, String> = [("x".to_string(), "it's".to_string())].into();
    // `${` with no `}`: each reference is looked for once.
    let opens = |count: usize| format!("SELECT '{}' FROM s;", "${".repeat(count));
    for (result, count) in at_n_and_4n(100_000, opens, |sql| substitute_variables(sql, &vars))
        .into_iter()
        .zip([100_000, 400_000])
    {
        assert_eq!(result.expect("nothing to replace"), opens(count));
    }
    // Many `${` before one `}`: only the last names a variable.
    let nested = |count: usize| format!("SELECT '{}x}}' FROM s;", "${".repeat(count));
    for (result, count) in at_n_and_4n(100_000, nested, |sql| substitute_variables(sql, &vars))
        .into_iter()
        .zip([100_000, 400_000])
    {
        let expected = format!("SELECT '{}it''s' FROM s;", "${".repeat(count - 1));
        assert_eq!(result.expect("x is defined"), expected);
    }
    // A value is checked once however often it is used, and the output is bounded.
    let long: HashMap<String, String> = [("v".to_string(), "1".repeat(1_000))].into();
    let refs = |count: usize| format!("SELECT {} FROM s;", vec!["${v}"; count].join(", "));
    let ok = substitute_variables(&refs(1_000), &long).expect("1 MB of output");
    assert_eq!(ok.len(), refs(1_000).len() + 1_000 * (1_000 - "${v}".len()));
    let expected = format!(
        "SQL text after variable substitution is longer than the maximum of \
         {SUBSTITUTED_SQL_BYTES_MAX} bytes"
    );
    let error = substitute_variables(&refs(100_000), &long).expect_err("100 MB of output");
    assert_eq!(error.to_string(), expected);
    let in_string = format!("SELECT '{}' FROM s;", "${v}".repeat(100_000));
    let error = substitute_variables(&in_string, &long).expect_err("100 MB of output");
    assert_eq!(error.to_string(), expected);
}

#[test]
fn statement_splitting_is_linear() {
    let empties = |count: usize| ";\n".repeat(count);
    for result in at_n_and_4n(250_000, empties, parse) {
        assert!(result.expect("only separators").is_empty());
    }
    let shows = |count: usize| "SHOW STREAMS;".repeat(count);
    let [small, at_limit] = at_n_and_4n(250, shows, parse);
    assert_eq!(small.expect("250 statements").len(), 250);
    assert_eq!(at_limit.expect("1,000 statements").len(), 1_000);
    // Long statements keep their whole text.
    let long = |count: usize| format!("SELECT {} FROM s;SHOW TOPICS;", vec!["a"; count].join(","));
    for (result, count) in at_n_and_4n(20_000, long, parse)
        .into_iter()
        .zip([20_000, 80_000])
    {
        let parsed = result.expect("valid");
        assert_eq!(
            parsed[0].text.len(),
            "SELECT  FROM s;".len() + 2 * count - 1
        );
        assert_eq!(parsed[1].text, "SHOW TOPICS;");
    }
}

#[test]
fn explain_nesting_is_bounded() {
    let explains = |count: usize| format!("{} SELECT * FROM s;", "EXPLAIN ".repeat(count));
    for result in at_n_and_4n(2_500, explains, parse) {
        assert_eq!(
            result.expect_err("too deep").to_string(),
            format!(
                "line 1:{}: EXPLAIN nesting exceeds the maximum depth of {EXPRESSION_DEPTH_MAX}",
                (EXPRESSION_DEPTH_MAX + 1) * "EXPLAIN ".len() + 1
            )
        );
    }
    assert!(parse(&explains(3)).is_ok());
}

#[test]
fn type_trees_are_bounded_like_expressions() {
    // Each nesting level may add a long legacy `ARRAY` chain; together they pass the limit.
    let nested =
        |levels: usize| format!("{}INT{}", "ARRAY<".repeat(levels), " ARRAY>".repeat(levels));
    assert!(parse_type(&nested(EXPRESSION_DEPTH_MAX - 2)).is_ok());
    let level = format!("{}>", " ARRAY".repeat(100));
    let chained = format!("{}INT{}", "ARRAY<".repeat(60), level.repeat(60));
    assert!(parse_type(&chained)
        .expect_err("6,000 levels")
        .to_string()
        .ends_with(&format!(
            "expression is deeper than the maximum of {EXPRESSION_TREE_DEPTH_MAX} levels"
        )));
    let legacy = |links: usize| format!("INT{}", " ARRAY".repeat(links));
    let [small, large] = at_n_and_4n(30_000, legacy, parse_type);
    assert_eq!(
        small.expect_err("too deep").to_string(),
        large.expect_err("too deep").to_string()
    );
}
