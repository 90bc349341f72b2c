//! Name resolution for a query over one source: which row slot (and type) a column name
//! refers to, and resolvers that record what expressions read.
//!
//! The row every expression sees is the source's columns in declaration order followed by
//! the pseudo columns ROWTIME, ROWPARTITION and ROWOFFSET; select expressions also see one
//! slot per table function call after those (see `table_function`).

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::expr::{compile, ColumnResolver, CompiledExpr};
use crate::types::schema::{
    PSEUDO_COLUMN_COUNT, PSEUDO_ROWOFFSET, PSEUDO_ROWPARTITION, PSEUDO_ROWTIME,
};
use crate::types::SqlType;

/// Column slots of the row that expressions are evaluated against.
pub(crate) struct SourceResolver<'a> {
    pub(crate) source: &'a Source,
    pub(crate) alias: Option<&'a str>,
}

impl SourceResolver<'_> {
    pub(crate) fn pseudo_base(&self) -> usize {
        crate::exec::row_decoder::pseudo_base(self.source)
    }

    /// Length of the rows this resolver describes: columns, then pseudo columns.
    pub(crate) fn row_len(&self) -> usize {
        self.pseudo_base() + PSEUDO_COLUMN_COUNT
    }
}

impl ColumnResolver for SourceResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        if let Some(q) = qualifier {
            if q != self.source.name && Some(q) != self.alias {
                return None;
            }
        }
        if let Some((i, c)) = self.source.schema.find(name) {
            return Some((i, c.ty.clone()));
        }
        let base = self.pseudo_base();
        if self.source.window.is_some() {
            // A windowed source's rows carry its key's window before the pseudo columns.
            let bounds = self.source.schema.columns.len();
            match name {
                "WINDOWSTART" => return Some((bounds, SqlType::BigInt)),
                "WINDOWEND" => return Some((bounds + 1, SqlType::BigInt)),
                _ => {}
            }
        }
        match name {
            PSEUDO_ROWTIME => Some((base, SqlType::BigInt)),
            PSEUDO_ROWPARTITION => Some((base + 1, SqlType::Integer)),
            PSEUDO_ROWOFFSET => Some((base + 2, SqlType::BigInt)),
            _ => None,
        }
    }
}

/// Wraps a resolver and remembers which of ROWPARTITION and ROWOFFSET an expression used,
/// for the checks that pull and scalable push queries make on them.
pub(crate) struct PseudoColumnRecorder<'a> {
    inner: &'a SourceResolver<'a>,
    used: std::cell::RefCell<Vec<&'static str>>,
}

impl<'a> PseudoColumnRecorder<'a> {
    pub(crate) fn new(inner: &'a SourceResolver<'a>) -> Self {
        PseudoColumnRecorder {
            inner,
            used: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The disallowed pseudo columns seen since the last call, in first-use order.
    pub(crate) fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.used.borrow_mut())
    }
}

impl ColumnResolver for PseudoColumnRecorder<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let found = self.inner.resolve(qualifier, name)?;
        // A declared column of the same name shadows the pseudo column.
        let base = self.inner.pseudo_base();
        for (slot, pseudo) in [
            (base + 1, PSEUDO_ROWPARTITION),
            (base + 2, PSEUDO_ROWOFFSET),
        ] {
            let mut used = self.used.borrow_mut();
            if found.0 == slot && !used.contains(&pseudo) {
                used.push(pseudo);
            }
        }
        Some(found)
    }
}

/// A resolver that remembers every slot it resolved: the columns compiled expressions read.
pub(crate) struct RecordingResolver<'a> {
    pub(crate) inner: &'a dyn ColumnResolver,
    pub(crate) slots: std::cell::RefCell<Vec<usize>>,
}

impl ColumnResolver for RecordingResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        let found = self.inner.resolve(qualifier, name);
        if let Some((slot, _)) = &found {
            self.slots.borrow_mut().push(*slot);
        }
        found
    }
}

/// Compiles a WHERE clause, which must be BOOLEAN.
pub(crate) fn compile_where(
    expr: Option<&crate::sql::ast::Expr>,
    resolver: &dyn ColumnResolver,
) -> Result<Option<CompiledExpr>> {
    let Some(expr) = expr else {
        return Ok(None);
    };
    let compiled = match compile(expr, resolver) {
        Ok(c) => c,
        Err(e) => {
            // Window bounds exist only in a windowed source's rows, not in the rows a
            // windowed aggregation reads (ksqlDB's `FilterTypeValidator` text).
            for bound in ["WINDOWSTART", "WINDOWEND"] {
                if resolver.resolve(None, bound).is_none() && mentions_column(expr, bound) {
                    return Err(EngineError::statement(format!(
                        "Error in WHERE expression: Unknown column {bound}."
                    )));
                }
            }
            return Err(e);
        }
    };
    if *compiled.sql_type() != SqlType::Boolean {
        return Err(EngineError::statement(format!(
            "Type error in WHERE expression: Should evaluate to boolean but is {} instead.",
            compiled.sql_type()
        )));
    }
    Ok(Some(compiled))
}

/// Whether `expr` reads a column called `name` (as text: enough for an error message).
fn mentions_column(expr: &crate::sql::ast::Expr, name: &str) -> bool {
    let text = expr.to_string().to_ascii_uppercase();
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| word == name)
}
