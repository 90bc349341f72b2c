//! The Kafka log backend against a real Apache Kafka broker (scripts/kafka/broker.sh): the
//! log's contract (the embedded log's tests, where they apply), then Sluice end to end with
//! its log on Kafka, and byte compatibility with plain Kafka clients both ways.
//!
//! One test binary for every Kafka test, so one broker start (~10 s) serves them all; each
//! test keeps to topics of its own. Skipped, loudly, only where Java or the broker's jars
//! cannot be had (never under CI): see `support::kafka`.

mod nodes;
#[path = "../support/mod.rs"]
mod support;
mod topic_configs;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, TopicPartitionList};
use sluice_engine::api::storage::{
    KafkaConfig, KafkaLog, LogStore, Offset, PartitionCursor, PartitionId, Record, StartPosition,
    StoredRecord, TopicLog, KAFKA_RECORD_BYTES_MAX,
};
use sluice_engine::ErrorCode;
use support::{kafka, LineReader, TestServer, WAIT};

/// The log-contract tests read small topics under a time bound; the two-node failover test
/// (`nodes`) drives two servers flat out for ~20 s on the same broker, which on a 2-core
/// machine can starve a contract test's reads past that bound. The contract tests share this
/// lock; the failover test takes it alone.
static BROKER_LOAD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn open_log(broker: &kafka::Broker) -> Arc<KafkaLog> {
    KafkaLog::open(KafkaConfig::new(&broker.bootstrap)).expect("the Kafka log opens")
}

fn record(i: u64) -> Record {
    Record {
        key: (!i.is_multiple_of(5)).then(|| Bytes::from(format!("key-{i}"))),
        // Every 7th record is a tombstone (null value).
        value: (!i.is_multiple_of(7))
            .then(|| Bytes::from(format!("{{\"ID\":{i},\"NAME\":\"row {i}\"}}"))),
        timestamp_ms: 1_700_000_000_000 + i as i64,
        headers: if i.is_multiple_of(3) {
            vec![
                ("trace".to_owned(), Some(Bytes::from(format!("t{i}")))),
                ("empty".to_owned(), None),
            ]
        } else {
            Vec::new()
        },
    }
}

fn records(range: std::ops::Range<u64>) -> Vec<Record> {
    range.map(record).collect()
}

async fn append(topic: &dyn TopicLog, partition: u32, records: Vec<Record>) -> Offset {
    let ticket = topic
        .append(PartitionId(partition), records)
        .await
        .expect("append queued");
    tokio::time::timeout(WAIT, ticket)
        .await
        .expect("acked in time")
        .expect("ticket")
        .expect("append acked")
}

/// Reads exactly `n` records, waiting on `data_ready` as every reader of the log does.
async fn read_n(
    topic: &dyn TopicLog,
    cursor: &mut dyn PartitionCursor,
    n: usize,
) -> Vec<StoredRecord> {
    read_until(topic, cursor, Until::Records(n)).await
}

/// Where [`read_until`] stops.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// After this many records.
    Records(usize),
    /// Once the cursor reached this offset (transaction markers take offsets but are no
    /// records, so a count cannot say when a transactional topic is read to its end).
    Position(Offset),
}

/// Reads from `cursor` until `until`, waiting on the topic's data signal between reads;
/// panics after [`WAIT`] with where the cursor and the partition stand.
async fn read_until(
    topic: &dyn TopicLog,
    cursor: &mut dyn PartitionCursor,
    until: Until,
) -> Vec<StoredRecord> {
    let ready = topic.data_ready();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut out = Vec::new();
    let done = |out: &Vec<StoredRecord>, cursor: &dyn PartitionCursor| match until {
        Until::Records(n) => out.len() >= n,
        Until::Position(end) => cursor.position() >= end,
    };
    while !done(&out, cursor) {
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Odd-sized reads for a count, so batches straddle the fetcher's.
        let want = match until {
            Until::Records(n) => (n - out.len()).min(37),
            Until::Position(_) => 100,
        };
        if cursor.read(&mut out, want).expect("read") == 0 && !done(&out, cursor) {
            tokio::time::timeout_at(deadline, notified)
                .await
                .unwrap_or_else(|_| {
                    let p = cursor.partition();
                    panic!(
                        "read {} records, waiting for {until:?} (cursor at {:?}, partition {} \
                         holds {:?}..{:?})",
                        out.len(),
                        cursor.position(),
                        p.0,
                        topic.start_offset(p),
                        topic.end_offset(p)
                    )
                });
        }
    }
    out
}

/// Nothing more arrives within a short while.
async fn assert_nothing_more(cursor: &mut dyn PartitionCursor) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut out = Vec::new();
    assert_eq!(cursor.read(&mut out, 100).expect("read"), 0, "{out:?}");
}

fn assert_records(read: &[StoredRecord], partition: u32, expected: std::ops::Range<u64>) {
    assert_eq!(
        read.len() as u64,
        expected.end - expected.start,
        "record count"
    );
    for (stored, i) in read.iter().zip(expected) {
        assert_eq!(stored.partition, PartitionId(partition));
        assert_eq!(stored.offset, Offset(i));
        assert_eq!(stored.record, record(i), "record {i}");
    }
}

async fn read_from(
    topic: &dyn TopicLog,
    partition: u32,
    start: StartPosition,
    n: usize,
) -> Vec<StoredRecord> {
    let mut cursor = topic.cursor(PartitionId(partition), start).expect("cursor");
    let read = read_n(topic, cursor.as_mut(), n).await;
    assert_nothing_more(cursor.as_mut()).await;
    read
}

// ------------------------------------------------------------------------ the log contract

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_with_keys_null_values_headers_and_independent_partitions() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log.create_topic("contract-round-trip", 3).expect("create");
    assert_eq!(topic.partition_count(), 3);
    assert_eq!(append(topic.as_ref(), 0, records(0..10)).await, Offset(0));
    assert_eq!(append(topic.as_ref(), 0, records(10..11)).await, Offset(10));
    assert_eq!(append(topic.as_ref(), 2, records(0..4)).await, Offset(0));
    // An empty append resolves at the end offset and writes nothing.
    assert_eq!(append(topic.as_ref(), 2, Vec::new()).await, Offset(4));

    assert_records(
        &read_from(topic.as_ref(), 0, StartPosition::Earliest, 11).await,
        0,
        0..11,
    );
    assert_records(
        &read_from(topic.as_ref(), 2, StartPosition::Earliest, 4).await,
        2,
        0..4,
    );
    assert!(read_from(topic.as_ref(), 1, StartPosition::Earliest, 0)
        .await
        .is_empty());
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(11));
    assert_eq!(topic.end_offset(PartitionId(1)), Offset(0));
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(0));
    assert!(read_from(topic.as_ref(), 0, StartPosition::Latest, 0)
        .await
        .is_empty());
    assert_records(
        &read_from(topic.as_ref(), 0, StartPosition::At(Offset(6)), 5).await,
        0,
        6..11,
    );
    // Out of range positions clamp to the ends, as a consumer's offset reset would.
    assert!(
        read_from(topic.as_ref(), 0, StartPosition::At(Offset(500)), 0)
            .await
            .is_empty()
    );

    let err = topic
        .append(PartitionId(3), records(0..1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    assert!(matches!(
        topic.cursor(PartitionId(9), StartPosition::Earliest),
        Err(e) if e.code() == ErrorCode::NotFound
    ));
    assert!(matches!(
        log.create_topic("contract-round-trip", 1),
        Err(e) if e.code() == ErrorCode::Conflict
    ));
    let listed = log.list_topics();
    assert!(
        listed
            .iter()
            .any(|t| t.name == "contract-round-trip" && t.partitions == 3),
        "{listed:?}"
    );
    assert!(
        listed.iter().all(|t| !t.name.starts_with("__")),
        "Kafka's internal topics are hidden: {listed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_resolve_in_order_at_contiguous_offsets_under_concurrent_appenders() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log.create_topic("contract-concurrent", 2).expect("create");
    // One caller's queued appends resolve in call order at contiguous offsets.
    let mut tickets = Vec::new();
    for i in 0..200u64 {
        tickets.push(
            topic
                .append(PartitionId(0), vec![record(i)])
                .await
                .expect("queued"),
        );
    }
    for (i, ticket) in tickets.into_iter().enumerate() {
        let offset = tokio::time::timeout(WAIT, ticket)
            .await
            .expect("in time")
            .unwrap()
            .unwrap();
        assert_eq!(offset, Offset(i as u64));
    }
    // Many tasks: every append gets its own offsets, each task's in its call order, and an
    // append's records stay together.
    let tasks = 8u64;
    let per_task = 25u64;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let topic = topic.clone();
            tokio::spawn(async move {
                let mut offsets = Vec::new();
                for i in 0..per_task {
                    let first = t * 1_000 + i * 3;
                    offsets.push(append(topic.as_ref(), 1, records(first..first + 3)).await);
                }
                offsets
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        let offsets = handle.await.unwrap();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "a caller's appends keep their order"
        );
        all.extend(offsets);
    }
    all.sort();
    assert_eq!(
        all,
        (0..tasks * per_task)
            .map(|i| Offset(i * 3))
            .collect::<Vec<_>>()
    );
    let read = read_from(
        topic.as_ref(),
        1,
        StartPosition::Earliest,
        (tasks * per_task * 3) as usize,
    )
    .await;
    for append in read.chunks(3) {
        // The three records of one append, together and in order.
        let first = append[0].record.value.clone();
        let id = |r: &StoredRecord| r.record.timestamp_ms;
        assert_eq!(id(&append[1]), id(&append[0]) + 1, "{first:?}");
        assert_eq!(id(&append[2]), id(&append[0]) + 2, "{first:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_at_the_end_wakes_after_an_append() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log.create_topic("contract-wake", 2).expect("create");
    append(topic.as_ref(), 0, records(0..3)).await;
    let mut cursor = topic
        .cursor(PartitionId(0), StartPosition::Latest)
        .expect("cursor");
    assert_eq!(cursor.position(), Offset(3));
    let ready = topic.data_ready();
    let notified = ready.notified();
    tokio::pin!(notified);
    notified.as_mut().enable(); // register before checking, so no wake-up is lost
    let mut out = Vec::new();
    assert_eq!(cursor.read(&mut out, 10).unwrap(), 0);
    let writer = topic.clone();
    tokio::spawn(async move { append(writer.as_ref(), 0, records(3..5)).await });
    tokio::time::timeout(WAIT, notified)
        .await
        .expect("woken by the append");
    let read = read_n(topic.as_ref(), cursor.as_mut(), 2).await;
    assert_records(&read, 0, 3..5);
    assert_eq!(cursor.position(), Offset(5));
}

/// Reads until the cursor is at `end`, as a caught-up check does; the records read are
/// returned.
async fn read_to(
    topic: &dyn TopicLog,
    cursor: &mut dyn PartitionCursor,
    end: Offset,
) -> Vec<StoredRecord> {
    read_until(topic, cursor, Until::Position(end)).await
}

/// A plain transactional producer writing `{"N":i}` values to one topic, as ksqlDB's
/// exactly-once queries write their outputs.
struct TransactionalWriter {
    producer: FutureProducer,
    topic: String,
}

impl TransactionalWriter {
    fn new(broker: &kafka::Broker, topic: &str) -> TransactionalWriter {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &broker.bootstrap)
            .set("transactional.id", format!("{topic}-writer"))
            .create()
            .expect("producer");
        producer
            .init_transactions(Duration::from_secs(20))
            .expect("init");
        TransactionalWriter {
            producer,
            topic: topic.to_owned(),
        }
    }

    /// Waits until partition 0's last stable offset is `end`: a commit returns once the
    /// transaction coordinator decided, and the markers reach the partitions just after.
    async fn wait_for_markers(&self, broker: &kafka::Broker, end: i64) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &broker.bootstrap)
            .set("group.id", format!("{}-probe", self.topic))
            .set("isolation.level", "read_committed")
            .create()
            .expect("consumer");
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            // A blocking network call: tell the runtime, so the worker's tasks move.
            let marks = tokio::task::block_in_place(|| {
                consumer.fetch_watermarks(&self.topic, 0, Duration::from_secs(5))
            });
            if matches!(marks, Ok((_, high)) if high >= end) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the markers never landed: {marks:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes the values `range` in one transaction, committed or aborted.
    async fn transaction(&self, range: std::ops::Range<u64>, commit: bool) {
        let timeout = Duration::from_secs(20);
        self.producer.begin_transaction().expect("begin");
        for i in range {
            let value = format!("{{\"N\":{i}}}");
            self.producer
                .send(
                    FutureRecord::<(), _>::to(&self.topic).payload(&value),
                    timeout,
                )
                .await
                .expect("sent");
        }
        if commit {
            self.producer.commit_transaction(timeout).expect("commit");
        } else {
            self.producer.abort_transaction(timeout).expect("abort");
        }
    }
}

/// A topic written in transactions (as ksqlDB's exactly-once queries and any transactional
/// producer write) holds a marker after each transaction and may hold aborted batches: no
/// record for a read_committed reader, yet offsets. A reader from history and one at the
/// live end both step over them to the partition's end, or a query over such a topic
/// would never be caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_step_over_transaction_markers_to_the_end() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log
        .create_topic("contract-transactions", 1)
        .expect("create");
    // Offsets: 0..3 records, 3 marker; 4..6 aborted, 6 marker; 7 record, 8 marker.
    let writer = TransactionalWriter::new(broker, "contract-transactions");
    writer.transaction(0..3, true).await;
    writer.transaction(3..5, false).await;
    writer.transaction(5..6, true).await;

    writer.wait_for_markers(broker, 9).await;

    // A new reader learns the end from the cluster and reads history to it.
    let mut history = topic
        .cursor(PartitionId(0), StartPosition::Earliest)
        .expect("cursor");
    let end = topic.end_offset(PartitionId(0));
    assert_eq!(end, Offset(9), "three records, two aborted, three markers");
    let read = read_to(topic.as_ref(), history.as_mut(), end).await;
    let values: Vec<_> = read.iter().map(|r| r.record.value.clone()).collect();
    assert_eq!(
        values,
        ["{\"N\":0}", "{\"N\":1}", "{\"N\":2}", "{\"N\":5}"]
            .map(|v| Some(Bytes::from(v)))
            .to_vec(),
        "committed records only"
    );
    assert_eq!(history.position(), end);

    // A reader at the live end (served from the fetcher's window) gets there too.
    let mut live = topic
        .cursor(PartitionId(0), StartPosition::Latest)
        .expect("cursor");
    writer.transaction(6..8, true).await;
    let read = read_to(topic.as_ref(), live.as_mut(), Offset(12)).await;
    assert_eq!(read.len(), 2, "{read:?}");
    assert_eq!(live.position(), Offset(12));
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(12));
}

/// A persistent query over a topic a transactional producer wrote (a ksqlDB exactly-once
/// query's output, say) reads its committed rows only and reports caught up, though the
/// topic ends with a transaction marker rather than a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_a_topic_written_in_transactions_catches_up() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    drop(log.create_topic("e2e-transactional", 1).expect("create"));
    let writer = TransactionalWriter::new(broker, "e2e-transactional");
    writer.transaction(0..3, true).await;
    writer.transaction(3..5, false).await;
    writer.transaction(5..6, true).await;
    // The topic ends with a marker before the query starts, so it cannot be caught up
    // by an end read before that marker landed.
    writer.wait_for_markers(broker, 9).await;

    let server = TestServer::start_with_log(log).await;
    server
        .ksql_ok(
            "CREATE STREAM txn_src (n BIGINT) \
             WITH (kafka_topic='e2e-transactional', value_format='JSON');",
        )
        .await;
    let csas = serde_json::json!({
        "ksql": "CREATE STREAM txn_out WITH (kafka_topic='e2e-transactional-out') AS \
                 SELECT n FROM txn_src EMIT CHANGES;",
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, body) = server.h2().await.post("/ksql", &csas.to_string()).await;
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(status, http::StatusCode::OK, "{body}");
    let id = nodes::created_query_id(&body);
    // Caught up at the partition's end, past the final marker (offset 8).
    let mut client = server.h2().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = client
            .request("GET", &format!("/queries/{id}/progress"), None, b"")
            .await;
        let body = String::from_utf8_lossy(&body).to_string();
        assert_eq!(status, http::StatusCode::OK, "{body}");
        let progress: serde_json::Value = serde_json::from_str(&body).expect("json");
        if progress["caughtUp"] == true {
            assert_eq!(progress["sources"][0]["endOffset"], 9, "{body}");
            assert_eq!(progress["sources"][0]["position"], 9, "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never caught up with a topic ending in a transaction marker: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = server
        .h2()
        .await
        .post(
            "/query-stream",
            r#"{"sql":"SELECT n FROM txn_out EMIT CHANGES LIMIT 4;","properties":{"auto.offset.reset":"earliest"}}"#,
        )
        .await;
    assert_eq!(status, http::StatusCode::OK);
    let body = String::from_utf8_lossy(&body).to_string();
    let rows: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(
        rows,
        ["[0]", "[1]", "[2]", "[5]"],
        "committed rows only: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_log_on_the_same_cluster_sees_topics_and_reads_history_then_new_records() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let first = open_log(broker);
    let topic = first
        .create_topic("contract-second-node", 1)
        .expect("create");
    append(topic.as_ref(), 0, records(0..300)).await;

    // A second log (a restart, or another node) opens the topic at its current end.
    let second = open_log(broker);
    let seen = second
        .topic("contract-second-node")
        .expect("the cluster has it");
    assert_eq!(seen.partition_count(), 1);
    assert_eq!(seen.end_offset(PartitionId(0)), Offset(300));
    assert!(second.topic("contract-no-such-topic").is_none());
    // History comes through a catch-up consumer, then new records through the tail window,
    // with no gap or repeat where the two meet.
    let mut cursor = seen
        .cursor(PartitionId(0), StartPosition::Earliest)
        .expect("cursor");
    let mut read = read_n(seen.as_ref(), cursor.as_mut(), 300).await;
    append(topic.as_ref(), 0, records(300..320)).await;
    read.extend(read_n(seen.as_ref(), cursor.as_mut(), 20).await);
    assert_records(&read, 0, 0..320);
    assert_nothing_more(cursor.as_mut()).await;
    // A seek back goes through history again.
    cursor.seek_to(Offset(150));
    assert_records(
        &read_n(seen.as_ref(), cursor.as_mut(), 170).await,
        0,
        150..320,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_topic_ends_cursors_and_fails_appends() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log.create_topic("contract-doomed", 2).expect("create");
    append(topic.as_ref(), 0, records(0..3)).await;
    let mut cursor = topic
        .cursor(PartitionId(0), StartPosition::Earliest)
        .expect("cursor");
    let ready = topic.data_ready();
    let waiter = ready.notified();
    tokio::pin!(waiter);
    waiter.as_mut().enable();

    log.delete_topic("contract-doomed").expect("delete");

    assert!(topic.is_deleted());
    tokio::time::timeout(WAIT, waiter)
        .await
        .expect("waiters wake on delete");
    let mut out = Vec::new();
    assert!(matches!(cursor.read(&mut out, 10), Err(e) if e.code() == ErrorCode::NotFound));
    let err = topic
        .append(PartitionId(0), records(0..1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    assert!(log.topic("contract-doomed").is_none());
    assert!(log
        .delete_topic("contract-doomed")
        .is_err_and(|e| e.code() == ErrorCode::NotFound));
    // The name is free again, and the new topic starts empty.
    let again = log
        .create_topic("contract-doomed", 1)
        .expect("create again");
    assert_eq!(again.end_offset(PartitionId(0)), Offset(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_partition_counts_and_oversized_records_are_refused() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let log = open_log(broker);
    for bad in ["", "..", "has space", "slash/y", &"x".repeat(250)] {
        assert!(
            matches!(log.create_topic(bad, 1), Err(e) if e.code() == ErrorCode::InvalidStatement),
            "{bad:?}"
        );
    }
    for partitions in [0, 257] {
        assert!(matches!(
            log.create_topic("contract-partitions", partitions),
            Err(e) if e.code() == ErrorCode::InvalidStatement
        ));
    }
    let topic = log.create_topic("contract-oversized", 1).expect("create");
    let huge = Record {
        key: None,
        value: Some(Bytes::from(vec![b'x'; KAFKA_RECORD_BYTES_MAX + 1])),
        timestamp_ms: 0,
        headers: Vec::new(),
    };
    let err = topic
        .append(PartitionId(0), vec![record(0), huge])
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadRequest, "{err}");
    // Nothing of the refused append was sent.
    assert_eq!(append(topic.as_ref(), 0, records(0..1)).await, Offset(0));
    // Settings the contract rests on cannot be overridden.
    let mut config = KafkaConfig::new(&broker.bootstrap);
    config.settings.push(("acks".into(), "1".into()));
    assert!(KafkaLog::open(config).is_err());
    // A cluster that does not answer fails at open, not at the first statement.
    let mut config = KafkaConfig::new("127.0.0.1:1");
    config
        .settings
        .push(("socket.connection.setup.timeout.ms".into(), "1000".into()));
    config
        .settings
        .push(("topic.metadata.refresh.interval.ms".into(), "100".into()));
    let started = std::time::Instant::now();
    assert!(
        tokio::task::spawn_blocking(move || KafkaLog::open(config).map(|_| ()))
            .await
            .unwrap()
            .is_err()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

// ------------------------------------------------------------------------ end to end

/// A record as a plain consumer sees it: key, value, timestamp, headers.
type PlainRecord = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
    Vec<(String, Option<Vec<u8>>)>,
);

/// A plain Kafka consumer reading every record of `topic` (one partition per call).
fn plain_consume(bootstrap: &str, topic: &str, partitions: u32, n: usize) -> Vec<PlainRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "plain-test-consumer")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p as i32, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = std::time::Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} records",
            out.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => panic!("consume: {e}"),
            Some(Ok(m)) => out.push((
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
                m.timestamp().to_millis().unwrap_or(-1),
                m.headers().map_or_else(Vec::new, |h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                }),
            )),
        }
    }
    out
}

async fn insert_rows(server: &TestServer, target: &str, rows: &[&str]) -> String {
    let mut body = format!("{{\"target\":\"{target}\"}}\n");
    for row in rows {
        body.push_str(row);
        body.push('\n');
    }
    let (status, bytes) = server.h2().await.post("/inserts-stream", &body).await;
    assert_eq!(
        status,
        http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    String::from_utf8(bytes.to_vec()).expect("utf8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_on_kafka_ack_inserts_serve_push_queries_and_store_ksqldb_bytes() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let server = TestServer::start_with_log(open_log(broker)).await;
    server
        .ksql_ok(
            "CREATE STREAM pageviews (userid STRING KEY, pageid STRING, viewtime BIGINT) \
             WITH (kafka_topic='e2e-pageviews', value_format='JSON', partitions=2);",
        )
        .await;
    let topics = server.ksql_ok("SHOW TOPICS;").await.to_string();
    assert!(topics.contains("e2e-pageviews"), "{topics}");

    // A push query from latest, open before the rows arrive.
    let mut client = server.h2().await;
    let (mut tx, response) = client.open("POST", "/query-stream", None).await;
    tx.send_data(Bytes::from_static(
        br#"{"sql":"SELECT userid, viewtime FROM pageviews EMIT CHANGES LIMIT 3;","properties":{}}"#,
    ))
    .await
    .unwrap();
    drop(tx);
    let mut lines = LineReader::new(support::response(response).await.into_body());
    let header = lines.next_line().await.expect("header");
    assert!(
        header.contains("\"columnNames\":[\"USERID\",\"VIEWTIME\"]"),
        "{header}"
    );

    let acks = insert_rows(
        &server,
        "PAGEVIEWS",
        &[
            r#"{"USERID":"u1","PAGEID":"p1","VIEWTIME":1}"#,
            r#"{"userid":"u2","pageid":"p2","viewtime":2}"#,
            r#"{"VIEWTIME":3,"USERID":"u3","PAGEID":null}"#,
        ],
    )
    .await;
    assert_eq!(
        acks,
        "{\"status\":\"ok\",\"seq\":0}\n{\"status\":\"ok\",\"seq\":1}\n{\"status\":\"ok\",\"seq\":2}\n"
    );
    let mut rows = Vec::new();
    for _ in 0..3 {
        rows.push(lines.next_line().await.expect("a row"));
    }
    rows.sort();
    assert_eq!(rows, ["[\"u1\",1]", "[\"u2\",2]", "[\"u3\",3]"]);

    // A plain Kafka consumer reads what ksqlDB would have written: the KAFKA-format key is
    // the string's UTF-8 bytes, the JSON value holds the value columns in schema order.
    let mut stored = plain_consume(&broker.bootstrap, "e2e-pageviews", 2, 3);
    stored.sort();
    // A row whose fields came in another order is stored in the order sent (the ingest fast
    // path keeps the line): the same JSON object to every reader, though not ksqlDB's bytes.
    let third = stored[2].1.clone().expect("value");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&third).unwrap(),
        serde_json::json!({"PAGEID": null, "VIEWTIME": 3})
    );
    stored.truncate(2);
    let kv: Vec<(Vec<u8>, Vec<u8>)> = stored
        .iter()
        .map(|(k, v, _, h)| {
            assert!(h.is_empty(), "no headers: {h:?}");
            (k.clone().expect("key"), v.clone().expect("value"))
        })
        .collect();
    assert_eq!(
        kv,
        [
            (b"u1".to_vec(), br#"{"PAGEID":"p1","VIEWTIME":1}"#.to_vec()),
            (b"u2".to_vec(), br#"{"PAGEID":"p2","VIEWTIME":2}"#.to_vec()),
        ]
    );
    // Each key went to the partition Kafka's default partitioner picks (murmur2), as the
    // Java producer inside ksqlDB would put it.
    let earliest = server
        .h2()
        .await
        .post(
            "/query-stream",
            r#"{"sql":"SELECT USERID, ROWPARTITION, ROWOFFSET FROM pageviews EMIT CHANGES LIMIT 3;","properties":{"auto.offset.reset":"earliest"}}"#,
        )
        .await;
    let body = String::from_utf8_lossy(&earliest.1).to_string();
    for (key, partition) in [
        (
            "u1",
            sluice_engine::api::storage::partition_for_key(b"u1", 2),
        ),
        (
            "u2",
            sluice_engine::api::storage::partition_for_key(b"u2", 2),
        ),
    ] {
        assert!(
            body.contains(&format!("[\"{key}\",{},", partition.0)),
            "{key}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_filled_by_a_plain_producer_is_queryable_after_create_stream() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let log = open_log(broker);
    // The topic exists before Sluice hears of it, made and filled by plain Kafka clients.
    drop(log.create_topic("e2e-external", 1).expect("create"));
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for i in 0..5i64 {
        let value = format!("{{\"NAME\":\"n{i}\",\"N\":{i}}}");
        let key = format!("k{i}");
        producer
            .send(
                FutureRecord::to("e2e-external")
                    .key(&key)
                    .payload(&value)
                    .timestamp(1_600_000_000_000 + i)
                    .headers(OwnedHeaders::new().insert(Header {
                        key: "h",
                        value: Some("v"),
                    })),
                Duration::from_secs(10),
            )
            .await
            .expect("produced");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");

    let server = TestServer::start_with_log(log).await;
    server
        .ksql_ok(
            "CREATE STREAM external (k STRING KEY, name STRING, n INT) \
             WITH (kafka_topic='e2e-external', value_format='JSON');",
        )
        .await;
    let (status, body) = server
        .h2()
        .await
        .post(
            "/query-stream",
            r#"{"sql":"SELECT k, name, n, ROWTIME FROM external EMIT CHANGES LIMIT 5;","properties":{"auto.offset.reset":"earliest"}}"#,
        )
        .await;
    assert_eq!(status, http::StatusCode::OK);
    let body = String::from_utf8_lossy(&body).to_string();
    let rows: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(
        rows,
        (0..5)
            .map(|i| format!("[\"k{i}\",\"n{i}\",{i},{}]", 1_600_000_000_000i64 + i))
            .collect::<Vec<_>>(),
        "{body}"
    );
    // A pull query reads up to the ends the cluster has now, others' writes included.
    let (status, body) = server
        .h2()
        .await
        .post(
            "/query-stream",
            r#"{"sql":"SELECT k, n FROM external;","properties":{}}"#,
        )
        .await;
    assert_eq!(status, http::StatusCode::OK);
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(body.lines().count(), 6, "a header and 5 rows: {body}");
    // A persistent query over the topic (from earliest) writes its own Kafka topic.
    let csas = serde_json::json!({
        "ksql": "CREATE STREAM external_big WITH (kafka_topic='e2e-external-big') AS \
                 SELECT k, UCASE(name) AS name FROM external WHERE n >= 3 EMIT CHANGES;",
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, body) = server.h2().await.post("/ksql", &csas.to_string()).await;
    assert_eq!(
        status,
        http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let derived = plain_consume(&broker.bootstrap, "e2e-external-big", 1, 2);
    let values: Vec<&[u8]> = derived
        .iter()
        .map(|r| r.1.as_deref().expect("value"))
        .collect();
    assert_eq!(values, [&br#"{"NAME":"N3"}"#[..], &br#"{"NAME":"N4"}"#[..]]);
    // Rows inserted through Sluice land after the plain producer's, in the same topic.
    insert_rows(&server, "EXTERNAL", &[r#"{"K":"k5","NAME":"n5","N":5}"#]).await;
    let stored = plain_consume(&broker.bootstrap, "e2e-external", 1, 6);
    assert_eq!(
        stored[0].3,
        vec![("h".to_owned(), Some(b"v".to_vec()))],
        "headers kept"
    );
    assert_eq!(stored[5].0.as_deref(), Some(&b"k5"[..]));
    assert_eq!(stored[5].1.as_deref(), Some(&br#"{"NAME":"n5","N":5}"#[..]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_serve_with_log_kafka_runs_statements_inserts_and_queries() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = support::child::ChildServer::start_with(
        dir.path(),
        &[
            "--log",
            "kafka",
            "--kafka-bootstrap",
            &broker.bootstrap,
            "--service-id",
            "child_",
            "--kafka-config",
            "linger.ms=1",
        ],
    );
    let mut client = support::Client::connect(server.addr, support::Proto::H2).await;
    let (status, body) = client
        .ksql("CREATE STREAM child_s (id INT KEY, v STRING) WITH (kafka_topic='e2e-child', value_format='JSON', partitions=1);")
        .await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    let (status, acks) = client
        .post(
            "/inserts-stream",
            "{\"target\":\"CHILD_S\"}\n{\"ID\":7,\"V\":\"seven\"}\n",
        )
        .await;
    assert_eq!(status, http::StatusCode::OK);
    assert_eq!(&acks[..], b"{\"status\":\"ok\",\"seq\":0}\n");
    let stored = plain_consume(&broker.bootstrap, "e2e-child", 1, 1);
    // An INT key in the KAFKA format is a 4-byte big-endian integer.
    assert_eq!(stored[0].0.as_deref(), Some(&[0u8, 0, 0, 7][..]));
    assert_eq!(stored[0].1.as_deref(), Some(&br#"{"V":"seven"}"#[..]));
    server.kill();
}
