//! What a finished task retains: per statement, its columns, rows and counts, in a shape
//! no face owns (cells are the JSON values ksqlDB's results show); each face renders it.

use std::time::Duration;

use sluice_engine::types::SqlType;
use sluice_engine::ErrorCode;
use sluice_protocol::statement_table::Cell;

/// Bytes a retained cell costs beyond its text: the enum and its `String` header. Counted
/// so that a result of many tiny cells is not estimated as nearly free.
const CELL_OVERHEAD_BYTES: usize = 32;

/// One result column.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: SqlType,
}

/// What one statement of a task produced.
#[derive(Debug, Clone, Default)]
pub struct StatementOutput {
    /// The statement as run (after any dialect mapping).
    pub statement: String,
    pub columns: Vec<OutputColumn>,
    /// Rows, each one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// A human message beside the rows (a DDL's status message), if any.
    pub message: Option<String>,
    /// Rows the statement wrote (INSERT VALUES), for the faces that report it.
    pub written_rows: u64,
    /// A query's source records read, and their key and value bytes; `None` for a
    /// statement that reads no records.
    pub scanned: Option<(u64, u64)>,
    /// Wall time the statement took.
    pub elapsed: Duration,
    /// When it started and ended, ms since the epoch.
    pub started_ms: i64,
    pub finished_ms: i64,
}

impl StatementOutput {
    /// About how many bytes the retained rows hold (the registry's memory budget counts it).
    pub fn retained_bytes_estimate(&self) -> usize {
        self.statement.len()
            + self
                .rows
                .iter()
                .flatten()
                .map(|cell| cell.bytes() + CELL_OVERHEAD_BYTES)
                .sum::<usize>()
    }
}

/// Everything a successful task produced, one output per statement, in order.
#[derive(Debug, Clone, Default)]
pub struct TaskOutput {
    pub statements: Vec<StatementOutput>,
}

impl TaskOutput {
    pub fn retained_bytes_estimate(&self) -> usize {
        self.statements
            .iter()
            .map(StatementOutput::retained_bytes_estimate)
            .sum()
    }
}

/// Why a task failed: the engine's classified code, the message, which statement failed,
/// and what the statements before it produced.
#[derive(Debug, Clone)]
pub struct TaskFailure {
    pub code: ErrorCode,
    pub message: String,
    /// Index of the failing statement in the task's batch.
    pub statement_index: usize,
    pub completed: Vec<StatementOutput>,
}
