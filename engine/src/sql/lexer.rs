//! Lexer: SQL text → tokens with line/column positions.
//!
//! Follows the token rules of ksqlDB's `SqlBase.g4`: keywords are case-insensitive words,
//! `'…'` strings escape `'` as `''`, `"…"` and `` `…` `` are quoted identifiers, and a
//! number is INTEGER (`12`), DECIMAL (`1.5`, `.5`) or FLOATING_POINT (`1.5E3`). Like the
//! ANTLR lexer this never fails: a character it cannot place becomes an `Unrecognized`
//! token, so the parser reports it with the usual `mismatched input` shape.

/// One lexical token kind. Text-bearing kinds hold the *decoded* text (quotes removed,
/// doubled quotes collapsed); the raw text is always `&src[start..end]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word: keyword or identifier, as written.
    Word(String),
    /// `"name"` or `` `name` ``: an identifier kept verbatim.
    Quoted(String),
    /// A word starting with a digit (`1abc`), ksqlDB's DIGIT_IDENTIFIER.
    DigitIdent(String),
    /// `'text'`
    Str(String),
    Integer(String),
    Decimal(String),
    Float(String),
    /// `${name}`
    Variable(String),
    Sym(Sym),
    /// A character no rule accepts (ANTLR's UNRECOGNIZED).
    Unrecognized,
    Eof,
}

/// Punctuation and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sym {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Semicolon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `->`
    Arrow,
    /// `=>`
    Lambda,
    /// `:=`
    Assign,
}

impl Sym {
    /// How ANTLR names the token in `expecting {…}` lists.
    pub(crate) fn display(self) -> &'static str {
        match self {
            Sym::LParen => "'('",
            Sym::RParen => "')'",
            Sym::LBracket => "'['",
            Sym::RBracket => "']'",
            Sym::Comma => "','",
            Sym::Dot => "'.'",
            Sym::Semicolon => "';'",
            Sym::Plus => "'+'",
            Sym::Minus => "'-'",
            Sym::Star => "'*'",
            Sym::Slash => "'/'",
            Sym::Percent => "'%'",
            Sym::Concat => "'||'",
            Sym::Eq => "'='",
            Sym::NotEq => "'<>'",
            Sym::Lt => "'<'",
            Sym::LtEq => "'<='",
            Sym::Gt => "'>'",
            Sym::GtEq => "'>='",
            Sym::Arrow => "'->'",
            Sym::Lambda => "'=>'",
            Sym::Assign => "':='",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// Byte offsets into the source.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// 1-based line.
    pub(crate) line: u32,
    /// 0-based column in characters, as ANTLR counts `charPositionInLine`.
    pub(crate) column: u32,
}

/// Bytes scanned by the lexer's searches and column counting, and by variable substitution,
/// on this thread: tests check it grows linearly with the input, which no timing can show
/// reliably on a shared machine. Outside tests it counts nothing.
pub(crate) mod scan_work {
    #[cfg(test)]
    thread_local! {
        static BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[cfg(test)]
    pub(crate) fn add(bytes: usize) {
        BYTES.with(|b| b.set(b.get() + bytes));
    }

    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn add(_bytes: usize) {}

    /// The count so far, resetting it.
    #[cfg(test)]
    pub(crate) fn take() -> usize {
        BYTES.with(|b| b.replace(0))
    }
}

/// Splits `src` into tokens, skipping whitespace and comments; always ends with `Tok::Eof`.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    Lexer::new(src).run()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    /// Byte offset where the current line starts; columns are counted in chars from here.
    line_start: usize,
    /// The last offset whose column was computed on the current line, and that column.
    /// Tokens arrive in order, so each column is counted on from the previous one: counting
    /// from the line start every time made one long line quadratic (issue 9, finding 5).
    column_mark: (usize, u32),
    /// Where a search for a bracketed comment's `*/` last came up empty: no later `/*` can
    /// find one either, so it need not search again (`/*/*/*…` was quadratic).
    comment_end_missing_from: Option<usize>,
    tokens: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            line: 1,
            line_start: 0,
            column_mark: (0, 0),
            comment_end_missing_from: None,
            tokens: Vec::new(),
        }
    }

    fn run(mut self) -> Vec<Token> {
        loop {
            self.skip_trivia();
            let start = self.pos;
            let (line, column) = (self.line, self.column_at(start));
            let tok = match self.bytes.get(self.pos) {
                None => {
                    self.tokens.push(Token {
                        tok: Tok::Eof,
                        start,
                        end: start,
                        line,
                        column,
                    });
                    return self.tokens;
                }
                Some(&b) => self.next_token(b),
            };
            let end = self.pos;
            self.tokens.push(Token {
                tok,
                start,
                end,
                line,
                column,
            });
        }
    }

    /// The column of `offset`, which is on the current line and not before the last offset
    /// asked about; amortised O(1) per token.
    fn column_at(&mut self, offset: usize) -> u32 {
        let (mut mark, mut column) = self.column_mark;
        if mark < self.line_start {
            (mark, column) = (self.line_start, 0);
        }
        debug_assert!(mark <= offset, "columns are asked for in source order");
        scan_work::add(offset - mark);
        let chars = self.src[mark..offset].chars().count();
        column = column.saturating_add(u32::try_from(chars).unwrap_or(u32::MAX));
        self.column_mark = (offset, column);
        column
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Advances over `n` bytes, keeping the line bookkeeping right for newlines inside
    /// strings and comments.
    fn bump(&mut self, n: usize) {
        for _ in 0..n {
            if self.bytes.get(self.pos) == Some(&b'\n') {
                self.line += 1;
                self.line_start = self.pos + 1;
            }
            self.pos += 1;
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match (self.peek_at(0), self.peek_at(1)) {
                (Some(b' ' | b'\t' | b'\r' | b'\n'), _) => self.bump(1),
                (Some(b'-'), Some(b'-')) => {
                    while let Some(b) = self.peek_at(0) {
                        self.bump(1);
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let from = self.pos + 2;
                    if self.comment_end_missing_from.is_some_and(|at| at <= from) {
                        return;
                    }
                    let found = self.src[from..].find("*/");
                    scan_work::add(found.map_or(self.src.len() - from, |rel| rel + 2));
                    match found {
                        Some(rel) => self.bump(rel + 4),
                        // ANTLR's BRACKETED_COMMENT needs its `*/`; without it `/` and `*`
                        // are ordinary operator tokens.
                        None => {
                            self.comment_end_missing_from = Some(from);
                            return;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self, b: u8) -> Tok {
        match b {
            b'\'' => self.quoted(b'\'').map(Tok::Str).unwrap_or_else(|| {
                self.bump(1);
                Tok::Unrecognized
            }),
            b'"' | b'`' => self.quoted(b).map(Tok::Quoted).unwrap_or_else(|| {
                self.bump(1);
                Tok::Unrecognized
            }),
            b'0'..=b'9' => self.number_or_digit_ident(),
            b'.' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                self.number_or_digit_ident()
            }
            b'$' if self.peek_at(1) == Some(b'{') => self.variable(),
            c if is_ident_start(c) => {
                let start = self.pos;
                while self.peek_at(0).is_some_and(is_ident_part) {
                    self.bump(1);
                }
                Tok::Word(self.src[start..self.pos].to_string())
            }
            _ => self.symbol(),
        }
    }

    /// Reads a quoted run where the quote doubles as its own escape; `None` if unterminated.
    ///
    /// An unterminated quote scans to the end of the input, but that happens at most once
    /// per quote character: it means every later run of that quote has even length, and a
    /// run of even length (or the rest of this one) always closes a string of its own.
    fn quoted(&mut self, quote: u8) -> Option<String> {
        let mut i = self.pos + 1;
        let mut text = String::new();
        let mut run_start = i;
        loop {
            match self.bytes.get(i) {
                None => {
                    scan_work::add(i - self.pos);
                    return None;
                }
                Some(&c) if c == quote => {
                    text.push_str(&self.src[run_start..i]);
                    if self.bytes.get(i + 1) == Some(&quote) {
                        text.push(quote as char);
                        i += 2;
                        run_start = i;
                    } else {
                        scan_work::add(i + 1 - self.pos);
                        self.bump(i + 1 - self.pos);
                        return Some(text);
                    }
                }
                Some(_) => i += 1,
            }
        }
    }

    /// Longest match between a number and a DIGIT_IDENTIFIER; on a tie the number wins, as
    /// it is declared first in the grammar.
    fn number_or_digit_ident(&mut self) -> Tok {
        let start = self.pos;
        let b = self.bytes;
        let mut i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_end = i;
        let mut has_dot = false;
        if b.get(i) == Some(&b'.') {
            has_dot = true;
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        let mut has_exp = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if b.get(j).is_some_and(u8::is_ascii_digit) {
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                has_exp = true;
                i = j;
            }
        }
        let number_end = i;

        let mut ident_end = int_end;
        if int_end > start {
            while b.get(ident_end).copied().is_some_and(is_ident_part) {
                ident_end += 1;
            }
        }
        if ident_end > number_end && ident_end - start >= 2 {
            self.bump(ident_end - start);
            return Tok::DigitIdent(self.src[start..ident_end].to_string());
        }
        self.bump(number_end - start);
        let text = self.src[start..number_end].to_string();
        if has_exp {
            Tok::Float(text)
        } else if has_dot {
            Tok::Decimal(text)
        } else {
            Tok::Integer(text)
        }
    }

    fn variable(&mut self) -> Tok {
        let name_start = self.pos + 2;
        let mut i = name_start;
        if self.bytes.get(i).copied().is_some_and(is_ident_start) {
            while self.bytes.get(i).copied().is_some_and(is_ident_part) {
                i += 1;
            }
            if self.bytes.get(i) == Some(&b'}') {
                let name = self.src[name_start..i].to_string();
                self.bump(i + 1 - self.pos);
                return Tok::Variable(name);
            }
        }
        self.bump(1);
        Tok::Unrecognized
    }

    fn symbol(&mut self) -> Tok {
        let two = (self.peek_at(0), self.peek_at(1));
        let (sym, len) = match two {
            (Some(b'-'), Some(b'>')) => (Sym::Arrow, 2),
            (Some(b'='), Some(b'>')) => (Sym::Lambda, 2),
            (Some(b':'), Some(b'=')) => (Sym::Assign, 2),
            (Some(b'|'), Some(b'|')) => (Sym::Concat, 2),
            (Some(b'<'), Some(b'>')) | (Some(b'!'), Some(b'=')) => (Sym::NotEq, 2),
            (Some(b'<'), Some(b'=')) => (Sym::LtEq, 2),
            (Some(b'>'), Some(b'=')) => (Sym::GtEq, 2),
            (Some(b'('), _) => (Sym::LParen, 1),
            (Some(b')'), _) => (Sym::RParen, 1),
            (Some(b'['), _) => (Sym::LBracket, 1),
            (Some(b']'), _) => (Sym::RBracket, 1),
            (Some(b','), _) => (Sym::Comma, 1),
            (Some(b'.'), _) => (Sym::Dot, 1),
            (Some(b';'), _) => (Sym::Semicolon, 1),
            (Some(b'+'), _) => (Sym::Plus, 1),
            (Some(b'-'), _) => (Sym::Minus, 1),
            (Some(b'*'), _) => (Sym::Star, 1),
            (Some(b'/'), _) => (Sym::Slash, 1),
            (Some(b'%'), _) => (Sym::Percent, 1),
            (Some(b'='), _) => (Sym::Eq, 1),
            (Some(b'<'), _) => (Sym::Lt, 1),
            (Some(b'>'), _) => (Sym::Gt, 1),
            _ => {
                // Step over one whole (possibly multi-byte) character.
                let len = self.src[self.pos..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
                self.bump(len);
                return Tok::Unrecognized;
            }
        };
        self.bump(len);
        Tok::Sym(sym)
    }
}

/// ksqlDB identifiers are ASCII letters, digits, `_` and `@` (the grammar's LETTER is
/// `[A-Z]` over a case-insensitive stream).
fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_part(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_are_classified_like_antlr() {
        assert_eq!(
            kinds("12 1.5 .5 1.5E3 1e-2 1abc 1."),
            vec![
                Tok::Integer("12".into()),
                Tok::Decimal("1.5".into()),
                Tok::Decimal(".5".into()),
                Tok::Float("1.5E3".into()),
                Tok::Float("1e-2".into()),
                Tok::DigitIdent("1abc".into()),
                Tok::Decimal("1.".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_and_quoted_identifiers_unescape() {
        assert_eq!(
            kinds(r#"'it''s' "a""b" `c``d`"#),
            vec![
                Tok::Str("it's".into()),
                Tok::Quoted("a\"b".into()),
                Tok::Quoted("c`d".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn comments_are_skipped_and_positions_tracked() {
        let toks = tokenize("-- hi\n  /* x\n y */ a >= b->c");
        let a = &toks[0];
        assert_eq!((a.line, a.column), (3, 6));
        assert_eq!(toks[1].tok, Tok::Sym(Sym::GtEq));
        assert_eq!(toks[3].tok, Tok::Sym(Sym::Arrow));
    }

    #[test]
    fn odd_input_becomes_unrecognized_tokens() {
        assert_eq!(
            kinds("'open # ${x} ${ é"),
            vec![
                Tok::Unrecognized,
                Tok::Word("open".into()),
                Tok::Unrecognized,
                Tok::Variable("x".into()),
                Tok::Unrecognized,
                Tok::Unrecognized,
                Tok::Unrecognized,
                Tok::Eof,
            ]
        );
    }
}
