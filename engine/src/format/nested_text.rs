//! Whether a stored STRUCT, ARRAY or MAP value's JSON text is already what a query result
//! shows for it, so results can copy the text instead of building a nested
//! [`Value`](crate::types::Value) and rendering it back (the nested half of
//! [`renders_as_stored`](super::json_value::renders_as_stored)).
//!
//! Rows ingested through Sluice are stored in ksqlDB's canonical form (struct fields as
//! declared and all present, no whitespace), which is also how a result renders them, so
//! for most nested columns the answer is yes. Text a plain Kafka producer wrote need not be:
//! whitespace, struct fields in another case or order or missing, a repeated map key, an
//! escape. Those answer no and take the general path, which renders the coerced value.
//!
//! The walk follows the column's type, not the data, so its depth is the type's: hostile
//! nesting cannot make it recurse further than the schema does.

use super::json_text::is_unescaped_text;
use super::json_value::renders_as_stored;
use crate::types::{SqlType, StructField};

/// Map keys compared pairwise for duplicates; a larger map takes the general path (a
/// repeated key collapses to one entry there, so its text is not the result's).
const MAP_ENTRIES_CHECKED_MAX: usize = 32;

/// True when `raw`, one stored JSON value of the nested type `ty`, renders as itself.
/// False for any other type.
pub(super) fn nested_renders_as_stored(raw: &[u8], ty: &SqlType) -> bool {
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
    let mut keys: Vec<&[u8]> = Vec::new();
    loop {
        let key_end = string_end(bytes, at)?;
        let key = &bytes[at..key_end];
        if keys.len() == MAP_ENTRIES_CHECKED_MAX || keys.contains(&key) {
            return None;
        }
        keys.push(key);
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
