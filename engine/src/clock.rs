//! Wall-clock time behind a handle so tests can control it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Source of record timestamps (epoch ms). `System` reads the OS clock; `Manual` is set
/// by tests.
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn system() -> Clock {
        Clock::System
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            Clock::Manual(t) => t.load(Ordering::Relaxed),
        }
    }
}
