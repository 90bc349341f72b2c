//! Date and time functions (`udf/datetime/*.java`).
//!
//! Patterns and zones are Java's (see `java_time`). The legacy BIGINT/INT forms
//! (`STRINGTOTIMESTAMP`, `TIMESTAMPTOSTRING`, `STRINGTODATE`, `DATETOSTRING`) use the
//! JVM's default zone in ksqlDB; a server runs in UTC here, so they use UTC. The unit
//! argument of `TIMESTAMPADD(SECONDS, …)` and friends arrives as a STRING (the compiler
//! turns the unit keyword into one).

use std::borrow::Cow;

use super::java_time::{parse_zone, Pattern, Zone};
use super::{
    arg, def, fixed, int_arg, long_arg, sig, str_arg, user_err, ArgType, EvalFn, FunctionDef,
    Signature,
};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

use SqlType as T;

const MS_PER_DAY: i64 = 86_400_000;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("CONVERT_TZ", |a| {
        fixed(
            a,
            &[T::Timestamp, T::String, T::String],
            T::Timestamp,
            convert_tz,
        )
    }),
    def("DATEADD", |a| {
        fixed(a, &[T::String, T::Integer, T::Date], T::Date, |v, _| {
            add_date(v, 1)
        })
    }),
    def("DATESUB", |a| {
        fixed(a, &[T::String, T::Integer, T::Date], T::Date, |v, _| {
            add_date(v, -1)
        })
    }),
    def("DATETOSTRING", |a| {
        fixed(a, &[T::Integer, T::String], T::String, |v, _| {
            format_days(int_arg(v, 0).map(i64::from), str_arg(v, 1))
        })
    }),
    def("FORMAT_DATE", |a| {
        fixed(a, &[T::Date, T::String], T::String, |v, _| {
            let days = match arg(v, 0) {
                Value::Date(d) => Some(i64::from(*d)),
                _ => None,
            };
            format_days(days, str_arg(v, 1))
        })
    }),
    def("FORMAT_TIME", |a| {
        fixed(a, &[T::Time, T::String], T::String, |v, _| {
            let (Value::Time(ms), Some(p)) = (arg(v, 0), str_arg(v, 1)) else {
                return Ok(Value::Null);
            };
            format_at(i64::from(*ms), p, &Zone::utc(), "time")
        })
    }),
    def("FORMAT_TIMESTAMP", |a| {
        timestamp_and_zone(a, T::Timestamp, format_timestamp)
    }),
    def("FROM_DAYS", |a| {
        fixed(a, &[T::Integer], T::Date, |v, _| {
            Ok(int_arg(v, 0).map_or(Value::Null, Value::Date))
        })
    }),
    def("FROM_UNIXTIME", |a| {
        fixed(a, &[T::BigInt], T::Timestamp, |v, _| {
            Ok(long_arg(v, 0).map_or(Value::Null, Value::Timestamp))
        })
    }),
    def("PARSE_DATE", |a| {
        fixed(a, &[T::String, T::String], T::Date, parse_date)
    }),
    def("PARSE_TIME", |a| {
        fixed(a, &[T::String, T::String], T::Time, parse_time)
    }),
    def("PARSE_TIMESTAMP", |a| {
        timestamp_and_zone(a, T::String, parse_timestamp)
    }),
    def("STRINGTODATE", |a| {
        fixed(
            a,
            &[T::String, T::String],
            T::Integer,
            |v, _| match parse_date(v, &T::Date)? {
                Value::Date(d) => Ok(Value::Integer(d)),
                _ => Err(user_err("Failed to parse date: NULL input")),
            },
        )
    }),
    def("STRINGTOTIMESTAMP", |a| {
        timestamp_and_zone(a, T::String, |v, _| {
            match parse_timestamp(v, &T::Timestamp)? {
                Value::Timestamp(ms) => Ok(Value::BigInt(ms)),
                _ => Err(user_err("Failed to parse timestamp: NULL input")),
            }
        })
        .map(|s| Signature {
            ret: T::BigInt,
            ..s
        })
    }),
    def("TIMEADD", |a| {
        fixed(a, &[T::String, T::Integer, T::Time], T::Time, |v, _| {
            add_time(v, 1)
        })
    }),
    def("TIMESTAMPADD", |a| {
        fixed(
            a,
            &[T::String, T::Integer, T::Timestamp],
            T::Timestamp,
            |v, _| add_timestamp(v, 1),
        )
    }),
    def("TIMESTAMPSUB", |a| {
        fixed(
            a,
            &[T::String, T::Integer, T::Timestamp],
            T::Timestamp,
            |v, _| add_timestamp(v, -1),
        )
    }),
    def("TIMESTAMPTOSTRING", |a| {
        timestamp_and_zone(a, T::BigInt, format_timestamp).map(|s| Signature {
            ret: T::String,
            ..s
        })
    }),
    def("TIMESUB", |a| {
        fixed(a, &[T::String, T::Integer, T::Time], T::Time, |v, _| {
            add_time(v, -1)
        })
    }),
    def("UNIX_DATE", |a| match a {
        [] => sig(vec![], T::Integer, |_, _| {
            Ok(Value::Integer(
                i32::try_from(now_ms().div_euclid(MS_PER_DAY)).unwrap_or(0),
            ))
        }),
        _ => fixed(a, &[T::Date], T::Integer, |v, _| {
            Ok(match arg(v, 0) {
                Value::Date(d) => Value::Integer(*d),
                _ => Value::Null,
            })
        }),
    }),
    def("UNIX_TIMESTAMP", |a| match a {
        [] => sig(vec![], T::BigInt, |_, _| Ok(Value::BigInt(now_ms()))),
        _ => fixed(a, &[T::Timestamp], T::BigInt, |v, _| {
            Ok(match arg(v, 0) {
                Value::Timestamp(ms) => Value::BigInt(*ms),
                _ => Value::Null,
            })
        }),
    }),
];

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Resolves `f(first, pattern [, zone]) -> ret`: the result type is `first`'s counterpart
/// (callers override it where the names differ).
fn timestamp_and_zone(args: &[ArgType], first: SqlType, eval: EvalFn) -> Option<Signature> {
    let ret = match first {
        T::String => T::Timestamp,
        _ => T::String,
    };
    match args.len() {
        2 => fixed(args, &[first, T::String], ret, eval),
        3 => fixed(args, &[first, T::String, T::String], ret, eval),
        _ => None,
    }
}

fn zone_arg(args: &[Cow<'_, Value>], i: usize) -> Result<Option<Zone>, EngineError> {
    if args.len() <= i {
        return Ok(Some(Zone::utc()));
    }
    match str_arg(args, i) {
        None => Ok(None),
        Some(z) => parse_zone(z)
            .map(Some)
            .ok_or_else(|| user_err(format!("Unknown time-zone ID: {z}"))),
    }
}

/// A compiled `TIMESTAMP_FORMAT=` pattern: parses a STRING timestamp column into epoch
/// milliseconds, in UTC unless the text carries an offset (ksqlDB's
/// `StringTimestampExtractor` uses `StringToTimestampParser` with the UTC default zone).
#[derive(Debug, Clone)]
pub(crate) struct TimestampFormat {
    pattern: Pattern,
}

impl TimestampFormat {
    pub(crate) fn compile(p: &str) -> Result<TimestampFormat, EngineError> {
        Ok(TimestampFormat {
            pattern: compile(p)?,
        })
    }

    pub(crate) fn parse_ms(&self, text: &str) -> Result<i64, String> {
        self.pattern.parse(text)?.epoch_ms(&Zone::utc())
    }
}

fn compile(p: &str) -> Result<Pattern, EngineError> {
    Pattern::compile(p).map_err(|e| user_err(format!("Invalid pattern '{p}': {e}")))
}

fn format_at(ms: i64, p: &str, zone: &Zone, what: &str) -> Result<Value, EngineError> {
    let parts = zone.parts(ms);
    compile(p)?.format(&parts).map(Value::String).map_err(|e| {
        user_err(format!(
            "Failed to format {what} {ms} with formatter '{p}': {e}"
        ))
    })
}

/// `FORMAT_TIMESTAMP(ts, pattern [, zone])`, `TIMESTAMPTOSTRING(ms, pattern [, zone])`.
fn format_timestamp(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let ms = match arg(args, 0) {
        Value::Timestamp(ms) | Value::BigInt(ms) => *ms,
        _ => return Ok(Value::Null),
    };
    let (Some(p), Some(zone)) = (str_arg(args, 1), zone_arg(args, 2)?) else {
        return Ok(Value::Null);
    };
    format_at(ms, p, &zone, "timestamp")
}

fn format_days(days: Option<i64>, p: Option<&str>) -> Result<Value, EngineError> {
    let (Some(days), Some(p)) = (days, p) else {
        return Ok(Value::Null);
    };
    let ms = days.saturating_mul(MS_PER_DAY);
    format_at(ms, p, &Zone::utc(), "date")
}

fn parse_failure(text: &str, p: &str, e: String) -> EngineError {
    user_err(format!(
        "Failed to parse '{text}' with formatter '{p}': {e}"
    ))
}

/// `PARSE_TIMESTAMP(text, pattern [, zone])`, `STRINGTOTIMESTAMP(…)`.
fn parse_timestamp(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(text), Some(p), Some(zone)) =
        (str_arg(args, 0), str_arg(args, 1), zone_arg(args, 2)?)
    else {
        return Ok(Value::Null);
    };
    let parsed = compile(p)?
        .parse(text)
        .map_err(|e| parse_failure(text, p, e))?;
    let ms = parsed
        .epoch_ms(&zone)
        .map_err(|e| parse_failure(text, p, e))?;
    Ok(Value::Timestamp(ms))
}

/// `PARSE_DATE(text, pattern)`: fails when the pattern sets a time of day
/// (`ParseDate.java`: "Date format contains time field.").
fn parse_date(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(text), Some(p)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    let parsed = compile(p)?
        .parse(text)
        .map_err(|e| parse_failure(text, p, e))?;
    if parsed.ms_of_day().map_err(|e| parse_failure(text, p, e))? != 0 {
        return Err(user_err("Date format contains time field."));
    }
    let days = parsed.days().map_err(|e| parse_failure(text, p, e))?;
    i32::try_from(days)
        .map(Value::Date)
        .map_err(|_| user_err(format!("Date out of range: {text}")))
}

/// `PARSE_TIME(text, pattern)`: fails when the pattern has a date field.
fn parse_time(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(text), Some(p)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    let pattern = compile(p)?;
    let parsed = pattern.parse(text).map_err(|e| parse_failure(text, p, e))?;
    if pattern.has_date_field() || parsed.has_date() {
        return Err(user_err("Time format contains date field."));
    }
    let ms = parsed.ms_of_day().map_err(|e| parse_failure(text, p, e))?;
    Ok(Value::Time(i32::try_from(ms).unwrap_or(0)))
}

/// `CONVERT_TZ(ts, from, to)`: shifts by the difference of the zones' offsets at `ts`.
fn convert_tz(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let Value::Timestamp(ms) = arg(args, 0) else {
        return Ok(Value::Null);
    };
    let (Some(from), Some(to)) = (zone_arg(args, 1)?, zone_arg(args, 2)?) else {
        return Ok(Value::Null);
    };
    let shift = i64::from(to.offset_at(*ms)) - i64::from(from.offset_at(*ms));
    Ok(Value::Timestamp(ms.saturating_add(shift * 1000)))
}

/// `java.util.concurrent.TimeUnit.toMillis` for the units the grammar allows.
fn unit_ms(args: &[Cow<'_, Value>]) -> Result<Option<i64>, EngineError> {
    let Some(unit) = str_arg(args, 0) else {
        return Ok(None);
    };
    let ms = match unit.to_ascii_uppercase().trim_end_matches('S') {
        "DAY" => MS_PER_DAY,
        "HOUR" => 3_600_000,
        "MINUTE" => 60_000,
        "SECOND" => 1000,
        "MILLISECOND" => 1,
        _ => return Err(user_err(format!("Unknown time unit: {unit}"))),
    };
    Ok(Some(ms))
}

/// The signed interval in milliseconds, or `None` when an argument is NULL.
fn interval_ms(args: &[Cow<'_, Value>], sign: i64) -> Result<Option<i64>, EngineError> {
    let (Some(unit), Some(n)) = (unit_ms(args)?, int_arg(args, 1)) else {
        return Ok(None);
    };
    Ok(Some(unit.saturating_mul(i64::from(n)).saturating_mul(sign)))
}

fn add_timestamp(args: &[Cow<'_, Value>], sign: i64) -> Result<Value, EngineError> {
    let (Some(delta), Value::Timestamp(ms)) = (interval_ms(args, sign)?, arg(args, 2)) else {
        return Ok(Value::Null);
    };
    Ok(Value::Timestamp(ms.saturating_add(delta)))
}

/// `DATEADD`: days of `date × 86400000 + interval`, truncated toward zero as
/// `TimeUnit.MILLISECONDS.toDays` does.
fn add_date(args: &[Cow<'_, Value>], sign: i64) -> Result<Value, EngineError> {
    let (Some(delta), Value::Date(d)) = (interval_ms(args, sign)?, arg(args, 2)) else {
        return Ok(Value::Null);
    };
    let ms = i64::from(*d)
        .saturating_mul(MS_PER_DAY)
        .saturating_add(delta);
    i32::try_from(ms / MS_PER_DAY)
        .map(Value::Date)
        .map_err(|_| user_err("DATEADD result out of range"))
}

/// `TIMEADD`: wraps around midnight, as `LocalTime.plus` does.
fn add_time(args: &[Cow<'_, Value>], sign: i64) -> Result<Value, EngineError> {
    let (Some(delta), Value::Time(t)) = (interval_ms(args, sign)?, arg(args, 2)) else {
        return Ok(Value::Null);
    };
    let ms = (i64::from(*t) + delta.rem_euclid(MS_PER_DAY)).rem_euclid(MS_PER_DAY);
    Ok(Value::Time(i32::try_from(ms).unwrap_or(0)))
}
