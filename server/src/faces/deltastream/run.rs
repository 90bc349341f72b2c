//! Running a DeltaStream batch through the engine facade, statement after statement, into
//! what the task registry retains. DDL and commands go to `Engine::execute`; a query
//! (which `execute` refuses) goes to `Engine::start_query` and is read to its end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use sluice_engine::{Engine, EngineError, ErrorCode, QueryKind, QueryOutput, QueryRequest};
use sluice_protocol::deltastream::dialect::Mapped;
use sluice_protocol::statement_table::{append_rows, outcome_table};

use crate::tasks::{OutputColumn, StatementOutput, TaskFailure, TaskOutput, TASK_RESULT_BYTES_MAX};

/// Rows asked of a pull query per read: enough to amortise each wake-up, few enough that the
/// result-size check runs often.
const PULL_BATCH_ROWS: usize = 1_000;

/// Runs `statements` in order; the first failure ends the batch.
pub async fn run_batch(
    engine: Arc<Engine>,
    statements: Vec<Mapped>,
) -> Result<TaskOutput, TaskFailure> {
    let mut done = Vec::with_capacity(statements.len());
    for (index, statement) in statements.into_iter().enumerate() {
        let started = Instant::now();
        let started_ms = engine.now_ms();
        let result = match &statement {
            Mapped::Use(..) => Ok(StatementOutput::default()),
            Mapped::Engine(sql) => run_statement(&engine, sql).await,
        };
        match result {
            Ok(mut output) => {
                output.statement = match statement {
                    Mapped::Engine(sql) => sql,
                    Mapped::Use(_, name) => format!("USE {name}"),
                };
                output.elapsed = started.elapsed();
                output.started_ms = started_ms;
                output.finished_ms = engine.now_ms();
                done.push(output);
            }
            Err(e) => {
                return Err(TaskFailure {
                    code: e.code(),
                    message: e.message().to_string(),
                    statement_index: index,
                    completed: done,
                })
            }
        }
    }
    Ok(TaskOutput { statements: done })
}

async fn run_statement(engine: &Engine, sql: &str) -> Result<StatementOutput, EngineError> {
    let none = HashMap::new();
    match engine.execute(sql, &none, &none).await {
        Ok(results) => {
            // One statement in, one result out (none for a statement with no entity).
            let Some(result) = results.last() else {
                return Ok(StatementOutput::default());
            };
            let table = outcome_table(result);
            Ok(StatementOutput {
                columns: table
                    .columns
                    .into_iter()
                    .map(|(name, ty)| OutputColumn { name, ty })
                    .collect(),
                rows: table.rows,
                message: table.message,
                ..StatementOutput::default()
            })
        }
        Err(e) if e.error.code() == ErrorCode::QueryOnStatementEndpoint => {
            run_query(engine, sql).await
        }
        Err(e) => Err(e.error),
    }
}

async fn run_query(engine: &Engine, sql: &str) -> Result<StatementOutput, EngineError> {
    let none = HashMap::new();
    let request = QueryRequest {
        sql,
        properties: &none,
        session_variables: &none,
    };
    let mut handle = match engine.start_query(request).await? {
        QueryOutput::Rows(handle) => handle,
        QueryOutput::Print(_) => {
            return Err(EngineError::unsupported(
                "PRINT streams over DeltaStream's data-plane WebSocket, which this server does not serve yet",
            ))
        }
    };
    if handle.kind() == QueryKind::Push {
        // A continuous query never finishes, so it cannot be a retained result set.
        return Err(EngineError::unsupported(
            "Continuous queries stream over DeltaStream's data-plane WebSocket, which this server \
             does not serve yet; run a pull query (no EMIT CHANGES) instead",
        ));
    }
    let columns = handle
        .column_names()
        .iter()
        .zip(handle.column_types())
        .map(|(name, ty)| OutputColumn {
            name: name.clone(),
            ty: ty.clone(),
        })
        .collect();
    let mut output = StatementOutput {
        columns,
        ..StatementOutput::default()
    };
    let mut batch = handle.new_rows();
    let mut bytes = 0;
    loop {
        batch.clear();
        let end = handle.next_rows(&mut batch, PULL_BATCH_ROWS).await?;
        let before = output.rows.len();
        append_rows(&batch, &mut output.rows);
        bytes += output.rows[before..]
            .iter()
            .flatten()
            .map(|c| c.bytes())
            .sum::<usize>();
        if bytes > TASK_RESULT_BYTES_MAX {
            return Err(EngineError::new(
                ErrorCode::ResourceLimit,
                format!(
                    "The result is larger than {TASK_RESULT_BYTES_MAX} bytes; select fewer rows or columns"
                ),
            ));
        }
        if end.is_some() {
            return Ok(output);
        }
    }
}
