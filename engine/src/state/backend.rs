//! [`StateBackend`]: where queries' stores live, one per query.
//!
//! ```text
//!  <data dir>/state/<file_name_for(query id, "state")>/            one EmbeddedStore
//!  <data dir>/state/<file_name_for(query id, "state")>.deleting/   a destroy in progress
//! ```
//!
//! Query ids embed names clients chose (`CTAS_<table>_<n>`), so a store's directory name comes
//! only from [`file_name_for`]: one plain file name, never a path out of the data directory.
//! Opening a query's store twice gives the same handle, so the query's task and the pull
//! queries reading it share one store (redb locks its file against a second opener). With
//! changelogs (the Kafka backend) each store is a `ChangelogStore` over the local one.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::changelog::{ChangelogStore, Changelogs};
use super::embedded::{EmbeddedStore, StateConfig};
use super::memory::MemoryStore;
use super::StateStore;
use crate::data_dir::{file_name_for, STATE_DIR};
use crate::error::{EngineError, Result};
use crate::metrics::LatencyHistogram;

/// Extension of a store's directory name.
const STORE_EXTENSION: &str = "state";

/// Suffix a store's directory gets while [`StateBackend::destroy`] removes it, so a crash
/// halfway through never leaves a half-deleted store under a live name.
const DELETING_SUFFIX: &str = ".deleting";


/// Opens and destroys the state stores of queries.
#[derive(Debug)]
pub struct StateBackend {
    kind: Kind,
    /// Stores handed out and still referenced, by directory name.
    open: Mutex<HashMap<String, Weak<dyn StateStore>>>,
    /// One gate per store being opened or destroyed, by directory name: openers of the
    /// same store take turns (the second finds the first's handle), while other stores'
    /// opens and lookups go on (a changelog restore can take seconds).
    gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// How long the queries' state commits took in their stores (`WriteBackCache`).
    commit_latency: Arc<LatencyHistogram>,
    /// Where each store's commits are copied, for the node that runs its query next
    /// (Kafka): `None` keeps state on this node only.
    changelogs: Option<Arc<dyn Changelogs>>,
    /// Changelog records replayed into this node's stores since it started.
    restored_records: AtomicU64,
}

#[derive(Debug)]
enum Kind {
    /// Stores in memory, kept for the backend's life so a query "restarted" in the same
    /// process finds its state (tests).
    Memory(Mutex<HashMap<String, Arc<MemoryStore>>>),
    Embedded {
        dir: PathBuf,
        config: StateConfig,
    },
}

impl StateBackend {
    /// Stores under `<data_dir>/state/`, created if needed. Finishes destroys a crash
    /// interrupted.
    pub fn embedded(data_dir: &Path, config: StateConfig) -> Result<StateBackend> {
        let dir = data_dir.join(STATE_DIR);
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_string_lossy()
                .ends_with(DELETING_SUFFIX)
            {
                tracing::info!(dir = %entry.path().display(), "finishing an interrupted state store removal");
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(StateBackend {
            kind: Kind::Embedded { dir, config },
            open: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            commit_latency: Arc::default(),
            changelogs: None,
            restored_records: AtomicU64::new(0),
        })
    }

    /// Stores in memory: nothing survives the process.
    pub fn in_memory() -> StateBackend {
        StateBackend {
            kind: Kind::Memory(Mutex::new(HashMap::new())),
            open: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            commit_latency: Arc::default(),
            changelogs: None,
            restored_records: AtomicU64::new(0),
        }
    }

    /// Copies every store's commits to its query's changelog in `changelogs`, and brings a
    /// store opened here to its changelog's last commit first (`ChangelogStore`).
    pub fn with_changelogs(mut self, changelogs: Arc<dyn Changelogs>) -> StateBackend {
        self.changelogs = Some(changelogs);
        self
    }

    /// Changelog records replayed into this node's stores since it started: a query taken
    /// over from another node, or whose copy here was stale.
    pub fn restored_records(&self) -> u64 {
        self.restored_records.load(Ordering::Relaxed)
    }

    /// Where the caches of this backend's stores record how long each commit took.
    pub fn commit_latency(&self) -> &Arc<LatencyHistogram> {
        &self.commit_latency
    }

    /// The store of `query_id`, created empty if it has none, or the handle already open.
    pub fn open(&self, query_id: &str) -> Result<Arc<dyn StateStore>> {
        let name = file_name_for(query_id, STORE_EXTENSION);
        if let Some(store) = self.lock_open().get(&name).and_then(Weak::upgrade) {
            return Ok(store);
        }
        self.gated(&name, || {
            if let Some(store) = self.lock_open().get(&name).and_then(Weak::upgrade) {
                return Ok(store);
            }
            let store = self.open_new(query_id, &name)?;
            let mut open = self.lock_open();
            open.retain(|_, weak| weak.strong_count() > 0);
            open.insert(name.clone(), Arc::downgrade(&store));
            Ok(store)
        })
    }

    /// Opens store `name` of `query_id`, which nobody holds (the caller holds its gate),
    /// restoring it from its changelog if it has one.
    fn open_new(&self, query_id: &str, name: &str) -> Result<Arc<dyn StateStore>> {
        let store: Arc<dyn StateStore> = match &self.kind {
            Kind::Memory(stores) => stores
                .lock()
                .expect("no panics while holding the lock")
                .entry(name.to_owned())
                .or_default()
                .clone(),
            Kind::Embedded { dir, config } => {
                Arc::new(EmbeddedStore::open(&dir.join(name), config)?)
            }
        };
        let Some(changelogs) = &self.changelogs else {
            return Ok(store);
        };
        let logged = ChangelogStore::open(store, changelogs.open(query_id)?)?;
        self.restored_records
            .fetch_add(logged.restored_records(), Ordering::Relaxed);
        Ok(Arc::new(logged))
    }

    /// Runs `f` holding store `name`'s gate, then drops the gate if nobody else waits on it.
    fn gated<T>(&self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let gate = Arc::clone(self.lock_gates().entry(name.to_owned()).or_default());
        let result = {
            let _turn = gate.lock().unwrap_or_else(|e| e.into_inner());
            f()
        };
        let mut gates = self.lock_gates();
        // The map's reference and ours: no one else is waiting.
        if Arc::strong_count(&gate) == 2 {
            gates.remove(name);
        }
        result
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<dyn StateStore>>> {
        self.open.lock().expect("no panics while holding the lock")
    }

    fn lock_gates(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<()>>>> {
        self.gates.lock().expect("no panics while holding the lock")
    }

    /// Removes the store of `query_id` and everything in it (DROP, TERMINATE), and its
    /// changelog. Every handle to it must be dropped first: a store in use is a
    /// `Conflict`. Removing a store that does not exist is not an error.
    pub fn destroy(&self, query_id: &str) -> Result<()> {
        let name = file_name_for(query_id, STORE_EXTENSION);
        self.gated(&name, || self.destroy_gated(query_id, &name))
    }

    fn destroy_gated(&self, query_id: &str, name: &str) -> Result<()> {
        // Checked under the lock, removed after it: no opener of this store gets past
        // the gate meanwhile, and other stores' opens need not wait for the removal.
        if self.in_use(&self.lock_open(), name) {
            return Err(EngineError::conflict(format!(
                "the state store of query {query_id} is still in use"
            )));
        }
        if let Some(changelogs) = &self.changelogs {
            changelogs.remove(query_id)?;
        }
        match &self.kind {
            Kind::Memory(stores) => {
                stores
                    .lock()
                    .expect("no panics while holding the lock")
                    .remove(name);
                Ok(())
            }
            Kind::Embedded { dir, .. } => remove_store_dir(dir, name),
        }
    }

    /// Removes every store whose query is not in `live_query_ids` and that nobody holds:
    /// stores a crash left behind between a DROP's catalog entry and its `destroy`.
    /// Returns how many it removed. Local copies only: a changelog is removed by
    /// [`StateBackend::destroy`], which knows its query's id.
    pub fn remove_orphans(&self, live_query_ids: &[&str]) -> Result<usize> {
        let live: Vec<String> = live_query_ids
            .iter()
            .map(|id| file_name_for(id, STORE_EXTENSION))
            .collect();
        let open = self.lock_open();
        // A store being opened or destroyed is not an orphan to remove now.
        let gates = self.lock_gates();
        let in_use = |name: &str| self.in_use(&open, name) || gates.contains_key(name);
        let mut removed = 0;
        match &self.kind {
            Kind::Memory(stores) => {
                let mut stores = stores.lock().expect("no panics while holding the lock");
                let before = stores.len();
                stores.retain(|name, _| live.contains(name) || in_use(name));
                removed = before - stores.len();
            }
            Kind::Embedded { dir, .. } => {
                let suffix = format!(".{STORE_EXTENSION}");
                for entry in fs::read_dir(dir)? {
                    let name = entry?.file_name().to_string_lossy().into_owned();
                    if name.ends_with(&suffix) && !live.contains(&name) && !in_use(&name) {
                        remove_store_dir(dir, &name)?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

impl StateBackend {
    /// True when someone holds a handle to the store `name` from [`StateBackend::open`].
    fn in_use(&self, open: &HashMap<String, Weak<dyn StateStore>>, name: &str) -> bool {
        // The memory backend's own map holds one reference to each store.
        let own = match self.kind {
            Kind::Memory(_) => 1,
            Kind::Embedded { .. } => 0,
        };
        open.get(name).is_some_and(|weak| weak.strong_count() > own)
    }
}

/// Renames `dir/name` aside (durably), then deletes it: a crash leaves either the whole
/// store or a `.deleting` directory the next open removes.
fn remove_store_dir(dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(());
    }
    let doomed = dir.join(format!("{name}{DELETING_SUFFIX}"));
    fs::rename(&path, &doomed)?;
    fs::File::open(dir)?.sync_all()?;
    fs::remove_dir_all(&doomed)?;
    Ok(())
}
