//! Tables read from their topic (a SOURCE table, a table no query here materializes — the
//! faces whose tables are always readable ask for those — or a CTAS whose state lives on
//! another node): each kept in memory as the latest row of every key, and brought up to
//! the topic's end by each pull query that reads it.
//!
//! ```text
//!  pull query over table T at topic end offsets E
//!    ─► T's view (created on first use: positions 0)
//!    ─► catch up: records from the view's positions to E, per partition
//!         key canonical (decoded, encoded again), tombstone = key removed
//!    ─► key lookup (keys of plain, exactly comparable types): each key's row, from every
//!       partition; otherwise every row, in key-byte order per partition (the WHERE sorts)
//!    ─► MaterializedCursors ─► the pull pipeline (decode, WHERE, SELECT, LIMIT)
//! ```
//!
//! Why: rebuilt from the whole topic for every query, as before, a `SELECT … WHERE id = 1`
//! on a 100k-row KalamDB table read 100k records, and its UPDATE and DELETE read them
//! again — each statement cost the table's history. ksqlDB materializes a SOURCE table in a
//! state store for the same reason. A view answers what the rebuild answered (every record
//! up to the offsets the query started at) for the cost of the records written since the
//! last query.
//!
//! Why keys are made canonical: a table's key is its decoded value, not its bytes (JSON
//! keys `1` and `1.0`, or with spaces, written by other producers, are one key), and a key
//! lookup then finds a row by the bytes the planner encodes.
//!
//! Memory: views are bounded together ([`TABLE_VIEWS_BYTES_MAX`]) and in number
//! ([`TABLE_VIEWS_MAX`]); the least recently read go first, and come back from the topic
//! when read again. Nothing here is durable: after a restart a view is rebuilt on first use.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::format::key::{decode_key, encode_key};
use crate::format::KeyFormat;
use crate::log::{read_to, Offset, PartitionId, StartPosition, StoredRecord, TopicLog};
use crate::types::{Column, SqlType, Value};

use super::materialized::MaterializedCursor;

/// Bytes all views may hold together: keys, values and [`ROW_OVERHEAD_BYTES`] per row. A
/// view that would pass it evicts the least recently read others; a table that alone
/// passes it is refused for pull queries (with the message of [`too_large`]).
pub const TABLE_VIEWS_BYTES_MAX: usize = 512 << 20;

/// Views kept at once; the least recently read is dropped for a new one.
pub const TABLE_VIEWS_MAX: usize = 64;

/// Records read per call while catching a view up: large enough to amortise the call, small
/// enough that the batch held at once stays a few MiB.
const CATCH_UP_READ_RECORDS_MAX: usize = 4096;

/// What a row costs beyond its key and value bytes: the B-tree slot, two `Bytes` handles,
/// the timestamp. Only for the budget; it need not be exact.
const ROW_OVERHEAD_BYTES: usize = 96;

/// The latest row of each key of every table read from its topic.
pub(crate) struct TableViews {
    views: Mutex<HashMap<String, Slot>>,
    /// [`TABLE_VIEWS_BYTES_MAX`], smaller in tests.
    bytes_max: usize,
    /// Bytes held by every view alive, in the map or not (a dropped view still read by a
    /// query holds its rows until that query lets go).
    held: Arc<AtomicUsize>,
    /// Orders reads, for eviction.
    clock: AtomicU64,
}

struct Slot {
    view: Arc<tokio::sync::Mutex<TableView>>,
    last_read: u64,
}

/// One table's rows as of its positions in the topic.
struct TableView {
    /// The topic the rows came from: a view of a topic that was deleted (and maybe created
    /// again under the name) is built anew. Weak: a view must not keep a deleted topic's
    /// files open.
    topic: Weak<dyn TopicLog>,
    /// The key as the rows were read: a table dropped and created again over the same topic
    /// with another key is read anew.
    key_format: KeyFormat,
    key_columns: Vec<Column>,
    windowed: bool,
    partitions: Vec<PartitionRows>,
    /// This view's share of `TableViews::held`.
    bytes: usize,
    held: Arc<AtomicUsize>,
}

struct PartitionRows {
    /// The next offset to read.
    position: Offset,
    /// Canonical key → (timestamp, value).
    rows: BTreeMap<Bytes, (i64, Bytes)>,
}

impl Default for PartitionRows {
    fn default() -> Self {
        PartitionRows {
            position: Offset(0),
            rows: BTreeMap::new(),
        }
    }
}

/// A pull query's rows from a view.
pub(crate) struct ViewRows {
    pub cursors: Vec<MaterializedCursor>,
    /// Whether the rows are exactly the looked-up keys' (a plan kept without its filter may
    /// run over them as it would over a store lookup); `false`: every row of the table.
    pub exact_lookup: bool,
}

impl Default for TableViews {
    fn default() -> Self {
        TableViews::with_budget(TABLE_VIEWS_BYTES_MAX)
    }
}

impl TableViews {
    fn with_budget(bytes_max: usize) -> TableViews {
        TableViews {
            views: Mutex::default(),
            bytes_max,
            held: Arc::default(),
            clock: AtomicU64::new(0),
        }
    }

    /// `source`'s rows up to `topic`'s end now: those of `lookup`'s key tuples when given and
    /// the table is not windowed, else all of them.
    pub(crate) async fn rows(
        &self,
        source: &Source,
        topic: &Arc<dyn TopicLog>,
        lookup: Option<&[Vec<Value>]>,
    ) -> Result<ViewRows> {
        let view = self.view(source, topic);
        let mut guard = view.lock().await;
        if !guard.reads(source, topic) {
            *guard = TableView::new(source, topic, Arc::clone(&self.held));
        }
        if let Err(e) = self.catch_up(&mut guard, source, topic).await {
            // Whatever was read is dropped with the view; the next query starts over.
            guard.clear();
            drop(guard);
            self.forget(&source.name, &view);
            return Err(e);
        }
        let rows = match lookup {
            Some(keys) if guard.exact_keys() => ViewRows {
                cursors: guard.lookup(keys)?,
                exact_lookup: true,
            },
            _ => ViewRows {
                cursors: guard.all(),
                exact_lookup: false,
            },
        };
        Ok(rows)
    }

    /// Bytes held by views now (`sluice_table_views_bytes`).
    pub(crate) fn held_bytes(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// The view of `source` (a new, empty one the first time), marked as just read.
    fn view(&self, source: &Source, topic: &Arc<dyn TopicLog>) -> Arc<tokio::sync::Mutex<TableView>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = views.get_mut(&source.name) {
            slot.last_read = now;
            return Arc::clone(&slot.view);
        }
        if views.len() >= TABLE_VIEWS_MAX {
            if let Some(oldest) = oldest(&views, &source.name) {
                views.remove(&oldest);
            }
        }
        let view = Arc::new(tokio::sync::Mutex::new(TableView::new(
            source,
            topic,
            Arc::clone(&self.held),
        )));
        views.insert(
            source.name.clone(),
            Slot {
                view: Arc::clone(&view),
                last_read: now,
            },
        );
        view
    }

    /// Drops `view` from the map if it is still `name`'s.
    fn forget(&self, name: &str, view: &Arc<tokio::sync::Mutex<TableView>>) {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if views.get(name).is_some_and(|s| Arc::ptr_eq(&s.view, view)) {
            views.remove(name);
        }
    }

    /// Drops the least recently read views other than `keep` until the views fit the
    /// budget; whether they do. A dropped view a query still reads frees its bytes when that
    /// query lets go.
    fn make_room(&self, keep: &str) -> bool {
        let fits = |held: &AtomicUsize| held.load(Ordering::Relaxed) <= self.bytes_max;
        if fits(&self.held) {
            return true;
        }
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        while !fits(&self.held) {
            let Some(oldest) = oldest(&views, keep) else {
                break;
            };
            let slot = views.remove(&oldest);
            // Free the rows now when no query reads them; else when the last one lets go.
            if let Some(mut view) = slot.and_then(|s| s.view.try_lock_owned().ok()) {
                view.clear();
            }
        }
        fits(&self.held)
    }

    /// Reads `topic` from the view's positions to the ends it has now.
    async fn catch_up(
        &self,
        view: &mut TableView,
        source: &Source,
        topic: &Arc<dyn TopicLog>,
    ) -> Result<()> {
        // The ends the log holds now: on Kafka the topic may be written by another node
        // (a CTAS running there), which this node's background reader may not have seen
        // yet; a query must answer what was committed before it started (one watermark
        // read per partition; nothing on the embedded log).
        topic.refresh_ends()?;
        let mut records = Vec::new();
        let mut key_values = Vec::new();
        for p in 0..topic.partition_count() {
            let partition = PartitionId(p);
            let end = topic.end_offset(partition);
            let start = view.partitions[p as usize].position;
            if start >= end {
                continue;
            }
            let mut cursor = topic.cursor(partition, StartPosition::At(start))?;
            loop {
                records.clear();
                // Waits for records a Kafka fetch has in flight; gives up (with the rows read
                // so far) only if the end is not reached within the bounded wait.
                let reached = read_to(
                    topic.as_ref(),
                    cursor.as_mut(),
                    end,
                    &mut records,
                    CATCH_UP_READ_RECORDS_MAX,
                )
                .await?;
                let read = records.len();
                let grown = view.apply(p as usize, &mut records, &mut key_values);
                view.partitions[p as usize].position = cursor.position();
                if grown > 0 && !self.make_room(&source.name) {
                    return Err(too_large(&source.name, self.bytes_max));
                }
                // Not reached with room left: the wait ran out (or the topic went); stop here.
                if reached || read < CATCH_UP_READ_RECORDS_MAX {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The least recently read view's name, other than `keep`.
fn oldest(views: &HashMap<String, Slot>, keep: &str) -> Option<String> {
    views
        .iter()
        .filter(|(name, _)| name.as_str() != keep)
        .min_by_key(|(_, slot)| slot.last_read)
        .map(|(name, _)| name.clone())
}

/// The error of a table whose rows alone pass the budget ([`TABLE_VIEWS_BYTES_MAX`]).
fn too_large(table: &str, bytes_max: usize) -> EngineError {
    EngineError::statement(format!(
        "The rows of table {table} take more than the {} MiB kept for tables read from their topic; pull queries over it are refused. Materialize it with 'CREATE TABLE QUERYABLE_{table} AS SELECT * FROM {table}'.",
        bytes_max >> 20
    ))
}

impl TableView {
    fn new(source: &Source, topic: &Arc<dyn TopicLog>, held: Arc<AtomicUsize>) -> TableView {
        TableView {
            topic: Arc::downgrade(topic),
            key_format: source.key_format,
            key_columns: source.schema.keys().cloned().collect(),
            windowed: source.window.is_some(),
            partitions: (0..topic.partition_count())
                .map(|_| PartitionRows::default())
                .collect(),
            bytes: 0,
            held,
        }
    }

    /// Whether these rows are `source`'s as read from `topic` (the same topic, not deleted,
    /// with as many partitions, and the same key).
    fn reads(&self, source: &Source, topic: &Arc<dyn TopicLog>) -> bool {
        let same_topic = self
            .topic
            .upgrade()
            .is_some_and(|t| std::ptr::addr_eq(Arc::as_ptr(&t), Arc::as_ptr(topic)));
        same_topic
            && !topic.is_deleted()
            && self.partitions.len() == topic.partition_count() as usize
            && self.key_format == source.key_format
            && self.windowed == source.window.is_some()
            && self.key_columns.iter().eq(source.schema.keys())
    }

    /// Applies `records` (of partition `p`) in order; returns the bytes the view grew by.
    fn apply(&mut self, p: usize, records: &mut Vec<StoredRecord>, scratch: &mut Vec<Value>) -> usize {
        let before = self.bytes;
        for r in records.drain(..) {
            // A record without a key is no table row (ksqlDB drops it).
            let Some(key) = r.record.key else { continue };
            let key = self.canonical_key(key, scratch);
            let key_len = key.len();
            let old = match r.record.value {
                Some(value) => {
                    self.add_bytes(row_bytes(key_len, value.len()));
                    self.partitions[p]
                        .rows
                        .insert(key, (r.record.timestamp_ms, value))
                }
                None => self.partitions[p].rows.remove(&key),
            };
            if let Some((_, old)) = old {
                self.sub_bytes(row_bytes(key_len, old.len()));
            }
        }
        self.bytes.saturating_sub(before)
    }

    /// The key's canonical bytes: decoded and encoded again, so that every spelling of one
    /// key is one row and a lookup finds it by the planner's encoding. KAFKA keys are
    /// canonical as they are; a key that does not decode stays as it came (the query's
    /// decode then reports it, as it would have).
    fn canonical_key(&self, key: Bytes, scratch: &mut Vec<Value>) -> Bytes {
        if self.windowed || self.key_format == KeyFormat::Kafka {
            return key;
        }
        scratch.clear();
        if decode_key(self.key_format, &self.key_columns, Some(&key), scratch).is_err() {
            return key;
        }
        match encode_key(self.key_format, &self.key_columns, scratch) {
            Ok(Some(canonical)) => canonical,
            _ => key,
        }
    }

    /// Whether equal keys always have equal canonical bytes, so a lookup by bytes finds
    /// what the WHERE would: not for windowed keys (a key is many windows), nor for a DOUBLE
    /// (`-0.0 = 0.0`) or a collection in the key.
    fn exact_keys(&self) -> bool {
        !self.windowed
            && self.key_columns.iter().all(|c| {
                !matches!(
                    c.ty,
                    SqlType::Double | SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
                )
            })
    }

    fn add_bytes(&mut self, n: usize) {
        self.bytes += n;
        self.held.fetch_add(n, Ordering::Relaxed);
    }

    fn sub_bytes(&mut self, n: usize) {
        let n = n.min(self.bytes);
        self.bytes -= n;
        self.held.fetch_sub(n, Ordering::Relaxed);
    }

    /// Drops every row and position (the view then reads its topic from the start).
    fn clear(&mut self) {
        for p in &mut self.partitions {
            *p = PartitionRows::default();
        }
        let bytes = self.bytes;
        self.sub_bytes(bytes);
    }

    /// Every row, per partition in key-byte order.
    fn all(&self) -> Vec<MaterializedCursor> {
        self.partitions
            .iter()
            .enumerate()
            .map(|(p, rows)| {
                let rows = rows
                    .rows
                    .iter()
                    .map(|(k, (ts, v))| (k.clone(), *ts, v.clone()))
                    .collect();
                MaterializedCursor::from_rows(PartitionId(p as u32), rows)
            })
            .collect()
    }

    /// The rows of `keys`, each found in whichever partitions hold it (a producer other than
    /// Sluice may partition keys its own way).
    fn lookup(&self, keys: &[Vec<Value>]) -> Result<Vec<MaterializedCursor>> {
        let mut found: Vec<Vec<(Bytes, i64, Bytes)>> = vec![Vec::new(); self.partitions.len()];
        let mut seen = HashSet::new();
        for tuple in keys {
            let Some(key) = encode_key(self.key_format, &self.key_columns, tuple)? else {
                continue;
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            for (p, rows) in self.partitions.iter().enumerate() {
                if let Some((stored, (ts, value))) = rows.rows.get_key_value(&key) {
                    found[p].push((stored.clone(), *ts, value.clone()));
                }
            }
        }
        Ok(found
            .into_iter()
            .enumerate()
            .map(|(p, rows)| MaterializedCursor::from_rows(PartitionId(p as u32), rows))
            .collect())
    }
}

impl Drop for TableView {
    fn drop(&mut self) {
        self.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// What a row costs the budget.
fn row_bytes(key_len: usize, value_len: usize) -> usize {
    key_len + value_len + ROW_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EmbeddedLog, LogConfig, LogStore, PartitionCursor, Record};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn source(ddl: &str, name: &str) -> Source {
        let catalog = crate::plan::test_catalog(ddl);
        catalog.source(name).expect("the source").as_ref().clone()
    }

    fn record(key: &str, value: Option<&str>) -> Record {
        Record {
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            timestamp_ms: 1,
            headers: Vec::new(),
        }
    }

    async fn append(topic: &dyn TopicLog, partition: u32, records: Vec<Record>) {
        let ticket = topic.append(PartitionId(partition), records).await.expect("queued");
        ticket.await.expect("ticket").expect("appended");
    }

    /// Every (partition, key, value) the cursors serve, as text.
    fn served(cursors: Vec<MaterializedCursor>) -> Vec<(u32, String, String)> {
        let mut out = Vec::new();
        for mut cursor in cursors {
            let mut records = Vec::new();
            cursor.read(&mut records, usize::MAX).expect("read");
            for r in records {
                let text = |b: Option<Bytes>| String::from_utf8(b.expect("set").to_vec()).expect("utf8");
                out.push((r.partition.0, text(r.record.key), text(r.record.value)));
            }
        }
        out
    }

    fn row(p: u32, k: &str, v: &str) -> (u32, String, String) {
        (p, k.to_string(), v.to_string())
    }

    const DDL: &str = "CREATE SOURCE TABLE t (id STRING PRIMARY KEY, v INT) \
        WITH (kafka_topic='t', value_format='JSON', partitions=2);";

    /// Table `T` over a new topic `t` of two partitions in a new log, and no views yet (the
    /// directory and log are returned to keep them alive).
    fn table_t() -> (
        tempfile::TempDir,
        Arc<EmbeddedLog>,
        Arc<dyn TopicLog>,
        Source,
        TableViews,
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let log = EmbeddedLog::open(dir.path(), LogConfig::default()).expect("log");
        let topic = log.create_topic("t", 2).expect("topic");
        (dir, log, topic, source(DDL, "T"), TableViews::default())
    }

    #[test]
    fn a_view_serves_the_latest_row_per_key_and_catches_up_with_later_records() {
        let (_dir, _log, topic, table, views) = table_t();
        runtime().block_on(async {
            append(topic.as_ref(), 0, vec![record("a", Some("{\"V\":1}")), record("b", Some("{\"V\":2}"))]).await;
            append(topic.as_ref(), 1, vec![record("c", Some("{\"V\":3}"))]).await;
            let all = views.rows(&table, &topic, None).await.expect("rows");
            assert!(!all.exact_lookup);
            assert_eq!(
                served(all.cursors),
                [row(0, "a", "{\"V\":1}"), row(0, "b", "{\"V\":2}"), row(1, "c", "{\"V\":3}")]
            );
            // Later records: an update, a delete, a keyless record (no row), a new key.
            append(
                topic.as_ref(),
                0,
                vec![record("a", Some("{\"V\":10}")), record("b", None)],
            )
            .await;
            let keyless = Record { key: None, ..record("x", Some("{\"V\":9}")) };
            append(topic.as_ref(), 1, vec![keyless, record("d", Some("{\"V\":4}"))]).await;
            let all = views.rows(&table, &topic, None).await.expect("rows");
            assert_eq!(
                served(all.cursors),
                [row(0, "a", "{\"V\":10}"), row(1, "c", "{\"V\":3}"), row(1, "d", "{\"V\":4}")]
            );
            // A lookup finds exactly its keys, whichever partition holds them.
            let keys = [vec![Value::String("d".into())], vec![Value::String("a".into())], vec![Value::String("b".into())]];
            let found = views.rows(&table, &topic, Some(&keys)).await.expect("rows");
            assert!(found.exact_lookup);
            assert_eq!(served(found.cursors), [row(0, "a", "{\"V\":10}"), row(1, "d", "{\"V\":4}")]);
        });
        // Three rows held, each counted once.
        let expected: usize = [("a", "{\"V\":10}"), ("c", "{\"V\":3}"), ("d", "{\"V\":4}")]
            .iter()
            .map(|(k, v)| row_bytes(k.len(), v.len()))
            .sum();
        assert_eq!(views.held_bytes(), expected);
    }

    #[test]
    fn a_view_reads_a_partition_longer_than_one_read() {
        let (_dir, _log, topic, table, views) = table_t();
        let keys = 2 * CATCH_UP_READ_RECORDS_MAX + 5;
        runtime().block_on(async {
            let records = (0..keys)
                .map(|i| record(&format!("k{i:06}"), Some("{\"V\":1}")))
                .collect();
            append(topic.as_ref(), 1, records).await;
            let all = views.rows(&table, &topic, None).await.expect("rows");
            assert_eq!(served(all.cursors).len(), keys);
            let last = [vec![Value::String(format!("k{:06}", keys - 1))]];
            let found = views.rows(&table, &topic, Some(&last)).await.expect("rows");
            assert_eq!(served(found.cursors).len(), 1);
        });
    }

    #[test]
    fn json_keys_of_one_value_are_one_row_and_found_by_the_planners_encoding() {
        let dir = tempfile::tempdir().expect("dir");
        let log = EmbeddedLog::open(dir.path(), LogConfig::default()).expect("log");
        let topic = log.create_topic("j", 1).expect("topic");
        let table = source(
            "CREATE SOURCE TABLE j (id BIGINT PRIMARY KEY, v INT) \
             WITH (kafka_topic='j', key_format='JSON', value_format='JSON', partitions=1);",
            "J",
        );
        let views = TableViews::default();
        runtime().block_on(async {
            // Two spellings of key 7 from other producers: the second replaces the first.
            append(topic.as_ref(), 0, vec![record(" 7 ", Some("{\"V\":1}")), record("7", Some("{\"V\":2}"))]).await;
            let found = views
                .rows(&table, &topic, Some(&[vec![Value::BigInt(7)]]))
                .await
                .expect("rows");
            assert_eq!(served(found.cursors), [row(0, "7", "{\"V\":2}")]);
        });
    }

    #[test]
    fn a_view_is_read_anew_when_its_topic_is_deleted_and_created_again() {
        let dir = tempfile::tempdir().expect("dir");
        let log = EmbeddedLog::open(dir.path(), LogConfig::default()).expect("log");
        let table = source(DDL, "T");
        let views = TableViews::default();
        runtime().block_on(async {
            let topic = log.create_topic("t", 2).expect("topic");
            append(topic.as_ref(), 0, vec![record("a", Some("{\"V\":1}"))]).await;
            let all = views.rows(&table, &topic, None).await.expect("rows");
            assert_eq!(served(all.cursors).len(), 1);
            log.delete_topic("t").expect("deleted");
            drop(topic);
            let topic = log.create_topic("t", 2).expect("topic again");
            append(topic.as_ref(), 1, vec![record("z", Some("{\"V\":26}"))]).await;
            let all = views.rows(&table, &topic, None).await.expect("rows");
            assert_eq!(served(all.cursors), [row(1, "z", "{\"V\":26}")]);
        });
    }

    #[test]
    fn views_past_the_budget_evict_the_least_recently_read() {
        let dir = tempfile::tempdir().expect("dir");
        let log = EmbeddedLog::open(dir.path(), LogConfig::default()).expect("log");
        const BUDGET: usize = 3 << 20;
        let views = TableViews::with_budget(BUDGET);
        // Values of a third of the budget each: the third table evicts the first.
        let value = format!("{{\"V\":\"{}\"}}", "x".repeat(BUDGET / 3));
        runtime().block_on(async {
            for name in ["a", "b", "c"] {
                let ddl = format!(
                    "CREATE SOURCE TABLE {name} (id STRING PRIMARY KEY, v STRING) \
                     WITH (kafka_topic='{name}', value_format='JSON', partitions=1);"
                );
                let table = source(&ddl, &name.to_ascii_uppercase());
                let topic = log.create_topic(name, 1).expect("topic");
                append(topic.as_ref(), 0, vec![record("k", Some(&value))]).await;
                views.rows(&table, &topic, None).await.expect("rows");
                assert!(views.held_bytes() <= BUDGET);
            }
            // A table larger than the whole budget is refused, and holds nothing after.
            let ddl = "CREATE SOURCE TABLE big (id STRING PRIMARY KEY, v STRING) \
                       WITH (kafka_topic='big', value_format='JSON', partitions=1);";
            let table = source(ddl, "BIG");
            let topic = log.create_topic("big", 1).expect("topic");
            for k in ["k1", "k2", "k3", "k4"] {
                append(topic.as_ref(), 0, vec![record(k, Some(&value))]).await;
            }
            let refused = views.rows(&table, &topic, None).await.err().expect("refused");
            assert!(refused.message().contains("take more than the 3 MiB"), "{}", refused.message());
            assert!(views.held_bytes() <= BUDGET);
        });
        let held = views.views.lock().expect("lock");
        let mut names: Vec<&String> = held.keys().collect();
        names.sort();
        assert!(!names.iter().any(|n| n.as_str() == "BIG" || n.as_str() == "A"), "{names:?}");
    }
}
