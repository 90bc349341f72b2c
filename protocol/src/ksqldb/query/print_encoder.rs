//! PRINT output: plain text lines, as ksqlDB's `TopicStreamWriter` and `RecordFormatter`
//! write them (ksqlDB docs, "PRINT"; `ksqldb-rest-app` streaming resources):
//!
//! ```text
//! Key format: KAFKA_STRING
//! Value format: JSON or KAFKA_STRING
//! rowtime: 2021/01/01 00:00:00.000 Z, key: k1, value: {"A":1}, partition: 0
//! ```
//!
//! ksqlDB does not know a topic's formats, so it guesses: each side keeps a list of
//! candidate formats, drops every candidate that fails to read a record it prints, and
//! shows each record with the first candidate still standing that reads it. The
//! `Key format:`/`Value format:` lines are written before a batch's records whenever the
//! candidate list changed. Keys also try the windowed wrappers `SESSION(f)`, `HOPPING(f)`
//! and `TUMBLING(f)`, which is why long string keys show as `HOPPING(KAFKA_STRING) or
//! TUMBLING(KAFKA_STRING) or KAFKA_STRING` there too. Sluice has no Schema Registry, so the
//! AVRO, PROTOBUF and JSON_SR candidates (which ksqlDB drops at the first record without
//! one) are left out from the start.

use sluice_engine::codec::civil_from_days;
use sluice_engine::codec::java_double_string;
use sluice_engine::StoredRecord;

/// Kafka's `ConsumerRecord.NO_TIMESTAMP`, printed as `N/A`.
const NO_TIMESTAMP: i64 = -1;

/// Bytes of a Kafka Streams window start or end (a big-endian i64).
const WINDOW_BOUND_BYTES: usize = 8;

/// Shown while only null keys (or values) have been seen.
const NO_DATA: &str = "¯\\_(ツ)_/¯ - no data processed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Json,
    KafkaInt,
    KafkaBigint,
    KafkaDouble,
    KafkaString,
    /// Never fails; never listed as a possible format.
    UnrecognisedBytes,
}

impl Base {
    const READABLE: [Base; 5] = [
        Base::Json,
        Base::KafkaInt,
        Base::KafkaBigint,
        Base::KafkaDouble,
        Base::KafkaString,
    ];

    fn name(self) -> &'static str {
        match self {
            Base::Json => "JSON",
            Base::KafkaInt => "KAFKA_INT",
            Base::KafkaBigint => "KAFKA_BIGINT",
            Base::KafkaDouble => "KAFKA_DOUBLE",
            Base::KafkaString => "KAFKA_STRING",
            Base::UnrecognisedBytes => "UNRECOGNISED_BYTES",
        }
    }

    fn read(self, data: &[u8]) -> Option<String> {
        match self {
            Base::Json => {
                let text = utf8_text(data)?;
                serde_json::from_str::<serde::de::IgnoredAny>(&text).ok()?;
                Some(text)
            }
            Base::KafkaInt => Some(i32::from_be_bytes(data.try_into().ok()?).to_string()),
            Base::KafkaBigint => Some(i64::from_be_bytes(data.try_into().ok()?).to_string()),
            Base::KafkaDouble => Some(java_double_string(f64::from_be_bytes(
                data.try_into().ok()?,
            ))),
            Base::KafkaString => utf8_text(data),
            Base::UnrecognisedBytes => Some(kafka_bytes_text(data)),
        }
    }
}

/// Non-empty text without U+FFFD after lossy decoding (ksqlDB's string and JSON readers
/// refuse both, so binary data is not mistaken for text).
fn utf8_text(data: &[u8]) -> Option<String> {
    if data.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(data);
    (!text.contains('\u{FFFD}')).then(|| text.into_owned())
}

/// Kafka's `Bytes.toString`: printable ASCII as is (except `\`), everything else `\xNN`.
fn kafka_bytes_text(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len());
    for &b in data {
        if (b' '..=b'~').contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Key bytes, then end and start (Kafka Streams' session key layout).
    Session,
    /// Key bytes, then the window start; the end is not stored.
    Hopping,
    Tumbling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Candidate {
    window: Option<Window>,
    base: Base,
}

impl Candidate {
    fn name(self) -> String {
        match self.window {
            None => self.base.name().to_string(),
            Some(Window::Session) => format!("SESSION({})", self.base.name()),
            Some(Window::Hopping) => format!("HOPPING({})", self.base.name()),
            Some(Window::Tumbling) => format!("TUMBLING({})", self.base.name()),
        }
    }

    fn read(self, data: &[u8]) -> Option<String> {
        let Some(window) = self.window else {
            return self.base.read(data);
        };
        let bound = |at: usize| {
            i64::from_be_bytes(
                data[at..at + WINDOW_BOUND_BYTES]
                    .try_into()
                    .expect("8 bytes"),
            )
        };
        match window {
            Window::Session => {
                let key_len = data.len().checked_sub(2 * WINDOW_BOUND_BYTES)?;
                let key = self.base.read(&data[..key_len])?;
                let end = bound(key_len);
                let start = bound(key_len + WINDOW_BOUND_BYTES);
                Some(format!("[{key}@{start}/{end}]"))
            }
            Window::Hopping | Window::Tumbling => {
                let key_len = data.len().checked_sub(WINDOW_BOUND_BYTES)?;
                let key = self.base.read(&data[..key_len])?;
                Some(format!("[{key}@{}/-]", bound(key_len)))
            }
        }
    }
}

/// One side's (key or value) surviving candidate formats.
#[derive(Debug)]
struct FormatGuess {
    candidates: Vec<Candidate>,
    seen_data: bool,
    /// The list last written as a `… format:` line.
    shown: Option<Vec<String>>,
}

impl FormatGuess {
    fn new(windowed: bool) -> FormatGuess {
        let mut candidates = Vec::new();
        for base in Base::READABLE {
            if windowed {
                for window in [Window::Session, Window::Hopping, Window::Tumbling] {
                    candidates.push(Candidate {
                        window: Some(window),
                        base,
                    });
                }
            }
            candidates.push(Candidate { window: None, base });
        }
        candidates.push(Candidate {
            window: None,
            base: Base::UnrecognisedBytes,
        });
        FormatGuess {
            candidates,
            seen_data: false,
            shown: None,
        }
    }

    /// Renders one key or value, dropping candidates that cannot read it.
    fn format(&mut self, data: Option<&[u8]>) -> String {
        let Some(data) = data else {
            return "<null>".to_string();
        };
        self.seen_data = true;
        let mut first = None;
        self.candidates.retain(|c| match c.read(data) {
            Some(text) => {
                first.get_or_insert(text);
                true
            }
            None => false,
        });
        first.unwrap_or_else(|| "<Failed to deserialize>".to_string())
    }

    fn possible(&self) -> Vec<String> {
        if !self.seen_data {
            return vec![NO_DATA.to_string()];
        }
        self.candidates
            .iter()
            .filter(|c| c.base != Base::UnrecognisedBytes)
            .map(|c| c.name())
            .collect()
    }

    /// Writes `prefix` and the candidate list if it changed since last written.
    fn write_if_changed(&mut self, prefix: &str, out: &mut Vec<u8>) {
        let now = self.possible();
        if self.shown.as_ref() == Some(&now) {
            return;
        }
        out.extend_from_slice(prefix.as_bytes());
        if now.is_empty() {
            out.extend_from_slice(
                b" does not match any supported format. It may be a STRING with encoding \
                  other than UTF8, or some other format.\n",
            );
        } else {
            out.extend_from_slice(now.join(" or ").as_bytes());
            out.push(b'\n');
        }
        self.shown = Some(now);
    }
}

/// Turns PRINT's records into text. One per PRINT: the format guesses carry over batches.
#[derive(Debug)]
pub struct PrintEncoder {
    keys: FormatGuess,
    values: FormatGuess,
    lines: Vec<u8>,
}

impl Default for PrintEncoder {
    fn default() -> PrintEncoder {
        PrintEncoder::new()
    }
}

impl PrintEncoder {
    pub fn new() -> PrintEncoder {
        PrintEncoder {
            keys: FormatGuess::new(true),
            values: FormatGuess::new(false),
            lines: Vec::new(),
        }
    }

    /// One batch: the format lines if the guesses changed, then one line per record.
    pub fn records(&mut self, records: &[StoredRecord], out: &mut Vec<u8>) {
        self.lines.clear();
        for r in records {
            let key = self.keys.format(r.record.key.as_deref());
            let value = self.values.format(r.record.value.as_deref());
            self.lines.extend_from_slice(b"rowtime: ");
            self.lines
                .extend_from_slice(format_rowtime(r.record.timestamp_ms).as_bytes());
            self.lines.extend_from_slice(b", key: ");
            self.lines.extend_from_slice(key.as_bytes());
            self.lines.extend_from_slice(b", value: ");
            self.lines.extend_from_slice(value.as_bytes());
            self.lines.extend_from_slice(b", partition: ");
            self.lines
                .extend_from_slice(r.partition.0.to_string().as_bytes());
            self.lines.push(b'\n');
        }
        if records.is_empty() {
            return;
        }
        self.keys.write_if_changed("Key format: ", out);
        self.values.write_if_changed("Value format: ", out);
        out.extend_from_slice(&self.lines);
    }

    /// ksqlDB writes an empty line whenever a poll found nothing, which keeps idle
    /// connections alive and reveals a client that has gone.
    pub fn idle(out: &mut Vec<u8>) {
        out.push(b'\n');
    }

    /// A failure after output began: its message on a line of its own, then the end.
    pub fn error(message: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(message.as_bytes());
        out.push(b'\n');
    }
}

/// `yyyy/MM/dd HH:mm:ss.SSS Z` in UTC, as ksqlDB's `RecordFormatter` prints ROWTIME.
pub fn format_rowtime(epoch_ms: i64) -> String {
    if epoch_ms == NO_TIMESTAMP {
        return "N/A".to_string();
    }
    const MS_PER_DAY: i64 = 86_400_000;
    let (y, mo, d) = civil_from_days(epoch_ms.div_euclid(MS_PER_DAY));
    let ms = epoch_ms.rem_euclid(MS_PER_DAY);
    format!(
        "{y:04}/{mo:02}/{d:02} {:02}:{:02}:{:02}.{:03} Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sluice_engine::{Offset, PartitionId, Record};

    fn rec(key: Option<&[u8]>, value: Option<&[u8]>, ts: i64, p: u32) -> StoredRecord {
        StoredRecord {
            partition: PartitionId(p),
            offset: Offset(0),
            record: Record {
                key: key.map(Bytes::copy_from_slice),
                value: value.map(Bytes::copy_from_slice),
                timestamp_ms: ts,
                headers: vec![],
            },
        }
    }

    fn print(batches: &[Vec<StoredRecord>]) -> String {
        let mut enc = PrintEncoder::new();
        let mut out = Vec::new();
        for b in batches {
            enc.records(b, &mut out);
        }
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn rowtime() {
        assert_eq!(format_rowtime(0), "1970/01/01 00:00:00.000 Z");
        assert_eq!(
            format_rowtime(1_609_459_200_123),
            "2021/01/01 00:00:00.123 Z"
        );
        assert_eq!(format_rowtime(-1), "N/A");
    }

    #[test]
    fn string_keys_and_json_values() {
        assert_eq!(
            print(&[vec![
                rec(Some(b"a"), Some(br#"{"A":1}"#), 0, 0),
                rec(Some(b"b"), Some(br#"{"A":2}"#), 1000, 1),
            ]]),
            "Key format: KAFKA_STRING\n\
             Value format: JSON or KAFKA_STRING\n\
             rowtime: 1970/01/01 00:00:00.000 Z, key: a, value: {\"A\":1}, partition: 0\n\
             rowtime: 1970/01/01 00:00:01.000 Z, key: b, value: {\"A\":2}, partition: 1\n"
        );
    }

    #[test]
    fn numbers_nulls_and_binary() {
        // A 4-byte key reads as KAFKA_INT, and also as a string: NUL and control bytes are
        // valid UTF-8, so ksqlDB cannot rule KAFKA_STRING out either.
        let out = print(&[vec![rec(Some(&7i32.to_be_bytes()), None, 0, 0)]]);
        assert_eq!(
            out,
            "Key format: KAFKA_INT or KAFKA_STRING\n\
             Value format: ¯\\_(ツ)_/¯ - no data processed\n\
             rowtime: 1970/01/01 00:00:00.000 Z, key: 7, value: <null>, partition: 0\n"
        );
        let out = print(&[vec![rec(None, Some(&[0xff, 0x00, b'\\']), 0, 0)]]);
        assert!(
            out.contains("Value format:  does not match any supported format."),
            "{out}"
        );
        assert!(out.contains("value: \\xFF\\x00\\x5C,"), "{out}");
    }

    #[test]
    fn long_string_keys_look_windowed_and_lines_repeat_only_on_change() {
        let out = print(&[
            vec![rec(Some(b"hello world"), Some(b"1"), 0, 0)],
            vec![rec(Some(b"hello world"), Some(b"2"), 0, 0)],
            vec![rec(Some(b"hi"), Some(b"x"), 0, 0)],
        ]);
        let start = i64::from_be_bytes(*b"lo world");
        assert_eq!(
            out,
            format!(
                "Key format: HOPPING(KAFKA_STRING) or TUMBLING(KAFKA_STRING) or KAFKA_STRING\n\
                 Value format: JSON or KAFKA_STRING\n\
                 rowtime: 1970/01/01 00:00:00.000 Z, key: [hel@{start}/-], value: 1, partition: 0\n\
                 rowtime: 1970/01/01 00:00:00.000 Z, key: [hel@{start}/-], value: 2, partition: 0\n\
                 Key format: KAFKA_STRING\n\
                 Value format: KAFKA_STRING\n\
                 rowtime: 1970/01/01 00:00:00.000 Z, key: hi, value: x, partition: 0\n"
            )
        );
    }
}
