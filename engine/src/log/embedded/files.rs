//! The log's file-descriptor budget: segment and recovery-point files are opened on demand
//! through one least-recently-used cache, so the number of files the log holds open does not
//! grow with the number of partitions (issue 11: a few thousand partitions used to exhaust
//! the process, and a data directory with many could not even be reopened).
//!
//! ```text
//!  Segment::file() ─► FileCache::get(key, path) ─ hit ─► Arc<File> (touch)
//!                                                └ miss ─► open ─► insert ─► close the
//!                                                                   least recently used
//! ```
//!
//! A caller holds the `Arc<File>` only for one read or one write-and-fsync, so an evicted file
//! is closed as soon as its last user is done: the log holds at most the budget plus the
//! files in use at that moment (one per writer thread and per reading cursor). A writer that
//! leaves data unsynced (`FsyncPolicy::IntervalMs`) keeps its file open until the fsync, so a
//! write-back error is reported to the descriptor that wrote the data (see `writer`).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Fewest files the cache keeps open, whatever the descriptor limit.
///
/// One per writer thread at least, so writers working at once do not evict each other's
/// files between their write and their fsync.
pub const OPEN_FILES_MIN: usize = 16;

/// Most files the default budget keeps open.
///
/// Past a few thousand, more open files save little (an open costs microseconds, a batch's
/// fsync milliseconds) and each one pins kernel memory.
pub const OPEN_FILES_DEFAULT_MAX: usize = 4096;

/// The default budget: a quarter of the process's descriptor limit (`RLIMIT_NOFILE`, soft),
/// within [`OPEN_FILES_MIN`]..=[`OPEN_FILES_DEFAULT_MAX`]. The other three quarters are for
/// client connections, the journals and everything else the process opens.
pub fn default_open_files_max() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let quarter = soft.map_or(OPEN_FILES_DEFAULT_MAX as u64, |limit| limit / 4);
    usize::try_from(quarter)
        .unwrap_or(OPEN_FILES_DEFAULT_MAX)
        .clamp(OPEN_FILES_MIN, OPEN_FILES_DEFAULT_MAX)
}

/// Names one file in the cache for the life of the process (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FileKey(u64);

impl FileKey {
    pub fn new() -> FileKey {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        FileKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Open files, least recently used first out.
#[derive(Debug)]
pub(crate) struct FileCache {
    budget: usize,
    state: Mutex<CacheState>,
    /// Files opened since the log opened (a statistic: misses).
    opens: AtomicU64,
}

#[derive(Debug, Default)]
struct CacheState {
    files: HashMap<FileKey, (Arc<File>, u64)>,
    /// Last-use tick → key; the first entry is the least recently used.
    by_use: BTreeMap<u64, FileKey>,
    tick: u64,
}

impl CacheState {
    fn touch(&mut self, key: FileKey) -> Option<Arc<File>> {
        let (file, last) = self.files.get_mut(&key)?;
        self.by_use.remove(last);
        self.tick += 1;
        *last = self.tick;
        self.by_use.insert(self.tick, key);
        Some(file.clone())
    }

    /// Removes the least recently used entries until at most `keep` remain; returns them so
    /// the caller closes them after releasing the lock.
    fn shrink_to(&mut self, keep: usize) -> Vec<Arc<File>> {
        let mut evicted = Vec::new();
        while self.files.len() > keep {
            let Some((_, key)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((file, _)) = self.files.remove(&key) {
                evicted.push(file);
            }
        }
        evicted
    }
}

impl FileCache {
    pub fn new(budget: usize) -> FileCache {
        FileCache {
            budget: budget.max(1),
            state: Mutex::new(CacheState::default()),
            opens: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file at `path` opened read-write (created if `create`), from the cache or opened now.
    pub fn get(&self, key: FileKey, path: &Path, create: bool) -> std::io::Result<Arc<File>> {
        if let Some(file) = self.lock().touch(key) {
            return Ok(file);
        }
        let file = match open(path, create) {
            Err(e) if is_out_of_descriptors(&e) => {
                // Something else holds many descriptors right now: give back half of ours.
                let evicted = {
                    let mut state = self.lock();
                    let keep = state.files.len() / 2;
                    state.shrink_to(keep)
                };
                drop(evicted);
                open(path, create)?
            }
            other => other?,
        };
        Ok(self.insert(key, file))
    }

    /// Adds a file just opened (or created) under `key`, closing the least recently used
    /// files beyond the budget. If `key` is already cached, that file is kept and returned.
    pub fn insert(&self, key: FileKey, file: File) -> Arc<File> {
        self.opens.fetch_add(1, Ordering::Relaxed);
        let (file, evicted) = {
            let mut state = self.lock();
            if let Some(existing) = state.touch(key) {
                (existing, Vec::new())
            } else {
                let file = Arc::new(file);
                state.tick += 1;
                let tick = state.tick;
                state.files.insert(key, (file.clone(), tick));
                state.by_use.insert(tick, key);
                let budget = self.budget;
                (file, state.shrink_to(budget))
            }
        };
        drop(evicted); // closed outside the lock
        file
    }

    /// Closes `key`'s file if cached (its segment is gone or its topic deleted).
    pub fn forget(&self, key: FileKey) {
        let removed = {
            let mut state = self.lock();
            state.files.remove(&key).map(|(file, tick)| {
                state.by_use.remove(&tick);
                file
            })
        };
        drop(removed);
    }

    /// Files the cache holds open now.
    pub fn open_count(&self) -> usize {
        self.lock().files.len()
    }

    /// Files opened since the cache was made.
    #[cfg(test)]
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }
}

fn open(path: &Path, create: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
}

/// EMFILE (the process's limit) or ENFILE (the system's).
fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_the_budget_open_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(3);
        let keys: Vec<FileKey> = (0..5).map(|_| FileKey::new()).collect();
        let path = |i: usize| dir.path().join(format!("f{i}"));
        for (i, &key) in keys.iter().enumerate().take(3) {
            cache.get(key, &path(i), true).unwrap();
        }
        // Use 0 again, so 1 is now the least recently used.
        cache.get(keys[0], &path(0), false).unwrap();
        assert_eq!(cache.opens(), 3, "a hit opens nothing");
        cache.get(keys[3], &path(3), true).unwrap();
        assert_eq!(cache.open_count(), 3);
        let before = cache.opens();
        cache.get(keys[0], &path(0), false).unwrap();
        cache.get(keys[2], &path(2), false).unwrap();
        cache.get(keys[3], &path(3), false).unwrap();
        assert_eq!(cache.opens(), before, "0, 2 and 3 stayed open");
        cache.get(keys[1], &path(1), false).unwrap();
        assert_eq!(cache.opens(), before + 1, "1 was evicted and reopened");
        assert_eq!(cache.open_count(), 3);
        cache.forget(keys[1]);
        assert_eq!(cache.open_count(), 2);
        // A file that does not exist is not created unless asked.
        assert!(cache.get(keys[4], &path(4), false).is_err());
        assert_eq!(cache.open_count(), 2);
    }

    #[test]
    fn a_file_in_use_stays_usable_after_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1);
        let (a, b) = (FileKey::new(), FileKey::new());
        let file = cache.get(a, &dir.path().join("a"), true).unwrap();
        cache.get(b, &dir.path().join("b"), true).unwrap();
        assert_eq!(cache.open_count(), 1);
        use std::os::unix::fs::FileExt;
        file.write_all_at(b"still open", 0).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"still open");
    }
}
