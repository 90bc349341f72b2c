//! Running a planned query: tail every partition of the source's topic, decode each
//! record into a row, filter, project, and hand result rows to the caller in batches.
//!
//! ```text
//!  cursor[p] ─► records ─► row_decoder (key + value bytes ─► values) ─► WHERE
//!            ─► table functions (0..n rows) ─► SELECT ─► out
//!
//! Without table functions, columns only copied to the results keep their stored JSON
//! text (spans) instead of being decoded to values and rendered again.
//!
//! Identical push queries (same source and columns, no WHERE/LIMIT/expressions) share each
//! read's result rows through `shared_batches`: one reads and decodes, the others copy.
//! Other push queries on one source share each read's decoded records through
//! `shared_decode`: one reads and decodes, each runs its own operators over the rows.
//! ```
//!
//! Nothing here buffers without bound: the caller asks for at most `max_rows` at a time and
//! the log is only read as fast as the caller (paced by HTTP/2 flow control) consumes.
//!
//! A waiting query holds no read buffers: a node may carry 10,000 mostly idle push queries
//! (issue 3: ≤ 16 KiB each), so the record batch and the cursors' read chunks, which a burst
//! grows to hundreds of KiB, are freed each time the query catches up and waits.

use std::sync::Arc;

use tokio::sync::watch;

use crate::catalog::{QueryRegistry, RunningQuery};
use crate::error::{EngineError, Result};
use crate::exec::operator::Flow;
use crate::exec::pipeline::Pipeline;
use crate::exec::result_rows::ResultRows;
use crate::exec::result_sink::ResultSink;
use crate::log::{LogStore, Offset, PartitionCursor, PartitionId, StoredRecord, TopicLog};
use crate::plan::physical;
use crate::plan::transient::{QueryKind, QueryPlan};
use crate::query::materialized::MaterializedCursor;
use crate::query::shared_batches::{BatchRing, SharedBatch, SharedBatches};
use crate::query::shared_decode::{Claim, DecodeMember, DecodeRing, DecodedBatch, Lookup};
use crate::exec::scan::Scan;

/// Records read from one partition per turn, so one busy partition cannot starve others.
pub const READ_BATCH_RECORDS_MAX: usize = 512;

/// Why a query's results ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// LIMIT rows were produced.
    LimitReached,
    /// A pull query read everything, or the query was closed or its topic deleted.
    Completed,
}

/// What a query's decode group has for its next offset.
enum FromGroup {
    /// Rows taken from a batch another member decoded; `Some` when LIMIT ended the query.
    Taken(Option<EndReason>),
    /// Another member is decoding them now.
    Claimed,
    /// Nobody has: read and decode them (holding the group's claim, if in a group).
    Decode(Option<Claim>),
}

/// What one partition's turn in `poll_rows` came to.
enum Polled {
    Ended(EndReason),
    /// `max_rows` are out; the caller takes them before more are read.
    OutputFull,
    /// It read what there was (up to its budget).
    Read,
}

pub struct QueryStream {
    plan: Arc<QueryPlan>,
    topic: Arc<dyn TopicLog>,
    /// A join's other source topics (the first is `topic`).
    other_topics: Vec<Arc<dyn TopicLog>>,
    cursors: Vec<Box<dyn PartitionCursor>>,
    /// Per cursor, the source it reads (0 unless the query joins several).
    cursor_sources: Vec<usize>,
    /// Pull queries stop at the end offsets seen when they started.
    stop_at: Option<Vec<Offset>>,
    cancel: watch::Receiver<bool>,
    registration: Option<(Arc<QueryRegistry>, Arc<RunningQuery>)>,
    pipeline: Pipeline<ResultSink>,
    /// The records of one read (at most `READ_BATCH_RECORDS_MAX`); empty between reads, and
    /// without capacity while the query waits.
    records: Vec<StoredRecord>,
    next_cursor: usize,
    /// The batches this query shares with identical ones (`None`: it computes its own).
    shared: Option<Arc<BatchRing>>,
    /// The decoded records this push query shares with the others on its source (`None`:
    /// pull queries and joins decode for themselves).
    decodes: Option<DecodeMember>,
    /// The `E = literal` of this query's WHERE, when shared batches can be bucketed by it.
    probe: Option<crate::expr::EqualityProbe>,
    /// A scan that decodes the columns its group's members read, with their generation
    /// (`shared_decode`), made when this query first decodes a batch for its group and
    /// again when a member that reads more joined.
    group_scan: Option<(Scan, u64)>,
    /// A poll stopped before the end of what was committed (a read filled its budget, or
    /// the output filled up): poll again rather than wait for an append.
    more: bool,
    /// The oldest timestamp of the records read by the last `next_rows` (its own reads,
    /// not rows copied from a shared batch), for end-to-end latency metrics.
    oldest_record_ms: Option<i64>,
    /// Records this query has run through its pipeline, and their key and value bytes.
    scanned: (u64, u64),
}

impl QueryStream {
    /// Starts a planned query. Push queries are registered (SHOW QUERIES, /close-query,
    /// TERMINATE) until the stream is dropped.
    pub fn start(
        log: &dyn LogStore,
        registry: &Arc<QueryRegistry>,
        shared_batches: &SharedBatches,
        plan: QueryPlan,
    ) -> Result<QueryStream> {
        let plan = Arc::new(plan);
        let topic = log.topic(&plan.source.topic).ok_or_else(|| {
            EngineError::not_found(format!("Topic '{}' does not exist", plan.source.topic))
        })?;
        let mut cursors: Vec<Box<dyn PartitionCursor>> =
            Vec::with_capacity(topic.partition_count() as usize);
        for p in 0..topic.partition_count() {
            cursors.push(topic.cursor(PartitionId(p), plan.start)?);
        }
        let stop_at = (plan.kind == QueryKind::Pull).then(|| {
            (0..topic.partition_count())
                .map(|p| topic.end_offset(PartitionId(p)))
                .collect()
        });
        let mut cursor_sources = vec![0; cursors.len()];
        let mut other_topics = Vec::new();
        // A join (push queries only) reads every source's partitions.
        if let Some((leaves, _)) = plan.logical.join() {
            for (n, leaf) in leaves.iter().enumerate().skip(1) {
                let other = log.topic(&leaf.source.topic).ok_or_else(|| {
                    EngineError::not_found(format!(
                        "Topic '{}' does not exist",
                        leaf.source.topic
                    ))
                })?;
                for p in 0..other.partition_count() {
                    cursors.push(other.cursor(PartitionId(p), plan.start)?);
                    cursor_sources.push(n);
                }
                other_topics.push(other);
            }
        }
        let mut stream = Self::start_over(registry, shared_batches, plan, topic, cursors, stop_at)?;
        stream.cursor_sources = cursor_sources;
        if !other_topics.is_empty() {
            // A join's reads are merged across sources (`poll_join_rows`), not shared.
            stream.shared = None;
            stream.decodes = None;
        }
        stream.other_topics = other_topics;
        Ok(stream)
    }

    /// Starts a pull query over a table's current rows (`materialized`), not its topic.
    pub(crate) fn start_materialized(
        log: &dyn LogStore,
        registry: &Arc<QueryRegistry>,
        shared_batches: &SharedBatches,
        plan: QueryPlan,
        rows: Vec<MaterializedCursor>,
    ) -> Result<QueryStream> {
        let plan = Arc::new(plan);
        let topic = log.topic(&plan.source.topic).ok_or_else(|| {
            EngineError::not_found(format!("Topic '{}' does not exist", plan.source.topic))
        })?;
        let stop_at = Some(rows.iter().map(MaterializedCursor::end).collect());
        let cursors = rows
            .into_iter()
            .map(|c| Box::new(c) as Box<dyn PartitionCursor>)
            .collect();
        Self::start_over(registry, shared_batches, plan, topic, cursors, stop_at)
    }

    fn start_over(
        registry: &Arc<QueryRegistry>,
        shared_batches: &SharedBatches,
        plan: Arc<QueryPlan>,
        topic: Arc<dyn TopicLog>,
        cursors: Vec<Box<dyn PartitionCursor>>,
        stop_at: Option<Vec<Offset>>,
    ) -> Result<QueryStream> {
        let (running, cancel) =
            RunningQuery::new(plan.id.clone(), plan.sql.clone(), plan.source.name.clone());
        let registration = (plan.kind == QueryKind::Push).then(|| {
            registry.register(Arc::clone(&running));
            (Arc::clone(registry), running)
        });
        let query_id: Arc<str> = Arc::from(plan.id.as_str());
        let pipeline =
            physical::result_pipeline(&plan.logical, &query_id, plan.pull_groups.is_some())?;
        let decodes = (plan.kind == QueryKind::Push && plan.logical.join().is_none()).then(|| {
            let start: Vec<_> = cursors.iter().map(|c| (c.partition(), c.position())).collect();
            shared_batches
                .decodes()
                .join(
                    &plan.source,
                    pipeline.scan().tombstones(),
                    &start,
                    &plan.logical.scan().decode,
                )
        });
        // Only a member of a decode group reads by probe; a pull query never builds one.
        let probe = decodes.as_ref().and_then(|_| pipeline.equality_probe());
        Ok(QueryStream {
            shared: shared_batches.join(&plan),
            decodes,
            probe,
            group_scan: None,
            more: false,
            pipeline,
            plan,
            topic,
            other_topics: Vec::new(),
            cursor_sources: Vec::new(),
            cursors,
            stop_at,
            cancel,
            registration,
            records: Vec::new(),
            next_cursor: 0,
            oldest_record_ms: None,
            scanned: (0, 0),
        })
    }

    pub fn plan(&self) -> &QueryPlan {
        &self.plan
    }

    /// Ends the query's input: the rows its operators owe only at the end (a global
    /// aggregate over no rows) go to `out`. For pull queries over aggregates.
    pub(crate) fn finish(&mut self, out: &mut ResultRows) -> Result<()> {
        self.pipeline.finish(out);
        match self.pipeline.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Records read through the pipeline so far, and their key and value bytes (what a
    /// database reports as rows and bytes read).
    pub fn scanned(&self) -> (u64, u64) {
        self.scanned
    }

    /// The oldest record timestamp (ms since the epoch) among the records the last
    /// `next_rows` read itself; `None` if it read none.
    pub fn oldest_record_ms(&self) -> Option<i64> {
        self.oldest_record_ms
    }

    /// Waits for result rows and appends up to `max_rows` of them to `out`. Returns
    /// `Some(reason)` when the query has ended (rows may still have been added).
    pub async fn next_rows(
        &mut self,
        out: &mut ResultRows,
        max_rows: usize,
    ) -> Result<Option<EndReason>> {
        self.oldest_record_ms = None;
        // `LIMIT 0` ends before the first row (the per-row check only runs after a row).
        if self.pipeline.exhausted() {
            return Ok(Some(EndReason::LimitReached));
        }
        let readies: Vec<Arc<tokio::sync::Notify>> = std::iter::once(&self.topic)
            .chain(&self.other_topics)
            .map(|t| t.data_ready())
            .collect();
        loop {
            if *self.cancel.borrow() {
                return Ok(Some(EndReason::Completed));
            }
            // Register interest before reading so an append landing between our read and
            // our wait still wakes us (no lost wake-up).
            let mut notified: Vec<_> = readies.iter().map(|r| Box::pin(r.notified())).collect();
            for n in notified.iter_mut() {
                n.as_mut().enable();
            }
            if let Some(end) = self.poll_rows(out, max_rows)? {
                return Ok(Some(end));
            }
            if !out.is_empty() {
                return Ok(None);
            }
            if self.topic.is_deleted() {
                return Ok(Some(EndReason::Completed));
            }
            if std::mem::take(&mut self.more) {
                // Records are waiting (a selective WHERE can drop a whole read): read on,
                // letting other tasks run between reads.
                tokio::task::yield_now().await;
                continue;
            }
            self.release_buffers();
            // Any source's append wakes the query (a join reads several topics).
            let any_ready = std::future::poll_fn(|cx| {
                for n in notified.iter_mut() {
                    if std::future::Future::poll(n.as_mut(), cx).is_ready() {
                        return std::task::Poll::Ready(());
                    }
                }
                std::task::Poll::Pending
            });
            tokio::select! {
                _ = any_ready => {}
                _ = self.cancel.changed() => {}
            }
        }
    }

    /// Reads what is available without waiting.
    fn poll_rows(&mut self, out: &mut ResultRows, max_rows: usize) -> Result<Option<EndReason>> {
        if !self.other_topics.is_empty() {
            return self.poll_join_rows(out);
        }
        let partitions = self.cursors.len();
        for _ in 0..partitions {
            let i = self.next_cursor;
            self.next_cursor = (self.next_cursor + 1) % partitions;
            let polled = self.poll_partition(i, out, max_rows)?;
            if let Some(member) = &self.decodes {
                // Batches the group holds for this query can go once it has read past them.
                member
                    .positions
                    .advance(self.cursors[i].partition(), self.cursors[i].position());
            }
            match polled {
                Polled::Ended(end) => return Ok(Some(end)),
                Polled::OutputFull => return Ok(None),
                Polled::Read => {}
            }
        }
        if self.pull_done() {
            return Ok(Some(EndReason::Completed));
        }
        Ok(None)
    }

    /// Reads partition `i` once: batches other queries left (identical results, then
    /// decoded records) for as long as there are some at its position, then one read of its
    /// own, so it has seen everything committed before this poll began (an append after
    /// that wakes it). A read that filled its budget may have left records behind: `more`
    /// tells `next_rows` to poll again instead of waiting for an append that may never come.
    fn poll_partition(&mut self, i: usize, out: &mut ResultRows, max_rows: usize) -> Result<Polled> {
        loop {
            let budget = self.read_budget(i);
            if budget == 0 {
                return Ok(Polled::Read);
            }
            let start = self.cursors[i].position();
            if self.take_shared(i, start, out) {
                if out.len() >= max_rows {
                    self.more = true;
                    return Ok(Polled::OutputFull);
                }
                continue;
            }
            let first_row = out.len();
            let _claim = match self.take_decoded(i, start, out) {
                FromGroup::Taken(ended) => {
                    self.offer_results(i, start, first_row, out);
                    if let Some(end) = ended {
                        return Ok(Polled::Ended(end));
                    }
                    if out.len() >= max_rows {
                        self.more = true;
                        return Ok(Polled::OutputFull);
                    }
                    continue;
                }
                // Another member is decoding these records now: take them from it on the
                // next pass rather than decode them twice.
                FromGroup::Claimed => {
                    self.more = true;
                    return Ok(Polled::Read);
                }
                // Held until the batch is offered (or the read fails or finds nothing).
                FromGroup::Decode(claim) => claim,
            };
            let limit = budget.min(READ_BATCH_RECORDS_MAX);
            self.records.clear();
            if let Err(e) = self.cursors[i].read(&mut self.records, limit) {
                // A dropped topic ends its queries cleanly, as TERMINATE would.
                if self.topic.is_deleted() {
                    return Ok(Polled::Ended(EndReason::Completed));
                }
                return Err(e);
            }
            let mut records = std::mem::take(&mut self.records);
            if records.len() == limit {
                self.more = true;
            }
            // Offsets ascend and so, mostly, do timestamps: the first record is the oldest.
            if let Some(first) = records.first() {
                let ts = first.record.timestamp_ms;
                self.oldest_record_ms = Some(self.oldest_record_ms.map_or(ts, |o| o.min(ts)));
            }
            let mut ended = None;
            let source = self.cursor_sources.get(i).copied().unwrap_or(0);
            if let Some(ring) = self.decode_group() {
                if !records.is_empty() {
                    let batch = self.decode_batch(&ring, i, start, std::mem::take(&mut records));
                    ended = self.run_decoded(&batch, 0, out);
                    ring.offer(Arc::new(batch));
                }
            } else {
                for record in &records {
                    ended = self.process(source, record, out)?;
                    if ended.is_some() {
                        break;
                    }
                }
            }
            if self.cursors[i].position() != start {
                self.offer_results(i, start, first_row, out);
            }
            // Results hold copies, so the records (and the read chunk they point into) can go
            // now rather than at the next read.
            records.clear();
            self.records = records;
            if let Some(end) = ended {
                return Ok(Polled::Ended(end));
            }
            if out.len() >= max_rows {
                return Ok(Polled::OutputFull);
            }
            return Ok(Polled::Read);
        }
    }

    /// Copies the rows an identical query already made from partition `i`'s records at
    /// `start`, and moves past those records; false when there are none to copy.
    fn take_shared(&mut self, i: usize, start: Offset, out: &mut ResultRows) -> bool {
        let Some(ring) = &self.shared else {
            return false;
        };
        let Some(batch) = ring.find(self.cursors[i].partition(), start) else {
            return false;
        };
        out.extend_from(&batch.rows);
        ring.note_taken(batch.rows.len());
        self.cursors[i].seek_to(batch.end);
        true
    }

    /// Leaves the rows partition `i`'s records from `start` gave (from `first_row` of `out`)
    /// for identical queries. Shared plans have no LIMIT, so the whole read was processed;
    /// a query alone in its group keeps its rows to itself (no copy).
    fn offer_results(&self, i: usize, start: Offset, first_row: usize, out: &ResultRows) {
        if let Some(ring) = &self.shared {
            if Arc::strong_count(ring) > 1 {
                ring.offer(SharedBatch {
                    partition: self.cursors[i].partition(),
                    start,
                    end: self.cursors[i].position(),
                    rows: out.copy_rows_from(first_row),
                });
            }
        }
    }

    /// The decode group, when another query is in it (alone, a query decodes only what its
    /// own plan reads).
    fn decode_group(&self) -> Option<Arc<DecodeRing>> {
        self.decodes
            .as_ref()
            .map(|member| &member.ring)
            .filter(|ring| Arc::strong_count(ring) > 1)
            .cloned()
    }

    /// Runs the records another query of the group decoded from partition `i`'s `start` on
    /// through this query's operators and moves past them (`Taken`, with whether LIMIT
    /// ended the query); else whether another member is decoding them now, or this one's
    /// claim to (none outside a group).
    fn take_decoded(&mut self, i: usize, start: Offset, out: &mut ResultRows) -> FromGroup {
        let Some(ring) = self.decode_group() else {
            return FromGroup::Decode(None);
        };
        let generation = self.decodes.as_ref().map_or(0, |member| member.generation);
        let batch = match ring.lookup(self.cursors[i].partition(), start, generation) {
            Lookup::Decoded(batch) => batch,
            Lookup::Claimed => return FromGroup::Claimed,
            Lookup::Mine(claim) => return FromGroup::Decode(Some(claim)),
        };
        // Offsets ascend in a batch but may have gaps (Kafka's transaction markers).
        let skip = batch.records.partition_point(|r| r.offset < start);
        if let Some(first) = batch.records.get(skip) {
            let ts = first.record.timestamp_ms;
            self.oldest_record_ms = Some(self.oldest_record_ms.map_or(ts, |o| o.min(ts)));
        }
        let ended = self.run_decoded(&batch, skip, out);
        self.cursors[i].seek_to(batch.end);
        FromGroup::Taken(ended)
    }

    /// Decodes what `ring`'s members read of `records` (partition `i`'s, read from `start`)
    /// for the group.
    fn decode_batch(
        &mut self,
        ring: &DecodeRing,
        i: usize,
        start: Offset,
        records: Vec<StoredRecord>,
    ) -> DecodedBatch {
        // The scan is rebuilt only when a member that reads more joined; the batch carries
        // the generation of the columns the scan decodes.
        let (scan, generation) = match &mut self.group_scan {
            Some((scan, built)) if *built == ring.generation() => (scan, *built),
            slot => {
                let (columns, generation) = ring.decode_columns();
                let scan = self.pipeline.scan().decoding(&self.plan.source, &columns);
                (&mut slot.insert((scan, generation)).0, generation)
            }
        };
        let rows = records.iter().map(|r| scan.decode_owned(r)).collect();
        let span = (start, self.cursors[i].position());
        DecodedBatch::new(self.cursors[i].partition(), span, records, rows, generation)
    }

    /// This query's operators over a decoded batch from its `skip`-th record on;
    /// `LimitReached` once LIMIT rows are out.
    fn run_decoded(
        &mut self,
        batch: &DecodedBatch,
        skip: usize,
        out: &mut ResultRows,
    ) -> Option<EndReason> {
        // With an `E = literal` filter first, only the literal's bucket can pass it.
        if let Some(bucketing) = self.probe.as_ref().and_then(|p| batch.bucketing(p)) {
            let key = self.probe.as_ref().map(|p| &p.key)?;
            for n in bucketing.rows_for(key).filter(|n| *n >= skip) {
                let (Some(record), Some(Some(row))) = (batch.records.get(n), batch.rows.get(n))
                else {
                    continue;
                };
                if let Flow::Stop = self.pipeline.process_row(row.row(record), out) {
                    return Some(EndReason::LimitReached);
                }
            }
            return None;
        }
        let rows = batch.records.iter().zip(&batch.rows).skip(skip);
        for (record, row) in rows {
            let Some(row) = row else { continue };
            if let Flow::Stop = self.pipeline.process_row(row.row(record), out) {
                return Some(EndReason::LimitReached);
            }
        }
        None
    }

    /// Frees what reading grew (the record batch, the cursors' chunks) before waiting, so an
    /// idle query costs the same after a burst as before it.
    fn release_buffers(&mut self) {
        self.records = Vec::new();
        for cursor in &mut self.cursors {
            cursor.release_buffers();
        }
    }

    /// How many records partition `i` may still read (pull queries stop at their snapshot).
    /// A join's read: what every source's partitions have, merged by record timestamp (each
    /// partition's records in offset order, ties to the earlier source), as a Kafka Streams
    /// task picks records and as a persistent join does. Round-robin over partitions would,
    /// from the earliest offsets, run a whole stream partition before the older table rows
    /// it should have met.
    fn poll_join_rows(&mut self, out: &mut ResultRows) -> Result<Option<EndReason>> {
        use std::cmp::Reverse;
        let mut runs = Vec::with_capacity(self.cursors.len());
        for i in 0..self.cursors.len() {
            let mut run = Vec::new();
            let budget = self.read_budget(i).min(READ_BATCH_RECORDS_MAX);
            if budget > 0 {
                if let Err(e) = self.cursors[i].read(&mut run, budget) {
                    if self.topic.is_deleted() || self.other_topics.iter().any(|t| t.is_deleted()) {
                        return Ok(Some(EndReason::Completed));
                    }
                    return Err(e);
                }
            }
            runs.push(run.into_iter().peekable());
        }
        let mut order: std::collections::BinaryHeap<Reverse<(i64, usize)>> = runs
            .iter_mut()
            .enumerate()
            .filter_map(|(i, run)| run.peek().map(|r| Reverse((r.record.timestamp_ms, i))))
            .collect();
        while let Some(Reverse((ts, i))) = order.pop() {
            let Some(record) = runs[i].next() else { continue };
            self.oldest_record_ms = Some(self.oldest_record_ms.map_or(ts, |o| o.min(ts)));
            let source = self.cursor_sources.get(i).copied().unwrap_or(0);
            if let Some(end) = self.process(source, &record, out)? {
                return Ok(Some(end));
            }
            if let Some(next) = runs[i].peek() {
                order.push(Reverse((next.record.timestamp_ms, i)));
            }
        }
        Ok(None)
    }

    fn read_budget(&self, i: usize) -> usize {
        match &self.stop_at {
            None => READ_BATCH_RECORDS_MAX,
            Some(stop) => {
                let left = stop[i].0.saturating_sub(self.cursors[i].position().0);
                usize::try_from(left).unwrap_or(usize::MAX)
            }
        }
    }

    fn pull_done(&self) -> bool {
        match &self.stop_at {
            None => false,
            Some(stop) => self
                .cursors
                .iter()
                .zip(stop)
                .all(|(c, s)| c.position() >= *s),
        }
    }

    /// Runs one record through the pipeline; `LimitReached` once LIMIT rows are out.
    fn process(
        &mut self,
        source: usize,
        record: &StoredRecord,
        out: &mut ResultRows,
    ) -> Result<Option<EndReason>> {
        let r = &record.record;
        let bytes = r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
        self.scanned.0 += 1;
        self.scanned.1 += bytes as u64;
        Ok(match self.pipeline.process_from(source, record, out) {
            Flow::Continue => None,
            Flow::Stop => Some(EndReason::LimitReached),
        })
    }
}

impl Drop for QueryStream {
    fn drop(&mut self) {
        if let Some((registry, running)) = self.registration.take() {
            registry.remove(&running.id);
        }
    }
}
