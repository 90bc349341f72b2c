//! The catalog's command log: every applied CREATE, DROP and TERMINATE, in order, replayed at
//! start to rebuild the catalog — ksqlDB's command topic.
//!
//! The embedded backend keeps it in a checksummed journal file in the data directory
//! ([`JournalCommandLog`]); a Kafka backend keeps it in the service's command topic, where
//! every node reads the same commands in the same order.

use std::path::Path;
use std::sync::Mutex;

use crate::error::Result;
use crate::log::Journal;

/// A durable, ordered log of catalog commands (statement texts with directive lines).
///
/// Contract: `append` returns only once a restart's `replay` would return the command, in
/// order after every command appended before it; a failed `append` leaves nothing a replay
/// would return.
pub trait CommandLog: Send + Sync {
    /// Every command appended so far, oldest first. Called once, when the engine opens.
    fn replay(&self) -> Result<Vec<Vec<u8>>>;
    /// Appends one command durably.
    fn append(&self, command: &[u8]) -> Result<()>;
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
