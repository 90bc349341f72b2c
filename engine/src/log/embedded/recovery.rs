//! Rebuilding a partition's state when the log opens.
//!
//! - Sealed segments (all but the last) were fsynced, index included, before the next segment
//!   was created, so they are trusted after a cheap check: the first record's offset is the
//!   base, the index is sane, and the records after the last index entry are whole and end
//!   exactly at the next segment's base. An index that fails the check is rebuilt. Anything
//!   else wrong there is `Corrupt` (a hole in the middle of the log cannot be repaired).
//! - The last segment is scanned whole: the file is cut after the last valid record whose
//!   offset is the next one (a torn write, a bad CRC, or garbage all end it) and its index is
//!   rebuilt. This is where a crash mid-batch lands; those records were never acked (their
//!   fsync had not returned), so cutting them loses nothing that was promised.
//!
//! A cost to know: the last segment is scanned on every open (Kafka skips this after a clean
//! shutdown); with `SEGMENT_BYTES_MAX` at 1 GiB that is one sequential read of ≤ 1 GiB.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::segment::{self, IndexEntry, Scan, ScanStop, Segment};
use crate::error::{EngineError, Result};
use crate::log::Offset;

/// A partition's state after recovery.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// At least one; the last is the active segment.
    pub segments: Vec<Arc<Segment>>,
    /// The next offset to write.
    pub end: Offset,
    /// Record bytes in the active segment since its last index entry (or its start), so the
    /// writer continues the index at the same spacing.
    pub active_bytes_since_index: u64,
}

/// Recovers the partition stored in `dir` (creating its first segment if it has none).
/// `durable` says whether to fsync repairs (false only under `FsyncPolicy::Never`).
pub(crate) fn recover_partition(dir: &Path, durable: bool) -> Result<Recovered> {
    let bases = segment::list_segments(dir)?;
    let Some((&last_base, sealed)) = bases.split_last() else {
        let seg = Segment::create(dir, Offset(0))?;
        if durable {
            sync_dir(dir)?;
        }
        return Ok(Recovered {
            segments: vec![Arc::new(seg)],
            end: Offset(0),
            active_bytes_since_index: 0,
        });
    };

    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in sealed.iter().enumerate() {
        let next_base = bases[i + 1];
        segments.push(Arc::new(recover_sealed(dir, base, next_base)?));
    }
    let (active, end, since_index) = recover_active(dir, last_base, durable)?;
    segments.push(Arc::new(active));
    Ok(Recovered {
        segments,
        end,
        active_bytes_since_index: since_index,
    })
}

fn recover_sealed(dir: &Path, base: Offset, next_base: Offset) -> Result<Segment> {
    let (log_path, index_path) = segment::paths(dir, base);
    let file = File::open(&log_path)?;
    let len = file.metadata()?.len();
    let corrupt = |what: String| EngineError::corrupt(format!("{}: {what}", log_path.display()));

    if len > 0 {
        match segment::record_at(&file, len, 0)? {
            Some((offset, _)) if offset == base => {}
            _ => return Err(corrupt(format!("first record is not offset {}", base.0))),
        }
    }
    let index = segment::read_index(&index_path, base)?
        .filter(|index| index_is_sane(&file, len, base, next_base, index));
    let (index, scan) = match index {
        Some(index) => {
            let (position, offset) = index.last().map_or((0, base), |e| (e.position, e.offset));
            (index, segment::scan(&file, len, position, offset)?)
        }
        None => {
            tracing::warn!(segment = %log_path.display(), "rebuilding a stale segment index");
            let scan = segment::scan(&file, len, 0, base)?;
            write_index(&index_path, base, &scan.index, true)?;
            (scan.index.clone(), scan)
        }
    };
    if scan.stop != ScanStop::Clean || scan.next_offset != next_base {
        return Err(corrupt(format!(
            "sealed segment ends at offset {} ({:?}) but the next segment starts at {}",
            scan.next_offset.0, scan.stop, next_base.0
        )));
    }
    drop(file);
    Segment::open(dir, base, len, index)
}

/// Entries strictly increasing, inside the segment, and the last one pointing at its record.
fn index_is_sane(file: &File, len: u64, base: Offset, end: Offset, index: &[IndexEntry]) -> bool {
    let ordered = index
        .windows(2)
        .all(|w| w[0].offset < w[1].offset && w[0].position < w[1].position);
    let in_range = index
        .iter()
        .all(|e| e.offset > base && e.offset < end && e.position > 0 && e.position < len);
    let last_matches = match index.last() {
        None => true,
        Some(e) => {
            matches!(segment::record_at(file, len, e.position), Ok(Some((o, _))) if o == e.offset)
        }
    };
    ordered && in_range && last_matches
}

fn recover_active(dir: &Path, base: Offset, durable: bool) -> Result<(Segment, Offset, u64)> {
    let (log_path, index_path) = segment::paths(dir, base);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&log_path)?;
    let len = file.metadata()?.len();
    let scan: Scan = segment::scan(&file, len, 0, base)?;
    if scan.stop != ScanStop::Clean {
        tracing::warn!(
            segment = %log_path.display(),
            valid_bytes = scan.valid_bytes,
            dropped_bytes = len - scan.valid_bytes,
            reason = ?scan.stop,
            "truncating the unfinished tail of the last segment"
        );
        file.set_len(scan.valid_bytes)?;
        if durable {
            file.sync_all()?;
        }
    }
    write_index(&index_path, base, &scan.index, false)?;
    let since_index = scan.valid_bytes - scan.index.last().map_or(0, |e| e.position);
    drop(file);
    let seg = Segment::open(dir, base, scan.valid_bytes, scan.index)?;
    Ok((seg, scan.next_offset, since_index))
}

fn write_index(path: &Path, base: Offset, entries: &[IndexEntry], durable: bool) -> Result<()> {
    let mut buf = Vec::with_capacity(entries.len() * 8);
    segment::encode_index(base, entries, &mut buf);
    let file = File::create(path)?;
    file.write_all_at(&buf, 0)?;
    if durable {
        file.sync_data()?;
    }
    Ok(())
}

/// Makes a directory's entries (created, renamed or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}
