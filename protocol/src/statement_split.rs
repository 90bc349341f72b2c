//! Where statements end: a `;` outside quotes and comments.
//!
//! The shell reads text a line at a time and must know, before anything reaches the server,
//! whether the text so far holds complete statements (run them) or not (show the
//! continuation prompt); the DeltaStream face splits a request's batch into statements,
//! each with its own statement id. ksqlDB's lexer rules decide what hides a `;`: `'…'` strings (with
//! `''` for a quote), `"…"` and `` `…` `` identifiers (doubled to escape), `-- …` line
//! comments and `/* … */` block comments.

/// What a scanner is inside of at a given byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Within {
    Code,
    /// Inside quotes that end at this byte (`'`, `"` or `` ` ``); a doubled quote leaves and
    /// re-enters, which is how SQL escapes it.
    Quoted(u8),
    LineComment,
    BlockComment,
}

/// Text split at statement ends.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// Each complete statement, with its `;`, trimmed; blank ones (only comments) left out.
    pub statements: Vec<&'a str>,
    /// What follows the last `;`: the start of a statement still being typed (or blank).
    pub rest: &'a str,
}

/// Splits `text` after every `;` that is code (not quoted, not commented out).
pub fn split(text: &str) -> Split<'_> {
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut within = Within::Code;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        within = match within {
            Within::Code => match (b, next) {
                (b'\'' | b'"' | b'`', _) => Within::Quoted(b),
                (b'-', Some(b'-')) => {
                    i += 1;
                    Within::LineComment
                }
                (b'/', Some(b'*')) => {
                    i += 1;
                    Within::BlockComment
                }
                (b';', _) => {
                    let statement = text[start..=i].trim();
                    if !is_blank(statement) {
                        statements.push(statement);
                    }
                    start = i + 1;
                    Within::Code
                }
                _ => Within::Code,
            },
            Within::Quoted(q) if b == q => Within::Code,
            Within::LineComment if b == b'\n' => Within::Code,
            Within::BlockComment if b == b'*' && next == Some(b'/') => {
                i += 1;
                Within::Code
            }
            unchanged => unchanged,
        };
        i += 1;
    }
    Split {
        statements,
        rest: &text[start..],
    }
}

/// Whether `text` holds nothing but whitespace and comments (a `;` alone counts as blank).
pub fn is_blank(text: &str) -> bool {
    code_words(text).next().is_none()
}

/// The words of `text` that are code, upper-cased, in order: runs of letters, digits and
/// `_`, outside quotes and comments. Enough to recognise a statement's kind (`SELECT`,
/// `EMIT`, `RUN SCRIPT`) without a full lexer.
pub fn code_words(text: &str) -> impl Iterator<Item = String> + '_ {
    let bytes = text.as_bytes();
    let mut within = Within::Code;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            let next = bytes.get(i + 1).copied();
            match within {
                Within::Code => match (b, next) {
                    (b'\'' | b'"' | b'`', _) => within = Within::Quoted(b),
                    (b'-', Some(b'-')) => {
                        i += 1;
                        within = Within::LineComment;
                    }
                    (b'/', Some(b'*')) => {
                        i += 1;
                        within = Within::BlockComment;
                    }
                    _ if is_word_byte(b) => {
                        let start = i;
                        while i < bytes.len() && is_word_byte(bytes[i]) {
                            i += 1;
                        }
                        return Some(text[start..i].to_ascii_uppercase());
                    }
                    _ => {}
                },
                Within::Quoted(q) if b == q => within = Within::Code,
                Within::LineComment if b == b'\n' => within = Within::Code,
                Within::BlockComment if b == b'*' && next == Some(b'/') => {
                    i += 1;
                    within = Within::Code;
                }
                _ => {}
            }
            i += 1;
        }
        None
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'{' || b == b'}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_after_each_code_semicolon_and_keeps_the_rest() {
        let s = split("SHOW STREAMS; DESCRIBE s;\nSELECT * FROM s");
        assert_eq!(s.statements, vec!["SHOW STREAMS;", "DESCRIBE s;"]);
        assert_eq!(s.rest, "\nSELECT * FROM s");
    }

    #[test]
    fn semicolons_in_strings_identifiers_and_comments_do_not_end_a_statement() {
        let text = "INSERT INTO s VALUES ('a;b', 'it''s;'); -- done; really\n\
                    SELECT `x;y`, \"p;q\" /* ; */ FROM s\n-- ;\n";
        let s = split(text);
        assert_eq!(
            s.statements,
            vec!["INSERT INTO s VALUES ('a;b', 'it''s;');"]
        );
        assert!(s.rest.contains("SELECT `x;y`"));
        assert!(!is_blank(s.rest));
    }

    #[test]
    fn an_open_quote_or_comment_keeps_the_statement_open() {
        assert!(split("SELECT 'abc;").statements.is_empty());
        assert!(split("SELECT 1 /* ;").statements.is_empty());
        assert_eq!(
            split("SELECT 1 /* ; */;").statements,
            vec!["SELECT 1 /* ; */;"]
        );
    }

    #[test]
    fn comment_only_and_empty_statements_are_dropped() {
        let s = split("-- a note\n;  ; /* x */ ;\nSHOW TOPICS;");
        assert_eq!(s.statements, vec!["SHOW TOPICS;"]);
        assert!(is_blank(s.rest));
        assert!(is_blank("  -- only a comment"));
    }

    #[test]
    fn code_words_skip_quotes_and_comments_and_upper_case() {
        let words: Vec<String> =
            code_words("select 'emit changes' -- emit\n, a_1 FROM ${src} emit Changes;").collect();
        assert_eq!(
            words,
            vec!["SELECT", "A_1", "FROM", "${SRC}", "EMIT", "CHANGES"]
        );
    }

    /// Splitting must not depend on where lines were broken: the same statements come out
    /// whether the text arrives whole or is split at any byte and rejoined.
    #[test]
    fn split_points_do_not_matter() {
        let text = "CREATE STREAM s (k STRING KEY, v INT)\n  WITH (kafka_topic='s;1', value_format='JSON');\n\
                    INSERT INTO s (k, v) VALUES ('a', 1); /* c; */ SHOW STREAMS;";
        let whole = split(text).statements;
        assert_eq!(whole.len(), 3);
        for cut in 0..text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let mut buffer = String::new();
            let mut seen: Vec<String> = Vec::new();
            for part in [&text[..cut], &text[cut..]] {
                buffer.push_str(part);
                let s = split(&buffer);
                seen.extend(s.statements.iter().map(|x| x.to_string()));
                buffer = s.rest.to_string();
            }
            assert_eq!(seen, whole, "cut at {cut}");
        }
    }
}
