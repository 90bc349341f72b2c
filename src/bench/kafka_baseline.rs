//! `sluice bench --kafka-baseline BOOTSTRAP`: the same rows, produced straight into Kafka by
//! a bare rdkafka producer with the settings Sluice's Kafka log uses (idempotent, acks=all,
//! linger.ms=5), so `/inserts-stream` into a `--log kafka` server can be compared with
//! Kafka alone on the same broker.
//!
//! ```text
//!  RowGen (same seed, same bytes as the HTTP producers send) ─► producer.send (value = row)
//!  ─► delivery reports counted ─► rows/s from the first send to the last acknowledgement
//! ```
//!
//! Each row is a keyless record whose value is the row's bytes, which is exactly what Sluice
//! stores for a keyless bench stream, spread over partitions as Sluice spreads keyless rows
//! (round robin per batch).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext};

use super::rows::{RowGen, RowShape};

/// The topic the baseline writes (recreated each run).
pub const BASELINE_TOPIC: &str = "bench_kafka_baseline";

/// Rows one batch sends to a partition before the spreader moves on, as Sluice's ingest
/// batches keyless rows (INSERT_BATCH_ROWS_MAX).
const SPREAD_BATCH_ROWS: u64 = 1024;

/// How long the run may wait for the last acknowledgements after the last send.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Counts delivery reports.
struct Counting {
    acked: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// What the baseline measured.
#[derive(Debug, serde::Serialize)]
pub struct BaselineReport {
    pub bootstrap: String,
    pub partitions: u32,
    pub rows: u64,
    pub row_bytes_mean: f64,
    pub seconds: f64,
    pub rows_per_s: f64,
    pub mb_per_s: f64,
    pub failed: u64,
}

/// Deletes `names` from the cluster (missing ones are fine): a server spawned on Kafka has a
/// fresh catalog, so `DROP STREAM … DELETE TOPIC` cannot remove an earlier run's topics, and
/// one with another partition count would make `CREATE STREAM` fail.
pub async fn delete_topics(bootstrap: &str, names: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating a Kafka admin client")?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for result in admin.delete_topics(&names, &options).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, code)) => bail!("deleting topic {name}: {code}"),
        }
    }
    Ok(())
}

async fn recreate_topic(bootstrap: &str, partitions: u32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating a Kafka admin client")?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    // Missing is fine; anything else is reported by the create below.
    let _ = admin.delete_topics(&[BASELINE_TOPIC], &options).await;
    let topic = NewTopic::new(
        BASELINE_TOPIC,
        i32::try_from(partitions).context("partitions")?,
        TopicReplication::Fixed(-1),
    );
    // A just-deleted topic can take a moment to go: retry "already exists" a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let results = admin.create_topics([&topic], &options).await?;
        match results.into_iter().next() {
            Some(Ok(_)) => break,
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some(Err((_, code))) => bail!("creating {BASELINE_TOPIC}: {code}"),
            None => bail!("creating {BASELINE_TOPIC}: no result"),
        }
    }
    // Leaders may take a moment on a fresh topic; librdkafka waits for them on send.
    Ok(())
}

/// Produces `rows` rows of `shape`, padded to `row_bytes` if given (seeded like the HTTP
/// producers), and measures.
pub async fn run(
    bootstrap: &str,
    partitions: u32,
    rows: u64,
    shape: RowShape,
    row_bytes: Option<usize>,
    seed: u64,
) -> anyhow::Result<BaselineReport> {
    recreate_topic(bootstrap, partitions).await?;
    let context = Counting {
        acked: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    };
    let producer: Arc<ThreadedProducer<Counting>> = Arc::new(
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1048576")
            .set("queue.buffering.max.kbytes", "262144")
            .create_with_context(context)
            .context("creating the Kafka producer")?,
    );
    // Warm up as a Sluice server is by the time its first row arrives: connected, producer
    // id acquired, partition leaders known.
    let warm: BaseRecord<'_, (), [u8]> = BaseRecord::to(BASELINE_TOPIC)
        .partition(0)
        .payload(b"warm-up");
    producer
        .send(warm)
        .map_err(|(e, _)| anyhow::anyhow!("sending the warm-up record: {e}"))?;
    let flusher = Arc::clone(&producer);
    tokio::task::spawn_blocking(move || flusher.flush(FLUSH_TIMEOUT))
        .await?
        .context("waiting for the warm-up record")?;
    let warm_acked = producer.context().acked.load(Ordering::Relaxed);
    let sender = Arc::clone(&producer);
    let (started, bytes) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Instant, u64)> {
            let mut generator = RowGen::new(seed, shape, row_bytes);
            let mut row = Vec::new();
            let mut bytes = 0u64;
            let started = Instant::now();
            for id in 0..rows {
                row.clear();
                generator.write_row(id, 0, &mut row);
                row.pop(); // the newline is the HTTP framing, not part of the stored value
                bytes += row.len() as u64;
                let partition = i32::try_from((id / SPREAD_BATCH_ROWS) % u64::from(partitions))
                    .expect("partition fits");
                let mut record: BaseRecord<'_, (), [u8]> = BaseRecord::to(BASELINE_TOPIC)
                    .partition(partition)
                    .payload(&row[..]);
                loop {
                    match sender.send(record) {
                        Ok(()) => break,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            record = back;
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        Err((e, _)) => bail!("sending row {id}: {e}"),
                    }
                }
            }
            Ok((started, bytes))
        })
        .await??;
    let flusher = Arc::clone(&producer);
    tokio::task::spawn_blocking(move || flusher.flush(FLUSH_TIMEOUT))
        .await?
        .context("waiting for the last acknowledgements")?;
    let seconds = started.elapsed().as_secs_f64();
    let context = producer.context();
    let acked = context.acked.load(Ordering::Relaxed) - warm_acked;
    let failed = context.failed.load(Ordering::Relaxed);
    if acked + failed != rows {
        bail!("{rows} rows sent but {acked} acknowledged and {failed} failed");
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(BaselineReport {
        bootstrap: bootstrap.to_owned(),
        partitions,
        rows,
        row_bytes_mean: bytes as f64 / rows as f64,
        seconds,
        rows_per_s: acked as f64 / seconds,
        mb_per_s: bytes as f64 / seconds / 1e6,
        failed,
    })
}

pub fn render_human(r: &BaselineReport) -> String {
    format!(
        "bare rdkafka producer (idempotent, acks=all, linger.ms=5) → {} × {} partition(s) at {}:\n\
         {:<14}{} rows acked in {:.2} s: {:.0} rows/s, {:.2} MB/s (rows {:.0} B), {} failed\n",
        BASELINE_TOPIC,
        r.partitions,
        r.bootstrap,
        "ingest",
        r.rows,
        r.seconds,
        r.rows_per_s,
        r.mb_per_s,
        r.row_bytes_mean,
        r.failed
    )
}
