//! Connection limits: how long a connection may take to send its request headers or sit
//! with no request, how long a TLS handshake may take, how many connections may be open,
//! and the headroom kept so health checks still get through when they all are.
//!
//! A connection is *busy* from the moment a request's headers have arrived until its
//! response body has ended (or the request was cancelled); otherwise it is *idle*. Only
//! idle connections are timed out, so a push query that runs for hours, or an upload that
//! sends a row a minute, is never cut: both keep a request in flight.
//!
//! Admission, decided in the accept loop without waiting:
//! - below `connections_max`: served normally;
//! - at `connections_max`: the newcomer takes the slot of the oldest *idle* connection,
//!   which closes (HTTP/2 GOAWAY, or HTTP/1.1 close). Pooled clients reconnect; a flood of
//!   idle sockets cannot keep real clients out for the length of the idle timeout;
//! - when every general connection is busy: a *health-only* connection from a reserved
//!   pool of `health_connections_reserved`. It serves `GET`/`HEAD` of `/healthcheck` and
//!   `/info`, answers anything else with 503 (ksqlDB's `generic_error`, code 50300),
//!   closes after its first request, and idles out after the header-read timeout. A full
//!   pool gives the newcomer the slot of its oldest reserved connection that has no request
//!   in flight;
//! - when those are all mid-request too (or there is no pool): closed at once, before
//!   anything is read.
//!
//! Why eviction, and why a reserved pool: a connection that holds a slot without a request
//! in flight (silent, trickling bytes, or pooled and unused) is what an attacker filling
//! the server would hold, and it costs a real client nothing but a reconnect to lose it;
//! so the cap in effect bounds *busy* connections, which cost real work to hold. Busy ones
//! are never cut. If they do fill the cap (many long push queries, say), a probe from a
//! load balancer or Kubernetes still gets in on a reserved slot: it sends its request at
//! once and leaves, so keeping probes out would take a pool's worth of new connections
//! within each probe's round trip. The pool is small and its connections short-lived, so
//! it adds at most a few dozen descriptors.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// Longest a client may take from the first byte of an HTTP/1.1 request head to its end.
/// Real clients send a head in one packet; 10 s covers a slow mobile link many times over
/// while a slowloris client holding a connection with a trickle of header bytes is cut.
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;

/// Longest a connection may stay open with no request in flight (HTTP/1.1 keep-alive, or
/// HTTP/2 with no open stream). Longer than the 60 s idle timeout load balancers commonly
/// use, so the proxy closes its pooled connection first and never reuses one Sluice has
/// just closed.
pub const IDLE_TIMEOUT_MS: u64 = 120_000;

/// Longest a TLS handshake may take after the TCP connection is accepted. A full TLS 1.3
/// handshake is one round trip; 10 s leaves room for slow links but not for a client that
/// connects and never says hello.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Connections served normally at once. Each costs a file descriptor and a few KiB of
/// buffers; 10,000 is far more than a ksqlDB deployment uses (clients pool a handful each,
/// and 1,024 HTTP/2 streams share one connection) and stays under common open-file limits
/// (see [`ConnectionLimits::fitted_to_open_files`]).
pub const CONNECTIONS_MAX: usize = 10_000;

/// Extra connections kept for `/healthcheck` and `/info` when `CONNECTIONS_MAX` are open.
/// Probes of a few load balancers and an orchestrator each hold one connection at a time;
/// 64 is room for them all, and small enough to cost nothing.
pub const HEALTH_CONNECTIONS_RESERVED: usize = 64;

/// HTTP/2 PING after this long without a frame from the peer, to find peers that vanished
/// without closing (a dead host, a dropped NAT entry) while their push queries stay open.
/// Live clients answer automatically; 30 s keeps the cost to a frame a minute.
pub const H2_KEEP_ALIVE_INTERVAL_MS: u64 = 30_000;

/// How long an HTTP/2 PING may go unanswered before the connection (and every query on it)
/// is dropped. 20 s is hyper's default: several round trips on any working network.
pub const H2_KEEP_ALIVE_TIMEOUT_MS: u64 = 20_000;

/// Share of the process's open-file limit that connections may take; the rest is left for
/// the log's segment and index files, the catalog journal and the listening socket, so a
/// flood of connections cannot stop the engine opening files (or the accept loop accepting
/// health checks, which EMFILE would).
pub const OPEN_FILES_SHARE_FOR_CONNECTIONS_PERCENT: u64 = 50;

/// The limits in force for one server. `Default` gives the constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub connections_max: usize,
    pub health_connections_reserved: usize,
    pub h2_keep_alive_interval: Duration,
    pub h2_keep_alive_timeout: Duration,
    /// [`PUSH_QUERIES_PER_CONNECTION_MAX`](crate::push_quota::PUSH_QUERIES_PER_CONNECTION_MAX).
    pub push_queries_per_connection_max: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(HEADER_READ_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(IDLE_TIMEOUT_MS),
            tls_handshake_timeout: Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS),
            connections_max: CONNECTIONS_MAX,
            health_connections_reserved: HEALTH_CONNECTIONS_RESERVED,
            h2_keep_alive_interval: Duration::from_millis(H2_KEEP_ALIVE_INTERVAL_MS),
            h2_keep_alive_timeout: Duration::from_millis(H2_KEEP_ALIVE_TIMEOUT_MS),
            push_queries_per_connection_max: crate::push_quota::PUSH_QUERIES_PER_CONNECTION_MAX,
        }
    }
}

impl ConnectionLimits {
    /// These limits with `connections_max` lowered, if need be, so that it and the health
    /// reserve fit in `OPEN_FILES_SHARE_FOR_CONNECTIONS_PERCENT` of `open_files_max`: past
    /// the process's limit `accept` fails with EMFILE for everyone, health checks included,
    /// which is the lock-out the cap exists to prevent. Returns the value it replaced when
    /// it lowered it. At least one general connection is always left.
    pub fn fitted_to_open_files(mut self, open_files_max: Option<u64>) -> (Self, Option<usize>) {
        let Some(open_files_max) = open_files_max else {
            return (self, None);
        };
        let share = open_files_max.saturating_mul(OPEN_FILES_SHARE_FOR_CONNECTIONS_PERCENT) / 100;
        let share = usize::try_from(share).unwrap_or(usize::MAX);
        let fits = share
            .saturating_sub(self.health_connections_reserved)
            .max(1);
        if self.connections_max > fits {
            let requested = self.connections_max;
            self.connections_max = fits;
            (self, Some(requested))
        } else {
            (self, None)
        }
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`) of this process, where the platform tells
/// it without `unsafe` (Linux's `/proc/self/limits`); `None` elsewhere or if unlimited.
pub fn open_files_max() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_max(&limits)
}

/// Reads the soft value of the `Max open files` row of `/proc/<pid>/limits`.
fn parse_open_files_max(limits: &str) -> Option<u64> {
    let row = limits.lines().find(|l| l.starts_with("Max open files"))?;
    row["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Which requests an admitted connection may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdmissionKind {
    /// Every endpoint.
    Full,
    /// Only health and info; see the module doc.
    HealthOnly,
}

/// Reserved or general connections examined, at most, to find an idle one to evict when a
/// pool is full. Busy ones go to the back of the line, so successive admissions look at
/// different connections; the bound keeps an admission O(1) when nearly all are busy.
pub const EVICTION_SCAN_MAX: usize = 64;

/// Dead entries a pool's admission order may hold beyond twice its live ones before it is
/// compacted: compacting now and then keeps it O(1) per connection, amortized.
const POOL_ORDER_SLACK: usize = 64;

/// How often shutdown looks whether every connection has gone.
const DRAIN_POLL_MS: u64 = 10;

/// One admitted connection as its pool sees it, shared with the connection's task.
#[derive(Default)]
pub(crate) struct SlotState {
    /// Requests whose head has arrived and whose response body has not ended. A connection
    /// with none is idle: when its pool is full, it gives its slot to a newcomer.
    pub(crate) in_flight: AtomicUsize,
    /// Its slot went to a newer connection: close now.
    evicted: AtomicBool,
    /// The connection has ended; the pool drops its entry when it next passes it.
    closed: AtomicBool,
    /// Wakes the connection when `evicted` is set.
    wake: Notify,
}

impl SlotState {
    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// Resolves once the connection has been evicted.
    pub(crate) async fn evicted(&self) {
        while !self.is_evicted() {
            self.wake.notified().await;
        }
    }
}

/// A slot held for as long as its connection lives; dropping it gives the slot back.
pub(crate) struct Admission {
    pub(crate) kind: AdmissionKind,
    pub(crate) slot: Arc<SlotState>,
    _release: Release,
}

struct Release {
    pool: Arc<Pool>,
    slot: Arc<SlotState>,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.pool.release(&self.slot);
    }
}

/// Connections of one kind, in the order they were admitted (oldest first).
struct Pool {
    state: Mutex<PoolState>,
    max: usize,
}

struct PoolState {
    order: VecDeque<Arc<SlotState>>,
    /// Connections holding a slot: admitted, not ended, not evicted.
    live: usize,
}

impl Pool {
    fn new(max: usize) -> Pool {
        Pool {
            state: Mutex::new(PoolState {
                order: VecDeque::new(),
                live: 0,
            }),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // Every update below is complete before it can panic, so a poisoned lock still
        // guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A slot: a free one, or an idle connection's, which is told to close.
    fn admit(&self) -> Option<Arc<SlotState>> {
        let mut state = self.lock();
        if state.live < self.max {
            state.live += 1;
        } else {
            evict_one(&mut state)?;
        }
        let slot = Arc::new(SlotState::default());
        state.order.push_back(Arc::clone(&slot));
        Some(slot)
    }

    fn release(&self, slot: &SlotState) {
        let mut state = self.lock();
        slot.closed.store(true, Ordering::Release);
        // An evicted connection's slot already went to its successor.
        if !slot.is_evicted() {
            state.live -= 1;
        }
        if state.order.len() > 2 * state.live + POOL_ORDER_SLACK {
            state
                .order
                .retain(|s| !s.closed.load(Ordering::Acquire) && !s.is_evicted());
        }
    }

    fn live(&self) -> usize {
        self.lock().live
    }
}

/// Evicts the oldest idle connection among the first `EVICTION_SCAN_MAX` in line, moving
/// busy ones to the back; `None` if all of those are busy.
fn evict_one(state: &mut PoolState) -> Option<()> {
    for _ in 0..EVICTION_SCAN_MAX.min(state.order.len()) {
        let slot = state.order.pop_front()?;
        if slot.closed.load(Ordering::Acquire) {
            continue;
        }
        if slot.in_flight.load(Ordering::Acquire) > 0 {
            state.order.push_back(slot);
            continue;
        }
        slot.evicted.store(true, Ordering::Release);
        slot.wake.notify_one();
        return Some(());
    }
    None
}

/// Counts open connections against [`ConnectionLimits`]. Admission never waits, and a slot
/// is returned when its connection's task ends however it ends.
pub(crate) struct ConnectionSlots {
    general: Arc<Pool>,
    reserved: Arc<Pool>,
}

impl ConnectionSlots {
    pub(crate) fn new(limits: &ConnectionLimits) -> ConnectionSlots {
        ConnectionSlots {
            general: Arc::new(Pool::new(limits.connections_max)),
            reserved: Arc::new(Pool::new(limits.health_connections_reserved)),
        }
    }

    /// A slot for a connection just accepted, or `None` to close it.
    pub(crate) fn admit(&self) -> Option<Admission> {
        let (kind, pool) = if let Some(slot) = self.general.admit() {
            (AdmissionKind::Full, (Arc::clone(&self.general), slot))
        } else {
            let slot = self.reserved.admit()?;
            (
                AdmissionKind::HealthOnly,
                (Arc::clone(&self.reserved), slot),
            )
        };
        let (pool, slot) = pool;
        Some(Admission {
            kind,
            slot: Arc::clone(&slot),
            _release: Release { pool, slot },
        })
    }

    /// Connections holding a slot now, in both pools (an evicted connection has none).
    pub(crate) fn open(&self) -> usize {
        self.general.live() + self.reserved.live()
    }

    /// Resolves once every connection has given its slot back.
    pub(crate) async fn all_closed(&self) {
        while self.open() > 0 {
            tokio::time::sleep(Duration::from_millis(DRAIN_POLL_MS)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
";

    #[test]
    fn reads_the_soft_open_files_limit() {
        assert_eq!(parse_open_files_max(PROC_LIMITS), Some(1024));
        assert_eq!(
            parse_open_files_max("Max open files  unlimited  unlimited  files"),
            None
        );
        assert_eq!(parse_open_files_max("nothing here"), None);
    }

    #[test]
    fn this_process_has_a_readable_limit_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(open_files_max().is_some_and(|n| n > 0));
        }
    }

    #[test]
    fn the_cap_is_lowered_to_half_the_open_files_limit_less_the_reserve() {
        let limits = ConnectionLimits::default();
        let (fitted, lowered) = limits.clone().fitted_to_open_files(Some(1024));
        assert_eq!(fitted.connections_max, 512 - HEALTH_CONNECTIONS_RESERVED);
        assert_eq!(lowered, Some(CONNECTIONS_MAX));
        let (kept, lowered) = limits.clone().fitted_to_open_files(Some(1_000_000));
        assert_eq!(kept, limits);
        assert_eq!(lowered, None);
        let (unknown, lowered) = limits.clone().fitted_to_open_files(None);
        assert_eq!((unknown, lowered), (limits, None));
        let (tiny, _) = ConnectionLimits::default().fitted_to_open_files(Some(10));
        assert_eq!(tiny.connections_max, 1);
    }

    fn busy(admission: &Admission) {
        admission.slot.in_flight.store(1, Ordering::Release);
    }

    #[tokio::test]
    async fn a_full_pool_evicts_its_oldest_idle_connection_then_uses_the_reserve() {
        let slots = ConnectionSlots::new(&ConnectionLimits {
            connections_max: 2,
            health_connections_reserved: 2,
            ..ConnectionLimits::default()
        });
        let a = slots.admit().expect("first");
        let b = slots.admit().expect("second");
        assert_eq!((a.kind, b.kind), (AdmissionKind::Full, AdmissionKind::Full));

        // Both idle: the newcomer takes the oldest one's general slot.
        let c = slots.admit().expect("evicts a");
        assert_eq!(c.kind, AdmissionKind::Full);
        assert!(a.slot.is_evicted() && !b.slot.is_evicted());
        tokio::time::timeout(Duration::from_secs(1), a.slot.evicted())
            .await
            .expect("a is told");
        assert_eq!(slots.open(), 2, "a's slot went to c");
        drop(a);
        assert_eq!(slots.open(), 2, "a's late end frees nothing twice");

        // Busy ones are kept: with every general connection busy, the reserve is used, and
        // it too gives up idle ones first.
        busy(&b);
        busy(&c);
        let d = slots.admit().expect("reserved");
        let e = slots.admit().expect("reserved");
        assert_eq!(
            (d.kind, e.kind),
            (AdmissionKind::HealthOnly, AdmissionKind::HealthOnly)
        );
        let f = slots.admit().expect("evicts d");
        assert_eq!(f.kind, AdmissionKind::HealthOnly);
        assert!(d.slot.is_evicted() && !b.slot.is_evicted() && !c.slot.is_evicted());
        busy(&e);
        busy(&f);
        assert!(
            slots.admit().is_none(),
            "everything is mid-request: refused"
        );
        assert_eq!(slots.open(), 4);

        drop(b);
        let g = slots.admit().expect("b's slot came back");
        assert_eq!(g.kind, AdmissionKind::Full);
        drop((c, d, e, f, g));
        tokio::time::timeout(Duration::from_secs(1), slots.all_closed())
            .await
            .expect("every slot is back");
        assert_eq!(slots.open(), 0);
    }

    #[test]
    fn without_a_reserve_a_newcomer_past_busy_connections_is_refused() {
        let slots = ConnectionSlots::new(&ConnectionLimits {
            connections_max: 1,
            health_connections_reserved: 0,
            ..ConnectionLimits::default()
        });
        let a = slots.admit().expect("first");
        busy(&a);
        assert!(slots.admit().is_none());
    }

    #[test]
    fn churn_below_the_cap_keeps_the_admission_order_small() {
        let slots = ConnectionSlots::new(&ConnectionLimits::default());
        let kept: Vec<Admission> = (0..10).map(|_| slots.admit().expect("slot")).collect();
        for _ in 0..100_000 {
            drop(slots.admit().expect("slot"));
        }
        let order = slots.general.lock().order.len();
        assert!(
            order <= 2 * kept.len() + POOL_ORDER_SLACK + 1,
            "{order} entries"
        );
        assert_eq!(slots.open(), kept.len());
    }
}
