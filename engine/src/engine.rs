//! The `Engine`: one handle on the log, the catalog and the running queries.
//!
//! Opening an engine recovers the log (truncating torn tails), then replays the catalog
//! journal so every stream that was created comes back before the first request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::catalog::{CatalogState, QueryRegistry};
use crate::clock::Clock;
use crate::data_dir;
use crate::error::{EngineError, Result};
use crate::log::Journal;
use crate::log::{EmbeddedLog, LogConfig};
use crate::log::{FsyncPolicy, LogStore};
use crate::query::persistent::PersistentQueries;
use crate::query::shared_batches::SharedBatches;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
}

pub struct Engine {
    pub(crate) log: Arc<dyn LogStore>,
    pub(crate) catalog: RwLock<Arc<CatalogState>>,
    pub(crate) journal: Mutex<Journal>,
    /// Serialises `/ksql` requests the way ksqlDB's command topic does: one statement list
    /// is validated and applied before the next starts.
    pub(crate) ddl: tokio::sync::Mutex<()>,
    pub queries: QueryRegistry,
    /// Result batches identical push queries share.
    pub shared_batches: SharedBatches,
    pub(crate) command_seq: AtomicU64,
    pub(crate) command_statuses: Mutex<Vec<(String, String)>>,
    pub clock: Clock,
    /// Running persistent queries (CSAS, CTAS, INSERT INTO … SELECT).
    pub(crate) persistent: Arc<PersistentQueries>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>> {
        std::fs::create_dir_all(&config.data_dir)?;
        let log_config = LogConfig {
            fsync: config.fsync,
            ..LogConfig::default()
        };
        let log = EmbeddedLog::open(&config.data_dir, log_config)?;
        let (journal, entries) =
            Journal::open(&config.data_dir.join(data_dir::CATALOG_JOURNAL_FILE))?;
        let engine = Arc::new(Engine {
            log,
            catalog: RwLock::new(Arc::new(CatalogState::default())),
            journal: Mutex::new(journal),
            ddl: tokio::sync::Mutex::new(()),
            queries: QueryRegistry::default(),
            shared_batches: SharedBatches::default(),
            command_seq: AtomicU64::new(0),
            command_statuses: Mutex::new(Vec::new()),
            clock: Clock::system(),
            persistent: Arc::new(PersistentQueries::new(config.data_dir.clone())),
        });
        engine.replay(&entries)?;
        Ok(engine)
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<CatalogState> {
        Arc::clone(&self.catalog.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn set_catalog(&self, state: CatalogState) {
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
    }

    pub fn log(&self) -> &Arc<dyn LogStore> {
        &self.log
    }

    pub(crate) fn next_command_seq(&self) -> u64 {
        self.command_seq.fetch_add(1, Ordering::SeqCst)
    }

    pub(crate) fn record_command_status(&self, command_id: &str, status: &str) {
        let mut statuses = self
            .command_statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        statuses.retain(|(id, _)| id != command_id);
        statuses.push((command_id.to_string(), status.to_string()));
    }

    /// `/status`: every command applied since start (and replayed), with its status.
    pub fn command_statuses(&self) -> Vec<(String, String)> {
        self.command_statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn journal_append(&self, entry: &[u8]) -> Result<()> {
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(entry)
    }

    pub(crate) fn internal(message: impl Into<String>) -> EngineError {
        EngineError::internal(message.into())
    }
}
