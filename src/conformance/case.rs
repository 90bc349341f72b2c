//! The neutral case JSON (qtt-format.md §5, rqtt-format.md §8): one file per case variant.
//!
//! Fields the runner does not use are ignored, as ksqlDB's Jackson binding ignores them.
//! Values stay [`Json`] trees so numbers keep their literal text.

use std::path::Path;

use super::json::Json;

/// Which of ksqlDB's two runners a case belongs to; decided by its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Records in, records out (`TestExecutor`).
    Qtt,
    /// HTTP responses (`RestTestExecutor`): the case carries `responses` or `expectedError`.
    Rqtt,
}

/// One record of `inputs` or `outputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    /// `Json::Null` when absent.
    pub key: Json,
    /// `Json::Null` is a tombstone.
    pub value: Json,
    /// `None`: not checked (outputs). Inputs without a timestamp were written as 0.
    pub timestamp: Option<i64>,
    pub window: Option<Window>,
    /// `(key, base64 value or None)`; `None` when the record gives no `headers`.
    pub headers: Option<Vec<(String, Option<String>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub kind: WindowKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Tumbling or hopping: the key carries the window start.
    Time,
    /// The key carries the session's end and start.
    Session,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The source file in ksqlDB's suite (`…/query-validation-tests/cast.json`).
    pub file: String,
    pub suite: Suite,
    pub statements: Vec<String>,
    /// Sent as `streamsProperties` with every statement and query.
    pub properties: Json,
    pub inputs: Vec<Record>,
    pub outputs: Vec<Record>,
    pub categories: Vec<String>,
    /// The whole document, for suite-specific fields (`responses`, `post`, `meta`, …).
    pub doc: Json,
}

impl Case {
    pub fn load(path: &Path) -> Result<Case, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading: {e}"))?;
        let doc = Json::parse(&text)?;
        Case::from_json(doc)
    }

    pub fn from_json(doc: Json) -> Result<Case, String> {
        let name = doc
            .field("name")
            .and_then(Json::as_str)
            .ok_or("missing `name`")?
            .to_string();
        let file = doc
            .field("file")
            .and_then(Json::as_str)
            .unwrap_or("unknown")
            .to_string();
        let statements = doc
            .field("statements")
            .ok_or("missing `statements`")?
            .as_array()
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or("a statement is not a string")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta = doc.get("meta").cloned().unwrap_or(Json::Null);
        let suite = if doc.get("responses").is_some()
            || doc.get("expectedError").is_some()
            || meta.get("admin_sql").is_some()
        {
            Suite::Rqtt
        } else {
            Suite::Qtt
        };
        let records = |field: &str| -> Result<Vec<Record>, String> {
            doc.get(field)
                .map(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .map(parse_record)
                .collect()
        };
        let categories = meta
            .get("categories")
            .map(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        Ok(Case {
            name,
            file,
            suite,
            statements,
            properties: doc
                .field("properties")
                .cloned()
                .unwrap_or(Json::Obj(Vec::new())),
            inputs: records("inputs")?,
            outputs: records("outputs")?,
            categories,
            doc,
        })
    }

    pub fn meta(&self, key: &str) -> Option<&Json> {
        self.doc.get("meta").and_then(|m| m.field(key))
    }

    /// The file stem of the ksqlDB source file (`cast` for `…/cast.json`).
    pub fn file_stem(&self) -> &str {
        let base = self.file.rsplit('/').next().unwrap_or(&self.file);
        base.strip_suffix(".json").unwrap_or(base)
    }

    /// Whether the case is in the "stateless subset", the target of conformance issue 4:
    /// what an engine without state stores (no aggregates, windows, joins or tables) should
    /// pass. RQTT: the push, INSERT VALUES, scalable push and stream pull query files;
    /// QTT: every file. In both, `meta.categories` must avoid [`STATEFUL_CATEGORIES`]. (QTT
    /// marks windowed sinks with `meta.windowed_outputs` too, but always alongside the
    /// `window` category, so categories alone decide for both suites.)
    pub fn in_stateless_subset(&self) -> bool {
        let file_in = match self.suite {
            Suite::Qtt => true,
            Suite::Rqtt => STATELESS_RQTT_FILES.contains(&self.file_stem()),
        };
        file_in
            && !self
                .categories
                .iter()
                .any(|c| STATEFUL_CATEGORIES.contains(&c.as_str()))
    }

    /// Format names listed in `meta` under `key` (`value_formats`, `key_formats`).
    pub fn meta_strings(&self, key: &str) -> Vec<String> {
        self.meta(key)
            .map(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|v| v.as_str().map(str::to_ascii_uppercase))
            .collect()
    }
}

/// RQTT source files (stems) in the stateless subset: see [`Case::in_stateless_subset`].
const STATELESS_RQTT_FILES: [&str; 4] = [
    "push-queries",
    "insert-values",
    "scalable-push-queries",
    "pull-queries-against-streams",
];

/// Case categories that need state and so keep a case out of the stateless subset.
/// `aggregate_function` and `pull_on_table` occur in RQTT only.
const STATEFUL_CATEGORIES: [&str; 6] = [
    "aggregation",
    "aggregate_function",
    "window",
    "join",
    "table",
    "pull_on_table",
];

fn parse_record(r: &Json) -> Result<Record, String> {
    let topic = r
        .field("topic")
        .and_then(Json::as_str)
        .ok_or("a record has no `topic`")?
        .to_string();
    let window = match r.field("window") {
        None => None,
        Some(w) => Some(Window {
            start_ms: w
                .field("start")
                .and_then(Json::as_i64)
                .ok_or("window without start")?,
            end_ms: w
                .field("end")
                .and_then(Json::as_i64)
                .ok_or("window without end")?,
            kind: match w.field("type").and_then(Json::as_str) {
                Some(t) if t.eq_ignore_ascii_case("session") => WindowKind::Session,
                _ => WindowKind::Time,
            },
        }),
    };
    let headers = r.field("headers").map(|hs| {
        hs.as_array()
            .iter()
            .map(|h| {
                (
                    h.field("KEY")
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .to_string(),
                    h.field("VALUE").and_then(Json::as_str).map(str::to_string),
                )
            })
            .collect()
    });
    Ok(Record {
        topic,
        key: r.get("key").cloned().unwrap_or(Json::Null),
        value: r.get("value").cloned().unwrap_or(Json::Null),
        timestamp: r.field("timestamp").and_then(Json::as_i64),
        window,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_qtt_case() {
        let doc = Json::parse(
            r#"{"name": "cast - x", "file": "a/b/cast.json",
                "statements": ["CREATE STREAM T (ID INT KEY, V DECIMAL(3,2)) WITH (kafka_topic='t', value_format='JSON');"],
                "properties": {},
                "inputs": [{"topic": "t", "key": 1, "value": {"V": 1.10}, "timestamp": 0}],
                "outputs": [{"topic": "O", "key": 1, "value": null, "timestamp": null,
                             "window": {"start": 0, "end": 10, "type": "session"},
                             "headers": [{"KEY": "h", "VALUE": "IQ=="}]}],
                "meta": {"categories": ["window"], "value_formats": ["JSON"]}}"#,
        )
        .expect("json");
        let case = Case::from_json(doc).expect("case");
        assert_eq!(case.suite, Suite::Qtt);
        assert_eq!(case.file_stem(), "cast");
        assert_eq!(case.inputs[0].value.to_text(), r#"{"V":1.10}"#);
        assert_eq!(case.inputs[0].timestamp, Some(0));
        let out = &case.outputs[0];
        assert!(out.value.is_null());
        assert_eq!(out.timestamp, None);
        assert_eq!(out.window.map(|w| w.kind), Some(WindowKind::Session));
        assert_eq!(out.headers, Some(vec![("h".into(), Some("IQ==".into()))]));
        assert_eq!(case.categories, vec!["window"]);
        assert_eq!(case.meta_strings("value_formats"), vec!["JSON"]);
    }

    #[test]
    fn stateless_subset_is_by_file_for_rqtt_and_by_category_for_both() {
        let case = |file: &str, categories: &str, rqtt: bool| {
            let extra = if rqtt { r#", "responses": []"# } else { "" };
            let doc = Json::parse(&format!(
                r#"{{"name": "n", "file": "x/{file}.json", "statements": [],
                    "meta": {{"categories": {categories}}}{extra}}}"#
            ))
            .expect("json");
            Case::from_json(doc).expect("case").in_stateless_subset()
        };
        assert!(case("cast", r#"["projection_filter_scalar"]"#, false));
        assert!(!case("cast", r#"["scalar_function", "table"]"#, false));
        assert!(!case("hopping-windows", r#"["window"]"#, false));
        assert!(case("push-queries", r#"["push_query"]"#, true));
        assert!(case(
            "pull-queries-against-streams",
            r#"["pull_on_stream"]"#,
            true
        ));
        assert!(!case("push-queries", r#"["push_query", "join"]"#, true));
        assert!(!case("insert-values", r#"["pull_on_table"]"#, true));
        assert!(!case(
            "pull-queries-with-limit-clause",
            r#"["pull_on_stream"]"#,
            true
        ));
    }

    #[test]
    fn rqtt_is_detected_by_its_fields() {
        let doc = Json::parse(r#"{"name": "n", "statements": ["SELECT 1;"], "responses": []}"#)
            .expect("json");
        assert_eq!(Case::from_json(doc).expect("case").suite, Suite::Rqtt);
    }
}
