//! The decoders' fast path over a stored record value: one pass over an object of plain
//! ASCII scalars (also nested in arrays and objects) that finds each column's field text
//! without a parser ([`ValueFields::scan_flat`]), and turns plain scalar tokens into values
//! without one ([`ValueFields::coerce_text`]). Anything it does not take (escapes,
//! non-ASCII text, deeper nesting, invalid JSON) goes to the general sonic-rs path in
//! `json_value`, which also reports errors; the `row_decoder` fuzz target and a property
//! test hold the two paths to the same answers.

use std::ops::Range;

use sonic_rs::LazyValue;

use super::coerce;
use super::json_text::{plain_text_len, JSON_NESTING_DEPTH_MAX};
use super::json_value::{invalid_json, skip_json_whitespace, ValueFields};
use crate::error::Result;
use crate::types::{SqlType, Value};

/// A value column's field in one record as spans of its text: (exact-name match,
/// upper-cased-name match), as [`FieldSlot`](super::json_value::FieldSlot).
pub(crate) type FieldSpan = (Option<Range<usize>>, Option<Range<usize>>);

impl ValueFields {
    /// The fast path of [`scan`](ValueFields::scan) for the common record: an object of
    /// unescaped ASCII strings, numbers and literals, also nested in arrays and objects (up
    /// to [`JSON_NESTING_DEPTH_MAX`] levels). Fills `spans` (one per column, all empty)
    /// with where each column's field text lies in `bytes`, and answers true; answers false
    /// (spans then undefined) for anything else, valid or not (escapes, non-ASCII text,
    /// deeper nesting, invalid JSON), which the general path then reads and reports. Bytes
    /// it accepts are ASCII, so they need no separate UTF-8 check; a nested field's text is
    /// valid JSON, which its column's coercion reads on its own when it needs a value.
    pub(crate) fn scan_flat(&self, bytes: &[u8], spans: &mut [FieldSpan]) -> bool {
        debug_assert_eq!(spans.len(), self.len(), "one span per value column");
        let mut at = skip_json_whitespace(bytes, 0);
        if bytes.get(at) != Some(&b'{') {
            return false;
        }
        at = skip_json_whitespace(bytes, at + 1);
        let mut hint = 0;
        if bytes.get(at) != Some(&b'}') {
            loop {
                let Some(key) = flat_string(bytes, at) else {
                    return false;
                };
                at = skip_json_whitespace(bytes, key.end);
                if bytes.get(at) != Some(&b':') {
                    return false;
                }
                at = skip_json_whitespace(bytes, at + 1);
                let Some(value) = flat_value(bytes, at, 1) else {
                    return false;
                };
                at = skip_json_whitespace(bytes, value.end);
                // The key lies between its quotes and is plain ASCII text.
                self.assign(&bytes[key.start + 1..key.end - 1], value, &mut hint, spans);
                match bytes.get(at) {
                    Some(b',') => at = skip_json_whitespace(bytes, at + 1),
                    Some(b'}') => break,
                    _ => return false,
                }
            }
        }
        skip_json_whitespace(bytes, at + 1) == bytes.len()
    }

    /// Column `i`'s value from its field's text, as [`ValueFields::coerce`]; the text is one
    /// value [`ValueFields::scan_flat`] accepted.
    pub(crate) fn coerce_text(&self, i: usize, text: Option<&[u8]>) -> Result<Value> {
        match text {
            None => Ok(Value::Null),
            Some(text) => {
                if let Some(value) = plain_scalar(text, self.ty(i)) {
                    return Ok(value);
                }
                let lv = sonic_rs::from_slice::<LazyValue<'_>>(text)
                    .map_err(|e| invalid_json(&e.to_string()))?;
                self.coerce(i, Some(&lv))
            }
        }
    }
}

/// The value of a flat-scanned scalar token (`text`: a plain ASCII string, a number in
/// JSON's grammar, or a literal) for the common column types, without a parser: what
/// [`coerce_kafka_json`](coerce) makes of the same token. `None` for anything it would
/// do more with (a number outside the type's range wraps, a string read as a number, …),
/// which then takes that path.
fn plain_scalar(text: &[u8], ty: &SqlType) -> Option<Value> {
    let number = || std::str::from_utf8(text).ok().filter(|_| matches!(text.first(), Some(b'-' | b'0'..=b'9')));
    let integer = || number().filter(|t| t.bytes().skip(1).all(|b| b.is_ascii_digit()));
    match (text, ty) {
        (b"null", _) => Some(Value::Null),
        (b"true", SqlType::Boolean) => Some(Value::Boolean(true)),
        (b"false", SqlType::Boolean) => Some(Value::Boolean(false)),
        (_, SqlType::Integer) => integer()?.parse().ok().map(Value::Integer),
        (_, SqlType::BigInt) => integer()?.parse().ok().map(Value::BigInt),
        (_, SqlType::Double) => number().map(|t| Value::Double(coerce::parse_f64(t))),
        ([b'"', inner @ .., b'"'], SqlType::String) => {
            std::str::from_utf8(inner).ok().map(|s| Value::String(s.to_owned()))
        }
        _ => None,
    }
}

/// The span of the string starting at `at` (quotes included) if it is plain text
/// ([`plain_text_len`]): ASCII with no escapes and no control bytes, so its bytes are its
/// text and it renders unchanged. Anything else is left to the general path.
fn flat_string(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let end = at + 1 + plain_text_len(&bytes[at + 1..]);
    (bytes.get(end) == Some(&b'"')).then_some(at..end + 1)
}

/// The span of the value starting at `at` inside a container at nesting level `level` (the
/// record object is level 1): a scalar ([`flat_scalar`]), or an array or object of such
/// values, whitespace allowed, at most [`JSON_NESTING_DEPTH_MAX`] levels deep. The
/// recursion follows the nesting, which that bound keeps shallow.
fn flat_value(bytes: &[u8], at: usize, level: usize) -> Option<Range<usize>> {
    let (close, object) = match *bytes.get(at)? {
        b'{' => (b'}', true),
        b'[' => (b']', false),
        _ => return flat_scalar(bytes, at),
    };
    if level >= JSON_NESTING_DEPTH_MAX {
        return None;
    }
    let mut i = skip_json_whitespace(bytes, at + 1);
    if bytes.get(i) == Some(&close) {
        return Some(at..i + 1);
    }
    loop {
        if object {
            let key = flat_string(bytes, i)?;
            i = skip_json_whitespace(bytes, key.end);
            if bytes.get(i) != Some(&b':') {
                return None;
            }
            i = skip_json_whitespace(bytes, i + 1);
        }
        let value = flat_value(bytes, i, level + 1)?;
        i = skip_json_whitespace(bytes, value.end);
        match *bytes.get(i)? {
            b',' => i = skip_json_whitespace(bytes, i + 1),
            b if b == close => return Some(at..i + 1),
            _ => return None,
        }
    }
}

/// The span of the scalar starting at `at`: an unescaped string, a number in RFC 8259's
/// grammar, or `true`/`false`/`null`. `None` for anything else.
fn flat_scalar(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    match *bytes.get(at)? {
        b'"' => flat_string(bytes, at),
        b't' => literal(bytes, at, b"true"),
        b'f' => literal(bytes, at, b"false"),
        b'n' => literal(bytes, at, b"null"),
        b'-' | b'0'..=b'9' => number(bytes, at),
        _ => None,
    }
}

fn literal(bytes: &[u8], at: usize, text: &[u8]) -> Option<Range<usize>> {
    let end = at + text.len();
    (bytes.get(at..end)? == text).then_some(at..end)
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6).
fn number(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let digits = |from: usize| -> usize {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = at;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return None,
    }
    if bytes.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(at..i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json_value::{decode_value, decode_value_general};
    use crate::format::json_value::tests::{col, decode};

    #[test]
    fn the_flat_scan_takes_nested_values_to_the_depth_limit() {
        let columns = vec![
            col("A", SqlType::Array(Box::new(SqlType::Integer))),
            col("B", SqlType::Integer),
        ];
        let fields = ValueFields::new(&columns);
        let scan = |text: &str| fields.scan_flat(text.as_bytes(), &mut vec![(None, None); 2]);
        assert!(scan(r#"{"a": [1, [2], {"x": [ ]}], "B": 3}"#));
        assert!(!scan(r#"{"A": [1,], "B": 3}"#), "a trailing comma");
        assert!(!scan(r#"{"A": {x: 1}}"#), "an unquoted key");
        assert!(!scan(r#"{"A": ["é"]}"#), "non-ASCII is the general path's");
        // The record is level 1: a value may open JSON_NESTING_DEPTH_MAX - 1 more.
        let deep = |levels: usize| {
            format!(r#"{{"B":{}1{}}}"#, "[".repeat(levels), "]".repeat(levels))
        };
        assert!(scan(&deep(JSON_NESTING_DEPTH_MAX - 1)));
        assert!(!scan(&deep(JSON_NESTING_DEPTH_MAX)));
        let err = decode(&deep(JSON_NESTING_DEPTH_MAX), &columns).expect_err("too deep");
        assert!(err.message().contains("nests deeper"), "{err}");
        // A nested field reads the same through the flat scan and the general path.
        let mut flat = Vec::new();
        decode_value(br#"{"A": [1, 2], "b": 3}"#, &columns, &mut flat).expect("flat");
        let mut general = Vec::new();
        decode_value_general(br#"{"A": [1, 2], "b": 3}"#, &columns, &mut general)
            .expect("general");
        assert_eq!(flat, general);
        assert_eq!(flat[0], Value::Array(vec![Value::Integer(1), Value::Integer(2)]));
    }

    #[test]
    fn plain_scalars_read_as_the_coercion_reads_them() {
        let tokens = [
            "null", "true", "false", "0", "-0", "7", "-12", "2147483647", "2147483648",
            "-2147483649", "9223372036854775807", "9223372036854775808", "1.5", "-0.0", "1e3",
            "1E-2", "1e400", "\"abc\"", "\"12\"", "\"\"", "\"true\"",
        ];
        let types = [
            SqlType::Boolean,
            SqlType::Integer,
            SqlType::BigInt,
            SqlType::Double,
            SqlType::String,
        ];
        let mut fast = 0;
        for ty in &types {
            let fields = ValueFields::new(&[col("A", ty.clone())]);
            for token in tokens {
                let Some(value) = plain_scalar(token.as_bytes(), ty) else {
                    continue;
                };
                fast += 1;
                let lv = coerce::parse_json_value(token.as_bytes()).expect("valid");
                let general = fields.coerce(0, Some(&lv)).expect("the general path reads it");
                assert_eq!(value, general, "{token} as {ty}");
            }
        }
        assert!(fast > 30, "most of these take the fast path: {fast}");
    }
}
