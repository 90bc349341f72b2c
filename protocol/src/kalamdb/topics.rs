//! KalamDB topics on the wire (other-faces.md §C "Topics"): the
//! `POST /v1/api/topics/{consume,ack}` bodies, the topic error envelope, and the persistent
//! query a table-change route becomes.
//!
//! ```text
//!  consume/ack body ─► ConsumeRequest / AckRequest ─► (server: groups, engine records)
//!                  ─► consume_body / ack_body | topic_error_body
//!  ALTER TOPIC … ADD SOURCE ─► Route ─► changes_stream_sql + route_sql (engine SQL)
//! ```
//!
//! A KalamDB topic is an engine topic named `ns.t`; a route is a persistent query that
//! reads the table's topic as a stream of changes and writes each row (whole, or its key
//! columns) as JSON, with `_table`, into the topic.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::topic_statement::{clamp_limit, group_name, ChangeOp, PayloadMode, Route, Start};
use super::user_scope::OWNER_COLUMN;
use crate::error::ProtocolError;

/// `POST /v1/api/topics/consume` (what `kalam-client`'s consumer sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeRequest {
    pub topic_id: String,
    pub group_id: String,
    pub start: Start,
    pub limit: u32,
    pub partition_id: u32,
}

/// `POST /v1/api/topics/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub topic_id: String,
    pub group_id: String,
    #[serde(default)]
    pub partition_id: u32,
    pub upto_offset: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsume {
    topic_id: String,
    group_id: String,
    #[serde(default)]
    start: Option<Json>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    partition_id: u32,
    /// Accepted and unused, as in KalamDB 0.4 (no long poll).
    #[serde(default)]
    #[allow(dead_code)]
    timeout_seconds: Option<u64>,
}

impl ConsumeRequest {
    pub fn decode(bytes: &[u8]) -> Result<ConsumeRequest, ProtocolError> {
        let raw: RawConsume = serde_json::from_slice(bytes).map_err(bad_body)?;
        let start = match &raw.start {
            None => Start::Latest,
            Some(value) => start_from_json(value).ok_or_else(|| {
                ProtocolError::InvalidRecord(format!(
                    "start is \"Latest\", \"Earliest\" or {{\"Offset\": n}}, not {value}"
                ))
            })?,
        };
        let group_id = group_name(raw.group_id).map_err(ProtocolError::InvalidRecord)?;
        Ok(ConsumeRequest {
            topic_id: raw.topic_id,
            group_id,
            start,
            limit: clamp_limit(raw.limit.unwrap_or(0)),
            partition_id: raw.partition_id,
        })
    }
}

impl AckRequest {
    pub fn decode(bytes: &[u8]) -> Result<AckRequest, ProtocolError> {
        let mut request: AckRequest = serde_json::from_slice(bytes).map_err(bad_body)?;
        request.group_id = group_name(request.group_id).map_err(ProtocolError::InvalidRecord)?;
        Ok(request)
    }
}

fn bad_body(e: serde_json::Error) -> ProtocolError {
    ProtocolError::InvalidJson(e.to_string())
}

/// KalamDB's serde form of its start position: `"Latest"`, `"Earliest"`, `{"Offset": n}`
/// (the SDK also sends lower-case spellings).
fn start_from_json(value: &Json) -> Option<Start> {
    match value {
        Json::String(s) if s.eq_ignore_ascii_case("latest") => Some(Start::Latest),
        Json::String(s) if s.eq_ignore_ascii_case("earliest") => Some(Start::Earliest),
        Json::Object(map) if map.len() == 1 => {
            let (k, v) = map.iter().next()?;
            k.eq_ignore_ascii_case("offset")
                .then(|| v.as_u64().map(Start::Offset))
                .flatten()
        }
        _ => None,
    }
}

/// One consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub topic_id: &'a str,
    pub partition_id: u32,
    pub offset: u64,
    /// The payload's JSON bytes (sent as base64).
    pub payload: &'a [u8],
    /// The message key as text (see [`key_text`]), if it has one.
    pub key: Option<std::borrow::Cow<'a, str>>,
    /// The row's owner, for a message routed from a USER table (see [`key_text`]).
    pub user: Option<String>,
    pub timestamp_ms: i64,
    pub op: ChangeOp,
}

/// A record key as a message key and the row's owner: routes key their messages by the
/// row's key in JSON, so a string key (`"d1"`) becomes its text (`d1`), as KalamDB's string
/// message ids are, and a number stays as written (`1`). A USER table's key is an object
/// that leads with its owner (`{"_user":"alice","ID":1}`): the owner becomes the message's
/// `user` and the rest its key, as KalamDB's messages carry them. Bytes that are not UTF-8
/// have no text key.
pub fn key_text(key: &[u8]) -> (Option<std::borrow::Cow<'_, str>>, Option<String>) {
    let Ok(text) = std::str::from_utf8(key) else {
        return (None, None);
    };
    match serde_json::from_str::<Json>(text) {
        Ok(Json::String(s)) => (Some(s.into()), None),
        Ok(Json::Object(mut fields)) => match fields.shift_remove(OWNER_COLUMN) {
            Some(Json::String(user)) => {
                let key = match fields.len() {
                    1 => match fields.into_iter().next().map(|(_, v)| v) {
                        Some(Json::String(s)) => s,
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                    _ => Json::Object(fields).to_string(),
                };
                (Some(key.into()), Some(user))
            }
            _ => (Some(text.into()), None),
        },
        _ => (Some(text.into()), None),
    }
}

/// The consume response: `{"messages":[…],"next_offset":n,"has_more":b}`.
pub fn consume_body(messages: &[Message<'_>], next_offset: u64, has_more: bool) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let messages: Vec<Json> = messages
        .iter()
        .map(|m| {
            let mut out = json!({
                "topic_id": m.topic_id,
                "partition_id": m.partition_id,
                "offset": m.offset,
                "payload": b64.encode(m.payload),
                "timestamp_ms": m.timestamp_ms,
                "op": m.op.wire_name(),
            });
            if let Some(key) = &m.key {
                out["key"] = key.as_ref().into();
            }
            if let Some(user) = &m.user {
                out["user"] = user.as_str().into();
            }
            out
        })
        .collect();
    json!({"messages": messages, "next_offset": next_offset, "has_more": has_more})
        .to_string()
        .into_bytes()
}

/// The ack response.
pub fn ack_body(acknowledged_offset: u64) -> Vec<u8> {
    json!({"success": true, "acknowledged_offset": acknowledged_offset})
        .to_string()
        .into_bytes()
}

/// The topic endpoints' error codes (KalamDB's topic handlers).
pub mod code {
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
}

/// The topic endpoints' error envelope: `{"error":"…","code":"…"}`.
pub fn topic_error_body(message: &str, code: &str) -> Vec<u8> {
    json!({"error": message, "code": code})
        .to_string()
        .into_bytes()
}

/// A column of the route's source, as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    /// The stored name (unquoted names are upper-case).
    pub name: String,
    /// Its SQL type as the engine prints it.
    pub sql_type: String,
    pub is_key: bool,
}

/// The engine name of the stream that reads table `table`'s topic as a stream of changes
/// (one per table, shared by every route from it).
pub fn changes_stream_name(table: &str) -> String {
    format!("{table}__changes")
}

/// The engine name of a route's persistent query sink: one per (topic, table, op), so
/// adding the same route twice is refused by the engine as an existing stream.
pub fn route_stream_name(route: &Route) -> String {
    format!(
        "{}__route__{}__{}",
        route.topic,
        route.table,
        route.op.sql_name()
    )
}

/// True for a stream name [`route_stream_name`] made for `topic`.
pub fn is_route_of(stream: &str, topic: &str) -> bool {
    stream
        .strip_prefix(topic)
        .is_some_and(|rest| rest.starts_with("__route__"))
}

/// `CREATE STREAM IF NOT EXISTS` over table `table`'s topic: every write of the table is a
/// row of this stream (a table's topic is its changelog).
pub fn changes_stream_sql(
    table: &str,
    topic: &str,
    key_format: &str,
    value_format: &str,
    columns: &[SourceColumn],
) -> String {
    let columns: Vec<String> = columns
        .iter()
        .map(|c| {
            let key = if c.is_key { " KEY" } else { "" };
            format!("{} {}{key}", ident(&c.name), c.sql_type)
        })
        .collect();
    format!(
        "CREATE STREAM IF NOT EXISTS {} ({}) WITH (kafka_topic={}, key_format={}, value_format={});",
        ident(&changes_stream_name(table)),
        columns.join(", "),
        literal(topic),
        literal(key_format),
        literal(value_format),
    )
}

/// The route's persistent query: reads `reads` (the table's changes stream, or the stream
/// itself), keeps rows matching the filter, and writes each as a JSON object with
/// lower-case column names (KalamDB's spelling) into the topic, keyed by the row's key in
/// JSON (so a consumer sees the key as text).
pub fn route_sql(route: &Route, reads: &str, partitions: u32, columns: &[SourceColumn]) -> String {
    let mut items: Vec<String> = columns
        .iter()
        .filter(|c| c.is_key)
        .map(|c| ident(&c.name))
        .collect();
    for c in columns {
        // A USER table's owner stays in the key only: the message carries it as `user`.
        let wanted = (c.is_key || route.payload != PayloadMode::Key) && c.name != OWNER_COLUMN;
        if !wanted {
            continue;
        }
        let value = if c.is_key {
            format!("AS_VALUE({})", ident(&c.name))
        } else {
            ident(&c.name)
        };
        items.push(format!(
            "{value} AS {}",
            ident(&c.name.to_ascii_lowercase())
        ));
    }
    if route.payload != PayloadMode::Key {
        items.push(format!("{} AS `_table`", literal(&route.table)));
    }
    let filter = route
        .filter
        .as_ref()
        .map(|f| format!(" WHERE {f}"))
        .unwrap_or_default();
    format!(
        "CREATE STREAM {} WITH (kafka_topic={}, key_format='JSON', value_format='JSON', partitions={partitions}) AS SELECT {} FROM {}{filter} EMIT CHANGES;",
        ident(&route_stream_name(route)),
        literal(&route.topic),
        items.join(", "),
        ident(reads),
    )
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_and_ack_bodies_decode() {
        let r = ConsumeRequest::decode(
            br#"{"topic_id":"app.ev","group_id":"g1","start":"Earliest","limit":2,"partition_id":0,"timeout_seconds":5}"#,
        )
        .expect("decodes");
        assert_eq!(
            r,
            ConsumeRequest {
                topic_id: "app.ev".into(),
                group_id: "g1".into(),
                start: Start::Earliest,
                limit: 2,
                partition_id: 0
            }
        );
        for (start, want) in [
            (r#"{"Offset":4}"#, Start::Offset(4)),
            (r#"{"offset":4}"#, Start::Offset(4)),
            (r#""latest""#, Start::Latest),
        ] {
            let body = format!(r#"{{"topic_id":"t","group_id":"g","start":{start}}}"#);
            assert_eq!(
                ConsumeRequest::decode(body.as_bytes())
                    .expect("decodes")
                    .start,
                want
            );
        }
        for bad in [
            &br#"{"topic_id":"t","group_id":"g","start":"Middle"}"#[..],
            br#"{"topic_id":"t","group_id":""}"#,
            br#"{"topic_id":"t"}"#,
            br#"[1]"#,
            br#"{"topic_id":"t","group_id":"g","limit":-1}"#,
        ] {
            assert!(
                ConsumeRequest::decode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            AckRequest::decode(
                br#"{"topic_id":"t","group_id":"g","partition_id":1,"upto_offset":9}"#
            )
            .expect("decodes"),
            AckRequest {
                topic_id: "t".into(),
                group_id: "g".into(),
                partition_id: 1,
                upto_offset: 9
            }
        );
        assert!(AckRequest::decode(br#"{"topic_id":"t","group_id":"g"}"#).is_err());
    }

    #[test]
    fn bodies_encode_as_kalamdb() {
        let m = Message {
            topic_id: "app.ev",
            partition_id: 0,
            offset: 3,
            payload: br#"{"id":1}"#,
            key: key_text(b"1").0,
            user: None,
            timestamp_ms: 9,
            op: ChangeOp::Insert,
        };
        let body: Json = serde_json::from_slice(&consume_body(&[m], 4, false)).expect("json");
        assert_eq!(
            body,
            json!({"messages":[{"topic_id":"app.ev","partition_id":0,"offset":3,
                "payload":"eyJpZCI6MX0=","key":"1","timestamp_ms":9,"op":"Insert"}],
                "next_offset":4,"has_more":false})
        );
        let text = |key: &[u8]| {
            let (key, user) = key_text(key);
            (key.map(|k| k.into_owned()), user)
        };
        assert_eq!(text(br#""d1""#), (Some("d1".into()), None));
        assert_eq!(text(b"{\"a\":1}"), (Some("{\"a\":1}".into()), None));
        assert_eq!(text(&[0xff]), (None, None));
        // A USER table's key: its owner is the message's user, the rest its key.
        assert_eq!(
            text(br#"{"_user":"alice","ID":1}"#),
            (Some("1".into()), Some("alice".into()))
        );
        assert_eq!(
            text(br#"{"_user":"bob","ID":"d1"}"#),
            (Some("d1".into()), Some("bob".into()))
        );
        assert_eq!(
            text(br#"{"_user":"bob","A":1,"B":2}"#),
            (Some(r#"{"A":1,"B":2}"#.into()), Some("bob".into()))
        );
        let ack: Json = serde_json::from_slice(&ack_body(1)).expect("json");
        assert_eq!(ack, json!({"success": true, "acknowledged_offset": 1}));
        let err: Json =
            serde_json::from_slice(&topic_error_body("no", code::FORBIDDEN)).expect("json");
        assert_eq!(err, json!({"error": "no", "code": "FORBIDDEN"}));
    }

    #[test]
    fn routes_become_persistent_queries() {
        let columns = [
            SourceColumn {
                name: "ID".into(),
                sql_type: "BIGINT".into(),
                is_key: true,
            },
            SourceColumn {
                name: "BODY".into(),
                sql_type: "STRING".into(),
                is_key: false,
            },
        ];
        assert_eq!(
            changes_stream_sql("app.notes", "app.notes", "KAFKA", "JSON", &columns),
            "CREATE STREAM IF NOT EXISTS `app.notes__changes` (`ID` BIGINT KEY, `BODY` STRING) \
             WITH (kafka_topic='app.notes', key_format='KAFKA', value_format='JSON');"
        );
        let mut route = Route {
            topic: "app.ev".into(),
            table: "app.notes".into(),
            op: ChangeOp::Insert,
            filter: Some("BODY <> 'x'".into()),
            payload: PayloadMode::Full,
        };
        assert_eq!(
            route_sql(&route, "app.notes__changes", 2, &columns),
            "CREATE STREAM `app.ev__route__app.notes__insert` WITH (kafka_topic='app.ev', \
             key_format='JSON', value_format='JSON', partitions=2) AS SELECT `ID`, \
             AS_VALUE(`ID`) AS `id`, `BODY` AS `body`, 'app.notes' AS `_table` \
             FROM `app.notes__changes` WHERE BODY <> 'x' EMIT CHANGES;"
        );
        route.payload = PayloadMode::Key;
        route.filter = None;
        assert_eq!(
            route_sql(&route, "app.notes__changes", 1, &columns),
            "CREATE STREAM `app.ev__route__app.notes__insert` WITH (kafka_topic='app.ev', \
             key_format='JSON', value_format='JSON', partitions=1) AS SELECT `ID`, \
             AS_VALUE(`ID`) AS `id` FROM `app.notes__changes` EMIT CHANGES;"
        );
        assert!(is_route_of("app.ev__route__app.notes__insert", "app.ev"));
        assert!(!is_route_of("app.events__route__x", "app.ev"));
    }
}
