//! The `Engine` handle: opening, starting, and the calls every face shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog::CommandStatus;
use crate::error::{EngineError, Result};
use crate::ingest::inserter::Inserter;
use crate::ingest::session::{self, AckStream, InsertSession};
use crate::limits::{EngineLimits, INLINE_PARSE_BYTES_MAX, LARGE_PARSES_MAX};
use crate::log::{FsyncPolicy, LogHealth};
use crate::query::persistent::QueryProgress;
use crate::runtime::{Backend, Runtime};
use crate::statements::{insert_target, parse_request, KsqlError, StatementResult};

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the embedded backend keeps topics, the catalog's command log and checkpoints.
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    /// Node-wide limits on sources, queries and partitions.
    pub limits: EngineLimits,
}

/// A handle on the engine: the log, the catalog and the running queries.
pub struct Engine {
    pub(super) rt: Arc<Runtime>,
    /// Turns for parsing and planning large requests off the async workers
    /// ([`LARGE_PARSES_MAX`] at once).
    large_parses: Arc<tokio::sync::Semaphore>,
    /// Where the catalog, checkpoints and state stores live (and the embedded log's topics).
    pub(super) data_dir: PathBuf,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    fn over(rt: Runtime, data_dir: PathBuf) -> Arc<Engine> {
        Arc::new(Engine {
            rt: Arc::new(rt),
            large_parses: Arc::new(tokio::sync::Semaphore::new(LARGE_PARSES_MAX)),
            data_dir,
        })
    }

    /// Runs `work` (parsing or planning a large request) on the blocking pool, at most
    /// [`LARGE_PARSES_MAX`] at once, so it cannot stall the async workers that move other
    /// clients' acks and rows. `what` names the work in the error if it panics.
    pub(super) async fn off_the_workers<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let _turn = self
            .large_parses
            .acquire()
            .await
            .expect("the large-parse semaphore is never closed");
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| EngineError::internal(format!("{what} failed: {e}")))
    }

    /// Opens the engine over its data directory: recovers the log, replays the catalog.
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>> {
        let backend = Backend::embedded(&config.data_dir, config.fsync, &config.limits)?;
        Ok(Engine::over(
            Runtime::open(backend, config.limits)?,
            config.data_dir,
        ))
    }

    /// Opens the engine with its log and the catalog's commands (the service's command
    /// topic) on a Kafka cluster; the persistent queries' checkpoints and this node's id
    /// stay in `config.data_dir` for now.
    pub fn open_on_kafka(
        config: EngineConfig,
        kafka: crate::log::KafkaConfig,
    ) -> Result<Arc<Engine>> {
        let backend = Backend::kafka(&config.data_dir, kafka)?;
        Ok(Engine::over(
            Runtime::open(backend, config.limits)?,
            config.data_dir,
        ))
    }

    /// Opens the engine over `log` (tests and tools that hold the log themselves).
    #[cfg(any(test, feature = "internals"))]
    pub fn open_with_log(
        config: EngineConfig,
        log: Arc<dyn crate::log::LogStore>,
    ) -> Result<Arc<Engine>> {
        let backend = Backend::with_log(&config.data_dir, log)?;
        Ok(Engine::over(
            Runtime::open(backend, config.limits)?,
            config.data_dir,
        ))
    }

    /// Starts the persistent queries replayed from the catalog. Call once the async runtime
    /// runs (a server does when it binds); calling it again does nothing.
    pub fn start(&self) {
        self.rt.start_persistent_queries();
    }

    /// Runs a request's statements (`/ksql`): all validated in a sandbox, then applied, with
    /// the request's session variables and properties. Parsing a large request runs off the
    /// async threads, so it cannot stall other clients' acks and rows.
    pub async fn execute(
        &self,
        sql: &str,
        session_variables: &HashMap<String, String>,
        properties: &HashMap<String, String>,
    ) -> std::result::Result<Vec<StatementResult>, KsqlError> {
        let types = self.rt.catalog().types.clone();
        let statements = if sql.len() <= INLINE_PARSE_BYTES_MAX {
            parse_request(sql, session_variables, types)?
        } else {
            let (sql, vars) = (sql.to_string(), session_variables.clone());
            self.off_the_workers("statement parser", move || {
                parse_request(&sql, &vars, types)
            })
            .await
            .map_err(|error| KsqlError {
                error,
                statement_text: String::new(),
                entities: Vec::new(),
            })??
        };
        self.rt.execute_statements(statements, properties).await
    }

    /// Opens an insert session into stream or table `target` (as `/inserts-stream` names
    /// it): push rows on the session, read ordered, durable acks from the stream.
    pub fn insert_session(&self, target: &str) -> Result<(InsertSession, AckStream)> {
        let source = insert_target(&self.rt.catalog(), target)?;
        let inserter = Inserter::new(self.rt.log.as_ref(), self.rt.clock.clone(), source)?;
        Ok(session::open(inserter))
    }

    /// `/status`: every command applied since start (and replayed), with its status, in
    /// the order they ran.
    pub fn command_statuses(&self) -> Vec<(String, CommandStatus)> {
        self.rt.command_statuses.list()
    }

    /// `/status/{type}/{entity}/{action}`: one command's status, if it ran.
    pub fn command_status(&self, command_id: &str) -> Option<CommandStatus> {
        self.rt.command_statuses.get(command_id)
    }

    /// Where persistent query `id` stands: committed source positions against end offsets.
    /// `None` if no such query runs.
    pub fn query_progress(&self, id: &str) -> Option<QueryProgress> {
        self.rt.persistent.progress(self.rt.log.as_ref(), id)
    }

    /// The engine's shared state, for the per-stage benchmarks and fuzz targets only.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn internals(&self) -> &Runtime {
        &self.rt
    }

    /// The log's health: partitions whose writes fail, that stopped, or that hold damaged
    /// records. `/healthcheck` reports it.
    pub fn health(&self) -> LogHealth {
        self.rt.log.health()
    }

    /// The wall clock the engine stamps records with, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.rt.clock.now_ms()
    }
}
