//! UPDATE and DELETE for faces whose SQL has them (KalamDB's); ksqlDB's has neither, so
//! `/ksql` never reaches this.
//!
//! ```text
//!  change_rows(SELECT *[, set exprs] FROM table WHERE …, change)
//!     ─► the pull query's rows (the table's current rows, at most ROW_CHANGES_MAX)
//!     ─► per row: Delete → a tombstone under its key (headers: sluice.change=delete,
//!                          sluice.before=the deleted row's value)
//!                 Update → the whole row again, set columns replaced, under its key
//!                          (header: sluice.change=update)
//!     ─► appended per partition, durable before the count is returned
//! ```
//!
//! Why through a pull query: the face's WHERE (and its per-user scope) is then planned,
//! type-checked and evaluated by the same code as its SELECTs, and SET expressions may read
//! the row (`SET n = n + 1`). The read and the writes are not one transaction: a write to
//! the same key between them is overwritten, as two concurrent upserts would be.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::exec::result_rows::{CellRef, ResultRows};
use crate::exec::scan::{BEFORE_HEADER, CHANGE_HEADER};
use crate::format::coerce::{coerce_json_text, CoercionMode};
use crate::ingest::inserter::{coerce_to, Inserter};
use crate::limits::ROW_CHANGES_MAX;
use crate::log::{PartitionId, Record};
use crate::plan::transient::PULL_TABLE_FROM_TOPIC;
use crate::types::{ColumnKind, Value};

use super::engine::Engine;
use super::queries::{QueryOutput, QueryRequest};

/// What [`Engine::change_rows`] does to each row its query finds.
#[derive(Debug, Clone, Copy)]
pub enum RowChange<'a> {
    /// Delete the row (a tombstone for its key).
    Delete,
    /// Write the row again with these value columns set: the query's last
    /// `columns.len()` result columns are their new values, in this order.
    Update { columns: &'a [String] },
}

/// Rows read per step of the query.
const ROWS_PER_READ: usize = 1024;

impl Engine {
    /// Changes every row `select` finds (a pull query `SELECT * … FROM <table> [WHERE …]`,
    /// for an update followed by one column per set value) and returns how many it changed,
    /// once every write is durable. A table no query materializes is read from its topic.
    pub async fn change_rows(&self, select: &str, change: RowChange<'_>) -> Result<u64> {
        let properties = HashMap::from([(PULL_TABLE_FROM_TOPIC.to_string(), "true".to_string())]);
        let none = HashMap::new();
        let request = QueryRequest {
            sql: select,
            properties: &properties,
            session_variables: &none,
        };
        let QueryOutput::Rows(mut query) = self.start_query(request).await? else {
            return Err(EngineError::statement(
                "UPDATE and DELETE read rows with a SELECT",
            ));
        };
        let source = Arc::clone(query.source());
        if !query.is_table_pull() {
            return Err(EngineError::statement(format!(
                "UPDATE and DELETE change the rows of tables; {} is a {}",
                source.name,
                source.kind_word()
            )));
        }
        if source.window.is_some() {
            return Err(EngineError::unsupported(format!(
                "UPDATE and DELETE do not change windowed tables ({})",
                source.name
            )));
        }
        let layout = Layout::new(&source, query.column_names(), change)?;
        let mut found = query.new_rows();
        loop {
            // `next_rows` fills `found` up to a length, so each read asks for more room.
            let room = found.len() + ROWS_PER_READ;
            let end = query.next_rows(&mut found, room).await?;
            if found.len() > ROW_CHANGES_MAX {
                return Err(EngineError::resource_exhausted(format!(
                    "UPDATE and DELETE change at most {ROW_CHANGES_MAX} rows at a time; \
                     narrow the WHERE"
                )));
            }
            if end.is_some() {
                break;
            }
        }
        drop(query);
        let rows = layout.rows(&found)?;
        let mut inserter = Inserter::new(self.rt.log.as_ref(), self.rt.clock.clone(), source)?;
        let mut batches: HashMap<PartitionId, Vec<Record>> = HashMap::new();
        for values in rows {
            let (partition, record) = match change {
                RowChange::Delete => deletion(&mut inserter, &values)?,
                RowChange::Update { .. } => {
                    let (partition, mut record) = inserter.record(&values, None, None)?;
                    record.headers.push(change_header("update"));
                    (partition, record)
                }
            };
            batches.entry(partition).or_default().push(record);
        }
        let mut tickets = Vec::with_capacity(batches.len());
        for (partition, records) in batches {
            tickets.push(inserter.topic().append(partition, records).await?);
        }
        for ticket in tickets {
            ticket.await.map_err(|_| {
                EngineError::internal("log writer stopped before the change was durable")
            })??;
        }
        Ok(found.len() as u64)
    }
}

/// The tombstone deleting `values`' row, carrying what a reader of the table's changes
/// needs: that it is a delete, and the row it deleted (its value, in the table's format).
fn deletion(inserter: &mut Inserter, values: &[Value]) -> Result<(PartitionId, Record)> {
    let (_, row) = inserter.record(values, None, None)?;
    let (partition, mut tombstone) = inserter.tombstone(values)?;
    tombstone.headers.push(change_header("delete"));
    if let Some(before) = row.value {
        tombstone
            .headers
            .push((BEFORE_HEADER.to_string(), Some(before)));
    }
    Ok((partition, tombstone))
}

fn change_header(kind: &'static str) -> (String, Option<Bytes>) {
    (
        CHANGE_HEADER.to_string(),
        Some(Bytes::from_static(kind.as_bytes())),
    )
}

/// Where each schema column's value sits in the query's result, and which result column
/// replaces it.
struct Layout<'a> {
    source: &'a Source,
    /// Per schema column: the result column it is read from.
    from: Vec<usize>,
    /// The first result column holding a set value (the row's own columns come before).
    first_set: usize,
}

impl<'a> Layout<'a> {
    fn new(source: &'a Source, names: &[String], change: RowChange<'_>) -> Result<Layout<'a>> {
        let columns = &source.schema.columns;
        let own = |name: &str| names.iter().position(|n| n == name);
        let mut from = Vec::with_capacity(columns.len());
        let mut first_set = names.len();
        for column in columns {
            from.push(own(&column.name).ok_or_else(|| {
                EngineError::internal(format!("the row query lost column {}", column.name))
            })?);
        }
        if let RowChange::Update { columns: set } = change {
            first_set = names.len().checked_sub(set.len()).ok_or_else(|| {
                EngineError::internal("the row query has fewer columns than values to set")
            })?;
            for (n, name) in set.iter().enumerate() {
                let (i, column) = source.schema.find(name).ok_or_else(|| {
                    EngineError::statement(format!(
                        "Column '{name}' does not exist in {}",
                        source.name
                    ))
                })?;
                if column.kind == ColumnKind::Key {
                    return Err(EngineError::statement(format!(
                        "Column '{name}' is part of the primary key of {}: a key is not updated; \
                         delete the row and insert it again",
                        source.name
                    )));
                }
                from[i] = first_set + n;
            }
        }
        Ok(Layout {
            source,
            from,
            first_set,
        })
    }

    /// Each found row as values in schema order, with the set values in place.
    fn rows(&self, found: &ResultRows) -> Result<Vec<Vec<Value>>> {
        let columns = &self.source.schema.columns;
        let mut out = Vec::with_capacity(found.len());
        for row in found.rows() {
            let cells: Vec<CellRef<'_>> = row.collect();
            let mut values = Vec::with_capacity(columns.len());
            for (column, &at) in columns.iter().zip(&self.from) {
                let value = match cells[at] {
                    CellRef::Value(v) => v.clone(),
                    CellRef::Json(text) => {
                        let text = std::str::from_utf8(text).map_err(|_| {
                            EngineError::internal("a result cell is not UTF-8 JSON")
                        })?;
                        coerce_json_text(text, &column.ty, CoercionMode::KafkaJson)?
                    }
                };
                // A stored value has its column's type already; a set one is coerced to it.
                let value = match at >= self.first_set {
                    false => value,
                    true => coerce_to(value.clone(), &column.ty).ok_or_else(|| {
                        EngineError::statement(format!(
                            "Expected type {} for column {} but got {value:?}",
                            column.ty, column.name
                        ))
                    })?,
                };
                values.push(value);
            }
            out.push(values);
        }
        Ok(out)
    }
}
