//! The state store contract, run against both stores (through `StateBackend`, so reopen is
//! what a restarted query does), model-based property tests, and a `kill -9` test.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

use super::*;
use crate::error::ErrorCode;
use crate::log::FsyncPolicy;

/// Query id of the store every contract test uses.
const QUERY: &str = "CTAS_TEST_1";

/// A backend to run the contract against, and a way to "restart" it.
struct Harness {
    backend: Option<StateBackend>,
    /// Keeps an embedded backend's directory alive.
    dir: Option<tempfile::TempDir>,
}

impl Harness {
    fn memory() -> Harness {
        Harness {
            backend: Some(StateBackend::in_memory()),
            dir: None,
        }
    }

    fn embedded() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let backend = StateBackend::embedded(dir.path(), test_config()).unwrap();
        Harness {
            backend: Some(backend),
            dir: Some(dir),
        }
    }

    fn open(&self) -> Arc<dyn StateStore> {
        self.backend.as_ref().unwrap().open(QUERY).unwrap()
    }

    /// Drops `store` (the last handle) and opens it again, as a restarted node would: for
    /// the embedded backend a new backend over the same directory.
    fn reopen(&mut self, store: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
        // The memory backend keeps one reference itself.
        let own = usize::from(self.dir.is_none());
        assert_eq!(
            Arc::strong_count(&store),
            1 + own,
            "the test holds the only handle"
        );
        drop(store);
        if let Some(dir) = &self.dir {
            self.backend = None;
            self.backend = Some(StateBackend::embedded(dir.path(), test_config()).unwrap());
        }
        self.open()
    }
}

fn test_config() -> StateConfig {
    StateConfig {
        fsync: FsyncPolicy::Never,
        ..StateConfig::default()
    }
}

fn both() -> [(&'static str, Harness); 2] {
    [
        ("memory", Harness::memory()),
        ("embedded", Harness::embedded()),
    ]
}

fn table(name: &str) -> StateTable {
    StateTable::new(name).unwrap()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn collect(iter: KeyValueIter) -> Vec<(String, String)> {
    iter.map(|kv| {
        let (k, v) = kv.unwrap();
        (
            String::from_utf8(k.to_vec()).unwrap(),
            String::from_utf8(v.to_vec()).unwrap(),
        )
    })
    .collect()
}

fn commit(store: &dyn StateStore, t: &StateTable, puts: &[(&str, &str)], checkpoint: Option<&str>) {
    let mut batch = WriteBatch::new();
    for (k, v) in puts {
        batch.put(t, k.as_bytes(), b(v)).unwrap();
    }
    if let Some(c) = checkpoint {
        batch.set_checkpoint(b(c)).unwrap();
    }
    store.commit(batch).unwrap();
}

#[test]
fn get_sees_commits_and_tables_are_apart() {
    for (name, mut h) in both() {
        let store = h.open();
        let (agg, win) = (table("aggregate"), table("window"));
        assert_eq!(store.get(&agg, b"k").unwrap(), None, "{name}");
        let mut batch = WriteBatch::new();
        batch.put(&agg, b"k", b("agg")).unwrap();
        batch.put(&win, b"k", b("win")).unwrap();
        batch.put(&agg, b"gone", b("x")).unwrap();
        store.commit(batch).unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(&agg, b"gone").unwrap();
        batch.delete(&agg, b"never-there").unwrap();
        store.commit(batch).unwrap();
        let check = |store: &dyn StateStore| {
            assert_eq!(store.get(&agg, b"k").unwrap(), Some(b("agg")), "{name}");
            assert_eq!(store.get(&win, b"k").unwrap(), Some(b("win")), "{name}");
            assert_eq!(store.get(&agg, b"gone").unwrap(), None, "{name}");
            let all = store.range(&win, Bound::Unbounded, Bound::Unbounded);
            assert_eq!(
                collect(all.unwrap()),
                vec![("k".into(), "win".into())],
                "{name}"
            );
        };
        check(&*store);
        check(&*h.reopen(store));
    }
}

#[test]
fn last_write_in_a_batch_wins() {
    for (name, h) in both() {
        let store = h.open();
        let t = table("t");
        let mut batch = WriteBatch::new();
        batch.put(&t, b"a", b("1")).unwrap();
        batch.delete(&t, b"a").unwrap();
        batch.put(&t, b"a", b("2")).unwrap();
        batch.put(&t, b"b", b("1")).unwrap();
        batch.delete(&t, b"b").unwrap();
        store.commit(batch).unwrap();
        assert_eq!(store.get(&t, b"a").unwrap(), Some(b("2")), "{name}");
        assert_eq!(store.get(&t, b"b").unwrap(), None, "{name}");
    }
}

#[test]
fn ranges_and_prefixes_come_in_key_order_within_their_table() {
    for (name, h) in both() {
        let store = h.open();
        let (t, other) = (table("t"), table("t2"));
        let keys = ["a", "ab", "abc", "b", "ba", "c"];
        commit(&*store, &t, &keys.map(|k| (k, k)), None);
        commit(&*store, &other, &[("a", "x"), ("", "x")], None);
        // Bytes beyond ASCII sort after it; 0xFF ends a prefix with no successor.
        let mut batch = WriteBatch::new();
        batch.put(&t, b"\xff", b("ff")).unwrap();
        batch.put(&t, b"\xff\xff", b("ffff")).unwrap();
        store.commit(batch).unwrap();
        let keys_of = |iter: KeyValueIter| -> Vec<Vec<u8>> {
            iter.map(|kv| kv.unwrap().0.to_vec()).collect()
        };
        let all = keys_of(store.range(&t, Bound::Unbounded, Bound::Unbounded).unwrap());
        let want: Vec<Vec<u8>> = ["a", "ab", "abc", "b", "ba", "c"]
            .iter()
            .map(|k| k.as_bytes().to_vec())
            .chain([b"\xff".to_vec(), b"\xff\xff".to_vec()])
            .collect();
        assert_eq!(all, want, "{name}");
        let r = |from: Bound<&[u8]>, to: Bound<&[u8]>| keys_of(store.range(&t, from, to).unwrap());
        let strs = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            r(Bound::Included(b"ab"), Bound::Excluded(b"b")),
            strs(&["ab", "abc"]),
            "{name}"
        );
        assert_eq!(
            r(Bound::Excluded(b"ab"), Bound::Included(b"b")),
            strs(&["abc", "b"]),
            "{name}"
        );
        assert_eq!(
            r(Bound::Unbounded, Bound::Excluded(b"ab")),
            strs(&["a"]),
            "{name}"
        );
        assert_eq!(
            r(Bound::Included(b"c"), Bound::Included(b"c")),
            strs(&["c"]),
            "{name}"
        );
        // Empty and inverted ranges are empty, not a panic.
        assert!(
            r(Bound::Excluded(b"c"), Bound::Excluded(b"c")).is_empty(),
            "{name}"
        );
        assert!(
            r(Bound::Included(b"c"), Bound::Included(b"a")).is_empty(),
            "{name}"
        );
        let p = |prefix: &[u8]| keys_of(store.prefix(&t, prefix).unwrap());
        assert_eq!(p(b"ab"), strs(&["ab", "abc"]), "{name}");
        assert_eq!(p(b"b"), strs(&["b", "ba"]), "{name}");
        assert_eq!(
            p(b"\xff"),
            vec![b"\xff".to_vec(), b"\xff\xff".to_vec()],
            "{name}"
        );
        assert_eq!(
            p(b"").len(),
            8,
            "{name}: the empty prefix is the whole table"
        );
        assert!(p(b"zz").is_empty(), "{name}");
        assert_eq!(
            keys_of(store.prefix(&other, b"").unwrap()),
            strs(&["", "a"]),
            "{name}"
        );
    }
}

#[test]
fn checkpoint_is_the_last_one_committed() {
    for (name, mut h) in both() {
        let store = h.open();
        let t = table("t");
        assert_eq!(store.checkpoint().unwrap(), None, "{name}");
        commit(&*store, &t, &[("a", "1")], Some("positions-1"));
        commit(&*store, &t, &[("a", "2")], None);
        assert_eq!(
            store.checkpoint().unwrap(),
            Some(b("positions-1")),
            "{name}"
        );
        commit(&*store, &t, &[], Some("positions-3"));
        let store = h.reopen(store);
        assert_eq!(
            store.checkpoint().unwrap(),
            Some(b("positions-3")),
            "{name}"
        );
        assert_eq!(store.get(&t, b"a").unwrap(), Some(b("2")), "{name}");
        // The checkpoint is not a key of any table.
        assert_eq!(collect(store.prefix(&t, b"").unwrap()).len(), 1, "{name}");
    }
}

#[test]
fn snapshots_and_iterators_keep_the_commit_they_started_at() {
    for (name, h) in both() {
        let store = h.open();
        let t = table("t");
        commit(&*store, &t, &[("a", "1"), ("b", "1")], Some("1"));
        let snapshot = store.snapshot().unwrap();
        let iter = store.range(&t, Bound::Unbounded, Bound::Unbounded).unwrap();
        commit(
            &*store,
            &t,
            &[("a", "2"), ("b", "2"), ("c", "2")],
            Some("2"),
        );
        assert_eq!(snapshot.get(&t, b"a").unwrap(), Some(b("1")), "{name}");
        assert_eq!(snapshot.get(&t, b"c").unwrap(), None, "{name}");
        assert_eq!(
            collect(snapshot.prefix(&t, b"").unwrap()),
            vec![("a".into(), "1".into()), ("b".into(), "1".into())],
            "{name}"
        );
        assert_eq!(
            collect(iter),
            vec![("a".into(), "1".into()), ("b".into(), "1".into())],
            "{name}"
        );
        assert_eq!(store.get(&t, b"c").unwrap(), Some(b("2")), "{name}");
    }
}

#[test]
fn clear_empties_the_store_durably() {
    for (name, mut h) in both() {
        let store = h.open();
        let t = table("t");
        commit(&*store, &t, &[("a", "1"), ("b", "2")], Some("c"));
        store.clear().unwrap();
        assert_eq!(store.get(&t, b"a").unwrap(), None, "{name}");
        assert_eq!(store.checkpoint().unwrap(), None, "{name}");
        let store = h.reopen(store);
        assert!(collect(store.prefix(&t, b"").unwrap()).is_empty(), "{name}");
        assert_eq!(store.checkpoint().unwrap(), None, "{name}");
        commit(&*store, &t, &[("z", "1")], None);
        assert_eq!(store.get(&t, b"z").unwrap(), Some(b("1")), "{name}");
    }
}

#[test]
fn size_grows_with_what_is_stored() {
    for (name, h) in both() {
        let store = h.open();
        let t = table("t");
        let empty = store.approximate_size_bytes();
        let mut batch = WriteBatch::new();
        for i in 0..1_000 {
            batch
                .put(
                    &t,
                    format!("key{i:05}").as_bytes(),
                    Bytes::from(vec![7u8; 1_000]),
                )
                .unwrap();
        }
        store.commit(batch).unwrap();
        let full = store.approximate_size_bytes();
        assert!(full >= empty + 500_000, "{name}: {empty} -> {full}");
    }
}

/// Each commit sets every key to the commit's number and the checkpoint to it; readers on
/// other threads must never see two numbers in one snapshot or scan.
#[test]
fn readers_never_see_part_of_a_commit() {
    const KEYS: usize = 200;
    const COMMITS: u64 = 150;
    for (name, h) in both() {
        let store = h.open();
        let t = table("t");
        let put_all = |n: u64| {
            let mut batch = WriteBatch::new();
            for k in 0..KEYS {
                batch
                    .put(
                        &t,
                        format!("k{k:04}").as_bytes(),
                        Bytes::from(n.to_string()),
                    )
                    .unwrap();
            }
            batch.set_checkpoint(Bytes::from(n.to_string())).unwrap();
            store.commit(batch).unwrap();
        };
        put_all(0);
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, done, t) = (store.clone(), done.clone(), t.clone());
                std::thread::spawn(move || {
                    let mut checks = 0;
                    while !done.load(Ordering::Relaxed) || checks == 0 {
                        let values: Vec<Bytes> = store
                            .range(&t, Bound::Unbounded, Bound::Unbounded)
                            .unwrap()
                            .map(|kv| kv.unwrap().1)
                            .collect();
                        assert_eq!(values.len(), KEYS);
                        assert!(
                            values.iter().all(|v| *v == values[0]),
                            "a scan saw two commits"
                        );
                        let snapshot = store.snapshot().unwrap();
                        let first = snapshot.get(&t, b"k0000").unwrap().unwrap();
                        let last = snapshot.get(&t, b"k0199").unwrap().unwrap();
                        assert_eq!(first, last, "a snapshot saw two commits");
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        for n in 1..=COMMITS {
            put_all(n);
            // The readers above keep a shared snapshot warm; a read that starts after the
            // commit returned must still see that commit.
            assert_eq!(
                store.get(&t, b"k0000").unwrap(),
                Some(Bytes::from(n.to_string())),
                "{name}: a read after commit {n} saw an older one"
            );
        }
        done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0, "{name}");
        }
        assert_eq!(
            store.checkpoint().unwrap(),
            Some(Bytes::from(COMMITS.to_string())),
            "{name}"
        );
    }
}

#[test]
fn backend_shares_open_stores_and_destroys_only_unused_ones() {
    for (name, mut h) in both() {
        let backend = h.backend.take().unwrap();
        let store = backend.open(QUERY).unwrap();
        let again = backend.open(QUERY).unwrap();
        assert!(Arc::ptr_eq(&store, &again), "{name}: one store per query");
        let t = table("t");
        commit(&*store, &t, &[("a", "1")], None);
        drop(again);
        let err = backend.destroy(QUERY).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{name}: {err}");
        drop(store);
        backend.destroy(QUERY).unwrap();
        backend.destroy(QUERY).unwrap();
        let store = backend.open(QUERY).unwrap();
        assert_eq!(
            store.get(&t, b"a").unwrap(),
            None,
            "{name}: destroyed means gone"
        );
        commit(&*store, &t, &[("a", "1")], None);
        drop(store);
        let other = backend.open("CTAS_OTHER_2").unwrap();
        commit(&*other, &t, &[("b", "1")], None);
        drop(other);
        assert_eq!(
            backend.remove_orphans(&["CTAS_OTHER_2"]).unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            backend.open(QUERY).unwrap().get(&t, b"a").unwrap(),
            None,
            "{name}"
        );
        assert_eq!(
            backend.open("CTAS_OTHER_2").unwrap().get(&t, b"b").unwrap(),
            Some(b("1"))
        );
    }
}

#[test]
fn query_ids_never_name_a_path_outside_the_state_dir() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let backend = StateBackend::embedded(&data, test_config()).unwrap();
    for id in [
        "../../escaped",
        "/tmp/abs",
        "..",
        ".",
        "",
        "a/b",
        "nul\0",
        ".hidden",
    ] {
        let store = backend.open(id).unwrap();
        commit(&*store, &table("t"), &[("k", "v")], None);
    }
    let outside: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("data")]);
    let state_dir = data.join(crate::data_dir::STATE_DIR);
    for entry in std::fs::read_dir(&state_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(crate::data_dir::is_plain_file_name(&name), "{name}");
        assert!(name.ends_with(".state"), "{name}");
    }
}

#[test]
fn an_interrupted_destroy_is_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let backend = StateBackend::embedded(dir.path(), test_config()).unwrap();
    commit(
        &*backend.open(QUERY).unwrap(),
        &table("t"),
        &[("a", "1")],
        None,
    );
    drop(backend);
    let state_dir = dir.path().join(crate::data_dir::STATE_DIR);
    let name = crate::data_dir::file_name_for(QUERY, "state");
    // What a crash between the rename and the removal leaves.
    std::fs::rename(
        state_dir.join(&name),
        state_dir.join(format!("{name}.deleting")),
    )
    .unwrap();
    let backend = StateBackend::embedded(dir.path(), test_config()).unwrap();
    assert_eq!(std::fs::read_dir(&state_dir).unwrap().count(), 0);
    assert_eq!(
        backend.open(QUERY).unwrap().get(&table("t"), b"a").unwrap(),
        None
    );
}

// ---- the write-back cache ----

#[test]
fn cache_reads_its_writes_and_readers_see_only_commits() {
    for (name, h) in both() {
        let store = h.open();
        let t = table("t");
        commit(
            &*store,
            &t,
            &[("a", "1"), ("b", "1"), ("c", "1")],
            Some("0"),
        );
        let mut cache = WriteBackCache::new(store.clone(), CACHE_BYTES_DEFAULT);
        assert_eq!(cache.get(&t, b"a").unwrap(), Some(b("1")), "{name}");
        cache.put(&t, b"a", b("2")).unwrap();
        cache.delete(&t, b"b").unwrap();
        cache.put(&t, b"d", b("2")).unwrap();
        assert_eq!(cache.get(&t, b"a").unwrap(), Some(b("2")), "{name}");
        assert_eq!(cache.get(&t, b"b").unwrap(), None, "{name}");
        // Other readers: still the committed state.
        assert_eq!(store.get(&t, b"a").unwrap(), Some(b("1")), "{name}");
        let merged: Vec<_> = cache
            .range(&t, Bound::Unbounded, Bound::Unbounded)
            .unwrap()
            .map(|kv| kv.unwrap())
            .collect();
        assert_eq!(
            merged,
            vec![(b("a"), b("2")), (b("c"), b("1")), (b("d"), b("2"))],
            "{name}"
        );
        assert_eq!(cache.dirty_len(), 3, "{name}");
        // Read-modify-write sees the committed value on a miss and its own writes after.
        let mut cache2 = WriteBackCache::new(store.clone(), CACHE_BYTES_DEFAULT);
        cache2
            .update(&t, b"c", |old| {
                assert_eq!(old, Some(&b("1")), "{name}");
                Some(b("c1"))
            })
            .unwrap();
        cache2
            .update(&t, b"c", |old| {
                assert_eq!(old, Some(&b("c1")), "{name}");
                None
            })
            .unwrap();
        assert_eq!(cache2.get(&t, b"c").unwrap(), None, "{name}");
        cache2.rollback();
        assert_eq!(cache2.dirty_len(), 0, "{name}");
        cache.commit(b("1")).unwrap();
        assert_eq!(cache.dirty_len(), 0, "{name}");
        assert_eq!(store.get(&t, b"a").unwrap(), Some(b("2")), "{name}");
        assert_eq!(store.get(&t, b"b").unwrap(), None, "{name}");
        assert_eq!(store.checkpoint().unwrap(), Some(b("1")), "{name}");
        cache.put(&t, b"c", b("3")).unwrap();
        cache.rollback();
        assert_eq!(
            cache.get(&t, b"c").unwrap(),
            Some(b("1")),
            "{name}: rolled back"
        );
    }
}

#[test]
fn cache_stays_within_its_budget_after_commits() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let t = table("t");
    let budget = 64 * 1024;
    let mut cache = WriteBackCache::new(store.clone(), budget);
    for round in 0..20u32 {
        for k in 0..200u32 {
            let key = format!("k{:05}", round * 200 + k);
            cache
                .put(&t, key.as_bytes(), Bytes::from(vec![1u8; 100]))
                .unwrap();
        }
        cache.commit(Bytes::from(round.to_string())).unwrap();
    }
    // Everything committed, every value still readable (from the store once evicted).
    for k in [0u32, 1_999, 3_999] {
        let key = format!("k{k:05}");
        assert_eq!(cache.get(&t, key.as_bytes()).unwrap().unwrap().len(), 100);
    }
    let bytes = cache.bytes();
    assert!(bytes <= budget, "{bytes} > {budget}");
    assert_eq!(collect(store.prefix(&t, b"").unwrap()).len(), 4_000);
}

/// A store whose commits wait until the test lets them through, so a test can act while
/// one is in flight.
#[derive(Debug)]
struct GatedStore {
    inner: MemoryStore,
    gate: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl StateRead for GatedStore {
    fn get(&self, table: &StateTable, key: &[u8]) -> crate::error::Result<Option<Bytes>> {
        self.inner.get(table, key)
    }
    fn range(
        &self,
        table: &StateTable,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> crate::error::Result<KeyValueIter> {
        self.inner.range(table, from, to)
    }
    fn prefix(&self, table: &StateTable, prefix: &[u8]) -> crate::error::Result<KeyValueIter> {
        self.inner.prefix(table, prefix)
    }
}

impl StateStore for GatedStore {
    fn snapshot(&self) -> crate::error::Result<Box<dyn StateRead>> {
        self.inner.snapshot()
    }
    fn commit(&self, batch: WriteBatch) -> crate::error::Result<()> {
        // Bounded, so a failing test whose cache waits for this commit as it drops ends.
        let opened = self.gate.lock().unwrap().recv_timeout(Duration::from_secs(10));
        opened.map_err(|_| crate::error::EngineError::internal("the gate never opened"))?;
        self.inner.commit(batch)
    }
    fn checkpoint(&self) -> crate::error::Result<Option<Bytes>> {
        self.inner.checkpoint()
    }
    fn approximate_size_bytes(&self) -> u64 {
        self.inner.approximate_size_bytes()
    }
    fn clear(&self) -> crate::error::Result<()> {
        self.inner.clear()
    }
}

#[test]
fn a_commit_in_flight_keeps_its_keys_readable_and_lands_in_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let _in_runtime = runtime.enter();
    let (open_gate, gate) = std::sync::mpsc::channel();
    let store = Arc::new(GatedStore {
        inner: MemoryStore::new(),
        gate: std::sync::Mutex::new(gate),
    });
    let t = table("t");
    // A budget far below what is written: every key would be evicted if it could be.
    let mut cache = WriteBackCache::new(store.clone(), 1024);
    let value = |k: u32, round: u32| Bytes::from(format!("{k}-{round}"));
    for k in 0..100u32 {
        cache.put(&t, &k.to_be_bytes(), value(k, 0)).unwrap();
    }
    // A scan before the commit: the cache keeps its keys in order (a join's probes).
    assert_eq!(cache.prefix(&t, b"").unwrap().count(), 100);
    let landed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&landed);
    let mark = move || flag.store(true, Ordering::SeqCst);
    cache.start_commit(b("0"), Box::new(mark)).unwrap();
    // In flight: the store has nothing yet, the cache answers every key, and new writes
    // go on beside it.
    for k in 0..100u32 {
        assert_eq!(cache.get(&t, &k.to_be_bytes()).unwrap(), Some(value(k, 0)));
        if k % 2 == 0 {
            cache.put(&t, &k.to_be_bytes(), value(k, 1)).unwrap();
        }
    }
    cache.delete(&t, &99u32.to_be_bytes()).unwrap();
    let want = |round_of: &dyn Fn(u32) -> u32| -> Vec<(Bytes, Bytes)> {
        (0..99u32)
            .map(|k| (Bytes::copy_from_slice(&k.to_be_bytes()), value(k, round_of(k))))
            .collect()
    };
    let round = |k: u32| u32::from(k.is_multiple_of(2));
    // A scan in flight does not wait for it (the gate is shut): the landing keys and the
    // new writes over the store, which holds neither yet.
    let scanned: Vec<_> = cache.prefix(&t, b"").unwrap().map(Result::unwrap).collect();
    assert_eq!(scanned, want(&round));
    assert_eq!(store.get(&t, &0u32.to_be_bytes()).unwrap(), None);
    assert_eq!(store.checkpoint().unwrap(), None);
    assert!(!landed.load(Ordering::SeqCst));
    // Let both commits through: the second settles the first before it starts.
    open_gate.send(()).unwrap();
    open_gate.send(()).unwrap();
    cache.start_commit(b("1"), Box::new(|| {})).unwrap();
    assert!(landed.load(Ordering::SeqCst));
    cache.settle().unwrap();
    assert!(cache.bytes() <= 1024, "evicted once landed: {}", cache.bytes());
    assert_eq!(store.checkpoint().unwrap(), Some(b("1")));
    for k in 0..99u32 {
        let want = value(k, round(k));
        assert_eq!(store.get(&t, &k.to_be_bytes()).unwrap(), Some(want.clone()));
        assert_eq!(cache.get(&t, &k.to_be_bytes()).unwrap(), Some(want));
    }
    assert_eq!(cache.get(&t, &99u32.to_be_bytes()).unwrap(), None);
    assert_eq!(collect(store.prefix(&t, b"").unwrap()).len(), 99);
}

// ---- model-based property tests ----

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u8, u8),
    Delete(usize, u8),
    Commit(Option<u8>),
    /// Drops the uncommitted batch (the query failed before committing).
    Abandon,
    Reopen,
    /// Reads one key through the cache (a miss reads the store: with a commit in flight,
    /// it must not find a value the store has yet to write).
    Get(usize, u8),
    /// Reads every table through the cache (its dirty keys merged over the store), after
    /// however many writes since the last scan or commit.
    Scan,
}

fn op() -> impl Strategy<Value = Op> {
    // Few tables and keys, so writes collide and deletes hit.
    prop_oneof![
        6 => (0..3usize, 0..16u8, any::<u8>()).prop_map(|(t, k, v)| Op::Put(t, k, v)),
        2 => (0..3usize, 0..16u8).prop_map(|(t, k)| Op::Delete(t, k)),
        2 => proptest::option::of(any::<u8>()).prop_map(Op::Commit),
        1 => Just(Op::Abandon),
        1 => Just(Op::Reopen),
        3 => Just(Op::Scan),
        3 => (0..3usize, 0..16u8).prop_map(|(t, k)| Op::Get(t, k)),
    ]
}

/// The committed state as the model has it: (table, key) → value, and the checkpoint.
type Model = (BTreeMap<(usize, Vec<u8>), Bytes>, Option<Bytes>);

fn model_key(k: u8) -> Vec<u8> {
    // Keys of different lengths sharing prefixes, and a 0xFF key.
    match k {
        15 => vec![0xff],
        k => "k"
            .repeat(usize::from(k % 4) + 1)
            .into_bytes()
            .into_iter()
            .chain([k])
            .collect(),
    }
}

fn check_against_model(store: &dyn StateStore, tables: &[StateTable], model: &Model) {
    for (i, t) in tables.iter().enumerate() {
        let got: Vec<(Vec<u8>, Bytes)> = store
            .prefix(t, b"")
            .unwrap()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v)).unwrap())
            .collect();
        let want: Vec<(Vec<u8>, Bytes)> = model
            .0
            .iter()
            .filter(|((ti, _), _)| *ti == i)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, want, "table {i}");
        for k in 0..16u8 {
            let key = model_key(k);
            assert_eq!(
                store.get(t, &key).unwrap(),
                model.0.get(&(i, key.clone())).cloned()
            );
        }
    }
    assert_eq!(store.checkpoint().unwrap(), model.1);
}

/// How [`run_model`] writes: straight into the store, through a cache that waits for each
/// commit, or through one that leaves each commit in flight until something settles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Store,
    Cache,
    CacheInFlight,
}

fn run_model(h: Harness, ops: &[Op], via: Via) {
    // Commits in flight run on a runtime's blocking pool, as a query's do.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let _in_runtime = (via == Via::CacheInFlight).then(|| runtime.enter());
    run_model_via(h, ops, via);
}

fn run_model_via(mut h: Harness, ops: &[Op], via: Via) {
    let through_cache = via != Via::Store;
    let tables: Vec<StateTable> = (0..3).map(|i| table(&format!("t{i}"))).collect();
    let mut store = h.open();
    let mut cache = WriteBackCache::new(store.clone(), 4096);
    let mut batch = WriteBatch::new();
    let mut committed: Model = (BTreeMap::new(), None);
    let mut pending: Vec<(usize, Vec<u8>, Option<Bytes>)> = Vec::new();
    // With a commit in flight: the model once it lands, and whether it has.
    let mut in_flight: Option<(Model, Arc<AtomicBool>)> = None;
    for op in ops {
        // Every op but writes, reads and scans settles a commit in flight (and checks it
        // landed).
        if !matches!(op, Op::Put(..) | Op::Delete(..) | Op::Get(..) | Op::Scan) {
            if let Some((model, landed)) = in_flight.take() {
                match op {
                    // Dropping the cache lands its commit (a stopped query's last one).
                    Op::Reopen => drop(std::mem::replace(
                        &mut cache,
                        WriteBackCache::new(store.clone(), 4096),
                    )),
                    _ => cache.settle().unwrap(),
                }
                committed = model;
                assert!(landed.load(Ordering::SeqCst), "landed ran");
            }
        }
        match op {
            Op::Put(t, k, v) => {
                let value = Bytes::from(vec![*v; usize::from(*v % 8)]);
                if through_cache && v % 2 == 0 {
                    cache
                        .put(&tables[*t], &model_key(*k), value.clone())
                        .unwrap();
                } else if through_cache {
                    let new = value.clone();
                    cache
                        .update(&tables[*t], &model_key(*k), |_| Some(new))
                        .unwrap();
                } else {
                    batch
                        .put(&tables[*t], &model_key(*k), value.clone())
                        .unwrap();
                }
                pending.push((*t, model_key(*k), Some(value)));
            }
            Op::Delete(t, k) => {
                if through_cache {
                    cache.delete(&tables[*t], &model_key(*k)).unwrap();
                } else {
                    batch.delete(&tables[*t], &model_key(*k)).unwrap();
                }
                pending.push((*t, model_key(*k), None));
            }
            Op::Commit(checkpoint) => {
                let checkpoint = checkpoint.map(|c| Bytes::from(vec![c]));
                if through_cache {
                    // The cache always commits a checkpoint.
                    let checkpoint = checkpoint.unwrap_or_else(|| Bytes::from_static(b"none"));
                    if via == Via::CacheInFlight {
                        let landed = Arc::new(AtomicBool::new(false));
                        let flag = Arc::clone(&landed);
                        let mark = move || flag.store(true, Ordering::SeqCst);
                        cache.start_commit(checkpoint.clone(), Box::new(mark)).unwrap();
                        let mut next = committed.clone();
                        next.1 = Some(checkpoint);
                        apply(&mut next, pending.drain(..));
                        in_flight = Some((next, landed));
                        continue;
                    }
                    cache.commit(checkpoint.clone()).unwrap();
                    committed.1 = Some(checkpoint);
                } else {
                    if let Some(c) = &checkpoint {
                        batch.set_checkpoint(c.clone()).unwrap();
                    }
                    store.commit(std::mem::take(&mut batch)).unwrap();
                    committed.1 = checkpoint.or(committed.1.take());
                }
                apply(&mut committed, pending.drain(..));
            }
            Op::Abandon => {
                cache.rollback();
                batch = WriteBatch::new();
                pending.clear();
            }
            Op::Reopen => {
                drop(cache);
                batch = WriteBatch::new();
                pending.clear();
                store = h.reopen(store);
                cache = WriteBackCache::new(store.clone(), 4096);
            }
            Op::Get(t, k) if through_cache => {
                let key = model_key(*k);
                let mut view = in_flight.as_ref().map_or(&committed, |(m, _)| m).clone();
                apply(&mut view, pending.iter().cloned());
                let want = view.0.get(&(*t, key.clone())).cloned();
                assert_eq!(cache.get(&tables[*t], &key).unwrap(), want, "get {t}/{k}");
            }
            Op::Get(..) | Op::Scan => {}
        }
        if through_cache && matches!(op, Op::Scan) {
            // The cache's own view: committed state (with the commit in flight) with the
            // pending writes over it.
            let mut view = in_flight.as_ref().map_or(&committed, |(m, _)| m).0.clone();
            for (t, k, v) in &pending {
                match v {
                    Some(v) => view.insert((*t, k.clone()), v.clone()),
                    None => view.remove(&(*t, k.clone())),
                };
            }
            for (i, t) in tables.iter().enumerate() {
                let got: Vec<(Vec<u8>, Bytes)> = cache
                    .prefix(t, b"")
                    .unwrap()
                    .map(|kv| kv.map(|(k, v)| (k.to_vec(), v)).unwrap())
                    .collect();
                let want: Vec<(Vec<u8>, Bytes)> = view
                    .iter()
                    .filter(|((ti, _), _)| *ti == i)
                    .map(|((_, k), v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want, "cache view of table {i}");
            }
        }
        // Readers of the store see exactly the committed model, whatever is pending (and,
        // with a commit in flight, one model or the other: checked once it settles).
        if in_flight.is_none() {
            check_against_model(&*store, &tables, &committed);
        }
    }
}

/// Applies pending writes to a model.
fn apply(model: &mut Model, writes: impl Iterator<Item = (usize, Vec<u8>, Option<Bytes>)>) {
    for (t, k, v) in writes {
        match v {
            Some(v) => model.0.insert((t, k), v),
            None => model.0.remove(&(t, k)),
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_store_matches_the_model(ops in proptest::collection::vec(op(), 0..60)) {
        run_model(Harness::memory(), &ops, Via::Store);
    }

    #[test]
    fn cache_over_memory_store_matches_the_model(ops in proptest::collection::vec(op(), 0..60)) {
        run_model(Harness::memory(), &ops, Via::Cache);
    }

    #[test]
    fn cache_with_commits_in_flight_over_memory_store_matches_the_model(
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        run_model(Harness::memory(), &ops, Via::CacheInFlight);
    }
}

proptest! {
    // Each case creates and reopens redb files: fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn embedded_store_matches_the_model(ops in proptest::collection::vec(op(), 0..40)) {
        run_model(Harness::embedded(), &ops, Via::Store);
    }

    #[test]
    fn cache_over_embedded_store_matches_the_model(ops in proptest::collection::vec(op(), 0..40)) {
        run_model(Harness::embedded(), &ops, Via::Cache);
    }

    #[test]
    fn cache_with_commits_in_flight_over_embedded_store_matches_the_model(
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        run_model(Harness::embedded(), &ops, Via::CacheInFlight);
    }
}

// ---- kill -9 ----

/// Environment variable that makes `crash_child` run (in a child process).
const CRASH_CHILD_DIR_ENV: &str = "SLUICE_STATE_CRASH_CHILD_DIR";

/// Keys the crash test's batches write.
const CRASH_KEYS: u64 = 2_000;

/// The writes of commit `n` (n ≥ 1): deterministic, so the parent can replay any prefix.
fn crash_batch_writes(n: u64) -> Vec<(Vec<u8>, Option<Bytes>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    (0..rng.random_range(1..300))
        .map(|_| {
            let key = format!("key{:05}", rng.random_range(0..CRASH_KEYS)).into_bytes();
            let value = (rng.random_range(0..10) > 0)
                .then(|| Bytes::from(format!("{n}:{}", "v".repeat(rng.random_range(0..200)))));
            (key, value)
        })
        .collect()
}

/// Child side of `kill_9_leaves_exactly_a_committed_prefix`: commits batches 1, 2, … with
/// checkpoint `n` until killed. Runs only in the child (the parent sets the variable).
#[test]
#[ignore = "runs as the child process of kill_9_leaves_exactly_a_committed_prefix"]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_CHILD_DIR_ENV) else {
        return;
    };
    let config = StateConfig {
        fsync: FsyncPolicy::Always,
        ..StateConfig::default()
    };
    let store = EmbeddedStore::open(std::path::Path::new(&dir), &config).unwrap();
    let t = table("t");
    let mut n = store
        .checkpoint()
        .unwrap()
        .map_or(0, |c| u64::from_le_bytes(c[..].try_into().unwrap()));
    loop {
        n += 1;
        let mut batch = WriteBatch::new();
        for (key, value) in crash_batch_writes(n) {
            match value {
                Some(v) => batch.put(&t, &key, v).unwrap(),
                None => batch.delete(&t, &key).unwrap(),
            }
        }
        batch
            .set_checkpoint(Bytes::copy_from_slice(&n.to_le_bytes()))
            .unwrap();
        store.commit(batch).unwrap();
        if n.is_multiple_of(10) {
            // Progress for the parent, which kills only after a first line.
            println!("committed {n}");
        }
    }
}

#[test]
fn kill_9_leaves_exactly_a_committed_prefix() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut last = 0;
    // Several kills of one store: each restart resumes from the checkpoint.
    for round in 0..5 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state::tests::crash_child",
                "--ignored",
                "--nocapture",
            ])
            .env(CRASH_CHILD_DIR_ENV, dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read the child's output on a thread, so a child that hangs fails the test after
        // the deadline instead of blocking it.
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = std::sync::mpsc::sync_channel(64);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) if line.starts_with("committed") => break,
                Ok(_) => continue,
                Err(e) => {
                    child.kill().unwrap();
                    panic!("round {round}: the child never committed ({e})");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = EmbeddedStore::open(dir.path(), &test_config()).unwrap();
        let checkpoint = store.checkpoint().unwrap().expect("the child committed");
        let n = u64::from_le_bytes(checkpoint[..].try_into().unwrap());
        assert!(n > last, "round {round}: resumed from {last}, at {n}");
        last = n;
        let mut model: BTreeMap<Vec<u8>, Bytes> = BTreeMap::new();
        for i in 1..=n {
            for (key, value) in crash_batch_writes(i) {
                match value {
                    Some(v) => model.insert(key, v),
                    None => model.remove(&key),
                };
            }
        }
        let got: BTreeMap<Vec<u8>, Bytes> = store
            .prefix(&table("t"), b"")
            .unwrap()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v)).unwrap())
            .collect();
        assert_eq!(got.len(), model.len(), "round {round}: after commit {n}");
        assert!(
            got == model,
            "round {round}: state is not exactly commit {n}"
        );
    }
}
