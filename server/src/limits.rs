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
//! - at `connections_max`: a *health-only* connection from a reserved pool of
//!   `health_connections_reserved`. It serves `GET`/`HEAD` of `/healthcheck` and `/info`,
//!   answers anything else with 503 (ksqlDB's `generic_error`, code 50300), closes after its
//!   first request, and idles out after the header-read timeout. When the pool is full, the
//!   newcomer takes the slot of the oldest reserved connection that has not yet sent a
//!   whole request head, which is dropped;
//! - when every reserved connection is in the middle of a request (or there is no pool):
//!   closed at once, before anything is read.
//!
//! Why a reserved pool with eviction rather than a plain pool or sorting connections by
//! their first request: a probe from a load balancer or Kubernetes opens a fresh connection
//! and sends its request at once, so it becomes busy within a round trip and then leaves.
//! A client that holds a reserved slot without completing a request (silent, or trickling
//! bytes) is exactly what an attacker filling the pool would do, and it is the first to
//! give its slot up: to keep probes out, an attacker would have to open
//! `health_connections_reserved` new connections within each probe's round trip, rather
//! than fill the pool once. The pool is small and every reserved connection is short-lived,
//! so it cannot grow the server's descriptor use by more than a few dozen.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

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

/// A reserved connection as the pool sees it.
#[derive(Default)]
pub(crate) struct Reserved {
    /// A whole request head has arrived: a probe being answered, never evicted.
    busy: AtomicBool,
    /// Its slot went to a newer connection: drop the socket now.
    evicted: AtomicBool,
    /// Wakes the connection when `evicted` is set.
    wake: Notify,
}

impl Reserved {
    pub(crate) fn mark_busy(&self) {
        self.busy.store(true, Ordering::Release);
    }

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
    /// The reserved pool's view of this connection (`HealthOnly` only).
    pub(crate) reserved: Option<Arc<Reserved>>,
    _slot: Slot,
}

enum Slot {
    /// Held, never read: dropping it returns the permit.
    General {
        _permit: OwnedSemaphorePermit,
    },
    Reserved(Arc<ReservedPool>, Arc<Reserved>),
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Slot::Reserved(pool, me) = self {
            pool.remove(me);
        }
    }
}

/// The reserved connections in admission order (oldest first).
struct ReservedPool {
    open: Mutex<VecDeque<Arc<Reserved>>>,
    max: usize,
}

impl ReservedPool {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Reserved>>> {
        // The pool is a list of handles; a panic elsewhere cannot leave it half-updated.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remove(&self, me: &Arc<Reserved>) {
        let mut open = self.lock();
        if let Some(i) = open.iter().position(|r| Arc::ptr_eq(r, me)) {
            open.remove(i);
        }
    }

    /// A slot for a newcomer: a free one, or the oldest not-yet-busy connection's.
    fn take(&self) -> Option<Arc<Reserved>> {
        let mut open = self.lock();
        if open.len() >= self.max {
            let i = open.iter().position(|r| !r.busy.load(Ordering::Acquire))?;
            let evicted = open.remove(i).expect("position is in range");
            evicted.evicted.store(true, Ordering::Release);
            evicted.wake.notify_one();
        }
        let me = Arc::new(Reserved::default());
        open.push_back(Arc::clone(&me));
        Some(me)
    }
}

/// Counts open connections against [`ConnectionLimits`]. Admission never waits, and a slot
/// is returned when its connection's task ends however it ends.
pub(crate) struct ConnectionSlots {
    general: Arc<Semaphore>,
    general_max: usize,
    reserved: Arc<ReservedPool>,
}

impl ConnectionSlots {
    pub(crate) fn new(limits: &ConnectionLimits) -> ConnectionSlots {
        let general_max = limits.connections_max.min(Semaphore::MAX_PERMITS);
        ConnectionSlots {
            general: Arc::new(Semaphore::new(general_max)),
            general_max,
            reserved: Arc::new(ReservedPool {
                open: Mutex::new(VecDeque::new()),
                max: limits.health_connections_reserved,
            }),
        }
    }

    /// A slot for a connection just accepted, or `None` to close it.
    pub(crate) fn admit(&self) -> Option<Admission> {
        if let Ok(permit) = Arc::clone(&self.general).try_acquire_owned() {
            return Some(Admission {
                kind: AdmissionKind::Full,
                reserved: None,
                _slot: Slot::General { _permit: permit },
            });
        }
        let me = self.reserved.take()?;
        Some(Admission {
            kind: AdmissionKind::HealthOnly,
            reserved: Some(Arc::clone(&me)),
            _slot: Slot::Reserved(Arc::clone(&self.reserved), me),
        })
    }

    /// Connections holding a slot now, in both pools (an evicted connection has none).
    pub(crate) fn open(&self) -> usize {
        (self.general_max - self.general.available_permits()) + self.reserved.lock().len()
    }

    /// Resolves once every connection has given its slot back.
    pub(crate) async fn all_closed(&self) {
        let general = u32::try_from(self.general_max).expect("MAX_PERMITS fits in u32");
        // The semaphore is never closed, so acquiring cannot fail; the permits go straight
        // back so a second call behaves the same.
        if let Ok(all) = self.general.acquire_many(general).await {
            drop(all);
        }
        // Reserved connections live one request or one header-read timeout at most.
        while !self.reserved.lock().is_empty() {
            tokio::time::sleep(Duration::from_millis(RESERVED_DRAIN_POLL_MS)).await;
        }
    }
}

/// How often shutdown looks whether the reserved connections have gone.
const RESERVED_DRAIN_POLL_MS: u64 = 10;

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

    #[tokio::test]
    async fn admission_fills_the_general_pool_then_the_reserve_then_evicts_then_refuses() {
        let slots = ConnectionSlots::new(&ConnectionLimits {
            connections_max: 2,
            health_connections_reserved: 2,
            ..ConnectionLimits::default()
        });
        let a = slots.admit().expect("first");
        let b = slots.admit().expect("second");
        assert_eq!((a.kind, b.kind), (AdmissionKind::Full, AdmissionKind::Full));
        let c = slots.admit().expect("reserved slot");
        let d = slots.admit().expect("reserved slot");
        assert_eq!(
            (c.kind, d.kind),
            (AdmissionKind::HealthOnly, AdmissionKind::HealthOnly)
        );
        let (c_ref, d_ref) = (
            c.reserved.clone().expect("reserved"),
            d.reserved.clone().expect("reserved"),
        );
        assert_eq!(slots.open(), 4);

        // The reserve is full: the newcomer takes the oldest idle one's slot.
        let e = slots.admit().expect("evicts c");
        assert!(c_ref.is_evicted() && !d_ref.is_evicted());
        tokio::time::timeout(Duration::from_secs(1), c_ref.evicted())
            .await
            .expect("c is told");
        assert_eq!(slots.open(), 4, "c's slot went to e");
        drop(c);
        assert_eq!(slots.open(), 4, "c's late drop frees nothing twice");

        // Busy reserved connections are kept; with all of them busy, newcomers are refused.
        d_ref.mark_busy();
        e.reserved.as_ref().expect("reserved").mark_busy();
        assert!(
            slots.admit().is_none(),
            "every reserved connection is mid-request"
        );
        assert!(!d_ref.is_evicted());

        drop(a);
        let f = slots.admit().expect("a general slot came back");
        assert_eq!(f.kind, AdmissionKind::Full);
        drop((b, d, e, f));
        tokio::time::timeout(Duration::from_secs(1), slots.all_closed())
            .await
            .expect("every slot is back");
        assert_eq!(slots.open(), 0);
    }

    #[test]
    fn without_a_reserve_the_connection_past_the_cap_is_refused() {
        let slots = ConnectionSlots::new(&ConnectionLimits {
            connections_max: 1,
            health_connections_reserved: 0,
            ..ConnectionLimits::default()
        });
        let _a = slots.admit().expect("first");
        assert!(slots.admit().is_none());
    }
}
