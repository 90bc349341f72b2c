//! USER and STREAM tables: every row belongs to the user who wrote it, and each user reads
//! and writes only their own rows (KalamDB's per-user tables, other-faces.md §C(b); its
//! STREAM rows are user-scoped too). "USER table" below means either.
//!
//! ```text
//!  CREATE TABLE ns.t (id …) WITH (TYPE='USER')
//!      ─► CREATE TABLE `ns.t` (`_user` STRING PRIMARY KEY, id …) WITH (…, key_format='JSON')
//!  CREATE TABLE ns.s (id …) WITH (TYPE='STREAM')
//!      ─► CREATE STREAM `ns.s` (`_user` STRING KEY, id …) WITH (…, key_format='JSON')
//!  INSERT INTO `ns.t` (cols) VALUES (…)  ─► INSERT INTO `ns.t` (`_user`, cols) VALUES ('alice', …)
//!  SELECT … FROM `ns.t` [a] [WHERE c] …  ─► SELECT … FROM `ns.t` [a] WHERE (c) AND [a.]`_user` = 'alice' …
//!  DESCRIBE / DROP TABLE                 ─► unchanged (the face hides `_user` in what it answers)
//!  anything else naming a USER table     ─► refused
//! ```
//!
//! Why a hidden key column rather than a table per user: the table stays one source over one
//! topic, so routes (`ALTER TOPIC … ADD SOURCE`), DESCRIBE and DROP see it whole, and with the
//! owner as the key's first part two users' rows with the same id stay apart.
//!
//! Why refuse the rest (joins, CSAS, PRINT of the table's topic, …): a statement this module
//! cannot scope must not read other users' rows, so it fails closed. A reference is any
//! quoted token naming a USER table, wherever it stands, not only where a source name goes.

use super::sql_tokens::{bare, matching, tokens, top_level, Kind, Token};

/// The hidden column holding a row's owner; the first part of a USER table's key. KalamDB
/// reserves `_`-names for its system columns, so no user column can be called this.
pub const OWNER_COLUMN: &str = "_user";

/// The owner column as a USER table's (or, `in_stream`, a STREAM table's) engine statement
/// declares it, before its own columns.
pub fn owner_column_definition(in_stream: bool) -> String {
    let key = if in_stream { "KEY" } else { "PRIMARY KEY" };
    format!("`{OWNER_COLUMN}` STRING {key}")
}

/// What limits a per-user table's reads besides its owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerUserTable {
    /// A STREAM table with `TTL_SECONDS`: rows stamped (ROWTIME, ms) before this have
    /// outlived it and are not read.
    pub visible_since_ms: Option<i64>,
}

/// A statement made safe for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoped {
    /// The statement to run.
    pub sql: String,
    /// It names a USER table: its results must not show [`OWNER_COLUMN`].
    pub user_table: bool,
}

/// Clause keywords that end a `WHERE` (or mark where one goes) at the statement's top level.
const CLAUSE_WORDS: &[&str] = &[
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "EMIT",
    "PARTITION",
];

/// Words that end a `FROM` source without being its alias.
const AFTER_SOURCE_WORDS: &[&str] = &[
    "WHERE",
    "WINDOW",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "EMIT",
    "PARTITION",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "CROSS",
];

/// `sql` (one engine statement, names already qualified by the dialect) scoped to `owner`'s
/// rows of every USER table it names; `per_user` tells a USER table by engine name, and
/// what else limits its reads. `Err` says why a statement naming a USER table cannot be
/// scoped.
pub fn scope_statement(
    sql: &str,
    per_user: &dyn Fn(&str) -> Option<PerUserTable>,
    owner: &str,
) -> Result<Scoped, String> {
    let toks = tokens(sql);
    let is_user_table = |name: &str| per_user(name).is_some();
    let refs: Vec<usize> = (0..toks.len())
        .filter(|&i| names_user_table(&toks[i], &is_user_table))
        .collect();
    let Some(&first_ref) = refs.first() else {
        return Ok(Scoped {
            sql: sql.to_string(),
            user_table: false,
        });
    };
    let table = bare(&toks[first_ref]);
    if !balanced(&toks) {
        // `WHERE a) OR (b` would otherwise wrap into `(a) OR (b) AND owner`.
        return Err(format!(
            "the statement's parentheses do not pair up, so its reads of the USER table \
             '{table}' cannot be kept to your rows"
        ));
    }
    let solid: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].kind != Kind::Space)
        .collect();
    let word = |n: usize| solid.get(n).map(|&i| upper(&toks[i]));
    let scoped = match word(0).as_deref() {
        Some("DESCRIBE") | Some("DROP") => Some(sql.to_string()),
        Some("SELECT") if refs.len() == 1 => {
            let limits = per_user(&table.to_lowercase()).unwrap_or_default();
            scope_select(&toks, first_ref, owner, limits)
        }
        Some("INSERT") if refs.len() == 1 && solid.get(2) == Some(&first_ref) => {
            scope_insert(&toks, first_ref, owner)?
        }
        _ => None,
    };
    match scoped {
        Some(sql) => Ok(Scoped {
            sql,
            user_table: true,
        }),
        None => Err(format!(
            "'{table}' is a USER table: each user reads it with a SELECT from it alone (no \
             joins) and writes it with INSERT … VALUES; this statement would reach other \
             users' rows"
        )),
    }
}

/// `EXECUTE AS USER 'name' ( statement )` (KalamDB 0.5; later versions drop `USER`): the
/// user to act as and the one statement to run as them. `None` when `sql` is not such a
/// wrapper; `Err` when it is one but malformed.
pub fn execute_as(sql: &str) -> Option<Result<(String, String), String>> {
    let head = sql.trim_start().get(..7)?;
    if !head.eq_ignore_ascii_case("EXECUTE") {
        return None;
    }
    let toks = tokens(sql);
    let solid: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].kind != Kind::Space)
        .collect();
    let word = |n: usize| solid.get(n).map(|&i| upper(&toks[i]));
    if word(0).as_deref() != Some("EXECUTE") || word(1).as_deref() != Some("AS") {
        return None;
    }
    let usage = "EXECUTE AS USER 'name' ( <one statement> )";
    let name_at = if word(2).as_deref() == Some("USER") {
        3
    } else {
        2
    };
    let name = solid
        .get(name_at)
        .map(|&i| &toks[i])
        .filter(|t| t.kind == Kind::Quoted && t.text.starts_with('\''))
        .and_then(super::sql_tokens::quoted_text);
    let Some(name) = name else {
        return Some(Err(format!("the user must be single-quoted: {usage}")));
    };
    let Some(&open) = solid.get(name_at + 1).filter(|&&i| toks[i].text == "(") else {
        return Some(Err(format!("the statement goes in parentheses: {usage}")));
    };
    let Some(close) = matching(&toks, open) else {
        return Some(Err(format!("the parentheses do not close: {usage}")));
    };
    let trailing_ok = toks[close + 1..]
        .iter()
        .all(|t| t.kind == Kind::Space || t.text == ";");
    let inner: String = toks[open + 1..close]
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    let inner = inner.trim().trim_end_matches(';').trim_end().to_string();
    if !trailing_ok || inner.is_empty() || tokens(&inner).iter().any(|t| t.text == ";") {
        return Some(Err(format!(
            "EXECUTE AS wraps exactly one statement: {usage}"
        )));
    }
    Some(Ok((name, inner)))
}

/// The table a `DROP TABLE|STREAM [IF EXISTS] `ns.t`` statement drops (as the dialect
/// quoted it), so the face can forget what it kept of it.
pub fn dropped_table(sql: &str) -> Option<String> {
    let toks = tokens(sql);
    let mut solid = toks.iter().filter(|t| t.kind != Kind::Space);
    let drop = solid.next()?;
    let what = solid.next()?;
    if upper(drop) != "DROP" || !matches!(upper(what).as_str(), "TABLE" | "STREAM") {
        return None;
    }
    let name = solid.find(|t| !matches!(upper(t).as_str(), "IF" | "EXISTS"))?;
    (name.kind == Kind::Quoted && !name.text.starts_with('\'')).then(|| bare(name))
}

/// True when every `)` closes an earlier `(` and every `(` is closed (quoted text and
/// comments are tokens of their own, so their parentheses do not count).
fn balanced(toks: &[Token]) -> bool {
    let mut depth = 0usize;
    for t in toks {
        match t.text.as_str() {
            "(" => depth += 1,
            ")" => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0
}

/// True when `t` names a USER table: a quoted name (or a `'…'` literal, as `PRINT` takes a
/// topic) whose text is one. Names are compared lower-case, so a spelling the engine would
/// not resolve is refused rather than let through.
fn names_user_table(t: &Token, is_user_table: &dyn Fn(&str) -> bool) -> bool {
    t.kind == Kind::Quoted && is_user_table(&bare(t).to_lowercase())
}

fn upper(t: &Token) -> String {
    t.text.to_ascii_uppercase()
}

/// `SELECT … FROM <source> [[AS] alias] [WINDOW …] [WHERE c] …` with the owner's predicate
/// (and a TTL's) added; `None` unless the one source is the FROM's and nothing is joined.
fn scope_select(
    toks: &[Token],
    source: usize,
    owner: &str,
    limits: PerUserTable,
) -> Option<String> {
    let top = top_level(toks, 0);
    let from_at = top.iter().position(|&i| upper(&toks[i]) == "FROM")?;
    if top.get(from_at + 1) != Some(&source) {
        return None;
    }
    let after: Vec<usize> = top[from_at + 2..].to_vec();
    if after.iter().any(|&i| upper(&toks[i]) == "JOIN") {
        return None;
    }
    // `[AS] alias`: the column is then qualified by it.
    let mut rest = after.as_slice();
    if rest.first().is_some_and(|&i| upper(&toks[i]) == "AS") {
        rest = &rest[1..];
    }
    let alias = rest
        .first()
        .filter(|&&i| {
            matches!(toks[i].kind, Kind::Word | Kind::Quoted)
                && !toks[i].text.starts_with('\'')
                && !AFTER_SOURCE_WORDS.contains(&upper(&toks[i]).as_str())
        })
        .map(|&i| toks[i].text.clone());
    let qualified = |column: &str| match &alias {
        Some(a) => format!("{a}.{column}"),
        None => column.to_string(),
    };
    let mut predicate = format!(
        "{} = {}",
        qualified(&format!("`{OWNER_COLUMN}`")),
        literal(owner)
    );
    if let Some(since) = limits.visible_since_ms {
        predicate.push_str(&format!(" AND {} >= {since}", qualified("ROWTIME")));
    }
    let is_end = |i: usize| toks[i].text == ";" || CLAUSE_WORDS.contains(&upper(&toks[i]).as_str());
    let text = |range: &[Token]| range.iter().map(|t| t.text.as_str()).collect::<String>();
    if let Some(&where_at) = after.iter().find(|&&i| upper(&toks[i]) == "WHERE") {
        let end = after
            .iter()
            .copied()
            .find(|&i| i > where_at && is_end(i))
            .unwrap_or(toks.len());
        let condition = without_trailing_blanks(&toks[where_at + 1..end]);
        return Some(format!(
            "{} ({}{}) AND {predicate}{}{}",
            text(&toks[..=where_at]),
            text(condition).trim_start(),
            after_comment(condition),
            gap(toks, end),
            text(&toks[end..])
        ));
    }
    // No WHERE: one goes after the source, its alias and any WINDOW clause.
    let at = after
        .iter()
        .copied()
        .find(|&i| is_end(i))
        .unwrap_or(toks.len());
    let head = without_trailing_blanks(&toks[..at]);
    Some(format!(
        "{}{}WHERE {predicate}{}{}",
        text(head),
        match after_comment(head) {
            "" => " ",
            newline => newline,
        },
        gap(toks, at),
        text(&toks[at..])
    ))
}

/// `toks` without the whitespace at its end (comments stay).
fn without_trailing_blanks(mut toks: &[Token]) -> &[Token] {
    while let Some((last, rest)) = toks.split_last() {
        if last.kind != Kind::Space || !last.text.chars().all(char::is_whitespace) {
            break;
        }
        toks = rest;
    }
    toks
}

/// What must follow `toks` before more SQL: a newline after a `--` comment (which would
/// swallow the rest of the line, predicate and all), else nothing.
fn after_comment(toks: &[Token]) -> &'static str {
    match toks.last() {
        Some(t) if t.kind == Kind::Space && t.text.starts_with("--") => "\n",
        _ => "",
    }
}

/// A space between inserted SQL and the token at `at`, unless there is none or it is one.
fn gap(toks: &[Token], at: usize) -> &'static str {
    match toks.get(at) {
        Some(t) if t.kind != Kind::Space => " ",
        _ => "",
    }
}

/// `INSERT INTO <table> [(cols)] VALUES (…)[, (…)]` with the owner as the first column of
/// every row; `Ok(None)` for any other INSERT (e.g. `INSERT INTO … SELECT`), `Err` when the
/// statement names the owner column itself.
fn scope_insert(toks: &[Token], table: usize, owner: &str) -> Result<Option<String>, String> {
    let top = top_level(toks, table + 1);
    let Some(&next) = top.first() else {
        return Ok(None);
    };
    let list = if toks[next].text == "(" {
        let close = matching(toks, next).ok_or("the column list is not closed")?;
        let names_owner = toks[next + 1..close].iter().any(|t| {
            matches!(t.kind, Kind::Word | Kind::Quoted)
                && bare(t).eq_ignore_ascii_case(OWNER_COLUMN)
        });
        if names_owner {
            return Err(format!(
                "'{OWNER_COLUMN}' is the row owner's column of a USER table; rows are always \
                 written as the signed-in user"
            ));
        }
        Some((next, close))
    } else {
        None
    };
    let values_from = list.map_or(table + 1, |(_, close)| close + 1);
    let after_list = top_level(toks, values_from);
    if after_list.first().map(|&i| upper(&toks[i])).as_deref() != Some("VALUES") {
        return Ok(None);
    }
    let rows: Vec<usize> = after_list
        .iter()
        .copied()
        .filter(|&i| toks[i].text == "(")
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let owner = literal(owner);
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        out.push_str(&t.text);
        if list.is_some_and(|(open, _)| open == i) {
            out.push_str(&format!("`{OWNER_COLUMN}`, "));
        }
        if rows.contains(&i) {
            out.push_str(&owner);
            out.push_str(", ");
        }
    }
    Ok(Some(out))
}

/// `text` as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `app.notes` is a USER table, `app.typing` a STREAM table whose TTL hides rows
    /// stamped before 1000.
    fn notes(name: &str) -> Option<PerUserTable> {
        match name {
            "app.notes" => Some(PerUserTable::default()),
            "app.typing" => Some(PerUserTable {
                visible_since_ms: Some(1000),
            }),
            _ => None,
        }
    }

    fn scoped(sql: &str) -> Result<Scoped, String> {
        scope_statement(sql, &notes, "alice")
    }

    fn ok(sql: &str) -> String {
        let s = scoped(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(s.user_table, "{sql}");
        s.sql
    }

    #[test]
    fn statements_on_other_tables_pass_unchanged() {
        let sql = "SELECT * FROM `app.other` WHERE x = 'app.note';";
        assert_eq!(
            scoped(sql),
            Ok(Scoped {
                sql: sql.into(),
                user_table: false
            })
        );
    }

    #[test]
    fn a_stream_tables_ttl_hides_older_rows_as_its_owner_predicate_does() {
        assert_eq!(
            ok("SELECT * FROM `app.typing`"),
            "SELECT * FROM `app.typing` WHERE `_user` = 'alice' AND ROWTIME >= 1000"
        );
        assert_eq!(
            ok("SELECT t.id FROM `app.typing` t WHERE t.id = 1 OR 1 = 1 LIMIT 2"),
            "SELECT t.id FROM `app.typing` t WHERE (t.id = 1 OR 1 = 1) AND t.`_user` = 'alice' \
             AND t.ROWTIME >= 1000 LIMIT 2"
        );
        // An insert is not limited by the TTL: the row it writes is new.
        assert_eq!(
            ok("INSERT INTO `app.typing` (id) VALUES (1)"),
            "INSERT INTO `app.typing` (`_user`, id) VALUES ('alice', 1)"
        );
    }

    #[test]
    fn a_select_gets_the_owner_predicate_with_or_without_a_where() {
        assert_eq!(
            ok("SELECT * FROM `app.notes`;"),
            "SELECT * FROM `app.notes` WHERE `_user` = 'alice' ;"
        );
        assert_eq!(
            ok("SELECT id FROM `app.notes` WHERE id = 1 OR body = 'x' LIMIT 5"),
            "SELECT id FROM `app.notes` WHERE (id = 1 OR body = 'x') AND `_user` = 'alice' LIMIT 5"
        );
        assert_eq!(
            ok("SELECT n.id FROM `app.notes` AS n EMIT CHANGES"),
            "SELECT n.id FROM `app.notes` AS n WHERE n.`_user` = 'alice' EMIT CHANGES"
        );
        assert_eq!(
            ok("SELECT COUNT(*) FROM `app.notes` n WHERE (a) GROUP BY x"),
            "SELECT COUNT(*) FROM `app.notes` n WHERE ((a)) AND n.`_user` = 'alice' GROUP BY x"
        );
        // A FROM inside a function call is not the statement's.
        assert_eq!(
            ok("SELECT TRIM(LEADING 'x' FROM body) FROM `app.notes`"),
            "SELECT TRIM(LEADING 'x' FROM body) FROM `app.notes` WHERE `_user` = 'alice'"
        );
    }

    #[test]
    fn the_owner_is_quoted_as_a_literal() {
        let s = scope_statement("SELECT * FROM `app.notes`", &notes, "o'hara").unwrap();
        assert!(s.sql.ends_with("`_user` = 'o''hara'"), "{}", s.sql);
    }

    #[test]
    fn an_insert_writes_the_owner_first_in_every_row() {
        assert_eq!(
            ok("INSERT INTO `app.notes` (id, body) VALUES (1, 'a'), (2, 'b')"),
            "INSERT INTO `app.notes` (`_user`, id, body) VALUES ('alice', 1, 'a'), ('alice', 2, 'b')"
        );
        assert_eq!(
            ok("INSERT INTO `app.notes` VALUES (1, 'a');"),
            "INSERT INTO `app.notes` VALUES ('alice', 1, 'a');"
        );
    }

    #[test]
    fn naming_the_owner_column_in_an_insert_is_refused() {
        for sql in [
            "INSERT INTO `app.notes` (`_user`, id) VALUES ('bob', 1)",
            "INSERT INTO `app.notes` (_USER, id) VALUES ('bob', 1)",
        ] {
            let e = scoped(sql).unwrap_err();
            assert!(e.contains("owner"), "{e}");
        }
    }

    #[test]
    fn statements_it_cannot_scope_are_refused() {
        for sql in [
            "SELECT * FROM `app.notes` JOIN `app.other` ON a = b",
            "SELECT * FROM `app.other` o JOIN `app.notes` n WITHIN 1 HOUR ON o.a = n.b",
            "CREATE STREAM s AS SELECT * FROM `app.notes`",
            "INSERT INTO `app.notes` SELECT * FROM `app.other`",
            "INSERT INTO `app.other` SELECT * FROM `app.notes`",
            "PRINT 'app.notes' FROM BEGINNING",
            "SELECT * FROM `app.notes`, `app.notes`",
            "SELECT * FROM `app.notes` WHERE a = 1) OR (1 = 1",
            "SELECT * FROM `app.notes` WHERE (a = 1",
            "INSERT INTO `app.notes` (id) VALUES (1))",
        ] {
            assert!(scoped(sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn comments_cannot_carry_the_predicate_away() {
        // A WHERE and a LIMIT inside comments are not the statement's: the predicate goes
        // outside them, where the engine reads it.
        let sql = ok("SELECT * FROM `app.notes` /* WHERE */ /* LIMIT */");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` /* WHERE */ /* LIMIT */ WHERE `_user` = 'alice'"
        );
        let sql = ok("SELECT * FROM `app.notes` -- WHERE\n");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` -- WHERE\nWHERE `_user` = 'alice'"
        );
        // A line comment at the very end would swallow a predicate put on its line.
        let sql = ok("SELECT * FROM `app.notes` -- c");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` -- c\nWHERE `_user` = 'alice'"
        );
        let sql = ok("SELECT * FROM `app.notes` WHERE a -- c");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` WHERE (a -- c\n) AND `_user` = 'alice'"
        );
        let sql = ok("SELECT * FROM `app.notes` WHERE a -- c\nLIMIT 1");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` WHERE (a -- c\n) AND `_user` = 'alice' LIMIT 1"
        );
        // An unclosed `/*` is two operators to the engine, and the scope still lands.
        let sql = ok("SELECT * FROM `app.notes` WHERE a /* b");
        assert_eq!(
            sql,
            "SELECT * FROM `app.notes` WHERE (a /* b) AND `_user` = 'alice'"
        );
    }

    #[test]
    fn execute_as_unwraps_one_statement() {
        assert_eq!(
            execute_as("EXECUTE AS USER 'bob' ( SELECT * FROM app.notes WHERE a = ';' );"),
            Some(Ok((
                "bob".into(),
                "SELECT * FROM app.notes WHERE a = ';'".into()
            )))
        );
        assert_eq!(
            execute_as("execute as 'o''hara' (INSERT INTO t (a) VALUES (1))"),
            Some(Ok(("o'hara".into(), "INSERT INTO t (a) VALUES (1)".into())))
        );
        assert_eq!(execute_as("SELECT 1"), None);
        for bad in [
            "EXECUTE AS USER bob (SELECT 1)",
            "EXECUTE AS USER 'bob' SELECT 1",
            "EXECUTE AS USER 'bob' (SELECT 1; SELECT 2)",
            "EXECUTE AS USER 'bob' (SELECT 1) SELECT 2",
            "EXECUTE AS USER 'bob' ()",
            "EXECUTE AS USER 'bob' (SELECT (1)",
        ] {
            assert!(matches!(execute_as(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn a_drop_names_its_table() {
        assert_eq!(
            dropped_table("DROP TABLE IF EXISTS `app.notes` DELETE TOPIC;"),
            Some("app.notes".into())
        );
        assert_eq!(dropped_table("DROP STREAM `a.b`"), Some("a.b".into()));
        assert_eq!(dropped_table("DROP TABLE plain;"), None);
        assert_eq!(dropped_table("DROP TYPE `a.b`;"), None);
    }

    #[test]
    fn describe_and_drop_name_the_table_unchanged() {
        assert_eq!(ok("DESCRIBE `app.notes`;"), "DESCRIBE `app.notes`;");
        assert_eq!(ok("DROP TABLE `app.notes`;"), "DROP TABLE `app.notes`;");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Pieces that move where a clause starts or ends: comments of both kinds, quotes,
        /// parentheses, clause words.
        const PIECES: &[&str] = &[
            " ",
            "\n",
            "-- c",
            "-- WHERE",
            "/* WHERE */",
            "/* LIMIT */",
            "/*",
            "*/",
            "WHERE",
            "a = 1",
            "OR",
            "'it''s'",
            "'--'",
            "`x`",
            "(",
            ")",
            "GROUP BY x",
            "LIMIT 1",
            "EMIT CHANGES",
            "WINDOW TUMBLING (SIZE 1 SECOND)",
            ";",
            "n",
            "AS",
        ];

        proptest! {
            /// Whatever follows the source, a statement that is let through carries the
            /// owner's predicate as tokens of its own (not inside a comment or a string),
            /// and its parentheses pair up.
            #[test]
            fn the_predicate_is_never_hidden(picks in prop::collection::vec(0..PIECES.len(), 0..12)) {
                let tail: Vec<&str> = picks.iter().map(|&i| PIECES[i]).collect();
                let sql = format!("SELECT * FROM `app.notes` {}", tail.join(" "));
                if let Ok(scoped) = scope_statement(&sql, &notes, "alice") {
                    let toks = tokens(&scoped.sql);
                    prop_assert!(balanced(&toks), "{}", scoped.sql);
                    let solid: Vec<&str> = toks
                        .iter()
                        .filter(|t| t.kind != Kind::Space)
                        .map(|t| t.text.as_str())
                        .collect();
                    let found = solid
                        .windows(3)
                        .any(|w| w == ["`_user`", "=", "'alice'"]);
                    prop_assert!(found, "{}", scoped.sql);
                }
            }
        }
    }
}
