//! A partition's recovery point: the last position its writer knows is durable, kept in a
//! small file so recovery can tell a torn tail from corruption.
//!
//! A crash can only tear what was written after the last fsync. Everything before the
//! recovery point was fsynced, so damage there is corruption (a bad disk, a stray write), not
//! a torn tail: recovery keeps the records after it and never hands its offsets out again,
//! instead of cutting the log there (issue 9, finding 8: one flipped byte 50 MB into a
//! segment used to drop the 804,202 acked records after it). Kafka keeps the same thing per
//! log directory (`recovery-point-offset-checkpoint`) and recovers only what lies after it.
//!
//! ```text
//!  <partition>/recovery-point = slot slot       two slots, written alternately
//!  slot = magic:u32 seq:u64 offset:u64 base:u64 position:u64 crc:u32   (40 bytes, LE)
//! ```
//!
//! `offset` is the offset of the first record at or after the point, which starts at byte
//! `position` of the segment whose first offset is `base`. A torn slot write fails its CRC and
//! the other slot (one write older) is used. After an fsync of data the writer notes the new
//! point and writes it (a `pwrite`, no fsync) at most every
//! [`RECOVERY_POINT_WRITE_INTERVAL_MS`]; it fsyncs the file at most every
//! [`RECOVERY_POINT_SYNC_INTERVAL_MS`], and writes and fsyncs it at a roll and on close. The
//! point may lag (by an interval after a process crash, a little more after a machine crash),
//! which is safe: it only ever claims data that was already fsynced, so a stale point makes
//! recovery treat more as a possible torn tail, never less. Writing it on every batch cost
//! throughput (it dirties a second inode for every journal commit of a batch's fdatasync).

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::files::{FileCache, FileKey};
use crate::log::Offset;

/// The file's name in the partition directory.
pub(crate) const FILE_NAME: &str = "recovery-point";

/// Most time between fsyncs of a recovery-point file that changed, in milliseconds.
///
/// Bounds how stale the point can be after a machine crash (a process crash loses nothing:
/// the page cache keeps the last write). One fsync a second per written partition is noise
/// next to the fsync per batch of `FsyncPolicy::Always`.
pub const RECOVERY_POINT_SYNC_INTERVAL_MS: u64 = 1000;

/// Most time between writes of a changed recovery point, in milliseconds.
///
/// What a process crash can leave on the wrong side of the point: damage in the last 100 ms
/// of acked records is treated as a torn tail. Kafka checkpoints its recovery point once a
/// minute (`log.flush.offset.checkpoint.interval.ms`).
pub const RECOVERY_POINT_WRITE_INTERVAL_MS: u64 = 100;

const SLOT_BYTES: usize = 40;
const MAGIC: u32 = 0x534c_5250; // "SLRP"

/// A position known durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecoveryPoint {
    /// The first offset at or after the point.
    pub offset: Offset,
    /// Base offset of the segment the point is in.
    pub base: Offset,
    /// Byte position of the point in that segment.
    pub position: u64,
}

fn encode(seq: u64, point: RecoveryPoint) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    slot[4..12].copy_from_slice(&seq.to_le_bytes());
    slot[12..20].copy_from_slice(&point.offset.0.to_le_bytes());
    slot[20..28].copy_from_slice(&point.base.0.to_le_bytes());
    slot[28..36].copy_from_slice(&point.position.to_le_bytes());
    let crc = crc32fast::hash(&slot[..36]);
    slot[36..40].copy_from_slice(&crc.to_le_bytes());
    slot
}

fn decode(slot: &[u8]) -> Option<(u64, RecoveryPoint)> {
    let u64_at = |at: usize| u64::from_le_bytes(slot[at..at + 8].try_into().expect("8 bytes"));
    if slot.len() != SLOT_BYTES
        || u32::from_le_bytes(slot[0..4].try_into().expect("4 bytes")) != MAGIC
        || u32::from_le_bytes(slot[36..40].try_into().expect("4 bytes"))
            != crc32fast::hash(&slot[..36])
    {
        return None;
    }
    let point = RecoveryPoint {
        offset: Offset(u64_at(12)),
        base: Offset(u64_at(20)),
        position: u64_at(28),
    };
    Some((u64_at(4), point))
}

/// The newest valid point in `dir` and its sequence number; `None` if there is none (a
/// partition never fsynced, a log written with `FsyncPolicy::Never`, or both slots damaged).
pub(crate) fn read(dir: &Path) -> std::io::Result<Option<(u64, RecoveryPoint)>> {
    let bytes = match std::fs::read(dir.join(FILE_NAME)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let newest = bytes
        .chunks_exact(SLOT_BYTES)
        .take(2)
        .filter_map(decode)
        .max_by_key(|(seq, _)| *seq);
    if newest.is_none() && !bytes.is_empty() {
        tracing::warn!(dir = %dir.display(), "ignoring a recovery-point file with no valid \
            slot; the whole last segment is recovered as if it could be torn");
    }
    Ok(newest)
}

/// The writer's side: where the point is, and whether the file still needs an fsync.
#[derive(Debug)]
pub(crate) struct CheckpointWriter {
    key: FileKey,
    path: PathBuf,
    files: Arc<FileCache>,
    seq: u64,
    written: Option<RecoveryPoint>,
    /// A newer point than `written`, not yet written.
    pending: Option<RecoveryPoint>,
    last_write: Option<Instant>,
    /// When the first write not yet fsynced happened.
    unsynced_since: Option<Instant>,
}

impl CheckpointWriter {
    pub fn new(dir: &Path, files: Arc<FileCache>, seq: u64) -> CheckpointWriter {
        CheckpointWriter {
            key: FileKey::new(),
            path: dir.join(FILE_NAME),
            files,
            seq,
            written: None,
            pending: None,
            last_write: None,
            unsynced_since: None,
        }
    }

    /// Notes a new durable point; written by `flush`.
    pub fn note(&mut self, point: RecoveryPoint) {
        if self.written != Some(point) {
            self.pending = Some(point);
        }
    }

    /// Writes the noted point if its write is due (or `force`), and fsyncs the file if that
    /// is due (or `force`).
    pub fn flush(&mut self, force: bool) -> std::io::Result<()> {
        let now = Instant::now();
        let write_due = self
            .last_write
            .is_none_or(|at| now >= at + Duration::from_millis(RECOVERY_POINT_WRITE_INTERVAL_MS));
        if let Some(point) = self.pending {
            if force || write_due {
                self.write(point)?;
                self.pending = None;
                self.last_write = Some(now);
            }
        }
        if force || self.sync_due().is_some_and(|at| now >= at) {
            self.sync()?;
        }
        Ok(())
    }

    /// When `flush` next has something to do.
    pub fn due(&self) -> Option<Instant> {
        let write = self.pending.map(|_| {
            self.last_write.map_or_else(Instant::now, |at| {
                at + Duration::from_millis(RECOVERY_POINT_WRITE_INTERVAL_MS)
            })
        });
        write.into_iter().chain(self.sync_due()).min()
    }

    fn file(&self) -> std::io::Result<Arc<File>> {
        self.files.get(self.key, &self.path, true)
    }

    /// Records `point` (already durable) without fsync.
    pub fn write(&mut self, point: RecoveryPoint) -> std::io::Result<()> {
        if self.written == Some(point) {
            return Ok(());
        }
        let seq = self.seq + 1;
        let at = (seq % 2) * SLOT_BYTES as u64;
        self.file()?.write_all_at(&encode(seq, point), at)?;
        self.seq = seq;
        self.written = Some(point);
        self.unsynced_since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Fsyncs the file if a write is not yet durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced_since.is_some() {
            self.file()?.sync_data()?;
            self.unsynced_since = None;
        }
        Ok(())
    }

    /// When the file should next be fsynced, if it has unsynced writes.
    pub fn sync_due(&self) -> Option<Instant> {
        self.unsynced_since
            .map(|since| since + Duration::from_millis(RECOVERY_POINT_SYNC_INTERVAL_MS))
    }

    /// Closes the cached descriptor (the partition is closing or deleted).
    pub fn forget(&self) {
        self.files.forget(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(n: u64) -> RecoveryPoint {
        RecoveryPoint {
            offset: Offset(n),
            base: Offset(n / 10 * 10),
            position: n * 100,
        }
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let files = Arc::new(FileCache::new(4));
        let mut writer = CheckpointWriter::new(dir.path(), files, 0);
        writer.write(point(5)).unwrap();
        writer.write(point(17)).unwrap();
        writer.sync().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some((2, point(17))));
        writer.write(point(23)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some((3, point(23))));
        // Tear the newest slot (seq 3 lives in slot 1): the older one is used.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT_BYTES + 14] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some((2, point(17))));
        // Both damaged: no point at all.
        bytes[14] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
    }
}
