//! Java `DateTimeFormatter` patterns and `ZoneId`s, enough for ksqlDB's date/time UDFs.
//!
//! Pattern letters supported (formatting and parsing): `y`/`u` (year; `yy` is two-digit
//! in 2000–2099), `M`/`L` (month; `MMM` short and `MMMM` full English names), `d`, `D`
//! (day of year, format only), `E` (day name), `H`, `h`, `k`, `K`, `m`, `s`, `S` (fraction
//! digits), `a` (AM/PM), `X`/`x`/`Z` (offsets), `z` (zone abbreviation), `VV` (zone id),
//! `'quoted'` text with `''` for a quote, and any other non-letter as a literal. An
//! unknown letter is an error, as in Java.
//!
//! Parsing follows `DateTimeFormatterBuilder.appendPattern`: a numeric field of two or
//! more letters has that fixed width; a one-letter field (and `yyyy`) takes digits
//! greedily unless the next token is also numeric ("adjacent value parsing"), in which
//! case it takes its own width. Text matches case-insensitively. Missing fields default
//! to 1970-01-01T00:00, as ksqlDB's `StringToTimestampParser` does.
//!
//! Zones (`ZoneId.of`): `Z`, `UTC`, `GMT`, `UT`, fixed offsets (`+05:30`, `-8`,
//! `UTC+01:00`, `GMT-8`), and IANA names through `chrono-tz`.

use std::fmt::Write as _;

use chrono::{Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};

use crate::types::temporal;

/// Longest pattern accepted, in characters. Real patterns are under 40; the bound keeps a
/// per-row pattern from costing more than the value it formats.
pub(super) const PATTERN_CHARS_MAX: usize = 256;

const MS_PER_DAY: i64 = 86_400_000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    tokens: Vec<Token>,
}

/// A zone: a fixed offset (seconds east of UTC, with the text it was given) or an IANA
/// region.
#[derive(Debug, Clone)]
pub(super) enum Zone {
    Fixed { seconds: i32, id: String },
    Region(Tz),
}

/// The fields of a local date-time plus the zone facts a pattern may print.
pub(super) struct Parts {
    pub days: i64,
    pub ms_of_day: i64,
    pub offset_seconds: i32,
    pub zone_abbrev: String,
    pub zone_id: String,
}

impl Pattern {
    pub(super) fn compile(p: &str) -> Result<Pattern, String> {
        if p.chars().count() > PATTERN_CHARS_MAX {
            return Err(format!(
                "pattern longer than {PATTERN_CHARS_MAX} characters"
            ));
        }
        let chars: Vec<char> = p.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "Pattern ends with an incomplete string literal: {p}"
                            ))
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                if text.is_empty() {
                    text.push('\'');
                }
                tokens.push(Token::Literal(text));
            } else if c.is_ascii_alphabetic() {
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if !"yuMLdDEHhkKmsSaXxZzVn".contains(c) {
                    return Err(format!("Unknown pattern letter: {c}"));
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                tokens.push(Token::Literal(c.to_string()));
                i += 1;
            }
        }
        Ok(Pattern { tokens })
    }

    /// True when the pattern has a field of a date (`date`) or time-of-day kind.
    pub(super) fn has_date_field(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Field('y' | 'u' | 'M' | 'L' | 'd' | 'D' | 'E', _)))
    }

    pub(super) fn format(&self, p: &Parts) -> Result<String, String> {
        let (year, month, day) = temporal::civil_from_days(p.days);
        let ms = p.ms_of_day;
        let (hour, minute, second, milli) =
            (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => {
                    let n = *n;
                    match c {
                        'y' | 'u' if n == 2 => pad(&mut out, year.rem_euclid(100), 2),
                        'y' | 'u' => pad(&mut out, year, n),
                        'M' | 'L' if n >= 4 => out.push_str(month_name(month)),
                        'M' | 'L' if n == 3 => out.push_str(&month_name(month)[..3]),
                        'M' | 'L' => pad(&mut out, i64::from(month), n),
                        'd' => pad(&mut out, i64::from(day), n),
                        'D' => {
                            let doy = p.days - temporal::days_from_civil(year, 1, 1) + 1;
                            pad(&mut out, doy, n)
                        }
                        'E' => {
                            let name =
                                DAYS[usize::try_from((p.days + 3).rem_euclid(7)).unwrap_or(0)];
                            out.push_str(if n >= 4 { name } else { &name[..3] });
                        }
                        'H' => pad(&mut out, hour, n),
                        'k' => pad(&mut out, if hour == 0 { 24 } else { hour }, n),
                        'K' => pad(&mut out, hour % 12, n),
                        'h' => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
                        'm' => pad(&mut out, minute, n),
                        's' => pad(&mut out, second, n),
                        'S' => {
                            let digits = format!("{milli:03}000000");
                            out.push_str(&digits[..n.min(9)]);
                        }
                        'n' => pad(&mut out, milli * 1_000_000, n),
                        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                        'X' | 'x' | 'Z' => write_offset(&mut out, *c, n, p.offset_seconds),
                        'z' => out.push_str(&p.zone_abbrev),
                        'V' => out.push_str(&p.zone_id),
                        other => return Err(format!("Unknown pattern letter: {other}")),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Parses `text` to local fields and an optional parsed offset or zone.
    pub(super) fn parse(&self, text: &str) -> Result<Parsed, String> {
        let fail = || format!("Text '{text}' could not be parsed");
        let mut r = Parsed::default();
        let mut s = text;
        for (i, t) in self.tokens.iter().enumerate() {
            let next_numeric = matches!(
                self.tokens.get(i + 1),
                Some(Token::Field(c, n)) if is_numeric(*c, *n)
            );
            match t {
                Token::Literal(lit) => {
                    s = strip_prefix_ci(s, lit).ok_or_else(fail)?;
                }
                Token::Field(c, n) => {
                    let n = *n;
                    match c {
                        'M' | 'L' if n >= 3 => {
                            let (m, rest) = parse_name(s, &MONTHS, n).ok_or_else(fail)?;
                            r.month = Some(m as u32 + 1);
                            s = rest;
                        }
                        'E' => {
                            let (_, rest) = parse_name(s, &DAYS, n).ok_or_else(fail)?;
                            s = rest;
                        }
                        'a' => {
                            let up = s.get(..2).map(str::to_ascii_uppercase);
                            r.pm = Some(match up.as_deref() {
                                Some("AM") => false,
                                Some("PM") => true,
                                _ => return Err(fail()),
                            });
                            s = &s[2..];
                        }
                        'X' | 'x' | 'Z' => {
                            let (off, rest) = parse_offset(s, *c).ok_or_else(fail)?;
                            r.offset_seconds = Some(off);
                            s = rest;
                        }
                        'z' | 'V' => {
                            let end = s
                                .find(|ch: char| {
                                    !(ch.is_ascii_alphanumeric() || "/_+-:".contains(ch))
                                })
                                .unwrap_or(s.len());
                            r.zone = Some(parse_zone(&s[..end]).ok_or_else(fail)?);
                            s = &s[end..];
                        }
                        'S' => {
                            let (digits, rest) = take_digits(s, n, n).ok_or_else(fail)?;
                            let mut frac = digits.to_string();
                            frac.truncate(3);
                            while frac.len() < 3 {
                                frac.push('0');
                            }
                            r.milli = frac.parse().map_err(|_| fail())?;
                            s = rest;
                        }
                        _ => {
                            let (min, max) = if n >= 2 && !matches!(c, 'y' | 'u') || next_numeric {
                                (n, n)
                            } else if matches!(c, 'y' | 'u') && n != 2 {
                                (n, 10)
                            } else {
                                (1, 10)
                            };
                            let (sign, body) = match s.strip_prefix(['-', '+']) {
                                Some(b) if matches!(c, 'y' | 'u') && n != 2 => {
                                    (if s.starts_with('-') { -1 } else { 1 }, b)
                                }
                                _ => (1, s),
                            };
                            let (digits, rest) = take_digits(body, min, max).ok_or_else(fail)?;
                            let v: i64 = digits.parse::<i64>().map_err(|_| fail())? * sign;
                            s = rest;
                            match c {
                                'y' | 'u' if n == 2 => r.year = Some(2000 + v),
                                'y' | 'u' => r.year = Some(v),
                                'M' | 'L' => r.month = Some(small(v).ok_or_else(fail)?),
                                'd' => r.day = Some(small(v).ok_or_else(fail)?),
                                'D' => r.day_of_year = Some(v),
                                'H' | 'k' => {
                                    r.hour = Some(if *c == 'k' && v == 24 { 0 } else { v })
                                }
                                'h' | 'K' => r.hour12 = Some(v % 12),
                                'm' => r.minute = Some(v),
                                's' => r.second = Some(v),
                                'n' => r.milli = v / 1_000_000,
                                _ => return Err(fail()),
                            }
                        }
                    }
                }
            }
        }
        if !s.is_empty() {
            return Err(format!(
                "Text '{text}' could not be parsed, unparsed text found at index {}",
                text.len() - s.len()
            ));
        }
        Ok(r)
    }
}

fn small(v: i64) -> Option<u32> {
    u32::try_from(v).ok()
}

fn is_numeric(c: char, n: usize) -> bool {
    match c {
        'M' | 'L' => n <= 2,
        'y' | 'u' | 'd' | 'D' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' | 'S' | 'n' => true,
        _ => false,
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        let _ = write!(out, "-{:0width$}", -v);
    } else {
        let _ = write!(out, "{v:0width$}");
    }
}

fn month_name(month: u32) -> &'static str {
    MONTHS[usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11)]
}

/// `X`: `Z` for zero, else `+HH` (`+HHmm` when minutes), `XX` `+HHMM`, `XXX` `+HH:MM`;
/// `x` the same without `Z`; `Z`–`ZZZ` `+HHMM`, `ZZZZZ` `+HH:MM`.
fn write_offset(out: &mut String, c: char, n: usize, secs: i32) {
    if secs == 0 && (c == 'X' || (c == 'Z' && n == 5)) {
        out.push('Z');
        return;
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, abs / 60 % 60);
    let _ = match (c, n) {
        ('X' | 'x', 1) if m == 0 => write!(out, "{sign}{h:02}"),
        ('X' | 'x', 1 | 2) | ('Z', 1..=3) => write!(out, "{sign}{h:02}{m:02}"),
        _ => write!(out, "{sign}{h:02}:{m:02}"),
    };
}

fn parse_offset(s: &str, c: char) -> Option<(i32, &str)> {
    if c != 'x' {
        if let Some(rest) = s.strip_prefix('Z') {
            return Some((0, rest));
        }
    }
    let sign = match s.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let (h, rest) = take_digits(body, 2, 2)?;
    let rest_colon = rest.strip_prefix(':');
    let (m, rest) = match take_digits(rest_colon.unwrap_or(rest), 2, 2) {
        Some((m, r)) => (m, r),
        None if rest_colon.is_none() => ("0", rest),
        None => return None,
    };
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    Some((sign * secs, rest))
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    (n >= min && n > 0).then(|| s.split_at(n))
}

fn strip_prefix_ci<'s>(s: &'s str, lit: &str) -> Option<&'s str> {
    let head = s.get(..lit.len())?;
    head.eq_ignore_ascii_case(lit).then(|| &s[lit.len()..])
}

/// Matches a full name (n >= 4) or its three-letter form, case-insensitively.
fn parse_name<'s>(s: &'s str, names: &[&str], n: usize) -> Option<(usize, &'s str)> {
    names.iter().enumerate().find_map(|(i, name)| {
        let want = if n >= 4 { name } else { &name[..3] };
        strip_prefix_ci(s, want).map(|rest| (i, rest))
    })
}

/// Fields read by [`Pattern::parse`].
#[derive(Debug, Default)]
pub(super) struct Parsed {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: Option<i64>,
    second: Option<i64>,
    milli: i64,
    offset_seconds: Option<i32>,
    zone: Option<Zone>,
}

impl Parsed {
    /// Days since the epoch of the parsed date (defaults 1970-01-01), validated.
    pub(super) fn days(&self) -> Result<i64, String> {
        let year = self.year.unwrap_or(1970);
        if let Some(doy) = self.day_of_year {
            return Ok(temporal::days_from_civil(year, 1, 1) + doy - 1);
        }
        let (month, day) = (self.month.unwrap_or(1), self.day.unwrap_or(1));
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(format!("Invalid date {year}-{month:02}-{day:02}"));
        }
        Ok(temporal::days_from_civil(year, month, day))
    }

    /// Milliseconds of the day (defaults midnight), validated.
    pub(super) fn ms_of_day(&self) -> Result<i64, String> {
        let hour = match (self.hour, self.hour12, self.pm) {
            (Some(h), _, _) => h,
            (None, Some(h), pm) => h + if pm == Some(true) { 12 } else { 0 },
            (None, None, Some(true)) => 12,
            _ => 0,
        };
        let (m, s) = (self.minute.unwrap_or(0), self.second.unwrap_or(0));
        if !(0..24).contains(&hour) || !(0..60).contains(&m) || !(0..60).contains(&s) {
            return Err(format!("Invalid time {hour:02}:{m:02}:{s:02}"));
        }
        Ok(((hour * 60 + m) * 60 + s) * 1000 + self.milli)
    }

    /// Epoch milliseconds: local fields at the parsed offset or zone, else at `zone`.
    pub(super) fn epoch_ms(&self, zone: &Zone) -> Result<i64, String> {
        let local_ms = self.days()? * MS_PER_DAY + self.ms_of_day()?;
        if let Some(off) = self.offset_seconds {
            return Ok(local_ms - i64::from(off) * 1000);
        }
        Ok(self.zone.as_ref().unwrap_or(zone).local_to_utc(local_ms))
    }

    pub(super) fn has_date(&self) -> bool {
        self.year.is_some()
            || self.month.is_some()
            || self.day.is_some()
            || self.day_of_year.is_some()
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `ZoneId.of`; `None` for an unknown zone.
pub(super) fn parse_zone(id: &str) -> Option<Zone> {
    let fixed = |seconds: i32| Zone::Fixed {
        seconds,
        id: id.to_string(),
    };
    match id {
        "Z" | "UTC" | "GMT" | "UT" | "UTC0" | "GMT0" => return Some(fixed(0)),
        _ => {}
    }
    let offset_text = ["UTC", "GMT", "UT"]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .filter(|r| r.starts_with(['+', '-']))
        .unwrap_or(id);
    if offset_text.starts_with(['+', '-']) {
        return parse_fixed_offset(offset_text).map(fixed);
    }
    id.parse::<Tz>().ok().map(Zone::Region)
}

/// `ZoneOffset.of`: `+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`; at most ±18:00.
fn parse_fixed_offset(s: &str) -> Option<i32> {
    if !s.is_ascii() {
        return None;
    }
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let body = s.get(1..)?;
    let parts: Vec<&str> = if body.contains(':') {
        body.split(':').collect()
    } else if body.len() > 2 {
        let (h, rest) = body.split_at(2);
        let (m, sec) = rest.split_at(rest.len().min(2));
        [h, m, sec].into_iter().filter(|p| !p.is_empty()).collect()
    } else {
        vec![body]
    };
    let mut secs = 0;
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: i32 = p.parse().ok()?;
        secs += v * [3600, 60, 1].get(i)?;
    }
    (secs <= 18 * 3600).then_some(sign * secs)
}

impl Zone {
    pub(super) fn utc() -> Zone {
        Zone::Fixed {
            seconds: 0,
            id: "UTC".into(),
        }
    }

    /// Local date-time parts of an instant in this zone.
    pub(super) fn parts(&self, epoch_ms: i64) -> Parts {
        let (offset_seconds, zone_abbrev, zone_id) = match self {
            Zone::Fixed { seconds, id } => (*seconds, id.clone(), id.clone()),
            Zone::Region(tz) => {
                let utc = chrono::DateTime::from_timestamp_millis(epoch_ms)
                    .unwrap_or_default()
                    .naive_utc();
                let off = tz.offset_from_utc_datetime(&utc);
                let abbrev = off.abbreviation().unwrap_or_default().to_string();
                (off.fix().local_minus_utc(), abbrev, tz.name().to_string())
            }
        };
        let local = epoch_ms + i64::from(offset_seconds) * 1000;
        Parts {
            days: local.div_euclid(MS_PER_DAY),
            ms_of_day: local.rem_euclid(MS_PER_DAY),
            offset_seconds,
            zone_abbrev,
            zone_id,
        }
    }

    /// Offset in seconds at an instant.
    pub(super) fn offset_at(&self, epoch_ms: i64) -> i32 {
        self.parts(epoch_ms).offset_seconds
    }

    /// The instant of a local time: in an overlap the earlier offset, in a gap the offset
    /// before it (so the time moves forward), as `ZonedDateTime.ofLocal` does.
    pub(super) fn local_to_utc(&self, local_ms: i64) -> i64 {
        match self {
            Zone::Fixed { seconds, .. } => local_ms - i64::from(*seconds) * 1000,
            Zone::Region(tz) => {
                let naive = chrono::DateTime::from_timestamp_millis(local_ms)
                    .unwrap_or_default()
                    .naive_utc();
                let off = match tz.from_local_datetime(&naive) {
                    chrono::LocalResult::Single(dt) => dt.offset().fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(a, b) => a
                        .offset()
                        .fix()
                        .local_minus_utc()
                        .max(b.offset().fix().local_minus_utc()),
                    chrono::LocalResult::None => {
                        let before = naive - chrono::Duration::days(1);
                        tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                    }
                };
                local_ms - i64::from(off) * 1000
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(p: &str, ms: i64, zone: &str) -> String {
        let z = parse_zone(zone).expect("zone");
        Pattern::compile(p)
            .expect("pattern")
            .format(&z.parts(ms))
            .expect("formats")
    }

    fn parse(p: &str, text: &str) -> i64 {
        let parsed = Pattern::compile(p)
            .expect("pattern")
            .parse(text)
            .expect("parses");
        parsed.epoch_ms(&Zone::utc()).expect("valid")
    }

    #[test]
    fn formats_like_date_time_formatter() {
        // QTT timestamp-to-string cases.
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss", 1_526_075_913_000, "UTC"),
            "2018-05-11 21:58:33"
        );
        assert_eq!(
            fmt(
                "yyyy-MM-dd HH:mm:ss zzz",
                1_526_075_913_000,
                "America/Los_Angeles"
            ),
            "2018-05-11 14:58:33 PDT"
        );
        assert_eq!(
            fmt(
                "yyyy-MM-dd HH:mm:ss zzz",
                1_526_075_913_000,
                "Europe/London"
            ),
            "2018-05-11 22:58:33 BST"
        );
        assert_eq!(
            fmt("dd-MMM-yyyy", 18_993 * MS_PER_DAY, "UTC"),
            "01-Jan-2022"
        );
        assert_eq!(
            fmt("EEE, MMMM d, yy h:mm a", 0, "UTC"),
            "Thu, January 1, 70 12:00 AM"
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 1, "+05:30"),
            "1970-01-01T05:30:00.001+05:30"
        );
        assert_eq!(fmt("X", 0, "UTC"), "Z");
        assert_eq!(fmt("''HH''", 0, "UTC"), "'00'");
    }

    #[test]
    fn parses_like_string_to_timestamp_parser() {
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ssX", "2018-05-11T21:58:33Z"),
            1_526_075_913_000
        );
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ss.SX", "2019-08-27T13:31:09.2+0000"),
            1_566_912_669_200
        );
        assert_eq!(parse("yyyyMMdd", "20210304"), 18_690 * MS_PER_DAY);
        assert_eq!(parse("dd-MMM-yyyy", "01-jan-2022"), 18_993 * MS_PER_DAY);
        assert_eq!(parse("h:mm a", "1:30 PM"), (13 * 60 + 30) * 60_000);
        assert!(Pattern::compile("yyyyMMdd")
            .expect("pattern")
            .parse("foo")
            .is_err());
        assert!(Pattern::compile("yyyy-MM-dd")
            .expect("pattern")
            .parse("2021-02-30")
            .expect("parses")
            .days()
            .is_err());
    }

    #[test]
    fn zones() {
        assert!(matches!(
            parse_zone("+05:30"),
            Some(Zone::Fixed {
                seconds: 19_800,
                ..
            })
        ));
        assert!(matches!(
            parse_zone("GMT-8"),
            Some(Zone::Fixed {
                seconds: -28_800,
                ..
            })
        ));
        assert!(matches!(parse_zone("Asia/Kolkata"), Some(Zone::Region(_))));
        assert!(parse_zone("Mars/Olympus").is_none());
        // Found by the property test: a multi-byte character after the sign.
        assert!(parse_zone("+\u{1f574}").is_none());
        let la = parse_zone("America/Los_Angeles").expect("zone");
        // 2018-03-11 02:30 does not exist in Los Angeles; it moves to 03:30 PDT.
        let local = (17_601 * MS_PER_DAY) + 9_000_000;
        assert_eq!(la.local_to_utc(local), local + 8 * 3_600_000);
    }
}
