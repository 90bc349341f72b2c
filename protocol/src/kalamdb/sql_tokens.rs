//! The KalamDB face's SQL tokens: words, quoted runs, whitespace/comments and symbols,
//! kept byte for byte so a statement can be rewritten and put back together, and the
//! engine's name for a namespaced table. Shared by `dialect` and `column_defaults`.

/// The value of option `name` in a `CREATE TABLE`'s `WITH` options (upper-cased, blanks
/// removed): the text after `NAME=` up to the next `,` or `)`.
pub(crate) fn with_option(options: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let at = options.find(&key)?;
    Some(
        options[at + key.len()..]
            .chars()
            .take_while(|c| *c != ',' && *c != ')')
            .collect(),
    )
}

/// The engine's name of table `table` in namespace `namespace`.
pub fn source_name(namespace: &str, table: &str) -> String {
    format!(
        "{}.{}",
        namespace.to_ascii_lowercase(),
        table.to_ascii_lowercase()
    )
}

/// A name token without its quotes, doubled quotes inside made single. An unterminated
/// quoted run (the input ended inside it) has no closing quote to drop.
pub(crate) fn bare(t: &Token) -> String {
    match t.kind {
        Kind::Quoted => quoted_text(t).unwrap_or_else(|| {
            // The opening quote is one ASCII byte: slicing after it is on a char boundary.
            t.text.get(1..).unwrap_or("").to_string()
        }),
        _ => t.text.clone(),
    }
}

/// The text of a quoted run (`'it''s'` → `it's`), or `None` when the input ended inside it
/// (no closing quote, or only an escaped one).
pub(crate) fn quoted_text(t: &Token) -> Option<String> {
    let quote = t.text.chars().next()?;
    let inner = t.text.get(1..)?;
    // The run ends at a quote that is not half of a doubled one: an odd run of quotes.
    let closing = inner.chars().rev().take_while(|c| *c == quote).count();
    if t.kind != Kind::Quoted || closing % 2 == 0 {
        return None;
    }
    let body = &inner[..inner.len() - quote.len_utf8()];
    let doubled: String = [quote, quote].iter().collect();
    Some(body.replace(&doubled, &quote.to_string()))
}

/// Index of the next token at or after `from` that is not whitespace or a comment.
pub(crate) fn next_solid(toks: &[Token], from: usize) -> Option<usize> {
    (from..toks.len()).find(|&i| toks[i].kind != Kind::Space)
}

/// Indexes of the solid tokens from `from` on that sit outside parentheses (an opening
/// `(` at the top level included).
pub(crate) fn top_level(toks: &[Token], from: usize) -> Vec<usize> {
    let mut depth = 0usize;
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate().skip(from) {
        if depth == 0 && t.kind != Kind::Space {
            out.push(i);
        }
        match t.text.as_str() {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// Whether `t` is the keyword `word` (any case).
pub(crate) fn is_word(t: &Token, word: &str) -> bool {
    t.kind == Kind::Word && t.text.eq_ignore_ascii_case(word)
}

/// The tokens' text put back together, trimmed.
pub(crate) fn joined_text(toks: &[Token]) -> String {
    toks.iter()
        .map(|t| t.text.as_str())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Where the statement's own text ends: before a trailing `;`, else at the end.
pub(crate) fn statement_end(toks: &[Token]) -> usize {
    match (0..toks.len()).rev().find(|&i| toks[i].kind != Kind::Space) {
        Some(last) if toks[last].text == ";" => last,
        _ => toks.len(),
    }
}

/// A column name as the engine names it: an unquoted name upper-cased, a quoted one as
/// written; `None` for anything else (a string, a symbol).
pub(crate) fn engine_ident(t: &Token) -> Option<String> {
    match t.kind {
        Kind::Word => Some(t.text.to_ascii_uppercase()),
        Kind::Quoted if !t.text.starts_with('\'') => Some(bare(t)),
        _ => None,
    }
}

/// The `)` matching the `(` at `open`.
pub(crate) fn matching(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.text.as_str() {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    Quoted,
    Space,
    Symbol,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) text: String,
}

/// Where the block comment opening at `at` ends (after its `*/`), if one opens there and
/// closes.
fn block_comment_end(chars: &[char], at: usize) -> Option<usize> {
    if chars.get(at) != Some(&'/') || chars.get(at + 1) != Some(&'*') {
        return None;
    }
    (at + 2..chars.len().saturating_sub(1))
        .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
        .map(|j| j + 2)
}

/// Splits SQL into words, quoted runs, whitespace/comments and single symbols, keeping
/// every byte so that the tokens concatenate back to the input.
pub(crate) fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        let kind = if c.is_alphanumeric() || c == '_' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            Kind::Word
        } else if matches!(c, '\'' | '"' | '`') {
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
            Kind::Quoted
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            Kind::Space
        } else if let Some(end) = block_comment_end(&chars, i) {
            // As the engine reads it: a `/* … */` with its `*/` is a comment; without one,
            // `/` and `*` are operators.
            i = end;
            Kind::Space
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            Kind::Space
        } else {
            i += 1;
            Kind::Symbol
        };
        out.push(Token {
            kind,
            text: chars[start..i].iter().collect(),
        });
    }
    out
}
