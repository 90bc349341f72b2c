//! KalamDB consumer groups: per (topic, group, partition) a committed offset, a cursor and
//! the ranges handed out but not yet acked (other-faces.md §C "Topics", semantics).
//!
//! ```text
//!  consume ─► claim: expired claims ─► redeliver queue ─► (redeliver first | cursor onward)
//!                    ─► a new claim [from, to) until now + visibility timeout
//!  ack ─► committed = max(committed, upto) ─► claims and redeliveries up to it dropped
//!      ─► the offsets file rewritten (durable before the ack answers)
//! ```
//!
//! Delivery is at least once: a claim nobody acks within the visibility timeout goes back
//! to the redeliver queue and is handed out again, before any new offset. Concurrent
//! consumers of one group never get overlapping ranges, because every offset is in at most
//! one live claim and new ranges start at the cursor, past every claim ever made.
//!
//! Only the committed offsets are durable; cursors and claims live in memory, so after a
//! restart a group resumes right after its committed offset. The offsets file is one file
//! the server names (`OFFSETS_FILE`); topic and group names are data inside it and never
//! become paths.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sluice_protocol::kalamdb::topic_statement::Start;

/// The file in the data directory that holds the committed offsets (JSON).
pub const OFFSETS_FILE: &str = "kalamdb-topic-offsets.json";

/// How long a consumed range stays claimed before it is handed out again
/// (`topics.visibility_timeout_secs`, default 10 in KalamDB).
pub const VISIBILITY_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// Most (topic, group, partition) entries kept: each is a few hundred bytes in memory and a
/// line of the offsets file, which is rewritten on every ack; 10,000 keeps that file under a
/// megabyte while far exceeding the groups a single node serves.
pub const GROUP_PARTITIONS_MAX: usize = 10_000;

/// Most unacked claims one (topic, group, partition) holds at once: a consumer that never
/// acks is refused new ranges after this many, instead of growing the claim list forever.
/// It bounds the redeliver queue too: every offset between the committed one and the
/// cursor is in exactly one claim or queued range, and adjacent queued ranges are merged,
/// so two queued ranges are always separated by a claim: at most one more than the claims.
pub const CLAIMS_PER_PARTITION_MAX: usize = 1_000;

/// Largest offsets file read at start (a file written under [`GROUP_PARTITIONS_MAX`] is a
/// fraction of this).
pub const OFFSETS_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// How the face's topics behave (a [`ServerOptions`](crate::ServerOptions) field).
#[derive(Debug, Clone)]
pub struct TopicOptions {
    /// How long a consumed range stays claimed before it is redelivered.
    pub visibility_timeout: Duration,
    /// Where committed offsets are kept; `None` keeps them in memory only (tests).
    pub offsets_file: Option<PathBuf>,
}

impl Default for TopicOptions {
    fn default() -> TopicOptions {
        TopicOptions {
            visibility_timeout: Duration::from_millis(VISIBILITY_TIMEOUT_MS_DEFAULT),
            offsets_file: None,
        }
    }
}

/// Which (topic, group, partition) a call is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupPartition {
    pub topic: String,
    pub group: String,
    pub partition: u32,
}

/// The offsets a partition holds now: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub start: u64,
    pub end: u64,
}

/// A range handed to one consumer: offsets `[from, to)`; empty when there is nothing new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub from: u64,
    pub to: u64,
    /// Expired ranges still wait to be redelivered after this one.
    pub more_redeliveries: bool,
}

/// Why a group call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("at most {GROUP_PARTITIONS_MAX} consumer group partitions may be tracked")]
    TooManyGroups,
    #[error("the group holds {CLAIMS_PER_PARTITION_MAX} unacked ranges on this partition; ack or wait for them to expire")]
    TooManyClaims,
    #[error("could not save the committed offsets: {0}")]
    Storage(String),
}

#[derive(Debug, Clone, Copy)]
struct Claim {
    from: u64,
    to: u64,
    expires_ms: i64,
}

#[derive(Debug, Default)]
struct PartitionState {
    /// Highest acked offset (inclusive); durable.
    committed: Option<u64>,
    /// Next never-claimed offset; `None` until the first consume decides it.
    cursor: Option<u64>,
    /// Live claims, in the order handed out.
    claims: Vec<Claim>,
    /// Expired ranges waiting to be handed out again: from → to.
    redeliver: BTreeMap<u64, u64>,
}

impl PartitionState {
    /// Moves expired claims to the redeliver queue and forgets what is acked.
    fn expire(&mut self, now_ms: i64) {
        let (expired, live): (Vec<Claim>, Vec<Claim>) =
            self.claims.iter().partition(|c| c.expires_ms <= now_ms);
        self.claims = live;
        if expired.is_empty() {
            return;
        }
        for c in expired {
            self.redeliver.insert(c.from, c.to);
        }
        // Adjacent ranges become one, so the queue holds at most one more range than there
        // are live claims between them.
        let mut merged: BTreeMap<u64, u64> = BTreeMap::new();
        for (from, to) in std::mem::take(&mut self.redeliver) {
            match merged.last_key_value() {
                Some((&start, &end)) if end == from => {
                    merged.insert(start, to);
                }
                _ => {
                    merged.insert(from, to);
                }
            }
        }
        self.redeliver = merged;
        self.trim();
    }

    /// Drops or shortens claims and redeliveries at or below the committed offset.
    fn trim(&mut self) {
        let Some(committed) = self.committed else {
            return;
        };
        let first_open = committed + 1;
        self.claims.retain(|c| c.to > first_open);
        for c in &mut self.claims {
            c.from = c.from.max(first_open);
        }
        let kept: BTreeMap<u64, u64> = std::mem::take(&mut self.redeliver)
            .into_iter()
            .filter(|&(_, to)| to > first_open)
            .map(|(from, to)| (from.max(first_open), to))
            .collect();
        self.redeliver = kept;
    }
}

/// Every group's state, and where the committed offsets are written.
#[derive(Debug)]
pub struct ConsumerGroups {
    visibility_timeout_ms: i64,
    state: Mutex<HashMap<GroupPartition, PartitionState>>,
    file: Option<PathBuf>,
    /// Held while the file is written, so writes of concurrent acks do not interleave;
    /// each write takes its snapshot under it, so the newest snapshot lands last.
    writing: Mutex<()>,
}

impl Default for ConsumerGroups {
    fn default() -> ConsumerGroups {
        ConsumerGroups::open(&TopicOptions::default()).expect("no file to read")
    }
}

/// One committed offset as the offsets file holds it.
#[derive(Debug, Serialize, Deserialize)]
struct OffsetRecord {
    topic: String,
    group: String,
    partition: u32,
    offset: u64,
}

impl ConsumerGroups {
    /// The groups of `options`, with the committed offsets its file already holds.
    pub fn open(options: &TopicOptions) -> std::io::Result<ConsumerGroups> {
        let mut state = HashMap::new();
        if let Some(file) = &options.offsets_file {
            for r in read_offsets(file)? {
                let key = GroupPartition {
                    topic: r.topic,
                    group: r.group,
                    partition: r.partition,
                };
                let entry: &mut PartitionState = state.entry(key).or_default();
                entry.committed = Some(entry.committed.map_or(r.offset, |c| c.max(r.offset)));
            }
        }
        let timeout_ms = i64::try_from(options.visibility_timeout.as_millis()).unwrap_or(i64::MAX);
        Ok(ConsumerGroups {
            visibility_timeout_ms: timeout_ms,
            state: Mutex::new(state),
            file: options.offsets_file.clone(),
            writing: Mutex::new(()),
        })
    }

    /// Hands the next range of at most `limit` offsets to a consumer of `key`: expired
    /// ranges first, then new offsets from the cursor. A group seen for the first time
    /// starts right after its committed offset, or where `start` says.
    pub fn claim(
        &self,
        key: &GroupPartition,
        start: Start,
        bounds: Bounds,
        limit: u64,
        now_ms: i64,
    ) -> Result<Claimed, GroupError> {
        let mut state = self.lock();
        let tracked = state.len();
        if !state.contains_key(key) && tracked >= GROUP_PARTITIONS_MAX {
            return Err(GroupError::TooManyGroups);
        }
        let p = state.entry(key.clone()).or_default();
        p.expire(now_ms);
        if p.claims.len() >= CLAIMS_PER_PARTITION_MAX {
            return Err(GroupError::TooManyClaims);
        }
        let range = match p.redeliver.pop_first() {
            Some((from, to)) => {
                let from = from.max(bounds.start);
                let cut = to.min(from.saturating_add(limit));
                if cut < to {
                    p.redeliver.insert(cut, to);
                }
                (from, cut.max(from))
            }
            None => {
                let cursor = *p.cursor.get_or_insert(match (p.committed, start) {
                    (Some(c), _) => c + 1,
                    (None, Start::Earliest) => bounds.start,
                    (None, Start::Latest) => bounds.end,
                    (None, Start::Offset(o)) => o,
                });
                let from = cursor.clamp(bounds.start, bounds.end.max(bounds.start));
                let to = bounds.end.min(from.saturating_add(limit)).max(from);
                p.cursor = Some(to.max(cursor));
                (from, to)
            }
        };
        if range.1 > range.0 {
            p.claims.push(Claim {
                from: range.0,
                to: range.1,
                expires_ms: now_ms.saturating_add(self.visibility_timeout_ms),
            });
        }
        debug_assert!(
            claims_disjoint(&p.claims),
            "no offset is in two live claims"
        );
        Ok(Claimed {
            from: range.0,
            to: range.1,
            more_redeliveries: !p.redeliver.is_empty(),
        })
    }

    /// Commits `key` up to `upto` (inclusive) unless it already is further, durably, and
    /// answers the committed offset. A lower ack never moves it back.
    pub fn ack(&self, key: &GroupPartition, upto: u64) -> Result<u64, GroupError> {
        let committed = {
            let mut state = self.lock();
            let tracked = state.len();
            if !state.contains_key(key) && tracked >= GROUP_PARTITIONS_MAX {
                return Err(GroupError::TooManyGroups);
            }
            let p = state.entry(key.clone()).or_default();
            let before = p.committed;
            let committed = before.map_or(upto, |c| c.max(upto));
            p.committed = Some(committed);
            p.trim();
            // An ack beyond what this node handed out (a restart lost the cursor): new
            // offsets start after it.
            if p.cursor.is_some_and(|c| c <= committed) {
                p.cursor = Some(committed + 1);
            }
            if before == Some(committed) {
                return Ok(committed);
            }
            committed
        };
        self.save()?;
        Ok(committed)
    }

    /// The committed offset of `key`, if it has one.
    pub fn committed(&self, key: &GroupPartition) -> Option<u64> {
        self.lock().get(key).and_then(|p| p.committed)
    }

    /// Forgets every group of `topic` (the topic was dropped), durably.
    pub fn forget_topic(&self, topic: &str) -> Result<(), GroupError> {
        let removed = {
            let mut state = self.lock();
            let before = state.len();
            state.retain(|k, _| k.topic != topic);
            before != state.len()
        };
        if removed {
            self.save()?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<GroupPartition, PartitionState>> {
        self.state
            .lock()
            .expect("consumer group state lock is never poisoned")
    }

    /// Writes every committed offset to the offsets file (nothing without one).
    fn save(&self) -> Result<(), GroupError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _writing = self
            .writing
            .lock()
            .expect("offsets file lock is never poisoned");
        let mut records: Vec<OffsetRecord> = self
            .lock()
            .iter()
            .filter_map(|(k, p)| {
                p.committed.map(|offset| OffsetRecord {
                    topic: k.topic.clone(),
                    group: k.group.clone(),
                    partition: k.partition,
                    offset,
                })
            })
            .collect();
        records.sort_by(|a, b| {
            (&a.topic, &a.group, a.partition).cmp(&(&b.topic, &b.group, b.partition))
        });
        write_offsets(file, &records).map_err(|e| GroupError::Storage(e.to_string()))
    }
}

/// True when no two claims share an offset.
fn claims_disjoint(claims: &[Claim]) -> bool {
    let mut ranges: Vec<(u64, u64)> = claims.iter().map(|c| (c.from, c.to)).collect();
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 <= w[1].0)
}

fn read_offsets(file: &Path) -> std::io::Result<Vec<OffsetRecord>> {
    let bad = |reason: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {reason}", file.display()),
        )
    };
    match std::fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
        Ok(m) if m.len() > OFFSETS_FILE_BYTES_MAX => {
            return Err(bad(format!("larger than {OFFSETS_FILE_BYTES_MAX} bytes")))
        }
        Ok(_) => {}
    }
    let bytes = std::fs::read(file)?;
    let records: Vec<OffsetRecord> =
        serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if records.len() > GROUP_PARTITIONS_MAX {
        return Err(bad(format!(
            "more than {GROUP_PARTITIONS_MAX} committed offsets"
        )));
    }
    Ok(records)
}

/// Writes the offsets durably: a new file synced, renamed over the old, the directory
/// synced, so a crash leaves the old offsets or the new, never half of either.
fn write_offsets(file: &Path, records: &[OffsetRecord]) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(records).map_err(std::io::Error::other)?;
    crate::durable_file::replace(file, &json, crate::durable_file::Access::Default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str) -> GroupPartition {
        GroupPartition {
            topic: "app.ev".into(),
            group: group.into(),
            partition: 0,
        }
    }

    const ALL: Bounds = Bounds { start: 0, end: 10 };

    fn groups(timeout_ms: u64) -> ConsumerGroups {
        ConsumerGroups::open(&TopicOptions {
            visibility_timeout: Duration::from_millis(timeout_ms),
            offsets_file: None,
        })
        .expect("in memory")
    }

    fn range(c: Claimed) -> (u64, u64) {
        (c.from, c.to)
    }

    #[test]
    fn concurrent_consumers_get_disjoint_ranges_and_acks_commit() {
        let g = groups(1_000);
        let k = key("g1");
        let a = g.claim(&k, Start::Earliest, ALL, 3, 0).expect("claim");
        let b = g.claim(&k, Start::Earliest, ALL, 3, 0).expect("claim");
        assert_eq!((range(a), range(b)), ((0, 3), (3, 6)));
        assert_eq!(g.ack(&k, 2), Ok(2));
        assert_eq!(g.ack(&k, 1), Ok(2), "a lower ack never regresses");
        assert_eq!(g.committed(&k), Some(2));
        let other = g
            .claim(&key("g2"), Start::Latest, ALL, 3, 0)
            .expect("claim");
        assert_eq!(
            range(other),
            (10, 10),
            "a new group from latest sees nothing yet"
        );
    }

    #[test]
    fn expired_claims_are_redelivered_first_and_acked_ones_never() {
        let g = groups(100);
        let k = key("g");
        assert_eq!(
            range(g.claim(&k, Start::Earliest, ALL, 4, 0).expect("c")),
            (0, 4)
        );
        assert_eq!(
            range(g.claim(&k, Start::Earliest, ALL, 4, 50).expect("c")),
            (4, 8)
        );
        g.ack(&k, 1).expect("ack");
        // At 120 the first claim expired (its acked half is gone); the second is live.
        let again = g.claim(&k, Start::Earliest, ALL, 10, 120).expect("c");
        assert_eq!(range(again), (2, 4));
        assert_eq!(
            range(g.claim(&k, Start::Earliest, ALL, 10, 120).expect("c")),
            (8, 10)
        );
        // Both claims expire and merge into one range; a small limit splits it again.
        let split = g.claim(&k, Start::Earliest, ALL, 1, 1_000).expect("c");
        assert_eq!(range(split), (2, 3));
        assert!(split.more_redeliveries);
        let rest = g.claim(&k, Start::Earliest, ALL, 10, 1_000).expect("c");
        assert_eq!(range(rest), (3, 10), "(2, 4), (4, 8) and (8, 10) merged");
        assert!(!rest.more_redeliveries);
    }

    #[test]
    fn claims_are_bounded() {
        let g = groups(10_000);
        let k = key("g");
        let wide = Bounds {
            start: 0,
            end: u64::MAX,
        };
        for _ in 0..CLAIMS_PER_PARTITION_MAX {
            g.claim(&k, Start::Earliest, wide, 1, 0).expect("claim");
        }
        assert_eq!(
            g.claim(&k, Start::Earliest, wide, 1, 0),
            Err(GroupError::TooManyClaims)
        );
    }

    #[test]
    fn committed_offsets_survive_a_reopen_and_names_stay_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = TopicOptions {
            visibility_timeout: Duration::from_millis(100),
            offsets_file: Some(dir.path().join(OFFSETS_FILE)),
        };
        let g = ConsumerGroups::open(&options).expect("opens without a file");
        let hostile = GroupPartition {
            topic: "app.ev".into(),
            group: "../../etc/passwd".into(),
            partition: 3,
        };
        g.ack(&hostile, 7).expect("ack");
        g.ack(&key("g"), 4).expect("ack");
        drop(g);
        let g = ConsumerGroups::open(&options).expect("reopens");
        assert_eq!(g.committed(&hostile), Some(7));
        let resumed = g
            .claim(&key("g"), Start::Earliest, ALL, 2, 0)
            .expect("claim");
        assert_eq!(range(resumed), (5, 7), "resumes after the committed offset");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [OFFSETS_FILE], "one file, whatever the names");
        g.forget_topic("app.ev").expect("forget");
        assert_eq!(
            ConsumerGroups::open(&options)
                .expect("reopens")
                .committed(&hostile),
            None
        );
        std::fs::write(dir.path().join(OFFSETS_FILE), b"[{").expect("damage it");
        assert!(ConsumerGroups::open(&options).is_err());
    }
}
