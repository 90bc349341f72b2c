//! Running statements through the engine facade into what the task registry retains, for
//! every face whose statements become tasks (DeltaStream, Roe). DDL and commands go to
//! `Engine::execute`; a query (which `execute` refuses) goes to `Engine::start_query` and is
//! read to its end. A continuous (push) query is refused: it never ends, so it cannot be a
//! retained result.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use sluice_engine::{
    Engine, EngineError, ErrorCode, QueryHandle, QueryKind, QueryOutput, QueryRequest,
};
use sluice_protocol::statement_split::code_words;
use sluice_protocol::statement_table::{append_rows, outcome_table};

use super::output::{OutputColumn, StatementOutput, TaskFailure, TaskOutput};
use super::registry::TASK_RESULT_BYTES_MAX;

/// Rows asked of a pull query per read: enough to amortise each wake-up, few enough that the
/// result-size check runs often.
const PULL_BATCH_ROWS: usize = 1_000;

/// One statement of a batch: SQL for the engine, or a statement the face answers itself
/// with an empty result (DeltaStream's `USE`, which only changes the echoed context) or
/// with a failure it found before the batch ran (the face's own statements), which ends
/// the batch at its place as an engine error would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStatement {
    Sql(String),
    Empty(String),
    Failed {
        text: String,
        code: ErrorCode,
        message: String,
    },
}

/// Runs `statements` in order, timing each; the first failure ends the batch.
pub async fn run_batch(
    engine: Arc<Engine>,
    statements: Vec<BatchStatement>,
) -> Result<TaskOutput, TaskFailure> {
    run_batch_with(engine, statements, HashMap::new()).await
}

/// [`run_batch`], with request `properties` for every statement and query (ksqlDB's
/// `streamsProperties` / `properties`).
pub async fn run_batch_with(
    engine: Arc<Engine>,
    statements: Vec<BatchStatement>,
    properties: HashMap<String, String>,
) -> Result<TaskOutput, TaskFailure> {
    let mut done = Vec::with_capacity(statements.len());
    for (index, statement) in statements.into_iter().enumerate() {
        let started = Instant::now();
        let started_ms = engine.now_ms();
        let (text, result) = match statement {
            BatchStatement::Empty(text) => (text, Ok(StatementOutput::default())),
            BatchStatement::Failed { code, message, .. } => {
                return Err(TaskFailure {
                    code,
                    message,
                    statement_index: index,
                    completed: done,
                })
            }
            BatchStatement::Sql(sql) => {
                let result = run_statement(&engine, &sql, &properties).await;
                (sql, result)
            }
        };
        match result {
            Ok(mut output) => {
                output.statement = text;
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

async fn run_statement(
    engine: &Engine,
    sql: &str,
    properties: &HashMap<String, String>,
) -> Result<StatementOutput, EngineError> {
    let none = HashMap::new();
    match engine.execute(sql, &none, properties).await {
        Ok(results) => {
            // One statement in, one result out (none for a statement with no entity).
            let Some(result) = results.last() else {
                // INSERT … VALUES writes one row and has no entity (nor has SET or DEFINE).
                let is_insert = code_words(sql).next().is_some_and(|w| w == "INSERT");
                return Ok(StatementOutput {
                    written_rows: u64::from(is_insert),
                    ..StatementOutput::default()
                });
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
            run_query(engine, sql, properties).await
        }
        Err(e) => Err(e.error),
    }
}

async fn run_query(
    engine: &Engine,
    sql: &str,
    properties: &HashMap<String, String>,
) -> Result<StatementOutput, EngineError> {
    let none = HashMap::new();
    let request = QueryRequest {
        sql,
        properties,
        session_variables: &none,
    };
    let handle =
        match engine.start_query(request).await? {
            QueryOutput::Rows(handle) => handle,
            QueryOutput::Print(_) => return Err(EngineError::unsupported(
                "PRINT never ends, so its records cannot be a retained result; use /query-stream",
            )),
        };
    if handle.kind() == QueryKind::Push {
        // A continuous query never finishes, so it cannot be a retained result set.
        return Err(EngineError::unsupported(
            "A continuous query (EMIT CHANGES) never ends, so it cannot be a retained result; \
             run a pull query (no EMIT CHANGES) here, or stream it through /query-stream",
        ));
    }
    collect(handle).await
}

/// A started pull query read to its end into a statement's output: columns, rows (within
/// [`TASK_RESULT_BYTES_MAX`], past which it fails with `ResourceLimit`) and what it scanned.
/// For a face that starts its queries itself (Foundry's functions bind parameters first).
pub async fn collect(mut handle: QueryHandle) -> Result<StatementOutput, EngineError> {
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
            output.scanned = Some(handle.scanned());
            return Ok(output);
        }
    }
}
