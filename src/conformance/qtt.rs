//! Replays one QTT case (qtt-format.md §4): statements one at a time through `/ksql`, inputs
//! produced in file order to partition 0, then every sink topic read back and compared.

use tokio::time::Instant;

use super::case::Case;
use super::client::{clip, HttpClient};
use super::json::Json;
use super::steps::{self, Placement};
use super::topic_schema::{self, SourceInfo};

/// Topics to create before the statements: `topics` entries, the `KAFKA_TOPIC` of each
/// `CREATE` that declares its columns, and every input topic. QTT pipes everything through
/// partition 0, so the default is one partition.
pub fn topics_to_create(case: &Case) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = Vec::new();
    let mut add = |name: String, partitions: u32| {
        if !out.iter().any(|(n, _)| *n == name) {
            out.push((name, partitions));
        }
    };
    for t in case.doc.get("topics").map(Json::as_array).unwrap_or(&[]) {
        if let Some(name) = t.field("name").and_then(Json::as_str) {
            let partitions = t.field("partitions").and_then(Json::as_i64).unwrap_or(1);
            add(name.to_string(), u32::try_from(partitions).unwrap_or(1));
        }
    }
    for s in &case.statements {
        if let Some((topic, partitions)) = declared_topic(s) {
            add(topic, partitions.unwrap_or(1));
        }
    }
    for r in &case.inputs {
        add(r.topic.clone(), 1);
    }
    out
}

/// `KAFKA_TOPIC` (and `PARTITIONS`) of a `CREATE STREAM|TABLE` that is not `AS SELECT`.
pub fn declared_topic(statement: &str) -> Option<(String, Option<u32>)> {
    let upper = statement.to_ascii_uppercase();
    if !upper.trim_start().starts_with("CREATE")
        || upper.contains(" AS SELECT")
        || upper.contains("\nAS SELECT")
    {
        return None;
    }
    let topic = property(statement, "KAFKA_TOPIC")?;
    let partitions = property(statement, "PARTITIONS").and_then(|p| p.parse().ok());
    Some((topic, partitions))
}

/// The value of `NAME = 'value'` or `NAME = 4` in a `WITH` clause, case-insensitively.
fn property(statement: &str, name: &str) -> Option<String> {
    let upper = statement.to_ascii_uppercase();
    let mut from = 0;
    while let Some(pos) = upper[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0
            || !upper.as_bytes()[at - 1].is_ascii_alphanumeric()
                && upper.as_bytes()[at - 1] != b'_';
        let rest = statement[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        if let Some(quoted) = rest.strip_prefix('\'') {
            return quoted.find('\'').map(|end| quoted[..end].to_string());
        }
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        return Some(rest[..end].to_string());
    }
    None
}

/// The query id in a `currentStatus` entity, if the statement started a persistent query.
pub fn query_id(entity: &Json) -> Option<String> {
    entity
        .get("commandStatus")
        .and_then(|s| s.field("queryId"))
        .and_then(Json::as_str)
        .map(str::to_string)
}

pub async fn run(client: &HttpClient, case: &Case, deadline: Instant) -> Result<(), String> {
    steps::create_topics(client, &topics_to_create(case)).await?;
    let mut query_ids = Vec::new();
    for (i, statement) in case.statements.iter().enumerate() {
        let reply = client.ksql(statement, &case.properties).await?;
        if !reply.status.is_success() {
            let message = reply
                .json()
                .ok()
                .and_then(|j| {
                    j.field("message")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| reply.body.clone());
            return Err(format!(
                "statement {} failed ({}): {}",
                i + 1,
                reply.status.as_u16(),
                clip(&message)
            ));
        }
        query_ids.extend(reply.json()?.as_array().iter().filter_map(query_id));
    }
    let sources = steps::sources_by_topic(&topic_schema::load_sources(client).await?);
    steps::produce_in_order(
        client,
        &case.inputs,
        &sources,
        Placement::PartitionZero,
        &query_ids,
        deadline,
    )
    .await?;
    steps::settle(client, &query_ids, &case.outputs, deadline).await?;
    // With no inputs the data came from INSERT VALUES, whose timestamps are wall-clock:
    // an expected 0 then means "don't check" (qtt-format.md §3).
    let check_zero_timestamps = !case.inputs.is_empty();
    steps::check_outputs(client, &case.outputs, &sources, check_zero_timestamps).await?;
    check_post_sources(client, case).await
}

/// `post.sources`: each named source exists with the expected type, formats and schema.
async fn check_post_sources(client: &HttpClient, case: &Case) -> Result<(), String> {
    let expected = case
        .doc
        .get("post")
        .and_then(|p| p.get("sources"))
        .map(Json::as_array)
        .unwrap_or(&[]);
    if expected.is_empty() {
        return Ok(());
    }
    let actual = topic_schema::load_sources(client).await?;
    for e in expected {
        let Some(name) = e.field("name").and_then(Json::as_str) else {
            continue;
        };
        let Some(a) = actual.iter().find(|s| s.name == name) else {
            return Err(format!("post: source {name} does not exist"));
        };
        if let Some(kind) = e.field("type").and_then(Json::as_str) {
            if !kind.eq_ignore_ascii_case(&a.kind) {
                return Err(format!("post: {name} is a {}, expected a {kind}", a.kind));
            }
        }
        let format_name = |j: Option<&Json>| -> Option<String> {
            match j? {
                Json::Str(s) => Some(s.to_ascii_uppercase()),
                o => o
                    .field("format")
                    .and_then(Json::as_str)
                    .map(str::to_ascii_uppercase),
            }
        };
        if let Some(k) = format_name(e.field("keyFormat")) {
            if k != a.key_format {
                return Err(format!(
                    "post: {name} key format is {}, expected {k}",
                    a.key_format
                ));
            }
        }
        if let Some(v) = format_name(e.field("valueFormat")) {
            if v != a.value_format {
                return Err(format!(
                    "post: {name} value format is {}, expected {v}",
                    a.value_format
                ));
            }
        }
        if let Some(schema) = e.field("schema").and_then(Json::as_str) {
            check_schema(name, schema, a)?;
        }
    }
    Ok(())
}

/// Compares a post-condition schema (`ID BIGINT KEY, V0 INT`) with DESCRIBE's columns,
/// by name, type and key-ness, in order.
fn check_schema(name: &str, schema: &str, actual: &SourceInfo) -> Result<(), String> {
    let mut want = Vec::new();
    for part in split_top_level(schema) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (col, rest) = split_name(part);
        let upper = rest.to_ascii_uppercase();
        let (ty_text, kind) = if let Some(t) = upper.strip_suffix(" PRIMARY KEY") {
            (&rest[..t.len()], "KEY")
        } else if let Some(t) = upper.strip_suffix(" KEY") {
            (&rest[..t.len()], "KEY")
        } else if upper.contains(" HEADER") {
            // Header columns are not in the record value; skip them.
            continue;
        } else {
            (rest, "VALUE")
        };
        let ty = sluice_engine::parse_type(ty_text.trim())
            .map_err(|e| format!("post: cannot parse type {ty_text:?}: {e}"))?;
        want.push((col, ty, kind));
    }
    let got: Vec<_> = actual
        .key_columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.clone(), "KEY"))
        .chain(
            actual
                .value_columns
                .iter()
                .map(|c| (c.name.clone(), c.ty.clone(), "VALUE")),
        )
        .collect();
    if want != got {
        let show = |cols: &[(String, sluice_engine::types::SqlType, &str)]| {
            cols.iter()
                .map(|(n, t, k)| {
                    if *k == "KEY" {
                        format!("{n} {t} KEY")
                    } else {
                        format!("{n} {t}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "post: {name} schema is `{}`, expected `{}`",
            show(&got),
            show(&want)
        ));
    }
    Ok(())
}

/// Splits at commas outside `<>` and `()`.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Splits `` `Name` TYPE… `` or `NAME TYPE…` into the stored name and the rest.
fn split_name(part: &str) -> (String, &str) {
    if let Some(quoted) = part.strip_prefix('`') {
        if let Some(end) = quoted.find('`') {
            return (quoted[..end].to_string(), quoted[end + 1..].trim_start());
        }
    }
    let end = part.find(char::is_whitespace).unwrap_or(part.len());
    (part[..end].to_ascii_uppercase(), part[end..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_declared_topics() {
        assert_eq!(
            declared_topic("CREATE STREAM T (ID INT KEY) WITH (kafka_topic='test_topic', value_format='JSON', PARTITIONS=4);"),
            Some(("test_topic".into(), Some(4)))
        );
        assert_eq!(declared_topic("CREATE STREAM O AS SELECT * FROM T;"), None);
        assert_eq!(
            declared_topic("CREATE STREAM O WITH (KAFKA_TOPIC='x') AS SELECT * FROM T;"),
            None
        );
    }

    #[test]
    fn post_schema_parses_nested_types() {
        let parts = split_top_level("ID ARRAY<VARCHAR> KEY, M MAP<STRING, INT>, D DECIMAL(4, 2)");
        assert_eq!(parts.len(), 3);
        assert_eq!(split_name("`id` INT"), ("id".to_string(), "INT"));
    }
}
