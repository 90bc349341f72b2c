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
//! | `CREATE FUNCTION_SOURCE\|DESCRIPTOR_SOURCE name WITH ('file' = 'f', …)` / `DROP …` | no statement: the attached file is kept (or dropped) for `/v2/download` |
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
    /// `CREATE FUNCTION_SOURCE|DESCRIPTOR_SOURCE name WITH ('file' = 'f', …)`: keeps the
    /// request's attachment `file` under `name`; the engine runs nothing.
    CreateSource {
        kind: SourceKind,
        name: String,
        file: String,
    },
    /// `DROP FUNCTION_SOURCE|DESCRIPTOR_SOURCE name`.
    DropSource { kind: SourceKind, name: String },
    /// A statement of this face that cannot be run as written; the text says why.
    Invalid(String),
}

/// The kinds of attached file DeltaStream keeps and `/v2/download/{resourceType}/…` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A UDF's jar (`CREATE FUNCTION_SOURCE`).
    Function,
    /// A protobuf descriptor set (`CREATE DESCRIPTOR_SOURCE`).
    Descriptor,
}

impl SourceKind {
    /// The `resourceType` path segment of `/v2/download` (DeltaStream's spec enum).
    pub fn resource_type(self) -> &'static str {
        match self {
            SourceKind::Function => "function_source",
            SourceKind::Descriptor => "descriptor_source",
        }
    }

    pub fn from_resource_type(segment: &str) -> Option<SourceKind> {
        match segment {
            "function_source" => Some(SourceKind::Function),
            "descriptor_source" => Some(SourceKind::Descriptor),
            _ => None,
        }
    }

    fn from_keyword(word: &str) -> Option<SourceKind> {
        match word {
            "FUNCTION_SOURCE" => Some(SourceKind::Function),
            "DESCRIPTOR_SOURCE" => Some(SourceKind::Descriptor),
            _ => None,
        }
    }

    /// The object type, as the DDL result row's `Type` names it.
    pub fn type_name(self) -> &'static str {
        match self {
            SourceKind::Function => "function_source",
            SourceKind::Descriptor => "descriptor_source",
        }
    }
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
        ["CREATE" | "DROP", kind, ..] if SourceKind::from_keyword(kind).is_some() => {
            let kind = SourceKind::from_keyword(kind).expect("checked by the guard");
            return map_source(statement, words[0] == "CREATE", kind);
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

/// `CREATE|DROP FUNCTION_SOURCE|DESCRIPTOR_SOURCE name [WITH (…)]`.
fn map_source(statement: &str, create: bool, kind: SourceKind) -> Mapped {
    let text = statement.trim().trim_end_matches(';').trim();
    let Some(rest) = after_two_words(text) else {
        return Mapped::Invalid(format!("{} needs a name", kind.type_name()));
    };
    let rest = rest.trim_start();
    // The name ends where the WITH clause (or the statement) starts.
    let name_end = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(rest.len())
    };
    let Some(name) = identifier(&rest[..name_end]) else {
        return Mapped::Invalid(format!("`{}` is not a name", rest[..name_end].trim()));
    };
    if !create {
        return match rest[name_end..].trim() {
            "" => Mapped::DropSource { kind, name },
            extra => Mapped::Invalid(format!("unexpected `{extra}` after the name")),
        };
    }
    match with_option(&rest[name_end..], "file") {
        Some(file) => Mapped::CreateSource { kind, name, file },
        None => Mapped::Invalid(format!(
            "CREATE {} needs WITH ('file' = '<attachment name>')",
            kind.type_name().to_ascii_uppercase()
        )),
    }
}

/// `text` after its first two whitespace-separated words.
fn after_two_words(text: &str) -> Option<&str> {
    let mut rest = text;
    for _ in 0..2 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace)?;
        rest = &rest[end..];
    }
    Some(rest)
}

/// The single-quoted value of the quoted WITH key `key` (`'key' = 'value'`, any case).
fn with_option(clause: &str, key: &str) -> Option<String> {
    let literals = quoted_literals(clause);
    literals.windows(2).find_map(|pair| {
        let (k, v) = (&pair[0], &pair[1]);
        let between = clause.get(k.end..v.start)?.trim();
        (k.value.eq_ignore_ascii_case(key) && between == "=").then(|| v.value.clone())
    })
}

/// One single-quoted string: its value (`''` unescaped) and the byte span of its quotes.
struct Literal {
    value: String,
    start: usize,
    end: usize,
}

/// The single-quoted strings of `text`, in order; an unterminated one ends the list.
fn quoted_literals(text: &str) -> Vec<Literal> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\'' {
            i += 1;
            continue;
        }
        let start = i;
        let mut value = String::new();
        i += 1;
        let mut from = i;
        let mut closed = false;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                value.push_str(&text[from..i]);
                if bytes.get(i + 1) == Some(&b'\'') {
                    value.push('\'');
                    i += 2;
                    from = i;
                    continue;
                }
                closed = true;
                break;
            }
            i += 1;
        }
        if !closed {
            break;
        }
        i += 1;
        out.push(Literal {
            value,
            start,
            end: i,
        });
    }
    out
}

/// The name after `USE <FIELD>`.
fn use_target(statement: &str) -> Option<String> {
    let text = statement.trim().trim_end_matches(';').trim();
    identifier(after_two_words(text)?)
}

/// A name: a quoted identifier keeps its case, a bare one is lower-cased (DeltaStream's
/// identifier rule).
fn identifier(text: &str) -> Option<String> {
    let name = text.trim();
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

    #[test]
    fn sources_name_their_attachment() {
        assert_eq!(
            map_statement(
                "CREATE FUNCTION_SOURCE \"Udfs\" WITH ('file' = 'my.jar', 'description'='x');"
            ),
            Mapped::CreateSource {
                kind: SourceKind::Function,
                name: "Udfs".into(),
                file: "my.jar".into()
            }
        );
        assert_eq!(
            map_statement("create descriptor_source pb with ('FILE'='a''b.desc')"),
            Mapped::CreateSource {
                kind: SourceKind::Descriptor,
                name: "pb".into(),
                file: "a'b.desc".into()
            }
        );
        assert_eq!(
            map_statement("DROP FUNCTION_SOURCE udfs;"),
            Mapped::DropSource {
                kind: SourceKind::Function,
                name: "udfs".into()
            }
        );
        assert!(matches!(
            map_statement("CREATE FUNCTION_SOURCE f WITH ('language'='java');"),
            Mapped::Invalid(_)
        ));
        assert!(matches!(
            map_statement("CREATE FUNCTION_SOURCE WITH ('file'='x.jar"),
            Mapped::Invalid(_)
        ));
        assert_eq!(
            SourceKind::from_resource_type(SourceKind::Descriptor.resource_type()),
            Some(SourceKind::Descriptor)
        );
    }
}
