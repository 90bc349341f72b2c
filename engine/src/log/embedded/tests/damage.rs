//! The embedded log's damage handling: corrupt or cut segments found at open and at read,
//! recovery points, and failed writes and fsyncs undone or stopping their partition.

use super::*;

/// Reads a partition from `start` to its end, collecting records and the errors reads
/// report along the way (each read after an error goes on after the damage).
fn read_through_damage(
    topic: &dyn TopicLog,
    partition: u32,
    start: StartPosition,
) -> (Vec<StoredRecord>, Vec<EngineError>) {
    let mut cursor = topic.cursor(PartitionId(partition), start).expect("cursor");
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..100_000 {
        match cursor.read(&mut out, 37) {
            Ok(0) => return (out, errors),
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), crate::error::ErrorCode::Corrupt, "{e}");
                errors.push(e);
                assert!(errors.len() < 100, "a read after an error goes on");
            }
        }
    }
    panic!("the cursor never caught up");
}

/// Byte positions where each of `records(range)` starts in a segment that begins at
/// `range.start`, and the end of the last.
fn starts(range: std::ops::Range<u64>) -> Vec<u64> {
    let mut at = 0u64;
    let mut out = Vec::new();
    for i in range {
        out.push(at);
        at += encoded_len(&record(i)) as u64;
    }
    out.push(at);
    out
}

fn damaged_ranges(log: &EmbeddedLog) -> Vec<(u64, u64)> {
    log.health()
        .problems
        .into_iter()
        .filter_map(|p| match p.problem {
            PartitionProblem::Damaged { ranges, .. } => Some(ranges),
            _ => None,
        })
        .flatten()
        .map(|(a, b)| (a.0, b.0))
        .collect()
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= 0x20;
    std::fs::write(path, &bytes).unwrap();
}

/// Appends `range` in appends of `per_append` records.
fn fill(topic: &dyn TopicLog, range: std::ops::Range<u64>, per_append: u64) {
    let rt = runtime();
    rt.block_on(async {
        let mut i = range.start;
        while i < range.end {
            let to = (i + per_append).min(range.end);
            assert_eq!(append(topic, 0, records(i..to)).await.unwrap(), Offset(i));
            i = to;
        }
    });
}

#[test]
fn damage_before_the_recovery_point_is_skipped_reported_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(FsyncPolicy::Always, SEGMENT_BYTES_MAX);
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let topic = log.create_topic("t", 1).unwrap();
        fill(topic.as_ref(), 0..300, 100);
    }
    let segment = dir.path().join("topics/t/0/00000000000000000000.log");
    let starts = starts(0..300);
    // One flipped byte in record 150's value, far before the end: the case.
    flip(&segment, starts[150] + 30);
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        starts[300],
        "nothing is cut"
    );
    assert_eq!(damaged_ranges(&log), vec![(150, 151)]);
    assert!(log.health().can_write(), "damage does not stop writes");
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(300));
    let (read, errors) = read_through_damage(topic.as_ref(), 0, StartPosition::Earliest);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().contains("offsets 150..151"),
        "{}",
        errors[0]
    );
    let offsets: Vec<u64> = read.iter().map(|r| r.offset.0).collect();
    let expected: Vec<u64> = (0..300).filter(|&i| i != 150).collect();
    assert_eq!(offsets, expected);
    assert!(read.iter().all(|r| r.record == record(r.offset.0)));
    // A reader starting after the damage never sees it.
    let (read, errors) = read_through_damage(topic.as_ref(), 0, StartPosition::At(Offset(151)));
    assert!(errors.is_empty());
    assert_records(&read, 0, 151..300);
    // Offsets are not reused: the next record is 300.
    assert_eq!(
        rt.block_on(append(topic.as_ref(), 0, records(300..301)))
            .unwrap(),
        Offset(300)
    );
    drop(topic);
    drop(log);
    // The same on the next open (the damage is still there, found again).
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    assert_eq!(damaged_ranges(&log), vec![(150, 151)]);
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(301));
}

#[test]
fn damage_after_the_recovery_point_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segment = dir.path().join("topics/t/0/00000000000000000000.log");
    let starts = starts(0..200);
    let write = || {
        let _ = std::fs::remove_dir_all(dir.path().join("topics"));
        {
            let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX))
                .unwrap();
            let topic = log.create_topic("t", 1).unwrap();
            fill(topic.as_ref(), 0..100, 50);
        }
        // Records 100.. are written without fsync: the recovery point stays at 100, as if the
        // process died between their write and their fsync.
        let log =
            EmbeddedLog::open(dir.path(), config(FsyncPolicy::Never, SEGMENT_BYTES_MAX)).unwrap();
        fill(log.topic("t").unwrap().as_ref(), 100..200, 50);
    };
    let reopen_to = |end: u64| {
        let log =
            EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, SEGMENT_BYTES_MAX)).unwrap();
        assert!(log.health().is_healthy(), "{:?}", log.health());
        assert_eq!(
            std::fs::metadata(&segment).unwrap().len(),
            starts[end as usize]
        );
        let topic = log.topic("t").unwrap();
        assert_eq!(topic.end_offset(PartitionId(0)), Offset(end));
        assert_records(
            &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
            0,
            0..end,
        );
        assert_eq!(
            runtime()
                .block_on(append(topic.as_ref(), 0, records(end..end + 1)))
                .unwrap(),
            Offset(end)
        );
    };
    // A flipped byte after the recovery point: cut there, as a torn write would be.
    write();
    flip(&segment, starts[150] + 30);
    reopen_to(150);
    // A file cut in the middle of a record after the recovery point.
    write();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(starts[120] + 7).unwrap();
    reopen_to(120);
    // And exactly at the recovery point: nothing after it survives, nothing before is lost.
    write();
    flip(&segment, starts[100] + 30);
    reopen_to(100);
}

#[test]
fn a_segment_cut_before_its_recovery_point_loses_offsets_but_never_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(FsyncPolicy::Always, SEGMENT_BYTES_MAX);
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        fill(log.create_topic("t", 1).unwrap().as_ref(), 0..100, 25);
    }
    // Fsynced data vanishes (a lying disk, a restored backup): 60..100 are gone.
    let segment = dir.path().join("topics/t/0/00000000000000000000.log");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(starts(0..100)[60]).unwrap();
    for round in 0..2u64 {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let topic = log.topic("t").unwrap();
        assert_eq!(topic.end_offset(PartitionId(0)), Offset(100 + round));
        let (read, errors) = read_through_damage(topic.as_ref(), 0, StartPosition::Earliest);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].to_string().contains("offsets 60..100"),
            "{}",
            errors[0]
        );
        let offsets: Vec<u64> = read.iter().map(|r| r.offset.0).collect();
        let expected: Vec<u64> = (0..60).chain(100..100 + round).collect();
        assert_eq!(offsets, expected);
        assert_eq!(damaged_ranges(&log), vec![(60, 100)]);
        assert_eq!(
            rt.block_on(append(topic.as_ref(), 0, records(100 + round..101 + round)))
                .unwrap(),
            Offset(100 + round)
        );
    }
}

#[test]
fn damage_inside_a_sealed_segment_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Never, 16 * 1024);
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let topic = log.create_topic("t", 1).unwrap();
        fill(topic.as_ref(), 0..1_000, 10);
    }
    let segments = segment_files(&dir.path().join("topics/t/0"));
    assert!(segments.len() > 3, "segments rolled");
    let sealed = segments[0].clone();
    let original = std::fs::read(&sealed).unwrap();
    let next_base: u64 = segments[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    // Its tail is checked on open: the last record is damaged and skipped, the log opens.
    flip(&sealed, original.len() as u64 - 1);
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    assert_eq!(damaged_ranges(&log), vec![(next_base - 1, next_base)]);
    let topic = log.topic("t").unwrap();
    let (read, errors) = read_through_damage(topic.as_ref(), 0, StartPosition::Earliest);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(read.len(), 999);
    drop(topic);
    drop(log);

    // Its middle is checked when read: the cursor reports the damage once and goes on.
    std::fs::write(&sealed, &original).unwrap();
    let middle = original.len() as u64 / 2;
    flip(&sealed, middle);
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    assert!(log.health().is_healthy(), "not scanned on open");
    let topic = log.topic("t").unwrap();
    let (read, errors) = read_through_damage(topic.as_ref(), 0, StartPosition::Earliest);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(read.len(), 999, "exactly the damaged record is skipped");
    assert!(read.iter().all(|r| r.record == record(r.offset.0)));
    assert_eq!(damaged_ranges(&log).len(), 1, "the reader reported it");
}

#[test]
fn a_failed_write_is_undone_and_writes_resume_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(FsyncPolicy::Always, SEGMENT_BYTES_MAX);
    let segment = dir.path().join("topics/t/0/00000000000000000000.log");
    let acked = starts(0..10)[10];
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let topic = log.create_topic("t", 1).unwrap();
        fill(topic.as_ref(), 0..10, 10);
        let embedded = log.embedded_topic("t").unwrap();
        // Half the batch reaches the file (whole records among it), then the disk is full.
        embedded
            .partition_handle(PartitionId(0))
            .inject_faults(super::writer::Faults {
                writes: 1,
                partial: true,
                ..Default::default()
            });
        let err = rt
            .block_on(append(topic.as_ref(), 0, records(10..30)))
            .unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::StorageFull, "{err}");
        let health = log.health();
        assert!(!health.can_write());
        assert!(
            matches!(
                &health.problems[0].problem,
                PartitionProblem::WritesFailing {
                    code: crate::error::ErrorCode::StorageFull,
                    ..
                }
            ),
            "{health:?}"
        );
        // Appends fail fast meanwhile, without queueing.
        let err = rt
            .block_on(topic.append(PartitionId(0), records(10..11)))
            .unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::StorageFull, "{err}");
        // The failed records are not readable and not in the file.
        assert_records(
            &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
            0,
            0..10,
        );
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), acked);
    }
    // Nor after a restart.
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(10));
    // Writes fail again; with no appends, probes find out when the disk takes writes again.
    let embedded = log.embedded_topic("t").unwrap();
    let handle = embedded.partition_handle(PartitionId(0));
    handle.inject_faults(super::writer::Faults {
        writes: 1,
        probes: 2,
        ..Default::default()
    });
    assert!(rt
        .block_on(append(topic.as_ref(), 0, records(10..11)))
        .is_err());
    let failed_at = std::time::Instant::now();
    let deadline = failed_at + Duration::from_secs(10);
    while !log.health().is_healthy() {
        assert!(std::time::Instant::now() < deadline, "{:?}", log.health());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Two failed probes: at least 50 + 100 ms of backoff before the third succeeded.
    assert!(failed_at.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        rt.block_on(append(topic.as_ref(), 0, records(10..20)))
            .unwrap(),
        Offset(10)
    );
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..20,
    );
}

#[test]
fn a_failed_fsync_is_undone_and_a_failed_undo_stops_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let cfg = config(FsyncPolicy::Always, SEGMENT_BYTES_MAX);
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        let topic = log.create_topic("t", 1).unwrap();
        fill(topic.as_ref(), 0..10, 10);
        let embedded = log.embedded_topic("t").unwrap();
        let handle = embedded.partition_handle(PartitionId(0));
        // The batch's fsync fails; the cut and its fsync work: the partition retries.
        handle.inject_faults(super::writer::Faults {
            syncs: 1,
            ..Default::default()
        });
        let err = rt
            .block_on(append(topic.as_ref(), 0, records(10..20)))
            .unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::Io, "{err}");
        assert!(matches!(
            log.health().problems[0].problem,
            PartitionProblem::WritesFailing { .. }
        ));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !log.health().is_healthy() {
            assert!(std::time::Instant::now() < deadline, "{:?}", log.health());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            rt.block_on(append(topic.as_ref(), 0, records(10..20)))
                .unwrap(),
            Offset(10)
        );
        // Now the fsync of the cut fails too: nothing proves the file is as acked.
        handle.inject_faults(super::writer::Faults {
            syncs: 2,
            ..Default::default()
        });
        assert!(rt
            .block_on(append(topic.as_ref(), 0, records(20..30)))
            .is_err());
        assert!(matches!(
            log.health().problems[0].problem,
            PartitionProblem::Stopped { .. }
        ));
        std::thread::sleep(Duration::from_millis(2 * RETRY_BACKOFF_MIN_MS));
        assert!(
            rt.block_on(topic.append(PartitionId(0), records(20..21)))
                .is_err(),
            "no retry once stopped"
        );
        // Reads still work.
        assert_records(
            &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
            0,
            0..20,
        );
    }
    // Reopening starts over from what is on disk.
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    assert!(log.health().is_healthy());
    let topic = log.topic("t").unwrap();
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..20,
    );
    assert_eq!(
        rt.block_on(append(topic.as_ref(), 0, records(20..21)))
            .unwrap(),
        Offset(20)
    );
}

#[test]
fn a_failed_interval_fsync_of_acked_records_stops_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(
        dir.path(),
        // Long enough that the append below is never fsynced inline (the interval counts
        // from the open), short enough for the test.
        config(FsyncPolicy::IntervalMs(2_000), SEGMENT_BYTES_MAX),
    )
    .unwrap();
    log.create_topic("t", 1).unwrap();
    let topic = log.embedded_topic("t").unwrap();
    topic
        .partition_handle(PartitionId(0))
        .inject_faults(super::writer::Faults {
            syncs: 1,
            ..Default::default()
        });
    // Acked before its fsync, as IntervalMs allows; the idle fsync then fails.
    rt.block_on(append(topic.as_ref(), 0, records(0..5)))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.health().is_healthy() {
        assert!(std::time::Instant::now() < deadline, "the idle fsync ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(
        log.health().problems[0].problem,
        PartitionProblem::Stopped { .. }
    ));
    assert!(rt
        .block_on(append(topic.as_ref(), 0, records(5..6)))
        .is_err());
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        0..5,
    );
}
