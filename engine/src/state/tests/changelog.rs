//! Stores copied to a changelog (the Kafka backend's shape, over an in-memory changelog
//! that fences as Kafka's transactional ids do): a node taking a query over restores the
//! last commit, a current copy is kept, a fenced node cannot write, and a cleared changelog
//! never lets an old copy pass for current.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;

/// Changelogs in memory, shared by the "nodes" (backends) of a test.
#[derive(Debug, Default)]
pub(super) struct MemoryChangelogs {
    topics: Mutex<HashMap<String, Arc<Mutex<Topic>>>>,
    /// Opening this query's changelog says so, then waits to be let go (a slow restore).
    hold: Mutex<Option<Hold>>,
}

#[derive(Debug)]
struct Hold {
    query_id: String,
    entered: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
}

#[derive(Debug, Default)]
struct Topic {
    records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Bumped by every open: an older writer is fenced.
    epoch: u64,
    /// Reads made, for telling a restore (two) from a look at the last marker (one).
    reads: usize,
    /// A read from the start fails after this many records (a node dying mid-restore).
    cut_restore_after: Option<usize>,
}

#[derive(Debug)]
struct MemoryChangelog {
    topic: Arc<Mutex<Topic>>,
    epoch: u64,
}

impl MemoryChangelogs {
    fn topic(&self, query_id: &str) -> Arc<Mutex<Topic>> {
        let mut topics = self.topics.lock().unwrap();
        topics.entry(query_id.to_owned()).or_default().clone()
    }

    fn reads(&self, query_id: &str) -> usize {
        self.topic(query_id).lock().unwrap().reads
    }
}

impl Changelogs for MemoryChangelogs {
    fn open(&self, query_id: &str) -> crate::error::Result<Box<dyn Changelog>> {
        let held = {
            let mut hold = self.hold.lock().unwrap();
            match hold.as_ref() {
                Some(h) if h.query_id == query_id => hold.take(),
                _ => None,
            }
        };
        if let Some(h) = held {
            h.entered.send(()).unwrap();
            h.release.recv().unwrap();
        }
        let topic = self.topic(query_id);
        let epoch = {
            let mut t = topic.lock().unwrap();
            t.epoch += 1;
            t.epoch
        };
        Ok(Box::new(MemoryChangelog { topic, epoch }))
    }

    fn remove(&self, query_id: &str) -> crate::error::Result<()> {
        self.topics.lock().unwrap().remove(query_id);
        Ok(())
    }
}

impl Changelog for MemoryChangelog {
    fn write(
        &mut self,
        records: &mut dyn Iterator<Item = (&[u8], Option<&[u8]>)>,
    ) -> crate::error::Result<()> {
        let mut topic = self.topic.lock().unwrap();
        if topic.epoch != self.epoch {
            return Err(crate::error::EngineError::conflict("fenced"));
        }
        let records: Vec<_> = records
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        topic.records.extend(records);
        Ok(())
    }

    fn bounds(&self) -> crate::error::Result<(u64, u64)> {
        Ok((0, self.topic.lock().unwrap().records.len() as u64))
    }

    fn read(
        &self,
        from: u64,
        to: u64,
        visit: &mut RecordVisitor<'_>,
    ) -> crate::error::Result<()> {
        let (records, cut) = {
            let mut topic = self.topic.lock().unwrap();
            topic.reads += 1;
            let cut = topic.cut_restore_after.filter(|_| from == 0);
            (topic.records[from as usize..to as usize].to_vec(), cut)
        };
        for (i, (k, v)) in records.iter().enumerate() {
            if cut == Some(i) {
                return Err(crate::error::EngineError::internal("the read was cut short"));
            }
            visit(k, v.as_deref())?;
        }
        Ok(())
    }

    fn reset(&mut self) -> crate::error::Result<()> {
        self.topic.lock().unwrap().records.clear();
        Ok(())
    }
}

/// One node: its own data directory, the service's shared changelogs.
struct Node {
    dir: tempfile::TempDir,
    changelogs: Arc<MemoryChangelogs>,
}

impl Node {
    fn new(changelogs: &Arc<MemoryChangelogs>) -> Node {
        Node {
            dir: tempfile::tempdir().unwrap(),
            changelogs: changelogs.clone(),
        }
    }

    /// The query's store, as the node running the query next opens it.
    fn open(&self) -> (StateBackend, Arc<dyn StateStore>) {
        let backend = StateBackend::embedded(self.dir.path(), test_config())
            .unwrap()
            .with_changelogs(self.changelogs.clone());
        let store = backend.open(QUERY).unwrap();
        (backend, store)
    }
}

/// Two nodes of one service, and the service's changelogs.
fn two_nodes() -> (Arc<MemoryChangelogs>, Node, Node) {
    let changelogs = Arc::new(MemoryChangelogs::default());
    let (a, b) = (Node::new(&changelogs), Node::new(&changelogs));
    (changelogs, a, b)
}

/// Opens the store on `node`, commits there, and closes it (the node stops running the
/// query).
fn commit_on(node: &Node, t: &StateTable, puts: &[(&str, &str)], checkpoint: Option<&str>) {
    let (_backend, store) = node.open();
    commit(&*store, t, puts, checkpoint);
}

fn contents(store: &dyn StateStore, t: &StateTable) -> Vec<(String, String)> {
    collect(store.range(t, Bound::Unbounded, Bound::Unbounded).unwrap())
}

#[test]
fn a_node_taking_a_query_over_restores_the_last_commit() {
    let (_, node_a, node_b) = two_nodes();
    let t = table("agg");
    {
        let (_backend, store) = node_a.open();
        commit(&*store, &t, &[("k1", "1"), ("k2", "1")], Some("p1"));
        commit(&*store, &t, &[("k1", "2")], Some("p2"));
    }
    {
        let (_backend, store) = node_b.open();
        assert_eq!(
            contents(&*store, &t),
            [("k1".into(), "2".into()), ("k2".into(), "1".into())]
        );
        assert_eq!(store.checkpoint().unwrap(), Some(b("p2")));
        let mut batch = WriteBatch::new();
        batch.delete(&t, b"k2").unwrap();
        batch.put(&t, b"k3", b("1")).unwrap();
        batch.set_checkpoint(b("p3")).unwrap();
        store.commit(batch).unwrap();
        // A commit with no checkpoint of its own keeps the last one, in the changelog too.
        commit(&*store, &t, &[("k3", "2")], None);
    }
    // A's own copy is stale now: it restores B's commits, the delete included.
    let (_backend, store) = node_a.open();
    assert_eq!(
        contents(&*store, &t),
        [("k1".into(), "2".into()), ("k3".into(), "2".into())]
    );
    assert_eq!(store.checkpoint().unwrap(), Some(b("p3")));
}

#[test]
fn a_current_copy_is_kept_and_a_stale_one_restored() {
    let (changelogs, node_a, node_b) = two_nodes();
    let t = table("agg");
    commit_on(&node_a, &t, &[("k", "1")], Some("p1"));
    let before = changelogs.reads(QUERY);
    let (backend, _) = node_a.open();
    assert_eq!(
        changelogs.reads(QUERY) - before,
        1,
        "a current copy needs only the look at the last marker"
    );
    assert_eq!(backend.restored_records(), 0);
    drop(backend);
    let (backend, _) = node_b.open();
    // One put and one marker read; the marker is not a record of the state.
    assert_eq!(backend.restored_records(), 1);
    drop(backend);
    let before = changelogs.reads(QUERY);
    commit_on(&node_a, &t, &[("k", "2")], Some("p2"));
    let (_backend, store) = node_b.open();
    assert_eq!(changelogs.reads(QUERY) - before, 1 + 1 + 1, "A's look, B's look and restore");
    assert_eq!(contents(&*store, &t), [("k".into(), "2".into())]);
}

#[test]
fn a_fenced_node_cannot_commit_and_stays_refused() {
    let (_, node_a, node_b) = two_nodes();
    let t = table("agg");
    let (_backend_a, old) = node_a.open();
    commit(&*old, &t, &[("k", "1")], Some("p1"));
    let (_backend_b, new) = node_b.open();
    let mut batch = WriteBatch::new();
    batch.put(&t, b"k", b("zombie")).unwrap();
    batch.set_checkpoint(b("p-zombie")).unwrap();
    assert!(old.commit(batch).is_err(), "the old holder was fenced");
    // Poisoned: not even a commit that would reach no changelog goes through.
    assert!(old.commit(WriteBatch::new()).is_err());
    commit(&*new, &t, &[("k", "2")], Some("p2"));
    drop((old, _backend_a));
    let (_backend, store) = node_a.open();
    assert_eq!(contents(&*store, &t), [("k".into(), "2".into())]);
    assert_eq!(store.checkpoint().unwrap(), Some(b("p2")));
}

#[test]
fn a_cleared_store_never_lets_an_old_copy_pass_for_current() {
    let (_, node_a, node_b) = two_nodes();
    let t = table("agg");
    commit_on(&node_a, &t, &[("old", "1")], Some("p1"));
    {
        // The query id starts over (a CREATE that never reached the command log, retried).
        let (_backend, store) = node_b.open();
        store.clear().unwrap();
        assert_eq!(contents(&*store, &t), []);
        assert_eq!(store.checkpoint().unwrap(), None);
        commit(&*store, &t, &[("new", "1")], Some("q1"));
    }
    let (_backend, store) = node_a.open();
    assert_eq!(contents(&*store, &t), [("new".into(), "1".into())]);
    assert_eq!(store.checkpoint().unwrap(), Some(b("q1")));
}

#[test]
fn a_lost_changelog_clears_the_local_copy() {
    let (changelogs, node_a, _) = two_nodes();
    let t = table("agg");
    commit_on(&node_a, &t, &[("k", "1")], Some("p1"));
    // Someone deleted the changelog topic: its copy of the state is gone, so the local one
    // can no longer be kept in step with it; the query rebuilds from its sources.
    changelogs.remove(QUERY).unwrap();
    let (_backend, store) = node_a.open();
    assert_eq!(contents(&*store, &t), []);
    assert_eq!(store.checkpoint().unwrap(), None);
}

#[test]
fn destroy_removes_the_changelog() {
    let (changelogs, node_a, _) = two_nodes();
    let t = table("agg");
    let (backend, store) = node_a.open();
    commit(&*store, &t, &[("k", "1")], Some("p1"));
    drop(store);
    backend.destroy(QUERY).unwrap();
    assert!(!changelogs.topics.lock().unwrap().contains_key(QUERY));
}

#[test]
fn a_restore_in_many_commits_cut_short_is_done_again_whole() {
    let changelogs = Arc::new(MemoryChangelogs::default());
    let t = table("agg");
    let key = |i: usize| format!("k{i:04}");
    // Past the first look's reach, so only the restore reads from the start.
    let (commits, per_commit) = (4, MARKER_PROBE_RECORDS as usize / 2);
    let writer = ChangelogStore::open(Arc::new(MemoryStore::new()), changelogs.open(QUERY).unwrap())
        .unwrap();
    for c in 0..commits {
        let keys: Vec<String> = (c * per_commit..(c + 1) * per_commit).map(key).collect();
        let puts: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        commit(&writer, &t, &puts, Some(&format!("p{c}")));
    }
    drop(writer);
    let total = commits * per_commit;

    // A node dies halfway through its restore, after several of its commits landed.
    let local: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    changelogs.topic(QUERY).lock().unwrap().cut_restore_after = Some(total / 2);
    let cut = ChangelogStore::open_restoring_in(local.clone(), changelogs.open(QUERY).unwrap(), 1024);
    assert!(cut.is_err());
    let partial = contents(&*local, &t).len();
    assert!(partial > 0 && partial < total, "{partial} of {total} keys landed");
    assert_eq!(local.checkpoint().unwrap(), None, "a partial copy has no checkpoint");

    // Its next open finds a copy that is not the changelog's and restores it whole.
    changelogs.topic(QUERY).lock().unwrap().cut_restore_after = None;
    let store =
        ChangelogStore::open_restoring_in(local.clone(), changelogs.open(QUERY).unwrap(), 1024)
            .unwrap();
    assert_eq!(store.restored_records(), total as u64);
    let keys: Vec<String> = contents(&store, &t).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, (0..total).map(key).collect::<Vec<_>>());
    assert_eq!(store.checkpoint().unwrap(), Some(b(&format!("p{}", commits - 1))));
}

#[test]
fn a_slow_restore_holds_up_only_its_own_store() {
    use std::sync::mpsc;
    use std::time::Duration;

    let changelogs = Arc::new(MemoryChangelogs::default());
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    *changelogs.hold.lock().unwrap() = Some(Hold {
        query_id: "CTAS_SLOW_9".to_owned(),
        entered: entered_tx,
        release: release_rx,
    });
    let node = Node::new(&changelogs);
    let backend = Arc::new(
        StateBackend::embedded(node.dir.path(), test_config())
            .unwrap()
            .with_changelogs(changelogs.clone()),
    );
    let slow = {
        let backend = backend.clone();
        std::thread::spawn(move || backend.open("CTAS_SLOW_9"))
    };
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    // While that store restores, another opens, and a second opener of the slow one waits.
    let (done_tx, done) = mpsc::channel();
    {
        let backend = backend.clone();
        std::thread::spawn(move || done_tx.send(backend.open(QUERY).map(drop)).unwrap());
    }
    done.recv_timeout(Duration::from_secs(10))
        .expect("another store's open waited for a restore")
        .unwrap();
    let (second_tx, second) = mpsc::channel();
    {
        let backend = backend.clone();
        std::thread::spawn(move || second_tx.send(backend.open("CTAS_SLOW_9")).unwrap());
    }
    assert!(second.recv_timeout(Duration::from_millis(200)).is_err());
    release.send(()).unwrap();
    let first = slow.join().unwrap().unwrap();
    let again = second.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the second opener got the first's handle");
}
