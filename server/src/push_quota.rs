//! Push queries per connection: one client must not take every push-query slot of the node
//! (issue 9, finding 10). The connection puts its counter into each request's extensions;
//! `/query-stream` and `/query` hold a [`PushSlot`] for as long as a push query's response
//! lives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Push queries one connection may run at once.
///
/// The node runs at most `PUSH_QUERIES_MAX` (10,000) in all. HTTP/2 already caps a
/// connection's concurrent streams at 1,024 (`H2_CONCURRENT_STREAMS_MAX`); this stays below
/// that so the refusal is ksqlDB's error body rather than a bare `REFUSED_STREAM`, and keeps
/// room on the connection for `/close-query` and inserts. A dashboard needs tens.
pub const PUSH_QUERIES_PER_CONNECTION_MAX: usize = 1_000;

/// A connection's count of running push queries, shared by its requests.
#[derive(Clone, Debug)]
pub struct PushQuota {
    running: Arc<AtomicUsize>,
    max: usize,
}

impl Default for PushQuota {
    fn default() -> Self {
        PushQuota::new(PUSH_QUERIES_PER_CONNECTION_MAX)
    }
}

impl PushQuota {
    /// A connection's quota of `max` push queries at once.
    pub fn new(max: usize) -> PushQuota {
        PushQuota {
            running: Arc::default(),
            max,
        }
    }

    /// The most push queries the connection may run at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot, or `None` when the connection already runs its limit.
    pub fn try_acquire(&self) -> Option<PushSlot> {
        let max = self.max;
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(PushSlot {
            running: Arc::clone(&self.running),
        })
    }
}

/// One running push query of a connection; gives its slot back when dropped.
#[derive(Debug)]
pub struct PushSlot {
    running: Arc<AtomicUsize>,
}

impl Drop for PushSlot {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_run_out_at_the_limit_and_come_back_when_dropped() {
        let quota = PushQuota::default();
        let mut slots: Vec<PushSlot> = (0..PUSH_QUERIES_PER_CONNECTION_MAX)
            .map(|_| quota.try_acquire().expect("below the limit"))
            .collect();
        assert!(quota.try_acquire().is_none());
        slots.pop();
        assert!(quota.try_acquire().is_some());
    }

    #[test]
    fn a_configured_quota_runs_out_at_its_own_limit() {
        let quota = PushQuota::new(2);
        let _a = quota.try_acquire().expect("first");
        let _b = quota.try_acquire().expect("second");
        assert!(quota.try_acquire().is_none());
        assert_eq!(quota.max(), 2);
    }
}
