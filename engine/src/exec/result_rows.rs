//! A batch of result rows, flat: one cell per output column, no allocation per row.
//!
//! A cell is either a [`Value`] or the stored JSON text of a column copied verbatim, for
//! columns whose stored text is already what query results show
//! ([`renders_as_stored`](crate::format::json_value::renders_as_stored)). `protocol`'s
//! result encoder writes text cells as they are and renders value cells.

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
    }

    /// Clears and frees the buffers (for a holder about to sit idle).
    pub fn release(&mut self) {
        self.rows = 0;
        self.cells = Vec::new();
        self.json = Vec::new();
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

    /// The rows, in order, each as its cells.
    pub fn rows(&self) -> impl Iterator<Item = impl Iterator<Item = CellRef<'_>>> {
        self.cells
            .chunks(self.width.max(1))
            .take(self.rows)
            .map(move |row| {
                row.iter().map(move |cell| match cell {
                    Cell::Value(v) => CellRef::Value(v),
                    Cell::Json(r) => CellRef::Json(&self.json[r.clone()]),
                })
            })
    }
}
