//! An insert session: one producer's rows into one stream, acked in order once durable.
//!
//! ```text
//!  lines ─► Inserter (decode, key, partition, value) ─► per-partition batch (≤ INSERT_BATCH_ROWS_MAX)
//!        ─► TopicLog::append (one per partition) ─► tickets ─► bounded queue ─► AckStream
//!                                                                  (awaits tickets in seq order)
//! ```
//!
//! Pushing and acking run on two sides of a bounded queue of pending batches, so acks flow
//! while rows are still arriving and a producer that outruns the disk is slowed by
//! back-pressure rather than buffered without bound. Every face that ingests rows
//! (ksqlDB's `/inserts-stream`, others' insert APIs) uses this; none batches by itself.

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
    /// The row `seq` failed (a bad row, or a write that failed): the session ends here,
    /// and no row from `seq` on was stored.
    Failed { seq: u64, error: EngineError },
}

/// Acks owed for a contiguous run of rows, or the error that ends the session.
enum Pending {
    Batch {
        first_seq: u64,
        rows: u64,
        received_at: Instant,
        tickets: Vec<AppendTicket>,
    },
    Failed {
        seq: u64,
        error: EngineError,
    },
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
}

/// The acking side of a session.
pub struct AckStream {
    pending: mpsc::Receiver<Pending>,
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
        },
        AckStream { pending: rx },
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
        self.next_seq += 1;
        self.batch_rows += 1;
        Ok(())
    }

    /// Appends the current batch and queues its acks.
    async fn flush(&mut self) -> Flow {
        if self.batch_rows == 0 {
            return Flow::Continue;
        }
        let mut batches = std::mem::take(&mut self.batches);
        let mut tickets = Vec::with_capacity(batches.len());
        for (partition, records) in batches.drain(..) {
            match self.inserter.topic().append(partition, records).await {
                Ok(t) => tickets.push(t),
                Err(error) => {
                    tracing::error!(%error, "append failed");
                    let seq = self.batch_first_seq;
                    self.batch_rows = 0;
                    self.send(Pending::Failed { seq, error }).await;
                    return Flow::Stop;
                }
            }
        }
        // The emptied vector keeps its room for the next batch.
        self.batches = batches;
        let pending = Pending::Batch {
            first_seq: self.batch_first_seq,
            rows: self.batch_rows,
            received_at: self.batch_received_at,
            tickets,
        };
        self.batch_first_seq = self.next_seq;
        self.batch_rows = 0;
        self.send(pending).await
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
        match self.pending.recv().await? {
            Pending::Batch {
                first_seq,
                rows,
                received_at,
                tickets,
            } => Some(match all_durable(tickets).await {
                Ok(()) => Ack::Ok {
                    first_seq,
                    rows,
                    received_at,
                },
                Err(error) => {
                    // Nothing after a failed batch is acked.
                    self.pending.close();
                    Ack::Failed {
                        seq: first_seq,
                        error,
                    }
                }
            }),
            Pending::Failed { seq, error } => {
                self.pending.close();
                Some(Ack::Failed { seq, error })
            }
        }
    }
}

async fn all_durable(tickets: Vec<AppendTicket>) -> Result<()> {
    for ticket in tickets {
        match ticket.await {
            Ok(result) => {
                result?;
            }
            Err(_) => {
                return Err(EngineError::internal(
                    "log writer stopped before the append was durable",
                ));
            }
        }
    }
    Ok(())
}
