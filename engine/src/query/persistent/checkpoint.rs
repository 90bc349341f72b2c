//! A persistent query's own journal: where it has read to, and what it was about to write.
//!
//! ```text
//!  intent  = 'I' n:u32 (from:u64 to:u64)*n  m:u32 (sink_end:u64)*m
//!  commit  = 'C' n:u32 (next:u64)*n
//! ```
//!
//! One batch is: intent (the source ranges it covers and every sink partition's end offset
//! before it) → append its output records → await durability → commit (the source positions
//! after it). The intent names the batch's *exact* source ranges, not just where it starts,
//! so a re-run after a crash processes the same records in the same order and therefore
//! produces the same outputs per sink partition; the sink end offsets then say how many of
//! them already landed (`Recovery` in `runner`).

use std::path::{Path, PathBuf};

use crate::data_dir;
use crate::error::{EngineError, Result};
use crate::log::Journal;

/// Compact the journal (rewrite it as one commit) once it grows past this many bytes.
///
/// A batch writes two small entries; 1 MiB is a few thousand batches, so compaction is rare
/// and the journal read at start stays tiny.
pub const QUERY_JOURNAL_BYTES_MAX: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A batch about to be appended.
    Intent {
        /// Per source partition, `[from, to)` offsets the batch covers.
        source: Vec<(u64, u64)>,
        /// Per sink partition, the end offset before the batch.
        sink_end: Vec<u64>,
    },
    /// Everything before these source positions is in the sink.
    Commit { source: Vec<u64> },
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Entry::Intent { source, sink_end } => {
                out.push(b'I');
                put_len(&mut out, source.len());
                for (from, to) in source {
                    out.extend_from_slice(&from.to_le_bytes());
                    out.extend_from_slice(&to.to_le_bytes());
                }
                put_len(&mut out, sink_end.len());
                for end in sink_end {
                    out.extend_from_slice(&end.to_le_bytes());
                }
            }
            Entry::Commit { source } => {
                out.push(b'C');
                put_len(&mut out, source.len());
                for next in source {
                    out.extend_from_slice(&next.to_le_bytes());
                }
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        let mut r = Reader { bytes, at: 1 };
        let entry = match bytes.first() {
            Some(b'I') => {
                let n = r.len()?;
                let mut source = Vec::with_capacity(n);
                for _ in 0..n {
                    source.push((r.u64()?, r.u64()?));
                }
                let m = r.len()?;
                let mut sink_end = Vec::with_capacity(m);
                for _ in 0..m {
                    sink_end.push(r.u64()?);
                }
                Entry::Intent { source, sink_end }
            }
            Some(b'C') => {
                let n = r.len()?;
                let mut source = Vec::with_capacity(n);
                for _ in 0..n {
                    source.push(r.u64()?);
                }
                Entry::Commit { source }
            }
            _ => return Err(corrupt()),
        };
        if r.at != bytes.len() {
            return Err(corrupt());
        }
        Ok(entry)
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("partition counts are bounded by TOPIC_PARTITIONS_MAX");
    out.extend_from_slice(&n.to_le_bytes());
}

fn corrupt() -> EngineError {
    EngineError::corrupt("malformed persistent query journal entry")
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.bytes.get(self.at..self.at + N).ok_or_else(corrupt)?;
        self.at += N;
        Ok(slice.try_into().expect("slice has N bytes"))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    fn len(&mut self) -> Result<usize> {
        let n = u32::from_le_bytes(self.take()?) as usize;
        if n > crate::log::TOPIC_PARTITIONS_MAX as usize {
            return Err(corrupt());
        }
        Ok(n)
    }
}

/// Where a query stood when its journal was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// A brand-new journal: the query has never run.
    Fresh,
    /// The last batch committed; continue from these positions.
    Committed(Vec<u64>),
    /// The last batch's intent has no commit: re-run it (see `runner`).
    Unfinished {
        source: Vec<(u64, u64)>,
        sink_end: Vec<u64>,
    },
}

/// Where persistent queries keep their checkpoints: per query, the intent and commit
/// entries of the exactly-once protocol in `runner`.
///
/// Contract: `Checkpoint::append` returns once the entry is durable; `open` then reports
/// the last entry appended as the query's [`Resume`]. The embedded backend keeps one
/// journal file per query ([`JournalCheckpoints`]). The protocol's recovery relies on the
/// sink log keeping a record-exact prefix of an unfinished append (the embedded log's
/// guarantee); a Kafka backend, whose log has transactions, commits a batch's sink records
/// and input positions in one transaction instead.
pub trait CheckpointStore: Send + Sync {
    /// Opens query `id`'s checkpoint, creating an empty one if there is none.
    fn open(&self, query_id: &str) -> Result<(Box<dyn Checkpoint>, Resume)>;
    /// Opens query `id`'s checkpoint afresh, discarding one a query whose CREATE never
    /// reached the command log may have left under the same id.
    fn create(&self, query_id: &str) -> Result<Box<dyn Checkpoint>>;
    /// Removes a terminated query's checkpoint.
    fn remove(&self, query_id: &str);
}

/// One query's checkpoint.
pub trait Checkpoint: Send {
    /// Appends one entry durably.
    fn append(&mut self, entry: &Entry) -> Result<()>;
    /// The positions of the query's first commit, where its state starts, when the store
    /// keeps them: a node taking a query over from another rebuilds its state from there.
    /// `None`: the state store was created with the journal (`create_journal`), here.
    fn origin(&self) -> Option<Vec<u64>> {
        None
    }
}

/// The embedded checkpoint store: `<data dir>/queries/<escaped query id>.journal`.
#[derive(Debug)]
pub struct JournalCheckpoints {
    data_dir: PathBuf,
}

impl JournalCheckpoints {
    pub fn new(data_dir: &Path) -> JournalCheckpoints {
        JournalCheckpoints {
            data_dir: data_dir.to_path_buf(),
        }
    }
}

impl CheckpointStore for JournalCheckpoints {
    fn open(&self, query_id: &str) -> Result<(Box<dyn Checkpoint>, Resume)> {
        let (journal, resume) = QueryJournal::open(&QueryJournal::path(&self.data_dir, query_id))?;
        Ok((Box::new(journal), resume))
    }

    fn create(&self, query_id: &str) -> Result<Box<dyn Checkpoint>> {
        let path = QueryJournal::path(&self.data_dir, query_id);
        let _ = std::fs::remove_file(&path);
        let (journal, _) = QueryJournal::open(&path)?;
        Ok(Box::new(journal))
    }

    fn remove(&self, query_id: &str) {
        let _ = std::fs::remove_file(QueryJournal::path(&self.data_dir, query_id));
    }
}

/// A query's journal file with compaction.
pub struct QueryJournal {
    journal: Option<Journal>,
}

impl QueryJournal {
    /// The journal file of query `id` under `data_dir`. Query ids embed client-chosen sink
    /// names, so the file is named through [`data_dir::file_name_for`]: always directly
    /// inside `<data_dir>/queries`, whatever the id.
    pub fn path(data_dir: &Path, id: &str) -> PathBuf {
        let dir = data_dir.join(data_dir::QUERIES_DIR);
        let path = data_dir::child_path(&dir, id, JOURNAL_EXTENSION);
        migrate_legacy_name(&dir, id, &path);
        path
    }

    pub fn open(path: &Path) -> Result<(QueryJournal, Resume)> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let (journal, entries) = Journal::open(path)?;
        let mut resume = Resume::Fresh;
        for raw in &entries {
            resume = match Entry::decode(raw)? {
                Entry::Commit { source } => Resume::Committed(source),
                Entry::Intent { source, sink_end } => Resume::Unfinished { source, sink_end },
            };
        }
        Ok((
            QueryJournal {
                journal: Some(journal),
            },
            resume,
        ))
    }

}

impl Checkpoint for QueryJournal {
    /// Appends (and fsyncs) one entry; a commit past the size bound compacts the journal to
    /// just that commit.
    fn append(&mut self, entry: &Entry) -> Result<()> {
        let journal = self.journal.as_mut().ok_or_else(closed)?;
        let bytes = entry.encode();
        if matches!(entry, Entry::Commit { .. }) && journal.len_bytes() > QUERY_JOURNAL_BYTES_MAX {
            let old = self.journal.take().ok_or_else(closed)?;
            self.journal = Some(old.rewrite(&[&bytes])?);
            return Ok(());
        }
        journal.append(&bytes)
    }
}

/// Extension of a query journal's file name.
const JOURNAL_EXTENSION: &str = "journal";

/// Before query journals were named through `file_name_for`, one was `<id>.journal`. A
/// query whose id is not spelled the same escaped (a quoted sink name with a space, say)
/// would otherwise lose its journal on upgrade and re-run from the start, so such a file is
/// renamed once. Only a legacy name that is one plain file name is considered: an id like
/// `../x` never had a journal inside the directory.
fn migrate_legacy_name(dir: &Path, id: &str, path: &Path) {
    let legacy = format!("{id}.{JOURNAL_EXTENSION}");
    if !data_dir::is_plain_file_name(&legacy) || path.exists() {
        return;
    }
    let legacy = dir.join(legacy);
    if legacy != path && legacy.is_file() {
        if let Err(e) = std::fs::rename(&legacy, path) {
            tracing::warn!(query = %id, error = %e, "could not rename a legacy query journal");
        }
    }
}

fn closed() -> EngineError {
    EngineError::internal("persistent query journal was lost during compaction")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for e in [
            Entry::Intent {
                source: vec![(0, 5), (7, 7)],
                sink_end: vec![1, 2, 3],
            },
            Entry::Commit { source: vec![5, 7] },
            Entry::Commit { source: vec![] },
        ] {
            assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        }
        assert!(Entry::decode(b"X").is_err());
        assert!(Entry::decode(b"C\x01\0\0\0").is_err());
    }

    #[test]
    fn resume_reflects_last_entry_and_compaction_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = QueryJournal::path(dir.path(), "CSAS_X_1");
        let (mut j, resume) = QueryJournal::open(&path).unwrap();
        assert_eq!(resume, Resume::Fresh);
        j.append(&Entry::Commit { source: vec![0] }).unwrap();
        j.append(&Entry::Intent {
            source: vec![(0, 3)],
            sink_end: vec![9],
        })
        .unwrap();
        drop(j);
        let (mut j, resume) = QueryJournal::open(&path).unwrap();
        assert_eq!(
            resume,
            Resume::Unfinished {
                source: vec![(0, 3)],
                sink_end: vec![9]
            }
        );
        // Grow past the bound, then a commit compacts to one entry.
        let big = Entry::Commit {
            source: vec![1; 200],
        };
        while j.journal.as_ref().unwrap().len_bytes() <= QUERY_JOURNAL_BYTES_MAX {
            j.append(&big).unwrap();
        }
        j.append(&Entry::Commit { source: vec![42] }).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 100);
        drop(j);
        assert_eq!(
            QueryJournal::open(&path).unwrap().1,
            Resume::Committed(vec![42])
        );
    }
}
