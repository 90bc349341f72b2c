//! Windowed keys as Kafka Streams serializes them, which is what ksqlDB writes to a windowed
//! table's topic: the inner key's bytes, then the window.
//!
//! ```text
//!  time window (TUMBLING, HOPPING):  inner key ┃ start (8 bytes, big-endian)
//!  session window:                   inner key ┃ end (8 bytes) ┃ start (8 bytes)
//! ```
//!
//! (`TimeWindowedSerializer` / `SessionWindowedSerializer` with `WindowKeySchema` and
//! `SessionKeySchema`.) A time window's end is not stored: readers add the window size.

use crate::error::{EngineError, Result};

/// Bytes a time window appends to the inner key.
pub const TIME_WINDOW_SUFFIX_BYTES: usize = 8;
/// Bytes a session window appends to the inner key.
pub const SESSION_WINDOW_SUFFIX_BYTES: usize = 16;

/// How a windowed key carries its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKeyKind {
    /// TUMBLING and HOPPING: the start only.
    Time,
    /// SESSION: end, then start.
    Session,
}

impl WindowKeyKind {
    pub fn suffix_bytes(self) -> usize {
        match self {
            WindowKeyKind::Time => TIME_WINDOW_SUFFIX_BYTES,
            WindowKeyKind::Session => SESSION_WINDOW_SUFFIX_BYTES,
        }
    }
}

/// Appends the window of `[start_ms, end_ms]` to an inner key in `out`.
pub fn append_window(kind: WindowKeyKind, start_ms: i64, end_ms: i64, out: &mut Vec<u8>) {
    if kind == WindowKeyKind::Session {
        out.extend_from_slice(&end_ms.to_be_bytes());
    }
    out.extend_from_slice(&start_ms.to_be_bytes());
}

/// Splits a windowed key into its inner key and `(start, end)`; a time window's end is
/// `None` (the reader knows the size).
pub fn split_window(kind: WindowKeyKind, key: &[u8]) -> Result<(&[u8], i64, Option<i64>)> {
    let n = kind.suffix_bytes();
    if key.len() < n {
        return Err(EngineError::corrupt(format!(
            "a windowed key has {} bytes, fewer than its window's {n}",
            key.len()
        )));
    }
    let (inner, suffix) = key.split_at(key.len() - n);
    let long = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("an 8-byte slice"));
    Ok(match kind {
        WindowKeyKind::Time => (inner, long(suffix), None),
        WindowKeyKind::Session => (inner, long(&suffix[8..]), Some(long(&suffix[..8]))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_trip_in_kafka_streams_layout() {
        let mut key = b"k1".to_vec();
        append_window(WindowKeyKind::Time, 6000, 11000, &mut key);
        assert_eq!(&key[2..], &6000i64.to_be_bytes());
        assert_eq!(
            split_window(WindowKeyKind::Time, &key).unwrap(),
            (&b"k1"[..], 6000, None)
        );
        let mut key = b"k1".to_vec();
        append_window(WindowKeyKind::Session, -5, 14, &mut key);
        assert_eq!(&key[2..10], &14i64.to_be_bytes());
        assert_eq!(
            split_window(WindowKeyKind::Session, &key).unwrap(),
            (&b"k1"[..], -5, Some(14))
        );
        assert!(split_window(WindowKeyKind::Session, b"short").is_err());
    }
}
