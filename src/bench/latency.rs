//! Latency accounting: HDR histograms of µs measured from each row's *scheduled* send time,
//! so a stall delays every row scheduled behind it and shows up in the tail (no coordinated
//! omission), and the pacing schedule that defines those times.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency recorded as itself: one hour. Larger values are clamped to it.
const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Significant digits kept: 3 gives 0.1 % resolution at every magnitude (~200 KiB each).
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies in µs, recorded per task and merged at the end.
#[derive(Debug, Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub fn new() -> Latency {
        Latency {
            histogram: Histogram::new_with_bounds(1, LATENCY_US_MAX, SIGNIFICANT_DIGITS)
                .expect("constant bounds are valid"),
        }
    }

    /// Records the latency of a row scheduled at `scheduled_us` and observed at `now_us`
    /// (both µs since the run epoch). An observation before its schedule (clock reads on
    /// different threads) counts as 0.
    pub fn record(&mut self, scheduled_us: u64, now_us: u64) {
        self.histogram
            .saturating_record(now_us.saturating_sub(scheduled_us).max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms share their bounds");
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        if self.histogram.is_empty() {
            return None;
        }
        let h = &self.histogram;
        Some(LatencySummary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
            mean_us: h.mean(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// When each row of one producer is due: row `n` at `n / rate` seconds after the epoch when
/// paced, or whenever the window lets it go when flat out (then its send time is its
/// schedule, as nothing else defines one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    FlatOut,
    Paced { rows_per_s: f64 },
}

impl Schedule {
    /// Scheduled send time of row `n` in µs since the epoch (`None` when flat out).
    pub fn due_us(self, n: u64) -> Option<u64> {
        match self {
            Schedule::FlatOut => None,
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            Schedule::Paced { rows_per_s } => Some((n as f64 * 1e6 / rows_per_s) as u64),
        }
    }

    /// How many rows are due by `now_us` (rows `0..count`), given the schedule.
    pub fn due_count(self, now_us: u64) -> Option<u64> {
        match self {
            Schedule::FlatOut => None,
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            Schedule::Paced { rows_per_s } => Some((now_us as f64 * rows_per_s / 1e6) as u64 + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_measured_from_the_schedule() {
        let mut l = Latency::new();
        // 99 rows acked 1 ms after their schedule, one after a 100 ms stall.
        for i in 0..99 {
            l.record(i * 10, i * 10 + 1_000);
        }
        l.record(5_000, 105_000);
        let s = l.summary().expect("rows");
        assert_eq!(s.count, 100);
        assert!((999..=1_001).contains(&s.p50_us), "{s:?}");
        assert!((99_900..=100_100).contains(&s.max_us), "{s:?}");
        assert!(s.p999_us >= 99_900, "the stall is in the tail: {s:?}");
    }

    #[test]
    fn a_stall_delays_every_row_scheduled_behind_it() {
        // Paced at 1000 rows/s, the server stalls 1 s at t=0: every row due during the stall
        // is sent at t=1 s. Measured from the schedule, half the rows wait ≥ 0.5 s.
        let schedule = Schedule::Paced { rows_per_s: 1000.0 };
        let mut l = Latency::new();
        for n in 0..1000 {
            let due = schedule.due_us(n).expect("paced");
            l.record(due, 1_000_000);
        }
        let s = l.summary().expect("rows");
        assert!((495_000..=505_000).contains(&s.p50_us), "{s:?}");
        assert!(s.max_us >= 999_000, "{s:?}");
    }

    #[test]
    fn early_observations_and_huge_values_are_clamped() {
        let mut l = Latency::new();
        l.record(10, 5);
        l.record(0, u64::MAX);
        l.record(0, u64::MAX);
        let s = l.summary().expect("rows");
        assert_eq!(s.count, 3);
        assert_eq!(l.histogram.min(), 1);
        assert!(s.max_us >= LATENCY_US_MAX * 999 / 1000);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (Latency::new(), Latency::new());
        for _ in 0..5 {
            a.record(0, 10);
            b.record(0, 1_000);
        }
        a.merge(&b);
        assert_eq!(a.summary().expect("rows").count, 10);
        assert!(Latency::new().summary().is_none());
    }

    #[test]
    fn schedule_spaces_rows_evenly() {
        let s = Schedule::Paced {
            rows_per_s: 100_000.0,
        };
        assert_eq!(s.due_us(0), Some(0));
        assert_eq!(s.due_us(1), Some(10));
        assert_eq!(s.due_us(100_000), Some(1_000_000));
        assert_eq!(s.due_count(0), Some(1));
        assert_eq!(s.due_count(25), Some(3));
        assert_eq!(Schedule::FlatOut.due_us(5), None);
    }
}
