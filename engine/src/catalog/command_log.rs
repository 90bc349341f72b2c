//! The catalog's command log: every applied CREATE, DROP and TERMINATE, in order, replayed at
//! start to rebuild the catalog — ksqlDB's command topic.
//!
//! The embedded backend keeps it in a checksummed journal file in the data directory
//! ([`JournalCommandLog`]); a Kafka backend keeps it in the service's command topic
//! ([`KafkaCommandLog`]), where every node reads the same commands in the same order and
//! applies the ones other nodes wrote as they arrive.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::Result;
use crate::log::{Journal, KafkaCommandLog};

/// A durable, ordered log of catalog commands (statement texts with directive lines),
/// possibly shared by several nodes.
///
/// Contract: `append` returns only once a restart's `replay` would return the command, in
/// order after every command appended before it; a failed `append` leaves nothing a replay
/// would return. With several nodes: appends happen only between `begin_writes` and
/// `end_writes`, and after `begin_writes` no other node appends until this one's
/// `end_writes` (or its appends fail), so `catch_up` right after `begin_writes` returns
/// every command the next append will follow. Every command is returned once per node, by
/// `replay`, `catch_up` or `arrived`, except the node's own appends, which it applied when
/// it made them.
pub trait CommandLog: Send + Sync {
    /// Every command appended so far, oldest first. Called once, when the engine opens.
    fn replay(&self) -> Result<Vec<Vec<u8>>>;
    /// Appends one command durably.
    fn append(&self, command: &[u8]) -> Result<()>;
    /// Takes the writer's turn before a request that may append (blocking).
    fn begin_writes(&self) -> Result<()> {
        Ok(())
    }
    /// Ends the writer's turn.
    fn end_writes(&self) {}
    /// Commands other nodes appended up to the log's current end that this node has not
    /// applied, oldest first (blocking until it has read that far). Only this node writes
    /// a journal, so by default there are none.
    fn catch_up(&self) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }
    /// Commands other nodes appended that are already here, without waiting.
    fn arrived(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
    /// Woken when `arrived` may have commands; `None` when no other node writes.
    fn arrivals(&self) -> Option<Arc<Notify>> {
        None
    }
    /// This node's name in the commands it writes, when other nodes read them: the owner
    /// of the persistent queries it creates.
    fn node_id(&self) -> Option<&str> {
        None
    }
}

/// The embedded command log: a journal file.
pub struct JournalCommandLog {
    journal: Mutex<Journal>,
    /// What the journal held when it was opened, for `replay`.
    opened_with: Mutex<Option<Vec<Vec<u8>>>>,
}

impl JournalCommandLog {
    pub fn open(path: &Path) -> Result<JournalCommandLog> {
        let (journal, entries) = Journal::open(path)?;
        Ok(JournalCommandLog {
            journal: Mutex::new(journal),
            opened_with: Mutex::new(Some(entries)),
        })
    }
}

impl CommandLog for JournalCommandLog {
    fn replay(&self) -> Result<Vec<Vec<u8>>> {
        // The entries read at open: the journal is only appended to after that.
        let taken = self
            .opened_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        Ok(taken.unwrap_or_default())
    }

    fn append(&self, command: &[u8]) -> Result<()> {
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(command)
    }
}

impl CommandLog for KafkaCommandLog {
    fn replay(&self) -> Result<Vec<Vec<u8>>> {
        self.catch_up()
    }

    fn append(&self, command: &[u8]) -> Result<()> {
        KafkaCommandLog::append(self, command)
    }

    fn begin_writes(&self) -> Result<()> {
        KafkaCommandLog::begin_writes(self)
    }

    fn end_writes(&self) {
        KafkaCommandLog::end_writes(self)
    }

    fn catch_up(&self) -> Result<Vec<Vec<u8>>> {
        KafkaCommandLog::catch_up(self)
    }

    fn arrived(&self) -> Vec<Vec<u8>> {
        KafkaCommandLog::arrived(self)
    }

    fn arrivals(&self) -> Option<Arc<Notify>> {
        Some(KafkaCommandLog::arrivals(self))
    }

    fn node_id(&self) -> Option<&str> {
        Some(KafkaCommandLog::node_id(self))
    }
}
