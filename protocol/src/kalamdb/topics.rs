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

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use sluice_engine::CHANGE_HEADER;

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
    pub payload: Cow<'a, [u8]>,
    /// The message key as text (see [`key_text`]), if it has one.
    pub key: Option<std::borrow::Cow<'a, str>>,
    /// The row's owner, for a message routed from a USER table (see [`key_text`]).
    pub user: Option<String>,
    pub timestamp_ms: i64,
    pub op: ChangeOp,
}

/// A stored route message as its payload and kind: a route writes [`OP_FIELD`] last in
/// its value (`…,"_sluice_op":"update"}`), which is taken out here. Any other value (a
/// record some other writer put in the topic, or a route's of an earlier version) is an
/// `Insert`, and a null value (a tombstone) a `Delete` with a JSON `null` payload.
pub fn split_op(value: Option<&[u8]>) -> (Cow<'_, [u8]>, ChangeOp) {
    /// `"_sluice_op":"<kind>"}` per kind ([`OP_FIELD`]; the test ties them together).
    const SUFFIXES: [(&str, ChangeOp); 3] = [
        ("\"_sluice_op\":\"insert\"}", ChangeOp::Insert),
        ("\"_sluice_op\":\"update\"}", ChangeOp::Update),
        ("\"_sluice_op\":\"delete\"}", ChangeOp::Delete),
    ];
    let Some(value) = value else {
        return (Cow::Borrowed(b"null"), ChangeOp::Delete);
    };
    for (suffix, op) in SUFFIXES {
        let Some(head) = value.strip_suffix(suffix.as_bytes()) else {
            continue;
        };
        // What a route writes: fields then `,` + the kind, or the kind alone in `{…}`.
        let mut payload = match head {
            [b'{'] => b"{".to_vec(),
            [rest @ .., b','] if rest != b"{" => rest.to_vec(),
            _ => continue,
        };
        payload.push(b'}');
        return (Cow::Owned(payload), op);
    }
    (Cow::Borrowed(value), ChangeOp::Insert)
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
                "payload": b64.encode(&m.payload),
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
/// (one per table, shared by every route from it). Named apart from the `__changes`
/// streams of earlier versions, which had no change column.
pub fn changes_stream_name(table: &str) -> String {
    format!("{table}__row_changes")
}

/// The changes stream's column holding a write's kind: the engine's change header
/// (`sluice.change`: `update` or `delete`; absent for an insert). No KalamDB column
/// starts with `SLUICE_`.
pub const CHANGE_COLUMN: &str = "SLUICE_CHANGE";

/// The field a route writes last in each message's value, naming the change it forwards;
/// the consume endpoints take it out again and answer it as the message's `op`
/// ([`split_op`]).
pub const OP_FIELD: &str = "_sluice_op";

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
/// row of this stream (a table's topic is its changelog), with its kind in
/// [`CHANGE_COLUMN`]; declaring that header makes the engine read a delete as the row it
/// deleted (the engine's `Tombstones::Changes`).
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
        "CREATE STREAM IF NOT EXISTS {} ({}, {} BYTES HEADER({})) WITH (kafka_topic={}, key_format={}, value_format={});",
        ident(&changes_stream_name(table)),
        columns.join(", "),
        ident(CHANGE_COLUMN),
        literal(CHANGE_HEADER),
        literal(topic),
        literal(key_format),
        literal(value_format),
    )
}

/// The route's persistent query: reads `reads` (the table's changes stream, or the stream
/// itself), keeps the writes of the route's kind that match the filter, and writes each as
/// a JSON object with lower-case column names (KalamDB's spelling) into the topic, keyed by
/// the row's key in JSON (so a consumer sees the key as text). A delete's row is the row
/// it deleted. The value ends in [`OP_FIELD`], the kind, which consumers do not see.
///
/// `changes` says whether `reads` has the [`CHANGE_COLUMN`] (a table's changes stream); a
/// stream's rows are all inserts.
pub fn route_sql(
    route: &Route,
    reads: &str,
    changes: bool,
    partitions: u32,
    columns: &[SourceColumn],
) -> String {
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
    items.push(format!(
        "{} AS {}",
        literal(route.op.sql_name()),
        ident(OP_FIELD)
    ));
    let kind = changes.then(|| {
        let column = ident(CHANGE_COLUMN);
        match route.op {
            ChangeOp::Insert => format!("{column} IS NULL"),
            op => format!("FROM_BYTES({column}, 'utf8') = {}", literal(op.sql_name())),
        }
    });
    let conditions: Vec<String> = kind
        .into_iter()
        .chain(route.filter.as_ref().map(|f| format!("({f})")))
        .collect();
    let filter = match conditions.is_empty() {
        true => String::new(),
        false => format!(" WHERE {}", conditions.join(" AND ")),
    };
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
            payload: Cow::Borrowed(br#"{"id":1}"#),
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
            "CREATE STREAM IF NOT EXISTS `app.notes__row_changes` (`ID` BIGINT KEY, `BODY` STRING, \
             `SLUICE_CHANGE` BYTES HEADER('sluice.change')) \
             WITH (kafka_topic='app.notes', key_format='KAFKA', value_format='JSON');"
        );
        let mut route = Route {
            topic: "app.ev".into(),
            table: "app.notes".into(),
            op: ChangeOp::Insert,
            filter: Some("BODY <> 'x' OR ID = 1".into()),
            payload: PayloadMode::Full,
        };
        assert_eq!(
            route_sql(&route, "app.notes__row_changes", true, 2, &columns),
            "CREATE STREAM `app.ev__route__app.notes__insert` WITH (kafka_topic='app.ev', \
             key_format='JSON', value_format='JSON', partitions=2) AS SELECT `ID`, \
             AS_VALUE(`ID`) AS `id`, `BODY` AS `body`, 'app.notes' AS `_table`, \
             'insert' AS `_sluice_op` FROM `app.notes__row_changes` \
             WHERE `SLUICE_CHANGE` IS NULL AND (BODY <> 'x' OR ID = 1) EMIT CHANGES;"
        );
        route.payload = PayloadMode::Key;
        route.filter = None;
        route.op = ChangeOp::Delete;
        assert_eq!(
            route_sql(&route, "app.notes__row_changes", true, 1, &columns),
            "CREATE STREAM `app.ev__route__app.notes__delete` WITH (kafka_topic='app.ev', \
             key_format='JSON', value_format='JSON', partitions=1) AS SELECT `ID`, \
             AS_VALUE(`ID`) AS `id`, 'delete' AS `_sluice_op` FROM `app.notes__row_changes` \
             WHERE FROM_BYTES(`SLUICE_CHANGE`, 'utf8') = 'delete' EMIT CHANGES;"
        );
        route.op = ChangeOp::Insert;
        assert_eq!(
            route_sql(&route, "app.events", false, 1, &columns),
            "CREATE STREAM `app.ev__route__app.notes__insert` WITH (kafka_topic='app.ev', \
             key_format='JSON', value_format='JSON', partitions=1) AS SELECT `ID`, \
             AS_VALUE(`ID`) AS `id`, 'insert' AS `_sluice_op` FROM `app.events` EMIT CHANGES;"
        );
        assert!(is_route_of("app.ev__route__app.notes__insert", "app.ev"));
        assert!(!is_route_of("app.events__route__x", "app.ev"));
    }

    #[test]
    fn a_route_message_names_its_change_and_the_payload_hides_it() {
        let split = |v: &'static [u8]| {
            let (payload, op) = split_op(Some(v));
            (String::from_utf8(payload.into_owned()).expect("utf8"), op)
        };
        for op in [ChangeOp::Insert, ChangeOp::Update, ChangeOp::Delete] {
            let value = json!({"id": 1, "_table": "app.t", OP_FIELD: op.sql_name()});
            let text = serde_json::to_string(&value).expect("json");
            let bytes: &'static [u8] = Box::leak(text.into_bytes().into_boxed_slice());
            let (payload, got) = split(bytes);
            assert_eq!(got, op);
            let payload: Json = serde_json::from_str(&payload).expect("payload is JSON");
            assert_eq!(payload, json!({"id": 1, "_table": "app.t"}));
        }
        assert_eq!(
            split(br#"{"_sluice_op":"update"}"#),
            ("{}".to_string(), ChangeOp::Update)
        );
        // Not what a route writes: left as it is.
        for odd in [
            &br#"{,"_sluice_op":"update"}"#[..],
            br#"x{"_sluice_op":"update"}"#,
        ] {
            assert_eq!(split_op(Some(odd)), (Cow::Borrowed(odd), ChangeOp::Insert));
        }
        // Another writer's record is an insert, as it is; a tombstone a delete.
        assert_eq!(
            split(br#"{"id":1,"x":"_sluice_op\":\"update\"}"}"#).1,
            ChangeOp::Insert
        );
        assert_eq!(
            split(br#"{"id":2}"#),
            (r#"{"id":2}"#.to_string(), ChangeOp::Insert)
        );
        let (payload, op) = split_op(None);
        assert_eq!((&*payload, op), (&b"null"[..], ChangeOp::Delete));
    }
}
