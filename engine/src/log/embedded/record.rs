//! The on-disk record framing. Encode and decode only; no I/O.
//!
//! ```text
//!  frame  = length:u32 crc:u32 body            (all integers little-endian)
//!  length = bytes after the length field (4 for the crc + the body)
//!  crc    = CRC-32 (IEEE, crc32fast) of the body
//!  body   = offset:u64 timestamp_ms:i64
//!           key_len:i32 key        (key_len = -1: null key)
//!           value_len:i32 value    (value_len = -1: null value, a tombstone)
//!           header_count:u32 { header_key_len:u32 header_key(UTF-8) header_value_len:i32 header_value }*
//! ```
//!
//! The offset is stored in every record so recovery and readers can check that offsets are
//! contiguous on disk (asserted on write and on read). Decoding returns [`Decoded::NeedMore`]
//! for a frame that is not wholly present (a torn write, or a read chunk that ended mid-frame)
//! and [`Decoded::Corrupt`] for one that is present but wrong; recovery truncates at either,
//! a reader only ever sees `NeedMore` at a chunk end.

use bytes::{Buf, Bytes};

use crate::log::{Offset, Record};

/// Largest frame (length field included) the log accepts, in bytes.
///
/// Kafka's default `message.max.bytes` is about 1 MiB; 8 MiB leaves room for large JSON rows
/// while keeping a garbage length field from making a reader allocate gigabytes.
pub const RECORD_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The length and CRC fields in front of every body.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

/// A body with null key, null value and no headers: offset, timestamp, two lengths, count.
pub(crate) const BODY_BYTES_MIN: usize = 8 + 8 + 4 + 4 + 4;

/// The length written for a null key or value, as in Kafka's record format.
const NULL_LEN: i32 = -1;

/// Outcome of decoding the frame at the start of a buffer.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A whole, valid frame of `frame_bytes` bytes.
    Record {
        offset: Offset,
        record: Record,
        frame_bytes: usize,
    },
    /// The buffer ends before the frame does: read more, or (at a file's end) a torn write.
    NeedMore,
    /// The frame is all there but invalid (bad CRC, impossible lengths, bad UTF-8).
    Corrupt(String),
}

/// The encoded size of `record`, length field included.
pub(crate) fn encoded_len(record: &Record) -> usize {
    let nullable = |b: &Option<Bytes>| 4 + b.as_ref().map_or(0, Bytes::len);
    let headers: usize = record
        .headers
        .iter()
        .map(|(k, v)| 4 + k.len() + nullable(v))
        .sum();
    FRAME_HEADER_BYTES + BODY_BYTES_MIN - 8
        + nullable(&record.key)
        + nullable(&record.value)
        + headers
}

/// Appends the frame for `record` at `offset` to `out`.
///
/// The caller checks `encoded_len(record) <= RECORD_BYTES_MAX` first (the append path rejects
/// larger records before they are queued).
pub(crate) fn encode(offset: Offset, record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_BYTES]); // patched below once the body is known
    out.extend_from_slice(&offset.0.to_le_bytes());
    out.extend_from_slice(&record.timestamp_ms.to_le_bytes());
    put_nullable(out, record.key.as_deref());
    put_nullable(out, record.value.as_deref());
    out.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
    for (key, value) in &record.headers {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        put_nullable(out, value.as_deref());
    }
    let body_start = start + FRAME_HEADER_BYTES;
    let length = (out.len() - start - 4) as u32;
    let crc = crc32fast::hash(&out[body_start..]);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..body_start].copy_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() - start, encoded_len(record));
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.extend_from_slice(&NULL_LEN.to_le_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// The whole frame's size (length field included) if at least the length field is present.
///
/// `None` also for a length beyond [`RECORD_BYTES_MAX`]: no buffer should grow for it, and
/// [`decode`] reports it as corrupt.
pub(crate) fn frame_len(buf: &[u8]) -> Option<usize> {
    let length = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let frame = length + 4;
    (frame <= RECORD_BYTES_MAX).then_some(frame)
}

/// Decodes the frame at the start of `buf`. Key, value and header values are slices of `buf`
/// (no copy); only header names (`String`) and the headers `Vec` allocate.
pub(crate) fn decode(buf: &Bytes) -> Decoded {
    if buf.len() < 4 {
        return Decoded::NeedMore;
    }
    let length = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if length < 4 + BODY_BYTES_MIN || length + 4 > RECORD_BYTES_MAX {
        return Decoded::Corrupt(format!("impossible record length {length}"));
    }
    let frame_bytes = length + 4;
    if buf.len() < frame_bytes {
        return Decoded::NeedMore;
    }
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let body = buf.slice(FRAME_HEADER_BYTES..frame_bytes);
    let actual = crc32fast::hash(&body);
    if crc != actual {
        return Decoded::Corrupt(format!(
            "crc mismatch: stored {crc:#010x}, computed {actual:#010x}"
        ));
    }
    match decode_body(body) {
        Ok((offset, record)) => Decoded::Record {
            offset,
            record,
            frame_bytes,
        },
        Err(reason) => Decoded::Corrupt(reason),
    }
}

fn decode_body(mut body: Bytes) -> std::result::Result<(Offset, Record), String> {
    // Lengths were covered by the CRC, so a failure here means a writer bug, not a torn write.
    let offset = Offset(body.get_u64_le());
    let timestamp_ms = body.get_i64_le();
    let key = take_nullable(&mut body)?;
    let value = take_nullable(&mut body)?;
    let header_count = take_u32(&mut body)? as usize;
    // Each header takes at least 8 bytes, which bounds the allocation by the body size.
    if header_count > body.remaining() / 8 {
        return Err(format!("header count {header_count} exceeds the record"));
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key_len = take_u32(&mut body)? as usize;
        let key = take_bytes(&mut body, key_len)?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| "header key is not UTF-8")?;
        headers.push((key, take_nullable(&mut body)?));
    }
    if body.has_remaining() {
        return Err(format!(
            "{} trailing bytes after the record",
            body.remaining()
        ));
    }
    Ok((
        offset,
        Record {
            key,
            value,
            timestamp_ms,
            headers,
        },
    ))
}

fn take_u32(body: &mut Bytes) -> std::result::Result<u32, String> {
    if body.remaining() < 4 {
        return Err("record body ends inside a length field".to_owned());
    }
    Ok(body.get_u32_le())
}

fn take_bytes(body: &mut Bytes, len: usize) -> std::result::Result<Bytes, String> {
    if body.remaining() < len {
        return Err(format!("field of {len} bytes exceeds the record"));
    }
    Ok(body.split_to(len))
}

fn take_nullable(body: &mut Bytes) -> std::result::Result<Option<Bytes>, String> {
    let len = take_u32(body)? as i32;
    match len {
        NULL_LEN => Ok(None),
        n if n < 0 => Err(format!("negative field length {n}")),
        n => take_bytes(body, n as usize).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> Record {
        Record {
            key: Some(Bytes::from_static(b"k1")),
            value: None,
            timestamp_ms: -5,
            headers: vec![
                ("h".to_owned(), Some(Bytes::from_static(b"v"))),
                ("null".to_owned(), None),
            ],
        }
    }

    #[test]
    fn round_trip_with_nulls_and_headers() {
        let mut buf = Vec::new();
        encode(Offset(42), &sample(), &mut buf);
        assert_eq!(buf.len(), encoded_len(&sample()));
        let bytes = Bytes::from(buf);
        match decode(&bytes) {
            Decoded::Record {
                offset,
                record,
                frame_bytes,
            } => {
                assert_eq!(offset, Offset(42));
                assert_eq!(record, sample());
                assert_eq!(frame_bytes, bytes.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_prefix_needs_more_and_every_flip_is_corrupt() {
        let mut buf = Vec::new();
        encode(Offset(7), &sample(), &mut buf);
        for cut in 0..buf.len() {
            let prefix = Bytes::copy_from_slice(&buf[..cut]);
            assert!(matches!(
                decode(&prefix),
                Decoded::NeedMore | Decoded::Corrupt(_)
            ));
            if cut >= 4 {
                // Past the length field a prefix is always "need more", never misread.
                assert!(matches!(decode(&prefix), Decoded::NeedMore), "cut at {cut}");
            }
        }
        for i in 4..buf.len() {
            let mut flipped = buf.clone();
            flipped[i] ^= 0x40;
            assert!(
                matches!(decode(&Bytes::from(flipped)), Decoded::Corrupt(_)),
                "flip at {i}"
            );
        }
    }

    #[test]
    fn decoded_fields_are_slices_of_the_input() {
        let mut buf = Vec::new();
        let record = Record {
            value: Some(Bytes::from_static(b"value")),
            ..sample()
        };
        encode(Offset(1), &record, &mut buf);
        let bytes = Bytes::from(buf);
        let Decoded::Record { record, .. } = decode(&bytes) else {
            panic!("decodes")
        };
        let value = record.value.expect("value");
        let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
        assert!(
            range.contains(&(value.as_ptr() as usize)),
            "zero-copy slice"
        );
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64));
        (
            bytes(),
            bytes(),
            any::<i64>(),
            proptest::collection::vec(("[a-z]{0,8}", bytes()), 0..4),
        )
            .prop_map(|(key, value, timestamp_ms, headers)| Record {
                key: key.map(Bytes::from),
                value: value.map(Bytes::from),
                timestamp_ms,
                headers: headers
                    .into_iter()
                    .map(|(k, v)| (k, v.map(Bytes::from)))
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn round_trip_any_record(record in arb_record(), offset in any::<u64>()) {
            let mut buf = Vec::new();
            encode(Offset(offset), &record, &mut buf);
            let bytes = Bytes::from(buf);
            match decode(&bytes) {
                Decoded::Record { offset: o, record: r, frame_bytes } => {
                    prop_assert_eq!(o, Offset(offset));
                    prop_assert_eq!(r, record);
                    prop_assert_eq!(frame_bytes, bytes.len());
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
