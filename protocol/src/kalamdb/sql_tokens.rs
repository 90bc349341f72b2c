//! The KalamDB face's SQL tokens: words, quoted runs, whitespace/comments and symbols,
//! kept byte for byte so a statement can be rewritten and put back together, and the
//! engine's name for a namespaced table. Shared by `dialect` and `column_defaults`.

/// The engine's name of table `table` in namespace `namespace`.
pub fn source_name(namespace: &str, table: &str) -> String {
    format!(
        "{}.{}",
        namespace.to_ascii_lowercase(),
        table.to_ascii_lowercase()
    )
}

/// A name token without its quotes. An unterminated quoted run (the input ended inside
/// it) has no closing quote to drop.
pub(crate) fn bare(t: &Token) -> String {
    match t.kind {
        Kind::Quoted => {
            // The opening quote is one ASCII byte: slicing after it is on a char boundary.
            let quote = t.text.chars().next().unwrap_or('"');
            let inner = t.text.get(1..).unwrap_or("");
            inner.strip_suffix(quote).unwrap_or(inner).to_string()
        }
        _ => t.text.clone(),
    }
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
