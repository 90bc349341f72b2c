//! One catalog journal entry: the statement text that was applied, preceded by directive
//! lines that replay needs to rebuild exactly what the statement built.
//!
//! ```text
//!  --@owner node-5f3a…                         the node that runs the query (Kafka)
//!  --@query_id CSAS_OUT_3                      the id the persistent query was given
//!  --@set ksql.persistence.wrap.single.values=false
//!  CREATE STREAM OUT AS SELECT * FROM IN;
//! ```
//!
//! `--@set` lines carry the request properties in effect when the statement ran, limited to
//! the ones that shape a source (`create::PERSISTENCE_PROPERTIES`): replay has no request,
//! and without them a source created under `ksql.persistence.wrap.single.values=false` would
//! come back wrapped. Entries written before directives existed are plain statement text.

use std::collections::HashMap;

use super::create::PERSISTENCE_PROPERTIES;

/// First line of an entry that created a persistent query.
const QUERY_ID_LINE_PREFIX: &str = "--@query_id ";

/// The node that created the entry's persistent query, when the command log is shared by
/// several nodes (where the query runs is its lease's business; see `query::persistent`).
const OWNER_LINE_PREFIX: &str = "--@owner ";

/// A request property in effect when the statement ran.
const SET_LINE_PREFIX: &str = "--@set ";

/// A parsed journal entry.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct JournalEntry<'a> {
    /// The id the statement's persistent query was given, if it created one.
    pub(crate) query_id: Option<&'a str>,
    /// The node running that query, if the command log names one.
    pub(crate) owner: Option<&'a str>,
    /// Request properties to apply while replaying the statement.
    pub(crate) properties: HashMap<String, String>,
    /// The statement text.
    pub(crate) text: &'a str,
}

impl<'a> JournalEntry<'a> {
    /// Splits the directive lines off `entry`.
    pub(crate) fn parse(entry: &'a str) -> JournalEntry<'a> {
        let mut parsed = JournalEntry {
            text: entry,
            ..JournalEntry::default()
        };
        while let Some((line, rest)) = parsed.text.split_once('\n') {
            if let Some(id) = line.strip_prefix(QUERY_ID_LINE_PREFIX) {
                parsed.query_id = Some(id.trim());
            } else if let Some(owner) = line.strip_prefix(OWNER_LINE_PREFIX) {
                parsed.owner = Some(owner.trim());
            } else if let Some(set) = line.strip_prefix(SET_LINE_PREFIX) {
                if let Some((name, value)) = set.split_once('=') {
                    parsed
                        .properties
                        .insert(name.to_string(), value.to_string());
                }
            } else {
                break;
            }
            parsed.text = rest;
        }
        parsed
    }
}

/// The journal entry for `text` run with `props`, created query `query_id`.
pub(crate) fn format_entry(
    query_id: Option<&str>,
    props: &HashMap<String, String>,
    text: &str,
) -> String {
    let mut entry = String::with_capacity(text.len());
    if let Some(id) = query_id {
        entry.push_str(QUERY_ID_LINE_PREFIX);
        entry.push_str(id);
        entry.push('\n');
    }
    for name in PERSISTENCE_PROPERTIES {
        // A value with a line break could not be read back; no valid format name or
        // boolean has one, so such a value was never used.
        if let Some(value) = props.get(*name).filter(|v| !v.contains(['\n', '\r'])) {
            entry.push_str(SET_LINE_PREFIX);
            entry.push_str(name);
            entry.push('=');
            entry.push_str(value);
            entry.push('\n');
        }
    }
    entry.push_str(text);
    entry
}

/// `entry` with a first line naming the node that owns its persistent query.
pub(crate) fn with_owner(owner: &str, entry: String) -> String {
    format!("{OWNER_LINE_PREFIX}{owner}\n{entry}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_query_id_and_properties() {
        let props = HashMap::from([
            (
                "ksql.persistence.wrap.single.values".to_string(),
                "false".to_string(),
            ),
            ("auto.offset.reset".to_string(), "earliest".to_string()),
        ]);
        let text = "CREATE STREAM S AS SELECT * FROM T;";
        let entry = format_entry(Some("CSAS_S_3"), &props, text);
        assert_eq!(
            entry,
            "--@query_id CSAS_S_3\n--@set ksql.persistence.wrap.single.values=false\nCREATE STREAM S AS SELECT * FROM T;"
        );
        let parsed = JournalEntry::parse(&entry);
        assert_eq!(parsed.query_id, Some("CSAS_S_3"));
        assert_eq!(parsed.text, text);
        assert_eq!(
            parsed.properties,
            HashMap::from([(
                "ksql.persistence.wrap.single.values".to_string(),
                "false".to_string()
            )])
        );
    }

    #[test]
    fn the_owner_line_round_trips_before_the_others() {
        let entry = with_owner(
            "node-1",
            format_entry(Some("CSAS_S_3"), &HashMap::new(), "CREATE STREAM S AS SELECT * FROM T;"),
        );
        let parsed = JournalEntry::parse(&entry);
        assert_eq!(parsed.owner, Some("node-1"));
        assert_eq!(parsed.query_id, Some("CSAS_S_3"));
        assert_eq!(parsed.text, "CREATE STREAM S AS SELECT * FROM T;");
        assert_eq!(JournalEntry::parse("DROP STREAM S;").owner, None);
    }

    #[test]
    fn plain_entries_have_no_directives() {
        let parsed = JournalEntry::parse("DROP STREAM S;");
        assert_eq!(parsed.query_id, None);
        assert!(parsed.properties.is_empty());
        assert_eq!(parsed.text, "DROP STREAM S;");
        let multi = "CREATE STREAM S (A INT)\nWITH (kafka_topic='s', value_format='JSON');";
        assert_eq!(JournalEntry::parse(multi).text, multi);
        assert_eq!(format_entry(None, &HashMap::new(), multi), multi);
    }
}
