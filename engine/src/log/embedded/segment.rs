//! One segment file plus its sparse offset index.
//!
//! A partition directory holds segments named by the offset of their first record, as Kafka
//! names them: `00000000000000000000.log` with its index `00000000000000000000.index`. The
//! index has an entry every [`INDEX_INTERVAL_BYTES`] of records: `(offset - base):u32
//! position:u32`, little-endian. A cursor seeking to an offset starts at the last entry at or
//! before it and skips forward at most one interval.
//!
//! The active segment's index lives in memory only (recovery rebuilds it from the segment);
//! its file is written and fsynced when the segment is sealed, and validated on open.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};

use super::files::{FileCache, FileKey};
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
    pub log_path: PathBuf,
    pub index_path: PathBuf,
    /// The file is opened on demand through the log's [`FileCache`] (read-write: the writer
    /// uses positioned writes, readers positioned reads, so neither moves a shared cursor).
    key: FileKey,
    files: Arc<FileCache>,
    /// Bytes of whole records written (and, for the active segment, published with the
    /// committed end). Readers never read past it. Release on store, Acquire on load.
    pub committed_bytes: AtomicU64,
    /// Sparse index, sorted by offset and position. The writer takes the write lock only to
    /// push entries once a batch is written, about once per `INDEX_INTERVAL_BYTES`.
    pub index: RwLock<Vec<IndexEntry>>,
}

impl Segment {
    /// Creates an empty segment file (the directory entry is made durable by the caller,
    /// which knows the fsync policy). Its index file is written when the segment is sealed.
    pub fn create(dir: &Path, base: Offset, files: Arc<FileCache>) -> std::io::Result<Segment> {
        let (log_path, index_path) = paths(dir, base);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&log_path)?;
        let key = FileKey::new();
        files.insert(key, file);
        Ok(Segment {
            base,
            log_path,
            index_path,
            key,
            files,
            committed_bytes: AtomicU64::new(0),
            index: RwLock::new(Vec::new()),
        })
    }

    /// An existing segment whose valid length and index recovery established (no I/O: the
    /// file is opened when first read or written).
    pub fn open(
        dir: &Path,
        base: Offset,
        bytes: u64,
        index: Vec<IndexEntry>,
        files: Arc<FileCache>,
    ) -> Segment {
        let (log_path, index_path) = paths(dir, base);
        Segment {
            base,
            log_path,
            index_path,
            key: FileKey::new(),
            files,
            committed_bytes: AtomicU64::new(bytes),
            index: RwLock::new(index),
        }
    }

    /// The open file, from the log's file cache. Hold it only for one read, or one write and
    /// its fsync.
    pub fn file(&self) -> std::io::Result<Arc<File>> {
        self.files.get(self.key, &self.log_path, false)
    }

    /// Where to start reading to find `target`: the last index entry at or before it that lies
    /// within the committed bytes (its position and offset), else the start of the segment.
    pub fn position_for(&self, target: Offset) -> (u64, Offset) {
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
            .map_or((0, self.base), |e| (e.position, e.offset))
    }

    /// Reads the bytes at `[position, end)` (a reader passes the committed length as `end`),
    /// at most `READ_CHUNK_BYTES` unless the frame starting at `position` is larger.
    pub fn read_chunk(&self, position: u64, end: u64) -> Result<Bytes> {
        read_chunk(&*self.file()?, position, end)
    }

    /// Closes the cached descriptor (the segment's topic was deleted).
    pub fn close_file(&self) {
        self.files.forget(self.key);
    }

    /// Writes the sealed segment's index file (`index` entries, fsynced if `durable`).
    pub fn write_index(&self, durable: bool) -> std::io::Result<()> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        write_index_file(&self.index_path, self.base, &index, durable)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.files.forget(self.key);
    }
}

/// Writes an index file holding `entries` (replacing any), fsynced if `durable`.
pub(crate) fn write_index_file(
    path: &Path,
    base: Offset,
    entries: &[IndexEntry],
    durable: bool,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(entries.len() * INDEX_ENTRY_BYTES);
    encode_index(base, entries, &mut buf);
    let file = File::create(path)?;
    file.write_all_at(&buf, 0)?;
    if durable {
        file.sync_data()?;
    }
    Ok(())
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

/// Records that failed their checks where the log had made them durable: offsets
/// `[start, end)`, bytes `[from_byte, to_byte)` of the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DamagedRange {
    pub start: Offset,
    pub end: Offset,
    pub from_byte: u64,
    pub to_byte: u64,
    pub reason: String,
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
    /// scan's start position, as the writer counts from the segment's start, and one where
    /// records resume after damage).
    pub index: Vec<IndexEntry>,
    /// Damage skipped (only before `trusted_until`, see [`scan`]).
    pub damage: Vec<DamagedRange>,
}

/// Decodes the records of `file` from `position` (which holds `expected`) to `file_len`,
/// checking each record's offset is the next one.
///
/// Bytes before `trusted_until` were fsynced, so a bad frame there is corruption, not a
/// torn write: the scan skips it, resuming at the next valid record that starts at or
/// before `trusted_until` (see [`resync`]), and reports the skipped range. A bad frame at or
/// after `trusted_until`, or damage it cannot skip, ends the scan (`stop` says how).
pub(crate) fn scan(
    file: &File,
    file_len: u64,
    position: u64,
    expected: Offset,
    trusted_until: u64,
) -> Result<Scan> {
    let mut scan = Scan {
        valid_bytes: position,
        next_offset: expected,
        stop: ScanStop::Clean,
        index: Vec::new(),
        damage: Vec::new(),
    };
    let mut since_index = 0u64;
    'chunks: while scan.valid_bytes < file_len {
        let chunk = read_chunk(file, scan.valid_bytes, file_len)?;
        let mut at = 0usize;
        loop {
            if scan.valid_bytes == file_len {
                break;
            }
            let bad = match record::decode(&chunk.slice(at..)) {
                Decoded::Record {
                    offset,
                    frame_bytes,
                    ..
                } => {
                    if offset != scan.next_offset {
                        format!(
                            "record at byte {} has offset {}, expected {}",
                            scan.valid_bytes, offset.0, scan.next_offset.0
                        )
                    } else {
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
                        continue;
                    }
                }
                Decoded::NeedMore => {
                    let chunk_reaches_eof =
                        scan.valid_bytes - (at as u64) + chunk.len() as u64 >= file_len;
                    if at > 0 && !chunk_reaches_eof {
                        continue 'chunks; // read the next chunk from the partial frame
                    }
                    if chunk_reaches_eof && scan.valid_bytes >= trusted_until {
                        scan.stop = ScanStop::Torn;
                        return Ok(scan);
                    }
                    if chunk_reaches_eof {
                        "the file ends inside a record".to_owned()
                    } else {
                        // The length field itself is garbage (beyond RECORD_BYTES_MAX was
                        // rejected by decode), so a chunk always holds a whole frame.
                        "frame larger than a read".to_owned()
                    }
                }
                Decoded::Corrupt(reason) => reason,
            };
            if scan.valid_bytes >= trusted_until {
                scan.stop = ScanStop::Corrupt(bad);
                return Ok(scan);
            }
            let limit = trusted_until.min(file_len.saturating_sub(1));
            let floor = Offset(scan.next_offset.0 + 1);
            match resync(file, file_len, scan.valid_bytes, limit, floor)? {
                Some((position, offset)) => {
                    scan.damage.push(DamagedRange {
                        start: scan.next_offset,
                        end: offset,
                        from_byte: scan.valid_bytes,
                        to_byte: position,
                        reason: bad,
                    });
                    scan.index.push(IndexEntry { offset, position });
                    since_index = 0;
                    scan.valid_bytes = position;
                    scan.next_offset = offset;
                    continue 'chunks;
                }
                None => {
                    scan.stop = ScanStop::Corrupt(bad);
                    return Ok(scan);
                }
            }
        }
    }
    Ok(scan)
}

/// Smallest frame: header and a body with null key, null value and no headers.
const FRAME_BYTES_MIN: u64 = (FRAME_HEADER_BYTES + record::BODY_BYTES_MIN) as u64;

/// Where whole records resume after damage at byte `from`: the first position in
/// `(from, limit]` holding a valid record (length, CRC, body) whose offset is at least
/// `floor` and no more than the records that fit in between allow. Returns its position and
/// offset, or `None`.
///
/// First tries the damaged frame's own length (a flipped byte in a body leaves it intact, so
/// exactly one record is lost), then every byte position. Each candidate must pass a cheap
/// test (a plausible length and an offset in range) before its CRC is computed, so the
/// search reads the bytes once. A client's value could hold bytes that look like a frame,
/// which is why the damaged frame's own length is tried first and offsets must fit.
pub(crate) fn resync(
    file: &File,
    file_len: u64,
    from: u64,
    limit: u64,
    floor: Offset,
) -> Result<Option<(u64, Offset)>> {
    let limit = limit.min(file_len.saturating_sub(FRAME_BYTES_MIN));
    if limit <= from {
        return Ok(None);
    }
    let offset_max = floor.0 + (limit - from) / FRAME_BYTES_MIN;
    let fits = |offset: Offset| offset >= floor && offset.0 <= offset_max;
    let mut len = [0u8; 4];
    file.read_exact_at(&mut len, from)?;
    if let Some(frame) = record::frame_len(&len) {
        let next = from + frame as u64;
        if next > from && next <= limit {
            if let Some((offset, _)) = record_at(file, file_len, next)? {
                if fits(offset) {
                    return Ok(Some((next, offset)));
                }
            }
        }
    }
    const HEADER: usize = FRAME_HEADER_BYTES + 8; // length, crc, offset
    let mut start = from + 1;
    while start <= limit {
        let want = (READ_CHUNK_BYTES as u64).min(limit - start + HEADER as u64) as usize;
        let want = want.min((file_len - start) as usize);
        let mut chunk = vec![0u8; want];
        file.read_exact_at(&mut chunk, start)?;
        let positions = (limit - start + 1).min(want.saturating_sub(HEADER - 1) as u64);
        if positions == 0 {
            break;
        }
        for i in 0..positions as usize {
            let h = &chunk[i..i + HEADER];
            let length = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as u64;
            let position = start + i as u64;
            if length + 4 < FRAME_BYTES_MIN || position + length + 4 > file_len {
                continue;
            }
            let offset = Offset(u64::from_le_bytes(h[8..16].try_into().expect("8 bytes")));
            if !fits(offset) {
                continue;
            }
            if let Some((decoded, _)) = record_at(file, file_len, position)? {
                if decoded == offset {
                    return Ok(Some((position, offset)));
                }
            }
        }
        start += positions;
    }
    Ok(None)
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
        let files = Arc::new(FileCache::new(4));
        let seg = Segment::open(dir.path(), base, 9000, entries, files);
        assert_eq!(seg.position_for(Offset(120)), (0, base));
        assert_eq!(seg.position_for(Offset(150)), (4100, Offset(150)));
        assert_eq!(seg.position_for(Offset(189)), (4100, Offset(150)));
        assert_eq!(seg.position_for(Offset(500)), (8300, Offset(190)));
        // An entry past the committed bytes is not used.
        seg.committed_bytes.store(8000, Ordering::Release);
        assert_eq!(seg.position_for(Offset(500)), (4100, Offset(150)));
    }

    #[test]
    fn lists_segments_in_offset_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = Arc::new(FileCache::new(2));
        let segments: Vec<Segment> = [20u64, 0, 7]
            .into_iter()
            .map(|base| Segment::create(dir.path(), Offset(base), files.clone()).unwrap())
            .collect();
        assert_eq!(
            files.open_count(),
            2,
            "created files count against the budget"
        );
        drop(segments);
        assert_eq!(files.open_count(), 0, "a dropped segment closes its file");
        assert_eq!(
            list_segments(dir.path()).unwrap(),
            vec![Offset(0), Offset(7), Offset(20)]
        );
        assert!(dir.path().join("00000000000000000007.log").exists());
    }

    fn frames(offsets: std::ops::Range<u64>) -> (Vec<u8>, Vec<u64>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for i in offsets {
            starts.push(buf.len() as u64);
            let record = Record {
                key: None,
                value: Some(Bytes::from(format!(
                    "value number {i} {}",
                    "x".repeat(i as usize % 50)
                ))),
                timestamp_ms: i as i64,
                headers: Vec::new(),
            };
            record::encode(Offset(i), &record, &mut buf);
        }
        (buf, starts)
    }

    #[test]
    fn scan_skips_damage_before_the_trusted_point_and_stops_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let (mut bytes, starts) = frames(0..200);
        let len = bytes.len() as u64;
        // A flipped byte inside record 50's body: exactly record 50 is lost.
        bytes[starts[50] as usize + 20] ^= 0x01;
        // A garbage length field on record 120: records resume at the next frame found.
        bytes[starts[120] as usize..starts[120] as usize + 4].copy_from_slice(&[0xff; 4]);
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let scan = scan(&file, len, 0, Offset(0), len).unwrap();
        assert_eq!(scan.stop, ScanStop::Clean);
        assert_eq!(scan.next_offset, Offset(200));
        assert_eq!(scan.valid_bytes, len);
        let ranges: Vec<(u64, u64)> = scan.damage.iter().map(|d| (d.start.0, d.end.0)).collect();
        assert_eq!(ranges, vec![(50, 51), (120, 121)]);
        assert_eq!(scan.damage[0].from_byte, starts[50]);
        assert_eq!(scan.damage[0].to_byte, starts[51]);
        // Indexed where records resume, so seeks past the damage never cross it.
        assert!(scan.index.contains(&IndexEntry {
            offset: Offset(121),
            position: starts[121]
        }));

        // The same damage after the trusted point ends the scan there (a torn tail).
        let scan = super::scan(&file, len, 0, Offset(0), starts[40]).unwrap();
        assert!(matches!(scan.stop, ScanStop::Corrupt(_)), "{:?}", scan.stop);
        assert_eq!(scan.next_offset, Offset(50));
        assert_eq!(scan.valid_bytes, starts[50]);
        assert!(scan.damage.is_empty());
    }

    #[test]
    fn resync_finds_nothing_in_garbage_and_respects_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let (mut bytes, starts) = frames(0..20);
        for b in &mut bytes[starts[5] as usize..starts[9] as usize] {
            *b = 0xa5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let len = bytes.len() as u64;
        assert_eq!(
            resync(&file, len, starts[5], len, Offset(6)).unwrap(),
            Some((starts[9], Offset(9)))
        );
        assert_eq!(
            resync(&file, len, starts[5], starts[9] - 1, Offset(6)).unwrap(),
            None
        );
        // Offsets below the floor are not a place to resume.
        assert_eq!(
            resync(&file, len, starts[5], len, Offset(12)).unwrap(),
            Some((starts[12], Offset(12)))
        );
    }
}
