//! The record and segment readers on bytes a fuzz target makes (`fuzz/`, `internals` only).
//!
//! Recovery and cursors read segment files through [`record::decode`] and [`segment::scan`];
//! these wrappers hand them a buffer or a file the fuzzer wrote and return what they found
//! in plain types, so the checks in `fuzz/src/checks.rs` can compare it with the records
//! that were written. Nothing here is used by the log itself.

use std::fs::File;

use bytes::Bytes;

use super::record::{self, Decoded};
use super::segment::{self, ScanStop};
use crate::error::Result;
use crate::log::{Offset, Record};

/// What [`decode_record`] found at the start of a buffer.
#[derive(Debug)]
pub enum RecordFrame {
    /// A whole valid frame of `frame_bytes` bytes.
    Record {
        offset: Offset,
        record: Record,
        frame_bytes: usize,
    },
    /// The buffer ends inside the frame.
    NeedMore,
    /// The frame is all there but invalid.
    Corrupt(String),
}

/// The frame at the start of `buf`, as readers and recovery decode it.
pub fn decode_record(buf: &Bytes) -> RecordFrame {
    match record::decode(buf) {
        Decoded::Record {
            offset,
            record,
            frame_bytes,
        } => RecordFrame::Record {
            offset,
            record,
            frame_bytes,
        },
        Decoded::NeedMore => RecordFrame::NeedMore,
        Decoded::Corrupt(reason) => RecordFrame::Corrupt(reason),
    }
}

/// Appends the frame the writer would write for `record` at `offset`.
pub fn encode_record(offset: Offset, record: &Record, out: &mut Vec<u8>) {
    record::encode(offset, record, out);
}

/// The encoded size of `record`, length field included.
pub fn encoded_len(record: &Record) -> usize {
    record::encoded_len(record)
}

/// Why a segment scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentStop {
    Clean,
    Torn,
    Corrupt(String),
}

/// What a recovery scan of a whole segment file found.
#[derive(Debug, Clone)]
pub struct SegmentScan {
    /// End of the last valid record: where recovery would cut the file.
    pub valid_bytes: u64,
    /// The offset the next append would get.
    pub next_offset: Offset,
    pub stop: SegmentStop,
    /// Skipped damage: offsets `[start, end)` in bytes `[from_byte, to_byte)`.
    pub damage: Vec<(Offset, Offset, u64, u64)>,
    /// Sparse index entries the scan produced: (offset, byte position).
    pub index: Vec<(Offset, u64)>,
}

/// Scans `file` (of `file_len` bytes, first offset `base`) as recovery does, with bytes
/// before `trusted_until` known to have been fsynced.
pub fn scan_segment(
    file: &File,
    file_len: u64,
    base: Offset,
    trusted_until: u64,
) -> Result<SegmentScan> {
    let scan = segment::scan(file, file_len, 0, base, trusted_until)?;
    Ok(SegmentScan {
        valid_bytes: scan.valid_bytes,
        next_offset: scan.next_offset,
        stop: match scan.stop {
            ScanStop::Clean => SegmentStop::Clean,
            ScanStop::Torn => SegmentStop::Torn,
            ScanStop::Corrupt(reason) => SegmentStop::Corrupt(reason),
        },
        damage: scan
            .damage
            .iter()
            .map(|d| (d.start, d.end, d.from_byte, d.to_byte))
            .collect(),
        index: scan.index.iter().map(|e| (e.offset, e.position)).collect(),
    })
}

/// Reads an index file of a segment based at `base`; `None` if missing or not whole entries.
pub fn read_index(path: &std::path::Path, base: Offset) -> Result<Option<Vec<(Offset, u64)>>> {
    Ok(segment::read_index(path, base)?
        .map(|entries| entries.iter().map(|e| (e.offset, e.position)).collect()))
}
