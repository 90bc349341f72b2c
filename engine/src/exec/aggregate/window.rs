//! Window definitions of a windowed aggregate: which windows a record falls in, and when a
//! window closes (Kafka Streams' `TimeWindows` and `SessionWindows`, as ksqlDB builds them).
//!
//! ```text
//!  TUMBLING (SIZE s)              [k·s, k·s + s)            one window per record
//!  HOPPING (SIZE s, ADVANCE BY a) [k·a, k·a + s) ∋ ts       s / a windows per record
//!  SESSION (g)                    [first ts, last ts]       records closer than g merge
//!  closed: end + grace ≤ stream time  (late records for closed windows are dropped)
//! ```

use crate::catalog::source::WindowType;
use crate::error::{EngineError, Result};
use crate::exec::operator::WindowBounds;
use crate::format::window_key::WindowKeyKind;
use crate::sql::ast::WindowExpr;

/// Kafka Streams' grace when a window names none (`TimeWindows.of` / `SessionWindows.with`,
/// which ksqlDB calls for a window without GRACE PERIOD): 24 hours less the window size.
pub const DEFAULT_GRACE_BASE_MS: i64 = 24 * 60 * 60 * 1000;

/// Most windows one record may fall in (SIZE / ADVANCE BY of a hopping window): each is a
/// state update and an output row per record, so the bound keeps one record's work small.
pub const WINDOWS_PER_RECORD_MAX: i64 = 1000;

/// Most session windows one record may merge: sessions of a key are disjoint by more than
/// the gap, so a record bridges at most a few; the bound keeps a corrupt store from turning
/// one record into an unbounded merge.
pub const SESSION_MERGE_MAX: usize = 1024;

/// What a window does with a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitMode {
    /// Every update at once (`EMIT CHANGES`).
    Changes,
    /// One result per window once it closes (`EMIT FINAL`, Kafka Streams' suppression
    /// until the window closes).
    Final,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size_ms: i64 },
    Hopping { size_ms: i64, advance_ms: i64 },
    Session { gap_ms: i64 },
}

/// A planned window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub grace_ms: i64,
    /// How long after its end a window stays in the state store (for pull queries).
    pub retention_ms: i64,
    pub emit: EmitMode,
}

impl WindowSpec {
    /// Plans `window` with ksqlDB's checks. Without GRACE PERIOD, EMIT CHANGES keeps Kafka
    /// Streams' deprecated default; EMIT FINAL closes windows at their end (QTT
    /// `suppress.json`, "should emit at window end if no grace period given").
    pub fn plan(window: &WindowExpr, emit: EmitMode) -> Result<WindowSpec> {
        let ms = |v: u64| i64::try_from(v).map_err(|_| EngineError::statement("Window duration is too large"));
        let (kind, retention, grace, length) = match *window {
            WindowExpr::Tumbling {
                size_ms,
                retention_ms,
                grace_ms,
            } => {
                let size_ms = ms(size_ms)?;
                (WindowKind::Tumbling { size_ms }, retention_ms, grace_ms, size_ms)
            }
            WindowExpr::Hopping {
                size_ms,
                advance_ms,
                retention_ms,
                grace_ms,
            } => {
                let (size_ms, advance_ms) = (ms(size_ms)?, ms(advance_ms)?);
                if advance_ms <= 0 || advance_ms > size_ms {
                    return Err(EngineError::statement(format!(
                        "Window advance must be positive and no larger than its size (advance {advance_ms} ms, size {size_ms} ms)."
                    )));
                }
                if size_ms / advance_ms > WINDOWS_PER_RECORD_MAX {
                    return Err(EngineError::statement(format!(
                        "A hopping window of size {size_ms} ms advancing by {advance_ms} ms puts each record in more than {WINDOWS_PER_RECORD_MAX} windows."
                    )));
                }
                (
                    WindowKind::Hopping {
                        size_ms,
                        advance_ms,
                    },
                    retention_ms,
                    grace_ms,
                    size_ms,
                )
            }
            WindowExpr::Session {
                gap_ms,
                retention_ms,
                grace_ms,
            } => {
                let gap_ms = ms(gap_ms)?;
                (WindowKind::Session { gap_ms }, retention_ms, grace_ms, gap_ms)
            }
        };
        if length <= 0 {
            return Err(EngineError::statement("Window size must be positive."));
        }
        let grace_ms = match (grace, emit) {
            (Some(g), _) => ms(g)?,
            (None, EmitMode::Final) => 0,
            (None, EmitMode::Changes) => (DEFAULT_GRACE_BASE_MS - length).max(0),
        };
        let retention_ms = match retention {
            Some(r) => {
                let r = ms(r)?;
                if r < length + grace_ms {
                    return Err(EngineError::statement(format!(
                        "The retention period ({r} ms) must be at least the window size and grace period ({} ms).",
                        length + grace_ms
                    )));
                }
                r
            }
            None => (length + grace_ms).max(DEFAULT_GRACE_BASE_MS),
        };
        Ok(WindowSpec {
            kind,
            grace_ms,
            retention_ms,
            emit,
        })
    }

    pub fn window_type(&self) -> WindowType {
        match self.kind {
            WindowKind::Tumbling { .. } => WindowType::Tumbling,
            WindowKind::Hopping { .. } => WindowType::Hopping,
            WindowKind::Session { .. } => WindowType::Session,
        }
    }

    /// The window size DESCRIBE shows (time windows only).
    pub fn size_ms(&self) -> Option<u64> {
        match self.kind {
            WindowKind::Tumbling { size_ms } | WindowKind::Hopping { size_ms, .. } => {
                Some(size_ms as u64)
            }
            WindowKind::Session { .. } => None,
        }
    }

    pub fn key_kind(&self) -> WindowKeyKind {
        self.window_type().key_kind()
    }

    /// The time windows `timestamp_ms` falls in, oldest first (Kafka Streams'
    /// `TimeWindows.windowsFor`: starts are multiples of the advance, none before 0).
    pub fn time_windows_for(&self, timestamp_ms: i64, out: &mut Vec<WindowBounds>) {
        out.clear();
        let (size, advance) = match self.kind {
            WindowKind::Tumbling { size_ms } => (size_ms, size_ms),
            WindowKind::Hopping {
                size_ms,
                advance_ms,
            } => (size_ms, advance_ms),
            WindowKind::Session { .. } => return,
        };
        let mut start = ((timestamp_ms - size + advance).max(0) / advance) * advance;
        while start <= timestamp_ms {
            out.push(WindowBounds {
                start_ms: start,
                end_ms: start.saturating_add(size),
            });
            start += advance;
        }
    }

    /// Whether a window ending at `end_ms` is closed at `stream_time_ms`.
    pub fn is_closed(&self, end_ms: i64, stream_time_ms: i64) -> bool {
        end_ms.saturating_add(self.grace_ms) <= stream_time_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hopping(size: u64, advance: u64) -> WindowSpec {
        WindowSpec::plan(
            &WindowExpr::Hopping {
                size_ms: size,
                advance_ms: advance,
                retention_ms: None,
                grace_ms: None,
            },
            EmitMode::Changes,
        )
        .unwrap()
    }

    #[test]
    fn hopping_windows_cover_the_record_oldest_first() {
        let mut out = Vec::new();
        hopping(5000, 1000).time_windows_for(10345, &mut out);
        let starts: Vec<i64> = out.iter().map(|w| w.start_ms).collect();
        assert_eq!(starts, [6000, 7000, 8000, 9000, 10000]);
        assert!(out.iter().all(|w| w.end_ms == w.start_ms + 5000));
        hopping(5000, 1000).time_windows_for(500, &mut out);
        assert_eq!(out.len(), 1, "no window starts before 0");
    }

    #[test]
    fn grace_defaults_differ_by_emit_mode() {
        let tumbling = WindowExpr::Tumbling {
            size_ms: 2,
            retention_ms: None,
            grace_ms: None,
        };
        let changes = WindowSpec::plan(&tumbling, EmitMode::Changes).unwrap();
        assert_eq!(changes.grace_ms, DEFAULT_GRACE_BASE_MS - 2);
        let last = WindowSpec::plan(&tumbling, EmitMode::Final).unwrap();
        assert_eq!(last.grace_ms, 0);
        assert!(last.is_closed(2, 2) && !last.is_closed(2, 1));
        assert!(WindowSpec::plan(
            &WindowExpr::Hopping {
                size_ms: 10,
                advance_ms: 20,
                retention_ms: None,
                grace_ms: None
            },
            EmitMode::Changes
        )
        .is_err());
    }
}
