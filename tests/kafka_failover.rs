//! Failover on a real three-broker Kafka cluster (scripts/kafka/broker.sh --brokers 3:
//! replication factor 3, min.insync.replicas 2): one broker is SIGKILLed while rows stream
//! into Sluice, and every row Sluice acked is read back afterwards by a plain consumer.
//!
//! Its own test binary because it starts its own cluster (20-40 s on a loaded 2-core
//! machine) and kills part of it. Skipped, loudly, only where Java or the broker's jars
//! cannot be had (never under CI): see `support::kafka`.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, TopicPartitionList};
use support::{child, kafka, Client, Proto};

/// Rows the test streams, at most: enough for the kill to land mid-ingest.
const ROWS_MAX: u64 = 60_000;
/// Rows acked before the broker is killed.
const ACKED_BEFORE_KILL: u64 = 10_000;
/// Partitions of the test stream: spread over the three brokers, so the killed one leads
/// some of them.
const PARTITIONS: u32 = 6;
/// The whole ingest (kill, leader elections, the rest of the rows) must end within this.
const INGEST_TIMEOUT: Duration = Duration::from_secs(90);

/// The server, SIGKILLed when dropped, so a failing test leaves no server behind.
struct KilledOnDrop(Option<child::ChildServer>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            server.kill();
        }
    }
}

fn row(i: u64) -> String {
    format!("{{\"ID\":{i},\"V\":\"row-{i}\"}}")
}

/// Every id stored in `topic` (duplicates included), read by a plain read_committed
/// consumer up to the end of every partition.
fn read_ids(bootstrap: &str, topic: &str) -> Vec<u64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "failover-check")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, p as i32, rdkafka::Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + support::WAIT * 4;
    let mut at_end = HashSet::new();
    let mut ids = Vec::new();
    while at_end.len() < PARTITIONS as usize {
        assert!(
            Instant::now() < deadline,
            "read {} ids, then stalled",
            ids.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            // Broker 1 is gone and still in the bootstrap list: its connection errors are
            // transient ones the consumer reports and moves on from.
            Some(Err(e)) => eprintln!("consume (transient): {e}"),
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let value: serde_json::Value =
                    serde_json::from_slice(m.payload().expect("a value")).expect("json");
                // ID is the key column, so the value holds V only: `row-<id>`.
                let v = value["V"].as_str().expect("a V");
                ids.push(v["row-".len()..].parse().expect("row-<id>"));
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_ingest_loses_no_acked_row() {
    let mut cluster = match kafka::Broker::start(3, "failover") {
        Ok(cluster) => cluster,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the Kafka tests, but no Kafka broker can be had: {why}")
        }
        Err(why) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("\n!!!!! SKIPPING the Kafka failover test: {why} !!!!!\n").as_bytes(),
            );
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = KilledOnDrop(Some(child::ChildServer::start_with(
        dir.path(),
        &[
            "--log",
            "kafka",
            "--kafka-bootstrap",
            &cluster.bootstrap,
            "--service-id",
            "failover_",
        ],
    )));
    let addr = server.0.as_ref().expect("started").addr;
    let mut client = Client::connect(addr, Proto::H2).await;
    let (status, body) = client
        .ksql(&format!(
            "CREATE STREAM fo (id BIGINT KEY, v STRING) \
             WITH (kafka_topic='failover', value_format='JSON', partitions={PARTITIONS});"
        ))
        .await;
    assert_eq!(status, http::StatusCode::OK, "{body}");

    let acked = Arc::new(AtomicU64::new(0));
    let ingest = tokio::spawn(child::produce_until_killed(
        addr,
        "FO",
        0,
        ROWS_MAX,
        row,
        Arc::clone(&acked),
    ));
    let started = Instant::now();
    while acked.load(Ordering::SeqCst) < ACKED_BEFORE_KILL {
        assert!(
            started.elapsed() < INGEST_TIMEOUT && !ingest.is_finished(),
            "only {} rows acked before the kill",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_kill = acked.load(Ordering::SeqCst);
    // Broker 1 is also the first bootstrap server and a controller: the hardest one to lose.
    tokio::task::block_in_place(|| cluster.kill_broker(1));
    let killed_after = started.elapsed();
    tokio::time::timeout(INGEST_TIMEOUT, ingest)
        .await
        .expect("the ingest ends in time")
        .expect("the ingest task");
    let total = acked.load(Ordering::SeqCst);
    eprintln!(
        "failover: {at_kill} rows acked when broker 1 was SIGKILLed ({killed_after:?} in), \
         {total} acked in all ({:?})",
        started.elapsed()
    );
    // Ingest went on after the kill until every row was acked, each ack ok and in order.
    assert_eq!(
        total, ROWS_MAX,
        "ingest went on after the kill: {total} acked, {at_kill} at the kill"
    );

    let ids = tokio::task::block_in_place(|| read_ids(&cluster.bootstrap, "failover"));
    let distinct: HashSet<u64> = ids.iter().copied().collect();
    let missing: Vec<u64> = (0..total).filter(|i| !distinct.contains(i)).collect();
    eprintln!(
        "failover: read back {} records, {} distinct ids, {} acked ids missing, {} duplicates",
        ids.len(),
        distinct.len(),
        missing.len(),
        ids.len() - distinct.len()
    );
    assert!(
        missing.is_empty(),
        "acked rows missing: {:?}…",
        &missing[..missing.len().min(10)]
    );
    assert_eq!(
        ids.len(),
        distinct.len(),
        "idempotence: no row stored twice"
    );
    drop(server);
    cluster.stop();
}
