//! Registry of running queries (transient push queries now, persistent ones later).
//!
//! `/close-query` and `TERMINATE` may come from any connection, so queries are found by
//! id here and stopped through their cancel signal; the query's own task notices and ends
//! its response cleanly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A query others can see in SHOW QUERIES and stop.
#[derive(Debug)]
pub struct RunningQuery {
    pub id: String,
    pub sql: String,
    pub source: String,
    /// Set to true to ask the query to stop.
    cancel: watch::Sender<bool>,
}

impl RunningQuery {
    pub fn new(
        id: String,
        sql: String,
        source: String,
    ) -> (Arc<RunningQuery>, watch::Receiver<bool>) {
        let (cancel, rx) = watch::channel(false);
        (
            Arc::new(RunningQuery {
                id,
                sql,
                source,
                cancel,
            }),
            rx,
        )
    }

    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }
}

#[derive(Debug, Default)]
pub struct QueryRegistry {
    queries: Mutex<BTreeMap<String, Arc<RunningQuery>>>,
}

impl QueryRegistry {
    pub fn register(&self, query: Arc<RunningQuery>) {
        self.lock().insert(query.id.clone(), query);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<RunningQuery>> {
        self.lock().remove(id)
    }

    /// Cancels and unregisters a query; false if no such query.
    pub fn cancel(&self, id: &str) -> bool {
        match self.remove(id) {
            Some(q) => {
                q.cancel();
                true
            }
            None => false,
        }
    }

    pub fn list(&self) -> Vec<Arc<RunningQuery>> {
        self.lock().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<RunningQuery>>> {
        // A panic while holding this lock cannot leave the map half-updated (single
        // insert/remove calls), so a poisoned lock is still safe to use.
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
