//! Leases through a Kafka consumer group: the nodes of a service join one group on a topic
//! of [`CHECKPOINT_PARTITIONS`] empty partitions, and a node holds the lease of each
//! partition the group assigns it. Kafka decides who holds what: when a node joins, leaves
//! or dies (no heartbeat for `LEASE_SESSION_TIMEOUT_MS`), its leases move.
//!
//! ```text
//!  lease thread: consumer.poll ─► rebalance callbacks
//!     revoke(partitions): drop them from `held`, bump `changes`, then wait until no work
//!                         on them is busy here (so the next holder never overlaps it)
//!     assign: `held` = the consumer's assignment, bump `changes`
//!  users: holds(p), changes() (a watch), busy(p) (a guard the revoke waits for)
//! ```
//!
//! The group uses the cooperative-sticky assignor: a node joining or leaving moves only
//! the leases that must move, and work on the others goes on undisturbed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;
use tokio::sync::watch;

use super::admin::INTERNAL_TOPIC_PREFIX;
use super::checkpoint_topic::CHECKPOINT_PARTITIONS;
use super::client::{kafka_error, LogContext};
use super::config::KafkaConfig;
use crate::error::Result;

/// How long a revoke waits for the work on its partitions to stop, in milliseconds: a
/// persistent query stops at the end of the batch it is writing, well within this. Past it
/// the lease moves anyway (the checkpoint writer's fencing then stops the straggler).
pub const LEASE_REVOKE_WAIT_MS: u64 = 20_000;

/// How long the lease thread waits in one poll, in milliseconds: bounds how late it sees
/// the stop flag.
const LEASE_POLL_MS: u64 = 100;

/// The lease topic of `service_id`.
pub fn lease_topic_name(service_id: &str) -> String {
    format!("{INTERNAL_TOPIC_PREFIX}{service_id}_query_leases")
}

/// The consumer group holding the leases of `service_id`.
fn lease_group(service_id: &str) -> String {
    format!("{INTERNAL_TOPIC_PREFIX}{service_id}query_leases")
}

#[derive(Default)]
struct Busy {
    /// Work in progress per partition.
    count: BTreeMap<u32, usize>,
}

/// What the lease thread's callbacks and the users share.
struct LeaseState {
    held: Mutex<BTreeSet<u32>>,
    changes: watch::Sender<u64>,
    busy: Mutex<Busy>,
    idle: Condvar,
}

impl LeaseState {
    fn held(&self) -> MutexGuard<'_, BTreeSet<u32>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn busy(&self) -> MutexGuard<'_, Busy> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Waits until nothing is busy on `partitions`, at most [`LEASE_REVOKE_WAIT_MS`].
    fn wait_idle(&self, partitions: &BTreeSet<u32>) {
        let deadline = Instant::now() + Duration::from_millis(LEASE_REVOKE_WAIT_MS);
        let mut busy = self.busy();
        loop {
            let still: usize = partitions
                .iter()
                .map(|p| busy.count.get(p).copied().unwrap_or(0))
                .sum();
            let now = Instant::now();
            if still == 0 {
                return;
            }
            if now >= deadline {
                tracing::warn!(?partitions, still,
                    "work on revoked leases did not stop in time; letting the leases go");
                return;
            }
            busy = self
                .idle
                .wait_timeout(busy, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

struct LeaseContext {
    state: Arc<LeaseState>,
    topic: String,
}

impl ClientContext for LeaseContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        LogContext.log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        LogContext.error(error, reason);
    }
}

impl ConsumerContext for LeaseContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let revoked: BTreeSet<u32> = list
            .elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| u32::try_from(e.partition()).ok())
            .collect();
        if revoked.is_empty() {
            return;
        }
        self.state.held().retain(|p| !revoked.contains(p));
        self.state.bump();
        tracing::info!(?revoked, "query leases revoked; stopping their queries");
        self.state.wait_idle(&revoked);
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(error) = rebalance {
            tracing::warn!(%error, "the query lease group failed to rebalance");
            return;
        }
        let assigned: BTreeSet<u32> = match consumer.assignment() {
            Ok(list) => list
                .elements_for_topic(&self.topic)
                .iter()
                .filter_map(|e| u32::try_from(e.partition()).ok())
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "could not read the query lease assignment");
                return;
            }
        };
        let changed = {
            let mut held = self.state.held();
            let changed = *held != assigned;
            *held = assigned.clone();
            changed
        };
        if changed {
            tracing::info!(held = ?assigned, "query leases assigned");
            self.state.bump();
        }
    }
}

/// This node's membership in the service's lease group.
pub struct GroupLeases {
    state: Arc<LeaseState>,
    stop: Arc<AtomicBool>,
}

impl GroupLeases {
    /// Joins the lease group of `config`'s service on a thread of its own; leases arrive
    /// through [`GroupLeases::changes`] once the group assigned them.
    pub(super) fn join(config: &KafkaConfig) -> Result<GroupLeases> {
        let topic = lease_topic_name(&config.service_id);
        let state = Arc::new(LeaseState {
            held: Mutex::default(),
            changes: watch::Sender::new(0),
            busy: Mutex::default(),
            idle: Condvar::new(),
        });
        let consumer: BaseConsumer<LeaseContext> = config
            .lease_member(&lease_group(&config.service_id))
            .create_with_context(LeaseContext {
                state: Arc::clone(&state),
                topic: topic.clone(),
            })
            .map_err(|e| kafka_error("creating the query lease consumer", e))?;
        consumer
            .subscribe(&[&topic])
            .map_err(|e| kafka_error("joining the query lease group", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("query-leases".to_owned())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    // The topic is empty: polls only drive the group protocol.
                    if let Some(Err(error)) = consumer.poll(Duration::from_millis(LEASE_POLL_MS))
                    {
                        tracing::debug!(%error, "query lease consumer");
                    }
                }
                // Leaving the group hands the leases over at once (close revokes them,
                // waiting for their work to stop).
                drop(consumer);
            })
            .map_err(|e| crate::error::EngineError::internal(format!("lease thread: {e}")))?;
        Ok(GroupLeases { state, stop })
    }

    /// Partitions of the lease topic.
    pub fn partitions(&self) -> u32 {
        CHECKPOINT_PARTITIONS
    }

    /// Whether this node holds lease `partition` now.
    pub fn holds(&self, partition: u32) -> bool {
        self.state.held().contains(&partition)
    }

    /// Changes whenever the set of leases held here changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.state.changes.subscribe()
    }

    /// Marks work on `partition` as in progress until the guard drops; a revoke of the
    /// partition waits for it.
    pub fn busy(&self, partition: u32) -> LeaseBusy {
        *self.state.busy().count.entry(partition).or_default() += 1;
        LeaseBusy {
            state: Arc::clone(&self.state),
            partition,
        }
    }
}

impl Drop for GroupLeases {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Work in progress on a lease (see [`GroupLeases::busy`]).
pub struct LeaseBusy {
    state: Arc<LeaseState>,
    partition: u32,
}

impl Drop for LeaseBusy {
    fn drop(&mut self) {
        let mut busy = self.state.busy();
        if let Some(n) = busy.count.get_mut(&self.partition) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                busy.count.remove(&self.partition);
            }
        }
        self.state.idle.notify_all();
    }
}
