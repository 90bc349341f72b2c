//! INSERT INTO … VALUES: evaluate the literals, coerce them to the columns, append one
//! record, and wait until it is durable.

use std::sync::Arc;

use crate::catalog::Source;
use crate::runtime::Runtime;
use crate::error::{EngineError, Result};
use crate::expr::{compile, ColumnResolver};
use crate::ingest::inserter::{coerce_to, Inserter};
use crate::sql::ast::{Expr, Ident, Literal};
use crate::types::schema::{PSEUDO_ROWOFFSET, PSEUDO_ROWPARTITION, PSEUDO_ROWTIME};
use crate::types::{ColumnKind, SqlType, Value};

/// A validated row ready to append.
#[derive(Debug)]
pub struct PlannedRow {
    values: Vec<Value>,
    rowtime: Option<i64>,
}

/// Resolves no columns: INSERT VALUES takes literals and expressions over literals only.
struct NoColumns;

impl ColumnResolver for NoColumns {
    fn resolve(&self, _qualifier: Option<&str>, _name: &str) -> Option<(usize, SqlType)> {
        None
    }
}

pub(crate) fn plan(
    _engine: &Runtime,
    source: &Arc<Source>,
    columns: Option<&[Ident]>,
    exprs: &[Expr],
) -> Result<PlannedRow> {
    let schema = &source.schema;
    let names: Vec<String> = match columns {
        Some(cols) => {
            // ksqlDB's AST builder checks the counts before anything is resolved.
            if cols.len() != exprs.len() {
                return Err(EngineError::statement(format!(
                    "Failed to prepare statement: Expected number columns and values to \
                     match: {}, {}",
                    cols.len(),
                    exprs.len()
                )));
            }
            cols.to_vec()
        }
        // Without a column list the values follow ksqlDB's logical schema: key columns
        // first, then value columns, each in declaration order.
        None => schema
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Key)
            .chain(schema.columns.iter().filter(|c| c.kind != ColumnKind::Key))
            .map(|c| c.name.clone())
            .collect(),
    };
    if names.len() != exprs.len() {
        return Err(EngineError::statement(format!(
            "Expected a value for each column. Expected Columns: [{}]. Got [{}]",
            names.join(", "),
            exprs.len()
        )));
    }
    for name in &names {
        // A declared column of that name is an ordinary column.
        let pseudo = name == PSEUDO_ROWPARTITION || name == PSEUDO_ROWOFFSET;
        if pseudo && schema.find(name).is_none() {
            return Err(EngineError::statement(format!(
                "Inserting into column `{name}` is not allowed."
            )));
        }
    }
    let mut values = vec![Value::Null; schema.columns.len()];
    let mut rowtime = None;
    for (name, expr) in names.iter().zip(exprs) {
        let value = literal_value(expr)?;
        if name == PSEUDO_ROWTIME {
            rowtime = match coerce_to(value.clone(), &SqlType::BigInt) {
                Some(Value::BigInt(ms)) => Some(ms),
                Some(Value::Null) => None,
                _ => return Err(mismatch(name, &SqlType::BigInt, &value)),
            };
            continue;
        }
        let (index, column) = schema.find(name).ok_or_else(|| {
            EngineError::statement(format!("Column name `{name}` does not exist."))
        })?;
        values[index] = coerce_to(value.clone(), &column.ty)
            .ok_or_else(|| mismatch(name, &column.ty, &value))?;
    }
    for column in schema.columns.iter().filter(|c| c.kind == ColumnKind::Key) {
        let (index, _) = schema
            .find(&column.name)
            .expect("key column is in its own schema");
        if values[index].is_null() && source.kind == crate::sql::ast::SourceKind::Table {
            return Err(EngineError::statement(format!(
                "Value for primary key column(s) {} is required for tables",
                column.name
            )));
        }
    }
    Ok(PlannedRow { values, rowtime })
}

/// Evaluates one VALUES expression. A bare NULL takes the column's type (ksqlDB accepts
/// it, although NULL inside an expression needs a CAST); a column reference names no
/// source here, so its qualifier (or the column itself) cannot resolve.
fn literal_value(expr: &Expr) -> Result<Value> {
    match expr {
        Expr::Literal(Literal::Null) => Ok(Value::Null),
        Expr::Column {
            qualifier: Some(q), ..
        } => Err(EngineError::statement(format!(
            "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
        ))),
        _ => compile(expr, &NoColumns)?.eval(&[]),
    }
}

fn mismatch(name: &str, ty: &SqlType, value: &Value) -> EngineError {
    EngineError::statement(format!(
        "Expected type {ty} for field {name} but got {value:?}"
    ))
}

pub(crate) async fn append(engine: &Runtime, source: &Arc<Source>, row: PlannedRow) -> Result<()> {
    let mut inserter = Inserter::new(engine.log.as_ref(), engine.clock.clone(), Arc::clone(source))?;
    let (partition, record) = inserter.record(&row.values, None, row.rowtime)?;
    let ticket = inserter.topic().append(partition, vec![record]).await?;
    ticket
        .await
        .map_err(|_| EngineError::internal("log writer stopped before the insert was durable"))??;
    Ok(())
}
