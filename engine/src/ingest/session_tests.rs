//! A batch that spans partitions and fails in one of them: every row that was stored is
//! acked, and no row that was not.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::api::{Engine, EngineConfig};
use crate::error::{EngineError, Result};
use crate::log::*;

use super::session::Ack;

/// Rows in the test batch: enough that both partitions get rows, interleaved, and fewer
/// than one batch holds, so all of them are appended together.
const ROWS: u64 = 40;

/// How the faulty partition fails.
#[derive(Clone, Copy)]
enum Fault {
    /// `TopicLog::append` itself returns an error (the partition refuses writes).
    AppendCall,
    /// The append is accepted, but its ticket resolves with an error (the write failed).
    Ticket,
}

/// The embedded log, except that partition 1 of every topic fails as `fault` says.
struct FaultyLog {
    inner: Arc<EmbeddedLog>,
    fault: Fault,
}

struct FaultyTopic {
    inner: Arc<dyn TopicLog>,
    fault: Fault,
}

const FAULTY_PARTITION: PartitionId = PartitionId(1);

impl LogStore for FaultyLog {
    fn create_topic_with(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<dyn TopicLog>> {
        self.inner.create_topic_with(name, partitions, config)
    }
    fn delete_topic(&self, name: &str) -> Result<()> {
        self.inner.delete_topic(name)
    }
    fn topic(&self, name: &str) -> Option<Arc<dyn TopicLog>> {
        let inner = self.inner.topic(name)?;
        Some(Arc::new(FaultyTopic {
            inner,
            fault: self.fault,
        }))
    }
    fn list_topics(&self) -> Vec<TopicInfo> {
        self.inner.list_topics()
    }
}

impl TopicLog for FaultyTopic {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn partition_count(&self) -> u32 {
        self.inner.partition_count()
    }
    fn append(
        &self,
        partition: PartitionId,
        records: Vec<Record>,
    ) -> Pin<Box<dyn Future<Output = Result<AppendTicket>> + Send + '_>> {
        if partition != FAULTY_PARTITION {
            return self.inner.append(partition, records);
        }
        let fault = self.fault;
        Box::pin(async move {
            match fault {
                Fault::AppendCall => Err(EngineError::internal("partition 1 refuses writes")),
                Fault::Ticket => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let _ = tx.send(Err(EngineError::internal("partition 1 write failed")));
                    Ok(rx)
                }
            }
        })
    }
    fn end_offset(&self, partition: PartitionId) -> Offset {
        self.inner.end_offset(partition)
    }
    fn start_offset(&self, partition: PartitionId) -> Offset {
        self.inner.start_offset(partition)
    }
    fn cursor(
        &self,
        partition: PartitionId,
        start: StartPosition,
    ) -> Result<Box<dyn PartitionCursor>> {
        self.inner.cursor(partition, start)
    }
    fn data_ready(&self) -> Arc<tokio::sync::Notify> {
        self.inner.data_ready()
    }
    fn is_deleted(&self) -> bool {
        self.inner.is_deleted()
    }
}

/// The `V` of every record stored in the topic (each row's `V` is its seq).
fn stored_seqs(log: &EmbeddedLog, topic: &str) -> BTreeSet<u64> {
    let topic = log.topic(topic).expect("topic exists");
    let mut seqs = BTreeSet::new();
    for p in 0..topic.partition_count() {
        let mut cursor = topic
            .cursor(PartitionId(p), StartPosition::Earliest)
            .expect("cursor");
        let mut out = Vec::new();
        while cursor.read(&mut out, 100).expect("read") > 0 {}
        for stored in out {
            let value = stored.record.value.expect("a value");
            let row: serde_json::Value = serde_json::from_slice(&value).expect("json value");
            seqs.insert(row["V"].as_u64().expect("V is a number"));
        }
    }
    seqs
}

/// ROWS keys, the first on the healthy partition (so an append is made before the faulty
/// one is reached) and both partitions' rows interleaved after it.
fn batch_keys() -> Vec<String> {
    let partition = |key: &String| partition_for_key(key.as_bytes(), 2);
    let mut keys: Vec<String> = (0..ROWS).map(|i| format!("key-{i}")).collect();
    let first_healthy = keys
        .iter()
        .position(|k| partition(k) != FAULTY_PARTITION)
        .expect("some key hashes to partition 0");
    keys.rotate_left(first_healthy);
    assert!(keys.iter().any(|k| partition(k) == FAULTY_PARTITION));
    keys
}

/// Inserts ROWS rows in one batch over a log whose partition 1 fails; returns the acked
/// seqs, the failed seq, and the seqs stored.
fn insert_with_fault(fault: Fault) -> (BTreeSet<u64>, u64, BTreeSet<u64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let inner = EmbeddedLog::open(dir.path(), LogConfig::default()).expect("log opens");
    let log = Arc::new(FaultyLog {
        inner: Arc::clone(&inner),
        fault,
    });
    let config = EngineConfig {
        data_dir: dir.path().to_path_buf(),
        fsync: FsyncPolicy::Always,
        limits: Default::default(),
    };
    let engine = Engine::open_with_log(config, log).expect("engine opens");
    rt.block_on(async {
        let none = HashMap::new();
        engine
            .execute(
                "CREATE STREAM S (K STRING KEY, V BIGINT) \
                 WITH (kafka_topic='s', partitions=2, value_format='json');",
                &none,
                &none,
            )
            .await
            .expect("stream created");
        let (mut session, mut acks) = engine.insert_session("S").expect("session");
        let lines: Vec<Bytes> = batch_keys()
            .iter()
            .zip(0..)
            .map(|(key, seq)| Bytes::from(format!("{{\"K\":\"{key}\",\"V\":{seq}}}")))
            .collect();
        let _ = session.push(&lines).await;
        session.finish().await;
        let mut acked = BTreeSet::new();
        let mut failed = None;
        while let Some(ack) = acks.next().await {
            assert!(failed.is_none(), "an ack after the failure");
            match ack {
                Ack::Ok {
                    first_seq, rows, ..
                } => acked.extend(first_seq..first_seq + rows),
                Ack::Failed { seq, .. } => failed = Some(seq),
            }
        }
        let failed = failed.expect("the faulty partition's rows fail");
        (acked, failed, stored_seqs(&inner, "s"))
    })
}

fn check_partial_failure(fault: Fault) {
    let (acked, failed, stored) = insert_with_fault(fault);
    assert_eq!(acked, stored, "acked rows must be exactly the stored rows");
    assert!(!stored.is_empty(), "partition 0's rows are stored");
    let not_stored: BTreeSet<u64> = (0..ROWS).filter(|s| !stored.contains(s)).collect();
    assert!(!not_stored.is_empty(), "partition 1's rows are not stored");
    assert_eq!(Some(&failed), not_stored.first(), "the error names the first lost row");
    assert!(
        acked.iter().any(|&s| s > failed),
        "rows after the failed one in other partitions are durable and acked"
    );
}

#[test]
fn a_refused_append_acks_the_other_partitions_rows() {
    check_partial_failure(Fault::AppendCall);
}

#[test]
fn a_failed_write_acks_the_other_partitions_rows() {
    check_partial_failure(Fault::Ticket);
}
