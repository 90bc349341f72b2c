//! TIMESTAMP, DATE and TIME text forms as ksqlDB reads and writes them.
//!
//! Query results render TIMESTAMP as `2021-03-04T05:06:07.123` (UTC, ms), DATE as
//! `2021-03-04`, TIME from whole seconds as `12:34:56`, or `12:34` when the seconds are
//! zero (Java's `LocalTime.toString`, ksqldb-api.md §7).

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(days));
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn format_timestamp(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = epoch_ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, ms) = split_ms_of_day(ms_of_day);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}")
}

/// ksqlDB renders TIME from whole seconds; Java's LocalTime drops `:00` seconds.
pub fn format_time(ms_of_day: i32) -> String {
    let (h, mi, s, _) = split_ms_of_day(i64::from(ms_of_day));
    if s == 0 {
        format!("{h:02}:{mi:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}")
    }
}

fn split_ms_of_day(ms: i64) -> (i64, i64, i64, i64) {
    (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `yyyy-MM-dd`, or the partials `yyyy` and `yyyy-MM` (completed to the first day),
/// as ksqlDB's `SqlTimeTypes.parseDate` does via `PartialStringToTimestampParser.completeDate`.
pub fn parse_date(s: &str) -> Option<i32> {
    // ISO-8601 text is ASCII; anything else is no date or time (and byte positions below
    // could fall inside a character).
    if !s.is_ascii() {
        return None;
    }
    let mut parts = s.splitn(3, '-');
    let y = parts.next().filter(|p| p.len() == 4).and_then(num)?;
    let m = match parts.next() {
        Some(p) if p.len() == 2 => num(p)?,
        Some(_) => return None,
        None => 1,
    };
    let d = match parts.next() {
        Some(p) if p.len() == 2 => num(p)?,
        Some(_) => return None,
        None => 1,
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return None;
    }
    i32::try_from(days_from_civil(i64::from(y), m, d)).ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses `HH:mm[:ss[.S…]]` into milliseconds of the day.
pub fn parse_time(s: &str) -> Option<i32> {
    // ISO-8601 text is ASCII; anything else is no date or time (and byte positions below
    // could fall inside a character).
    if !s.is_ascii() {
        return None;
    }
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let h = parts.next().filter(|p| p.len() == 2).and_then(num)?;
    let m = parts.next().filter(|p| p.len() == 2).and_then(num)?;
    let sec = match parts.next() {
        Some(p) if p.len() == 2 => num(p)?,
        Some(_) => return None,
        None if frac.is_some() => return None,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let ms = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{f:0<3}");
            padded[..3].parse::<u32>().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    i32::try_from(((h * 60 + m) * 60 + sec) * 1000 + ms).ok()
}

/// Parses an ISO-8601 timestamp: `yyyy-MM-dd'T'HH[:mm[:ss[.S…]]]` with an optional `Z` or
/// `±HH[:mm]`/`±HHmm` offset (UTC when absent), or a bare (possibly partial) date at midnight
/// UTC, as ksqlDB's `PartialStringToTimestampParser` accepts.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    // ISO-8601 text is ASCII; anything else is no date or time (and byte positions below
    // could fall inside a character).
    if !s.is_ascii() {
        return None;
    }
    let (date, rest) = match s.split_once('T') {
        Some((d, r)) => (d, Some(r)),
        None => (s, None),
    };
    let days = i64::from(parse_date(date)?);
    let Some(rest) = rest else {
        return Some(days * MS_PER_DAY);
    };
    let (time, offset_ms) = split_zone(rest)?;
    // ksqlDB completes a bare hour (`2020-01-01T10`) to `10:00:00.000`.
    let ms_of_day = if time.len() == 2 {
        i64::from(parse_time(&format!("{time}:00"))?)
    } else {
        i64::from(parse_time(time)?)
    };
    Some(days * MS_PER_DAY + ms_of_day - offset_ms)
}

fn split_zone(s: &str) -> Option<(&str, i64)> {
    if let Some(t) = s.strip_suffix('Z') {
        return Some((t, 0));
    }
    if let Some(pos) = s.rfind(['+', '-']) {
        let (t, z) = s.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = &z[1..];
        let (h, m) = match z.split_once(':') {
            Some((h, m)) => (h, m),
            None if z.len() == 4 => z.split_at(2),
            None if z.len() == 2 => (z, "00"),
            None => return None,
        };
        let offset = i64::from(num(h)?) * 3_600_000 + i64::from(num(m)?) * 60_000;
        return Some((t, sign * offset));
    }
    Some((s, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_text_is_no_timestamp() {
        // A 4-byte zone offset that is not 4 characters split inside a character (fuzz).
        assert_eq!(parse_timestamp("2020-01-01T00:00-0\u{1eb}X"), None);
        assert_eq!(parse_date("2020-0\u{1eb}"), None);
        assert_eq!(parse_time("10:0\u{1eb}"), None);
    }

    #[test]
    fn round_trips() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000");
        assert_eq!(
            parse_timestamp("2021-03-04T05:06:07.123"),
            Some(1_614_834_367_123)
        );
        assert_eq!(
            format_timestamp(1_614_834_367_123),
            "2021-03-04T05:06:07.123"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999");
        assert_eq!(
            parse_timestamp("2021-03-04T06:06:07.123+01:00"),
            Some(1_614_834_367_123)
        );
        assert_eq!(parse_date("2021-03-04"), Some(18_690));
        assert_eq!(format_date(18_690), "2021-03-04");
        assert_eq!(parse_date("2021-02-30"), None);
        assert_eq!(parse_time("12:34:56.789"), Some(45_296_789));
        assert_eq!(format_time(45_296_789), "12:34:56");
        assert_eq!(format_time(45_240_000), "12:34");
        assert_eq!(parse_time("25:00"), None);
        // ksqlDB's partial forms.
        assert_eq!(parse_date("2021"), parse_date("2021-01-01"));
        assert_eq!(parse_date("2021-03"), parse_date("2021-03-01"));
        assert_eq!(parse_date("2021-3"), None);
        assert_eq!(parse_timestamp("2021-03"), Some(1_614_556_800_000));
        assert_eq!(
            parse_timestamp("2021-03-04T05"),
            parse_timestamp("2021-03-04T05:00:00.000")
        );
        assert_eq!(
            parse_timestamp("2021-03-04T07:06:07.123+0200"),
            Some(1_614_834_367_123)
        );
    }
}
