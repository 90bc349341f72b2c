//! What every request handler may use: the engine (through its facade), the auth gate, the
//! statement/task registry, Foundry's query functions, the metrics and the KalamDB face's
//! state.

use std::sync::Arc;
use std::time::Duration;

use sluice_engine::Engine;
use sluice_protocol::foundry::functions::FunctionRegistry;

use crate::auth::Auth;
use crate::faces::deltastream::sources::SourceStore;
use crate::faces::kalamdb::file_store::FileStore;
use crate::faces::kalamdb::live_hub::LiveHubs;
use crate::faces::kalamdb::{ConsumerGroups, KalamState};
use crate::metrics::Metrics;
use crate::tasks::TaskRegistry;

/// The shared state behind every connection.
#[derive(Debug)]
pub struct Services {
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
    pub tasks: Arc<TaskRegistry>,
    /// How long a statement request waits for its result before answering "still running".
    pub statement_wait: Duration,
    /// Foundry's query functions.
    pub functions: Arc<FunctionRegistry>,
    /// The KalamDB face's namespaces.
    pub kalamdb: Arc<KalamState>,
    /// The KalamDB face's consumer groups (committed offsets, claims).
    pub kalamdb_topics: Arc<ConsumerGroups>,
    /// The KalamDB face's uploaded files (FILE cells' bytes).
    pub kalamdb_files: Arc<FileStore>,
    /// The KalamDB face's live-query hubs (one feed per distinct live query).
    pub kalamdb_live: Arc<LiveHubs>,
    /// DeltaStream's attached files (function and descriptor sources) for `/v2/download`.
    pub deltastream_sources: Arc<SourceStore>,
    /// What `/metrics` reports; the data path's handles bump it.
    pub metrics: Arc<Metrics>,
}
