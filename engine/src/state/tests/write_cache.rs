//! The write-back cache: it reads its own writes, stays within its budget, and keeps a
//! commit in flight readable until it lands.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;

#[test]
fn cache_reads_its_writes_and_readers_see_only_commits() {
    for (name, h) in every_store() {
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
