//! The state store contract, run against both stores (through `StateBackend`, so reopen is
//! what a restarted query does), and a `kill -9` test; the write-back cache (`write_cache`)
//! and model-based property tests (`model`) in their own files.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, SeedableRng};

use super::*;
use crate::error::ErrorCode;
use crate::log::FsyncPolicy;

mod changelog;
mod model;
mod write_cache;

/// Query id of the store every contract test uses.
const QUERY: &str = "CTAS_TEST_1";

/// A backend to run the contract against, and a way to "restart" it.
struct Harness {
    backend: Option<StateBackend>,
    /// Keeps an embedded backend's directory alive.
    dir: Option<tempfile::TempDir>,
    /// The changelogs an embedded backend's stores are copied to (the Kafka backend's
    /// shape), kept across its restarts.
    changelogs: Option<Arc<changelog::MemoryChangelogs>>,
}

impl Harness {
    fn memory() -> Harness {
        Harness {
            backend: Some(StateBackend::in_memory()),
            dir: None,
            changelogs: None,
        }
    }

    fn embedded() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let backend = StateBackend::embedded(dir.path(), test_config()).unwrap();
        Harness {
            backend: Some(backend),
            dir: Some(dir),
            changelogs: None,
        }
    }

    /// Embedded stores, each copied to a changelog.
    fn changelogged() -> Harness {
        let mut h = Harness::embedded();
        h.changelogs = Some(Arc::default());
        h.backend = Some(h.new_backend());
        h
    }

    fn new_backend(&self) -> StateBackend {
        let dir = self.dir.as_ref().expect("an embedded harness");
        let backend = StateBackend::embedded(dir.path(), test_config()).unwrap();
        match &self.changelogs {
            Some(changelogs) => backend.with_changelogs(changelogs.clone()),
            None => backend,
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
        if self.dir.is_some() {
            self.backend = None;
            self.backend = Some(self.new_backend());
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

/// Every store the contract holds for: in memory, embedded, embedded with a changelog.
fn every_store() -> [(&'static str, Harness); 3] {
    [
        ("memory", Harness::memory()),
        ("embedded", Harness::embedded()),
        ("changelogged", Harness::changelogged()),
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
    for (name, mut h) in every_store() {
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
    for (name, h) in every_store() {
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
    for (name, h) in every_store() {
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
    for (name, mut h) in every_store() {
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
    for (name, h) in every_store() {
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
    for (name, mut h) in every_store() {
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
    for (name, h) in every_store() {
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
    for (name, h) in every_store() {
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
    for (name, mut h) in every_store() {
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
        // An orphan's local copy is gone; a changelog (another node's source of the
        // state) is removed only by `destroy`, and the store comes back from it.
        let restored = h.changelogs.is_some().then(|| b("1"));
        assert_eq!(
            backend.open(QUERY).unwrap().get(&t, b"a").unwrap(),
            restored,
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
