//! What the parser expected, and syntax errors worded the way ANTLR words them for ksqlDB.

use super::{Parser, STATEMENT_START};
use crate::error::{EngineError, SyntaxCause, SyntaxDetail};
use crate::sql::lexer::{Sym, Tok, Token};

/// Something the parser wanted at a position; rendered in `expecting {…}` lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Expect {
    Kw(&'static str),
    Sym(Sym),
    Ident,
    Str,
    Integer,
    Decimal,
    Float,
    /// Any token that can start an expression.
    Expression,
    Eof,
}

impl Expect {
    fn describe(self, out: &mut Vec<String>) {
        match self {
            Expect::Kw(k) => out.push(format!("'{k}'")),
            Expect::Sym(s) => out.push(s.display().to_string()),
            Expect::Ident => out.extend(
                [
                    "IDENTIFIER",
                    "DIGIT_IDENTIFIER",
                    "QUOTED_IDENTIFIER",
                    "BACKQUOTED_IDENTIFIER",
                ]
                .map(String::from),
            ),
            Expect::Str => out.push("STRING".into()),
            Expect::Integer => out.push("INTEGER_VALUE".into()),
            Expect::Decimal => out.push("DECIMAL_VALUE".into()),
            Expect::Float => out.push("FLOATING_POINT_VALUE".into()),
            Expect::Expression => {
                for e in EXPRESSION_START {
                    e.describe(out);
                }
            }
            Expect::Eof => out.push("<EOF>".into()),
        }
    }
}

/// Tokens that can start an expression, for error messages.
const EXPRESSION_START: [Expect; 17] = [
    Expect::Sym(Sym::LParen),
    Expect::Sym(Sym::Minus),
    Expect::Sym(Sym::Plus),
    Expect::Kw("NOT"),
    Expect::Kw("NULL"),
    Expect::Kw("TRUE"),
    Expect::Kw("FALSE"),
    Expect::Kw("CASE"),
    Expect::Kw("CAST"),
    Expect::Kw("ARRAY"),
    Expect::Kw("MAP"),
    Expect::Kw("STRUCT"),
    Expect::Str,
    Expect::Integer,
    Expect::Decimal,
    Expect::Float,
    Expect::Ident,
];

impl Parser<'_> {
    // ---- errors -------------------------------------------------------------------------

    /// Raw source text of the token `n` ahead, as ANTLR quotes it.
    pub(super) fn token_text(&self, token: &Token) -> String {
        if token.tok == Tok::Eof {
            "<EOF>".into()
        } else {
            self.src[token.start..token.end].to_string()
        }
    }

    /// A parse error at `token` that ksqlDB raises outside ANTLR's error strategy.
    pub(crate) fn error_at(&self, token: &Token, message: &str) -> EngineError {
        self.syntax_error(token, message, None)
    }

    pub(super) fn syntax_error(
        &self,
        token: &Token,
        message: &str,
        cause: Option<SyntaxCause>,
    ) -> EngineError {
        let column = token.column + 1;
        EngineError::syntax_error(
            format!("line {}:{}: {}", token.line, column, message),
            SyntaxDetail {
                line: token.line,
                column,
                cause,
            },
        )
    }

    pub(super) fn matches_expect(&self, n: usize, e: Expect) -> bool {
        let tok = &self.peek_nth(n).tok;
        match e {
            Expect::Kw(k) => self.is_kw_at(n, k),
            Expect::Sym(s) => *tok == Tok::Sym(s),
            Expect::Ident => self.is_ident_at(n),
            Expect::Str => matches!(tok, Tok::Str(_)),
            Expect::Integer => matches!(tok, Tok::Integer(_)),
            Expect::Decimal => matches!(tok, Tok::Decimal(_)),
            Expect::Float => matches!(tok, Tok::Float(_)),
            Expect::Expression => EXPRESSION_START.iter().any(|e| self.matches_expect(n, *e)),
            Expect::Eof => *tok == Tok::Eof,
        }
    }

    /// The error for "the current token is not one of `expected`". Like ANTLR's single-token
    /// deletion, it says `extraneous input` when the *next* token would have fit.
    pub(crate) fn mismatch(&self, expected: &[Expect]) -> EngineError {
        self.mismatch_reporting(expected, expected)
    }

    /// [`Parser::mismatch`] where ANTLR's `InputMismatchException` would list `reported`
    /// rather than what fits here: ANTLR's error strategy reports the tokens that could
    /// have come at the first optional element it skipped since it was last sure of a token
    /// (its `nextTokensContext`), which can be more than the failing rule wanted.
    pub(super) fn mismatch_reporting(
        &self,
        expected: &[Expect],
        reported: &[Expect],
    ) -> EngineError {
        let token = self.peek().clone();
        let text = self.token_text(&token);
        // ANTLR deletes the token (and reports it extraneous, with no exception) when the
        // one after it is what this rule wanted.
        if token.tok != Tok::Eof && expected.iter().any(|e| self.matches_expect(1, *e)) {
            let set = describe_set(expected);
            return self.syntax_error(
                &token,
                &format!("extraneous input '{text}' expecting {set}"),
                None,
            );
        }
        let set = describe_set(reported);
        self.syntax_error(
            &token,
            &format!("mismatched input '{text}' expecting {set}"),
            Some(SyntaxCause::InputMismatch),
        )
    }

    /// The error when a statement is followed by something other than `;`. After ANTLR's
    /// single-token deletion comes single-token insertion: when the token could start the
    /// next statement, the `;` is reported missing (again with no exception).
    pub(super) fn statement_end_error(&self) -> EngineError {
        const SEMICOLON: [Expect; 1] = [Expect::Sym(Sym::Semicolon)];
        let token = self.peek().clone();
        let deletable = self.matches_expect(1, SEMICOLON[0]);
        if !deletable && STATEMENT_START.iter().any(|kw| self.is_kw(kw)) {
            let text = self.token_text(&token);
            return self.syntax_error(&token, &format!("missing ';' at '{text}'"), None);
        }
        self.mismatch_reporting(&SEMICOLON, self.query_follow.unwrap_or(&SEMICOLON))
    }

    /// ANTLR's `no viable alternative at input '…'`: the text from `start_pos` up to and
    /// including the current token.
    pub(crate) fn no_viable_alternative(&self, start_pos: usize) -> EngineError {
        let start = &self.tokens[start_pos.min(self.tokens.len() - 1)];
        let token = self.peek().clone();
        let text = if token.tok == Tok::Eof {
            format!("{}<EOF>", &self.src[start.start..token.start])
        } else {
            self.src[start.start..token.end].to_string()
        };
        self.syntax_error(
            &token,
            &format!("no viable alternative at input '{text}'"),
            Some(SyntaxCause::NoViableAlternative),
        )
    }

    /// A `${name}` left in the text: the caller did not substitute it (unknown variable or
    /// substitution disabled). Worded like ksqlDB's `VariableSubstitutor` rejection.
    pub(crate) fn unsubstituted_variable(&self) -> EngineError {
        let token = self.peek();
        crate::sql::variables::illegal_argument(token.line, token.column + 1)
    }
}

/// `X` for one expected token, `{X, Y, …}` for more, as ANTLR's `IntervalSet` prints.
pub(super) fn describe_set(expected: &[Expect]) -> String {
    let mut names = Vec::new();
    for e in expected {
        e.describe(&mut names);
    }
    names.dedup();
    if names.len() == 1 {
        names.remove(0)
    } else {
        format!("{{{}}}", names.join(", "))
    }
}
