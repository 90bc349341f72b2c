//! Whether a stored JSON value's text is already what a query result shows for it, so
//! results can copy the text instead of coercing it to a [`Value`](crate::types::Value)
//! and rendering that back: the scalar rules ([`renders_as_stored`]) and the nested ones
//! (STRUCT, ARRAY, MAP).
//!
//! Rows ingested through Sluice are stored in ksqlDB's canonical form (struct fields as
//! declared and all present, no whitespace), which is also how a result renders them, so
//! for most nested columns the answer is yes. Text a plain Kafka producer wrote need not be:
//! whitespace, struct fields in another case or order or missing, a repeated map key, an
//! escape. Those answer no and take the general path, which renders the coerced value.
//!
//! The nested walk follows the column's type, not the data, so its depth is the type's:
//! hostile nesting cannot make it recurse further than the schema does.

use super::json_text::is_unescaped_text;
use crate::types::{SqlType, StructField};

/// Map keys compared pairwise for duplicates; a larger map takes the general path (a
/// repeated key collapses to one entry there, so its text is not the result's).
const MAP_ENTRIES_CHECKED_MAX: usize = 32;

/// True when `raw`, one validated JSON value stored for a column of type `ty`, is already
/// exactly the text a query result shows for it, so results can copy it instead of
/// coercing it to a [`Value`] and rendering that: `null`; a BOOLEAN literal; an INTEGER or
/// BIGINT token in range (not `-0`); a STRING with nothing Jackson would escape (no `\\`,
/// no control byte); a DOUBLE already in Java's `Double.toString` form (plain notation for
/// `1e-3 <= |d| < 1e7`, no redundant trailing zero, at most 15 significant digits, which
/// an f64 round-trips exactly so its shortest digits are these); a STRUCT, ARRAY or MAP in
/// compact canonical form whose every part is one of these (see below). Anything else
/// answers false and takes the general path, which also reports errors.
///
/// True also means the general path would succeed: the record is not one to skip.
pub fn renders_as_stored(raw: &[u8], ty: &SqlType) -> bool {
    if raw == b"null" {
        return true;
    }
    match ty {
        SqlType::Boolean => raw == b"true" || raw == b"false",
        // Up to 9 (18) digits always fit an INT (BIGINT); longer tokens are parsed.
        SqlType::Integer => is_int_token(raw) && (digits(raw) <= 9 || parse_ascii::<i32>(raw)),
        SqlType::BigInt => is_int_token(raw) && (digits(raw) <= 18 || parse_ascii::<i64>(raw)),
        SqlType::String => {
            raw.len() >= 2
                && raw[0] == b'"'
                && raw[raw.len() - 1] == b'"'
                && is_unescaped_text(&raw[1..raw.len() - 1])
        }
        SqlType::Double => is_java_plain_double(raw),
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            nested_renders_as_stored(raw, ty)
        }
        _ => false,
    }
}

/// A JSON integer token (`-?(0|[1-9][0-9]*)`, already validated) other than `-0`, which
/// renders as `0`.
fn is_int_token(raw: &[u8]) -> bool {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) && raw != b"-0"
}

fn digits(int_token: &[u8]) -> usize {
    int_token.len() - usize::from(int_token.first() == Some(&b'-'))
}

fn parse_ascii<T: std::str::FromStr>(raw: &[u8]) -> bool {
    std::str::from_utf8(raw).is_ok_and(|s| s.parse::<T>().is_ok())
}

/// Most significant digits whose decimal text an f64 reproduces exactly (`DBL_DIG`).
const DOUBLE_EXACT_DIGITS_MAX: usize = 15;

/// True for `-?I.F` that Java's `Double.toString` prints back unchanged (see
/// [`renders_as_stored`]).
pub(crate) fn is_java_plain_double(raw: &[u8]) -> bool {
    let unsigned = raw.strip_prefix(b"-").unwrap_or(raw);
    let Some(dot) = unsigned.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (int, frac) = (&unsigned[..dot], &unsigned[dot + 1..]);
    if int.is_empty()
        || frac.is_empty()
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
        || (int.len() > 1 && int[0] == b'0')
    {
        return false;
    }
    if int == b"0" {
        // 0.0 prints as itself; otherwise 1e-3 <= |d| needs a non-zero digit among the
        // first three, and the last digit must not be a redundant zero.
        if frac == b"0" {
            return true;
        }
        let leading_zeros = frac.iter().take_while(|&&b| b == b'0').count();
        leading_zeros <= 2
            && frac[frac.len() - 1] != b'0'
            && frac.len() - leading_zeros <= DOUBLE_EXACT_DIGITS_MAX
    } else {
        // |d| < 1e7; `.0` is how Java ends a whole number, any other trailing zero is
        // redundant.
        int.len() <= 7
            && (frac == b"0" || frac[frac.len() - 1] != b'0')
            && int.len() + frac.len() <= DOUBLE_EXACT_DIGITS_MAX
    }
}

/// True when `raw`, one stored JSON value of the nested type `ty`, renders as itself.
/// False for any other type.
fn nested_renders_as_stored(raw: &[u8], ty: &SqlType) -> bool {
    value_end(raw, 0, ty) == Some(raw.len())
}

/// Where a value of type `ty` that renders as stored, starting at `at`, ends; `None` when
/// the text there is not one.
fn value_end(bytes: &[u8], at: usize, ty: &SqlType) -> Option<usize> {
    if bytes[at..].starts_with(b"null") {
        return Some(at + 4);
    }
    match ty {
        SqlType::Array(item) => array_end(bytes, at, item),
        SqlType::Map(key, value) => match key.as_ref() {
            SqlType::String => map_end(bytes, at, value),
            _ => None,
        },
        SqlType::Struct(fields) => struct_end(bytes, at, fields),
        SqlType::String => {
            let end = string_end(bytes, at)?;
            Some(end)
        }
        scalar => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}'))
                .unwrap_or(bytes.len() - at);
            let token = &bytes[at..at + len];
            (!token.is_empty() && renders_as_stored(token, scalar)).then_some(at + len)
        }
    }
}

/// The end of a string with nothing to escape (its closing quote is then the first quote).
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let len = bytes[at + 1..].iter().position(|&b| b == b'"')?;
    is_unescaped_text(&bytes[at + 1..at + 1 + len]).then_some(at + len + 2)
}

fn array_end(bytes: &[u8], at: usize, item: &SqlType) -> Option<usize> {
    let mut at = expect(bytes, at, b'[')?;
    if bytes.get(at) == Some(&b']') {
        return Some(at + 1);
    }
    loop {
        at = value_end(bytes, at, item)?;
        match bytes.get(at)? {
            b',' => at += 1,
            b']' => return Some(at + 1),
            _ => return None,
        }
    }
}

fn map_end(bytes: &[u8], at: usize, value: &SqlType) -> Option<usize> {
    let mut at = expect(bytes, at, b'{')?;
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    // The keys seen so far, on the stack: this runs per stored map per row.
    let mut keys: [&[u8]; MAP_ENTRIES_CHECKED_MAX] = [&[]; MAP_ENTRIES_CHECKED_MAX];
    let mut seen = 0;
    loop {
        let key_end = string_end(bytes, at)?;
        let key = &bytes[at..key_end];
        if seen == MAP_ENTRIES_CHECKED_MAX || keys[..seen].contains(&key) {
            return None;
        }
        keys[seen] = key;
        seen += 1;
        at = value_end(bytes, expect(bytes, key_end, b':')?, value)?;
        match bytes.get(at)? {
            b',' => at += 1,
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// A struct renders every declared field, in declared order, under its declared name: the
/// stored text must hold exactly those (a missing field renders as `null`, an extra one
/// not at all, a lower-case name under its declared spelling).
fn struct_end(bytes: &[u8], at: usize, fields: &[StructField]) -> Option<usize> {
    let mut at = expect(bytes, at, b'{')?;
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            at = expect(bytes, at, b',')?;
        }
        let key_end = string_end(bytes, at)?;
        if &bytes[at + 1..key_end - 1] != field.name.as_bytes() {
            return None;
        }
        at = value_end(bytes, expect(bytes, key_end, b':')?, &field.ty)?;
    }
    expect(bytes, at, b'}')
}

/// The position after `byte` at `at`.
fn expect(bytes: &[u8], at: usize, byte: u8) -> Option<usize> {
    (bytes.get(at) == Some(&byte)).then_some(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_that_renders_as_is() {
        let yes: &[(&str, SqlType)] = &[
            (
                "null",
                SqlType::Decimal {
                    precision: 4,
                    scale: 2,
                },
            ),
            ("true", SqlType::Boolean),
            ("-2147483648", SqlType::Integer),
            ("9223372036854775807", SqlType::BigInt),
            ("\"us-east-1 é\"", SqlType::String),
            ("9574.74", SqlType::Double),
            ("100.0", SqlType::Double),
            ("-0.0", SqlType::Double),
            ("0.001", SqlType::Double),
            ("9999999.5", SqlType::Double),
        ];
        for (raw, ty) in yes {
            assert!(renders_as_stored(raw.as_bytes(), ty), "{raw} as {ty}");
        }
        let no: &[(&str, SqlType)] = &[
            ("\"true\"", SqlType::Boolean),
            ("2147483648", SqlType::Integer),
            ("-0", SqlType::BigInt),
            ("1.5", SqlType::BigInt),
            ("\"a\\u00e9\"", SqlType::String),
            ("12", SqlType::String),
            ("100.50", SqlType::Double),
            ("5", SqlType::Double),
            ("1.0E10", SqlType::Double),
            ("10000000.0", SqlType::Double),
            ("0.0001", SqlType::Double),
            ("0.00", SqlType::Double),
            ("1.2345678901234567", SqlType::Double),
            ("17", SqlType::Timestamp),
        ];
        for (raw, ty) in no {
            assert!(!renders_as_stored(raw.as_bytes(), ty), "{raw} as {ty}");
        }
    }

    fn field(name: &str, ty: SqlType) -> StructField {
        StructField {
            name: name.to_owned(),
            ty,
        }
    }

    fn device() -> SqlType {
        SqlType::Struct(vec![
            field("OS", SqlType::String),
            field("VERSION", SqlType::Double),
            field("TAGS", SqlType::Array(Box::new(SqlType::Integer))),
        ])
    }

    fn map() -> SqlType {
        SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::BigInt))
    }

    #[test]
    fn canonical_nested_text_renders_as_stored() {
        let yes: &[(&str, SqlType)] = &[
            (r#"{"OS":"ios","VERSION":17.2,"TAGS":[1,2]}"#, device()),
            (r#"{"OS":null,"VERSION":null,"TAGS":null}"#, device()),
            (r#"{"OS":"é","VERSION":0.5,"TAGS":[]}"#, device()),
            (r#"[{"OS":"a","VERSION":1.0,"TAGS":[null]},null]"#, SqlType::Array(Box::new(device()))),
            (r#"{"b":1,"a":-2}"#, map()),
            ("{}", map()),
            (r#"["x","y"]"#, SqlType::Array(Box::new(SqlType::String))),
            ("null", map()),
        ];
        for (raw, ty) in yes {
            assert!(nested_renders_as_stored(raw.as_bytes(), ty), "{raw} as {ty}");
            assert!(renders_as_stored(raw.as_bytes(), ty), "{raw} as {ty}");
        }
    }

    #[test]
    fn text_a_result_would_spell_otherwise_does_not() {
        let no: &[(&str, SqlType)] = &[
            // Whitespace, a lower-case name, fields out of order, a missing or extra field.
            (r#"{"OS":"ios", "VERSION":17.2,"TAGS":[1]}"#, device()),
            (r#"{"os":"ios","VERSION":17.2,"TAGS":[1]}"#, device()),
            (r#"{"VERSION":17.2,"OS":"ios","TAGS":[1]}"#, device()),
            (r#"{"OS":"ios","VERSION":17.2}"#, device()),
            (r#"{"OS":"ios","VERSION":17.2,"TAGS":[1],"X":1}"#, device()),
            // Scalars a result spells otherwise.
            (r#"{"OS":"ios","VERSION":17,"TAGS":[1]}"#, device()),
            (r#"{"OS":"i\"os","VERSION":17.2,"TAGS":[1]}"#, device()),
            (r#"{"OS":"ios","VERSION":17.2,"TAGS":[1.5]}"#, device()),
            (r#"{"OS":"ios","VERSION":17.2,"TAGS":["1"]}"#, device()),
            // A repeated map key collapses to one entry; an escaped key; not a map.
            (r#"{"a":1,"a":2}"#, map()),
            (r#"{"\u0061":1}"#, map()),
            ("[1]", map()),
            (r#"{"a":1,}"#, map()),
            ("[1,]", SqlType::Array(Box::new(SqlType::Integer))),
            ("[1", SqlType::Array(Box::new(SqlType::Integer))),
            (r#"["a"]x"#, SqlType::Array(Box::new(SqlType::String))),
            (
                "[1.5]",
                SqlType::Array(Box::new(SqlType::Decimal {
                    precision: 2,
                    scale: 1,
                })),
            ),
        ];
        for (raw, ty) in no {
            assert!(!nested_renders_as_stored(raw.as_bytes(), ty), "{raw} as {ty}");
        }
    }

    #[test]
    fn large_maps_take_the_general_path() {
        let entries: Vec<String> = (0..=MAP_ENTRIES_CHECKED_MAX)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        let text = format!("{{{}}}", entries.join(","));
        assert!(!nested_renders_as_stored(text.as_bytes(), &map()));
        let fewer = format!("{{{}}}", entries[1..].join(","));
        assert!(nested_renders_as_stored(fewer.as_bytes(), &map()));
    }
}
