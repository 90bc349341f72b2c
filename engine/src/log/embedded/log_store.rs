//! The embedded [`LogStore`]: topics stored in a local data directory.
//!
//! ```text
//!  <dir>/topics/<topic>/topic.meta             "partitions=N\n", written durably last
//!  <dir>/topics/<topic>/<partition>/<base>.log  segments (see `segment`)
//!  <dir>/topics/<topic>/<partition>/<base>.index
//! ```
//!
//! `topic.meta` marks a topic as complete: it is written (temp file, fsync, rename, fsync the
//! directory) only after the partition directories exist, and removed first when a topic is
//! deleted. A topic directory without it is a create or delete that a crash interrupted, and
//! is removed on open.

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::cursor::{EmbeddedCursor, TopicState};
use super::files::FileCache;
use super::partition::{Partition, TopicOf};
use super::shared::StopMode;
use super::pool::{PoolShared, WriterPool, WRITER_THREADS_MAX};
use super::recovery::sync_dir;
use super::segment::SEGMENT_BYTES_LIMIT;
use super::LogConfig;
use crate::error::{EngineError, Result};
use crate::metrics::HistogramSnapshot;
use crate::log::{
    AppendTicket, FsyncPolicy, LogHealth, LogStore, Offset, PartitionCursor, PartitionHealth,
    PartitionId, Record, StartPosition, TopicConfig, TopicInfo, TopicLog, TOPIC_PARTITIONS_MAX,
};
use crate::log::topic_name::validate_new_topic;

/// The per-topic metadata file.
const META_FILE: &str = "topic.meta";
const META_TMP_FILE: &str = "topic.meta.tmp";

/// Counters of one partition's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionStats {
    /// Records appended.
    pub records: u64,
    /// Commit batches written (one write call each, barring a segment roll).
    pub batches: u64,
    /// `sync_data` calls on segment files.
    pub syncs: u64,
}

/// One topic of the embedded log.
pub struct EmbeddedTopic {
    state: Arc<TopicState>,
    dir: PathBuf,
    partitions: Vec<Partition>,
    data_ready: Arc<Notify>,
}

impl EmbeddedTopic {
    fn open(
        dir: PathBuf,
        name: &str,
        meta: TopicMeta,
        config: &LogConfig,
        files: &Arc<FileCache>,
        pool: &Arc<PoolShared>,
    ) -> Result<EmbeddedTopic> {
        let TopicMeta { partitions, config: topic_config } = meta;
        let data_ready = Arc::new(Notify::new());
        let mut opened = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let partition_dir = dir.join(p.to_string());
            fs::create_dir_all(&partition_dir)?;
            let of = TopicOf {
                name,
                config: topic_config,
            };
            opened.push(Partition::open(
                of,
                PartitionId(p),
                &partition_dir,
                config,
                data_ready.clone(),
                files,
                pool,
            )?);
        }
        Ok(EmbeddedTopic {
            state: Arc::new(TopicState {
                name: name.to_owned(),
                deleted: AtomicBool::new(false),
            }),
            dir,
            partitions: opened,
            data_ready,
        })
    }

    /// Writer counters for `partition`.
    pub fn partition_stats(&self, partition: PartitionId) -> Option<PartitionStats> {
        let stats = &self.partitions.get(partition.0 as usize)?.shared.stats;
        Some(PartitionStats {
            records: stats.records.load(Ordering::Relaxed),
            batches: stats.batches.load(Ordering::Relaxed),
            syncs: stats.syncs.load(Ordering::Relaxed),
        })
    }

    #[cfg(test)]
    pub(crate) fn partition_handle(&self, partition: PartitionId) -> &Partition {
        &self.partitions[partition.0 as usize]
    }

    /// The topic's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn partition(&self, partition: PartitionId) -> Result<&Partition> {
        self.partitions.get(partition.0 as usize).ok_or_else(|| {
            EngineError::not_found(format!(
                "topic '{}' has no partition {} (it has {})",
                self.state.name,
                partition.0,
                self.partitions.len()
            ))
        })
    }

    fn stop(&self, mode: StopMode) {
        for partition in &self.partitions {
            partition.stop(mode);
        }
    }

    /// Ends the topic for its users: appends fail, cursors end, waiters wake.
    fn mark_deleted(&self) {
        self.state.deleted.store(true, Ordering::Release);
        self.stop(StopMode::Discard);
        self.data_ready.notify_waiters();
    }
}

impl TopicLog for EmbeddedTopic {
    fn name(&self) -> &str {
        &self.state.name
    }

    fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    fn append(
        &self,
        partition: PartitionId,
        records: Vec<Record>,
    ) -> Pin<Box<dyn Future<Output = Result<AppendTicket>> + Send + '_>> {
        Box::pin(async move {
            if self.is_deleted() {
                return Err(EngineError::not_found(format!(
                    "topic '{}' was deleted",
                    self.state.name
                )));
            }
            self.partition(partition)?.append(records).await
        })
    }

    /// `Offset(0)` for a partition the topic does not have.
    fn end_offset(&self, partition: PartitionId) -> Offset {
        self.partition(partition).map_or(Offset(0), |p| {
            Offset(p.shared.end_offset.load(Ordering::Acquire))
        })
    }

    /// `Offset(0)` for a partition the topic does not have.
    fn start_offset(&self, partition: PartitionId) -> Offset {
        self.partition(partition)
            .map_or(Offset(0), |p| p.shared.start())
    }

    fn cursor(
        &self,
        partition: PartitionId,
        start: StartPosition,
    ) -> Result<Box<dyn PartitionCursor>> {
        if self.is_deleted() {
            return Err(EngineError::not_found(format!(
                "topic '{}' was deleted",
                self.state.name
            )));
        }
        let partition = self.partition(partition)?;
        if let Some(error) = partition.unavailable() {
            return Err(error);
        }
        let shared = partition.shared.clone();
        Ok(Box::new(EmbeddedCursor::new(
            shared,
            self.state.clone(),
            start,
        )))
    }

    fn data_ready(&self) -> Arc<Notify> {
        self.data_ready.clone()
    }

    fn is_deleted(&self) -> bool {
        self.state.deleted.load(Ordering::Acquire)
    }
}

/// The embedded log: a [`LogStore`] over `<dir>/topics`.
pub struct EmbeddedLog {
    topics_dir: PathBuf,
    config: LogConfig,
    /// Held across a topic's creation or deletion (rare, and must not race each other).
    topics: Mutex<HashMap<String, Arc<EmbeddedTopic>>>,
    /// Every partition's files, within the descriptor budget.
    files: Arc<FileCache>,
    /// The threads that write every partition.
    pool: WriterPool,
}

impl EmbeddedLog {
    /// Opens (creating if needed) the log in `dir`, recovering every topic's partitions.
    pub fn open(dir: &Path, config: LogConfig) -> Result<Arc<EmbeddedLog>> {
        if config.segment_bytes_max == 0 || config.segment_bytes_max > SEGMENT_BYTES_LIMIT {
            return Err(EngineError::bad_request(format!(
                "segment_bytes_max must be in 1..={SEGMENT_BYTES_LIMIT}, got {}",
                config.segment_bytes_max
            )));
        }
        if config.writer_threads == 0 || config.writer_threads > WRITER_THREADS_MAX {
            return Err(EngineError::bad_request(format!(
                "writer_threads must be in 1..={WRITER_THREADS_MAX}, got {}",
                config.writer_threads
            )));
        }
        let topics_dir = dir.join("topics");
        fs::create_dir_all(&topics_dir)?;
        let files = Arc::new(FileCache::new(config.open_files_max));
        let pool = WriterPool::start(config.writer_threads)?;
        let mut topics = HashMap::new();
        let mut partitions_total = 0u64;
        for entry in fs::read_dir(&topics_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(meta) = read_meta(&path)? else {
                tracing::warn!(topic = %name, "removing a topic directory without metadata \
                    (an interrupted create or delete)");
                fs::remove_dir_all(&path)?;
                continue;
            };
            let partitions = meta.partitions;
            let topic = EmbeddedTopic::open(path, &name, meta, &config, &files, pool.shared())?;
            tracing::debug!(topic = %name, partitions, "opened topic");
            partitions_total += u64::from(partitions);
            topics.insert(name, Arc::new(topic));
        }
        if partitions_total > u64::from(config.partitions_max) {
            // Data is never refused; only new topics are, until some are dropped.
            tracing::warn!(
                partitions = partitions_total,
                limit = config.partitions_max,
                "the data directory holds more partitions than the node's limit"
            );
        }
        tracing::info!(
            topics = topics.len(),
            partitions = partitions_total,
            writer_threads = config.writer_threads,
            open_files_max = config.open_files_max,
            "opened the log"
        );
        Ok(Arc::new(EmbeddedLog {
            topics_dir,
            config,
            topics: Mutex::new(topics),
            files,
            pool,
        }))
    }

    /// The embedded topic (with its statistics), if it exists.
    pub fn embedded_topic(&self, name: &str) -> Option<Arc<EmbeddedTopic>> {
        self.lock_topics().get(name).cloned()
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Segment and recovery-point files the log holds open now (within
    /// `LogConfig::open_files_max`).
    pub fn open_files(&self) -> usize {
        self.files.open_count()
    }

    /// Writer threads serving every partition.
    pub fn writer_threads(&self) -> usize {
        self.pool.threads()
    }

    /// Partitions of every topic.
    pub fn partition_count(&self) -> u64 {
        self.lock_topics()
            .values()
            .map(|t| u64::from(t.partition_count()))
            .sum()
    }

    fn lock_topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<EmbeddedTopic>>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn durable(&self) -> bool {
        self.config.fsync != FsyncPolicy::Never
    }

    fn create_on_disk(&self, dir: &Path, name: &str, meta: TopicMeta) -> Result<EmbeddedTopic> {
        fs::create_dir(dir)?;
        if self.durable() {
            sync_dir(&self.topics_dir)?;
        }
        let topic = EmbeddedTopic::open(
            dir.to_owned(),
            name,
            meta,
            &self.config,
            &self.files,
            self.pool.shared(),
        )?;
        // The partition directories' entries; their segment files are created (and their
        // entries fsynced) by each partition's first write.
        if self.durable() {
            sync_dir(dir)?;
        }
        write_meta(dir, meta, self.durable())?;
        Ok(topic)
    }
}

impl LogStore for EmbeddedLog {
    fn create_topic_with(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<Arc<dyn TopicLog>> {
        validate_new_topic(name, partitions)?;
        let mut topics = self.lock_topics();
        if topics.contains_key(name) {
            return Err(EngineError::conflict(format!(
                "Topic '{name}' already exists"
            )));
        }
        let existing: u64 = topics
            .values()
            .map(|t| u64::from(t.partition_count()))
            .sum();
        let limit = self.config.partitions_max;
        if existing + u64::from(partitions) > u64::from(limit) {
            return Err(EngineError::resource_exhausted(format!(
                "Cannot create topic '{name}' with {partitions} partitions: the node has \
                 {existing} partitions and its limit is {limit} (PARTITIONS_PER_NODE_MAX); \
                 drop streams or tables to free partitions"
            ))
            .with_param("limit", limit.to_string()));
        }
        let dir = self.topics_dir.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?; // leftovers of a failed create
        }
        let meta = TopicMeta { partitions, config };
        let topic = match self.create_on_disk(&dir, name, meta) {
            Ok(topic) => Arc::new(topic),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        tracing::info!(topic = %name, partitions, retention_ms = ?config.retention_ms, "created topic");
        topics.insert(name.to_owned(), topic.clone());
        Ok(topic)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        let mut topics = self.lock_topics();
        let topic = topics
            .remove(name)
            .ok_or_else(|| EngineError::not_found(format!("Topic '{name}' does not exist")))?;
        topic.mark_deleted();
        // Metadata first: once it is gone the topic stays deleted whatever happens next.
        fs::remove_file(topic.dir.join(META_FILE))?;
        if self.durable() {
            sync_dir(&topic.dir)?;
        }
        fs::remove_dir_all(&topic.dir)?;
        if self.durable() {
            sync_dir(&self.topics_dir)?;
        }
        tracing::info!(topic = %name, "deleted topic");
        Ok(())
    }

    fn delete_records(&self, name: &str) -> Result<()> {
        let topic = self
            .embedded_topic(name)
            .ok_or_else(|| EngineError::not_found(format!("Topic '{name}' does not exist")))?;
        for partition in &topic.partitions {
            partition.delete_records()?;
        }
        tracing::info!(topic = %name, "deleted every record of the topic");
        Ok(())
    }

    fn topic(&self, name: &str) -> Option<Arc<dyn TopicLog>> {
        self.embedded_topic(name).map(|t| t as Arc<dyn TopicLog>)
    }

    fn sync_latency(&self) -> Option<HistogramSnapshot> {
        Some(self.pool.shared().sync_latency.snapshot())
    }

    fn health(&self) -> LogHealth {
        let topics: Vec<Arc<EmbeddedTopic>> = self.lock_topics().values().cloned().collect();
        let mut problems = Vec::new();
        for topic in topics {
            for (p, partition) in topic.partitions.iter().enumerate() {
                for problem in partition.problems() {
                    problems.push(PartitionHealth {
                        topic: topic.state.name.clone(),
                        partition: PartitionId(p as u32),
                        problem,
                    });
                }
            }
        }
        problems.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        LogHealth { problems }
    }

    fn list_topics(&self) -> Vec<TopicInfo> {
        let mut list: Vec<TopicInfo> = self
            .lock_topics()
            .values()
            .map(|t| TopicInfo {
                name: t.state.name.clone(),
                partitions: t.partition_count(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }
}

impl Drop for EmbeddedLog {
    /// Stops every partition after it writes (and, per policy, syncs) what is queued, then
    /// the writer threads.
    fn drop(&mut self) {
        for topic in self.lock_topics().values() {
            topic.stop(StopMode::Flush);
        }
        self.pool.shutdown();
    }
}

/// What `topic.meta` holds: the partition count, then the topic's configs, one
/// `key=value` line each (`retention.ms`, `cleanup.policy=compact`). A file from before configs existed has only
/// its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TopicMeta {
    partitions: u32,
    config: TopicConfig,
}

fn read_meta(dir: &Path) -> Result<Option<TopicMeta>> {
    let text = match fs::read_to_string(dir.join(META_FILE)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    parse_meta(&text).map(Some).ok_or_else(|| {
        EngineError::corrupt(format!(
            "{}: bad metadata {text:?}",
            dir.join(META_FILE).display()
        ))
    })
}

fn parse_meta(text: &str) -> Option<TopicMeta> {
    let mut lines = text.lines();
    let partitions = lines
        .next()?
        .strip_prefix("partitions=")?
        .parse::<u32>()
        .ok()
        .filter(|&p| p > 0 && p <= TOPIC_PARTITIONS_MAX)?;
    let mut config = TopicConfig::default();
    for line in lines {
        match line.split_once('=')? {
            ("retention.ms", ms) => config.retention_ms = Some(ms.parse().ok()?),
            ("cleanup.policy", "compact") => config.compacted = true,
            _ => return None,
        }
    }
    Some(TopicMeta { partitions, config })
}

fn format_meta(meta: TopicMeta) -> String {
    let mut text = format!("partitions={}\n", meta.partitions);
    if let Some(ms) = meta.config.retention_ms {
        text.push_str(&format!("retention.ms={ms}\n"));
    }
    if meta.config.compacted {
        text.push_str("cleanup.policy=compact\n");
    }
    text
}

/// Writes `topic.meta` atomically: temp file, fsync, rename, fsync the directory.
fn write_meta(dir: &Path, meta: TopicMeta, durable: bool) -> Result<()> {
    let tmp = dir.join(META_TMP_FILE);
    fs::write(&tmp, format_meta(meta))?;
    if durable {
        fs::File::open(&tmp)?.sync_all()?;
    }
    fs::rename(&tmp, dir.join(META_FILE))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}
