//! `GET /topics/{name}/partitions/{p}/records?offset=N&limit=M`: the query string in, the
//! committed records out, with key, value and header values in base64:
//!
//! ```text
//! {"records":[{"partition":0,"offset":0,"timestamp":1,"key":"<base64>"|null,"value":"<base64>"|null,
//!              "headers":[{"key":"h","value":"<base64>"|null}]}],"nextOffset":1}
//! ```

use sluice_engine::codec::{write_base64_string, write_i64, write_json_string};
use sluice_engine::StoredRecord;

use super::{READ_RECORDS_DEFAULT, READ_RECORDS_MAX};
use crate::error::ProtocolError;

/// Where to start and how many records to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsQuery {
    /// `None`: the partition's first stored offset.
    pub offset: Option<u64>,
    /// At most [`READ_RECORDS_MAX`].
    pub limit: usize,
}

impl RecordsQuery {
    /// Parses `offset=N&limit=M` (both optional; unknown parameters are ignored). A limit
    /// above [`READ_RECORDS_MAX`] is capped rather than refused, so clients can ask for
    /// "everything" and page.
    pub fn parse(query: Option<&str>) -> Result<RecordsQuery, ProtocolError> {
        let mut parsed = RecordsQuery {
            offset: None,
            limit: READ_RECORDS_DEFAULT,
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    ProtocolError::InvalidRecord(format!(
                        "Query parameter {name} must be a non-negative integer, got '{value}'"
                    ))
                })
            };
            match name {
                "offset" => parsed.offset = Some(number()?),
                "limit" => {
                    parsed.limit = usize::try_from(number()?)
                        .unwrap_or(usize::MAX)
                        .min(READ_RECORDS_MAX)
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// `next_offset` is the offset after the last record returned, or where reading started
/// when nothing was there yet.
pub fn encode_records(records: &[StoredRecord], next_offset: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + records.len() * 128);
    out.extend_from_slice(b"{\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"partition\":");
        write_i64(i64::from(r.partition.0), &mut out);
        out.extend_from_slice(b",\"offset\":");
        write_i64(i64::try_from(r.offset.0).unwrap_or(i64::MAX), &mut out);
        out.extend_from_slice(b",\"timestamp\":");
        write_i64(r.record.timestamp_ms, &mut out);
        out.extend_from_slice(b",\"key\":");
        write_optional_base64(r.record.key.as_deref(), &mut out);
        out.extend_from_slice(b",\"value\":");
        write_optional_base64(r.record.value.as_deref(), &mut out);
        out.extend_from_slice(b",\"headers\":[");
        for (j, (name, value)) in r.record.headers.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"key\":");
            write_json_string(name, &mut out);
            out.extend_from_slice(b",\"value\":");
            write_optional_base64(value.as_deref(), &mut out);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"],\"nextOffset\":");
    write_i64(i64::try_from(next_offset).unwrap_or(i64::MAX), &mut out);
    out.push(b'}');
    out
}

fn write_optional_base64(bytes: Option<&[u8]>, out: &mut Vec<u8>) {
    match bytes {
        Some(b) => write_base64_string(b, out),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sluice_engine::{Offset, PartitionId, Record};

    #[test]
    fn query_string() {
        assert_eq!(
            RecordsQuery::parse(None).expect("valid"),
            RecordsQuery {
                offset: None,
                limit: READ_RECORDS_DEFAULT
            }
        );
        assert_eq!(
            RecordsQuery::parse(Some("offset=5&limit=999999999&x=1")).expect("valid"),
            RecordsQuery {
                offset: Some(5),
                limit: READ_RECORDS_MAX
            }
        );
        assert!(RecordsQuery::parse(Some("offset=-1")).is_err());
    }

    #[test]
    fn shape() {
        let r = StoredRecord {
            partition: PartitionId(2),
            offset: Offset(4),
            record: Record {
                key: Some(Bytes::from_static(b"k")),
                value: None,
                timestamp_ms: 1000,
                headers: vec![("h".into(), Some(Bytes::from_static(&[0xff])))],
            },
        };
        assert_eq!(
            std::str::from_utf8(&encode_records(&[r], 5)).expect("utf8"),
            r#"{"records":[{"partition":2,"offset":4,"timestamp":1000,"key":"aw==","value":null,"headers":[{"key":"h","value":"/w=="}]}],"nextOffset":5}"#
        );
    }
}
