//! An insert session: one producer's rows into one stream, acked in order once durable.
//!
//! ```text
//!  lines ─► Inserter (decode, key, partition, value) ─► per-partition batch (≤ INSERT_BATCH_ROWS_MAX)
//!        ─► TopicLog::append (one per partition) ─► tickets ─► bounded queue ─► AckStream
//!                                                                  (awaits each batch's tickets)
//! ```
//!
//! Pushing and acking run on two sides of a bounded queue of pending batches, so acks flow
//! while rows are still arriving and a producer that outruns the disk is slowed by
//! back-pressure rather than buffered without bound. Every face that ingests rows
//! (ksqlDB's `/inserts-stream`, others' insert APIs) uses this; none batches by itself.
//!
//! A batch is one append per partition, and each append is all-or-nothing. When one fails
//! and another of the same batch succeeded, the session acks exactly the rows that were
//! stored before it reports the first that was not: a producer that retries what was not
//! acked then neither loses a row nor writes one twice.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};
use crate::exec::operator::Flow;
use crate::log::{AppendTicket, PartitionId, Record};

use super::inserter::Inserter;

/// Appended-but-unacked batches per session. With up to [`INSERT_BATCH_ROWS_MAX`] rows per
/// batch this bounds the rows one producer has in flight; beyond it pushing waits.
pub const INSERT_PENDING_BATCHES_MAX: usize = 64;

/// Rows gathered before they are handed to the log as one append per partition.
pub const INSERT_BATCH_ROWS_MAX: usize = 1024;

/// What the session says about a run of rows.
#[derive(Debug)]
pub enum Ack {
    /// Rows `first_seq .. first_seq + rows` are durable. `received_at` is when the first
    /// of them reached the session (what ack-latency metrics measure from).
    Ok {
        first_seq: u64,
        rows: u64,
        received_at: Instant,
    },
    /// The row `seq` was not stored (a bad row, or a write that failed), and the session
    /// ends here. Every row that was stored has had its `Ok` before this: when a batch
    /// spanning several partitions failed in one of them only, the rows of the others are
    /// durable and acked — some after `seq`, as ksqlDB's acks may come out of order. A row
    /// that got no `Ok` was not stored.
    Failed { seq: u64, error: EngineError },
}

/// One batch's appends, awaited by the acking side.
struct Batch {
    first_seq: u64,
    rows: u64,
    received_at: Instant,
    /// One append per partition the batch touched, in the order they were made.
    tickets: Vec<(PartitionId, AppendTicket)>,
    /// Each row's partition, in seq order, when the batch touched more than one: what a
    /// partial failure needs to tell which rows are durable.
    row_partitions: Option<Vec<PartitionId>>,
    /// The append call that failed; the partitions after it were not appended.
    append_error: Option<EngineError>,
}

/// Acks owed for a batch of rows, or the error that ends the session.
enum Pending {
    Batch(Batch),
    Failed { seq: u64, error: EngineError },
}

/// The pushing side of a session.
pub struct InsertSession {
    inserter: Inserter,
    pending: mpsc::Sender<Pending>,
    next_seq: u64,
    batch_first_seq: u64,
    batch_rows: u64,
    /// When the current batch's first row arrived.
    batch_received_at: Instant,
    /// Records per partition for the current batch.
    batches: Vec<(PartitionId, Vec<Record>)>,
    /// The partition of each row of the current batch, in seq order.
    row_partitions: Vec<PartitionId>,
}

/// The acking side of a session.
pub struct AckStream {
    pending: mpsc::Receiver<Pending>,
    /// Acks of a settled batch not handed out yet (more than one only after a partial
    /// failure; the failure is then last).
    staged: VecDeque<Ack>,
}

/// A new session over `inserter`.
pub(crate) fn open(inserter: Inserter) -> (InsertSession, AckStream) {
    let (tx, rx) = mpsc::channel(INSERT_PENDING_BATCHES_MAX);
    (
        InsertSession {
            inserter,
            pending: tx,
            next_seq: 0,
            batch_first_seq: 0,
            batch_rows: 0,
            batch_received_at: Instant::now(),
            batches: Vec::new(),
            row_partitions: Vec::new(),
        },
        AckStream {
            pending: rx,
            staged: VecDeque::new(),
        },
    )
}

impl InsertSession {
    /// Decodes and appends `lines` (one row each, without newlines). `Stop` once the session
    /// has ended: a row failed (its error is the last ack) or nobody reads the acks.
    pub async fn push(&mut self, lines: &[Bytes]) -> Flow {
        // The lines of one read arrived together: one clock read (each clock) stamps them all.
        let now_ms = self.inserter.now_ms();
        let received_at = Instant::now();
        for line in lines {
            if self.batch_rows == 0 {
                self.batch_received_at = received_at;
            }
            if let Err(error) = self.add(line, now_ms) {
                if self.flush().await == Flow::Stop {
                    return Flow::Stop;
                }
                let seq = self.next_seq;
                self.send(Pending::Failed { seq, error }).await;
                return Flow::Stop;
            }
            if self.batch_rows as usize >= INSERT_BATCH_ROWS_MAX && self.flush().await == Flow::Stop
            {
                return Flow::Stop;
            }
        }
        self.flush().await
    }

    /// The producer is done: appends what is gathered. The acks end after its rows'.
    pub async fn finish(mut self) {
        self.flush().await;
    }

    /// The request failed before its next row (too long a row, a broken body): ends the
    /// session with `error` after the acks of the rows before it.
    pub async fn fail(mut self, error: EngineError) {
        if self.flush().await == Flow::Continue {
            let seq = self.next_seq;
            self.send(Pending::Failed { seq, error }).await;
        }
    }

    /// Decodes one row and adds its record to the current batch.
    fn add(&mut self, line: &Bytes, now_ms: i64) -> Result<()> {
        let decoded = self.inserter.decode_line(line)?;
        let (partition, record) = self.inserter.record_line(decoded, line, now_ms)?;
        match self.batches.iter_mut().find(|(p, _)| *p == partition) {
            Some((_, records)) => records.push(record),
            None => self.batches.push((partition, vec![record])),
        }
        self.row_partitions.push(partition);
        self.next_seq += 1;
        self.batch_rows += 1;
        Ok(())
    }

    /// Appends the current batch and queues its acks. An append that fails ends the
    /// session, but the appends already made stand: their rows are acked once durable.
    async fn flush(&mut self) -> Flow {
        if self.batch_rows == 0 {
            return Flow::Continue;
        }
        let mut batches = std::mem::take(&mut self.batches);
        let row_partitions = if batches.len() > 1 {
            Some(std::mem::take(&mut self.row_partitions))
        } else {
            self.row_partitions.clear();
            None
        };
        let mut tickets = Vec::with_capacity(batches.len());
        let mut append_error = None;
        for (partition, records) in batches.drain(..) {
            match self.inserter.topic().append(partition, records).await {
                Ok(ticket) => tickets.push((partition, ticket)),
                Err(error) => {
                    tracing::error!(%error, "append failed");
                    append_error = Some(error);
                    break;
                }
            }
        }
        let failed = append_error.is_some();
        // The emptied vector keeps its room for the next batch.
        batches.clear();
        self.batches = batches;
        let pending = Pending::Batch(Batch {
            first_seq: self.batch_first_seq,
            rows: self.batch_rows,
            received_at: self.batch_received_at,
            tickets,
            row_partitions,
            append_error,
        });
        self.batch_first_seq = self.next_seq;
        self.batch_rows = 0;
        match self.send(pending).await {
            Flow::Continue if !failed => Flow::Continue,
            _ => Flow::Stop,
        }
    }

    /// Queues acks; `Stop` when the acking side is gone (the client is).
    async fn send(&self, pending: Pending) -> Flow {
        match self.pending.send(pending).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }
}

impl AckStream {
    /// The next ack, once its rows are durable; `None` after the last. After an
    /// `Ack::Failed` there is none.
    pub async fn next(&mut self) -> Option<Ack> {
        if let Some(ack) = self.staged.pop_front() {
            return Some(ack);
        }
        match self.pending.recv().await? {
            Pending::Batch(batch) => batch.settle(&mut self.staged).await,
            Pending::Failed { seq, error } => {
                self.staged.push_back(Ack::Failed { seq, error });
            }
        }
        if matches!(self.staged.back(), Some(Ack::Failed { .. })) {
            // Nothing after a failure is acked.
            self.pending.close();
        }
        self.staged.pop_front()
    }
}

impl Batch {
    /// Awaits every append of the batch and stages its acks: one `Ok` when all are
    /// durable; otherwise an `Ok` per run of rows whose partition is durable, then the
    /// `Failed` of the first row that is not.
    async fn settle(self, staged: &mut VecDeque<Ack>) {
        let mut error = self.append_error;
        let mut durable = Vec::with_capacity(self.tickets.len());
        for (partition, ticket) in self.tickets {
            match await_durable(ticket).await {
                Ok(()) => durable.push(partition),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        let Some(error) = error else {
            staged.push_back(Ack::Ok {
                first_seq: self.first_seq,
                rows: self.rows,
                received_at: self.received_at,
            });
            return;
        };
        let mut first_failed = self.first_seq;
        if let Some(row_partitions) = self.row_partitions {
            let is_durable = row_partitions.iter().map(|p| durable.contains(p));
            first_failed =
                stage_durable_runs(self.first_seq, is_durable, self.received_at, staged);
        }
        staged.push_back(Ack::Failed {
            seq: first_failed,
            error,
        });
    }
}

/// Stages an `Ok` per run of consecutive durable rows (row `i` is `first_seq + i`) and
/// returns the seq of the first row that is not durable.
fn stage_durable_runs(
    first_seq: u64,
    is_durable: impl Iterator<Item = bool>,
    received_at: Instant,
    staged: &mut VecDeque<Ack>,
) -> u64 {
    let mut first_failed = None;
    let mut run: Option<(u64, u64)> = None;
    let end_run = |run: &mut Option<(u64, u64)>, staged: &mut VecDeque<Ack>| {
        if let Some((first_seq, rows)) = run.take() {
            staged.push_back(Ack::Ok {
                first_seq,
                rows,
                received_at,
            });
        }
    };
    let mut seq = first_seq;
    for durable in is_durable {
        if durable {
            match &mut run {
                Some((_, rows)) => *rows += 1,
                None => run = Some((seq, 1)),
            }
        } else {
            end_run(&mut run, staged);
            first_failed.get_or_insert(seq);
        }
        seq += 1;
    }
    end_run(&mut run, staged);
    first_failed.unwrap_or(seq)
}

async fn await_durable(ticket: AppendTicket) -> Result<()> {
    match ticket.await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(EngineError::internal(
            "log writer stopped before the append was durable",
        )),
    }
}
