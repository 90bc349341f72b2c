//! Recursive-descent parser for ksqlDB statements (`SqlBase.g4`'s `statement` and `query`).
//!
//! Syntax errors copy the shapes ANTLR gives ksqlDB users, because clients and tests match
//! on them: `line L:C: mismatched input 'X' expecting {…}`, `extraneous input 'X' …` (when
//! dropping the token would have let parsing go on) and `no viable alternative at input '…'`
//! (when a statement's second word rules out every form). Columns in messages are 1-based,
//! as ksqlDB's `ParsingException` adds one to ANTLR's 0-based position.
//!
//! Expressions and types are parsed in [`super::expr_parser`].

use super::ast::*;
use super::lexer::{tokenize, Sym, Tok, Token};
use crate::error::{EngineError, SyntaxCause};

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

/// Words that are keywords in ksqlDB's lexer and *not* in its `nonReserved` list, so they
/// can only be used as identifiers when quoted.
const RESERVED: &[&str] = &[
    "ADVANCE",
    "ALL",
    "AND",
    "AS",
    "AT",
    "BEGINNING",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CATALOG",
    "CONNECTOR",
    "CONNECTORS",
    "CREATE",
    "DAYS",
    "DECIMAL",
    "DELETE",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXISTS",
    "EXPORT",
    "EXTENDED",
    "FALSE",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "HOPPING",
    "HOURS",
    "IN",
    "INNER",
    "INSERT",
    "INTO",
    "IS",
    "JOIN",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LIST",
    "LOAD",
    "MATERIALIZED",
    "MILLISECOND",
    "MILLISECONDS",
    "MINUTES",
    "MONTHS",
    "NAMESPACE",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "OUTER",
    "PRINT",
    "PROPERTIES",
    "QUERIES",
    "QUERY",
    "RENAME",
    "RETENTION",
    "RIGHT",
    "RUN",
    "SAMPLE",
    "SCRIPT",
    "SECONDS",
    "SELECT",
    "SIZE",
    "STREAM",
    "STREAMS",
    "TABLE",
    "TERMINATE",
    "THEN",
    "TO",
    "TOPIC",
    "TOPICS",
    "TRUE",
    "TUMBLING",
    "UNSET",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHIN",
    "YEARS",
];

/// True when `word` (any case) is a reserved keyword.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Words that begin a statement, so `EXPLAIN <word> …` is taken as a statement.
const STATEMENT_START: [&str; 15] = [
    "SELECT",
    "CREATE",
    "INSERT",
    "DROP",
    "SHOW",
    "LIST",
    "DESCRIBE",
    "PRINT",
    "TERMINATE",
    "SET",
    "UNSET",
    "DEFINE",
    "UNDEFINE",
    "EXPLAIN",
    "ALTER",
];

pub(crate) type PResult<T> = Result<T, EngineError>;

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pub(crate) pos: usize,
    /// Current nesting depth, checked against [`EXPRESSION_DEPTH_MAX`].
    pub(crate) depth: usize,
    /// What ANTLR would say it expected if the statement just parsed is followed by a
    /// token that is neither `;` nor removable; set by [`Parser::query`], see
    /// [`QueryEnd`].
    query_follow: Option<&'static [Expect]>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Parser {
            src,
            tokens: tokenize(src),
            pos: 0,
            depth: 0,
            query_follow: None,
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

    // ---- errors -------------------------------------------------------------------------

    /// Raw source text of the token `n` ahead, as ANTLR quotes it.
    fn token_text(&self, token: &Token) -> String {
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

    fn syntax_error(
        &self,
        token: &Token,
        message: &str,
        cause: Option<SyntaxCause>,
    ) -> EngineError {
        let column = token.column + 1;
        EngineError::Parse {
            message: format!("line {}:{}: {}", token.line, column, message),
            line: token.line,
            column,
            cause,
        }
    }

    fn matches_expect(&self, n: usize, e: Expect) -> bool {
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
    fn mismatch_reporting(&self, expected: &[Expect], reported: &[Expect]) -> EngineError {
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
    fn statement_end_error(&self) -> EngineError {
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
        super::variables::illegal_argument(token.line, token.column + 1)
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
        let mut out = Vec::new();
        loop {
            while self.eat_sym(Sym::Semicolon) {}
            if self.at_eof() {
                return Ok(out);
            }
            let start = self.peek().start;
            self.query_follow = None;
            let statement = self.statement()?;
            let end = self.peek().start;
            if !self.eat_sym(Sym::Semicolon) && !self.at_eof() {
                return Err(self.statement_end_error());
            }
            let mut text = self.src[start..end].trim().to_string();
            text.push(';');
            out.push((statement, text));
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

    fn extended(&mut self) -> bool {
        self.eat_kw("EXTENDED")
    }

    fn show(&mut self, start: usize) -> PResult<Statement> {
        let statement = if self.eat_kw("PROPERTIES") {
            Statement::ListProperties
        } else if self.eat_kw("ALL") {
            self.expect_kw("TOPICS")?;
            Statement::ListTopics {
                all: true,
                extended: self.extended(),
            }
        } else if self.eat_kw("TOPICS") {
            Statement::ListTopics {
                all: false,
                extended: self.extended(),
            }
        } else if self.eat_kw("STREAMS") {
            Statement::ListSources {
                kind: SourceKind::Stream,
                extended: self.extended(),
            }
        } else if self.eat_kw("TABLES") {
            Statement::ListSources {
                kind: SourceKind::Table,
                extended: self.extended(),
            }
        } else if self.eat_kw("QUERIES") {
            Statement::ListQueries {
                extended: self.extended(),
            }
        } else if self.eat_kw("FUNCTIONS") {
            Statement::ListFunctions
        } else if self.eat_kw("TYPES") {
            Statement::ListTypes
        } else if self.eat_kw("VARIABLES") {
            Statement::ListVariables
        } else if self.is_kw("CONNECTORS") || self.is_kw("CONNECTOR") {
            return Err(connectors_unsupported());
        } else {
            return Err(self.no_viable_alternative(start));
        };
        Ok(statement)
    }

    fn describe(&mut self) -> PResult<Statement> {
        // STREAMS is reserved; TABLES and FUNCTION are not, so they mean a listing or a
        // function only when what follows fits that form (`DESCRIBE FUNCTION;` names a source).
        if self.eat_kw("STREAMS") {
            return Ok(Statement::DescribeSources {
                kind: SourceKind::Stream,
                extended: self.extended(),
            });
        }
        if self.is_kw("TABLES") && (self.is_kw_at(1, "EXTENDED") || self.ends_statement_at(1)) {
            self.pos += 1;
            return Ok(Statement::DescribeSources {
                kind: SourceKind::Table,
                extended: self.extended(),
            });
        }
        if self.is_kw("FUNCTION") && self.is_ident_at(1) {
            self.pos += 1;
            return Ok(Statement::DescribeFunction {
                name: self.ident()?,
            });
        }
        if self.is_kw("CONNECTOR") && self.is_ident_at(1) {
            return Err(connectors_unsupported());
        }
        // The docs write `DESCRIBE [EXTENDED] name`; the grammar also takes `name EXTENDED`.
        // EXTENDED is non-reserved, so it is a prefix only when a name follows it.
        let prefixed = self.is_kw("EXTENDED") && self.is_ident_at(1);
        if prefixed {
            self.pos += 1;
        }
        let name = self.ident()?;
        let extended = self.extended() || prefixed;
        Ok(Statement::Describe { name, extended })
    }

    fn ends_statement_at(&self, n: usize) -> bool {
        matches!(self.peek_nth(n).tok, Tok::Eof | Tok::Sym(Sym::Semicolon))
    }

    fn explain(&mut self) -> PResult<Statement> {
        let is_statement = STATEMENT_START.iter().any(|kw| self.is_kw(kw))
            && !(self.is_ident_at(0) && self.ends_statement_at(1));
        if is_statement {
            let inner = self.statement()?;
            Ok(Statement::Explain {
                target: ExplainTarget::Statement(Box::new(inner)),
            })
        } else {
            Ok(Statement::Explain {
                target: ExplainTarget::Query(self.ident()?),
            })
        }
    }

    fn print(&mut self) -> PResult<Statement> {
        // Kafka topic names are case-sensitive, so PRINT keeps an unquoted name as written.
        let topic = match self.peek().tok.clone() {
            Tok::Str(s) | Tok::Quoted(s) => {
                self.pos += 1;
                s
            }
            Tok::Word(w) | Tok::DigitIdent(w) if self.is_ident_at(0) => {
                self.pos += 1;
                w
            }
            _ => return Err(self.mismatch(&[Expect::Ident, Expect::Str])),
        };
        let from_beginning = if self.eat_kw("FROM") {
            self.expect_kw("BEGINNING")?;
            true
        } else {
            false
        };
        let interval = if self.eat_kw("INTERVAL") || self.eat_kw("SAMPLE") {
            Some(self.unsigned_number()?)
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            Some(self.unsigned_number()?)
        } else {
            None
        };
        Ok(Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        })
    }

    fn if_not_exists(&mut self) -> PResult<bool> {
        // IF is non-reserved, so only `IF NOT` starts the clause (`CREATE STREAM IF (…)`
        // would name a stream IF).
        if self.is_kw("IF") && self.is_kw_at(1, "NOT") {
            self.pos += 2;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn if_exists(&mut self) -> PResult<bool> {
        if self.is_kw("IF") && self.is_kw_at(1, "EXISTS") {
            self.pos += 2;
            return Ok(true);
        }
        Ok(false)
    }

    fn source_kind(&mut self, start: usize) -> PResult<SourceKind> {
        if self.eat_kw("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat_kw("TABLE") {
            Ok(SourceKind::Table)
        } else {
            Err(self.no_viable_alternative(start))
        }
    }

    fn create(&mut self, start: usize) -> PResult<Statement> {
        if self.eat_kw("TYPE") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_kw("AS")?;
            let ty = self.parse_type()?;
            return Ok(Statement::CreateType {
                name,
                ty,
                if_not_exists,
            });
        }
        if (self.is_kw("SINK") || self.is_kw("SOURCE")) && self.is_kw_at(1, "CONNECTOR") {
            return Err(connectors_unsupported());
        }
        let or_replace = if self.eat_kw("OR") {
            self.expect_kw("REPLACE")?;
            true
        } else {
            false
        };
        let is_source = self.eat_kw("SOURCE");
        let kind = self.source_kind(start)?;
        let if_not_exists = self.if_not_exists()?;
        let name = self.ident()?;
        let elements = if self.is_sym(Sym::LParen) {
            Some(self.table_elements()?)
        } else {
            None
        };
        let properties = if self.eat_kw("WITH") {
            self.properties()?
        } else {
            Vec::new()
        };
        if elements.is_none() && !is_source && self.eat_kw("AS") {
            let query = Box::new(self.query()?);
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                or_replace,
                if_not_exists,
                name,
                properties,
                query,
            }));
        }
        Ok(Statement::CreateSource(CreateSource {
            kind,
            or_replace,
            if_not_exists,
            is_source,
            name,
            elements: elements.unwrap_or_default(),
            properties,
        }))
    }

    fn table_elements(&mut self) -> PResult<Vec<TableElement>> {
        self.expect_sym(Sym::LParen)?;
        let mut elements = Vec::new();
        loop {
            let name = self.ident()?;
            let ty = self.parse_type()?;
            let constraint = if self.eat_kw("PRIMARY") {
                self.expect_kw("KEY")?;
                ColumnConstraint::PrimaryKey
            } else if self.eat_kw("KEY") {
                ColumnConstraint::Key
            } else if self.eat_kw("HEADERS") {
                ColumnConstraint::Headers
            } else if self.eat_kw("HEADER") {
                self.expect_sym(Sym::LParen)?;
                let key = self.string()?;
                self.expect_sym(Sym::RParen)?;
                ColumnConstraint::Header(key)
            } else {
                ColumnConstraint::None
            };
            elements.push(TableElement {
                name,
                ty,
                constraint,
            });
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        if !self.eat_sym(Sym::RParen) {
            return Err(self.mismatch(&[
                Expect::Sym(Sym::Comma),
                Expect::Sym(Sym::RParen),
                Expect::Kw("PRIMARY"),
                Expect::Kw("KEY"),
                Expect::Kw("HEADERS"),
                Expect::Kw("HEADER"),
            ]));
        }
        Ok(elements)
    }

    /// `(key = literal, …)`; keys are upper-cased whether written as identifiers or strings,
    /// as ksqlDB property names are case-insensitive.
    fn properties(&mut self) -> PResult<Properties> {
        self.expect_sym(Sym::LParen)?;
        let mut properties = Vec::new();
        loop {
            let key = match &self.peek().tok {
                Tok::Str(s) => {
                    let s = s.to_ascii_uppercase();
                    self.pos += 1;
                    s
                }
                _ if self.is_ident_at(0) => self.ident()?.to_ascii_uppercase(),
                _ => return Err(self.mismatch(&[Expect::Ident, Expect::Str])),
            };
            self.expect_sym(Sym::Eq)?;
            let value = self.literal()?;
            properties.push((key, value));
            if !self.eat_sym(Sym::Comma) {
                break;
            }
        }
        if !self.eat_sym(Sym::RParen) {
            return Err(self.mismatch(&[Expect::Sym(Sym::Comma), Expect::Sym(Sym::RParen)]));
        }
        Ok(properties)
    }

    fn insert(&mut self) -> PResult<Statement> {
        self.expect_kw("INTO")?;
        let target = self.ident()?;
        if self.is_sym(Sym::LParen) || self.is_kw("VALUES") {
            let columns = if self.eat_sym(Sym::LParen) {
                let mut cols = vec![self.ident()?];
                while self.eat_sym(Sym::Comma) {
                    cols.push(self.ident()?);
                }
                self.expect_sym(Sym::RParen)?;
                Some(cols)
            } else {
                None
            };
            self.expect_kw("VALUES")?;
            self.expect_sym(Sym::LParen)?;
            let mut values = Vec::new();
            if !self.eat_sym(Sym::RParen) {
                loop {
                    values.push(self.value_expression()?);
                    if !self.eat_sym(Sym::Comma) {
                        break;
                    }
                }
                self.expect_sym(Sym::RParen)?;
            }
            return Ok(Statement::InsertValues {
                target,
                columns,
                values,
            });
        }
        let properties = if self.eat_kw("WITH") {
            self.properties()?
        } else {
            Vec::new()
        };
        if !self.is_kw("SELECT") {
            let mut expected = vec![Expect::Kw("SELECT")];
            if properties.is_empty() {
                expected.extend([
                    Expect::Kw("WITH"),
                    Expect::Kw("VALUES"),
                    Expect::Sym(Sym::LParen),
                ]);
            }
            return Err(self.mismatch(&expected));
        }
        let query = Box::new(self.query()?);
        Ok(Statement::InsertIntoSelect {
            target,
            properties,
            query,
        })
    }

    fn drop(&mut self, start: usize) -> PResult<Statement> {
        if self.eat_kw("TYPE") {
            let if_exists = self.if_exists()?;
            let name = self.ident()?;
            return Ok(Statement::DropType { name, if_exists });
        }
        if self.is_kw("CONNECTOR") {
            return Err(connectors_unsupported());
        }
        let kind = self.source_kind(start)?;
        let if_exists = self.if_exists()?;
        let name = self.ident()?;
        let delete_topic = if self.eat_kw("DELETE") {
            self.expect_kw("TOPIC")?;
            true
        } else {
            false
        };
        Ok(Statement::DropSource {
            kind,
            name,
            if_exists,
            delete_topic,
        })
    }

    // ---- query --------------------------------------------------------------------------

    pub(crate) fn query(&mut self) -> PResult<Query> {
        self.expect_kw("SELECT")?;
        let mut select = vec![self.select_item()?];
        while self.eat_sym(Sym::Comma) {
            select.push(self.select_item()?);
        }
        if !self.is_kw("FROM") {
            let mut expected = vec![Expect::Kw("FROM"), Expect::Sym(Sym::Comma)];
            expected.extend(BINARY_OPERATORS);
            return Err(self.mismatch(&expected));
        }
        self.pos += 1;
        let from = self.relation()?;
        let mut end = match &from {
            Relation::Source { alias: Some(_), .. } => QueryEnd::Alias,
            Relation::Source { alias: None, .. } => QueryEnd::SourceName,
            Relation::Join { .. } => QueryEnd::Expression,
        };
        let window = if self.eat_kw("WINDOW") {
            end = QueryEnd::Window;
            Some(self.window()?)
        } else {
            None
        };
        let where_clause = if self.eat_kw("WHERE") {
            end = QueryEnd::Expression;
            Some(self.expression()?)
        } else {
            None
        };
        let group_by = if self.eat_kw("GROUP") {
            end = QueryEnd::Expression;
            self.expect_kw("BY")?;
            self.expression_list()?
        } else {
            Vec::new()
        };
        let partition_by = if self.is_kw("PARTITION") && self.is_kw_at(1, "BY") {
            end = QueryEnd::Expression;
            self.pos += 2;
            self.expression_list()?
        } else {
            Vec::new()
        };
        let having = if self.eat_kw("HAVING") {
            end = QueryEnd::Expression;
            Some(self.expression()?)
        } else {
            None
        };
        let emit = if self.is_kw("EMIT") {
            end = QueryEnd::Emit;
            self.pos += 1;
            if self.eat_kw("CHANGES") {
                Some(Emit::Changes)
            } else if self.eat_kw("FINAL") {
                Some(Emit::Final)
            } else {
                return Err(self.mismatch(&[Expect::Kw("CHANGES"), Expect::Kw("FINAL")]));
            }
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") {
            end = QueryEnd::Limit;
            Some(self.limit_clause(emit.is_none())?)
        } else {
            None
        };
        self.query_follow = end.follow();
        Ok(Query {
            select,
            from,
            window,
            where_clause,
            group_by,
            partition_by,
            having,
            emit,
            limit,
        })
    }

    fn select_item(&mut self) -> PResult<SelectItem> {
        if self.eat_sym(Sym::Star) {
            return Ok(SelectItem::Wildcard);
        }
        if self.is_ident_at(0) && self.is_sym_at(1, Sym::Dot) && self.is_sym_at(2, Sym::Star) {
            let qualifier = self.ident()?;
            self.pos += 2;
            return Ok(SelectItem::QualifiedWildcard(qualifier));
        }
        let expr = self.expression()?;
        if self.is_sym(Sym::Arrow) && self.is_sym_at(1, Sym::Star) {
            self.pos += 2;
            return Ok(SelectItem::StructAll(expr));
        }
        let alias = if self.eat_kw("AS") || self.is_ident_at(0) {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(SelectItem::Expr { expr, alias })
    }

    /// GROUP BY / PARTITION BY: `e, …` or `(e, …)`. A parenthesised single expression is
    /// just that expression, so `(a + b) * 2` still parses.
    fn expression_list(&mut self) -> PResult<Vec<Expr>> {
        if self.is_sym(Sym::LParen) && self.is_sym_at(1, Sym::RParen) {
            self.pos += 2;
            return Ok(Vec::new());
        }
        if self.is_sym(Sym::LParen) {
            // `(a, b)` is the list form; `(a) + 1` is an expression. Try the list form and
            // rewind if there is no top-level comma after the first element.
            let saved = self.pos;
            self.pos += 1;
            let first = self.value_expression();
            if first.is_ok() && self.is_sym(Sym::Comma) {
                let mut list = vec![first?];
                while self.eat_sym(Sym::Comma) {
                    list.push(self.value_expression()?);
                }
                self.expect_sym(Sym::RParen)?;
                return Ok(list);
            }
            self.pos = saved;
        }
        let mut list = vec![self.value_expression()?];
        while self.eat_sym(Sym::Comma) {
            list.push(self.value_expression()?);
        }
        Ok(list)
    }

    fn relation(&mut self) -> PResult<Relation> {
        let mut left = self.aliased_relation()?;
        loop {
            let join_type = if self.eat_kw("JOIN") {
                JoinType::Inner
            } else if self.eat_kw("INNER") {
                self.expect_kw("JOIN")?;
                JoinType::Inner
            } else if let Some(t) = self.outer_join_type()? {
                t
            } else {
                return Ok(left);
            };
            let right = self.aliased_relation()?;
            let within = if self.eat_kw("WITHIN") {
                Some(self.within()?)
            } else {
                None
            };
            self.expect_kw("ON")?;
            let on = self.expression()?;
            left = Relation::Join {
                left: Box::new(left),
                right: Box::new(right),
                join_type,
                on,
                within,
            };
        }
    }

    fn outer_join_type(&mut self) -> PResult<Option<JoinType>> {
        let join_type = if self.eat_kw("LEFT") {
            JoinType::Left
        } else if self.eat_kw("RIGHT") {
            JoinType::Right
        } else if self.eat_kw("FULL") {
            JoinType::Full
        } else {
            return Ok(None);
        };
        self.eat_kw("OUTER");
        self.expect_kw("JOIN")?;
        Ok(Some(join_type))
    }

    fn aliased_relation(&mut self) -> PResult<Relation> {
        let name = self.ident()?;
        // EMIT and PARTITION are non-reserved, so `FROM s EMIT CHANGES` must not take EMIT
        // as an alias; ANTLR's lookahead makes the same call.
        let clause_follows = (self.is_kw("EMIT")
            && (self.is_kw_at(1, "CHANGES") || self.is_kw_at(1, "FINAL")))
            || (self.is_kw("PARTITION") && self.is_kw_at(1, "BY"));
        let alias = if self.eat_kw("AS") || (self.is_ident_at(0) && !clause_follows) {
            Some(self.ident()?)
        } else {
            None
        };
        Ok(Relation::Source { name, alias })
    }

    /// `WITHIN n unit [GRACE PERIOD n unit]` or `WITHIN (before, after) [GRACE …]`.
    fn within(&mut self) -> PResult<WithinClause> {
        let (before_ms, after_ms) = if self.eat_sym(Sym::LParen) {
            let before = self.duration_ms()?;
            let after = if self.eat_sym(Sym::Comma) {
                self.duration_ms()?
            } else {
                before
            };
            self.expect_sym(Sym::RParen)?;
            (before, after)
        } else {
            let size = self.duration_ms()?;
            (size, size)
        };
        let grace_ms = if self.eat_kw("GRACE") {
            self.expect_kw("PERIOD")?;
            Some(self.duration_ms()?)
        } else {
            None
        };
        Ok(WithinClause {
            before_ms,
            after_ms,
            grace_ms,
        })
    }

    fn window(&mut self) -> PResult<WindowExpr> {
        // An optional window name (`WINDOW w TUMBLING (…)`) is accepted and ignored.
        if matches!(self.peek().tok, Tok::Word(_))
            && !["TUMBLING", "HOPPING", "SESSION"]
                .iter()
                .any(|k| self.is_kw(k))
        {
            self.pos += 1;
        }
        if self.eat_kw("TUMBLING") {
            self.expect_sym(Sym::LParen)?;
            self.expect_kw("SIZE")?;
            let size_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Tumbling {
                size_ms,
                retention_ms,
                grace_ms,
            })
        } else if self.eat_kw("HOPPING") {
            self.expect_sym(Sym::LParen)?;
            self.expect_kw("SIZE")?;
            let size_ms = self.duration_ms()?;
            self.expect_sym(Sym::Comma)?;
            self.expect_kw("ADVANCE")?;
            self.expect_kw("BY")?;
            let advance_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Hopping {
                size_ms,
                advance_ms,
                retention_ms,
                grace_ms,
            })
        } else if self.eat_kw("SESSION") {
            self.expect_sym(Sym::LParen)?;
            let gap_ms = self.duration_ms()?;
            let (retention_ms, grace_ms) = self.window_tail()?;
            Ok(WindowExpr::Session {
                gap_ms,
                retention_ms,
                grace_ms,
            })
        } else {
            Err(self.mismatch(&[
                Expect::Kw("TUMBLING"),
                Expect::Kw("HOPPING"),
                Expect::Kw("SESSION"),
            ]))
        }
    }

    /// `[, RETENTION n unit] [, GRACE PERIOD n unit] )`
    fn window_tail(&mut self) -> PResult<(Option<u64>, Option<u64>)> {
        let mut retention = None;
        let mut grace = None;
        while self.eat_sym(Sym::Comma) {
            if retention.is_none() && grace.is_none() && self.eat_kw("RETENTION") {
                retention = Some(self.duration_ms()?);
            } else if grace.is_none() && self.eat_kw("GRACE") {
                self.expect_kw("PERIOD")?;
                grace = Some(self.duration_ms()?);
            } else {
                let mut expected = Vec::new();
                if retention.is_none() {
                    expected.push(Expect::Kw("RETENTION"));
                }
                expected.push(Expect::Kw("GRACE"));
                return Err(self.mismatch(&expected));
            }
        }
        self.expect_sym(Sym::RParen)?;
        Ok((retention, grace))
    }

    /// `n unit` in milliseconds.
    fn duration_ms(&mut self) -> PResult<u64> {
        let number_token = self.peek().clone();
        let n = self.unsigned_number()?;
        let unit_ms = self.time_unit_ms()?;
        n.checked_mul(unit_ms).ok_or_else(|| {
            self.error_at(
                &number_token,
                "duration is too large to represent in milliseconds",
            )
        })
    }

    pub(crate) fn time_unit_ms(&mut self) -> PResult<u64> {
        let ms = TIME_UNITS
            .iter()
            .find(|(name, _)| self.is_kw(name) || self.is_kw(&format!("{name}S")))
            .map(|(_, ms)| *ms);
        match ms {
            Some(ms) => {
                self.pos += 1;
                Ok(ms)
            }
            None => Err(self.mismatch(
                &[
                    "DAY",
                    "HOUR",
                    "MINUTE",
                    "SECOND",
                    "MILLISECOND",
                    "DAYS",
                    "HOURS",
                    "MINUTES",
                    "SECONDS",
                    "MILLISECONDS",
                ]
                .map(Expect::Kw),
            )),
        }
    }

    /// A query's LIMIT count. ksqlDB's grammar takes any number here and its AST builder
    /// rejects the rest with these messages; "Failed to prepare statement: " is the prefix
    /// ksqlDB gives errors from that stage. `pull` is whether the query has no EMIT.
    fn limit_clause(&mut self, pull: bool) -> PResult<u64> {
        let negative = self.is_sym(Sym::Minus);
        match &self.peek_nth(usize::from(negative)).tok {
            Tok::Decimal(_) | Tok::Float(_) => {
                self.pos += 1 + usize::from(negative);
                Err(EngineError::Statement(
                    "Failed to prepare statement: Value must be integer for command: LIMIT".into(),
                ))
            }
            Tok::Integer(_) if negative && pull => {
                self.pos += 2;
                Err(EngineError::Statement(
                    "Pull queries don't support negative integers in the LIMIT clause. \
                     See https://cnfl.io/queries for more info."
                        .into(),
                ))
            }
            _ => self.unsigned_number(),
        }
    }

    /// The grammar's `number` where only a non-negative integer makes sense (LIMIT, sizes).
    fn unsigned_number(&mut self) -> PResult<u64> {
        let token = self.peek().clone();
        let negative = self.is_sym(Sym::Minus);
        let value_token = self.peek_nth(usize::from(negative)).clone();
        let text = match &value_token.tok {
            Tok::Integer(t) | Tok::Decimal(t) | Tok::Float(t) => t.clone(),
            _ => {
                return Err(self.mismatch(&[
                    Expect::Sym(Sym::Minus),
                    Expect::Integer,
                    Expect::Decimal,
                    Expect::Float,
                ]))
            }
        };
        self.pos += 1 + usize::from(negative);
        match (negative, &value_token.tok, text.parse::<u64>()) {
            (false, Tok::Integer(_), Ok(n)) => Ok(n),
            (false, Tok::Integer(_), Err(_)) => Err(EngineError::Statement(format!(
                "Invalid numeric literal: {text}"
            ))),
            _ => Err(self.error_at(
                &token,
                &format!(
                    "Value must be a non-negative integer: {}",
                    &self.src[token.start..value_token.end]
                ),
            )),
        }
    }
}

/// The last thing a query parsed, which decides what ANTLR reports as expected when the
/// statement then fails to end.
///
/// ksqlDB's ANTLR (4.9) error strategy calls `sync` before each optional element. When
/// the next token fits, it forgets any earlier record; when it does not but the element may
/// be skipped, it records the parser's position unless one is recorded already. A later
/// mismatch lists everything that could have followed the *recorded* position. So
/// `SELECT * FROM s ORDER BY x;` (ORDER is taken as an alias) fails at `BY` with the set
/// recorded at the skipped `WINDOW` clause: every later clause of `query`, then the `;`
/// that ends `singleStatement`. The set is the same for pull, push and persistent queries,
/// since `query` is the last element of each statement that holds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryEnd {
    /// `FROM s a`: the alias was matched, so the record is made at the skipped WINDOW.
    Alias,
    /// `FROM s`: the record is made at the skipped alias (`(AS? sourceName)?`).
    SourceName,
    /// `… WINDOW TUMBLING (…)`: the window's own optional parts saw its `)`, so the
    /// record is made at the skipped WHERE.
    Window,
    /// `… EMIT CHANGES`: the record is made at the skipped LIMIT.
    Emit,
    /// `… LIMIT n`: nothing optional follows, so only `;` is expected.
    Limit,
    /// A clause ending in an expression: the record is made deep inside the expression
    /// (operators that could continue it), which this parser does not model; it reports
    /// only the `;`.
    Expression,
}

impl QueryEnd {
    /// The expected set, in ANTLR's order (token type: `;` is an implicit literal token,
    /// so first; keywords follow in the order `SqlBase.g4` defines them).
    fn follow(self) -> Option<&'static [Expect]> {
        const SEMI: Expect = Expect::Sym(Sym::Semicolon);
        const EMIT: Expect = Expect::Kw("EMIT");
        const WHERE: Expect = Expect::Kw("WHERE");
        const WINDOW: Expect = Expect::Kw("WINDOW");
        const GROUP: Expect = Expect::Kw("GROUP");
        const HAVING: Expect = Expect::Kw("HAVING");
        const LIMIT: Expect = Expect::Kw("LIMIT");
        const PARTITION: Expect = Expect::Kw("PARTITION");
        match self {
            QueryEnd::Alias => Some(&[SEMI, EMIT, WHERE, WINDOW, GROUP, HAVING, LIMIT, PARTITION]),
            // ANTLR also lists every non-reserved keyword (an alias may be one) and
            // VARIABLE; like `Expect::Ident` elsewhere, this names the identifier tokens only.
            QueryEnd::SourceName => Some(&[
                SEMI,
                EMIT,
                Expect::Kw("AS"),
                WHERE,
                WINDOW,
                GROUP,
                HAVING,
                LIMIT,
                PARTITION,
                Expect::Ident,
            ]),
            QueryEnd::Window => Some(&[SEMI, EMIT, WHERE, GROUP, HAVING, LIMIT, PARTITION]),
            QueryEnd::Emit => Some(&[SEMI, LIMIT]),
            QueryEnd::Limit | QueryEnd::Expression => None,
        }
    }
}

/// `X` for one expected token, `{X, Y, …}` for more, as ANTLR's `IntervalSet` prints.
fn describe_set(expected: &[Expect]) -> String {
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

/// Operators that may continue an expression, listed when a clause keyword was expected.
const BINARY_OPERATORS: [Expect; 6] = [
    Expect::Sym(Sym::Plus),
    Expect::Sym(Sym::Minus),
    Expect::Sym(Sym::Star),
    Expect::Sym(Sym::Slash),
    Expect::Sym(Sym::Percent),
    Expect::Sym(Sym::Concat),
];

/// Window/time units (singular spelling; the plural adds `S`) and their length in ms.
const TIME_UNITS: [(&str, u64); 5] = [
    ("MILLISECOND", 1),
    ("SECOND", 1_000),
    ("MINUTE", 60_000),
    ("HOUR", 3_600_000),
    ("DAY", 86_400_000),
];

fn connectors_unsupported() -> EngineError {
    EngineError::Unsupported("Connectors are not supported by this server.".into())
}
