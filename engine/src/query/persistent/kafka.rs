//! Persistent queries on the Kafka log: each query's journal lives in the service's
//! checkpoint topic, and the query runs on whichever node of the service holds its lease.
//!
//! ```text
//!  open(id):   writer (transactional.id = <service>-query-<id>: fences the last holder)
//!              ─► read the id's partition: its last journal entry (and its origin)
//!  append(e):  one transaction: [origin, first commit only] + the entry
//!  lease(id):  partition_of(id) in the lease group (the same partition as its records)
//! ```
//!
//! A node that takes a query over finds its journal where the last holder left it, re-runs
//! an unfinished batch with the same arithmetic as a restart (`runner`), and restores the
//! query's state from its changelog topic (`KafkaChangelogs`; `state/changelog.rs`), then
//! replays the sources from the state's checkpoint to the journal's position. The old holder, if it is still alive but cut off, is
//! fenced: its next journal write fails and it stops.

use std::sync::Arc;

use tokio::sync::watch;

use super::checkpoint::{Checkpoint, CheckpointStore, Entry, Resume};
use crate::error::Result;
use crate::log::{ChangelogTopic, ChangelogTopics, CheckpointTopic, CheckpointWriter, GroupLeases};
use crate::state::{Changelog, Changelogs, RecordVisitor};

/// Where a persistent query runs, when several nodes share a service.
pub trait QueryLeases: Send + Sync {
    /// Whether this node holds query `id`'s lease now.
    fn holds(&self, query_id: &str) -> bool;
    /// Changes whenever the leases held here change.
    fn changes(&self) -> watch::Receiver<u64>;
    /// Marks query `id` as running here until the guard drops: a revoke of its lease
    /// waits for it, so the next holder never runs it at the same time.
    fn busy(&self, query_id: &str) -> Box<dyn Send + Sync>;
}

impl QueryLeases for GroupLeases {
    fn holds(&self, query_id: &str) -> bool {
        GroupLeases::holds(self, CheckpointTopic::partition_of(query_id.as_bytes()))
    }

    fn changes(&self) -> watch::Receiver<u64> {
        GroupLeases::changes(self)
    }

    fn busy(&self, query_id: &str) -> Box<dyn Send + Sync> {
        Box::new(GroupLeases::busy(
            self,
            CheckpointTopic::partition_of(query_id.as_bytes()),
        ))
    }
}

/// Checkpoints in the service's checkpoint topic.
pub struct KafkaCheckpoints {
    topic: Arc<CheckpointTopic>,
}

impl KafkaCheckpoints {
    pub fn new(topic: CheckpointTopic) -> KafkaCheckpoints {
        KafkaCheckpoints {
            topic: Arc::new(topic),
        }
    }

    fn writer(&self, query_id: &str) -> Result<CheckpointWriter> {
        self.topic.writer(&format!("query-{query_id}"))
    }
}

/// The record key of query `id`'s journal entries.
fn journal_key(query_id: &str) -> Vec<u8> {
    [b"journal:".as_slice(), query_id.as_bytes()].concat()
}

/// The record key of query `id`'s origin: its first commit, where its state starts.
fn origin_key(query_id: &str) -> Vec<u8> {
    [b"origin:".as_slice(), query_id.as_bytes()].concat()
}

impl CheckpointStore for KafkaCheckpoints {
    fn open(&self, query_id: &str) -> Result<(Box<dyn Checkpoint>, Resume)> {
        // Fence first: after this no earlier holder's entry can land, so what the read
        // finds is the last word.
        let writer = self.writer(query_id)?;
        let partition = CheckpointTopic::partition_of(query_id.as_bytes());
        let (journal, origin_key) = (journal_key(query_id), origin_key(query_id));
        let latest = self
            .topic
            .read_latest(partition, &[journal.as_slice(), origin_key.as_slice()])?;
        let resume = match latest.first().and_then(Option::as_ref) {
            None => Resume::Fresh,
            Some(bytes) => match Entry::decode(bytes)? {
                Entry::Commit { source } => Resume::Committed(source),
                Entry::Intent { source, sink_end } => Resume::Unfinished { source, sink_end },
            },
        };
        let origin = match latest.get(1).and_then(Option::as_ref) {
            Some(bytes) => match Entry::decode(bytes)? {
                Entry::Commit { source } => Some(source),
                Entry::Intent { .. } => None,
            },
            None => None,
        };
        Ok((
            Box::new(KafkaJournal {
                writer,
                partition,
                journal,
                origin_key,
                origin,
                first: false,
            }),
            resume,
        ))
    }

    fn create(&self, query_id: &str) -> Result<Box<dyn Checkpoint>> {
        Ok(Box::new(KafkaJournal {
            writer: self.writer(query_id)?,
            partition: CheckpointTopic::partition_of(query_id.as_bytes()),
            journal: journal_key(query_id),
            origin_key: origin_key(query_id),
            origin: None,
            first: true,
        }))
    }

    fn remove(&self, query_id: &str) {
        let removed = self.writer(query_id).and_then(|mut writer| {
            writer.write(
                CheckpointTopic::partition_of(query_id.as_bytes()),
                &[
                    (journal_key(query_id).as_slice(), None),
                    (origin_key(query_id).as_slice(), None),
                ],
            )
        });
        if let Err(error) = removed {
            tracing::warn!(query = query_id, %error, "could not remove a query's checkpoint");
        }
    }
}

/// One query's journal in the checkpoint topic.
struct KafkaJournal {
    writer: CheckpointWriter,
    partition: u32,
    journal: Vec<u8>,
    origin_key: Vec<u8>,
    origin: Option<Vec<u64>>,
    /// The next commit is the query's first: it is also its origin.
    first: bool,
}

impl Checkpoint for KafkaJournal {
    fn append(&mut self, entry: &Entry) -> Result<()> {
        let bytes = entry.encode();
        if let (true, Entry::Commit { source }) = (self.first, entry) {
            self.writer.write(
                self.partition,
                &[
                    (self.origin_key.as_slice(), Some(bytes.as_slice())),
                    (self.journal.as_slice(), Some(bytes.as_slice())),
                ],
            )?;
            self.first = false;
            self.origin = Some(source.clone());
            return Ok(());
        }
        self.writer
            .write(self.partition, &[(self.journal.as_slice(), Some(bytes.as_slice()))])
    }

    fn origin(&self) -> Option<Vec<u64>> {
        self.origin.clone()
    }
}

/// Stateful queries' changelogs in the service's changelog topics, one per query.
#[derive(Debug)]
pub struct KafkaChangelogs(pub Arc<ChangelogTopics>);

impl Changelogs for KafkaChangelogs {
    fn open(&self, query_id: &str) -> Result<Box<dyn Changelog>> {
        Ok(Box::new(self.0.open(query_id)?))
    }

    fn remove(&self, query_id: &str) -> Result<()> {
        self.0.remove(query_id)
    }
}

impl Changelog for ChangelogTopic {
    fn write(&mut self, records: &mut dyn Iterator<Item = (&[u8], Option<&[u8]>)>) -> Result<()> {
        ChangelogTopic::write(self, records)
    }

    fn bounds(&self) -> Result<(u64, u64)> {
        ChangelogTopic::bounds(self)
    }

    fn read(
        &self,
        from: u64,
        to: u64,
        visit: &mut RecordVisitor<'_>,
    ) -> Result<()> {
        ChangelogTopic::read(self, from, to, visit)
    }

    fn reset(&mut self) -> Result<()> {
        ChangelogTopic::reset(self)
    }
}
