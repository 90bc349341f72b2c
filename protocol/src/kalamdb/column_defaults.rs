//! KalamDB's column `DEFAULT`s, which the engine's tables do not have: `CREATE TABLE`
//! hands them to the face (and the engine gets the table without them), and an `INSERT`
//! that leaves such a column out gets the column and a value from the face.
//!
//! ```text
//! CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT)
//!   → engine: CREATE TABLE `app.notes` (id BIGINT PRIMARY KEY, body STRING) …
//!   → face:   app.notes.ID = SNOWFLAKE_ID()
//! INSERT INTO app.notes (body) VALUES ('hi')
//!   → INSERT INTO app.notes (body, id) VALUES ('hi', 7405637402132480000)
//! ```
//!
//! Defaults: `SNOWFLAKE_ID()`, `UUID_V7()`, `ULID()`, `NOW()` / `CURRENT_TIMESTAMP`,
//! `CURRENT_USER()`, and literals (numbers, `'strings'`, `TRUE`, `FALSE`, `NULL`).

use serde::{Deserialize, Serialize};

use super::sql_tokens::{bare, matching, source_name, tokens, Kind, Token};

/// Most defaults one table may declare (one per column at most; a bound on what a
/// statement can make the face keep).
pub const DEFAULTS_PER_TABLE_MAX: usize = 256;

/// What a default is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultValue {
    SnowflakeId,
    UuidV7,
    Ulid,
    Now,
    CurrentUser,
    /// A literal, as written (`0`, `'n/a'`, `TRUE`, `NULL`).
    Literal(String),
}

/// One column's default: the column (upper-cased unless quoted, as the engine names it),
/// its engine type, and the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDefault {
    pub column: String,
    pub ty: String,
    pub value: DefaultValue,
}

/// Takes the `DEFAULT` clauses out of a column list's tokens (from its `(` to its `)`):
/// the tokens without them, and the defaults; `Err` for a default the face cannot give.
pub(super) fn take_defaults(body: &[Token]) -> Result<(Vec<Token>, Vec<ColumnDefault>), String> {
    let mut out = Vec::with_capacity(body.len());
    let mut defaults = Vec::new();
    let mut depth = 0i32;
    let mut column_start = true;
    let mut column: Option<String> = None;
    let mut ty = String::new();
    let mut in_type = false;
    let mut i = 0;
    while i < body.len() {
        let t = &body[i];
        let up = t.text.to_ascii_uppercase();
        match t.text.as_str() {
            "(" | "<" => depth += 1,
            ")" | ">" => depth -= 1,
            _ => {}
        }
        // Depth 1 is the column list itself: a column definition starts after its `(` or
        // after a `,` at that depth.
        if depth == 1 && t.kind == Kind::Symbol && (t.text == "(" || t.text == ",") {
            column_start = true;
            in_type = false;
            out.push(t.clone());
            i += 1;
            continue;
        }
        if t.kind == Kind::Space {
            out.push(t.clone());
            i += 1;
            continue;
        }
        if column_start && depth == 1 {
            column = Some(match t.kind {
                Kind::Quoted => bare(t),
                _ => up.clone(),
            });
            column_start = false;
            in_type = true;
            ty.clear();
            out.push(t.clone());
            i += 1;
            continue;
        }
        if depth == 1 && t.kind == Kind::Word && matches!(up.as_str(), "NOT" | "PRIMARY" | "KEY") {
            in_type = false;
        }
        if depth == 1 && t.kind == Kind::Word && up == "DEFAULT" {
            in_type = false;
            let end = default_end(body, i + 1);
            let expr: String = body[i + 1..end].iter().map(|t| t.text.as_str()).collect();
            let value = classify(expr.trim())?;
            let name = column.clone().ok_or("DEFAULT before a column name")?;
            if defaults.len() >= DEFAULTS_PER_TABLE_MAX {
                return Err(format!("at most {DEFAULTS_PER_TABLE_MAX} column defaults"));
            }
            defaults.push(ColumnDefault {
                column: name,
                ty: ty.trim().to_string(),
                value,
            });
            // Drop the space before DEFAULT too, so the engine's DDL reads cleanly.
            if out.last().is_some_and(|t: &Token| t.kind == Kind::Space) {
                out.pop();
            }
            i = end;
            continue;
        }
        if in_type {
            ty.push_str(&up);
        }
        out.push(t.clone());
        i += 1;
    }
    Ok((out, defaults))
}

/// Where a `DEFAULT` expression starting at `from` ends: at a `,` or `)` of the column
/// list, or at `NOT`/`PRIMARY` (the column's other modifiers).
fn default_end(body: &[Token], from: usize) -> usize {
    let mut depth = 0i32;
    for (i, t) in body.iter().enumerate().skip(from) {
        match t.text.as_str() {
            "(" => depth += 1,
            ")" if depth == 0 => return i,
            ")" => depth -= 1,
            "," if depth == 0 => return i,
            _ => {}
        }
        if depth == 0
            && t.kind == Kind::Word
            && matches!(t.text.to_ascii_uppercase().as_str(), "NOT" | "PRIMARY")
        {
            return i;
        }
    }
    body.len()
}

fn classify(expr: &str) -> Result<DefaultValue, String> {
    let compact: String = expr
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let value = match compact.as_str() {
        "SNOWFLAKE_ID()" => DefaultValue::SnowflakeId,
        "UUID_V7()" => DefaultValue::UuidV7,
        "ULID()" => DefaultValue::Ulid,
        "NOW()" | "CURRENT_TIMESTAMP" | "CURRENT_TIMESTAMP()" => DefaultValue::Now,
        "CURRENT_USER()" => DefaultValue::CurrentUser,
        "TRUE" | "FALSE" | "NULL" => DefaultValue::Literal(compact),
        _ if is_number(&compact) => DefaultValue::Literal(compact),
        _ if is_string_literal(expr) => DefaultValue::Literal(expr.to_string()),
        _ => return Err(format!("DEFAULT {expr} is not supported")),
    };
    Ok(value)
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// One `'…'` literal with its quotes doubled inside, nothing else.
fn is_string_literal(text: &str) -> bool {
    let toks = tokens(text);
    matches!(toks.as_slice(), [t] if t.kind == Kind::Quoted && t.text.starts_with('\'') && t.text.len() >= 2 && t.text.ends_with('\''))
}

/// `statement` with the defaults of the columns an `INSERT INTO t (cols) VALUES (…)` leaves
/// out added to its column list and to each row; any other statement, or one whose table
/// has no defaults, unchanged. `defaults` gives a table's defaults by engine name, and
/// `value` renders one default's value as SQL.
pub fn with_defaults(
    statement: &str,
    namespace: Option<&str>,
    defaults: &dyn Fn(&str) -> Option<Vec<ColumnDefault>>,
    value: &mut dyn FnMut(&ColumnDefault) -> String,
) -> String {
    // Every statement of a request passes here: only an INSERT is worth tokenizing.
    let head = statement.trim_start().get(..6).unwrap_or("");
    if !head.eq_ignore_ascii_case("INSERT") {
        return statement.to_string();
    }
    let toks = tokens(statement);
    let solid: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].kind != Kind::Space)
        .collect();
    let word = |n: usize| solid.get(n).map(|&i| toks[i].text.to_ascii_uppercase());
    if word(0).as_deref() != Some("INSERT") || word(1).as_deref() != Some("INTO") {
        return statement.to_string();
    }
    // The table: `ns . t` or `t` (with the request's namespace) or a quoted name.
    let Some(&name_at) = solid.get(2) else {
        return statement.to_string();
    };
    let dotted = solid.get(3).is_some_and(|&i| toks[i].text == ".");
    let (table, list_open_n) = if dotted {
        let Some(&t) = solid.get(4) else {
            return statement.to_string();
        };
        (source_name(&toks[name_at].text, &bare(&toks[t])), 5)
    } else {
        let bare = bare(&toks[name_at]);
        let name = match (namespace, toks[name_at].kind) {
            (Some(ns), Kind::Word) => source_name(ns, &bare),
            _ => bare,
        };
        (name, 3)
    };
    let Some(table_defaults) = defaults(&table) else {
        return statement.to_string();
    };
    let Some(&list_open) = solid.get(list_open_n).filter(|&&i| toks[i].text == "(") else {
        return statement.to_string();
    };
    let Some(list_close) = matching(&toks, list_open) else {
        return statement.to_string();
    };
    let named: Vec<String> = toks[list_open + 1..list_close]
        .iter()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))
        .map(|t| match t.kind {
            Kind::Quoted => bare(t),
            _ => t.text.to_ascii_uppercase(),
        })
        .collect();
    let missing: Vec<&ColumnDefault> = table_defaults
        .iter()
        .filter(|d| !named.contains(&d.column))
        .collect();
    if missing.is_empty() {
        return statement.to_string();
    }
    // The rows: `VALUES (…), (…)` after the column list.
    let mut rows = Vec::new();
    let mut i = list_close + 1;
    while let Some(open) = (i..toks.len()).find(|&j| toks[j].text == "(") {
        let Some(close) = matching(&toks, open) else {
            return statement.to_string();
        };
        rows.push(close);
        i = close + 1;
    }
    let mut out = String::with_capacity(statement.len() + 32 * missing.len());
    for (n, t) in toks.iter().enumerate() {
        if n == list_close {
            for d in &missing {
                out.push_str(", `");
                out.push_str(&d.column.replace('`', "``"));
                out.push('`');
            }
        } else if rows.contains(&n) {
            for d in &missing {
                out.push_str(", ");
                out.push_str(&value(d));
            }
        }
        out.push_str(&t.text);
    }
    out
}
