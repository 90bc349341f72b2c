//! `${name}` variable substitution (ksqlDB `DEFINE` / `sessionVariables`).
//!
//! Matches ksqlDB's `VariableSubstitutor`: a `${name}` token standing for an identifier or
//! literal must name a defined variable whose value is a valid identifier or literal,
//! otherwise the statement is rejected with `Illegal argument at Line: L, Col: C.`;
//! inside single-quoted strings, defined variables are replaced and undefined ones are
//! left as written. Comments and whitespace are copied through untouched.

use std::collections::HashMap;

use super::lexer::{scan_work, tokenize, Tok};
use crate::error::EngineError;

/// The error for a variable reference that cannot be substituted. `column` is 1-based.
pub(crate) fn illegal_argument(line: u32, column: u32) -> EngineError {
    EngineError::statement(format!("Illegal argument at Line: {line}, Col: {column}."))
}

/// Longest SQL text variable substitution may produce, in bytes.
///
/// Substitution is the one step that can make a request's SQL larger than its body: a
/// 500 KB variable referenced 100,000 times would ask for 50 GB. Four times the largest
/// request body (1 MiB) leaves room for any script that uses variables as intended.
pub const SUBSTITUTED_SQL_BYTES_MAX: usize = 4 * 1024 * 1024;

pub(crate) fn substitute(sql: &str, vars: &HashMap<String, String>) -> Result<String, EngineError> {
    let mut out = String::with_capacity(sql.len());
    let mut copied_to = 0;
    // Whether each referenced variable's value is a valid replacement, so a value is
    // tokenized once however often it is used.
    let mut valid: HashMap<&str, bool> = HashMap::new();
    for token in tokenize(sql) {
        match &token.tok {
            Tok::Variable(name) => {
                let value = vars
                    .get(name)
                    .filter(|v| {
                        *valid
                            .entry(v.as_str())
                            .or_insert_with(|| is_valid_replacement(v))
                    })
                    .ok_or_else(|| illegal_argument(token.line, token.column + 1))?;
                out.push_str(&sql[copied_to..token.start]);
                out.push_str(value);
                copied_to = token.end;
            }
            Tok::Str(_) if sql[token.start..token.end].contains("${") => {
                out.push_str(&sql[copied_to..token.start]);
                substitute_in_string(&sql[token.start..token.end], vars, &mut out)?;
                copied_to = token.end;
            }
            _ => {}
        }
        check_length(&out)?;
    }
    out.push_str(&sql[copied_to..]);
    check_length(&out)?;
    Ok(out)
}

fn check_length(out: &str) -> Result<(), EngineError> {
    if out.len() > SUBSTITUTED_SQL_BYTES_MAX {
        return Err(EngineError::statement(format!(
            "SQL text after variable substitution is longer than the maximum of \
             {SUBSTITUTED_SQL_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// Replaces defined `${name}` references inside a raw `'…'` literal, doubling any `'` in
/// the value so the literal stays one string, and appends the result to `out`.
///
/// A name runs to the first `}` and contains no `${` (variable names are identifiers, so
/// such a name is never defined). That keeps the pass linear: the `}` found is reused until
/// the scan passes it, and the names looked up never overlap, so `'${${${…'` is read once
/// rather than once per `${`.
fn substitute_in_string(
    raw: &str,
    vars: &HashMap<String, String>,
    out: &mut String,
) -> Result<(), EngineError> {
    let mut copied_to = 0;
    // The first `}` at or after some earlier offset (`None`: there is none).
    let mut close: Option<Option<usize>> = None;
    let mut open = raw.find("${");
    while let Some(at) = open {
        let name_start = at + 2;
        let next_open = raw[name_start..].find("${").map(|rel| name_start + rel);
        scan_work::add(next_open.unwrap_or(raw.len()) - name_start);
        let end = match close {
            Some(cached) if cached.is_none_or(|c| c >= name_start) => cached,
            _ => {
                let found = raw[name_start..].find('}').map(|rel| name_start + rel);
                scan_work::add(found.unwrap_or(raw.len()) - name_start);
                close = Some(found);
                found
            }
        };
        open = next_open;
        let Some(end) = end.filter(|&end| next_open.is_none_or(|next| next > end)) else {
            continue;
        };
        scan_work::add(end - name_start);
        if let Some(value) = vars.get(&raw[name_start..end]) {
            out.push_str(&raw[copied_to..at]);
            out.push_str(&value.replace('\'', "''"));
            copied_to = end + 1;
            check_length(out)?;
        }
    }
    out.push_str(&raw[copied_to..]);
    Ok(())
}

/// A value may stand in for an identifier (plain or quoted) or a literal (a quoted string,
/// a boolean or a number), as ksqlDB checks before substituting.
fn is_valid_replacement(value: &str) -> bool {
    let tokens = tokenize(value);
    let [only, eof] = tokens.as_slice() else {
        // A leading minus makes a number two tokens.
        return matches!(
            tokens.as_slice(),
            [minus, number, _]
                if minus.tok == Tok::Sym(super::lexer::Sym::Minus)
                    && matches!(number.tok, Tok::Integer(_) | Tok::Decimal(_) | Tok::Float(_))
        ) && value.trim() == value;
    };
    eof.tok == Tok::Eof
        && only.start == 0
        && only.end == value.len()
        && matches!(
            only.tok,
            Tok::Word(_)
                | Tok::Quoted(_)
                | Tok::Str(_)
                | Tok::Integer(_)
                | Tok::Decimal(_)
                | Tok::Float(_)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_identifiers_literals_and_inside_strings() {
        let v = vars(&[("src", "riders"), ("n", "10"), ("who", "o'neil")]);
        let out = substitute(
            "SELECT * FROM ${src} WHERE x = ${n} AND name = 'hi ${who} ${unknown}';",
            &v,
        )
        .expect("all variables are defined");
        assert_eq!(
            out,
            "SELECT * FROM riders WHERE x = 10 AND name = 'hi o''neil ${unknown}';"
        );
    }

    #[test]
    fn unknown_or_invalid_variables_are_rejected_with_position() {
        let err = substitute("SELECT * FROM ${nope};", &vars(&[])).expect_err("undefined");
        assert_eq!(err.to_string(), "Illegal argument at Line: 1, Col: 15.");
        let err = substitute("SELECT * FROM\n  ${bad};", &vars(&[("bad", "a b")]))
            .expect_err("not an identifier");
        assert_eq!(err.to_string(), "Illegal argument at Line: 2, Col: 3.");
    }

    #[test]
    fn comments_are_copied_through() {
        let out = substitute("-- ${x}\nSELECT 1 FROM t;", &vars(&[])).expect("comment only");
        assert_eq!(out, "-- ${x}\nSELECT 1 FROM t;");
    }
}
