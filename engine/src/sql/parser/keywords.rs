//! ksqlDB's reserved words, and the words that begin a statement.

/// Words that are keywords in ksqlDB's lexer and *not* in its `nonReserved` list, so they
/// can only be used as identifiers when quoted.
pub(super) const RESERVED: &[&str] = &[
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
///
/// Asked for nearly every token, so it binary-searches [`RESERVED`], which is upper case and
/// sorted (a test checks), comparing `word` upper-cased.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED
        .binary_search_by(|reserved| {
            reserved
                .bytes()
                .cmp(word.bytes().map(|b| b.to_ascii_uppercase()))
        })
        .is_ok()
}

/// Words that begin a statement, so `EXPLAIN <word> …` is taken as a statement.
pub(super) const STATEMENT_START: [&str; 15] = [
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_sorted_upper_case_and_found_in_any_case() {
        assert!(RESERVED.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(RESERVED
            .iter()
            .all(|w| w.bytes().all(|b| b.is_ascii_uppercase())));
        for word in RESERVED {
            assert!(is_reserved(word) && is_reserved(&word.to_ascii_lowercase()));
        }
        assert!(!is_reserved("EMIT") && !is_reserved("selec") && !is_reserved(""));
    }
}
