//! KalamDB's `UPDATE` and `DELETE` (its SQL reference: `UPDATE t SET c = v, … WHERE …`,
//! `DELETE FROM t WHERE …`), which ksqlDB's SQL has not, as the pull query whose rows they
//! change:
//!
//! ```text
//!  DELETE FROM `ns.t` [WHERE c]            ─► SELECT * FROM `ns.t` [WHERE c];
//!  UPDATE `ns.t` SET a = e1, b = e2 [WHERE c]
//!      ─► SELECT *, (e1) AS `__SET_0`, (e2) AS `__SET_1` FROM `ns.t` [WHERE c];  columns [A, B]
//! ```
//!
//! The face scopes that SELECT like any other (`user_scope`) and the engine writes a
//! tombstone, or the row with the set columns replaced, for each row it finds. A SET value
//! is any expression over the row (`SET n = n + 1`), as in KalamDB.

use super::sql_tokens::{
    engine_ident, is_word, joined_text, next_solid, statement_end, tokens, Kind, Token,
};

/// An `UPDATE` or `DELETE`, ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dml {
    /// The pull query whose rows change: `SELECT *` (then one column per set value).
    pub select: String,
    pub change: DmlChange,
}

/// What happens to each row the query finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmlChange {
    Delete,
    /// The columns set, in the order of the query's trailing columns (engine names:
    /// unquoted names upper-cased, quoted ones as written).
    Update {
        columns: Vec<String>,
    },
}

impl Dml {
    /// KalamDB's message for `n` changed rows (`Updated 2 row(s)`).
    pub fn message(&self, n: u64) -> String {
        match self.change {
            DmlChange::Delete => format!("Deleted {n} row(s)"),
            DmlChange::Update { .. } => format!("Updated {n} row(s)"),
        }
    }
}

/// The alias of the `n`th set value in [`Dml::select`].
fn set_alias(n: usize) -> String {
    format!("`__SET_{n}`")
}

/// `sql` (one statement, its names qualified by the dialect) as a [`Dml`]; `None` when it
/// is neither `UPDATE` nor `DELETE`, `Err` with the reason when it is one but malformed.
pub fn parse_dml(sql: &str) -> Option<Result<Dml, String>> {
    let toks = tokens(sql);
    let solid: Vec<&Token> = toks.iter().filter(|t| t.kind != Kind::Space).collect();
    let first = solid.first()?;
    if first.kind != Kind::Word {
        return None;
    }
    match first.text.to_ascii_uppercase().as_str() {
        "DELETE" => Some(delete(&toks)),
        "UPDATE" => Some(update(&toks)),
        _ => None,
    }
}

/// The table name at `at` (a word, or a quoted name: not a string) and the index after it.
fn table_at(toks: &[Token], at: Option<usize>) -> Option<(String, usize)> {
    let at = at?;
    let t = &toks[at];
    let name = match t.kind {
        Kind::Word => true,
        Kind::Quoted => !t.text.starts_with('\''),
        _ => false,
    };
    name.then(|| (t.text.clone(), at + 1))
}

/// The statement's end from `from`: nothing, or `WHERE <condition>`, then an optional `;`.
/// The condition's text, if any.
fn where_tail(toks: &[Token], from: usize) -> Result<Option<String>, String> {
    // A trailing `;` is the statement's end, not the condition's.
    let end = statement_end(toks);
    let Some(at) = next_solid(&toks[..end], from) else {
        return Ok(None);
    };
    if !is_word(&toks[at], "WHERE") {
        return Err(format!(
            "expected WHERE or the end of the statement, found '{}'",
            toks[at].text
        ));
    }
    let condition = joined_text(&toks[at + 1..end]);
    if condition.is_empty() {
        return Err("WHERE needs a condition".into());
    }
    Ok(Some(condition))
}

fn select(table: &str, extra: &str, condition: Option<String>) -> String {
    let filter = condition.map(|c| format!(" WHERE {c}")).unwrap_or_default();
    format!("SELECT *{extra} FROM {table}{filter};")
}

/// `DELETE FROM t [WHERE c]`.
fn delete(toks: &[Token]) -> Result<Dml, String> {
    const SHAPE: &str = "DELETE takes FROM <table> [WHERE <condition>]";
    let delete = next_solid(toks, 0).ok_or(SHAPE)?;
    let from = next_solid(toks, delete + 1).filter(|&i| is_word(&toks[i], "FROM"));
    let (table, after) = table_at(toks, from.and_then(|f| next_solid(toks, f + 1))).ok_or(SHAPE)?;
    let condition = where_tail(toks, after)?;
    Ok(Dml {
        select: select(&table, "", condition),
        change: DmlChange::Delete,
    })
}

/// `UPDATE t SET a = e [, b = e …] [WHERE c]`.
fn update(toks: &[Token]) -> Result<Dml, String> {
    const SHAPE: &str = "UPDATE takes <table> SET <column> = <value>[, …] [WHERE <condition>]";
    let update = next_solid(toks, 0).ok_or(SHAPE)?;
    let (table, after) = table_at(toks, next_solid(toks, update + 1)).ok_or(SHAPE)?;
    let set = next_solid(toks, after)
        .filter(|&i| is_word(&toks[i], "SET"))
        .ok_or(SHAPE)?;
    let mut columns: Vec<String> = Vec::new();
    let mut values = String::new();
    let mut i = set + 1;
    loop {
        let at = next_solid(toks, i).ok_or(SHAPE)?;
        let column = engine_ident(&toks[at]).ok_or(SHAPE)?;
        let eq = next_solid(toks, at + 1)
            .filter(|&e| toks[e].text == "=")
            .ok_or(SHAPE)?;
        // The value runs to a `,` or WHERE outside parentheses, or the statement's end.
        let mut depth = 0usize;
        let mut end = eq + 1;
        while end < toks.len() {
            let t = &toks[end];
            match t.text.as_str() {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                "," | ";" if depth == 0 => break,
                _ if depth == 0 && is_word(t, "WHERE") => break,
                _ => {}
            }
            end += 1;
        }
        let value = joined_text(&toks[eq + 1..end]);
        if value.is_empty() {
            return Err(format!("SET {column} needs a value"));
        }
        if columns.contains(&column) {
            return Err(format!("column {column} is set twice"));
        }
        values.push_str(&format!(", ({value}) AS {}", set_alias(columns.len())));
        columns.push(column);
        match toks.get(end).map(|t| t.text.as_str()) {
            Some(",") => i = end + 1,
            _ => {
                let condition = where_tail(toks, end)?;
                return Ok(Dml {
                    select: select(&table, &values, condition),
                    change: DmlChange::Update { columns },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dml(sql: &str) -> Dml {
        parse_dml(sql).expect("a DML statement").expect("valid")
    }

    #[test]
    fn delete_reads_the_rows_it_deletes() {
        let d = dml("DELETE FROM `app.notes` WHERE id = 'n1';");
        assert_eq!(d.select, "SELECT * FROM `app.notes` WHERE id = 'n1';");
        assert_eq!(d.change, DmlChange::Delete);
        assert_eq!(d.message(2), "Deleted 2 row(s)");
        let d = dml("delete from `app.notes`");
        assert_eq!(d.select, "SELECT * FROM `app.notes`;");
    }

    #[test]
    fn update_selects_each_new_value_beside_the_row() {
        let d = dml(
            "UPDATE `app.cart` SET quantity = quantity + 1, \"Note\" = CONCAT(note, ', x') WHERE id = 7;",
        );
        assert_eq!(
            d.select,
            "SELECT *, (quantity + 1) AS `__SET_0`, (CONCAT(note, ', x')) AS `__SET_1` \
             FROM `app.cart` WHERE id = 7;"
        );
        assert_eq!(
            d.change,
            DmlChange::Update {
                columns: vec!["QUANTITY".into(), "Note".into()]
            }
        );
        assert_eq!(d.message(1), "Updated 1 row(s)");
        let d = dml("update `app.t` set v = 'a,b'");
        assert_eq!(d.select, "SELECT *, ('a,b') AS `__SET_0` FROM `app.t`;");
    }

    #[test]
    fn other_statements_are_not_dml_and_bad_ones_say_why() {
        assert!(parse_dml("SELECT * FROM `app.t`").is_none());
        assert!(parse_dml("INSERT INTO `app.t` (a) VALUES (1)").is_none());
        for bad in [
            "DELETE `app.t`",
            "DELETE FROM 'app.t'",
            "DELETE FROM `app.t` USING x",
            "DELETE FROM `app.t` WHERE",
            "UPDATE `app.t` v = 1",
            "UPDATE `app.t` SET v 1",
            "UPDATE `app.t` SET v = ",
            "UPDATE `app.t` SET v = 1, v = 2",
            "UPDATE `app.t` SET 'v' = 1",
        ] {
            assert!(matches!(parse_dml(bad), Some(Err(_))), "{bad}");
        }
    }
}
