//! `ORDER BY`, and `OFFSET`, in KalamDB `SELECT`s (its SQL is DataFusion's: a chat client's
//! first query is `… ORDER BY created_at DESC LIMIT 50`), which ksqlDB's pull queries have
//! not: the face runs the SELECT without them and orders and pages the rows itself.
//!
//! ```text
//!  SELECT … FROM t [WHERE …] ORDER BY k [ASC|DESC] [NULLS FIRST|LAST], … [LIMIT n] [OFFSET m]
//!     ─► SELECT …[, (k) AS `__ORDER_i` for keys that are not result columns] FROM t [WHERE …];
//!     ─► rows sorted (stable) by the keys ─► m skipped, n kept ─► hidden columns dropped
//! ```
//!
//! Nulls sort as DataFusion's (and PostgreSQL's) do by default: last ascending, first
//! descending. Numbers compare as numbers, strings by their bytes, false before true.

use std::cmp::Ordering;

use super::sql_tokens::{
    engine_ident, is_word, joined_text, statement_end, tokens, top_level, Kind, Token,
};
use crate::statement_table::Cell;

/// A SELECT whose ordering and paging the face applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    /// The SELECT without `ORDER BY`, `LIMIT` and `OFFSET`, with its `;`.
    pub sql: String,
    pub keys: Vec<OrderKey>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    pub by: OrderBy,
    pub descending: bool,
    /// Where nulls go: first or last.
    pub nulls_first: bool,
}

/// What a term orders by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderBy {
    /// A result column by its 1-based position (`ORDER BY 2`).
    Position(usize),
    /// A result column by name (an unquoted name upper-cased, as the engine names
    /// columns; a qualifier dropped), or else the expression with that text.
    Name { name: String, text: String },
    /// Any other expression, as written.
    Expression(String),
}

/// The alias of the `i`th hidden ordering column.
pub fn hidden_alias(i: usize) -> String {
    format!("__ORDER_{i}")
}

/// `sql` split into the SELECT the engine runs and the ordering the face applies; `None`
/// for anything but a SELECT with a top-level `ORDER BY` or `OFFSET` (a `LIMIT` alone stays
/// with the engine), `Err` for a malformed one.
pub fn split_order(sql: &str) -> Option<Result<Ordered, String>> {
    let toks = tokens(sql);
    let top = top_level(&toks, 0);
    let first = *top.first()?;
    if !is_word(&toks[first], "SELECT") {
        return None;
    }
    let order = top
        .iter()
        .position(|&i| is_word(&toks[i], "ORDER"))
        .filter(|&n| top.get(n + 1).is_some_and(|&j| is_word(&toks[j], "BY")));
    let offset_at = top.iter().position(|&i| is_word(&toks[i], "OFFSET"));
    if order.is_none() && offset_at.is_none() {
        return None;
    }
    let limit_at = top.iter().position(|&i| is_word(&toks[i], "LIMIT"));
    // The clauses the face takes start at the first of them.
    let cut = [order, limit_at, offset_at].into_iter().flatten().min()?;
    let end = statement_end(&toks);
    Some(
        parse_tail(&toks, &top, cut, end).map(|(keys, limit, offset)| Ordered {
            sql: format!("{};", joined_text(&toks[..top[cut]])),
            keys,
            limit,
            offset,
        }),
    )
}

type Tail = (Vec<OrderKey>, Option<usize>, usize);

/// Reads `ORDER BY …`, `LIMIT n` and `OFFSET m` (in that order, each optional) from the
/// top-level token `top[from]` up to token `end`.
fn parse_tail(toks: &[Token], top: &[usize], from: usize, end: usize) -> Result<Tail, String> {
    let solid: Vec<usize> = top[from..].iter().copied().filter(|&i| i < end).collect();
    let mut n = 0;
    let mut keys = Vec::new();
    if solid.get(n).is_some_and(|&i| is_word(&toks[i], "ORDER")) {
        n += 2; // ORDER BY
        let stop = solid[n..]
            .iter()
            .position(|&i| is_word(&toks[i], "LIMIT") || is_word(&toks[i], "OFFSET"))
            .map_or(end, |p| solid[n + p]);
        let start = *solid.get(n).ok_or("ORDER BY needs a column")?;
        keys = order_keys(toks, start, stop)?;
        n = solid.iter().position(|&i| i >= stop).unwrap_or(solid.len());
    }
    let mut limit = None;
    if solid.get(n).is_some_and(|&i| is_word(&toks[i], "LIMIT")) {
        limit = Some(count(toks, solid.get(n + 1).copied(), "LIMIT")?);
        n += 2;
    }
    let mut offset = 0;
    if solid.get(n).is_some_and(|&i| is_word(&toks[i], "OFFSET")) {
        offset = count(toks, solid.get(n + 1).copied(), "OFFSET")?;
        n += 2;
    }
    if let Some(&extra) = solid.get(n) {
        return Err(format!(
            "expected ORDER BY, LIMIT or OFFSET at the end of the SELECT, found '{}'",
            toks[extra].text
        ));
    }
    Ok((keys, limit, offset))
}

fn count(toks: &[Token], at: Option<usize>, what: &str) -> Result<usize, String> {
    at.and_then(|i| toks[i].text.parse::<usize>().ok())
        .ok_or_else(|| format!("{what} takes a whole number"))
}

/// The comma-separated terms in tokens `start..stop`.
fn order_keys(toks: &[Token], start: usize, stop: usize) -> Result<Vec<OrderKey>, String> {
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut term_start = start;
    for i in start..=stop {
        let at_end = i == stop;
        if !at_end {
            match toks[i].text.as_str() {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if at_end || (depth == 0 && toks[i].text == ",") {
            keys.push(order_key(&toks[term_start..i])?);
            term_start = i + 1;
        }
    }
    Ok(keys)
}

/// One term: an expression, then `ASC`/`DESC`, then `NULLS FIRST`/`NULLS LAST`.
fn order_key(term: &[Token]) -> Result<OrderKey, String> {
    let mut solid: Vec<usize> = (0..term.len())
        .filter(|&i| term[i].kind != Kind::Space)
        .collect();
    let mut nulls_first = None;
    if solid.len() >= 2 && is_word(&term[solid[solid.len() - 2]], "NULLS") {
        let last = &term[solid[solid.len() - 1]];
        nulls_first = Some(match last.text.to_ascii_uppercase().as_str() {
            "FIRST" => true,
            "LAST" => false,
            _ => return Err("NULLS takes FIRST or LAST".into()),
        });
        solid.truncate(solid.len() - 2);
    }
    let mut descending = false;
    if let Some(&last) = solid.last() {
        if is_word(&term[last], "DESC") || is_word(&term[last], "ASC") {
            descending = is_word(&term[last], "DESC");
            solid.pop();
        }
    }
    let (Some(&first), Some(&last)) = (solid.first(), solid.last()) else {
        return Err("ORDER BY needs a column or expression in each term".into());
    };
    let expr = &term[first..=last];
    let text = joined_text(expr);
    let names: Vec<&Token> = expr.iter().filter(|t| t.kind != Kind::Space).collect();
    // A column, maybe qualified (`m.ts`): the result names it without the qualifier.
    let column = match names.as_slice() {
        [t] => engine_ident(t),
        [_, dot, t] if dot.text == "." => engine_ident(t),
        _ => None,
    };
    let by = match (names.as_slice(), column) {
        ([t], _) if t.kind == Kind::Word && t.text.bytes().all(|b| b.is_ascii_digit()) => {
            match t.text.parse::<usize>() {
                Ok(p) if p >= 1 => OrderBy::Position(p),
                _ => return Err(format!("ORDER BY position {} is not a column", t.text)),
            }
        }
        (_, Some(name)) => OrderBy::Name { name, text },
        _ => OrderBy::Expression(text),
    };
    Ok(OrderKey {
        by,
        descending,
        nulls_first: nulls_first.unwrap_or(descending),
    })
}

/// `sql` (a SELECT, as in [`Ordered::sql`]) with one more result column per `(alias,
/// expression)`, after the select list.
pub fn with_hidden_columns(sql: &str, hidden: &[(String, String)]) -> String {
    let toks = tokens(sql);
    let top = top_level(&toks, 0);
    let Some(from) = top.iter().copied().find(|&i| is_word(&toks[i], "FROM")) else {
        return sql.to_string();
    };
    let extra: String = hidden
        .iter()
        .map(|(alias, expr)| format!(", ({expr}) AS `{alias}`"))
        .collect();
    format!(
        "{}{extra} {}",
        joined_text(&toks[..from]),
        joined_text(&toks[from..])
    )
}

/// Sorts `rows` (stable) by `keys`, each a column index with its direction.
pub fn sort_rows(rows: &mut [Vec<Cell>], keys: &[(usize, &OrderKey)]) {
    rows.sort_by(|a, b| {
        for (column, key) in keys {
            let ord = compare_cells(&a[*column], &b[*column], key);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// Two cells in `key`'s order.
fn compare_cells(a: &Cell, b: &Cell, key: &OrderKey) -> Ordering {
    let null_side = |is_a_null: bool| match (is_a_null, key.nulls_first) {
        (true, true) | (false, false) => Ordering::Less,
        _ => Ordering::Greater,
    };
    let ord = match (a, b) {
        (Cell::Null, Cell::Null) => return Ordering::Equal,
        (Cell::Null, _) => return null_side(true),
        (_, Cell::Null) => return null_side(false),
        (Cell::Text(x), Cell::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Cell::Json(x), Cell::Json(y)) => compare_json(x, y),
        // Mixed kinds (a column never mixes them): numbers and booleans before text.
        (Cell::Json(_), Cell::Text(_)) => Ordering::Less,
        (Cell::Text(_), Cell::Json(_)) => Ordering::Greater,
    };
    if key.descending {
        ord.reverse()
    } else {
        ord
    }
}

/// JSON scalars: numbers by value (whole numbers exactly), booleans false first, anything
/// else by its text.
fn compare_json(x: &str, y: &str) -> Ordering {
    if let (Ok(a), Ok(b)) = (x.parse::<i128>(), y.parse::<i128>()) {
        return a.cmp(&b);
    }
    if let (Ok(a), Ok(b)) = (x.parse::<f64>(), y.parse::<f64>()) {
        return a.total_cmp(&b);
    }
    x.cmp(y)
}

/// `rows` after skipping `offset` and keeping at most `limit`.
pub fn page(rows: Vec<Vec<Cell>>, offset: usize, limit: Option<usize>) -> Vec<Vec<Cell>> {
    rows.into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str) -> Ordered {
        split_order(sql).expect("ordered").expect("valid")
    }

    #[test]
    fn order_limit_and_offset_leave_the_select() {
        let o = split(
            "SELECT * FROM `app.m` WHERE room = 'a' ORDER BY ts DESC, m.id LIMIT 2 OFFSET 1;",
        );
        assert_eq!(o.sql, "SELECT * FROM `app.m` WHERE room = 'a';");
        assert_eq!(o.limit, Some(2));
        assert_eq!(o.offset, 1);
        assert_eq!(
            o.keys,
            vec![
                OrderKey {
                    by: OrderBy::Name {
                        name: "TS".into(),
                        text: "ts".into()
                    },
                    descending: true,
                    nulls_first: true
                },
                OrderKey {
                    by: OrderBy::Name {
                        name: "ID".into(),
                        text: "m.id".into()
                    },
                    descending: false,
                    nulls_first: false
                },
            ]
        );
        let o = split("select id from `app.m` order by LOWER(body) asc nulls first, 2");
        assert_eq!(o.sql, "select id from `app.m`;");
        assert_eq!(o.keys[0].by, OrderBy::Expression("LOWER(body)".into()));
        assert!(o.keys[0].nulls_first);
        assert_eq!(o.keys[1].by, OrderBy::Position(2));
        let o = split("SELECT * FROM `app.m` LIMIT 10 OFFSET 20");
        assert_eq!(
            (o.sql.as_str(), o.limit, o.offset),
            ("SELECT * FROM `app.m`;", Some(10), 20)
        );
    }

    #[test]
    fn only_selects_with_order_or_offset_are_split() {
        assert!(split_order("SELECT * FROM `app.m` LIMIT 3").is_none());
        assert!(split_order("SELECT * FROM `app.m` WHERE x IN (SELECT 1 ORDER BY 1)").is_none());
        assert!(split_order("INSERT INTO `app.m` (a) VALUES (1)").is_none());
        for bad in [
            "SELECT * FROM t ORDER BY",
            "SELECT * FROM t ORDER BY a LIMIT x",
            "SELECT * FROM t ORDER BY a NULLS SOMETIMES",
            "SELECT * FROM t ORDER BY 0",
            "SELECT * FROM t OFFSET 1 LIMIT 2",
        ] {
            assert!(matches!(split_order(bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn rows_sort_as_sql_does() {
        let text = |s: &str| Cell::Text(s.into());
        let num = |s: &str| Cell::Json(s.into());
        let mut rows = vec![
            vec![num("10"), text("b")],
            vec![Cell::Null, text("a")],
            vec![num("9.5"), text("c")],
            vec![num("10"), text("a")],
        ];
        let asc = OrderKey {
            by: OrderBy::Position(1),
            descending: false,
            nulls_first: false,
        };
        let desc = OrderKey {
            descending: true,
            nulls_first: true,
            ..asc.clone()
        };
        sort_rows(&mut rows, &[(0, &asc), (1, &asc)]);
        let firsts: Vec<String> = rows
            .iter()
            .map(|r| r[0].to_json_text() + &r[1].to_json_text())
            .collect();
        assert_eq!(firsts, ["9.5\"c\"", "10\"a\"", "10\"b\"", "null\"a\""]);
        sort_rows(&mut rows, &[(0, &desc)]);
        let firsts: Vec<String> = rows.iter().map(|r| r[0].to_json_text()).collect();
        assert_eq!(firsts, ["null", "10", "10", "9.5"]);
        assert_eq!(page(rows, 1, Some(2)).len(), 2);
        assert_eq!(
            with_hidden_columns(
                "SELECT id FROM `app.m` WHERE a = 1;",
                &[(hidden_alias(0), "LOWER(b)".into())]
            ),
            "SELECT id, (LOWER(b)) AS `__ORDER_0` FROM `app.m` WHERE a = 1;"
        );
    }
}
