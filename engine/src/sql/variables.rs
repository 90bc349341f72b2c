//! `${name}` variable substitution (ksqlDB `DEFINE` / `sessionVariables`).
//!
//! Matches ksqlDB's `VariableSubstitutor`: a `${name}` token standing for an identifier or
//! literal must name a defined variable whose value is a valid identifier or literal,
//! otherwise the statement is rejected with `Illegal argument at Line: L, Col: C.`;
//! inside single-quoted strings, defined variables are replaced and undefined ones are
//! left as written. Comments and whitespace are copied through untouched.

use std::collections::HashMap;

use super::lexer::{tokenize, Tok};
use crate::error::EngineError;

/// The error for a variable reference that cannot be substituted. `column` is 1-based.
pub(crate) fn illegal_argument(line: u32, column: u32) -> EngineError {
    EngineError::statement(format!("Illegal argument at Line: {line}, Col: {column}."))
}

pub(crate) fn substitute(sql: &str, vars: &HashMap<String, String>) -> Result<String, EngineError> {
    let mut out = String::with_capacity(sql.len());
    let mut copied_to = 0;
    for token in tokenize(sql) {
        match &token.tok {
            Tok::Variable(name) => {
                let value = vars
                    .get(name)
                    .filter(|v| is_valid_replacement(v))
                    .ok_or_else(|| illegal_argument(token.line, token.column + 1))?;
                out.push_str(&sql[copied_to..token.start]);
                out.push_str(value);
                copied_to = token.end;
            }
            Tok::Str(_) if sql[token.start..token.end].contains("${") => {
                out.push_str(&sql[copied_to..token.start]);
                out.push_str(&substitute_in_string(&sql[token.start..token.end], vars));
                copied_to = token.end;
            }
            _ => {}
        }
    }
    out.push_str(&sql[copied_to..]);
    Ok(out)
}

/// Replaces defined `${name}` references inside a raw `'…'` literal, doubling any `'` in
/// the value so the literal stays one string.
fn substitute_in_string(raw: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find('}').map(|end| (&after[..end], end)) {
            Some((name, end)) if vars.contains_key(name) => {
                out.push_str(&vars[name].replace('\'', "''"));
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
