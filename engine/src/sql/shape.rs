//! A statement's shape: its tokens with string and integer literals taken out, so that
//! statements differing only in those literals (`… WHERE ID = 7;`, `… WHERE ID = 8;`) share
//! one planned query (`plan::pull_cache`).
//!
//! ```text
//!  text ─► lexer ─► tokens ─► signature: every token's kind and text, literals as a mark
//!                          └► literals:  the string and integer values, in source order
//!                          └► text:      the statement as `ParsedStatement::text` has it
//! ```
//!
//! The parser decides a statement's structure from token kinds and texts alone, never
//! from a literal's value, so two statements with one signature parse to trees that differ
//! only in their literals. The one exception, an integer too large for BIGINT, is an error
//! the parser reports: [`ShapeLiteral::Integer`] keeps the text so a reader can find it.

use super::lexer::{tokenize, Sym, Tok};

/// A statement's literals taken out of its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementShape {
    /// Every token but the literals' values, unambiguously encoded (kind, length, text).
    pub signature: Vec<u8>,
    /// The string and integer literals, in source order.
    pub literals: Vec<ShapeLiteral>,
    /// The statement's source without the semicolons around it, ending with one `;`: what
    /// the parser gives as the statement's text.
    pub text: String,
}

/// A literal taken out of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeLiteral {
    /// `'…'`, decoded (`''` as `'`).
    String(String),
    /// Digits as written, with the `-` before them when the token before is a minus sign
    /// (which the parser folds into the literal where a literal is expected).
    Integer(String),
}

impl ShapeLiteral {
    /// The integer's value; `None` when it does not fit a BIGINT (the parser's "Invalid
    /// numeric literal") or for a string.
    pub fn integer(&self) -> Option<i64> {
        match self {
            ShapeLiteral::Integer(text) => text.parse().ok(),
            ShapeLiteral::String(_) => None,
        }
    }
}

/// Kinds in the signature: one byte each, before the token's text.
const MARK_WORD: u8 = b'w';
const MARK_QUOTED: u8 = b'q';
const MARK_DIGIT_IDENT: u8 = b'd';
const MARK_DECIMAL: u8 = b'm';
const MARK_FLOAT: u8 = b'f';
const MARK_SYM: u8 = b's';
/// A literal taken out: its kind only.
const MARK_STRING_LITERAL: u8 = b'S';
const MARK_INTEGER_LITERAL: u8 = b'I';

/// The shape of the one statement `sql` holds; `None` when it has no string or integer
/// literal to take out (its text is then its own key) or holds what a shape cannot stand
/// for: a `${variable}` (substituted per session) or a character no token accepts.
pub fn statement_shape(sql: &str) -> Option<StatementShape> {
    let tokens = tokenize(sql);
    let mut signature = Vec::with_capacity(sql.len() + 4 * tokens.len());
    let mut literals = Vec::new();
    let mut first = None;
    let mut last = None;
    for (i, token) in tokens.iter().enumerate() {
        let statement_token = !matches!(token.tok, Tok::Eof | Tok::Sym(Sym::Semicolon));
        if statement_token {
            first.get_or_insert(token.start);
            last = Some(token.end);
        }
        match &token.tok {
            Tok::Word(t) => push(&mut signature, MARK_WORD, t.as_bytes()),
            Tok::Quoted(t) => push(&mut signature, MARK_QUOTED, t.as_bytes()),
            Tok::DigitIdent(t) => push(&mut signature, MARK_DIGIT_IDENT, t.as_bytes()),
            Tok::Decimal(t) => push(&mut signature, MARK_DECIMAL, t.as_bytes()),
            Tok::Float(t) => push(&mut signature, MARK_FLOAT, t.as_bytes()),
            Tok::Sym(s) => push(&mut signature, MARK_SYM, s.display().as_bytes()),
            Tok::Str(s) => {
                signature.push(MARK_STRING_LITERAL);
                literals.push(ShapeLiteral::String(s.clone()));
            }
            Tok::Integer(digits) => {
                signature.push(MARK_INTEGER_LITERAL);
                let negative = i > 0 && tokens[i - 1].tok == Tok::Sym(Sym::Minus);
                literals.push(ShapeLiteral::Integer(match negative {
                    true => format!("-{digits}"),
                    false => digits.clone(),
                }));
            }
            Tok::Variable(_) | Tok::Unrecognized => return None,
            Tok::Eof => {}
        }
    }
    if literals.is_empty() {
        return None;
    }
    let mut text = sql[first?..last?].to_string();
    text.push(';');
    Some(StatementShape {
        signature,
        literals,
        text,
    })
}

/// Appends one token: its kind, its text's length and its text, so no two token sequences
/// encode alike.
fn push(signature: &mut Vec<u8>, mark: u8, text: &[u8]) {
    signature.push(mark);
    let len = u32::try_from(text.len()).expect("a statement's token is under 4 GiB");
    signature.extend_from_slice(&len.to_le_bytes());
    signature.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> StatementShape {
        statement_shape(sql).expect("a shape")
    }

    #[test]
    fn statements_differing_in_literals_share_a_signature() {
        let a = shape("SELECT * FROM t WHERE ID = 7 AND NAME IN ('a', 'it''s');");
        let b = shape("select * from t where id = 8 and name in ('b', 'c')");
        let c = shape("SELECT * FROM t WHERE ID = 8 AND NAME IN ('b', 'c');");
        assert_ne!(a.signature, b.signature, "words keep their spelling");
        assert_eq!(a.signature, c.signature);
        assert_eq!(
            a.literals,
            vec![
                ShapeLiteral::Integer("7".into()),
                ShapeLiteral::String("a".into()),
                ShapeLiteral::String("it's".into()),
            ]
        );
        assert_eq!(a.literals[0].integer(), Some(7));
        assert_eq!(a.literals[1].integer(), None);
    }

    #[test]
    fn the_text_is_the_parsers() {
        for sql in [
            "  SELECT * FROM t WHERE ID = 1 ;; ",
            ";SELECT * FROM t WHERE ID = 1 -- done",
            "SELECT * FROM t /* c */ WHERE ID = 1",
        ] {
            let parsed = super::super::parse(sql).expect("parses");
            assert_eq!(shape(sql).text, parsed[0].text, "{sql}");
        }
    }

    #[test]
    fn a_minus_before_an_integer_is_its_sign() {
        let s = shape("SELECT * FROM t WHERE ID = -5;");
        assert_eq!(s.literals, vec![ShapeLiteral::Integer("-5".into())]);
        assert_eq!(s.literals[0].integer(), Some(-5));
        let big = shape("SELECT * FROM t WHERE ID = 99999999999999999999;");
        assert_eq!(big.literals[0].integer(), None);
    }

    #[test]
    fn kinds_and_lengths_keep_signatures_apart() {
        // A string and an integer literal, or one word and two, never encode alike.
        assert_ne!(
            shape("SELECT * FROM t WHERE a = 1").signature,
            shape("SELECT * FROM t WHERE a = '1'").signature
        );
        assert_ne!(
            shape("SELECT * FROM t WHERE ab = 1").signature,
            shape("SELECT * FROM t WHERE a b = 1").signature
        );
        assert_ne!(
            shape("SELECT * FROM t WHERE a = 1.5 AND b = 1").signature,
            shape("SELECT * FROM t WHERE a = 1.6 AND b = 1").signature,
            "decimals stay in the signature"
        );
    }

    #[test]
    fn no_shape_without_literals_or_with_variables() {
        assert_eq!(statement_shape("SELECT * FROM t;"), None);
        assert_eq!(statement_shape("SELECT * FROM t WHERE ID = ${id};"), None);
        assert_eq!(statement_shape("SELECT * FROM t WHERE ID = 1 #;"), None);
    }
}
