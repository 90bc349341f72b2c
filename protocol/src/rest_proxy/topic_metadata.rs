//! Topic listing, description and creation bodies:
//!
//! ```text
//! GET  /topics          ["a","b"]                      (names, sorted; REST Proxy v2)
//! GET  /topics/{name}   {"name":"a","partitions":[{"partition":0,"startOffset":0,"endOffset":3}]}
//! POST /topics          {"name":"a","partitions":2}    (request)
//! ```

use serde::{Deserialize, Serialize};

use crate::error::ProtocolError;

pub fn encode_topic_list(mut names: Vec<String>) -> Vec<u8> {
    names.sort();
    serde_json::to_vec(&names).expect("strings serialize")
}

/// One partition's stored offset range: `[start_offset, end_offset)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartitionRange {
    pub partition: u32,
    #[serde(rename = "startOffset")]
    pub start_offset: u64,
    #[serde(rename = "endOffset")]
    pub end_offset: u64,
}

pub fn encode_topic(name: &str, partitions: &[PartitionRange]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Topic<'a> {
        name: &'a str,
        partitions: &'a [PartitionRange],
    }
    serde_json::to_vec(&Topic { name, partitions }).expect("a topic serializes")
}

/// `POST /topics`. `partitions` defaults to 1.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct CreateTopicRequest {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
}

fn one() -> u32 {
    1
}

impl CreateTopicRequest {
    pub fn decode(body: &[u8]) -> Result<CreateTopicRequest, ProtocolError> {
        let text = crate::json_body::json_text(body)?;
        serde_json::from_str(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ProtocolError::InvalidRecord(e.to_string()),
            _ => ProtocolError::InvalidJson(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            encode_topic_list(vec!["b".into(), "a".into()]),
            br#"["a","b"]"#.to_vec()
        );
        assert_eq!(
            encode_topic(
                "t",
                &[PartitionRange {
                    partition: 0,
                    start_offset: 0,
                    end_offset: 3
                }]
            ),
            br#"{"name":"t","partitions":[{"partition":0,"startOffset":0,"endOffset":3}]}"#
                .to_vec()
        );
        assert_eq!(
            CreateTopicRequest::decode(br#"{"name":"t"}"#).expect("valid"),
            CreateTopicRequest {
                name: "t".into(),
                partitions: 1
            }
        );
        assert!(CreateTopicRequest::decode(br#"{"partitions":1}"#).is_err());
    }
}
