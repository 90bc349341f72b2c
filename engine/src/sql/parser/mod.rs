//! Recursive-descent parser for ksqlDB statements (`SqlBase.g4`'s `statement` and `query`).
//!
//! Syntax errors copy the shapes ANTLR gives ksqlDB users, because clients and tests match
//! on them: `line L:C: mismatched input 'X' expecting {…}`, `extraneous input 'X' …` (when
//! dropping the token would have let parsing go on) and `no viable alternative at input '…'`
//! (when a statement's second word rules out every form). Columns in messages are 1-based,
//! as ksqlDB's `ParsingException` adds one to ANTLR's 0-based position.
//!
//! Expressions and types are parsed in [`super::expr_parser`].
//!
//! Modules: this one holds the token cursor and the statement dispatch;
//! - `statement`: the non-query statements (SHOW, DESCRIBE, CREATE, INSERT, DROP, …);
//! - `query`: SELECT and its clauses (FROM, joins, WINDOW, WHERE, …, LIMIT);
//! - `syntax_error`: what was expected and the ANTLR-shaped error messages;
//! - `keywords`: reserved words and the words that start a statement.

mod keywords;
mod query;
mod statement;
mod syntax_error;

use super::ast::*;
use super::lexer::{tokenize, Sym, Tok, Token};
use crate::error::EngineError;
use crate::limits::{IDENTIFIER_CHARS_MAX, STATEMENTS_PER_REQUEST_MAX};
pub(crate) use keywords::is_reserved;
use keywords::STATEMENT_START;
pub(crate) use syntax_error::Expect;

/// Deepest nesting (parentheses, calls, constructors, CASE, unary operators, types) the
/// parser accepts.
///
/// Bounds the parser's recursion. A debug build spends about 10 KiB of stack per level
/// (measured: 8.5 KiB per parenthesis, 10 KiB per function call), so 64 levels stay well
/// inside a 2 MiB thread stack, while hand-written SQL rarely nests past a dozen.
pub const EXPRESSION_DEPTH_MAX: usize = 64;

/// Deepest expression *tree* the parser builds, counting left-associative operator chains
/// (`a OR b OR c …` is as deep as it is long) on top of nesting.
///
/// Bounds every later pass that walks the tree recursively (binder, evaluator, `Display`,
/// `Drop`) without rejecting generated filters with a few hundred `OR` terms.
pub const EXPRESSION_TREE_DEPTH_MAX: usize = 512;

/// Most expression nodes (literals, columns, operators, calls, …) one statement may hold.
///
/// Bounds the memory and the planning and evaluation work one statement can ask for: the
/// parser is linear, but a request body of 1 MiB could otherwise hold half a million nodes
/// (`1,1,1,…` in an IN list). A generated `IN` list of ten thousand keys fits ten times
/// over; parsing the maximum takes milliseconds (see `benches/sql_parser.rs`).
pub const STATEMENT_EXPRESSION_NODES_MAX: usize = 100_000;

pub(crate) type PResult<T> = Result<T, EngineError>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pub(crate) pos: usize,
    /// Current nesting depth, checked against [`EXPRESSION_DEPTH_MAX`].
    pub(crate) depth: usize,
    /// Expression nodes built for the current statement, checked against
    /// [`STATEMENT_EXPRESSION_NODES_MAX`].
    pub(crate) expression_nodes: usize,
    /// What ANTLR would say it expected if the statement just parsed is followed by a
    /// token that is neither `;` nor removable; set by [`Parser::query`], see
    /// [`query::QueryEnd`].
    query_follow: Option<&'static [Expect]>,
    /// Custom types (`CREATE TYPE`) a type name may refer to: the catalog's when parsing
    /// began, plus those the request itself creates before the reference, minus those it
    /// drops — as ksqlDB, which parses each statement after running the one before.
    pub(crate) types: TypeRegistry,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Parser {
            src,
            tokens: tokenize(src),
            pos: 0,
            depth: 0,
            expression_nodes: 0,
            query_follow: None,
            types: TypeRegistry::new(),
        }
    }

    /// A parser whose type names may refer to `types` too.
    pub(crate) fn with_types(src: &'a str, types: TypeRegistry) -> Self {
        Parser {
            types,
            ..Parser::new(src)
        }
    }

    // ---- token access -------------------------------------------------------------------

    pub(crate) fn peek(&self) -> &Token {
        self.peek_nth(0)
    }

    pub(crate) fn peek_nth(&self, n: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)]
    }

    pub(crate) fn advance(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.tok != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    pub(crate) fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(&self.peek_nth(n).tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    pub(crate) fn is_sym_at(&self, n: usize, sym: Sym) -> bool {
        self.peek_nth(n).tok == Tok::Sym(sym)
    }

    pub(crate) fn is_sym(&self, sym: Sym) -> bool {
        self.is_sym_at(0, sym)
    }

    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub(crate) fn eat_sym(&mut self, sym: Sym) -> bool {
        let hit = self.is_sym(sym);
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub(crate) fn expect_kw(&mut self, kw: &'static str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.mismatch(&[Expect::Kw(kw)]))
        }
    }

    pub(crate) fn expect_sym(&mut self, sym: Sym) -> PResult<()> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(self.mismatch(&[Expect::Sym(sym)]))
        }
    }

    /// True when the token `n` ahead can be an identifier.
    pub(crate) fn is_ident_at(&self, n: usize) -> bool {
        match &self.peek_nth(n).tok {
            Tok::Word(w) => !is_reserved(w),
            Tok::Quoted(_) | Tok::DigitIdent(_) => true,
            _ => false,
        }
    }

    /// Parses an identifier: unquoted names are upper-cased, quoted ones kept verbatim.
    pub(crate) fn ident(&mut self) -> PResult<Ident> {
        if let Tok::Variable(_) = self.peek().tok {
            return Err(self.unsubstituted_variable());
        }
        if !self.is_ident_at(0) {
            return Err(self.mismatch(&[Expect::Ident]));
        }
        Ok(match self.advance().tok {
            Tok::Word(w) | Tok::DigitIdent(w) => w.to_ascii_uppercase(),
            Tok::Quoted(q) => q,
            _ => unreachable!("is_ident_at accepted only identifier tokens"),
        })
    }

    pub(crate) fn string(&mut self) -> PResult<String> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Tok::Variable(_) => Err(self.unsubstituted_variable()),
            _ => Err(self.mismatch(&[Expect::Str])),
        }
    }

    /// Runs `f` one nesting level deeper, failing instead of recursing past the limit.
    pub(crate) fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= EXPRESSION_DEPTH_MAX {
            let token = self.peek().clone();
            return Err(self.error_at(
                &token,
                &format!("expression nesting exceeds the maximum depth of {EXPRESSION_DEPTH_MAX}"),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    // ---- statements ---------------------------------------------------------------------

    /// Parses all statements; each returned with its trimmed source text ending in `;`.
    pub(crate) fn statements(&mut self) -> PResult<Vec<(Statement, String)>> {
        self.check_identifier_lengths()?;
        let mut out = Vec::new();
        loop {
            while self.eat_sym(Sym::Semicolon) {}
            if self.at_eof() {
                return Ok(out);
            }
            if out.len() == STATEMENTS_PER_REQUEST_MAX {
                let token = self.peek().clone();
                return Err(self.error_at(
                    &token,
                    &format!(
                        "too many statements in one request: at most \
                         {STATEMENTS_PER_REQUEST_MAX} are accepted"
                    ),
                ));
            }
            let start = self.peek().start;
            self.query_follow = None;
            self.expression_nodes = 0;
            let statement = self.statement()?;
            // The text ends with the statement's last token: a comment between it and the
            // `;` (or the end) would otherwise swallow the `;` appended below, and the text
            // would no longer read back as this statement alone.
            let last = self.pos.checked_sub(1);
            let end = self.tokens[last.expect("a statement consumes its first keyword")].end;
            if !self.eat_sym(Sym::Semicolon) && !self.at_eof() {
                return Err(self.statement_end_error());
            }
            let mut text = self.src[start..end].to_string();
            text.push(';');
            self.scope_types(&statement);
            out.push((statement, text));
        }
    }

    /// Makes a type the statement creates visible to the statements after it (one that
    /// exists already stays as it is: running the statement reports that), and forgets
    /// one it drops.
    fn scope_types(&mut self, statement: &Statement) {
        match statement {
            Statement::CreateType { name, ty, .. } => {
                self.types.entry(name.clone()).or_insert_with(|| ty.clone());
            }
            Statement::DropType { name, .. } => {
                self.types.remove(name);
            }
            _ => {}
        }
    }

    /// Refuses any identifier longer than [`IDENTIFIER_CHARS_MAX`], before parsing.
    pub(crate) fn check_identifier_lengths(&self) -> PResult<()> {
        let too_long = self.tokens.iter().find(|t| match &t.tok {
            Tok::Word(w) | Tok::DigitIdent(w) | Tok::Quoted(w) => {
                w.len() > IDENTIFIER_CHARS_MAX && w.chars().count() > IDENTIFIER_CHARS_MAX
            }
            _ => false,
        });
        match too_long {
            Some(token) => Err(self.error_at(
                token,
                &format!("identifier is longer than {IDENTIFIER_CHARS_MAX} characters"),
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn statement(&mut self) -> PResult<Statement> {
        let start = self.pos;
        if self.is_kw("SELECT") {
            return Ok(Statement::Query(Box::new(self.query()?)));
        }
        if self.eat_kw("SHOW") || self.eat_kw("LIST") {
            return self.show(start);
        }
        if self.eat_kw("DESCRIBE") {
            return self.describe();
        }
        if self.eat_kw("CREATE") {
            return self.create(start);
        }
        if self.eat_kw("INSERT") {
            return self.insert();
        }
        if self.eat_kw("DROP") {
            return self.drop(start);
        }
        if self.eat_kw("TERMINATE") {
            let target = if self.eat_kw("ALL") {
                TerminateTarget::All
            } else {
                TerminateTarget::Query(self.ident()?)
            };
            return Ok(Statement::Terminate { target });
        }
        if self.eat_kw("EXPLAIN") {
            return self.explain();
        }
        if self.eat_kw("SET") {
            let name = self.string()?;
            self.expect_sym(Sym::Eq)?;
            let value = self.string()?;
            return Ok(Statement::SetProperty { name, value });
        }
        if self.eat_kw("UNSET") {
            let name = self.string()?;
            return Ok(Statement::UnsetProperty { name });
        }
        if self.eat_kw("DEFINE") {
            let name = self.variable_name()?;
            self.expect_sym(Sym::Eq)?;
            let value = self.string()?;
            return Ok(Statement::DefineVariable { name, value });
        }
        if self.eat_kw("UNDEFINE") {
            let name = self.variable_name()?;
            return Ok(Statement::UndefineVariable { name });
        }
        if self.eat_kw("PRINT") {
            return self.print();
        }
        Err(self.mismatch(
            &[
                "SELECT",
                "SHOW",
                "LIST",
                "DESCRIBE",
                "CREATE",
                "INSERT",
                "DROP",
                "TERMINATE",
                "EXPLAIN",
                "SET",
                "UNSET",
                "DEFINE",
                "UNDEFINE",
                "PRINT",
            ]
            .map(Expect::Kw),
        ))
    }

    /// DEFINE's name is a plain IDENTIFIER token in the grammar, kept as written.
    fn variable_name(&mut self) -> PResult<String> {
        match &self.peek().tok {
            Tok::Word(w) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.mismatch(&[Expect::Ident])),
        }
    }
}
