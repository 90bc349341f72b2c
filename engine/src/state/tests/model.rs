//! Model-based property tests: random puts, deletes, commits, abandons, reopens, gets and
//! scans against a `BTreeMap` model, straight into a store or through the cache (commits
//! waited for, or left in flight).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

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
