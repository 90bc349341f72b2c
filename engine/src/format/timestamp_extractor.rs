//! ROWTIME from a `TIMESTAMP=` column.
//!
//! ksqlDB takes a source's timestamp column when a query *consumes* the source (its
//! `TimestampExtractionPolicy` runs as the Kafka Streams timestamp extractor), and a sink's
//! when the query *produces* the output record (`SinkBuilder`'s timestamp transformer). On
//! both sides a value that yields no valid timestamp (null, negative, or text the
//! `TIMESTAMP_FORMAT` cannot parse) makes ksqlDB log the problem and skip the record,
//! since `ksql.timestamp.throw.on.invalid` defaults to false and Kafka refuses negative
//! timestamps (QTT `timestamp-extractor.json`, `timestampformat.json`).

use crate::catalog::Source;
use crate::error::Result;
use crate::expr::TimestampFormat;
use crate::types::Value;

/// Reads a record timestamp out of one column of a row.
#[derive(Debug, Clone)]
pub(crate) struct TimestampExtractor {
    /// The column's position in the schema of the source or sink.
    column: usize,
    /// How to parse a STRING column; `None` for BIGINT and TIMESTAMP columns.
    format: Option<TimestampFormat>,
}

impl TimestampExtractor {
    /// Fails when `pattern` is not a valid `TIMESTAMP_FORMAT`.
    pub(crate) fn check_format(pattern: &str) -> Result<()> {
        TimestampFormat::compile(pattern).map(|_| ())
    }

    /// The extractor for `source`'s `TIMESTAMP=` column, if it has one.
    pub(crate) fn for_source(source: &Source) -> Option<TimestampExtractor> {
        let name = source.timestamp_column.as_deref()?;
        let (column, _) = source.schema.find(name)?;
        let format = match source.timestamp_format.as_deref() {
            // Validated by CREATE; a stored pattern that no longer compiles would be a bug.
            Some(p) => Some(TimestampFormat::compile(p).ok()?),
            None => None,
        };
        Some(TimestampExtractor { column, format })
    }

    /// The column's position in the schema the extractor was built for.
    pub(crate) fn column(&self) -> usize {
        self.column
    }

    /// The timestamp `value` (the column's value) stands for, or why it stands for none.
    pub(crate) fn extract(&self, value: &Value) -> std::result::Result<i64, String> {
        let ms = match (value, &self.format) {
            (Value::Null, _) => return Err("the timestamp column is null".into()),
            (Value::BigInt(ms) | Value::Timestamp(ms), _) => *ms,
            (Value::String(text), Some(format)) => format
                .parse_ms(text)
                .map_err(|e| format!("cannot parse timestamp '{text}': {e}"))?,
            (other, _) => return Err(format!("not a timestamp: {other:?}")),
        };
        if ms < 0 {
            return Err(format!("negative timestamp {ms}"));
        }
        Ok(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor(format: Option<&str>) -> TimestampExtractor {
        TimestampExtractor {
            column: 0,
            format: format.map(|p| TimestampFormat::compile(p).unwrap()),
        }
    }

    #[test]
    fn numeric_columns_are_epoch_millis() {
        let e = extractor(None);
        assert_eq!(
            e.extract(&Value::BigInt(1_526_075_913_000)),
            Ok(1_526_075_913_000)
        );
        assert_eq!(e.extract(&Value::Timestamp(3)), Ok(3));
        assert_eq!(e.extract(&Value::BigInt(0)), Ok(0));
    }

    #[test]
    fn null_and_negative_timestamps_are_invalid() {
        let e = extractor(None);
        assert!(e.extract(&Value::Null).is_err());
        assert!(e.extract(&Value::BigInt(-1)).is_err());
    }

    #[test]
    fn strings_parse_with_the_timestamp_format() {
        let e = extractor(Some("yyyy-MM-dd'T'HH:mm:ssX"));
        assert_eq!(
            e.extract(&Value::String("2018-05-11T21:58:33Z".into())),
            Ok(1_526_075_913_000)
        );
        assert!(e.extract(&Value::String("not a timestamp".into())).is_err());
        let e = extractor(Some("yyyy-MM-dd'T'HH:mm:ss.SX"));
        assert_eq!(
            e.extract(&Value::String("2019-08-27T13:31:09.2+0000".into())),
            Ok(1_566_912_669_200)
        );
    }
}
