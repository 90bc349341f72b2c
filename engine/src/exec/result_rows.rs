//! A batch of result rows, flat: one cell per output column, no allocation per row.
//!
//! A cell is either a [`Value`] or the stored JSON text of a column copied verbatim, for
//! columns whose stored text is already what query results show
//! ([`renders_as_stored`](crate::format::stored_text::renders_as_stored)). `protocol`'s
//! result encoder writes text cells as they are and renders value cells.
//!
//! A push query on a table also yields **tombstone rows** (a key deleted): its key columns
//! and nulls. Only encoders that can say "deleted" show them (ksqlDB's v1+json
//! `"tombstone":true`), through [`ResultRows::rows_with_tombstones`]; [`ResultRows::rows`]
//! leaves them out, so a face without deletes never mistakes one for a row of nulls.

use std::ops::Range;

use crate::types::Value;

/// Result rows of one width; reused between batches (`clear` keeps the buffers).
#[derive(Debug)]
pub struct ResultRows {
    width: usize,
    rows: usize,
    cells: Vec<Cell>,
    /// The JSON text of every [`Cell::Json`], back to back.
    json: Vec<u8>,
    /// Indexes of the rows that are tombstones, ascending (empty for most batches).
    tombstones: Vec<usize>,
}

#[derive(Debug)]
enum Cell {
    Value(Value),
    Json(Range<usize>),
}

/// One cell of a result row.
#[derive(Debug, Clone, Copy)]
pub enum CellRef<'a> {
    Value(&'a Value),
    /// JSON text to copy into the result as it is.
    Json(&'a [u8]),
}

impl ResultRows {
    /// Rows of `width` columns, with room for `rows_max` of them.
    pub fn new(width: usize, rows_max: usize) -> ResultRows {
        ResultRows {
            width,
            rows: 0,
            cells: Vec::with_capacity(width * rows_max),
            json: Vec::new(),
            tombstones: Vec::new(),
        }
    }

    /// Rows of plain values (tests and other producers of whole rows).
    pub fn from_values(width: usize, rows: &[Vec<Value>]) -> ResultRows {
        let mut out = ResultRows::new(width, rows.len());
        for row in rows {
            for v in row {
                out.push_value(v.clone());
            }
            out.end_row();
        }
        out
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn clear(&mut self) {
        self.rows = 0;
        self.cells.clear();
        self.json.clear();
        self.tombstones.clear();
    }

    /// Clears and frees the buffers (for a holder about to sit idle).
    pub fn release(&mut self) {
        self.rows = 0;
        self.cells = Vec::new();
        self.json = Vec::new();
        self.tombstones = Vec::new();
    }

    pub(crate) fn push_value(&mut self, value: Value) {
        self.cells.push(Cell::Value(value));
    }

    pub(crate) fn push_json(&mut self, text: &[u8]) {
        let start = self.json.len();
        self.json.extend_from_slice(text);
        self.cells.push(Cell::Json(start..self.json.len()));
    }

    /// Closes the row whose cells were just pushed.
    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
        assert_eq!(
            self.cells.len(),
            self.rows * self.width,
            "every result row has one cell per output column"
        );
    }

    /// Closes the row just pushed as a tombstone: its key columns, nulls elsewhere.
    pub(crate) fn end_tombstone_row(&mut self) {
        self.tombstones.push(self.rows);
        self.end_row();
    }

    /// Appends copies of `other`'s rows (of the same width).
    pub fn extend_from(&mut self, other: &ResultRows) {
        debug_assert_eq!(self.width, other.width, "rows of one width");
        let shift = self.json.len();
        self.json.extend_from_slice(&other.json);
        self.cells.extend(other.cells.iter().map(|cell| match cell {
            Cell::Value(v) => Cell::Value(v.clone()),
            Cell::Json(r) => Cell::Json(r.start + shift..r.end + shift),
        }));
        let first = self.rows;
        self.tombstones
            .extend(other.tombstones.iter().map(|&row| first + row));
        self.rows += other.rows;
    }

    /// A copy of the rows from `first_row` on.
    pub fn copy_rows_from(&self, first_row: usize) -> ResultRows {
        let cells = &self.cells[(first_row * self.width).min(self.cells.len())..];
        // JSON text of the copied rows starts at their first JSON cell.
        let json_start = cells
            .iter()
            .find_map(|c| match c {
                Cell::Json(r) => Some(r.start),
                Cell::Value(_) => None,
            })
            .unwrap_or(self.json.len());
        ResultRows {
            width: self.width,
            rows: self.rows.saturating_sub(first_row),
            cells: cells
                .iter()
                .map(|cell| match cell {
                    Cell::Value(v) => Cell::Value(v.clone()),
                    Cell::Json(r) => Cell::Json(r.start - json_start..r.end - json_start),
                })
                .collect(),
            json: self.json[json_start..].to_vec(),
            tombstones: self
                .tombstones
                .iter()
                .filter(|&&row| row >= first_row)
                .map(|&row| row - first_row)
                .collect(),
        }
    }

    /// The rows, in order, each as its cells; tombstone rows left out.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = CellRef<'_>>> {
        self.rows_with_tombstones()
            .filter(|(tombstone, _)| !tombstone)
            .map(|(_, cells)| cells)
    }

    /// Every row, in order, with whether it is a tombstone, each as its cells.
    pub fn rows_with_tombstones(
        &self,
    ) -> impl Iterator<Item = (bool, impl Iterator<Item = CellRef<'_>>)> {
        let mut tombstones = self.tombstones.iter().peekable();
        self.cells
            .chunks(self.width.max(1))
            .take(self.rows)
            .enumerate()
            .map(move |(i, row)| {
                let tombstone = tombstones.next_if_eq(&&i).is_some();
                let cells = row.iter().map(move |cell| match cell {
                    Cell::Value(v) => CellRef::Value(v),
                    Cell::Json(r) => CellRef::Json(&self.json[r.clone()]),
                });
                (tombstone, cells)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(rows: &ResultRows) -> Vec<Vec<String>> {
        rows.rows()
            .map(|row| {
                row.map(|cell| match cell {
                    CellRef::Value(v) => format!("{v:?}"),
                    CellRef::Json(j) => String::from_utf8_lossy(j).into_owned(),
                })
                .collect()
            })
            .collect()
    }

    #[test]
    fn copies_of_rows_read_the_same() {
        let mut rows = ResultRows::new(2, 4);
        for (i, text) in ["\"a\"", "\"bb\"", "\"ccc\""].iter().enumerate() {
            rows.push_json(text.as_bytes());
            rows.push_value(Value::Integer(i as i32));
            rows.end_row();
        }
        let tail = rows.copy_rows_from(1);
        assert_eq!(tail.len(), 2);
        assert_eq!(rendered(&tail), rendered(&rows)[1..].to_vec());
        assert!(rows.copy_rows_from(3).is_empty());

        let mut out = ResultRows::new(2, 4);
        out.push_json(b"1");
        out.push_json(b"2");
        out.end_row();
        out.extend_from(&tail);
        let mut expected = vec![vec!["1".to_owned(), "2".to_owned()]];
        expected.extend(rendered(&tail));
        assert_eq!(rendered(&out), expected);
        // The copy keeps the invariant that every row has one cell per column.
        out.push_json(b"x");
        out.push_value(Value::Null);
        out.end_row();
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn tombstones_are_kept_apart_and_survive_copies() {
        let mut rows = ResultRows::new(1, 4);
        for i in 0..4 {
            rows.push_value(Value::Integer(i));
            if i % 2 == 1 {
                rows.end_tombstone_row();
            } else {
                rows.end_row();
            }
        }
        let flags = |r: &ResultRows| -> Vec<bool> {
            r.rows_with_tombstones().map(|(t, _)| t).collect()
        };
        assert_eq!(flags(&rows), [false, true, false, true]);
        assert_eq!(rendered(&rows), [["Integer(0)"], ["Integer(2)"]]);
        let tail = rows.copy_rows_from(1);
        assert_eq!(flags(&tail), [true, false, true]);
        let mut joined = ResultRows::new(1, 8);
        joined.extend_from(&tail);
        joined.extend_from(&rows);
        assert_eq!(
            flags(&joined),
            [true, false, true, false, true, false, true]
        );
        joined.clear();
        assert_eq!(flags(&joined), Vec::<bool>::new());
    }
}
