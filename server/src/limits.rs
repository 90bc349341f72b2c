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
//! - at `connections_max`, while fewer than `health_connections_reserved` extra connections
//!   are open: a *health-only* connection, which serves `GET`/`HEAD` of `/healthcheck` and
//!   `/info`, answers anything else with 503 (ksqlDB's `generic_error`, code 50300), closes
//!   after its first request and idles out after the header-read timeout;
//! - beyond both: closed at once, before anything is read.
//!
//! Why a reserved pool rather than sorting connections by their first request: a probe
//! from a load balancer or Kubernetes opens a fresh connection each time, so a few slots
//! that only health requests can use keep it answered while the general slots are taken,
//! and because those slots close after one request and idle out fast, holding them costs
//! an attacker a steady stream of new connections instead of one burst.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// A slot held for as long as its connection lives.
pub(crate) struct Admission {
    pub(crate) kind: AdmissionKind,
    _slot: OwnedSemaphorePermit,
}

/// Counts open connections against [`ConnectionLimits`]; both pools are semaphores, so
/// admission never waits and a slot is returned when its connection's task ends however it
/// ends.
pub(crate) struct ConnectionSlots {
    general: Arc<Semaphore>,
    health: Arc<Semaphore>,
    general_max: usize,
    health_max: usize,
}

impl ConnectionSlots {
    pub(crate) fn new(limits: &ConnectionLimits) -> ConnectionSlots {
        let general_max = limits.connections_max.min(Semaphore::MAX_PERMITS);
        let health_max = limits
            .health_connections_reserved
            .min(Semaphore::MAX_PERMITS);
        ConnectionSlots {
            general: Arc::new(Semaphore::new(general_max)),
            health: Arc::new(Semaphore::new(health_max)),
            general_max,
            health_max,
        }
    }

    /// A slot for a connection just accepted, or `None` if both pools are full.
    pub(crate) fn admit(&self) -> Option<Admission> {
        if let Ok(slot) = Arc::clone(&self.general).try_acquire_owned() {
            return Some(Admission {
                kind: AdmissionKind::Full,
                _slot: slot,
            });
        }
        Arc::clone(&self.health)
            .try_acquire_owned()
            .ok()
            .map(|slot| Admission {
                kind: AdmissionKind::HealthOnly,
                _slot: slot,
            })
    }

    /// Connections open now, in both pools.
    pub(crate) fn open(&self) -> usize {
        (self.general_max - self.general.available_permits())
            + (self.health_max - self.health.available_permits())
    }

    /// Resolves once every connection has ended and given its slot back.
    pub(crate) async fn all_closed(&self) {
        let general = u32::try_from(self.general_max).expect("MAX_PERMITS fits in u32");
        let health = u32::try_from(self.health_max).expect("MAX_PERMITS fits in u32");
        // The semaphores are never closed, so acquiring cannot fail; the permits go straight
        // back so a second call (or a late connection) behaves the same.
        if let Ok(all) = self.general.acquire_many(general).await {
            drop(all);
        }
        if let Ok(all) = self.health.acquire_many(health).await {
            drop(all);
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

    #[tokio::test]
    async fn admission_fills_the_general_pool_then_the_health_pool_then_refuses() {
        let slots = ConnectionSlots::new(&ConnectionLimits {
            connections_max: 2,
            health_connections_reserved: 1,
            ..ConnectionLimits::default()
        });
        let a = slots.admit().expect("first");
        let b = slots.admit().expect("second");
        assert_eq!((a.kind, b.kind), (AdmissionKind::Full, AdmissionKind::Full));
        let c = slots.admit().expect("health slot");
        assert_eq!(c.kind, AdmissionKind::HealthOnly);
        assert!(slots.admit().is_none(), "both pools are full");
        assert_eq!(slots.open(), 3);
        drop(a);
        let d = slots.admit().expect("a general slot came back");
        assert_eq!(d.kind, AdmissionKind::Full);
        drop((b, c, d));
        tokio::time::timeout(Duration::from_secs(1), slots.all_closed())
            .await
            .expect("every slot is back");
        assert_eq!(slots.open(), 0);
    }
}
