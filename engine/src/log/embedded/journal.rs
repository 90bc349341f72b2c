//! A small durable append-only journal for the catalog's commands.
//!
//! The catalog appends each CREATE/DROP it accepts and replays the journal on start, as
//! ksqlDB replays its command topic. Every entry is fsynced before `append` returns.
//!
//! ```text
//!  entry = length:u32 crc:u32 payload   (little-endian; crc = CRC-32 of the payload)
//! ```
//!
//! On open, a torn last entry (the file ends inside it, or its CRC fails and nothing follows
//! it) is cut off: its `append` never returned. A bad entry with more data after it cannot be
//! a torn write and is reported as `Corrupt` rather than silently dropping what follows.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};

/// Largest journal entry, in bytes.
///
/// Entries are catalog commands (a statement's text plus a little metadata); 1 MiB is far
/// beyond any real one and keeps a garbage length from asking for a huge buffer.
pub const JOURNAL_ENTRY_BYTES_MAX: usize = 1024 * 1024;

/// Length and CRC in front of each payload.
const ENTRY_HEADER_BYTES: usize = 8;

/// An open journal, positioned at its end.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes of whole entries (the next write position).
    len: u64,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`, returning it with its intact entries
    /// in order.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Vec<u8>>)> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if created {
            file.sync_all()?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)?.sync_all()?;
            }
        }
        let bytes = std::fs::read(path)?;
        let (entries, valid) = parse(&bytes, path)?;
        if valid < bytes.len() {
            tracing::warn!(journal = %path.display(), valid_bytes = valid,
                dropped_bytes = bytes.len() - valid, "truncating a torn journal entry");
            file.set_len(valid as u64)?;
            file.sync_all()?;
        }
        Ok((
            Journal {
                path: path.to_owned(),
                file,
                len: valid as u64,
            },
            entries,
        ))
    }

    /// Appends one entry and fsyncs it before returning.
    pub fn append(&mut self, entry: &[u8]) -> Result<()> {
        if entry.len() > JOURNAL_ENTRY_BYTES_MAX {
            return Err(EngineError::bad_request(format!(
                "journal entry of {} bytes exceeds the limit of {JOURNAL_ENTRY_BYTES_MAX} bytes",
                entry.len()
            )));
        }
        let mut frame = Vec::with_capacity(ENTRY_HEADER_BYTES + entry.len());
        frame.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(entry).to_le_bytes());
        frame.extend_from_slice(entry);
        self.file.write_all_at(&frame, self.len)?;
        self.file.sync_data()?;
        self.len += frame.len() as u64;
        Ok(())
    }

    /// Atomically replaces the journal's contents with `entries` (compaction): writes them to
    /// a temporary file, fsyncs it, renames it over the journal and fsyncs the directory, so
    /// a crash leaves either the old journal or the new one, never a mix.
    pub fn rewrite(self, entries: &[&[u8]]) -> Result<Journal> {
        let tmp = self.path.with_extension("journal.tmp");
        let _ = std::fs::remove_file(&tmp);
        {
            let (mut fresh, _) = Journal::open(&tmp)?;
            for entry in entries {
                fresh.append(entry)?;
            }
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
        let (journal, reread) = Journal::open(&self.path)?;
        debug_assert_eq!(
            reread.len(),
            entries.len(),
            "a rewritten journal holds its entries"
        );
        Ok(journal)
    }

    /// Number of bytes of whole entries.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The intact entries of `bytes` and the length they span.
fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<Vec<u8>>, usize)> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while bytes.len() - at >= ENTRY_HEADER_BYTES {
        let header = &bytes[at..at + ENTRY_HEADER_BYTES];
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let end = at + ENTRY_HEADER_BYTES + len;
        if len > JOURNAL_ENTRY_BYTES_MAX || end > bytes.len() {
            break; // the file ends inside this entry: torn
        }
        let payload = &bytes[at + ENTRY_HEADER_BYTES..end];
        if crc32fast::hash(payload) != crc {
            if end == bytes.len() {
                break; // the last entry, torn
            }
            return Err(EngineError::corrupt(format!(
                "{}: entry at byte {at} fails its checksum and is followed by more entries",
                path.display()
            )));
        }
        entries.push(payload.to_vec());
        at = end;
    }
    Ok((entries, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.journal");
        let (mut journal, entries) = Journal::open(&path).unwrap();
        assert!(entries.is_empty());
        journal.append(b"CREATE STREAM a").unwrap();
        journal.append(b"").unwrap();
        journal.append(b"DROP STREAM a").unwrap();
        drop(journal);
        let (mut journal, entries) = Journal::open(&path).unwrap();
        assert_eq!(
            entries,
            vec![
                b"CREATE STREAM a".to_vec(),
                vec![],
                b"DROP STREAM a".to_vec()
            ]
        );
        journal.append(b"more").unwrap();
        let (_, entries) = Journal::open(&path).unwrap();
        assert_eq!(entries.len(), 4);
    }

    #[test]
    fn rewrite_replaces_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(b"a").unwrap();
        journal.append(b"b").unwrap();
        let mut journal = journal.rewrite(&[b"c"]).unwrap();
        journal.append(b"d").unwrap();
        assert_eq!(
            Journal::open(&path).unwrap().1,
            vec![b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn torn_tail_is_truncated_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(b"first").unwrap();
        let first_len = std::fs::metadata(&path).unwrap().len() as usize;
        journal.append(b"second entry").unwrap();
        drop(journal);
        let full = std::fs::read(&path).unwrap();
        for cut in first_len..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (mut journal, entries) = Journal::open(&path).unwrap();
            assert_eq!(entries, vec![b"first".to_vec()], "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, first_len);
            journal.append(b"after").unwrap();
            let (_, entries) = Journal::open(&path).unwrap();
            assert_eq!(entries, vec![b"first".to_vec(), b"after".to_vec()]);
        }
        // A flipped byte in the last entry's payload: torn, truncated.
        let mut flipped = full.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(Journal::open(&path).unwrap().1, vec![b"first".to_vec()]);
        // The same flip in the first entry, with an entry after it: corrupt, not dropped.
        let mut flipped = full;
        flipped[ENTRY_HEADER_BYTES] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(Journal::open(&path).is_err_and(|e| e.code() == crate::error::ErrorCode::Corrupt));
    }
}
