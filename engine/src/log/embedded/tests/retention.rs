//! A topic's `retention.ms` on the embedded log: expired segments go, oldest first, the
//! start offset moves past them, readers behind it skip to it, and it all holds across a
//! restart. A compacted topic (a table's) loses nothing.

use std::time::Instant;

use super::*;

/// Segments of ~10 records, retention checked every 20 ms.
fn retention_config() -> LogConfig {
    LogConfig {
        retention_check_interval_ms: 20,
        ..config(FsyncPolicy::Always, 600)
    }
}

fn retained(ms: u64) -> TopicConfig {
    TopicConfig {
        retention_ms: Some(ms),
        compacted: false,
    }
}

/// Waits (bounded) until partition 0 starts at `offset`.
fn wait_for_start(topic: &dyn TopicLog, offset: Offset) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while topic.start_offset(PartitionId(0)) != offset {
        assert!(
            Instant::now() < deadline,
            "start offset stayed at {:?}, expected {offset:?}",
            topic.start_offset(PartitionId(0))
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn expired_segments_are_deleted_and_readers_skip_to_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(dir.path(), retention_config()).unwrap();
    let topic = log.create_topic_with("t", 1, retained(300)).unwrap();
    let partition_dir = dir.path().join("topics/t/0");
    rt.block_on(async {
        for i in 0..40 {
            append(topic.as_ref(), 0, records(i..i + 1)).await.unwrap();
        }
    });
    let sealed = segment_files(&partition_dir).len() - 1;
    assert!(sealed >= 3, "the test needs several sealed segments, got {sealed}");
    // A reader that has read a little of the first segment, and one that has read nothing.
    let mut reading = topic.cursor(PartitionId(0), StartPosition::Earliest).unwrap();
    let mut first = Vec::new();
    reading.read(&mut first, 5).unwrap();
    assert_records(&first, 0, 0..5);
    let mut idle = topic.cursor(PartitionId(0), StartPosition::Earliest).unwrap();

    // Young segments stay; once older than the retention they go, the active one too after
    // the next append rolls it (it is older than the retention by then).
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(0));
    std::thread::sleep(Duration::from_millis(400));
    rt.block_on(async {
        append(topic.as_ref(), 0, records(40..41)).await.unwrap();
    });
    wait_for_start(topic.as_ref(), Offset(40));
    // The start moves before the files go: wait for the writer to finish removing them.
    let files_left = || {
        std::fs::read_dir(&partition_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "index"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while files_left() != 1 {
        assert!(Instant::now() < deadline, "{} segment files left", files_left());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(segment_files(&partition_dir).len(), 1, "only the new active segment");
    assert_records(&drain(reading.as_mut()), 0, 40..41);
    assert_records(&drain(idle.as_mut()), 0, 40..41);
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::At(Offset(3))),
        0,
        40..41,
    );
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(41));

    // After a restart: the same start, the retention still applies, offsets continue.
    drop((reading, idle, topic));
    drop(log);
    let log = EmbeddedLog::open(dir.path(), retention_config()).unwrap();
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(40));
    rt.block_on(async {
        assert_eq!(
            append(topic.as_ref(), 0, records(41..42)).await.unwrap(),
            Offset(41)
        );
    });
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        40..42,
    );
    std::thread::sleep(Duration::from_millis(400));
    rt.block_on(async {
        append(topic.as_ref(), 0, records(42..43)).await.unwrap();
    });
    wait_for_start(topic.as_ref(), Offset(42));
}

#[test]
fn topics_without_retention_and_compacted_topics_keep_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(dir.path(), retention_config()).unwrap();
    let plain = log.create_topic("plain", 1).unwrap();
    let compacted = TopicConfig {
        retention_ms: Some(50),
        compacted: true,
    };
    let table = log.create_topic_with("table", 1, compacted).unwrap();
    // Written alike with a retention: once it has lost its old segments, retention has had
    // its chance at the other two (so their assertions below can fail).
    let control = log.create_topic_with("control", 1, retained(50)).unwrap();
    rt.block_on(async {
        for topic in [&plain, &table, &control] {
            for i in 0..30 {
                append(topic.as_ref(), 0, records(i..i + 1)).await.unwrap();
            }
        }
    });
    // Ages every segment past the 50 ms retention (it is measured in wall-clock time).
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(async {
        for topic in [&plain, &table, &control] {
            append(topic.as_ref(), 0, records(30..31)).await.unwrap();
        }
    });
    wait_for_start(control.as_ref(), Offset(30));
    for topic in [&plain, &table] {
        assert_eq!(topic.start_offset(PartitionId(0)), Offset(0));
        assert_records(
            &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
            0,
            0..31,
        );
    }
    // The configs are the topic's, kept with it.
    drop((plain, table, control));
    drop(log);
    let meta = |name: &str| std::fs::read_to_string(dir.path().join("topics").join(name).join("topic.meta")).unwrap();
    assert_eq!(meta("plain"), "partitions=1\n");
    assert_eq!(
        meta("table"),
        "partitions=1\nretention.ms=50\ncleanup.policy=compact\n"
    );
}

/// A partition nobody writes to after a restart still expires its old segments: the
/// writer's timer is armed when the partition opens, not only by a write.
#[test]
fn an_idle_partition_expires_its_segments_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let log = EmbeddedLog::open(dir.path(), retention_config()).unwrap();
    let topic = log.create_topic_with("t", 1, retained(200)).unwrap();
    rt.block_on(async {
        for i in 0..40 {
            append(topic.as_ref(), 0, records(i..i + 1)).await.unwrap();
        }
    });
    drop(topic);
    drop(log);
    let last_base = segment_files(&dir.path().join("topics/t/0"))
        .last()
        .and_then(|p| p.file_stem()?.to_str()?.parse::<u64>().ok())
        .expect("a segment");
    assert!(last_base > 0, "the test needs sealed segments");
    std::thread::sleep(Duration::from_millis(300));
    let log = EmbeddedLog::open(dir.path(), retention_config()).unwrap();
    let topic = log.topic("t").unwrap();
    wait_for_start(topic.as_ref(), Offset(last_base));
    assert_records(
        &read_partition(topic.as_ref(), 0, StartPosition::Earliest),
        0,
        last_base..40,
    );
}
