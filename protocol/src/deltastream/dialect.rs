//! DeltaStream's SQL spellings that its tools send, mapped onto the ksqlDB dialect the
//! engine runs (DeltaStream docs: CREATE STREAM, CREATE CHANGELOG, LIST, USE, TERMINATE;
//! what terraform-provider-deltastream and dbt-deltastream send).
//!
//! | DeltaStream | engine |
//! |---|---|
//! | `LIST STREAMS` / `LIST CHANGELOGS` / `LIST QUERIES` / `LIST ENTITIES` | `SHOW STREAMS` / `SHOW TABLES` / `SHOW QUERIES` / `SHOW TOPICS` |
//! | `TERMINATE QUERY id` | `TERMINATE id` |
//! | `CREATE CHANGELOG …` | `CREATE TABLE …` |
//! | `WITH ('topic'=…, 'value.format'=…, 'key.format'=…, 'topic.partitions'=…, 'topic.replicas'=…)` | `kafka_topic`, `value_format`, `key_format`, `partitions`, `replicas` |
//! | `USE DATABASE\|SCHEMA\|STORE\|ROLE\|COMPUTE_POOL name` | no statement: the session context the response echoes |
//!
//! Everything else goes to the engine as written.

use crate::statement_split::code_words;

/// Which session field a `USE` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextField {
    Database,
    Schema,
    Store,
    Role,
    ComputePool,
}

/// What a DeltaStream statement becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A statement for the engine, in its dialect.
    Engine(String),
    /// `USE …`: changes the echoed context, runs nothing.
    Use(ContextField, String),
}

/// WITH-option names DeltaStream uses, and ksqlDB's for the same thing.
const WITH_KEYS: &[(&str, &str)] = &[
    ("topic", "kafka_topic"),
    ("value.format", "value_format"),
    ("key.format", "key_format"),
    ("topic.partitions", "partitions"),
    ("topic.replicas", "replicas"),
    ("timestamp", "timestamp"),
];

/// Maps one statement (with or without its `;`).
pub fn map_statement(statement: &str) -> Mapped {
    let words: Vec<String> = code_words(statement).take(3).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["USE", field, ..] => {
            if let Some(field) = context_field(field) {
                if let Some(name) = use_target(statement) {
                    return Mapped::Use(field, name);
                }
            }
        }
        ["LIST", what, ..] => {
            let show = match *what {
                "STREAMS" => Some("SHOW STREAMS;"),
                "CHANGELOGS" => Some("SHOW TABLES;"),
                "QUERIES" => Some("SHOW QUERIES;"),
                "ENTITIES" | "TOPICS" => Some("SHOW TOPICS;"),
                _ => None,
            };
            if let Some(show) = show {
                return Mapped::Engine(show.to_string());
            }
        }
        ["TERMINATE", "QUERY", _] => {
            return Mapped::Engine(replace_first_word_pair(
                statement,
                "TERMINATE",
                "QUERY",
                "TERMINATE",
            ));
        }
        ["CREATE", "CHANGELOG", _] => {
            let rewritten =
                replace_first_word_pair(statement, "CREATE", "CHANGELOG", "CREATE TABLE");
            return Mapped::Engine(rename_with_keys(&rewritten));
        }
        ["CREATE", ..] => return Mapped::Engine(rename_with_keys(statement)),
        _ => {}
    }
    Mapped::Engine(statement.to_string())
}

fn context_field(word: &str) -> Option<ContextField> {
    match word {
        "DATABASE" => Some(ContextField::Database),
        "SCHEMA" => Some(ContextField::Schema),
        "STORE" => Some(ContextField::Store),
        "ROLE" => Some(ContextField::Role),
        "COMPUTE_POOL" => Some(ContextField::ComputePool),
        _ => None,
    }
}

/// The name after `USE <FIELD>`: a quoted identifier keeps its case, a bare one is
/// lower-cased (DeltaStream's identifier rule).
fn use_target(statement: &str) -> Option<String> {
    let text = statement.trim().trim_end_matches(';').trim();
    let mut rest = text;
    for _ in 0..2 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace)?;
        rest = &rest[end..];
    }
    let name = rest.trim();
    if let Some(quoted) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        return (!quoted.is_empty()).then(|| quoted.replace("\"\"", "\""));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| name.to_ascii_lowercase())
}

/// Replaces the statement's first two code words (`first second`, any case) with
/// `replacement`, keeping everything after them as written.
fn replace_first_word_pair(
    statement: &str,
    first: &str,
    second: &str,
    replacement: &str,
) -> String {
    let trimmed = statement.trim_start();
    let after_first = &trimmed[first.len()..];
    let after_second = after_first.trim_start();
    debug_assert!(after_second[..second.len()].eq_ignore_ascii_case(second));
    format!("{replacement}{}", &after_second[second.len()..])
}

/// Renames DeltaStream's quoted WITH keys (`'topic' = …`) to ksqlDB's property names. A
/// quoted string is a key only when `=` follows it.
fn rename_with_keys(statement: &str) -> String {
    let bytes = statement.as_bytes();
    let mut out = String::with_capacity(statement.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                let start = i;
                i += 1;
                // A string ends at a quote that is not doubled.
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                let end = (i + 1).min(bytes.len());
                let literal = &statement[start + 1..i.min(bytes.len())];
                let followed_by_eq = statement[end..].trim_start().starts_with('=');
                if followed_by_eq {
                    if let Some((_, ksql)) = WITH_KEYS
                        .iter()
                        .find(|(ds, _)| ds.eq_ignore_ascii_case(literal))
                    {
                        out.push_str(&statement[copied..start]);
                        out.push_str(ksql);
                        copied = end;
                    }
                }
                i = end;
            }
            b'"' | b'`' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push_str(&statement[copied.min(statement.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(sql: &str) -> String {
        match map_statement(sql) {
            Mapped::Engine(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lists_become_shows() {
        assert_eq!(engine("LIST STREAMS;"), "SHOW STREAMS;");
        assert_eq!(engine("list queries"), "SHOW QUERIES;");
        assert_eq!(engine("LIST CHANGELOGS;"), "SHOW TABLES;");
        assert_eq!(engine("LIST ENTITIES;"), "SHOW TOPICS;");
        assert_eq!(
            engine("LIST WIDGETS;"),
            "LIST WIDGETS;",
            "unknown lists pass through"
        );
    }

    #[test]
    fn terminate_query_and_changelog() {
        assert_eq!(engine("TERMINATE QUERY CSAS_X_1;"), "TERMINATE CSAS_X_1;");
        assert_eq!(
            engine("create changelog c (k VARCHAR PRIMARY KEY, v INT) WITH ('topic'='c');"),
            "CREATE TABLE c (k VARCHAR PRIMARY KEY, v INT) WITH (kafka_topic='c');"
        );
    }

    #[test]
    fn with_keys_are_renamed_but_values_are_not() {
        assert_eq!(
            engine(
                "CREATE STREAM pv (a VARCHAR) WITH ('topic' = 'topic', 'value.format'='json', \
                 'topic.partitions'=3, 'x''y' = 'topic');"
            ),
            "CREATE STREAM pv (a VARCHAR) WITH (kafka_topic = 'topic', value_format='json', \
             partitions=3, 'x''y' = 'topic');"
        );
    }

    #[test]
    fn use_sets_the_context() {
        assert_eq!(
            map_statement("USE DATABASE Demo;"),
            Mapped::Use(ContextField::Database, "demo".into())
        );
        assert_eq!(
            map_statement("use schema \"MySchema\";"),
            Mapped::Use(ContextField::Schema, "MySchema".into())
        );
        assert_eq!(
            map_statement("USE COMPUTE_POOL p1"),
            Mapped::Use(ContextField::ComputePool, "p1".into())
        );
        // Not a name: left to the engine, which will call it a syntax error.
        assert!(matches!(
            map_statement("USE DATABASE a b;"),
            Mapped::Engine(_)
        ));
    }
}
