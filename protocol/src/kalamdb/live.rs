//! KalamDB's live queries over `GET /v1/ws` (other-faces.md §C, "WebSocket /v1/ws"), as
//! the 0.4/0.5 line (the `kalam-client` crate) puts them on the wire: JSON text frames.
//!
//! ```text
//!  text frame ─► ClientMessage::decode (authenticate | subscribe | next_batch | unsubscribe | ping)
//!  subscribe.sql ─► LiveSql::parse (SELECT cols FROM ns.t [WHERE expr]) ─► (server: push query)
//!  rows ─► auth_success | subscription_ack | initial_data_batch | change | error ─► text frame
//! ```
//!
//! `_seq`, KalamDB's resume cursor, is derived from where a change sits in its table's log
//! ([`seq_of`]): monotonic per partition, durable across restarts, exact for the
//! single-partition topics the face creates.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use sluice_engine::{CellRef, ResultRows};

use super::envelope::{cell_json, data_type, SchemaField};
use super::wire::WireProtocol;
use crate::statement_table::Cell;
use crate::value_json::write_value;

/// KalamDB's live-query error codes (its `kalamdb-api` WebSocket handler).
pub mod code {
    pub const AUTH_REQUIRED: &str = "AUTH_REQUIRED";
    pub const INVALID_SUBSCRIPTION_ID: &str = "INVALID_SUBSCRIPTION_ID";
    pub const SUBSCRIPTION_LIMIT_EXCEEDED: &str = "SUBSCRIPTION_LIMIT_EXCEEDED";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const INVALID_SQL: &str = "INVALID_SQL";
    pub const UNSUPPORTED: &str = "UNSUPPORTED";
    pub const SUBSCRIPTION_FAILED: &str = "SUBSCRIPTION_FAILED";
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    pub const UNSUPPORTED_DATA: &str = "UNSUPPORTED_DATA";
    pub const PROTOCOL: &str = "PROTOCOL";
}

/// Most rows one `initial_data_batch` carries: KalamDB's own cap per batch.
pub const BATCH_ROWS_MAX: usize = 1000;

/// Longest subscription id: KalamDB's SDK makes `sub_<nanos>`; the cap keeps ids (echoed in
/// every frame) from being a way to grow the server's memory.
pub const SUBSCRIPTION_ID_CHARS_MAX: usize = 128;

/// KalamDB's system column carrying a row's change sequence.
pub const SEQ_COLUMN: &str = "_seq";

/// Low bits of a `_seq` that hold the partition: 1024 partitions, far above the one the
/// face's `CREATE TABLE` gives a topic, leaving 53 bits of offset.
pub const SEQ_PARTITION_BITS: u32 = 10;

/// The `_seq` of the change at `offset` of `partition`: ordered like the offsets within a
/// partition, and the same after a restart because offsets are durable. Offsets count from
/// one here so that no row has `_seq` 0, which clients may take for "none".
pub fn seq_of(partition: u32, offset: u64) -> i64 {
    let partition = i64::from(partition) & ((1 << SEQ_PARTITION_BITS) - 1);
    ((offset.saturating_add(1) as i64) << SEQ_PARTITION_BITS) | partition
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// `{"type":"authenticate","method":"jwt","token":…,"protocol"?:{…}}`; older docs leave
    /// `protocol` out, so it is optional.
    Authenticate {
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        token: Option<String>,
        /// Absent: JSON with gzip (KalamDB's default).
        #[serde(default)]
        protocol: WireProtocol,
    },
    Subscribe {
        subscription: SubscriptionRequest,
    },
    NextBatch {
        subscription_id: String,
    },
    Unsubscribe {
        subscription_id: String,
    },
    /// Application-level keepalive: no reply.
    Ping,
}

impl ClientMessage {
    pub fn decode(text: &str) -> Result<ClientMessage, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid message: {e}"))
    }
}

/// `subscribe`'s `subscription`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubscriptionRequest {
    pub id: String,
    pub sql: String,
    #[serde(default)]
    pub options: SubscriptionOptions,
}

/// Precedence (KalamDB's): `from` > `last_rows` > the whole table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SubscriptionOptions {
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub last_rows: Option<u32>,
    /// Resume after this `_seq` (the SDK sends a number; a decimal string is accepted too).
    #[serde(default, alias = "from_seq_id", deserialize_with = "seq_value")]
    pub from: Option<i64>,
}

fn seq_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seq {
        Number(i64),
        Text(String),
    }
    match Option::<Seq>::deserialize(d)? {
        None => Ok(None),
        Some(Seq::Number(n)) => Ok(Some(n)),
        Some(Seq::Text(t)) => t
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("`from` must be a _seq number")),
    }
}

impl SubscriptionOptions {
    /// Rows per batch: the client's choice, capped at [`BATCH_ROWS_MAX`].
    pub fn batch_rows(&self) -> usize {
        self.batch_size
            .unwrap_or(BATCH_ROWS_MAX)
            .clamp(1, BATCH_ROWS_MAX)
    }
}

/// The columns a live query selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    All,
    /// Column names as the engine stores them (unquoted names upper-cased), `_seq` as is.
    Columns(Vec<String>),
}

/// A live query: `SELECT <columns> FROM ns.t [WHERE <expr>]`, the shape KalamDB accepts
/// for subscriptions (no joins, grouping, ordering or limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSql {
    pub projection: Projection,
    pub namespace: String,
    pub table: String,
    /// The predicate's text, parentheses balanced and no `;`, so the server can embed it
    /// in the engine query it builds without it escaping its place.
    pub filter: Option<String>,
}

impl LiveSql {
    pub fn parse(sql: &str) -> Result<LiveSql, String> {
        let sql = sql.trim().trim_end_matches(';').trim_end();
        let words = top_level_words(sql)?;
        let find = |word: &str| words.iter().find(|(_, w)| w.eq_ignore_ascii_case(word));
        let Some((0, _)) = words
            .first()
            .filter(|(_, w)| w.eq_ignore_ascii_case("SELECT"))
        else {
            return Err("a live query is SELECT … FROM namespace.table [WHERE …]".into());
        };
        let from = find("FROM")
            .ok_or("a live query needs FROM namespace.table")?
            .0;
        for word in [
            "JOIN", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION",
        ] {
            if find(word).is_some() {
                return Err(format!("{word} is not supported in a live query"));
            }
        }
        let after_from = words
            .iter()
            .find(|(at, w)| *at > from && w.eq_ignore_ascii_case("WHERE"));
        let (source, filter) = match after_from {
            Some(&(at, _)) => (&sql[from + 4..at], Some(sql[at + 5..].trim().to_string())),
            None => (&sql[from + 4..], None),
        };
        if filter.as_deref() == Some("") {
            return Err("WHERE needs a condition".into());
        }
        let (namespace, table) = qualified_name(source.trim())?;
        Ok(LiveSql {
            projection: projection(sql["SELECT".len()..from].trim())?,
            namespace,
            table,
            filter,
        })
    }
}

/// Byte offsets and text of the words outside quotes and parentheses; errors on a `;`, a
/// comment, or quotes or parentheses that do not close.
fn top_level_words(sql: &str) -> Result<Vec<(usize, &str)>, String> {
    let bytes = sql.as_bytes();
    let (mut words, mut depth, mut i) = (Vec::new(), 0usize, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                let close = sql[i + 1..]
                    .find(c as char)
                    .ok_or("a quoted name or string does not end")?;
                i += close + 2;
                continue;
            }
            b'(' => depth += 1,
            b')' => depth = depth.checked_sub(1).ok_or("unbalanced parentheses")?,
            b';' => return Err("a live query is one statement".into()),
            // A comment could swallow the rest of the line the server embeds the filter in.
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                return Err("comments are not allowed in a live query".into())
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                return Err("comments are not allowed in a live query".into())
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if depth == 0 {
                    words.push((start, &sql[start..i]));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    Ok(words)
}

/// `ns.t` (either part may be quoted): KalamDB's live queries always name the namespace.
fn qualified_name(text: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = text.split('.').map(str::trim).collect();
    match parts.as_slice() {
        [ns, t] if !ns.is_empty() && !t.is_empty() => Ok((unquote(ns)?, unquote(t)?)),
        _ => Err(format!(
            "a live query reads one table named namespace.table, not '{text}'"
        )),
    }
}

fn projection(text: &str) -> Result<Projection, String> {
    if text == "*" {
        return Ok(Projection::All);
    }
    text.split(',')
        .map(|c| {
            let c = c.trim();
            if c.eq_ignore_ascii_case(SEQ_COLUMN) {
                Ok(SEQ_COLUMN.to_string())
            } else if c.starts_with(['"', '`']) {
                unquote(c)
            } else if !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                Ok(c.to_ascii_uppercase())
            } else {
                Err(format!("a live query selects * or column names, not '{c}'"))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Projection::Columns)
}

fn unquote(name: &str) -> Result<String, String> {
    let quoted = |q: char| name.len() >= 2 && name.starts_with(q) && name.ends_with(q);
    if quoted('"') || quoted('`') {
        Ok(name[1..name.len() - 1].to_string())
    } else if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!("'{name}' is not a name"))
    }
}

/// Every row of a push query's batch as native JSON cells, with whether it is a table
/// tombstone (a deleted key: its key cells, nulls elsewhere).
pub fn json_rows(rows: &ResultRows) -> Vec<(bool, Vec<Json>)> {
    let mut text = Vec::new();
    rows.rows_with_tombstones()
        .map(|(tombstone, cells)| {
            let cells = cells
                .map(|cell| match cell {
                    CellRef::Json(bytes) => cell_json(&Cell::from_json_text(bytes)),
                    CellRef::Value(value) => {
                        text.clear();
                        write_value(value, &mut text);
                        cell_json(&Cell::from_json_text(&text))
                    }
                })
                .collect();
            (tombstone, cells)
        })
        .collect()
}

/// A row as a named map, the shape of live rows (unlike `/sql`'s positional arrays).
pub type Row = Map<String, Json>;

/// Where a subscription's initial load is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// The first batch, more pending.
    Loading,
    /// A later batch, more pending.
    LoadingBatch,
    /// The initial load is done; changes follow.
    Ready,
}

impl BatchStatus {
    fn name(self) -> &'static str {
        match self {
            BatchStatus::Loading => "loading",
            BatchStatus::LoadingBatch => "loading_batch",
            BatchStatus::Ready => "ready",
        }
    }
}

/// `batch_control` of the ack and of every initial batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchControl {
    pub batch_num: u32,
    pub has_more: bool,
    pub status: BatchStatus,
    pub last_seq_id: Option<i64>,
}

impl BatchControl {
    fn json(&self) -> Json {
        json!({"batch_num": self.batch_num, "has_more": self.has_more,
               "status": self.status.name(), "last_seq_id": self.last_seq_id})
    }
}

/// What a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Insert,
    Update,
    Delete,
}

/// `auth_success`, naming the protocol the frames after it use; itself always JSON text.
pub fn auth_success(user: &str, role: &str, protocol: &WireProtocol) -> String {
    json!({"type": "auth_success", "user": user, "role": role, "protocol": protocol.json()})
        .to_string()
}

pub fn auth_error(message: &str) -> String {
    json!({"type": "auth_error", "message": message}).to_string()
}

pub fn subscription_ack(
    id: &str,
    total_rows: usize,
    control: &BatchControl,
    schema: &[SchemaField],
) -> String {
    let schema: Vec<Json> = schema
        .iter()
        .enumerate()
        .map(|(index, f)| json!({"name": f.name, "data_type": data_type(&f.ty), "index": index}))
        .collect();
    json!({"type": "subscription_ack", "subscription_id": id, "total_rows": total_rows,
           "batch_control": control.json(), "schema": schema})
    .to_string()
}

pub fn initial_data_batch(id: &str, rows: &[Row], control: &BatchControl) -> String {
    json!({"type": "initial_data_batch", "subscription_id": id, "rows": rows,
           "batch_control": control.json()})
    .to_string()
}

/// `change`: inserts carry `rows`, deletes `old_values`, updates both (in the same order).
pub fn change(id: &str, kind: ChangeType, rows: &[Row], old_values: &[Row]) -> String {
    ChangeFrame::new(kind, rows, old_values).for_subscription(id)
}

/// A `change` frame encoded once for every subscription that shares it: all but the
/// `subscription_id`, which [`ChangeFrame::for_subscription`] puts in (a copy of the rest,
/// no second encoding). Frames of one kind also merge into one message
/// ([`ChangeFrame::merged`]): a subscriber that is behind catches up in fewer, larger
/// messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFrame {
    kind: ChangeType,
    /// The `rows` and `old_values` arrays' elements, comma-separated, without brackets.
    rows: String,
    old_values: String,
}

impl ChangeFrame {
    pub fn new(kind: ChangeType, rows: &[Row], old_values: &[Row]) -> ChangeFrame {
        let inner = |rows: &[Row]| {
            let text = json!(rows).to_string();
            text[1..text.len() - 1].to_owned()
        };
        ChangeFrame {
            kind,
            rows: inner(rows),
            old_values: inner(old_values),
        }
    }

    pub fn kind(&self) -> ChangeType {
        self.kind
    }

    /// About how many bytes the frame adds to a message.
    pub fn bytes(&self) -> usize {
        self.rows.len() + self.old_values.len() + 1
    }

    /// The frame for subscription `id`.
    pub fn for_subscription(&self, id: &str) -> String {
        ChangeFrame::merged(&QuotedId::new(id), std::slice::from_ref(self))
    }

    /// One `change` message for subscription `id` carrying `frames` (of the first one's
    /// kind; the caller groups them) in order.
    pub fn merged<F: std::borrow::Borrow<ChangeFrame>>(id: &QuotedId, frames: &[F]) -> String {
        let Some(first) = frames.first() else {
            return String::new();
        };
        let kind = first.borrow().kind;
        let name = match kind {
            ChangeType::Insert => "insert",
            ChangeType::Update => "update",
            ChangeType::Delete => "delete",
        };
        let bytes: usize = frames.iter().map(|f| f.borrow().bytes()).sum();
        let mut out = String::with_capacity(CHANGE_HEAD.len() + id.0.len() + bytes + 64);
        out.push_str(CHANGE_HEAD);
        out.push_str(&id.0);
        out.push_str(r#","change_type":""#);
        out.push_str(name);
        out.push('"');
        let mut array = |key: &str, part: fn(&ChangeFrame) -> &str| {
            out.push_str(",\"");
            out.push_str(key);
            out.push_str("\":[");
            let mut first = true;
            for text in frames
                .iter()
                .map(|f| part(f.borrow()))
                .filter(|t| !t.is_empty())
            {
                if !first {
                    out.push(',');
                }
                out.push_str(text);
                first = false;
            }
            out.push(']');
        };
        if kind != ChangeType::Delete {
            array("rows", |f| &f.rows);
        }
        if kind != ChangeType::Insert {
            array("old_values", |f| &f.old_values);
        }
        out.push('}');
        out
    }
}

/// A subscription id as the JSON string a frame carries: escaped once per subscription,
/// not once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedId(String);

impl QuotedId {
    pub fn new(id: &str) -> QuotedId {
        QuotedId(Json::from(id).to_string())
    }
}

/// A `change` frame's start, up to its subscription id.
const CHANGE_HEAD: &str = r#"{"type":"change","subscription_id":"#;

/// `error`; `subscription_id` may be a synthetic one (`"protocol"`, `"subscribe"`).
pub fn error(subscription_id: &str, code: &str, message: &str) -> String {
    json!({"type": "error", "subscription_id": subscription_id, "code": code, "message": message})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_sql_splits_columns_source_and_filter() {
        let q = LiveSql::parse("SELECT id, body, _seq FROM app.notes WHERE body <> 'x FROM y';")
            .expect("parses");
        assert_eq!(
            q.projection,
            Projection::Columns(vec!["ID".into(), "BODY".into(), "_seq".into()])
        );
        assert_eq!((q.namespace.as_str(), q.table.as_str()), ("app", "notes"));
        assert_eq!(q.filter.as_deref(), Some("body <> 'x FROM y'"));
        let all = LiveSql::parse("select * from App.Notes").expect("parses");
        assert_eq!(all.projection, Projection::All);
        assert_eq!((all.namespace.as_str(), all.filter), ("app", None));
    }

    #[test]
    fn live_sql_refuses_what_it_cannot_embed_or_serve() {
        for bad in [
            "SELEC * FROM app.notes",
            "SELECT * FROM notes",
            "SELECT * FROM app.notes WHERE (id = 1",
            "SELECT * FROM app.notes WHERE id = 1) FROM x",
            "SELECT * FROM app.notes; DROP TABLE app.notes",
            "SELECT * FROM app.notes ORDER BY id",
            "SELECT count(*) FROM app.notes",
            "SELECT * FROM app.notes WHERE",
            "SELECT * FROM app.notes WHERE body = 'open",
            "SELECT * FROM app.notes WHERE id = 1 --(\n) AS M FROM other EMIT CHANGES --(",
            "SELECT * FROM app.notes WHERE id = 1 /* x */",
            "SELECT * WHERE x FROM app.notes",
        ] {
            assert!(LiveSql::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any text built from SQL's troublesome pieces: parsing never panics, and a filter
        /// that parsed stays in its place when the server embeds it (as the fuzz target
        /// `kalamdb_live` checks on arbitrary bytes).
        #[test]
        fn a_parsed_filter_cannot_escape_its_place(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "SELECT", "*", "FROM", "app.notes", "WHERE", "id", "=", "'", "\"", "`", "(",
                ")", ";", "-", "--", "/*", "*/", ",", " ", "\n", "AND", "x", "é", "ORDER",
            ]), 0..24)
        ) {
            let sql = pieces.concat();
            if let Ok(q) = LiveSql::parse(&sql) {
                if let Some(filter) = q.filter {
                    for embedded in [filter.clone(), format!("({filter})")] {
                        let again = LiveSql::parse(&format!("SELECT * FROM x.y WHERE {embedded}"));
                        proptest::prop_assert_eq!(
                            again.ok().and_then(|q| q.filter),
                            Some(embedded)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_where_before_from_is_not_the_filter() {
        // No panic, and the source is still the name after FROM.
        let q = LiveSql::parse("SELECT WHERE FROM app.notes").expect("a column named WHERE");
        assert_eq!((q.table.as_str(), q.filter), ("notes", None));
    }

    #[test]
    fn client_messages_decode_with_and_without_protocol() {
        let m = ClientMessage::decode(
            r#"{"type":"authenticate","method":"jwt","token":"t","protocol":{"serialization":"json","compression":"none"}}"#,
        )
        .expect("decodes");
        assert_eq!(
            m,
            ClientMessage::Authenticate {
                method: Some("jwt".into()),
                token: Some("t".into()),
                protocol: WireProtocol {
                    serialization: super::super::wire::Serialization::Json,
                    compression: super::super::wire::Compression::None,
                },
            }
        );
        let m = ClientMessage::decode(r#"{"type":"authenticate","method":"jwt","token":"t"}"#)
            .expect("decodes");
        assert!(
            matches!(m, ClientMessage::Authenticate { protocol, .. } if protocol == WireProtocol::default()),
            "no protocol: JSON with gzip"
        );
        let m = ClientMessage::decode(
            r#"{"type":"subscribe","subscription":{"id":"s1","sql":"SELECT * FROM a.b","options":{"batch_size":5,"from_seq_id":"42"}}}"#,
        )
        .expect("decodes");
        let ClientMessage::Subscribe { subscription } = m else {
            panic!("not a subscribe")
        };
        assert_eq!(subscription.options.from, Some(42));
        assert_eq!(subscription.options.batch_rows(), 5);
        assert_eq!(SubscriptionOptions::default().batch_rows(), BATCH_ROWS_MAX);
        assert!(ClientMessage::decode(r#"{"type":"bogus"}"#).is_err());
        assert!(ClientMessage::decode("not json").is_err());
    }

    #[test]
    fn seq_orders_like_offsets_and_keeps_the_partition() {
        assert!(seq_of(0, 1) > seq_of(0, 0));
        assert!(seq_of(0, 0) > 0, "no row has _seq 0");
        assert!(seq_of(0, 2) > seq_of(3, 1));
        assert_eq!(seq_of(3, 7) & ((1 << SEQ_PARTITION_BITS) - 1), 3);
    }

    #[test]
    fn changes_carry_rows_and_old_values_by_kind() {
        let row: Row = serde_json::from_str(r#"{"ID":1,"_seq":1024}"#).expect("row");
        let insert: Json = serde_json::from_str(&change(
            "s",
            ChangeType::Insert,
            std::slice::from_ref(&row),
            &[],
        ))
        .expect("json");
        assert_eq!(insert["rows"][0]["ID"], 1);
        assert!(insert.get("old_values").is_none());
        let delete: Json =
            serde_json::from_str(&change("s", ChangeType::Delete, &[], &[row])).expect("json");
        assert!(delete.get("rows").is_none());
        assert_eq!(delete["old_values"][0]["_seq"], 1024);
    }

    #[test]
    fn one_change_frame_serves_every_subscription() {
        let row: Row = serde_json::from_str(r#"{"ID":1,"_seq":1024}"#).expect("row");
        let frame = ChangeFrame::new(
            ChangeType::Update,
            std::slice::from_ref(&row),
            std::slice::from_ref(&row),
        );
        for id in ["a", "sub \"2\" \\ é"] {
            let parsed: Json = serde_json::from_str(&frame.for_subscription(id)).expect("json");
            assert_eq!(parsed["type"], "change");
            assert_eq!(parsed["subscription_id"], id);
            assert_eq!(parsed["change_type"], "update");
            assert_eq!(parsed["rows"][0]["ID"], 1);
            assert_eq!(parsed["old_values"][0]["_seq"], 1024);
        }
        let other: Row = serde_json::from_str(r#"{"ID":2,"_seq":2048}"#).expect("row");
        let next = ChangeFrame::new(
            ChangeType::Update,
            std::slice::from_ref(&other),
            std::slice::from_ref(&other),
        );
        let merged: Json =
            serde_json::from_str(&ChangeFrame::merged(&QuotedId::new("m"), &[&frame, &next]))
                .expect("json");
        assert_eq!(
            merged["rows"],
            json!([{"ID": 1, "_seq": 1024}, {"ID": 2, "_seq": 2048}])
        );
        assert_eq!(merged["old_values"][1]["_seq"], 2048);
        let empty = ChangeFrame::new(ChangeType::Insert, &[], &[]);
        let merged: Json =
            serde_json::from_str(&ChangeFrame::merged(&QuotedId::new("m"), &[&empty, &empty]))
                .expect("json");
        assert_eq!(merged["rows"], json!([]));
    }
}
