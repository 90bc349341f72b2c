//! Deleting every record of a topic (Kafka's `DeleteRecords` to the end; KalamDB's `CLEAR
//! TOPIC`): the start offset becomes the end, readers behind it skip to it, new records get
//! the next offsets (none reused), and all of it holds across a restart.

use super::*;
use crate::ErrorCode;

#[test]
fn every_record_goes_and_offsets_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let partition_dir = dir.path().join("topics/t/0");
    {
        // Segments of ~10 records: the records span sealed segments and the active one.
        let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, 600)).unwrap();
        let topic = log.create_topic("t", 2).unwrap();
        rt.block_on(async {
            for i in 0..25 {
                append(topic.as_ref(), 0, records(i..i + 1)).await.unwrap();
            }
        });
        assert!(segment_files(&partition_dir).len() >= 3);
        let mut reader = topic.cursor(PartitionId(0), StartPosition::Earliest).unwrap();
        let mut first = Vec::new();
        reader.read(&mut first, 3).unwrap();
        assert_records(&first, 0, 0..3);

        log.delete_records("t").unwrap();
        assert_eq!(topic.start_offset(PartitionId(0)), Offset(25));
        assert_eq!(topic.end_offset(PartitionId(0)), Offset(25));
        assert_eq!(topic.start_offset(PartitionId(1)), Offset(0), "nothing to delete");
        assert_eq!(
            segment_files(&partition_dir).len(),
            1,
            "only the new, empty active segment"
        );
        // The reader in the middle skips to the start; new records continue the offsets.
        assert!(drain(reader.as_mut()).is_empty());
        rt.block_on(async {
            append(topic.as_ref(), 0, records(25..27)).await.unwrap();
        });
        assert_records(&drain(reader.as_mut()), 0, 25..27);
        let mut fresh = topic.cursor(PartitionId(0), StartPosition::Earliest).unwrap();
        assert_records(&drain(fresh.as_mut()), 0, 25..27);

        // Deleting again, right after: only the two new records go.
        log.delete_records("t").unwrap();
        assert_eq!(topic.start_offset(PartitionId(0)), Offset(27));
        let missing = log.delete_records("nope").unwrap_err();
        assert_eq!(missing.code(), ErrorCode::NotFound);
    }
    // After a restart: still deleted, and offsets still carry on.
    let log = EmbeddedLog::open(dir.path(), config(FsyncPolicy::Always, 600)).unwrap();
    let topic = log.topic("t").unwrap();
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(27));
    assert_eq!(topic.end_offset(PartitionId(0)), Offset(27));
    let mut reader = topic.cursor(PartitionId(0), StartPosition::Earliest).unwrap();
    assert!(drain(reader.as_mut()).is_empty());
    rt.block_on(async {
        append(topic.as_ref(), 0, records(27..28)).await.unwrap();
    });
    assert_records(&drain(reader.as_mut()), 0, 27..28);
}
