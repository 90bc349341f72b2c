//! Rebuilding a partition's state when the log opens.
//!
//! - Sealed segments (all but the last) were fsynced, index included, before the next segment
//!   was created, so they are trusted after a cheap check: the first record's offset is the
//!   base, the index is sane, and the records after the last index entry are whole and end
//!   exactly at the next segment's base. An index that fails the check is rebuilt by a full
//!   scan. Damage found there is corruption: skipped where the framing allows, reported, and
//!   its offsets never reused (the next segment's base fixes them).
//! - The last segment is scanned whole. Up to the partition's recovery point (`checkpoint`:
//!   the last position known fsynced) damage is corruption and is skipped the same way. After
//!   it, the file is cut after the last valid record whose offset is the next one (a torn
//!   write, a bad CRC, or garbage all end it): this is where a crash mid-batch lands, and
//!   those records were never acked (their fsync had not returned), so cutting them loses
//!   nothing that was promised.
//! - If damage before the recovery point cannot be skipped, or the file ends before it (data
//!   that was fsynced is gone), the segment is cut at the last valid record and the partition
//!   continues at the recovery point's offset in a new segment: the lost offsets stay
//!   unreadable and are never handed out again.
//!
//! Damage is logged at ERROR and kept for [`LogStore::health`](crate::log::LogStore::health).
//!
//! A cost to know: the last segment is scanned on every open (Kafka skips this after a clean
//! shutdown); with `SEGMENT_BYTES_MAX` at 1 GiB that is one sequential read of ≤ 1 GiB.
//! Nothing stays open after recovery: segment files are opened on demand (`files`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::checkpoint::{self, RecoveryPoint};
use super::files::FileCache;
use super::segment::{self, DamagedRange, IndexEntry, Scan, ScanStop, Segment};
use crate::error::{EngineError, Result};
use crate::log::Offset;

/// A file the writer leaves while it checks that the disk takes writes again (see `writer`).
pub(crate) const PROBE_FILE: &str = "write-probe";

/// A partition's state after recovery.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// In offset order; the last is where appends continue unless `new_segment` is set.
    /// Empty for a partition never written (its first segment is created by its first write).
    pub segments: Vec<Arc<Segment>>,
    /// The next offset to write.
    pub end: Offset,
    /// Appends must start a new segment at `end` (the last one ends before `end`: offsets
    /// lost to damage).
    pub new_segment: bool,
    /// Record bytes in the last segment since its last index entry (or its start), so the
    /// writer continues the index at the same spacing.
    pub active_bytes_since_index: u64,
    /// Damage found (already logged).
    pub damage: Vec<DamagedRange>,
    /// Sequence number of the recovery point read, so the writer's next one is newer.
    pub checkpoint_seq: u64,
}

/// Recovers the partition stored in `dir`. `durable` says whether to fsync repairs (false
/// only under `FsyncPolicy::Never`). `name` names the partition in logs and errors.
pub(crate) fn recover_partition(
    dir: &Path,
    name: &str,
    durable: bool,
    files: &Arc<FileCache>,
) -> Result<Recovered> {
    // A probe interrupted by a crash leaves its file; it holds nothing.
    match std::fs::remove_file(dir.join(PROBE_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let (checkpoint_seq, point) = match checkpoint::read(dir)? {
        Some((seq, point)) => (seq, Some(point)),
        None => (0, None),
    };
    let bases = segment::list_segments(dir)?;
    let Some((&last_base, sealed)) = bases.split_last() else {
        let end = point.map_or(Offset(0), |p| p.offset);
        let mut damage = Vec::new();
        if end > Offset(0) {
            damage.push(report(
                name,
                DamagedRange {
                    start: Offset(0),
                    end,
                    from_byte: 0,
                    to_byte: 0,
                    reason: "every segment file is missing".to_owned(),
                },
            ));
        }
        return Ok(Recovered {
            segments: Vec::new(),
            end,
            new_segment: true,
            active_bytes_since_index: 0,
            damage,
            checkpoint_seq,
        });
    };

    let mut segments = Vec::with_capacity(bases.len());
    let mut damage = Vec::new();
    for (i, &base) in sealed.iter().enumerate() {
        let (segment, found) = recover_sealed(dir, name, base, bases[i + 1], files)?;
        segments.push(Arc::new(segment));
        damage.extend(found);
    }
    let active = recover_active(dir, name, last_base, point, durable, files)?;
    segments.push(Arc::new(active.segment));
    damage.extend(active.damage);
    Ok(Recovered {
        segments,
        end: active.end,
        new_segment: active.new_segment,
        active_bytes_since_index: active.since_index,
        damage,
        checkpoint_seq,
    })
}

/// Logs damage found at ERROR, loudly: acked records are unreadable.
fn report(name: &str, range: DamagedRange) -> DamagedRange {
    tracing::error!(partition = %name, first_offset = range.start.0, end_offset = range.end.0,
        from_byte = range.from_byte, to_byte = range.to_byte, reason = %range.reason,
        "corrupt log: durable records fail their checks; their offsets are skipped and \
         never reused, the records after them are served");
    range
}

fn recover_sealed(
    dir: &Path,
    name: &str,
    base: Offset,
    next_base: Offset,
    files: &Arc<FileCache>,
) -> Result<(Segment, Vec<DamagedRange>)> {
    let (log_path, index_path) = segment::paths(dir, base);
    let file = File::open(&log_path)?;
    let len = file.metadata()?.len();
    let first_ok = len == 0
        || matches!(segment::record_at(&file, len, 0)?, Some((offset, _)) if offset == base);
    let index = segment::read_index(&index_path, base)?
        .filter(|index| first_ok && index_is_sane(&file, len, base, next_base, index));
    let (index, scan) = match index {
        Some(index) => {
            let (position, offset) = index.last().map_or((0, base), |e| (e.position, e.offset));
            (index, segment::scan(&file, len, position, offset, len)?)
        }
        None => {
            tracing::warn!(segment = %log_path.display(), "rebuilding a stale segment index");
            let scan = segment::scan(&file, len, 0, base, len)?;
            segment::write_index_file(&index_path, base, &scan.index, true)?;
            (scan.index.clone(), scan)
        }
    };
    let mut index = index;
    // The tail scan's entries (every interval, and where records resume after damage).
    let last = index.last().map(|e| e.offset);
    index.extend(
        scan.index
            .iter()
            .filter(|e| last.is_none_or(|l| e.offset > l)),
    );
    let mut damage: Vec<DamagedRange> = scan.damage.clone();
    if scan.next_offset > next_base {
        return Err(EngineError::corrupt(format!(
            "{}: sealed segment holds offsets up to {} but the next segment starts at {}",
            log_path.display(),
            scan.next_offset.0 - 1,
            next_base.0
        )));
    }
    if scan.stop != ScanStop::Clean || scan.next_offset < next_base {
        damage.push(DamagedRange {
            start: scan.next_offset,
            end: next_base,
            from_byte: scan.valid_bytes,
            to_byte: len,
            reason: match &scan.stop {
                ScanStop::Clean => "the segment ends before the next one starts".to_owned(),
                other => describe(other),
            },
        });
    }
    let damage = damage.into_iter().map(|d| report(name, d)).collect();
    drop(file);
    let valid = if scan.stop == ScanStop::Clean {
        len
    } else {
        scan.valid_bytes
    };
    Ok((
        Segment::open(dir, base, valid, index, files.clone()),
        damage,
    ))
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

struct Active {
    segment: Segment,
    end: Offset,
    new_segment: bool,
    since_index: u64,
    damage: Vec<DamagedRange>,
}

fn recover_active(
    dir: &Path,
    name: &str,
    base: Offset,
    point: Option<RecoveryPoint>,
    durable: bool,
    files: &Arc<FileCache>,
) -> Result<Active> {
    let (log_path, _) = segment::paths(dir, base);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&log_path)?;
    let len = file.metadata()?.len();
    // Where this segment is known durable up to, and the offset there. A point in an older
    // segment says nothing about this one; a point in a newer one means segments are missing.
    let (trusted_until, durable_offset) = match point {
        Some(p) if p.base == base => (p.position, p.offset),
        Some(p) if p.base > base => (len, p.offset),
        _ => (0, base),
    };
    let scan: Scan = segment::scan(&file, len, 0, base, trusted_until)?;
    let mut damage = scan.damage.clone();
    let mut valid = scan.valid_bytes;
    if scan.stop != ScanStop::Clean {
        if scan.valid_bytes >= trusted_until {
            tracing::warn!(
                segment = %log_path.display(),
                valid_bytes = scan.valid_bytes,
                dropped_bytes = len - scan.valid_bytes,
                reason = ?scan.stop,
                "truncating the unfinished tail of the last segment (after its recovery point)"
            );
        } else {
            damage.push(DamagedRange {
                start: scan.next_offset,
                end: durable_offset.max(scan.next_offset),
                from_byte: scan.valid_bytes,
                to_byte: len,
                reason: format!(
                    "{}, before the recovery point at byte {trusted_until}",
                    describe(&scan.stop)
                ),
            });
        }
        file.set_len(scan.valid_bytes)?;
        if durable {
            file.sync_all()?;
        }
        valid = scan.valid_bytes;
    } else if scan.next_offset < durable_offset {
        damage.push(DamagedRange {
            start: scan.next_offset,
            end: durable_offset,
            from_byte: scan.valid_bytes,
            to_byte: scan.valid_bytes,
            reason: format!(
                "the segment ends at byte {len}, before its recovery point (offset {}, byte \
                 {trusted_until})",
                durable_offset.0
            ),
        });
    }
    let end = scan.next_offset.max(durable_offset);
    let new_segment = end > scan.next_offset;
    if new_segment {
        // Sealed from now on: its index must exist for the next open.
        segment::write_index_file(&segment::paths(dir, base).1, base, &scan.index, durable)?;
    }
    let since_index = valid - scan.index.last().map_or(0, |e| e.position);
    let damage = damage.into_iter().map(|d| report(name, d)).collect();
    drop(file);
    Ok(Active {
        segment: Segment::open(dir, base, valid, scan.index, files.clone()),
        end,
        new_segment,
        since_index,
        damage,
    })
}

fn describe(stop: &ScanStop) -> String {
    match stop {
        ScanStop::Clean => "no damage".to_owned(),
        ScanStop::Torn => "the file ends inside a record".to_owned(),
        ScanStop::Corrupt(reason) => reason.clone(),
    }
}

/// Makes a directory's entries (created, renamed or removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}
