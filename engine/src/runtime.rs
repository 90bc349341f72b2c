//! The engine's shared state: the log, the catalog and its command log, and the running
//! queries. The facade (`api`) owns one; statements and queries borrow what they need.
//!
//! Opening recovers the log (truncating torn tails), then replays the command log so every
//! stream, table and persistent query that was created comes back before the first request.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::catalog::{
    CatalogState, CommandLog, CommandStatus, CommandStatuses, JournalCommandLog, QueryRegistry,
};
use crate::clock::Clock;
use crate::data_dir;
use crate::error::Result;
use crate::limits::EngineLimits;
use crate::log::{EmbeddedLog, FsyncPolicy, KafkaConfig, KafkaLog, LogConfig, LogStore};
use crate::plan::pull_cache::PullPlanCache;
use crate::query::table_view::TableViews;
use crate::query::persistent::{
    CheckpointStore, JournalCheckpoints, KafkaChangelogs, KafkaCheckpoints, PersistentQueries, QueryLeases,
};
use crate::query::shared_batches::SharedBatches;
use crate::state::{StateBackend, StateConfig};

/// The storage an engine runs on: where records, catalog commands and persistent queries'
/// checkpoints are kept. The embedded backend keeps all three in a data directory; a Kafka
/// backend keeps them in topics.
pub(crate) struct Backend {
    pub(crate) log: Arc<dyn LogStore>,
    pub(crate) commands: Arc<dyn CommandLog>,
    pub(crate) checkpoints: Arc<dyn CheckpointStore>,
    /// Persistent queries' state stores.
    pub(crate) state: Arc<StateBackend>,
    /// Which persistent queries this node runs, when nodes share a service; `None`: all.
    pub(crate) leases: Option<Arc<dyn QueryLeases>>,
}

impl Backend {
    /// The embedded backend over `data_dir`.
    pub(crate) fn embedded(
        data_dir: &Path,
        fsync: FsyncPolicy,
        limits: &EngineLimits,
    ) -> Result<Backend> {
        std::fs::create_dir_all(data_dir)?;
        let log_config = LogConfig {
            fsync,
            partitions_max: limits.partitions_per_node_max,
            ..LogConfig::default()
        };
        Ok(Backend {
            log: EmbeddedLog::open(data_dir, log_config)?,
            commands: Arc::new(JournalCommandLog::open(
                &data_dir.join(data_dir::CATALOG_JOURNAL_FILE),
            )?),
            checkpoints: Arc::new(JournalCheckpoints::new(data_dir)),
            state: Arc::new(StateBackend::embedded(data_dir, StateConfig::default())?),
            leases: None,
        })
    }

    /// Records in `log`; catalog commands and checkpoints in `data_dir` (tests and tools
    /// that hold a log themselves, and the Kafka log with one node's own catalog).
    pub(crate) fn with_log(data_dir: &Path, log: Arc<dyn LogStore>) -> Result<Backend> {
        std::fs::create_dir_all(data_dir)?;
        Ok(Backend {
            log,
            commands: Arc::new(JournalCommandLog::open(
                &data_dir.join(data_dir::CATALOG_JOURNAL_FILE),
            )?),
            checkpoints: Arc::new(JournalCheckpoints::new(data_dir)),
            state: Arc::new(StateBackend::embedded(data_dir, StateConfig::default())?),
            leases: None,
        })
    }

    /// Records, the catalog's commands and persistent queries' checkpoints in topics of
    /// the Kafka cluster `kafka` names, shared with every node of the service (the command
    /// topic, the checkpoint topic); each persistent query runs on the node holding its
    /// lease in the service's lease group. State stores in `data_dir`, each copied to its
    /// query's changelog topic (a node taking a query over restores its state from there);
    /// `data_dir` also keeps this node's id.
    pub(crate) fn kafka(data_dir: &Path, kafka: KafkaConfig) -> Result<Backend> {
        std::fs::create_dir_all(data_dir)?;
        let log = KafkaLog::open(kafka)?;
        let commands = log.open_command_log(node_id(data_dir)?)?;
        let (checkpoints, leases) = log.open_query_leases()?;
        let changelogs = KafkaChangelogs(log.open_changelogs()?);
        Ok(Backend {
            log,
            commands: Arc::new(commands),
            checkpoints: Arc::new(KafkaCheckpoints::new(checkpoints)),
            state: Arc::new(
                StateBackend::embedded(data_dir, StateConfig::default())?
                    .with_changelogs(Arc::new(changelogs)),
            ),
            leases: Some(Arc::new(leases)),
        })
    }
}

/// The file in a node's data directory holding its id.
const NODE_ID_FILE: &str = "node_id";

/// This node's id, made at its first start and kept in its data directory: the nodes of a
/// service tell their commands (and the persistent queries each runs) apart by it, also
/// across restarts.
fn node_id(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let id = format!("node-{:016x}", rand::random::<u64>());
    let temporary = data_dir.join(format!("{NODE_ID_FILE}.tmp"));
    std::fs::write(&temporary, &id)?;
    std::fs::rename(&temporary, &path)?;
    Ok(id)
}

pub struct Runtime {
    pub(crate) log: Arc<dyn LogStore>,
    pub(crate) catalog: RwLock<Arc<CatalogState>>,
    pub(crate) commands: Arc<dyn CommandLog>,
    /// Serialises `/ksql` requests the way ksqlDB's command topic does: one statement list
    /// is validated and applied before the next starts.
    pub(crate) ddl: tokio::sync::Mutex<()>,
    /// Running transient (push) queries, for SHOW QUERIES, /close-query and TERMINATE.
    pub(crate) queries: Arc<QueryRegistry>,
    /// Result batches identical push queries share.
    pub(crate) shared_batches: SharedBatches,
    pub(crate) command_seq: AtomicU64,
    /// Orders command statuses as they are recorded (replay included).
    status_seq: AtomicU64,
    pub(crate) command_statuses: CommandStatuses,
    pub(crate) clock: Clock,
    /// Running persistent queries (CSAS, CTAS, INSERT INTO … SELECT).
    pub(crate) persistent: Arc<PersistentQueries>,
    /// Whether the follower of other nodes' commands was started.
    following: AtomicBool,
    /// Node-wide limits statements and queries run into.
    pub(crate) limits: EngineLimits,
    /// Key lookups' plans by statement shape.
    pub(crate) pull_plans: PullPlanCache,
    /// Tables read from their topic, kept caught up by the pull queries that read them.
    pub(crate) table_views: TableViews,
}

/// How long the follower sleeps without news before checking the runtime still exists,
/// in milliseconds.
const FOLLOW_IDLE_MS: u64 = 1_000;

impl Runtime {
    /// Opens a runtime over `backend`, replaying its command log.
    pub(crate) fn open(backend: Backend, limits: EngineLimits) -> Result<Runtime> {
        let Backend {
            log,
            commands,
            checkpoints,
            state,
            leases,
        } = backend;
        let entries = commands.replay()?;
        let runtime = Runtime {
            log,
            catalog: RwLock::new(Arc::new(CatalogState::default())),
            commands,
            ddl: tokio::sync::Mutex::new(()),
            queries: Arc::default(),
            shared_batches: SharedBatches::default(),
            command_seq: AtomicU64::new(0),
            status_seq: AtomicU64::new(0),
            command_statuses: CommandStatuses::default(),
            clock: Clock::system(),
            persistent: Arc::new(PersistentQueries::new(checkpoints, state, leases)),
            following: AtomicBool::new(false),
            limits,
            pull_plans: PullPlanCache::default(),
            table_views: TableViews::default(),
        };
        runtime.replay(&entries)?;
        Ok(runtime)
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<CatalogState> {
        Arc::clone(&self.catalog.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn set_catalog(&self, state: CatalogState) {
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
    }

    pub(crate) fn next_command_seq(&self) -> u64 {
        self.command_seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Records that `command_id` succeeded with `message` (and started `query_id`).
    pub(crate) fn record_command_status(
        &self,
        command_id: &str,
        message: &str,
        query_id: Option<&str>,
    ) {
        let seq = self.status_seq.fetch_add(1, Ordering::Relaxed);
        let status = CommandStatus {
            status: "SUCCESS",
            message: message.to_string(),
            query_id: query_id.map(str::to_string),
        };
        self.command_statuses.record(command_id, seq, status);
    }

    /// The log every topic lives in.
    pub fn log(&self) -> &Arc<dyn LogStore> {
        &self.log
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Running push queries.
    pub fn queries(&self) -> &Arc<QueryRegistry> {
        &self.queries
    }

    /// Result batches identical push queries share.
    pub fn shared_batches(&self) -> &SharedBatches {
        &self.shared_batches
    }

    /// Appends one command to the catalog's command log, durably.
    pub(crate) fn journal_append(&self, entry: &[u8]) -> Result<()> {
        self.commands.append(entry)
    }

    /// Starts the persistent queries replayed from the command log, and following the
    /// commands other nodes append. Needs the async runtime; calling it again does nothing.
    pub(crate) fn start_persistent_queries(self: &Arc<Self>) {
        self.persistent.start(Arc::clone(&self.log));
        if !self.following.swap(true, Ordering::SeqCst) {
            self.start_following();
        }
    }

    /// The follower: applies other nodes' commands as they arrive, between requests (it
    /// takes the `/ksql` lock), so a statement run on any node takes effect here in the
    /// command log's order. Ends when the runtime is dropped.
    fn start_following(self: &Arc<Self>) {
        let Some(arrivals) = self.commands.arrivals() else {
            return;
        };
        let runtime = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                // The timeout only bounds how long a dropped runtime keeps this task.
                let _ = tokio::time::timeout(
                    std::time::Duration::from_millis(FOLLOW_IDLE_MS),
                    arrivals.notified(),
                )
                .await;
                let Some(runtime) = runtime.upgrade() else {
                    return;
                };
                let _serial = runtime.ddl.lock().await;
                let arrived = runtime.commands.arrived();
                if !arrived.is_empty() {
                    runtime.apply_followed(&arrived);
                }
            }
        });
    }
}
