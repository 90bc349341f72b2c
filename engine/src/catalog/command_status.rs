//! What became of each command (`stream/`S`/create`, `terminate/CSAS_X_1/execute`, …), as
//! ksqlDB's `GET /status` and `GET /status/{type}/{entity}/{action}` report it.
//!
//! Kept by id with the order they were recorded in, so a lookup and a re-record are O(1)
//! however many commands a node has run (a migration of thousands of statements is common).

use std::collections::HashMap;
use std::sync::Mutex;

/// The status of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStatus {
    /// ksqlDB's `CommandStatus.Status` name: `SUCCESS` for every command Sluice has applied
    /// (a statement is applied synchronously, so there is no QUEUED or EXECUTING to see).
    pub status: &'static str,
    /// The statement's result message, e.g. `Stream created`.
    pub message: String,
    /// The persistent query the command started, if any.
    pub query_id: Option<String>,
}

/// Every command's status since start (replayed commands included).
#[derive(Debug, Default)]
pub struct CommandStatuses {
    by_id: Mutex<HashMap<String, (u64, CommandStatus)>>,
}

impl CommandStatuses {
    /// Records (or replaces) `command_id`'s status; `seq` orders the listing.
    pub fn record(&self, command_id: &str, seq: u64, status: CommandStatus) {
        self.lock().insert(command_id.to_string(), (seq, status));
    }

    pub fn get(&self, command_id: &str) -> Option<CommandStatus> {
        self.lock().get(command_id).map(|(_, s)| s.clone())
    }

    /// Every command with its status, in the order they were recorded.
    pub fn list(&self) -> Vec<(String, CommandStatus)> {
        let by_id = self.lock();
        let mut all: Vec<(u64, String, CommandStatus)> = by_id
            .iter()
            .map(|(id, (seq, s))| (*seq, id.clone(), s.clone()))
            .collect();
        all.sort_unstable_by_key(|(seq, _, _)| *seq);
        all.into_iter().map(|(_, id, s)| (id, s)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, CommandStatus)>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(message: &str) -> CommandStatus {
        CommandStatus {
            status: "SUCCESS",
            message: message.into(),
            query_id: None,
        }
    }

    #[test]
    fn a_rerecorded_command_keeps_one_entry_in_its_new_place() {
        let statuses = CommandStatuses::default();
        statuses.record("stream/`A`/create", 0, success("Stream created"));
        statuses.record("stream/`B`/create", 1, success("Stream created"));
        statuses.record("stream/`A`/create", 2, success("Stream created again"));
        let ids: Vec<String> = statuses.list().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["stream/`B`/create", "stream/`A`/create"]);
        assert_eq!(
            statuses.get("stream/`A`/create").map(|s| s.message),
            Some("Stream created again".to_string())
        );
        assert_eq!(statuses.get("stream/`C`/create"), None);
    }
}
