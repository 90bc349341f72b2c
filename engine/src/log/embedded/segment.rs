//! One segment file plus its sparse offset index.
//!
//! A partition directory holds segments named by the offset of their first record, as Kafka
//! names them: `00000000000000000000.log` with its index `00000000000000000000.index`. The
//! index has an entry every [`INDEX_INTERVAL_BYTES`] of records: `(offset - base):u32
//! position:u32`, little-endian. A cursor seeking to an offset starts at the last entry at or
//! before it and skips forward at most one interval.
//!
//! The active segment's index file is appended without fsync; recovery rebuilds it from the
//! segment. A sealed segment's index is fsynced when the segment rolls, and validated on open.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use bytes::{Bytes, BytesMut};

use super::record::{self, Decoded, FRAME_HEADER_BYTES};
use crate::error::{EngineError, Result};
use crate::log::{Offset, Record};

/// Bytes of records between two index entries.
///
/// Kafka's `index.interval.bytes` default (4096): a seek then decodes at most ~4 KiB to skip
/// to its offset, and a 1 GiB segment needs a 2 MiB index.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;

/// Largest segment the 32-bit positions in the index can address, in bytes.
pub const SEGMENT_BYTES_LIMIT: u64 = u32::MAX as u64;

/// Size of one index entry on disk.
const INDEX_ENTRY_BYTES: usize = 8;

/// Bytes a reader asks for per positioned read.
///
/// 256 KiB amortises the syscall over a few thousand ~100-byte rows while keeping each
/// cursor's buffer small; a larger record is read whole (up to `RECORD_BYTES_MAX`).
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// One index entry: the record at `offset` starts at byte `position` of the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub offset: Offset,
    pub position: u64,
}

/// A segment as shared between its writer and its readers.
#[derive(Debug)]
pub(crate) struct Segment {
    /// Offset of the first record (also the file name).
    pub base: Offset,
    pub index_path: PathBuf,
    /// Opened read-write; the writer uses positioned writes, readers positioned reads, so
    /// neither moves a shared file cursor.
    pub file: File,
    /// Bytes of whole records written (and, for the active segment, published with the
    /// committed end). Readers never read past it. Release on store, Acquire on load.
    pub committed_bytes: AtomicU64,
    /// Sparse index, sorted by offset and position. The writer takes the write lock only to
    /// push an entry, once per `INDEX_INTERVAL_BYTES`.
    pub index: RwLock<Vec<IndexEntry>>,
}

impl Segment {
    /// Creates an empty segment and its empty index (the directory entry is made durable by
    /// the caller, which knows the fsync policy).
    pub fn create(dir: &Path, base: Offset) -> Result<Segment> {
        let (log_path, index_path) = paths(dir, base);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&log_path)?;
        File::create(&index_path)?;
        Ok(Segment {
            base,
            index_path,
            file,
            committed_bytes: AtomicU64::new(0),
            index: RwLock::new(Vec::new()),
        })
    }

    /// Opens an existing segment whose valid length and index recovery established.
    pub fn open(dir: &Path, base: Offset, bytes: u64, index: Vec<IndexEntry>) -> Result<Segment> {
        let (log_path, index_path) = paths(dir, base);
        let file = OpenOptions::new().read(true).write(true).open(&log_path)?;
        Ok(Segment {
            base,
            index_path,
            file,
            committed_bytes: AtomicU64::new(bytes),
            index: RwLock::new(index),
        })
    }

    /// Where to start reading to find `target`: the last index entry at or before it that lies
    /// within the committed bytes, else the start of the segment.
    pub fn position_for(&self, target: Offset) -> u64 {
        let committed = self.committed_bytes.load(Ordering::Acquire);
        let index = self
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let i = index.partition_point(|e| e.offset <= target);
        index[..i]
            .iter()
            .rev()
            .find(|e| e.position <= committed)
            .map_or(0, |e| e.position)
    }

    /// Reads the bytes at `[position, end)` (a reader passes the committed length as `end`),
    /// at most `READ_CHUNK_BYTES` unless the frame starting at `position` is larger.
    pub fn read_chunk(&self, position: u64, end: u64) -> Result<Bytes> {
        read_chunk(&self.file, position, end)
    }
}

/// Reads a chunk of `file` starting at `position`, bounded by `end`: `READ_CHUNK_BYTES`, or the
/// whole frame at `position` if that is larger (so every chunk holds at least one frame when
/// one is there).
pub(crate) fn read_chunk(file: &File, position: u64, end: u64) -> Result<Bytes> {
    let available = end.saturating_sub(position);
    let mut want = available.min(READ_CHUNK_BYTES as u64) as usize;
    if want >= 4 {
        let mut len = [0u8; 4];
        file.read_exact_at(&mut len, position)?;
        if let Some(frame) = record::frame_len(&len) {
            want = want.max(frame.min(available as usize));
        }
    }
    let mut buf = BytesMut::zeroed(want);
    file.read_exact_at(&mut buf, position)?;
    Ok(buf.freeze())
}

/// `<dir>/<base:020>.log` and `.index`.
pub(crate) fn paths(dir: &Path, base: Offset) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{:020}.log", base.0)),
        dir.join(format!("{:020}.index", base.0)),
    )
}

/// Base offsets of the segments in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Offset>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".log") {
            let base = stem
                .parse::<u64>()
                .map_err(|_| EngineError::corrupt(format!("unexpected segment file {name}")))?;
            bases.push(Offset(base));
        }
    }
    bases.sort();
    Ok(bases)
}

/// Encodes index entries relative to `base` for the index file.
pub(crate) fn encode_index(base: Offset, entries: &[IndexEntry], out: &mut Vec<u8>) {
    for e in entries {
        let relative = u32::try_from(e.offset.0 - base.0).expect("segments hold < 2^32 records");
        let position = u32::try_from(e.position).expect("segments are < SEGMENT_BYTES_LIMIT");
        out.extend_from_slice(&relative.to_le_bytes());
        out.extend_from_slice(&position.to_le_bytes());
    }
}

/// Reads an index file; `None` if it is missing or not a whole number of entries.
pub(crate) fn read_index(path: &Path, base: Offset) -> Result<Option<Vec<IndexEntry>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if bytes.len() % INDEX_ENTRY_BYTES != 0 {
        return Ok(None);
    }
    Ok(Some(
        bytes
            .chunks_exact(INDEX_ENTRY_BYTES)
            .map(|c| IndexEntry {
                offset: Offset(base.0 + u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
                position: u64::from(u32::from_le_bytes([c[4], c[5], c[6], c[7]])),
            })
            .collect(),
    ))
}

/// Why a scan of a segment stopped.
#[derive(Debug, PartialEq)]
pub(crate) enum ScanStop {
    /// Reached the end of the file on a frame boundary.
    Clean,
    /// The file ends inside a frame.
    Torn,
    /// An invalid frame, or a record whose offset is not the next one.
    Corrupt(String),
}

/// Result of scanning a segment from some position.
#[derive(Debug)]
pub(crate) struct Scan {
    /// End of the last valid record.
    pub valid_bytes: u64,
    /// Offset after the last valid record.
    pub next_offset: Offset,
    pub stop: ScanStop,
    /// Index entries for the records scanned (every `INDEX_INTERVAL_BYTES`, counted from the
    /// scan's start position, as the writer counts from the segment's start).
    pub index: Vec<IndexEntry>,
}

/// Decodes the records of `file` from `position` (which holds `expected`) to `file_len`,
/// checking each record's offset is the next one.
pub(crate) fn scan(file: &File, file_len: u64, position: u64, expected: Offset) -> Result<Scan> {
    let mut scan = Scan {
        valid_bytes: position,
        next_offset: expected,
        stop: ScanStop::Clean,
        index: Vec::new(),
    };
    let mut since_index = 0u64;
    while scan.valid_bytes < file_len {
        let chunk = read_chunk(file, scan.valid_bytes, file_len)?;
        let mut at = 0usize;
        loop {
            if scan.valid_bytes == file_len {
                break;
            }
            match record::decode(&chunk.slice(at..)) {
                Decoded::Record {
                    offset,
                    frame_bytes,
                    ..
                } => {
                    if offset != scan.next_offset {
                        scan.stop = ScanStop::Corrupt(format!(
                            "record at byte {} has offset {}, expected {}",
                            scan.valid_bytes, offset.0, scan.next_offset.0
                        ));
                        return Ok(scan);
                    }
                    if since_index >= INDEX_INTERVAL_BYTES {
                        scan.index.push(IndexEntry {
                            offset,
                            position: scan.valid_bytes,
                        });
                        since_index = 0;
                    }
                    since_index += frame_bytes as u64;
                    at += frame_bytes;
                    scan.valid_bytes += frame_bytes as u64;
                    scan.next_offset = Offset(offset.0 + 1);
                }
                Decoded::NeedMore => {
                    let chunk_reaches_eof =
                        scan.valid_bytes - (at as u64) + chunk.len() as u64 >= file_len;
                    if chunk_reaches_eof {
                        scan.stop = ScanStop::Torn;
                        return Ok(scan);
                    }
                    if at == 0 {
                        // The frame length field itself is garbage (beyond RECORD_BYTES_MAX
                        // was rejected by decode), so a chunk always holds a whole frame.
                        scan.stop = ScanStop::Corrupt("frame larger than a read".to_owned());
                        return Ok(scan);
                    }
                    break; // read the next chunk from the partial frame
                }
                Decoded::Corrupt(reason) => {
                    scan.stop = ScanStop::Corrupt(reason);
                    return Ok(scan);
                }
            }
        }
    }
    Ok(scan)
}

/// Decodes the record at `position` if it is whole and valid (used to validate an index entry).
pub(crate) fn record_at(
    file: &File,
    file_len: u64,
    position: u64,
) -> Result<Option<(Offset, Record)>> {
    if position + FRAME_HEADER_BYTES as u64 > file_len {
        return Ok(None);
    }
    let chunk = read_chunk(file, position, file_len)?;
    Ok(match record::decode(&chunk) {
        Decoded::Record { offset, record, .. } => Some((offset, record)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_lookup_picks_last_entry_at_or_before() {
        let dir = tempfile::tempdir().unwrap();
        let base = Offset(100);
        let entries = vec![
            IndexEntry {
                offset: Offset(150),
                position: 4100,
            },
            IndexEntry {
                offset: Offset(190),
                position: 8300,
            },
        ];
        let mut buf = Vec::new();
        encode_index(base, &entries, &mut buf);
        let (_, index_path) = paths(dir.path(), base);
        std::fs::write(&index_path, &buf).unwrap();
        assert_eq!(
            read_index(&index_path, base).unwrap(),
            Some(entries.clone())
        );

        std::fs::write(paths(dir.path(), base).0, vec![0u8; 9000]).unwrap();
        let seg = Segment::open(dir.path(), base, 9000, entries).unwrap();
        assert_eq!(seg.position_for(Offset(120)), 0);
        assert_eq!(seg.position_for(Offset(150)), 4100);
        assert_eq!(seg.position_for(Offset(189)), 4100);
        assert_eq!(seg.position_for(Offset(500)), 8300);
        // An entry past the committed bytes is not used.
        seg.committed_bytes.store(8000, Ordering::Release);
        assert_eq!(seg.position_for(Offset(500)), 4100);
    }

    #[test]
    fn lists_segments_in_offset_order() {
        let dir = tempfile::tempdir().unwrap();
        for base in [20u64, 0, 7] {
            Segment::create(dir.path(), Offset(base)).unwrap();
        }
        assert_eq!(
            list_segments(dir.path()).unwrap(),
            vec![Offset(0), Offset(7), Offset(20)]
        );
        assert!(dir.path().join("00000000000000000007.log").exists());
    }
}
