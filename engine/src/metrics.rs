//! A latency histogram cheap enough for the data path: fixed buckets of atomic counters, no
//! lock and no allocation when observing, summed into a plain snapshot when scraped.
//!
//! Why not a metrics crate's histogram here: `prometheus-client`'s `Histogram` takes a mutex
//! on every observation, which every writer thread and every insert session would then
//! contend on. This type only counts; the server's `/metrics` encodes its snapshots with
//! `prometheus-client` (which owns the exposition format).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds: 50 µs to 10 s, roughly ×2.5 apart.
///
/// The low end resolves a page-cache write or an fsync on NVMe (tens of µs); the high end
/// covers a stalled disk or a consumer far behind. Fifteen buckets keep a scrape small while
/// still telling a 1 ms fsync from a 5 ms one. Beyond the last is `+Inf`.
pub const LATENCY_BUCKET_BOUNDS_US: [u64; 15] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 10_000_000,
];

/// Buckets, counting the `+Inf` one.
const BUCKETS: usize = LATENCY_BUCKET_BOUNDS_US.len() + 1;

/// Observed latencies, by bucket. Observing is two relaxed atomic adds.
#[derive(Debug)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative: a snapshot accumulates them).
    buckets: [AtomicU64; BUCKETS],
    /// Sum of every observation, in microseconds.
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    pub fn new() -> LatencyHistogram {
        LatencyHistogram::default()
    }

    /// Counts one observation of `elapsed`.
    pub fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.observe_us(us);
    }

    /// Counts one observation of `us` microseconds.
    pub fn observe_us(&self, us: u64) {
        let bucket = LATENCY_BUCKET_BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Adds this histogram's counts to `into`. Relaxed loads: a scrape racing an
    /// observation may see its bucket and not yet its sum, which the next scrape fixes.
    pub fn add_to(&self, into: &mut HistogramSnapshot) {
        for (total, bucket) in into.buckets.iter_mut().zip(&self.buckets) {
            *total += bucket.load(Ordering::Relaxed);
        }
        into.sum_us += self.sum_us.load(Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut snapshot = HistogramSnapshot::default();
        self.add_to(&mut snapshot);
        snapshot
    }
}

/// A histogram's counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Observations per bucket, bounds as [`LATENCY_BUCKET_BOUNDS_US`] then `+Inf`.
    pub buckets: [u64; BUCKETS],
    pub sum_us: u64,
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `(upper bound in seconds, observations in that bucket)` per bucket, `+Inf` last, as
    /// `prometheus-client`'s histogram encoder takes them (it accumulates them itself).
    pub fn buckets_seconds(&self) -> Vec<(f64, u64)> {
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let bound = LATENCY_BUCKET_BOUNDS_US
                    .get(i)
                    .map_or(f64::INFINITY, |us| *us as f64 / 1e6);
                (bound, *count)
            })
            .collect()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_us as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_bucket_of_their_upper_bound() {
        let h = LatencyHistogram::new();
        h.observe_us(0);
        h.observe_us(50); // on a bound: that bucket (Prometheus' `le`)
        h.observe_us(51);
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[BUCKETS - 1], 1);
        assert_eq!(s.count(), 4);
        assert_eq!(s.sum_us, 101 + 60_000_000);
        let buckets = s.buckets_seconds();
        assert_eq!(buckets[0], (0.00005, 2));
        assert_eq!(buckets[1], (0.0001, 1));
        assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1)));
    }

    #[test]
    fn snapshots_add_up() {
        let (a, b) = (LatencyHistogram::new(), LatencyHistogram::new());
        a.observe_us(700);
        b.observe_us(700);
        let mut total = HistogramSnapshot::default();
        a.add_to(&mut total);
        b.add_to(&mut total);
        assert_eq!(total.buckets[4], 2);
        assert_eq!(total.sum_us, 1400);
    }
}
