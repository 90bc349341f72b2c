//! The statement/task registry every face shares: DeltaStream's statement ids (200 vs 202
//! and polling, paged results), Roe's async query tasks, Foundry's async executions
//! (which can be canceled), command statuses.
//!
//! ```text
//!  face ─► registry::TaskRegistry::submit(owner, work) ─► Task (id, state) ─► tokio task
//!     work: runner::run_batch (statements through the engine facade) ─► output::TaskOutput
//!           | TaskFailure
//!  face ─► get(id) ─► Task::wait(budget) ─► Pending | Running | Succeeded | Failed | Canceled
//!  face ─► get(id) ─► Task::cancel (aborts the work)
//! ```
//!
//! - `registry`: the tasks, their states, expiry and memory bounds.
//! - `output`: what a finished task retains (columns, rows as JSON cells, counts, times).
//! - `runner`: a batch of statements through the engine facade into a task's output.
//! - `id`: random UUIDs for task and statement ids.

mod id;
mod output;
mod registry;
mod runner;

pub use id::{is_uuid, new_task_id};
pub use output::{OutputColumn, StatementOutput, TaskFailure, TaskOutput};
pub use registry::{
    RegistryFull, Task, TaskRef, TaskRegistry, TaskSpec, TaskState, RETAINED_RESULT_BYTES_MAX,
    STATEMENT_WAIT_MS, TASKS_MAX, TASK_RESULT_BYTES_MAX, TASK_RETENTION_MS,
};
pub use runner::{collect as collect_query, run_batch, run_batch_with, BatchStatement};
