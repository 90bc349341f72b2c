//! The change feed of one live query: its table's rows folded into key → (`_seq`, row),
//! then each later row of the changelog as the insert, update or delete a client sees.
//!
//! ```text
//!  open: DESCRIBE `ns.t` (keys, topic) ─► end offsets of the topic now
//!    ─► push query from earliest: SELECT *[, ROWTIME], ROWPARTITION, ROWOFFSET[, (filter)] … EMIT CHANGES
//!       (ROWTIME for a stream, whose snapshot a TTL trims)
//!    ─► fold rows into key → (_seq, row) until those end offsets (the snapshot)
//!  next_changes: each later row ─► insert (new key) | update (old row from the map) |
//!       delete (tombstone, or the row no longer matches the filter)
//! ```
//!
//! Why one push query from the earliest offset rather than a pull for the snapshot and a
//! push for changes: the push rows carry their partition and offset, so every row, in the
//! snapshot or not, gets its durable `_seq`, and the snapshot and the changes meet at one
//! exact point with nothing lost or repeated between them.
//!
//! Why the feed keeps key → row: the engine's changelog carries a key's new value (or a
//! tombstone) but not its old one, which KalamDB's `update` and `delete` must carry in
//! `old_values`; the map is that old value, bounded by [`LIVE_ROWS_MAX`].
//!
//! The filter is evaluated by the engine as a column, not as a WHERE: a row that stops
//! matching must become a `delete`, which a WHERE would hide.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use sluice_engine::types::SqlType;
use sluice_engine::{
    Engine, EngineError, ErrorCode, Outcome, QueryHandle, QueryOutput, QueryRequest, ResultRows,
    Source, SourceKind,
};
use sluice_protocol::kalamdb::dialect::source_name;
use sluice_protocol::kalamdb::envelope::SchemaField;
use sluice_protocol::kalamdb::live::{
    code, json_rows, seq_of, ChangeType, LiveSql, Projection, Row, SEQ_COLUMN, SEQ_PARTITION_BITS,
};
use sluice_protocol::kalamdb::user_scope::OWNER_COLUMN;

/// Most rows one live query keeps (key → current row, or a stream's newest rows): the
/// memory a subscription may hold. KalamDB pages its snapshots from storage; this face
/// rebuilds them from the log, so it refuses tables past this size instead of growing.
pub const LIVE_ROWS_MAX: usize = 100_000;

/// Rows taken from the push query per read: one engine batch, small enough that a change
/// frame stays far below the client's message limit.
pub const ROWS_PER_READ_MAX: usize = 256;

/// How long catching up may see no row before the snapshot is taken as complete: records
/// the query skips (undecodable values, compaction gaps) would otherwise never let the
/// row count reach the end offsets.
pub const CATCH_UP_QUIET_MS: u64 = 1_000;

/// The engine's alias for the filter column (no KalamDB column starts with `SLUICE_`).
const MATCH_COLUMN: &str = "SLUICE_LIVE_MATCH";

/// Why a live query failed, in KalamDB's codes.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub(super) code: &'static str,
    pub(super) message: String,
}

pub(super) fn failure(code: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

async fn describe(engine: &Engine, name: &str) -> Result<Arc<Source>, Failure> {
    let none = HashMap::new();
    let not_found = || failure(code::NOT_FOUND, format!("Table '{name}' does not exist"));
    let results = engine
        .execute(&format!("DESCRIBE {};", quote(name)), &none, &none)
        .await
        .map_err(|_| not_found())?;
    match results.into_iter().next().map(|r| r.outcome) {
        Some(Outcome::Description { detail, .. }) => Ok(detail.source),
        _ => Err(not_found()),
    }
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The push query over the whole changelog (of `owner`'s rows, for a USER table), with each
/// row's place and the filter's verdict. A row never changes owner (the owner leads its
/// key), so the owner is a WHERE: no row leaves a subscriber's view by it.
async fn start(
    engine: &Engine,
    name: &str,
    filter: Option<&str>,
    owner: Option<&str>,
    rowtime: bool,
) -> Result<QueryHandle, Failure> {
    let rowtime = if rowtime { ", ROWTIME" } else { "" };
    let matched = filter
        .map(|f| format!(", ({f}) AS {MATCH_COLUMN}"))
        .unwrap_or_default();
    let owned = owner
        .map(|o| format!(" WHERE `{OWNER_COLUMN}` = '{}'", o.replace('\'', "''")))
        .unwrap_or_default();
    let sql = format!(
        "SELECT *{rowtime}, ROWPARTITION, ROWOFFSET{matched} FROM {}{owned} EMIT CHANGES;",
        quote(name)
    );
    let properties = HashMap::from([("auto.offset.reset".to_string(), "earliest".to_string())]);
    let none = HashMap::new();
    let output = engine
        .start_query(QueryRequest {
            sql: &sql,
            properties: &properties,
            session_variables: &none,
        })
        .await
        .map_err(|e| engine_failure(&e))?;
    match output {
        QueryOutput::Rows(q) => Ok(q),
        QueryOutput::Print(_) => Err(failure(code::INVALID_SQL, "not a SELECT")),
    }
}

/// The one mapping from the engine's classified errors to KalamDB's live-query codes.
fn engine_failure(e: &EngineError) -> Failure {
    let code = match e.code() {
        ErrorCode::Syntax | ErrorCode::InvalidStatement | ErrorCode::BadRequest => {
            code::INVALID_SQL
        }
        ErrorCode::NotFound | ErrorCode::TopicNotFound | ErrorCode::PartitionNotFound => {
            code::NOT_FOUND
        }
        ErrorCode::PushQueryLimit | ErrorCode::ResourceLimit => code::SUBSCRIPTION_LIMIT_EXCEEDED,
        ErrorCode::Unsupported => code::UNSUPPORTED,
        ErrorCode::QueryOnStatementEndpoint
        | ErrorCode::InvalidRowJson
        | ErrorCode::Conflict
        | ErrorCode::StorageFull
        | ErrorCode::Io
        | ErrorCode::Corrupt
        | ErrorCode::Internal => code::SUBSCRIPTION_FAILED,
    };
    failure(code, e.message())
}

/// Where the parts of a live row sit in the push query's columns.
pub(super) struct Layout {
    /// The client's columns: a query column, or `_seq`.
    columns: Vec<(String, Option<usize>)>,
    pub(super) schema: Vec<SchemaField>,
    keys: Vec<usize>,
    /// Only a stream's feed reads ROWTIME (its rows are kept for a TTL-trimmed snapshot).
    rowtime: Option<usize>,
    partition: usize,
    offset: usize,
    matched: Option<usize>,
}

impl Layout {
    fn new(
        query: &QueryHandle,
        source: &Source,
        projection: &Projection,
    ) -> Result<Layout, Failure> {
        let names = query.column_names();
        let find = |name: &str| names.iter().position(|n| n == name);
        let internal = || failure(code::SUBSCRIPTION_FAILED, "the live query lost a column");
        let wanted: Vec<String> = match projection {
            Projection::All => source
                .schema
                .columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| c != OWNER_COLUMN)
                .chain([SEQ_COLUMN.to_string()])
                .collect(),
            Projection::Columns(c) => c.clone(),
        };
        let mut columns = Vec::with_capacity(wanted.len());
        let mut schema = Vec::with_capacity(wanted.len());
        for name in wanted {
            if name == SEQ_COLUMN {
                schema.push(SchemaField {
                    name: name.clone(),
                    ty: SqlType::BigInt,
                });
                columns.push((name, None));
                continue;
            }
            let Some(i) = find(&name).filter(|_| name != OWNER_COLUMN) else {
                return Err(failure(
                    code::INVALID_SQL,
                    format!("Column '{name}' does not exist in the table"),
                ));
            };
            schema.push(SchemaField {
                name: name.clone(),
                ty: query.column_types()[i].clone(),
            });
            columns.push((name, Some(i)));
        }
        let keys = source
            .schema
            .keys()
            .map(|k| find(&k.name).ok_or_else(internal))
            .collect::<Result<_, _>>()?;
        Ok(Layout {
            columns,
            schema,
            keys,
            rowtime: find("ROWTIME"),
            partition: find("ROWPARTITION").ok_or_else(internal)?,
            offset: find("ROWOFFSET").ok_or_else(internal)?,
            matched: find(MATCH_COLUMN),
        })
    }

    /// A push query row in live terms.
    fn event(&self, tombstone: bool, cells: &[Json]) -> Event {
        let key_cells: Vec<&Json> = self.keys.iter().map(|&i| &cells[i]).collect();
        let key = serde_json::to_string(&key_cells).expect("JSON values serialize");
        if tombstone {
            return Event::Tombstone { key };
        }
        let partition = cells[self.partition].as_u64().unwrap_or(0);
        let offset = cells[self.offset].as_u64().unwrap_or(0);
        let rowtime = self.rowtime.and_then(|i| cells[i].as_i64()).unwrap_or(0);
        let partition = u32::try_from(partition).unwrap_or(u32::MAX);
        let seq = seq_of(partition, offset);
        let row: Row = self
            .columns
            .iter()
            .map(|(name, slot)| {
                let value = match slot {
                    Some(i) => cells[*i].clone(),
                    None => Json::from(seq),
                };
                (name.clone(), value)
            })
            .collect();
        let matched = self.matched.is_none_or(|i| cells[i] == Json::Bool(true));
        Event::Row {
            key,
            partition,
            offset,
            seq,
            rowtime,
            matched,
            row,
        }
    }
}

enum Event {
    Tombstone {
        key: String,
    },
    Row {
        key: String,
        partition: u32,
        offset: u64,
        seq: i64,
        /// The record's timestamp (ms): a STREAM table's TTL counts from it.
        rowtime: i64,
        matched: bool,
        row: Row,
    },
}

/// A change for the client: the new row and the old one, as its kind has them.
pub(super) struct Change {
    pub(super) kind: ChangeType,
    pub(super) row: Option<Row>,
    pub(super) old: Option<Row>,
}

/// What a live query knows of its table: key → (`_seq`, row) for a table; a stream's
/// newest rows for its initial load (a stream has no updates, so nothing after that).
struct LiveTable {
    keyed: bool,
    /// The topic's partitions: with one, every tombstone's partition is known.
    partitions: usize,
    rows: HashMap<String, (i64, Row)>,
    /// A stream's newest rows: `_seq`, ROWTIME, the row.
    stream_rows: VecDeque<(i64, i64, Row)>,
    /// Per partition, the offset after the last record seen. A tombstone row carries no
    /// offset; the query reads every record (the filter is a column, not a WHERE), so a
    /// tombstone sits at its partition's next offset, which gives the delete its `_seq`.
    next_offset: HashMap<u32, u64>,
}

/// `old_values` carry the change's `_seq`, not the old row's: KalamDB's SDK drops rows at
/// or below its resume point, and an old row's own `_seq` always is.
fn stamp(mut row: Row, seq: i64) -> Row {
    if let Some(v) = row.get_mut(SEQ_COLUMN) {
        *v = Json::from(seq);
    }
    row
}

impl LiveTable {
    fn new(keyed: bool, partitions: usize) -> LiveTable {
        LiveTable {
            keyed,
            partitions,
            rows: HashMap::new(),
            stream_rows: VecDeque::new(),
            next_offset: HashMap::new(),
        }
    }

    /// The `_seq` of a tombstone for a key whose row had `old_seq` (one key, one partition).
    fn tombstone_seq(&mut self, old_seq: Option<i64>) -> Option<i64> {
        let partition = match (self.partitions, old_seq) {
            (1, _) => 0,
            (_, Some(seq)) => (seq & ((1 << SEQ_PARTITION_BITS) - 1)) as u32,
            (_, None) => return None,
        };
        let next = self.next_offset.entry(partition).or_insert(0);
        let seq = seq_of(partition, *next);
        *next += 1;
        Some(seq)
    }

    /// Applies a row while catching up: a stream keeps its newest rows.
    fn fold(&mut self, event: Event) -> Result<(), Failure> {
        match (self.keyed, event) {
            (
                false,
                Event::Row {
                    seq,
                    rowtime,
                    matched,
                    row,
                    ..
                },
            ) => {
                if matched {
                    if self.stream_rows.len() == LIVE_ROWS_MAX {
                        self.stream_rows.pop_front();
                    }
                    self.stream_rows.push_back((seq, rowtime, row));
                }
                Ok(())
            }
            (_, event) => self.apply(event).map(drop),
        }
    }

    /// Applies a live row and says what changed for the client, if anything.
    fn apply(&mut self, event: Event) -> Result<Option<Change>, Failure> {
        let deleted = |old: Row| Change {
            kind: ChangeType::Delete,
            row: None,
            old: Some(old),
        };
        if let Event::Row {
            partition, offset, ..
        } = &event
        {
            self.next_offset.insert(*partition, offset + 1);
        }
        match event {
            Event::Tombstone { key } => {
                let old = self.rows.remove(&key);
                let seq = self.tombstone_seq(old.as_ref().map(|(s, _)| *s));
                Ok(old.zip(seq).map(|((_, row), seq)| deleted(stamp(row, seq))))
            }
            Event::Row {
                matched: false,
                key,
                seq,
                ..
            } => Ok(self
                .rows
                .remove(&key)
                .map(|(_, old)| deleted(stamp(old, seq)))),
            Event::Row { row, .. } if !self.keyed => Ok(Some(Change {
                kind: ChangeType::Insert,
                row: Some(row),
                old: None,
            })),
            Event::Row { key, seq, row, .. } => {
                if let Some((old_seq, old)) = self.rows.get_mut(&key) {
                    // Ordered per key (one key, one partition); an older seq is a repeat.
                    if *old_seq >= seq {
                        return Ok(None);
                    }
                    *old_seq = seq;
                    let old = std::mem::replace(old, row.clone());
                    return Ok(Some(Change {
                        kind: ChangeType::Update,
                        row: Some(row),
                        old: Some(stamp(old, seq)),
                    }));
                }
                if self.rows.len() >= LIVE_ROWS_MAX {
                    return Err(failure(
                        code::SUBSCRIPTION_FAILED,
                        format!("the table has more than {LIVE_ROWS_MAX} rows, the most a live query follows"),
                    ));
                }
                self.rows.insert(key, (seq, row.clone()));
                Ok(Some(Change {
                    kind: ChangeType::Insert,
                    row: Some(row),
                    old: None,
                }))
            }
        }
    }

    /// The current rows, oldest `_seq` first; of a stream, those stamped at or after
    /// `visible_since_ms` (its TTL), when given.
    fn snapshot(&self, visible_since_ms: Option<i64>) -> Vec<(i64, Row)> {
        if !self.keyed {
            let since = visible_since_ms.unwrap_or(i64::MIN);
            return self
                .stream_rows
                .iter()
                .filter(|(_, rowtime, _)| *rowtime >= since)
                .map(|(seq, _, row)| (*seq, row.clone()))
                .collect();
        }
        let ordered: BTreeMap<i64, &Row> = self.rows.values().map(|(s, r)| (*s, r)).collect();
        ordered.into_iter().map(|(s, r)| (s, r.clone())).collect()
    }
}

/// Reads the changelog up to where it ended when the subscription began.
async fn catch_up(
    query: &mut QueryHandle,
    layout: &Layout,
    table: &mut LiveTable,
    records: u64,
) -> Result<(), Failure> {
    let mut batch = query.new_rows();
    let mut seen = 0u64;
    while seen < records {
        let wait = Duration::from_millis(CATCH_UP_QUIET_MS);
        let step = match tokio::time::timeout(wait, query.next_rows(&mut batch, ROWS_PER_READ_MAX))
            .await
        {
            Err(_) => break,
            Ok(step) => step.map_err(|e| engine_failure(&e))?,
        };
        for (tombstone, cells) in json_rows(&batch) {
            seen += 1;
            table.fold(layout.event(tombstone, &cells))?;
        }
        batch.clear();
        if step.is_some() {
            return Err(ended());
        }
    }
    Ok(())
}

pub(super) fn ended() -> Failure {
    failure(
        code::SUBSCRIPTION_FAILED,
        "the live query ended: its table was dropped or the server is stopping",
    )
}

/// A live query's feed: its push query, where its columns sit, and its table of rows.
pub(super) struct Feed {
    query: QueryHandle,
    pub(super) layout: Layout,
    table: LiveTable,
    batch: ResultRows,
}

impl Feed {
    /// Starts the push query (over `owner`'s rows only, for a USER table) and folds the
    /// changelog as it stood at this moment into the snapshot.
    pub(super) async fn open(
        engine: &Engine,
        sql: &LiveSql,
        owner: Option<&str>,
    ) -> Result<Feed, Failure> {
        let name = source_name(&sql.namespace, &sql.table);
        let source = describe(engine, &name).await?;
        let ends = engine
            .describe_topic(&source.topic)
            .ok_or_else(|| failure(code::NOT_FOUND, format!("Table '{name}' has no topic")))?;
        let keyed = source.kind == SourceKind::Table;
        let mut query = start(engine, &name, sql.filter.as_deref(), owner, !keyed).await?;
        let layout = Layout::new(&query, &source, &sql.projection)?;
        let mut table = LiveTable::new(keyed, ends.partitions.len());
        let total: u64 = ends
            .partitions
            .iter()
            .map(|p| p.end_offset.saturating_sub(p.start_offset))
            .sum();
        catch_up(&mut query, &layout, &mut table, total).await?;
        let batch = query.new_rows();
        Ok(Feed {
            query,
            layout,
            table,
            batch,
        })
    }

    /// The current rows, oldest `_seq` first (see [`LiveTable::snapshot`]).
    pub(super) fn snapshot(&self, visible_since_ms: Option<i64>) -> Vec<(i64, Row)> {
        self.table.snapshot(visible_since_ms)
    }

    /// The changes of the next rows the push query yields (none, when they change nothing
    /// a client sees). Cancel-safe: a read abandoned midway loses no row.
    pub(super) async fn next_changes(&mut self) -> Result<Vec<Change>, Failure> {
        let step = self
            .query
            .next_rows(&mut self.batch, ROWS_PER_READ_MAX)
            .await
            .map_err(|e| engine_failure(&e))?;
        let mut changes = Vec::new();
        for (tombstone, cells) in json_rows(&self.batch) {
            if let Some(c) = self.table.apply(self.layout.event(tombstone, &cells))? {
                changes.push(c);
            }
        }
        self.batch.clear();
        match step {
            Some(_) => Err(ended()),
            None => Ok(changes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, body: &str, seq: i64) -> Event {
        let mut r = Row::new();
        r.insert("ID".into(), Json::from(id));
        r.insert("BODY".into(), Json::from(body));
        r.insert(SEQ_COLUMN.into(), Json::from(seq));
        Event::Row {
            key: format!("[\"{id}\"]"),
            partition: 0,
            offset: u64::try_from(seq >> SEQ_PARTITION_BITS).expect("positive") - 1,
            seq,
            rowtime: seq,
            matched: true,
            row: r,
        }
    }

    fn kind(change: &Option<Change>) -> Option<ChangeType> {
        change.as_ref().map(|c| c.kind)
    }

    #[test]
    fn a_table_turns_rows_into_inserts_updates_and_deletes_with_old_values() {
        let mut t = LiveTable::new(true, 1);
        let (s0, s1, s2) = (seq_of(0, 0), seq_of(0, 1), seq_of(0, 2));
        let c = t.apply(row("a", "x", s0)).ok().flatten();
        assert_eq!(kind(&c), Some(ChangeType::Insert));
        // A repeat of a row already applied (same or older seq) changes nothing.
        assert!(t.apply(row("a", "x", s0)).ok().flatten().is_none());
        let c = t.apply(row("a", "y", s1)).ok().flatten().expect("update");
        assert_eq!(c.kind, ChangeType::Update);
        let old = c.old.expect("old values");
        assert_eq!(
            (&old["BODY"], &old[SEQ_COLUMN]),
            (&Json::from("x"), &Json::from(s1))
        );
        // The tombstone right after offset 1 is offset 2: the delete's `_seq`.
        let c = t
            .apply(Event::Tombstone {
                key: "[\"a\"]".into(),
            })
            .ok()
            .flatten()
            .expect("delete");
        assert_eq!(c.kind, ChangeType::Delete);
        let old = c.old.expect("old values");
        assert_eq!(
            (&old["BODY"], &old[SEQ_COLUMN]),
            (&Json::from("y"), &Json::from(s2))
        );
        assert!(c.row.is_none());
        // A tombstone for a key never seen says nothing.
        let none = t.apply(Event::Tombstone {
            key: "[\"b\"]".into(),
        });
        assert!(none.ok().flatten().is_none());
        assert!(t.snapshot(None).is_empty());
    }

    #[test]
    fn a_row_leaving_the_filter_is_a_delete_and_a_stream_only_inserts() {
        let mut t = LiveTable::new(true, 1);
        t.fold(row("a", "x", seq_of(0, 0))).expect("folded");
        let Event::Row { key, row: r, .. } = row("a", "done", seq_of(0, 1)) else {
            unreachable!("row() makes rows")
        };
        let left = Event::Row {
            key,
            partition: 0,
            offset: 1,
            seq: seq_of(0, 1),
            rowtime: 0,
            matched: false,
            row: r,
        };
        let c = t.apply(left).ok().flatten().expect("delete");
        assert_eq!(c.kind, ChangeType::Delete);
        assert_eq!(c.old.expect("old")["BODY"], Json::from("x"));

        let mut s = LiveTable::new(false, 1);
        for i in 0..3 {
            assert!(s.fold(row("k", "same key", seq_of(0, i))).is_ok(), "folded");
        }
        assert_eq!(
            s.snapshot(None).len(),
            3,
            "a stream keeps every row, keys repeat"
        );
        // Rows stamped before a TTL's bound are not in a snapshot (`row` stamps the seq).
        let kept: Vec<i64> = s
            .snapshot(Some(seq_of(0, 1)))
            .iter()
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(kept, [seq_of(0, 1), seq_of(0, 2)]);
        let c = s.apply(row("k", "again", seq_of(0, 3))).ok().flatten();
        assert_eq!(kind(&c), Some(ChangeType::Insert));
    }
}
