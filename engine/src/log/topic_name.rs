//! Topic names and partition counts a backend accepts: Kafka's rules, the same for the
//! embedded log and the Kafka log, so a stream that works on one works on the other.

use crate::error::{EngineError, Result};
use crate::log::api::TOPIC_PARTITIONS_MAX;

/// Longest topic name, as in Kafka (`Topic.MAX_NAME_LENGTH`: 249, so that the partition
/// directory name `<topic>-<partition>` fits a 255-byte file name).
pub const TOPIC_NAME_CHARS_MAX: usize = 249;

/// Kafka's topic name rules (`org.apache.kafka.common.internals.Topic.validate`).
pub fn validate_topic_name(name: &str) -> Result<()> {
    let invalid = |why: String| Err(EngineError::statement(why));
    if name.is_empty() {
        return invalid("Topic name is illegal, it can't be empty".to_owned());
    }
    if name == "." || name == ".." {
        return invalid("Topic name cannot be \".\" or \"..\"".to_owned());
    }
    if name.len() > TOPIC_NAME_CHARS_MAX {
        return invalid(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_CHARS_MAX} characters, \
             topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII \
             alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks a topic about to be created: its name, and a partition count within
/// [`TOPIC_PARTITIONS_MAX`].
pub fn validate_new_topic(name: &str, partitions: u32) -> Result<()> {
    validate_topic_name(name)?;
    if partitions == 0 || partitions > TOPIC_PARTITIONS_MAX {
        return Err(EngineError::statement(format!(
            "Invalid number of partitions {partitions} for topic '{name}': \
             must be between 1 and {TOPIC_PARTITIONS_MAX}"
        )));
    }
    Ok(())
}
