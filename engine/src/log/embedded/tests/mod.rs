//! End-to-end tests of the embedded log: append, commit, read, restart, recovery, delete.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use super::record::encoded_len;
use super::*;
use crate::error::{EngineError, Result};
use crate::log::*;

mod damage;
mod delete_records;
mod retention;

fn record(i: u64) -> Record {
    Record {
        key: (i.rem_euclid(5) != 0).then(|| Bytes::from(format!("key-{i}"))),
        // Every 7th row is a tombstone (null value).
        value: (i.rem_euclid(7) != 0)
            .then(|| Bytes::from(format!("{{\"ID\":{i},\"NAME\":\"row number {i}\"}}"))),
        timestamp_ms: 1_700_000_000_000 + i as i64,
        headers: if i.rem_euclid(3) == 0 {
            vec![
                ("trace".to_owned(), Some(Bytes::from(format!("t{i}")))),
                ("empty".to_owned(), None),
            ]
        } else {
            Vec::new()
        },
    }
}

fn records(range: std::ops::Range<u64>) -> Vec<Record> {
    range.map(record).collect()
}

fn config(fsync: FsyncPolicy, segment_bytes_max: u64) -> LogConfig {
    LogConfig {
        fsync,
        segment_bytes_max,
        ..LogConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Appends and waits for the ticket; returns the first offset.
async fn append(topic: &dyn TopicLog, partition: u32, records: Vec<Record>) -> Result<Offset> {
    let ticket = topic.append(PartitionId(partition), records).await?;
    ticket
        .await
        .map_err(|_| EngineError::internal("ticket dropped"))?
}

/// Reads everything a cursor has right now, in small reads so chunk reuse is exercised.
fn drain(cursor: &mut dyn PartitionCursor) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    while cursor.read(&mut out, 37).expect("read") > 0 {}
    out
}

fn read_partition(topic: &dyn TopicLog, partition: u32, start: StartPosition) -> Vec<StoredRecord> {
    let mut cursor = topic.cursor(PartitionId(partition), start).expect("cursor");
    drain(cursor.as_mut())
}

fn assert_records(read: &[StoredRecord], partition: u32, expected: std::ops::Range<u64>) {
    assert_eq!(
        read.len() as u64,
        expected.end - expected.start,
        "record count"
    );
    for (stored, i) in read.iter().zip(expected) {
        assert_eq!(stored.partition, PartitionId(partition));
        assert_eq!(stored.offset, Offset(i));
        assert_eq!(stored.record, record(i), "record {i}");
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("partition dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[test]
fn round_trip_with_keys_null_values_headers_and_independent_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(dir.path(), LogConfig::default()).unwrap();
    let topic = log.create_topic("pageviews", 3).unwrap();
    rt.block_on(async {
        assert_eq!(
            append(topic.as_ref(), 0, records(0..10)).await.unwrap(),
            Offset(0)
        );
        assert_eq!(
            append(topic.as_ref(), 0, records(10..11)).await.unwrap(),
            Offset(10)
        );
        assert_eq!(
            append(topic.as_ref(), 2, records(0..4)).await.unwrap(),
            Offset(0)
        );
        // An empty append resolves at the end offset and writes nothing.
        assert_eq!(
            append(topic.as_ref(), 2, Vec::new()).await.unwrap(),
            Offset(4)
        );
    });
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..11,
    );
    assert_records(
        &read_partition(topic.as_ref(), 2, StartPosition::Earliest),
        2,
        0..4,
    );
    assert!(read_partition(topic.as_ref(), 1, StartPosition::Earliest).is_empty());
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(11));
    assert_eq!(topic.end_offset(PartitionId(1)), Offset(0));
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(0));
    assert!(read_partition(topic.as_ref(), 0, StartPosition::Latest).is_empty());
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::At(Offset(6))),
        0,
        6..11,
    );

    let err = rt
        .block_on(topic.append(PartitionId(3), records(0..1)))
        .unwrap_err();
    assert!(err.code() == crate::error::ErrorCode::NotFound, "{err}");
    assert!(matches!(
        topic.cursor(PartitionId(9), StartPosition::Earliest),
        Err(e) if e.code() == crate::error::ErrorCode::NotFound
    ));
    assert!(matches!(
        log.create_topic("pageviews", 1),
        Err(e) if e.code() == crate::error::ErrorCode::Conflict
    ));
}

#[test]
fn oversized_records_are_rejected_before_queueing() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 1).unwrap();
    let huge = Record {
        key: None,
        value: Some(Bytes::from(vec![b'x'; RECORD_BYTES_MAX])),
        timestamp_ms: 0,
        headers: Vec::new(),
    };
    let err = runtime()
        .block_on(topic.append(PartitionId(0), vec![huge]))
        .unwrap_err();
    assert!(err.code() == crate::error::ErrorCode::BadRequest, "{err}");
}

#[test]
fn records_larger_than_a_read_chunk_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("big", 1).unwrap();
    let big = Record {
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from(vec![7u8; READ_CHUNK_BYTES * 2 + 3])),
        timestamp_ms: 1,
        headers: Vec::new(),
    };
    let batch = vec![record(0), big.clone(), record(2)];
    runtime()
        .block_on(append(topic.as_ref(), 0, batch))
        .unwrap();
    let read = read_partition(topic.as_ref(), 0, StartPosition::Earliest);
    assert_eq!(read.len(), 3);
    assert_eq!(read[1].record, big);
    assert_eq!(read[2].record, record(2));
}

#[test]
fn group_commit_writes_queued_appends_with_one_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log =
        EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
    log.create_topic("t", 1).unwrap();
    let topic = log.embedded_topic("t").unwrap();
    let appends = 500u64;
    // Hold the writer at its commit so every append queues behind the first one.
    let gate = topic.partition_handle(PartitionId(0)).hold_commits();
    let tickets: Vec<AppendTicket> = (0..appends)
        .map(|i| {
            rt.block_on(topic.append(PartitionId(0), vec![record(i)]))
                .unwrap()
        })
        .collect();
    drop(gate);
    let offsets: Vec<Offset> = rt.block_on(async {
        let mut offsets = Vec::new();
        for ticket in tickets {
            offsets.push(ticket.await.unwrap().unwrap());
        }
        offsets
    });
    // One caller's appends resolve in order, at contiguous offsets.
    assert_eq!(offsets, (0..appends).map(Offset).collect::<Vec<_>>());
    let stats = topic.partition_stats(PartitionId(0)).unwrap();
    assert_eq!(stats.records, appends);
    // The first request commits alone (the writer took it before the others arrived); all
    // the rest fit in one batch.
    assert!(stats.syncs <= 3, "{stats:?}");
    assert_eq!(
        stats.syncs, stats.batches,
        "one fsync per batch under Always"
    );
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..appends,
    );
}

#[test]
fn concurrent_appenders_get_distinct_contiguous_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log =
        EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 2).unwrap();
    let tasks = 16u64;
    let per_task = 40u64;
    let mut offsets = rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let topic = topic.clone();
                tokio::spawn(async move {
                    let mut offsets = Vec::new();
                    for i in 0..per_task {
                        offsets.push(
                            append(topic.as_ref(), 1, vec![record(t * per_task + i)])
                                .await
                                .unwrap(),
                        );
                    }
                    offsets
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            let offsets = h.await.unwrap();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "a caller's appends keep their order"
            );
            all.extend(offsets);
        }
        all
    });
    offsets.sort();
    assert_eq!(
        offsets,
        (0..tasks * per_task).map(Offset).collect::<Vec<_>>()
    );
    let stats = log
        .embedded_topic("t")
        .unwrap()
        .partition_stats(PartitionId(1))
        .unwrap();
    assert!(stats.syncs <= stats.records, "{stats:?}");
    let read = read_partition(topic.as_ref(), 1, StartPosition::Earliest);
    assert_eq!(read.len() as u64, tasks * per_task);
}

#[test]
fn restart_restores_topics_data_and_seeks_through_rolled_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // ~100-byte records: ~160 per 16 KiB segment, 4 index entries per segment.
    let cfg = config(FsyncPolicy::Always, 16 * 1024);
    let total = 2_000u64;
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let a = log.create_topic("a.stream_1", 3).unwrap();
        log.create_topic("b-topic", 1).unwrap();
        rt.block_on(async {
            for chunk in (0..total).step_by(100) {
                append(a.as_ref(), 1, records(chunk..chunk + 100))
                    .await
                    .unwrap();
            }
        });
        let partition_dir = dir.path().join("topics/a.stream_1/1");
        assert!(segment_files(&partition_dir).len() > 5, "segments rolled");
        assert_eq!(
            segment_files(&partition_dir)[0].file_name().unwrap(),
            "00000000000000000000.log"
        );
    }
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    assert_eq!(
        log.list_topics(),
        vec![
            TopicInfo {
                name: "a.stream_1".into(),
                partitions: 3
            },
            TopicInfo {
                name: "b-topic".into(),
                partitions: 1
            },
        ]
    );
    let a = log.topic("a.stream_1").unwrap();
    assert_eq!(a.end_offset(PartitionId(1)), Offset(total));
    assert_records(
        &read_partition(a.as_ref(), 1, StartPosition::Earliest),
        1,
        0..total,
    );
    for at in [0, 1, 159, 160, 161, 777, 1_234, total - 1, total] {
        assert_records(
            &read_partition(a.as_ref(), 1, StartPosition::At(Offset(at))),
            1,
            at..total,
        );
    }
    // Out of range positions clamp to the ends, as a consumer's offset reset would.
    assert!(read_partition(a.as_ref(), 1, StartPosition::At(Offset(total + 50))).is_empty());
    // Appends continue at the recovered end, into the recovered active segment.
    assert_eq!(
        rt.block_on(append(a.as_ref(), 1, records(total..total + 5)))
            .unwrap(),
        Offset(total)
    );
    assert_records(
        &read_partition(a.as_ref(), 1, StartPosition::At(Offset(1_500))),
        1,
        1_500..total + 5,
    );
    drop(a);
    drop(log);

    // A stale or garbage index on a sealed segment is detected and rebuilt.
    let partition_dir = dir.path().join("topics/a.stream_1/1");
    let first_index = partition_dir.join("00000000000000000000.index");
    assert!(
        std::fs::metadata(&first_index).unwrap().len() > 0,
        "sealed segments have an index"
    );
    std::fs::write(&first_index, [0xffu8; 16]).unwrap();
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    let a = log.topic("a.stream_1").unwrap();
    assert_records(
        &read_partition(a.as_ref(), 1, StartPosition::At(Offset(100))),
        1,
        100..total + 5,
    );
}

#[test]
fn index_seeks_skip_at_most_one_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 1).unwrap();
    runtime()
        .block_on(append(topic.as_ref(), 0, records(0..1_000)))
        .unwrap();
    let embedded = log.embedded_topic("t").unwrap();
    let shared = &embedded.partition_handle(PartitionId(0)).shared;
    let segment = shared.segments.read().unwrap()[0].clone();
    let index = segment.index.read().unwrap().clone();
    let bytes = segment
        .committed_bytes
        .load(std::sync::atomic::Ordering::Acquire);
    let expected = bytes / (INDEX_INTERVAL_BYTES + 200);
    assert!(
        index.len() as u64 >= expected,
        "an entry every INDEX_INTERVAL_BYTES: {}",
        index.len()
    );
    for entry in &index {
        // Every entry points at its record.
        let read = read_partition(topic.as_ref(), 0, StartPosition::At(entry.offset));
        assert_eq!(read[0].offset, entry.offset);
        assert_eq!(
            segment.position_for(entry.offset),
            (entry.position, entry.offset)
        );
    }
    let gaps = index.windows(2).map(|w| w[1].position - w[0].position);
    assert!(gaps.into_iter().all(|gap| gap < INDEX_INTERVAL_BYTES + 200));
}

/// Writes `n` records to a fresh single-partition topic and returns the segment path and the
/// byte position where each record ends.
fn write_for_recovery(dir: &Path, n: u64) -> (PathBuf, Vec<u64>) {
    let log = EmbeddedLog::open(dir, config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 1).unwrap();
    runtime()
        .block_on(append(topic.as_ref(), 0, records(0..n)))
        .unwrap();
    let ends = (0..n)
        .scan(0u64, |end, i| {
            *end += encoded_len(&record(i)) as u64;
            Some(*end)
        })
        .collect();
    (dir.join("topics/t/0/00000000000000000000.log"), ends)
}

/// Reopens the log over a damaged segment and checks exactly `whole` records come back and
/// appends continue after them.
fn check_recovers_to(
    dir: &Path,
    segment: &Path,
    whole: u64,
    valid_bytes: u64,
    rt: &tokio::runtime::Runtime,
) {
    let log = EmbeddedLog::open(dir, config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    assert_eq!(
        std::fs::metadata(segment).unwrap().len(),
        valid_bytes,
        "file cut after the last whole record"
    );
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(whole));
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..whole,
    );
    assert_eq!(
        rt.block_on(append(topic.as_ref(), 0, vec![record(whole)]))
            .unwrap(),
        Offset(whole)
    );
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..whole + 1,
    );
}

#[test]
fn recovery_truncates_the_last_record_cut_at_every_byte_or_flipped() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let n = 6u64;
    let (segment, ends) = write_for_recovery(dir.path(), n);
    let original = std::fs::read(&segment).unwrap();
    let last_start = ends[n as usize - 2];
    assert_eq!(original.len() as u64, ends[n as usize - 1]);
    for cut in last_start..original.len() as u64 {
        std::fs::write(&segment, &original[..cut as usize]).unwrap();
        check_recovers_to(dir.path(), &segment, n - 1, last_start, &rt);
    }
    for flip in last_start..original.len() as u64 {
        let mut damaged = original.clone();
        damaged[flip as usize] ^= 0x10;
        std::fs::write(&segment, &damaged).unwrap();
        check_recovers_to(dir.path(), &segment, n - 1, last_start, &rt);
    }
    // Garbage appended after whole records (a torn length field) is cut too.
    let mut garbage = original.clone();
    garbage.extend_from_slice(&[0xab, 0xcd]);
    std::fs::write(&segment, &garbage).unwrap();
    check_recovers_to(dir.path(), &segment, n, original.len() as u64, &rt);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn recovery_keeps_exactly_the_whole_records_before_damage(
        n in 1u64..12,
        cut_fraction in 0.0f64..1.0,
        flip in proptest::option::of((0.0f64..1.0, 1u8..=255)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let (segment, ends) = write_for_recovery(dir.path(), n);
        let mut bytes = std::fs::read(&segment).unwrap();
        let cut = (bytes.len() as f64 * cut_fraction) as usize;
        bytes.truncate(cut);
        let mut damage_at = cut as u64;
        if let Some((at_fraction, mask)) = flip {
            if cut > 0 {
                let at = ((cut as f64 * at_fraction) as usize).min(cut - 1);
                bytes[at] ^= mask;
                damage_at = damage_at.min(at as u64);
            }
        }
        std::fs::write(&segment, &bytes).unwrap();
        // Whole records are those ending at or before the first damaged byte (a flip at byte
        // `at` ruins the record containing it; a cut at `cut` ruins the one crossing it).
        let whole = ends.iter().take_while(|&&end| end <= damage_at).count() as u64;
        let valid = if whole == 0 { 0 } else { ends[whole as usize - 1] };
        check_recovers_to(dir.path(), &segment, whole, valid, &rt);
    }
}

#[test]
fn a_cursor_at_the_end_wakes_after_an_append() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log =
        EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 2).unwrap();
    rt.block_on(async {
        append(topic.as_ref(), 0, records(0..3)).await.unwrap();
        let mut cursor = topic.cursor(PartitionId(0), StartPosition::Latest).unwrap();
        assert_eq!(cursor.position(), Offset(3));
        let ready = topic.data_ready();
        let notified = ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable(); // register before checking, so no wake-up is lost
        let mut out = Vec::new();
        assert_eq!(cursor.read(&mut out, 10).unwrap(), 0);
        let writer = topic.clone();
        tokio::spawn(async move { append(writer.as_ref(), 0, records(3..5)).await.unwrap() });
        tokio::time::timeout(Duration::from_secs(10), notified)
            .await
            .expect("woken by the append");
        while out.len() < 2 {
            // The notify fires after the end offset is published, so data is there now.
            assert!(cursor.read(&mut out, 10).unwrap() > 0);
        }
        assert_records(&out, 0, 3..5);
        assert_eq!(cursor.position(), Offset(5));
    });
}

#[test]
fn a_cursor_reads_on_exactly_after_releasing_its_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log =
        EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("t", 1).unwrap();
    rt.block_on(async {
        append(topic.as_ref(), 0, records(0..40)).await.unwrap();
        let mut cursor = topic
            .cursor(PartitionId(0), StartPosition::Earliest)
            .unwrap();
        let mut out = Vec::new();
        // Released in the middle of a chunk (one read covers all 40 records)…
        assert_eq!(cursor.read(&mut out, 15).unwrap(), 15);
        cursor.release_buffers();
        assert_eq!(cursor.read(&mut out, 100).unwrap(), 25);
        // …and at its end, as a caught-up query does before it waits.
        cursor.release_buffers();
        assert_eq!(cursor.read(&mut out, 100).unwrap(), 0);
        append(topic.as_ref(), 0, records(40..50)).await.unwrap();
        assert_eq!(cursor.read(&mut out, 100).unwrap(), 10);
        assert_records(&out, 0, 0..50);
    });
}

#[test]
fn deleted_topic_ends_cursors_and_fails_appends() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log =
        EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
    let topic = log.create_topic("doomed", 2).unwrap();
    rt.block_on(append(topic.as_ref(), 0, records(0..3)))
        .unwrap();
    let mut cursor = topic
        .cursor(PartitionId(0), StartPosition::Earliest)
        .unwrap();
    let ready = topic.data_ready();
    // Register the waiter before the delete (no sleep, no race): `enable` puts it on the
    // Notify's list now, so the delete's notify_waiters must wake it.
    let waiter = ready.notified();
    tokio::pin!(waiter);
    waiter.as_mut().enable();

    log.delete_topic("doomed").unwrap();

    assert!(topic.is_deleted());
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), waiter).await })
        .expect("waiters wake on delete");
    let mut out = Vec::new();
    assert!(matches!(
        cursor.read(&mut out, 10),
        Err(e) if e.code() == crate::error::ErrorCode::NotFound
    ));
    let err = rt
        .block_on(topic.append(PartitionId(0), records(0..1)))
        .unwrap_err();
    assert!(err.code() == crate::error::ErrorCode::NotFound, "{err}");
    assert!(err.to_string().contains("deleted"), "{err}");
    assert!(log.topic("doomed").is_none());
    assert!(!dir.path().join("topics/doomed").exists());
    assert!(log
        .delete_topic("doomed")
        .is_err_and(|e| e.code() == crate::error::ErrorCode::NotFound));

    // The name is free again, and the new topic starts empty.
    let again = log.create_topic("doomed", 1).unwrap();
    assert_eq!(again.end_offset(PartitionId(0)), Offset(0));
}

#[test]
fn interrupted_create_is_cleaned_up_on_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("topics/half/0")).unwrap();
    let log = EmbeddedLog::open(dir.path(), LogConfig::default()).unwrap();
    assert!(log.list_topics().is_empty());
    assert!(!dir.path().join("topics/half").exists());
}

#[test]
fn topic_names_follow_kafka_rules() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
    for bad in [
        "",
        ".",
        "..",
        "has space",
        "slash/y",
        "ünï",
        &"x".repeat(250),
    ] {
        assert!(
            matches!(log.create_topic(bad, 1), Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement),
            "{bad:?}"
        );
    }
    for good in ["a", "A.b_c-9", ".hidden", &"x".repeat(249)] {
        log.create_topic(good, 1).unwrap();
    }
    assert!(matches!(
        log.create_topic("zero", 0),
        Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement
    ));
    assert!(matches!(
        log.create_topic("many", TOPIC_PARTITIONS_MAX + 1),
        Err(e) if e.code() == crate::error::ErrorCode::InvalidStatement
    ));
}

#[test]
fn interval_fsync_syncs_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(
        dir.path(),
        config(FsyncPolicy::IntervalMs(5), SEGMENT_BYTES_MAX),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let topic = log.embedded_topic("t").unwrap();
    rt.block_on(async {
        // Under IntervalMs the first batch is synced at once (the interval since open has
        // passed) or within 5 ms of going idle; either way a sync follows without more appends.
        tokio::time::sleep(Duration::from_millis(10)).await;
        append(topic.as_ref(), 0, records(0..1)).await.unwrap();
        append(topic.as_ref(), 0, records(1..2)).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while topic.partition_stats(PartitionId(0)).unwrap().syncs < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "idle data was never synced"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// A throughput sanity check: many records through append and a cursor, no timing asserted
/// (timing belongs in benches).
#[test]
fn many_records_flow_through_append_and_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, 1024 * 1024)).unwrap();
    let topic: Arc<dyn TopicLog> = log.create_topic("t", 1).unwrap();
    let total = 20_000u64;
    rt.block_on(async {
        let mut tickets = Vec::new();
        for chunk in (0..total).step_by(50) {
            tickets.push(
                topic
                    .append(PartitionId(0), records(chunk..chunk + 50))
                    .await
                    .unwrap(),
            );
        }
        for (i, ticket) in tickets.into_iter().enumerate() {
            assert_eq!(ticket.await.unwrap().unwrap(), Offset(i as u64 * 50));
        }
    });
    let mut cursor = topic
        .cursor(PartitionId(0), StartPosition::Earliest)
        .unwrap();
    let mut out = Vec::new();
    let mut seen = 0u64;
    loop {
        out.clear();
        let n = cursor.read(&mut out, 1_000).unwrap();
        if n == 0 {
            break;
        }
        for stored in &out {
            assert_eq!(stored.offset, Offset(seen));
            seen += 1;
        }
    }
    assert_eq!(seen, total);
}

#[test]
fn ten_thousand_partitions_share_a_bounded_pool_and_file_budget() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = LogConfig {
        fsync: FsyncPolicy::Never,
        writer_threads: 4,
        open_files_max: 32,
        partitions_max: 10_000,
        ..LogConfig::default()
    };
    let topics = 40u32;
    let per_topic = 250u32;
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        for t in 0..topics {
            log.create_topic(&format!("t{t}"), per_topic).unwrap();
        }
        assert_eq!(log.partition_count(), 10_000);
        assert_eq!(log.writer_threads(), 4);
        // The node's limit: no partition more.
        let Err(err) = log.create_topic("one_more", 1) else {
            panic!("over the limit")
        };
        assert_eq!(err.code(), crate::error::ErrorCode::ResourceLimit, "{err}");
        assert!(err.to_string().contains("limit is 10000"), "{err}");
        rt.block_on(async {
            let mut tickets = Vec::new();
            for t in 0..topics {
                let topic = log.topic(&format!("t{t}")).unwrap();
                for p in 0..per_topic {
                    let i = u64::from(t * per_topic + p);
                    tickets.push(
                        topic
                            .append(PartitionId(p), records(i..i + 2))
                            .await
                            .unwrap(),
                    );
                }
            }
            for ticket in tickets {
                assert_eq!(ticket.await.unwrap().unwrap(), Offset(0));
            }
        });
        assert!(log.open_files() <= 32, "{}", log.open_files());
    }
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    assert!(log.open_files() <= 32, "recovery opens nothing for long");
    for t in 0..topics {
        let topic = log.topic(&format!("t{t}")).unwrap();
        for p in 0..per_topic {
            let i = u64::from(t * per_topic + p);
            let read = read_partition(topic.as_ref(), p, StartPosition::Earliest);
            assert_eq!(read.len(), 2);
            assert_eq!(read[0].record, record(i));
            assert_eq!(read[1].record, record(i + 1));
        }
    }
    assert!(log.open_files() <= 32, "{}", log.open_files());
    log.delete_topic("t0").unwrap();
    log.create_topic("again", 250).unwrap();
}

#[test]
fn the_node_partition_limit_counts_every_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        partitions_max: 10,
        ..LogConfig::default()
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    log.create_topic("a", 8).unwrap();
    let Err(err) = log.create_topic("b", 3) else {
        panic!("over the limit")
    };
    assert_eq!(err.code(), crate::error::ErrorCode::ResourceLimit, "{err}");
    assert!(log.topic("b").is_none());
    assert!(!dir.path().join("topics/b").exists());
    log.create_topic("b", 2).unwrap();
    log.delete_topic("a").unwrap();
    log.create_topic("c", 8).unwrap();
}

#[test]
fn a_busy_partition_does_not_starve_the_others_on_one_writer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = LogConfig {
        fsync: FsyncPolicy::Never,
        writer_threads: 1,
        ..LogConfig::default()
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    let topic = log.create_topic("t", 3).unwrap();
    rt.block_on(async {
        // Many appends queued on partition 0 and one on each other partition: all complete,
        // and each partition's offsets follow its own call order.
        let mut tickets = Vec::new();
        for i in 0..200u64 {
            tickets.push((
                0u32,
                i,
                topic
                    .append(PartitionId(0), records(i..i + 1))
                    .await
                    .unwrap(),
            ));
        }
        for p in 1..3u32 {
            tickets.push((
                p,
                0,
                topic.append(PartitionId(p), records(0..1)).await.unwrap(),
            ));
        }
        for (_, i, ticket) in tickets {
            let offset = tokio::time::timeout(Duration::from_secs(10), ticket)
                .await
                .expect("resolves")
                .unwrap()
                .unwrap();
            assert_eq!(offset, Offset(i));
        }
    });
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..200,
    );
}
