//! The statement/task registry: ids, states, retained results, expiry.
//!
//! A face submits work (a batch of statements run through the engine facade) and gets a
//! task back at once; the work runs on its own tokio task. The face waits on the task's
//! state for as long as its protocol lets a request block (DeltaStream answers 202 past its
//! budget, Roe's async call not at all) and answers from the retained result later: pages of
//! rows (DeltaStream's `partitionID`), status and result (Roe), a command's status.
//!
//! Everything is bounded: at most [`TASKS_MAX`] tasks, finished ones kept for
//! [`TASK_RETENTION_MS`], and their retained rows within [`RETAINED_RESULT_BYTES_MAX`] in
//! total (oldest finished tasks go first).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_engine::ErrorCode;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::id::new_task_id;
use super::output::{TaskFailure, TaskOutput};

/// Most tasks held at once, running or finished: each finished one holds its result rows,
/// and a client that submits without ever polling must not grow the server without bound.
pub const TASKS_MAX: usize = 1024;

/// How long a finished task stays retrievable. Clients poll every second or so and page
/// through results right after; Roe's users fetch a result minutes later at most. Ten
/// minutes covers both with room, and bounds what an abandoned task costs.
pub const TASK_RETENTION_MS: u64 = 10 * 60 * 1000;

/// Total bytes (estimated) of result rows all finished tasks may retain; past it the oldest
/// finished tasks are dropped early. A quarter of a GiB keeps a busy node's memory flat.
pub const RETAINED_RESULT_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Bytes (estimated) of result rows one task may retain: an eighth of the total, so one
/// huge result cannot evict every other client's results at once. Faces stop collecting
/// rows past it and fail the statement with a resource-limit error.
pub const TASK_RESULT_BYTES_MAX: usize = RETAINED_RESULT_BYTES_MAX / 8;

/// How long a statement request waits for its task before answering "still running"
/// (DeltaStream's 202). Its docs give no number; its clients poll about once a second, so a
/// second's wait costs a fast statement nothing and a slow one a single poll.
pub const STATEMENT_WAIT_MS: u64 = 1_000;

/// What a face submits besides the work itself.
#[derive(Debug, Clone, Default)]
pub struct TaskSpec {
    /// The principal submitting it (see `Auth::may_see`).
    pub owner: String,
    /// The request's SQL, as sent.
    pub sql: String,
    /// How many statements the batch has (more than one gets per-statement ids).
    pub statement_count: usize,
    /// ms since the epoch.
    pub created_ms: i64,
    /// Session context the face echoes on every read of the task (DeltaStream's
    /// `metadata.context`), as name/value pairs.
    pub context: Vec<(String, String)>,
    /// The face that submitted it, for a face whose ids name only its own tasks (Foundry's
    /// executions); empty for the statement faces, which share theirs.
    pub origin: &'static str,
}

/// Where a task stands.
#[derive(Debug, Clone)]
pub enum TaskState {
    /// Submitted, not started yet.
    Pending,
    Running,
    Succeeded(Arc<TaskOutput>),
    Failed(Arc<TaskFailure>),
    /// Ended by [`Task::cancel`] before it finished.
    Canceled,
}

impl TaskState {
    pub fn is_finished(&self) -> bool {
        !matches!(self, TaskState::Pending | TaskState::Running)
    }
}

/// The registry is full of running tasks; the client should retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many statements are running; retry later")]
pub struct RegistryFull;

/// One submitted batch of work.
#[derive(Debug)]
pub struct Task {
    id: String,
    owner: String,
    sql: String,
    created_ms: i64,
    context: Vec<(String, String)>,
    /// One id per statement of a multi-statement batch (DeltaStream's `statementIDs`); each
    /// resolves to this task and that statement. Empty for a single statement.
    statement_ids: Vec<String>,
    origin: &'static str,
    state: watch::Sender<TaskState>,
    finished: Mutex<Option<(Instant, i64)>>,
    cancel: Mutex<CancelControl>,
}

/// What [`Task::cancel`] needs: the running work's abort handle once it has one, and
/// whether a cancel came before it did.
#[derive(Debug, Default)]
struct CancelControl {
    work: Option<AbortHandle>,
    requested: bool,
}

impl Task {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The principal that submitted it (see `Auth::may_see`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// When it was submitted, ms since the epoch.
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// The session context the submitter recorded.
    pub fn context(&self) -> &[(String, String)] {
        &self.context
    }

    pub fn statement_ids(&self) -> &[String] {
        &self.statement_ids
    }

    /// The face that submitted it ([`TaskSpec::origin`]).
    pub fn origin(&self) -> &'static str {
        self.origin
    }

    /// Stops the task's work if it has not finished: its state becomes
    /// [`TaskState::Canceled`] (and what the work held, e.g. a running query, is dropped).
    /// False if it had already finished.
    pub fn cancel(&self) -> bool {
        if self.state.borrow().is_finished() {
            return false;
        }
        let mut control = self
            .cancel
            .lock()
            .expect("task lock is never held across a panic");
        control.requested = true;
        if let Some(work) = &control.work {
            work.abort();
        }
        true
    }

    /// Records the running work's abort handle; aborts it at once if a cancel came first.
    fn started(&self, work: AbortHandle) {
        let mut control = self
            .cancel
            .lock()
            .expect("task lock is never held across a panic");
        if control.requested {
            work.abort();
        }
        control.work = Some(work);
    }

    pub fn state(&self) -> TaskState {
        self.state.borrow().clone()
    }

    /// When it finished, ms since the epoch.
    pub fn finished_ms(&self) -> Option<i64> {
        self.finished
            .lock()
            .expect("task lock is never held across a panic")
            .map(|(_, ms)| ms)
    }

    /// Waits up to `budget` for the task to finish; returns its state then.
    pub async fn wait(&self, budget: Duration) -> TaskState {
        let mut rx = self.state.subscribe();
        // Timed out or not, the state now is the answer (the sender cannot be gone while
        // `self` lives).
        let _ = tokio::time::timeout(budget, rx.wait_for(TaskState::is_finished)).await;
        self.state()
    }

    /// The state the task ended in, if it ends within `budget`: what a face that answers
    /// synchronously when it can (DeltaStream's 200 vs 202, Foundry's `completed` vs
    /// `submitted`) decides on. A zero budget (`--statement-wait-ms 0`) is `None` at once,
    /// even for a task that has already ended, so clients always take the polling path.
    pub async fn finished_within(&self, budget: Duration) -> Option<TaskState> {
        if budget.is_zero() {
            return None;
        }
        Some(self.wait(budget).await).filter(TaskState::is_finished)
    }

    fn finished_before(&self, deadline: Instant) -> bool {
        self.finished
            .lock()
            .expect("task lock is never held across a panic")
            .is_some_and(|(at, _)| at < deadline)
    }

    fn finished_at(&self) -> Option<Instant> {
        self.finished
            .lock()
            .expect("task lock is never held across a panic")
            .map(|(at, _)| at)
    }

    fn retained_bytes(&self) -> usize {
        match &*self.state.borrow() {
            TaskState::Succeeded(out) => out.retained_bytes_estimate(),
            TaskState::Failed(f) => f
                .completed
                .iter()
                .map(|s| s.retained_bytes_estimate())
                .sum(),
            TaskState::Pending | TaskState::Running | TaskState::Canceled => 0,
        }
    }
}

/// A task found by id: the whole batch, or one statement of it.
#[derive(Debug, Clone)]
pub struct TaskRef {
    pub task: Arc<Task>,
    /// `Some(i)` when the id named statement `i` of a multi-statement batch.
    pub statement: Option<usize>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: HashMap<String, Arc<Task>>,
    /// Statement id → (task id, statement index).
    statement_ids: HashMap<String, (String, usize)>,
    retained_bytes: usize,
}

/// The registry every face shares.
#[derive(Debug)]
pub struct TaskRegistry {
    inner: Mutex<Inner>,
    retention: Duration,
}

impl Default for TaskRegistry {
    fn default() -> TaskRegistry {
        TaskRegistry::new(Duration::from_millis(TASK_RETENTION_MS))
    }
}

impl TaskRegistry {
    pub fn new(retention: Duration) -> TaskRegistry {
        TaskRegistry {
            inner: Mutex::new(Inner::default()),
            retention,
        }
    }

    /// Registers a task as `spec` describes, and starts `work` on its own tokio task.
    pub fn submit<F>(self: &Arc<Self>, spec: TaskSpec, work: F) -> Result<Arc<Task>, RegistryFull>
    where
        F: Future<Output = Result<TaskOutput, TaskFailure>> + Send + 'static,
    {
        let task = {
            let mut inner = self.lock();
            self.sweep(&mut inner);
            if inner.tasks.len() >= TASKS_MAX && !evict_oldest_finished(&mut inner) {
                return Err(RegistryFull);
            }
            let statement_ids: Vec<String> = if spec.statement_count > 1 {
                (0..spec.statement_count).map(|_| new_task_id()).collect()
            } else {
                Vec::new()
            };
            let task = Arc::new(Task {
                id: new_task_id(),
                owner: spec.owner,
                sql: spec.sql,
                created_ms: spec.created_ms,
                context: spec.context,
                statement_ids,
                origin: spec.origin,
                state: watch::Sender::new(TaskState::Pending),
                finished: Mutex::new(None),
                cancel: Mutex::new(CancelControl::default()),
            });
            for (index, sid) in task.statement_ids.iter().enumerate() {
                inner
                    .statement_ids
                    .insert(sid.clone(), (task.id.clone(), index));
            }
            inner.tasks.insert(task.id.clone(), Arc::clone(&task));
            task
        };
        let (registry, running) = (Arc::clone(self), Arc::clone(&task));
        tokio::spawn(async move {
            running.state.send_replace(TaskState::Running);
            // The work runs in a task of its own so that a panic in it fails this task
            // instead of leaving it running forever, and so that it can be aborted.
            let work = tokio::spawn(work);
            running.started(work.abort_handle());
            let state = match work.await {
                Ok(Ok(output)) => TaskState::Succeeded(Arc::new(output)),
                Ok(Err(failure)) => TaskState::Failed(Arc::new(failure)),
                Err(e) if e.is_cancelled() => TaskState::Canceled,
                Err(e) => TaskState::Failed(Arc::new(TaskFailure {
                    code: ErrorCode::Internal,
                    message: format!("the statement's task failed: {e}"),
                    statement_index: 0,
                    completed: Vec::new(),
                })),
            };
            registry.finish(&running, state);
        });
        Ok(task)
    }

    /// The task (or statement of a batch) with id `id`, if it is still retained.
    pub fn get(&self, id: &str) -> Option<TaskRef> {
        let mut inner = self.lock();
        self.sweep(&mut inner);
        if let Some(task) = inner.tasks.get(id) {
            return Some(TaskRef {
                task: Arc::clone(task),
                statement: None,
            });
        }
        let (task_id, index) = inner.statement_ids.get(id)?;
        let task = inner.tasks.get(task_id)?;
        Some(TaskRef {
            task: Arc::clone(task),
            statement: Some(*index),
        })
    }

    /// Tasks held now, running or finished.
    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn finish(&self, task: &Arc<Task>, state: TaskState) {
        let finished_ms = now_ms();
        *task
            .finished
            .lock()
            .expect("task lock is never held across a panic") = Some((Instant::now(), finished_ms));
        task.state.send_replace(state);
        let bytes = task.retained_bytes();
        let mut inner = self.lock();
        if !inner.tasks.contains_key(&task.id) {
            return; // evicted while running (cannot happen today: only finished ones go)
        }
        inner.retained_bytes += bytes;
        while inner.retained_bytes > RETAINED_RESULT_BYTES_MAX {
            if !evict_oldest_finished(&mut inner) {
                break;
            }
        }
    }

    fn sweep(&self, inner: &mut Inner) {
        let Some(deadline) = Instant::now().checked_sub(self.retention) else {
            return;
        };
        let expired: Vec<String> = inner
            .tasks
            .values()
            .filter(|t| t.finished_before(deadline))
            .map(|t| t.id.clone())
            .collect();
        for id in expired {
            remove(inner, &id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("registry lock is never held across a panic")
    }
}

/// Drops the finished task that finished first; false if every task is still running.
fn evict_oldest_finished(inner: &mut Inner) -> bool {
    let oldest = inner
        .tasks
        .values()
        .filter_map(|t| t.finished_at().map(|at| (at, t.id.clone())))
        .min();
    match oldest {
        Some((_, id)) => {
            remove(inner, &id);
            true
        }
        None => false,
    }
}

fn remove(inner: &mut Inner, id: &str) {
    if let Some(task) = inner.tasks.remove(id) {
        inner.retained_bytes = inner.retained_bytes.saturating_sub(task.retained_bytes());
        for sid in &task.statement_ids {
            inner.statement_ids.remove(sid);
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::output::StatementOutput;
    use sluice_protocol::statement_table::Cell;

    fn spec(owner: &str, statement_count: usize, created_ms: i64) -> TaskSpec {
        TaskSpec {
            owner: owner.into(),
            sql: "x".into(),
            statement_count,
            created_ms,
            context: vec![("databaseName".into(), "db".into())],
            origin: "",
        }
    }

    fn output(rows: usize) -> TaskOutput {
        TaskOutput {
            statements: vec![StatementOutput {
                statement: "SELECT 1;".into(),
                rows: vec![vec![Cell::Text("x".into())]; rows],
                ..StatementOutput::default()
            }],
        }
    }

    #[tokio::test]
    async fn a_task_runs_and_keeps_its_result() {
        let registry = Arc::new(TaskRegistry::default());
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let task = registry
            .submit(spec("fred", 1, 7), async move {
                let _ = wait.await;
                Ok(output(3))
            })
            .expect("room");
        assert!(!task.wait(Duration::from_millis(20)).await.is_finished());
        release.send(()).expect("task waits");
        match task.wait(Duration::from_secs(5)).await {
            TaskState::Succeeded(out) => assert_eq!(out.statements[0].rows.len(), 3),
            other => panic!("{other:?}"),
        }
        let found = registry.get(task.id()).expect("retained");
        assert_eq!((found.task.owner(), found.task.created_ms()), ("fred", 7));
        assert_eq!(found.task.context()[0].1, "db");
        assert!(found.task.finished_ms().is_some());
        assert!(registry.get("nope").is_none());
    }

    #[tokio::test]
    async fn a_canceled_task_stops_its_work() {
        let registry = Arc::new(TaskRegistry::default());
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let task = registry
            .submit(spec("a", 1, 0), async move {
                // Held by the work: dropped when the work is aborted.
                let _guard = dropped_tx;
                std::future::pending::<()>().await;
                Ok(output(0))
            })
            .expect("room");
        assert!(task.cancel(), "running: canceled");
        assert!(matches!(
            task.wait(Duration::from_secs(5)).await,
            TaskState::Canceled
        ));
        assert!(dropped_rx.await.is_err(), "the work was dropped");
        assert!(!task.cancel(), "already finished");
        let done = registry
            .submit(spec("a", 1, 0), async { Ok(output(1)) })
            .expect("room");
        assert!(done.wait(Duration::from_secs(5)).await.is_finished());
        assert!(!done.cancel(), "a finished task stays as it ended");
        assert!(matches!(done.state(), TaskState::Succeeded(_)));
    }

    #[tokio::test]
    async fn statement_ids_resolve_to_their_statement() {
        let registry = Arc::new(TaskRegistry::default());
        let task = registry
            .submit(spec("a", 2, 0), async { Ok(output(0)) })
            .expect("room");
        assert_eq!(task.statement_ids().len(), 2);
        let second = registry.get(&task.statement_ids()[1]).expect("alias");
        assert_eq!(second.statement, Some(1));
        assert_eq!(second.task.id(), task.id());
    }

    #[tokio::test]
    async fn a_panicking_task_fails_instead_of_running_forever() {
        let registry = Arc::new(TaskRegistry::default());
        let task = registry
            .submit(spec("a", 1, 0), async { panic!("boom") })
            .expect("room");
        match task.wait(Duration::from_secs(5)).await {
            TaskState::Failed(f) => assert_eq!(f.code, ErrorCode::Internal),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn finished_tasks_expire_and_running_ones_fill_the_registry() {
        let registry = Arc::new(TaskRegistry::new(Duration::from_millis(30)));
        let done = registry
            .submit(spec("a", 1, 0), async { Ok(output(1)) })
            .expect("room");
        assert!(done.wait(Duration::from_secs(5)).await.is_finished());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(registry.get(done.id()).is_none(), "expired");

        let (_hold, wait) = tokio::sync::watch::channel(());
        for _ in 0..TASKS_MAX {
            let mut w = wait.clone();
            registry
                .submit(spec("a", 1, 0), async move {
                    let _ = w.changed().await;
                    Ok(output(0))
                })
                .expect("room");
        }
        assert_eq!(
            registry
                .submit(spec("a", 1, 0), async { Ok(output(0)) })
                .err(),
            Some(RegistryFull)
        );
    }
}
