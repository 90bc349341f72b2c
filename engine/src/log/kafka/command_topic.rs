//! The catalog's command log in the service's command topic: ksqlDB's
//! `_confluent-ksql-<service id>_command_topic`, one partition, every node of the service
//! reading all of it in the same order.
//!
//! ```text
//!  reader thread: consumer (read_committed, from offset 0) ─► buffer ─► catch_up / arrived
//!                                                                └► arrivals (Notify)
//!  a request that writes: begin_writes (the node's transactional producer; the first turn
//!  creates it and its init_transactions fences every other node's writer) ─► catch_up to
//!  the end ─► validate, apply, append (one transaction per command; fenced meanwhile:
//!  init afresh, append again if nothing arrived) ─► end_writes
//! ```
//!
//! Ordering between nodes is ksqlDB's (`DistributingExecutor`): every node's writer uses the
//! same `transactional.id` (the service id), so a writer's `init_transactions` aborts any
//! transaction another node has open and fences that node's producer. A node keeps its
//! producer from turn to turn; each turn reads the topic to its end, so it validates against
//! every command committed before it, and its commit succeeds only if no other node took
//! the turn since its producer's `init_transactions`. A commit that fails means another
//! node did: the node initializes a fresh producer and appends again if no command arrived
//! meanwhile, else refuses the statement (nothing of it is in the topic).
//!
//! The commands a node appended itself are applied by the request that appended them; the
//! reader skips them by offset (`applied_to`), so a node applies every command once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset as KafkaOffset, TopicPartitionList};
use tokio::sync::Notify;

use super::transaction::send_in_transaction;
use super::admin::INTERNAL_TOPIC_PREFIX;
use super::client::{close_off_thread, kafka_error, off_runtime, LogContext};
use super::config::{KafkaConfig, ADMIN_TIMEOUT_MS};
use crate::error::{EngineError, Result};

/// How long a node waits for its reader to reach the command topic's end before a request
/// runs, in milliseconds.
///
/// The end is normally reached within a fetch (milliseconds). It can only be held back by
/// another node's open transaction (read_committed stops before it), which a writer aborts
/// and which the broker aborts after [`COMMAND_TRANSACTION_TIMEOUT_MS`]; a little more
/// than that covers a node that died mid-transaction.
pub const COMMAND_CATCH_UP_TIMEOUT_MS: u64 = 15_000;

/// `transaction.timeout.ms` of the command writer, in milliseconds.
///
/// A command's transaction holds one record and is committed at once; if its node dies
/// before committing, readers on other nodes wait for the broker to abort it. 10 s instead
/// of librdkafka's 60 s keeps that wait short.
pub const COMMAND_TRANSACTION_TIMEOUT_MS: u64 = 10_000;

/// Most commands the reader buffers before a request or the follower takes them.
///
/// Commands are statement texts (a few KiB at most); the follower drains the buffer as
/// they arrive, so it only fills while a start-up replay or a catch-up is draining it.
pub const COMMAND_BUFFER_MAX: usize = 1024;

/// How long the reader thread waits in one poll, in milliseconds: bounds how late it sees
/// the stop flag.
const COMMAND_POLL_MS: u64 = 100;

/// How long reading the command topic's end waits before trying again after an error, in
/// milliseconds: a leader election takes a few 100 ms.
const END_RETRY_MS: u64 = 100;


/// Largest command appended, in bytes: the broker's default `message.max.bytes` (~1 MB)
/// less room for the batch framing. Statement texts are far smaller (the `/ksql` request
/// limit bounds them).
const COMMAND_BYTES_MAX: usize = 1_000_000 - 1024;

/// The command topic of `service_id`, named as ksqlDB names it.
pub fn command_topic_name(service_id: &str) -> String {
    format!("{INTERNAL_TOPIC_PREFIX}{service_id}_command_topic")
}

/// What the reader thread and the requests share.
struct ReaderState {
    /// Commands read and not yet taken, with their offsets.
    buffered: VecDeque<(u64, Vec<u8>)>,
    /// The offset the reader reads next (past records and transaction markers it read).
    position: u64,
    /// Commands below this offset were applied on this node (replayed, followed, or
    /// appended by it): the reader's copies of them are dropped.
    applied_to: u64,
    /// Set by the reader thread when its consumer failed for good.
    failed: Option<String>,
}

struct Reader {
    topic: String,
    consumer: BaseConsumer<LogContext>,
    state: Mutex<ReaderState>,
    /// Signalled when the position moves or the buffer is drained.
    changed: Condvar,
    /// Woken when commands arrive, for the node's follower task.
    arrivals: Arc<Notify>,
    stop: AtomicBool,
}

impl Reader {
    fn lock(&self) -> MutexGuard<'_, ReaderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reader thread: reads the topic from offset 0 for the life of the node.
    fn run(&self) {
        while !self.stop.load(Ordering::Acquire) {
            {
                // A full buffer waits for a taker; the bound keeps the reader's memory small.
                let state = self.lock();
                if state.buffered.len() >= COMMAND_BUFFER_MAX {
                    let _ = self
                        .changed
                        .wait_timeout(state, Duration::from_millis(COMMAND_POLL_MS));
                    continue;
                }
            }
            match self.consumer.poll(Duration::from_millis(COMMAND_POLL_MS)) {
                None => {}
                Some(Ok(message)) => {
                    let offset = u64::try_from(message.offset())
                        .expect("Kafka offsets of stored records are not negative");
                    let payload = message.payload().unwrap_or_default().to_vec();
                    let mut state = self.lock();
                    // Below the position only after this node's own commit moved it there
                    // (`note_own_commit`): its own command, already applied.
                    if offset >= state.position {
                        state.position = offset + 1;
                        if offset >= state.applied_to {
                            state.buffered.push_back((offset, payload));
                            self.arrivals.notify_one();
                        }
                        self.changed.notify_all();
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    // At the end: the position is past any transaction markers there too.
                    let end = self.consumer_position();
                    let mut state = self.lock();
                    state.position = state.position.max(end);
                    self.changed.notify_all();
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, topic = %self.topic, "reading the command topic");
                    if matches!(error, KafkaError::MessageConsumptionFatal(_)) {
                        self.lock().failed = Some(error.to_string());
                        self.changed.notify_all();
                        return;
                    }
                }
            }
        }
    }

    fn consumer_position(&self) -> u64 {
        let position = self.consumer.position().ok().and_then(|list| {
            list.find_partition(&self.topic, 0)
                .and_then(|p| match p.offset() {
                    KafkaOffset::Offset(at) => u64::try_from(at).ok(),
                    _ => None,
                })
        });
        position.unwrap_or(0)
    }

    /// Takes the buffered commands this node has not applied, oldest first, and counts
    /// them as applied.
    fn take(state: &mut ReaderState) -> Vec<Vec<u8>> {
        let mut taken = Vec::with_capacity(state.buffered.len());
        while let Some((offset, command)) = state.buffered.pop_front() {
            if offset >= state.applied_to {
                state.applied_to = offset + 1;
                taken.push(command);
            }
        }
        taken
    }

    /// Whether commands this node has not applied are waiting, once the reader has read
    /// up to `end`; takes none. `Err` if the reader failed or did not get there within
    /// `timeout` (the caller cannot tell, so it must assume there are).
    fn foreign_pending(&self, end: u64, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(why) = &state.failed {
                return Err(EngineError::internal(format!(
                    "the command topic '{}' can no longer be read: {why}",
                    self.topic
                )));
            }
            let applied_to = state.applied_to;
            if state.buffered.iter().any(|(offset, _)| *offset >= applied_to) {
                return Ok(true);
            }
            if state.position >= end {
                return Ok(false);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(EngineError::internal(format!(
                    "the command topic '{}' was not read to its end ({end}) in {} ms",
                    self.topic,
                    timeout.as_millis()
                )));
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// This node committed a one-command transaction at `offset`: the command counts as
    /// applied, and the reader's position moves past it and its commit marker.
    ///
    /// The marker is the very next offset: while this node's producer holds the service's
    /// `transactional.id` unfenced (its commit succeeded) no other producer writes to the
    /// topic, and another node's `init_transactions` waits until the coordinator wrote the
    /// marker. Moving the position there spares the next catch-up waiting for the reader
    /// to fetch past the marker (a fetch round, `fetch.wait.max.ms`).
    fn note_own_commit(&self, offset: u64) {
        let mut state = self.lock();
        state.applied_to = state.applied_to.max(offset + 1);
        state.position = state.position.max(offset + 2);
        self.changed.notify_all();
    }

    /// Waits until the reader has read up to `end`, taking commands as they come (so a
    /// full buffer never stalls the wait). `Err` if the reader failed; on a timeout,
    /// `Ok(None)` with what was taken so far left for `take` by the caller.
    fn catch_up_to(&self, end: u64, timeout: Duration) -> Result<(Vec<Vec<u8>>, bool)> {
        let deadline = Instant::now() + timeout;
        let mut taken = Vec::new();
        let mut state = self.lock();
        loop {
            taken.extend(Reader::take(&mut state));
            self.changed.notify_all();
            if let Some(why) = &state.failed {
                return Err(EngineError::internal(format!(
                    "the command topic '{}' can no longer be read: {why}",
                    self.topic
                )));
            }
            if state.position >= end {
                return Ok((taken, true));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok((taken, false));
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The command writer's delivery report: the offset its last command was stored at.
#[derive(Default)]
struct CommandDelivery {
    last: Mutex<Option<std::result::Result<u64, String>>>,
}

impl ClientContext for CommandDelivery {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        LogContext.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ProducerContext for CommandDelivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = match result {
            Ok(message) => u64::try_from(message.offset()).map_err(|_| {
                format!(
                    "the broker acknowledged a command at offset {}",
                    message.offset()
                )
            }),
            Err((error, _)) => Err(error.to_string()),
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }
}

/// The service's command topic, as this node reads and writes it.
pub struct KafkaCommandLog {
    config: Arc<KafkaConfig>,
    /// Names this node in the commands it writes (the record key), and in the persistent
    /// queries it owns.
    node_id: String,
    reader: Arc<Reader>,
    /// Asks for the topic's high watermark (see `KafkaConfig::command_end_probe`).
    end_probe: BaseConsumer<LogContext>,
    /// The transactional producer of the request writing now, between `begin_writes` and
    /// `end_writes`.
    writer: Mutex<Option<BaseProducer<CommandDelivery>>>,
}

impl KafkaCommandLog {
    /// Starts reading the command topic (which must exist) from its first record.
    pub(super) fn open(config: Arc<KafkaConfig>, node_id: String) -> Result<KafkaCommandLog> {
        let topic = command_topic_name(&config.service_id);
        let consumer: BaseConsumer<LogContext> = config
            .command_reader()
            .create_with_context(LogContext)
            .map_err(|e| kafka_error("creating the command topic's consumer", e))?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, KafkaOffset::Beginning)
            .map_err(|e| kafka_error("assigning the command topic", e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error("assigning the command topic", e))?;
        let reader = Arc::new(Reader {
            topic,
            consumer,
            state: Mutex::new(ReaderState {
                buffered: VecDeque::new(),
                position: 0,
                applied_to: 0,
                failed: None,
            }),
            changed: Condvar::new(),
            arrivals: Arc::new(Notify::new()),
            stop: AtomicBool::new(false),
        });
        let end_probe: BaseConsumer<LogContext> = config
            .command_end_probe()
            .create_with_context(LogContext)
            .map_err(|e| kafka_error("creating the command topic's end probe", e))?;
        let thread_reader = Arc::clone(&reader);
        std::thread::Builder::new()
            .name("kafka-commands".to_owned())
            .spawn(move || thread_reader.run())?;
        Ok(KafkaCommandLog {
            config,
            node_id,
            reader,
            end_probe,
            writer: Mutex::new(None),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn topic(&self) -> &str {
        &self.reader.topic
    }

    /// Wakes when commands from other nodes may be waiting in [`KafkaCommandLog::arrived`].
    pub fn arrivals(&self) -> Arc<Notify> {
        Arc::clone(&self.reader.arrivals)
    }

    /// Every command up to the topic's current end that this node has not applied, oldest
    /// first (all of them, the first time). Waits for the reader to get there, at most
    /// [`COMMAND_CATCH_UP_TIMEOUT_MS`]; past that, what it has, with a warning (reads
    /// then see the catalog as it was a moment ago; a writer never waits that long, since
    /// its `init_transactions` aborted what could hold the end back).
    pub fn catch_up(&self) -> Result<Vec<Vec<u8>>> {
        off_runtime(|| {
            let end = self.end_offset()?;
            let (taken, reached) = self
                .reader
                .catch_up_to(end, Duration::from_millis(COMMAND_CATCH_UP_TIMEOUT_MS))?;
            if !reached {
                tracing::warn!(topic = %self.reader.topic, end,
                    "the command topic's end was not reached in time; going on without it");
            }
            Ok(taken)
        })
    }

    /// The command topic's end: its high watermark, past every committed command (and
    /// any transaction still open, which the reader then waits for). Right after the topic is created, or
    /// while its leader moves to another broker, the cluster answers "not leader" for a
    /// moment: retried until [`COMMAND_CATCH_UP_TIMEOUT_MS`].
    fn end_offset(&self) -> Result<u64> {
        let deadline = Instant::now() + Duration::from_millis(COMMAND_CATCH_UP_TIMEOUT_MS);
        loop {
            let fetched = self.end_probe.fetch_watermarks(
                &self.reader.topic,
                0,
                Duration::from_millis(ADMIN_TIMEOUT_MS),
            );
            match fetched {
                Ok((_, high)) => return Ok(u64::try_from(high).unwrap_or(0)),
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, "reading the command topic's end; retrying");
                    std::thread::sleep(Duration::from_millis(END_RETRY_MS));
                }
                Err(error) => return Err(kafka_error("reading the command topic's end", error)),
            }
        }
    }

    /// Commands other nodes appended that the reader has already read, without waiting.
    pub fn arrived(&self) -> Vec<Vec<u8>> {
        let mut state = self.reader.lock();
        let taken = Reader::take(&mut state);
        self.reader.changed.notify_all();
        taken
    }

    /// Takes the writer's turn. The first turn creates the node's transactional producer
    /// under the service's `transactional.id`, whose `init_transactions` fences every other
    /// node's writer; later turns reuse it while it works (a fresh producer costs a
    /// coordinator round trip and, while it connects, librdkafka's 500 ms PID retry). The
    /// caller then catches up and appends.
    ///
    /// Reuse keeps the ordering: a commit by this producer succeeds only if no other node
    /// ran `init_transactions` since this one did, and another node commits only after its
    /// own `init_transactions`; so a successful commit follows every other node's command,
    /// all of which the catch-up after this call read. A reused producer that another node
    /// fenced meanwhile fails its commit; `append` then takes the turn afresh and tries once
    /// more if no command arrived in between.
    pub fn begin_writes(&self) -> Result<()> {
        let mut writer = self.lock_writer();
        if writer.is_none() {
            *writer = Some(self.new_writer()?);
        }
        Ok(())
    }

    /// A producer under the service's `transactional.id`, its transactions initialized
    /// (which fences every other node's writer and aborts any transaction it left open).
    fn new_writer(&self) -> Result<BaseProducer<CommandDelivery>> {
        let producer: BaseProducer<CommandDelivery> = self
            .config
            .command_writer()
            .create_with_context(CommandDelivery::default())
            .map_err(|e| kafka_error("creating the command topic's producer", e))?;
        off_runtime(|| producer.init_transactions(Duration::from_millis(ADMIN_TIMEOUT_MS)))
            .map_err(|e| kafka_error("starting a command topic transaction", e))?;
        Ok(producer)
    }

    /// Ends the writer's turn. The producer stays for the next turn (see `begin_writes`);
    /// it holds no open transaction between turns.
    pub fn end_writes(&self) {}

    fn lock_writer(&self) -> MutexGuard<'_, Option<BaseProducer<CommandDelivery>>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one command in a transaction of its own, and counts it as applied here.
    ///
    /// If the commit fails (another node fenced this node's producer since its last
    /// `init_transactions`), the producer is replaced by a fresh one, whose initialization
    /// fences the others again; if the command topic then holds no command this node has
    /// not applied, nothing can have changed what the command was validated against, and
    /// it is appended once more. Otherwise the statement is refused (nothing of it is in
    /// the topic) and the commands that arrived are applied by the next request.
    pub fn append(&self, command: &[u8]) -> Result<()> {
        if command.len() > COMMAND_BYTES_MAX {
            return Err(EngineError::bad_request(format!(
                "a catalog command of {} bytes is larger than the command topic's limit of \
                 {COMMAND_BYTES_MAX} bytes",
                command.len()
            )));
        }
        let mut writer = self.lock_writer();
        let producer = writer.as_ref().ok_or_else(|| {
            EngineError::internal("a catalog command was appended outside a writer's turn")
        })?;
        let first = off_runtime(|| self.append_in_transaction(producer, command));
        let offset = match first {
            Ok(offset) => offset,
            Err(error) => {
                tracing::debug!(%error, topic = %self.reader.topic,
                    "a command's transaction failed; taking the writer's turn afresh");
                // Fenced, or the transaction failed: this producer is done.
                if let Some(producer) = writer.take() {
                    close_off_thread(producer);
                }
                let fresh = self.new_writer()?;
                let end = off_runtime(|| self.end_offset())?;
                let pending = off_runtime(|| {
                    self.reader
                        .foreign_pending(end, Duration::from_millis(COMMAND_CATCH_UP_TIMEOUT_MS))
                });
                let producer = writer.insert(fresh);
                match pending {
                    Ok(false) => off_runtime(|| self.append_in_transaction(producer, command))
                        .inspect_err(|_| {
                            if let Some(producer) = writer.take() {
                                close_off_thread(producer);
                            }
                        })?,
                    Ok(true) => return Err(error),
                    Err(why) => {
                        tracing::warn!(error = %why, "could not tell whether another node wrote");
                        return Err(error);
                    }
                }
            }
        };
        self.reader.note_own_commit(offset);
        Ok(())
    }

    fn append_in_transaction(
        &self,
        producer: &BaseProducer<CommandDelivery>,
        command: &[u8],
    ) -> Result<u64> {
        let conflict = |error: KafkaError| {
            EngineError::conflict(format!(
                "Could not write the statement to the command topic '{}' ({error}): another \
                 node of service '{}' may have run a statement at the same time. The \
                 statement was not applied; run it again.",
                self.reader.topic, self.config.service_id
            ))
        };
        *producer
            .context()
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        let record = BaseRecord::to(&self.reader.topic)
            .partition(0)
            .key(self.node_id.as_bytes())
            .payload(command);
        send_in_transaction(producer, [record], Duration::from_millis(ADMIN_TIMEOUT_MS)).map_err(|e| conflict(e.error))?;
        let delivered = producer
            .context()
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match delivered {
            Some(Ok(offset)) => Ok(offset),
            Some(Err(why)) => Err(EngineError::internal(format!(
                "the command topic's transaction committed but its record failed: {why}"
            ))),
            None => Err(EngineError::internal(
                "the command topic's transaction committed without a delivery report",
            )),
        }
    }
}

impl Drop for KafkaCommandLog {
    /// Stops the reader thread; it closes its consumer on its own, within a poll. The
    /// writer's producer closes on a thread of its own (librdkafka's close blocks).
    fn drop(&mut self) {
        self.reader.stop.store(true, Ordering::Release);
        self.reader.changed.notify_all();
        if let Some(producer) = self.lock_writer().take() {
            close_off_thread(producer);
        }
    }
}
