//! How Sluice talks to a Kafka cluster: bootstrap servers, the service id, the librdkafka
//! settings the user passes, and the settings each client kind needs for the log's contract.
//!
//! The user's settings (`--kafka-config key=value`) go to every client (producer, consumers,
//! admin); librdkafka ignores, with a warning, a setting that does not apply to a client
//! kind. A few settings are what makes the log keep its contract (`api`: acks mean durable,
//! readers see only committed records, the append queue is bounded by Sluice's own
//! permits) and may not be overridden.

use rdkafka::ClientConfig;

use crate::error::{EngineError, Result};

/// ksqlDB's default `ksql.service.id`.
pub const DEFAULT_SERVICE_ID: &str = "default_";

/// Settings the log's contract depends on; a user override is refused at start.
///
/// `acks`/`enable.idempotence`: an ack means every in-sync replica has the record, and a
/// retry never duplicates or reorders. `isolation.level`: readers see committed records only.
/// `queue.buffering.max.*`: Sluice bounds in-flight appends itself ([`APPEND_INFLIGHT_RECORDS_MAX`],
/// [`APPEND_INFLIGHT_BYTES_MAX`]) and sizes librdkafka's queue above that, so a send never
/// meets a full queue halfway through an append. `enable.auto.commit`: the log's consumers
/// only read; committing offsets is the persistent queries' business (phase 2).
/// `transactional.id`: the command topic's writer is transactional under the service id,
/// and the append producer must not be.
pub const RESERVED_SETTINGS: &[&str] = &[
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "isolation.level",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "enable.auto.commit",
    "group.id",
    "transactional.id",
];

/// Most records appended but not yet acknowledged by Kafka, over all topics.
///
/// Appenders wait beyond it (backpressure to the HTTP clients). 512 Ki records of ~100 bytes
/// is ~50 MiB: enough for a few round trips at several 100k rows/s on one broker.
pub const APPEND_INFLIGHT_RECORDS_MAX: usize = 512 * 1024;

/// Most record bytes (key + value + headers) appended but not yet acknowledged by Kafka.
///
/// Bounds the producer's memory whatever the record size; 128 MiB keeps several maximal
/// appends ([`APPEND_REQUEST_BYTES_MAX`](crate::log::APPEND_REQUEST_BYTES_MAX)) in flight.
pub const APPEND_INFLIGHT_BYTES_MAX: usize = 128 * 1024 * 1024;

/// Largest record Sluice sends, in bytes (key + value + headers).
///
/// librdkafka's and the broker's default `message.max.bytes` is about 1 MB; a larger record
/// would be refused by librdkafka halfway through an append, so it is refused before any of
/// the append is sent. A record batch adds ~70 bytes of framing, hence the margin.
pub const RECORD_BYTES_MAX: usize = 1_000_000 - 1024;

/// How long an admin or metadata request may take before it fails, in milliseconds.
///
/// Covers a controller election on a three-broker cluster (a few seconds) with room to
/// spare; a DDL statement waiting longer than this is better answered with an error.
pub const ADMIN_TIMEOUT_MS: u64 = 30_000;

/// How long a topic create may take to show a leader for every partition, in milliseconds.
///
/// On three brokers a new topic can briefly show no partitions; leaders normally appear
/// within a second.
pub const TOPIC_READY_TIMEOUT_MS: u64 = 30_000;

/// How long the producer keeps retrying a record before failing its append, in milliseconds.
///
/// librdkafka's default (300 s) would hold an HTTP client's ack for five minutes while a
/// cluster is down; two minutes covers a broker restart and still answers in time.
pub const MESSAGE_TIMEOUT_MS: u64 = 120_000;

/// librdkafka's local queue of one topic fetcher, in KiB (`queued.max.messages.kbytes`).
///
/// The fetcher drains it continuously into the topic's tail, so it only needs to hold a few
/// fetch responses: 4 MiB instead of librdkafka's 64 MiB default keeps 100s of topics cheap.
pub const FETCHER_QUEUE_KBYTES: u32 = 4 * 1024;

/// librdkafka's local queue of one catch-up consumer, in KiB.
///
/// A catch-up consumer serves one cursor reading history; it is read only as fast as its
/// query consumes, so 1 MiB of prefetch is enough to keep it busy.
pub const CATCH_UP_QUEUE_KBYTES: u32 = 1024;

/// How long a reader's fetcher waits before fetching again once its local queue was full,
/// in milliseconds (librdkafka's `fetch.queue.backoff.ms`).
///
/// librdkafka's default, 1000 ms, suits a consumer with a deep queue; Sluice's queues are
/// small ([`CATCH_UP_QUEUE_KBYTES`]), so a reader that drains one would then wait a second
/// for the next: catch-up from earliest measured 18k rows/s that way. 5 ms refills it about
/// as fast as a query consumes it.
pub const FETCH_QUEUE_BACKOFF_MS: u32 = 5;

/// Where and as whom Sluice connects to Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub bootstrap: String,
    /// ksqlDB's `ksql.service.id`: names this service's consumer groups and internal topics.
    pub service_id: String,
    /// librdkafka settings from the user, applied to every client after Sluice's own.
    pub settings: Vec<(String, String)>,
}

impl KafkaConfig {
    pub fn new(bootstrap: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            bootstrap: bootstrap.into(),
            service_id: DEFAULT_SERVICE_ID.to_owned(),
            settings: Vec::new(),
        }
    }

    /// Checks what the user gave before any client is made.
    pub fn validate(&self) -> Result<()> {
        if self.bootstrap.trim().is_empty() {
            return Err(EngineError::bad_request(
                "the Kafka log needs bootstrap servers (--kafka-bootstrap HOST:PORT)",
            ));
        }
        if self.service_id.is_empty()
            || !self
                .service_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        {
            return Err(EngineError::bad_request(format!(
                "service id {:?} must be non-empty ASCII letters, digits, '.', '_' or '-' \
                 (it becomes part of Kafka topic and group names)",
                self.service_id
            )));
        }
        for (key, _) in &self.settings {
            if RESERVED_SETTINGS.contains(&key.as_str()) {
                return Err(EngineError::bad_request(format!(
                    "the Kafka setting '{key}' is fixed by Sluice (the log's acks, ordering \
                     and isolation depend on it) and cannot be overridden"
                )));
            }
        }
        Ok(())
    }

    /// What every client shares: the cluster, a client id naming the service, the user's
    /// settings last.
    fn base(&self, role: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("client.id", format!("sluice-{}-{role}", self.service_id));
        for (key, value) in &self.settings {
            config.set(key, value);
        }
        config
    }

    /// The admin client (topic create, delete, describe).
    pub(super) fn admin(&self) -> ClientConfig {
        self.base("admin")
    }

    /// The one producer every append goes through: idempotent, acks from all in-sync
    /// replicas, a local queue larger than Sluice's own in-flight bounds.
    pub(super) fn producer(&self) -> ClientConfig {
        let mut config = self.base("producer");
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "queue.buffering.max.messages",
                (2 * APPEND_INFLIGHT_RECORDS_MAX).to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                (2 * APPEND_INFLIGHT_BYTES_MAX / 1024).to_string(),
            );
        set_default(&mut config, &self.settings, "linger.ms", "5");
        set_default(
            &mut config,
            &self.settings,
            "message.timeout.ms",
            &MESSAGE_TIMEOUT_MS.to_string(),
        );
        config
    }

    /// A reader of one topic's partitions by assignment (never a group member, never
    /// committing): committed records only. `group.id` is required by librdkafka for
    /// `assign`, and names the service as ksqlDB's consumers do.
    pub(super) fn reader(&self, role: &str, queue_kbytes: u32) -> ClientConfig {
        let mut config = self.base(role);
        config
            .set(
                "group.id",
                format!("_confluent-ksql-{}sluice_log", self.service_id),
            )
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        set_default(&mut config, &self.settings, "auto.offset.reset", "earliest");
        set_default(
            &mut config,
            &self.settings,
            "queued.max.messages.kbytes",
            &queue_kbytes.to_string(),
        );
        // The broker answers a fetch as soon as it has a record (fetch.min.bytes = 1); this
        // only bounds how long an idle partition's fetch is parked at the broker.
        set_default(&mut config, &self.settings, "fetch.wait.max.ms", "100");
        set_default(
            &mut config,
            &self.settings,
            "fetch.queue.backoff.ms",
            &FETCH_QUEUE_BACKOFF_MS.to_string(),
        );
        config
    }
}

impl KafkaConfig {
    /// The command topic's reader: the whole topic, committed commands only, with an
    /// end-of-partition event so a node knows when it has read everything.
    pub(super) fn command_reader(&self) -> ClientConfig {
        let mut config = self.reader("commands", CATCH_UP_QUEUE_KBYTES);
        config.set("enable.partition.eof", "true");
        config
    }

    /// Reads the command topic's end only, never a record: read_uncommitted, because a
    /// read_committed consumer's end is the last stable offset, which for a moment after
    /// another node's commit returns still stops before that commit (the transaction's
    /// markers are written after). Waiting for the reader to pass the high watermark
    /// instead waits for those markers.
    pub(super) fn command_end_probe(&self) -> ClientConfig {
        let mut config = self.reader("commands-end", CATCH_UP_QUEUE_KBYTES);
        config.set("isolation.level", "read_uncommitted");
        config
    }

    /// The command topic's writer: transactional under the service id, as ksqlDB's
    /// (`transactional.id` = `ksql.service.id`), so a node's writer fences every other's.
    pub(super) fn command_writer(&self) -> ClientConfig {
        let mut config = self.base("commands");
        config
            .set("transactional.id", &self.service_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "transaction.timeout.ms",
                super::command_topic::COMMAND_TRANSACTION_TIMEOUT_MS.to_string(),
            )
            .set("linger.ms", "0");
        config
    }
}

impl KafkaConfig {
    /// A persistent query's checkpoint writer: transactional under `<service id>-<task>`,
    /// so the node that takes the task over fences the one it took it from.
    pub(super) fn checkpoint_writer(&self, task: &str) -> ClientConfig {
        let mut config = self.base("checkpoints");
        config
            .set("transactional.id", format!("{}-{task}", self.service_id))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "transaction.timeout.ms",
                super::checkpoint_topic::CHECKPOINT_TRANSACTION_TIMEOUT_MS.to_string(),
            )
            .set("linger.ms", "0");
        config
    }

    /// A persistent query's state changelog writer: transactional under
    /// `<service id>-state-<query id>` (the node taking the query over fences the last
    /// holder), a transaction as long as a large state commit may take, and records up to
    /// a state value's size.
    pub(super) fn changelog_writer(&self, query_id: &str) -> ClientConfig {
        let mut config = self.base("changelog");
        config
            .set(
                "transactional.id",
                format!("{}-state-{query_id}", self.service_id),
            )
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "transaction.timeout.ms",
                super::changelog_topic::CHANGELOG_TRANSACTION_TIMEOUT_MS.to_string(),
            )
            .set(
                "message.max.bytes",
                super::changelog_topic::CHANGELOG_RECORD_BYTES_MAX.to_string(),
            );
        set_default(&mut config, &self.settings, "linger.ms", "5");
        config
    }

    /// A member of the group `group` that holds the leases of the service's persistent
    /// queries: it only joins and heartbeats (the lease topic holds no records), and a dead
    /// member's leases move after [`LEASE_SESSION_TIMEOUT_MS`].
    pub(super) fn lease_member(&self, group: &str) -> ClientConfig {
        let mut config = self.base("leases");
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", LEASE_SESSION_TIMEOUT_MS.to_string())
            .set("heartbeat.interval.ms", (LEASE_SESSION_TIMEOUT_MS / 4).to_string());
        config
    }
}

/// How long a node may go silent before the persistent queries it runs move to another
/// node, in milliseconds (the lease group's `session.timeout.ms`): long enough for a busy
/// node's heartbeats to get through, short enough that a dead node's queries resume soon.
/// The broker's default `group.min.session.timeout.ms` (6 s) is the floor.
pub const LEASE_SESSION_TIMEOUT_MS: u64 = 8_000;

/// Sets `key` unless the user set it.
fn set_default(config: &mut ClientConfig, user: &[(String, String)], key: &str, value: &str) {
    if !user.iter().any(|(k, _)| k == key) {
        config.set(key, value);
    }
}

/// Parses one `--kafka-config key=value`.
pub fn parse_setting(text: &str) -> std::result::Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {text:?}"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("expected key=value with a key, got {text:?}"));
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_reserved_ones_are_refused() {
        assert_eq!(
            parse_setting("linger.ms=20").unwrap(),
            ("linger.ms".to_owned(), "20".to_owned())
        );
        assert_eq!(
            parse_setting("sasl.password=a=b").unwrap(),
            ("sasl.password".to_owned(), "a=b".to_owned())
        );
        assert!(parse_setting("nokey").is_err());
        assert!(parse_setting("=v").is_err());

        let mut config = KafkaConfig::new("127.0.0.1:9092");
        config.validate().unwrap();
        config.settings.push(("acks".into(), "1".into()));
        let err = config.validate().unwrap_err();
        assert!(err.message().contains("'acks'"), "{err}");

        let mut config = KafkaConfig::new("  ");
        assert!(config.validate().is_err());
        config.bootstrap = "h:1".into();
        config.service_id = "a/b".into();
        assert!(config.validate().is_err());
    }

    #[test]
    fn user_settings_win_over_defaults_but_not_over_the_contract() {
        let mut config = KafkaConfig::new("h:1");
        config.settings.push(("linger.ms".into(), "50".into()));
        let producer = config.producer();
        assert_eq!(producer.get("linger.ms"), Some("50"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        let reader = config.reader("fetcher", FETCHER_QUEUE_KBYTES);
        assert_eq!(reader.get("isolation.level"), Some("read_committed"));
        assert_eq!(reader.get("queued.max.messages.kbytes"), Some("4096"));
        assert_eq!(
            reader.get("group.id"),
            Some("_confluent-ksql-default_sluice_log")
        );
    }
}
