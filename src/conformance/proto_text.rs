//! One protobuf-encoded row (`{"row":{"protobufBytes":"<base64>"}}`) decoded with its
//! header's schema and printed in protobuf text format exactly as Java's
//! `TextFormat.printer().printToString(message)` prints a `DynamicMessage`, since that is the
//! text the `queryProto` expectations hold (rqtt-format.md §4 "Protobuf responses").
//!
//! ```text
//!  bytes ─► decode (wire types, packed or not, unknown fields skipped) ─► Decoded tree
//!                                                                     └► print ─► text
//! ```
//!
//! The bytes come from a server under test, so every read is bounds-checked, nesting and
//! sizes are capped, and malformed input is an error, never a panic.
//!
//! Java's rules followed here (protobuf-java `TextFormat`, `DynamicMessage`, `CodedInputStream`):
//! - proto3 fields without presence are not printed at their default value (0, `false`, empty
//!   string or bytes; `-0.0` is not the default, since Java compares doubles by bits); a
//!   message field is printed whenever it was on the wire, even empty;
//! - fields print in field-number order, repeated ones once per element, map entries sorted
//!   by key;
//! - a singular field seen twice keeps the last scalar, or merges the messages;
//! - a field whose wire type does not match its declaration is an unknown field. Unknown
//!   fields are skipped (Java would print them by number; a server sending them is wrong
//!   either way, and the row then fails to match for another reason);
//! - strings and bytes print quoted with `TextFormat.escapeBytes`, floats with
//!   `Float.toString`, doubles with `Double.toString`, unsigned types as unsigned.

use std::cmp::Ordering;

use sluice_engine::codec::java_double_string;

use super::proto_schema::{FieldType, Label, ProtoSchema, Scalar};

/// Longest row accepted, in encoded bytes; a ksqlDB row is far smaller.
const ROW_BYTES_MAX: usize = 16 << 20;
/// Deepest message nesting decoded, so a hostile row cannot overflow the stack.
pub const DECODE_DEPTH_MAX: usize = 64;
/// Longest printed text; indentation lets small input print large, so the output is capped too.
const TEXT_BYTES_MAX: usize = 64 << 20;
/// A varint is at most ten bytes (64 bits, 7 per byte).
const VARINT_BYTES_MAX: usize = 10;

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_START_GROUP: u8 = 3;
const WIRE_I32: u8 = 5;

/// Decodes one row and prints it as Java's text printer does.
pub fn row_text(schema: &ProtoSchema, bytes: &[u8]) -> Result<String, String> {
    if bytes.len() > ROW_BYTES_MAX {
        return Err(format!(
            "row is {} bytes, more than {ROW_BYTES_MAX}",
            bytes.len()
        ));
    }
    let decoded = decode_message(schema, schema.root, bytes, 0)?;
    let mut out = String::new();
    print_message(schema, schema.root, &decoded, 0, &mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A decoded field value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// int32, int64, sint32, sint64, sfixed32, sfixed64 (widened).
    Signed(i64),
    /// uint32, uint64, fixed32, fixed64 (widened).
    Unsigned(u64),
    Bool(bool),
    Float(f32),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Message(Decoded),
}

/// A decoded message: the values of each declared field, in the order of
/// `MessageDef::fields` (field-number order). Empty means absent.
#[derive(Debug, Clone, PartialEq)]
struct Decoded {
    fields: Vec<Vec<Value>>,
}

/// A read position over a byte slice; every read checks the bounds.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for i in 0..VARINT_BYTES_MAX {
            let b = *self.bytes.get(self.pos).ok_or("row ends inside a varint")?;
            self.pos += 1;
            // Bits past 64 in the tenth byte are dropped, as Java's readRawVarint64 does.
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("row has a varint longer than ten bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("row ends inside a {n}-byte value"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn fixed32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn length_delimited(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| format!("row has a length of {len}"))?;
        self.take(len)
    }

    /// Steps over one value of an unknown field.
    fn skip(&mut self, wire_type: u8) -> Result<(), String> {
        match wire_type {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_I64 => self.take(8).map(drop),
            WIRE_LEN => self.length_delimited().map(drop),
            WIRE_I32 => self.take(4).map(drop),
            WIRE_START_GROUP => Err("row uses a group, which proto3 does not have".into()),
            other => Err(format!("row has an invalid wire type {other}")),
        }
    }
}

/// The wire type a scalar is written with when not packed.
fn wire_type_of(scalar: Scalar) -> u8 {
    match scalar {
        Scalar::Int32
        | Scalar::Int64
        | Scalar::Uint32
        | Scalar::Uint64
        | Scalar::Sint32
        | Scalar::Sint64
        | Scalar::Bool => WIRE_VARINT,
        Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => WIRE_I64,
        Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => WIRE_I32,
        Scalar::String | Scalar::Bytes => WIRE_LEN,
    }
}

fn zigzag32(n: u32) -> i32 {
    // The shifted value has at most 31 bits, so it fits i32.
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn zigzag64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// Reads one scalar whose wire type has been checked.
fn read_scalar(r: &mut Reader<'_>, scalar: Scalar) -> Result<Value, String> {
    // The `as` casts below are the wire format's truncations: an int32 is the low 32 bits
    // of its varint (negative ones arrive as ten-byte varints), as in Java's readInt32.
    Ok(match scalar {
        Scalar::Int32 => Value::Signed(i64::from(r.varint()? as i32)),
        Scalar::Int64 => Value::Signed(r.varint()? as i64),
        Scalar::Uint32 => Value::Unsigned(u64::from(r.varint()? as u32)),
        Scalar::Uint64 => Value::Unsigned(r.varint()?),
        Scalar::Sint32 => Value::Signed(i64::from(zigzag32(r.varint()? as u32))),
        Scalar::Sint64 => Value::Signed(zigzag64(r.varint()?)),
        Scalar::Bool => Value::Bool(r.varint()? != 0),
        Scalar::Fixed32 => Value::Unsigned(u64::from(r.fixed32()?)),
        Scalar::Sfixed32 => Value::Signed(i64::from(r.fixed32()? as i32)),
        Scalar::Float => Value::Float(f32::from_bits(r.fixed32()?)),
        Scalar::Fixed64 => Value::Unsigned(r.fixed64()?),
        Scalar::Sfixed64 => Value::Signed(r.fixed64()? as i64),
        Scalar::Double => Value::Double(f64::from_bits(r.fixed64()?)),
        // proto3 strings must be UTF-8; Java refuses the row otherwise.
        Scalar::String => Value::Str(
            std::str::from_utf8(r.length_delimited()?)
                .map_err(|_| "row has a string field that is not UTF-8".to_string())?
                .to_string(),
        ),
        Scalar::Bytes => Value::Bytes(r.length_delimited()?.to_vec()),
    })
}

fn decode_message(
    schema: &ProtoSchema,
    message: usize,
    bytes: &[u8],
    depth: usize,
) -> Result<Decoded, String> {
    if depth >= DECODE_DEPTH_MAX {
        return Err(format!("row nests messages deeper than {DECODE_DEPTH_MAX}"));
    }
    let def = schema.message(message);
    let mut fields: Vec<Vec<Value>> = vec![Vec::new(); def.fields.len()];
    // A singular message field seen several times is the merge of its occurrences, which
    // protobuf defines as decoding their concatenation.
    let mut merged: Vec<Option<Vec<u8>>> = vec![None; def.fields.len()];
    let mut r = Reader { bytes, pos: 0 };
    while !r.at_end() {
        let tag = r.varint()?;
        let wire_type = (tag & 7) as u8;
        let number = tag >> 3;
        if number == 0 || number >= 1 << 29 {
            return Err(format!("row has an invalid field number {number}"));
        }
        let Ok(slot) = def
            .fields
            .binary_search_by_key(&number, |f| u64::from(f.number))
        else {
            r.skip(wire_type)?;
            continue;
        };
        let field = &def.fields[slot];
        match (&field.ty, wire_type) {
            (FieldType::Message(inner), WIRE_LEN) => {
                let body = r.length_delimited()?;
                if field.label == Label::Repeated {
                    let value = decode_message(schema, *inner, body, depth + 1)?;
                    fields[slot].push(Value::Message(value));
                } else {
                    merged[slot]
                        .get_or_insert_with(Vec::new)
                        .extend_from_slice(body);
                }
            }
            (FieldType::Scalar(s), wt) if wt == wire_type_of(*s) => {
                let value = read_scalar(&mut r, *s)?;
                if field.label != Label::Repeated {
                    fields[slot].clear();
                }
                fields[slot].push(value);
            }
            // Packed repeated numbers; Java accepts them whether or not the field says so.
            (FieldType::Scalar(s), WIRE_LEN)
                if field.label == Label::Repeated && wire_type_of(*s) != WIRE_LEN =>
            {
                let mut packed = Reader {
                    bytes: r.length_delimited()?,
                    pos: 0,
                };
                while !packed.at_end() {
                    fields[slot].push(read_scalar(&mut packed, *s)?);
                }
            }
            // A wire type that does not fit the declaration makes it an unknown field.
            _ => r.skip(wire_type)?,
        }
    }
    for (slot, body) in merged.into_iter().enumerate() {
        if let (Some(body), FieldType::Message(inner)) = (body, &def.fields[slot].ty) {
            let value = decode_message(schema, *inner, &body, depth + 1)?;
            fields[slot] = vec![Value::Message(value)];
        }
    }
    Ok(Decoded { fields })
}

// ---------------------------------------------------------------------------------------------
// Printing

/// Whether proto3 leaves this value out of the message (no presence, default value).
fn is_default(value: &Value) -> bool {
    match value {
        Value::Signed(v) => *v == 0,
        Value::Unsigned(v) => *v == 0,
        Value::Bool(b) => !*b,
        // Java's `Double.equals`/`Float.equals` compare bits: -0.0 and NaN are not defaults.
        Value::Float(f) => f.to_bits() == 0,
        Value::Double(d) => d.to_bits() == 0,
        Value::Str(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Message(_) => false,
    }
}

fn print_message(
    schema: &ProtoSchema,
    message: usize,
    decoded: &Decoded,
    depth: usize,
    out: &mut String,
) -> Result<(), String> {
    let def = schema.message(message);
    for (field, values) in def.fields.iter().zip(&decoded.fields) {
        let mut values: Vec<&Value> = values.iter().collect();
        if field.label == Label::Singular {
            values.retain(|v| !is_default(v));
        }
        if let FieldType::Message(inner) = field.ty {
            if schema.message(inner).map_entry {
                sort_map_entries(schema, inner, &mut values);
            }
        }
        for value in values {
            print_field(schema, &field.name, &field.ty, value, depth, out)?;
        }
        if out.len() > TEXT_BYTES_MAX {
            return Err(format!("row prints to more than {TEXT_BYTES_MAX} bytes"));
        }
    }
    Ok(())
}

fn print_field(
    schema: &ProtoSchema,
    name: &str,
    ty: &FieldType,
    value: &Value,
    depth: usize,
    out: &mut String,
) -> Result<(), String> {
    indent(depth, out);
    out.push_str(name);
    match (ty, value) {
        (FieldType::Message(inner), Value::Message(m)) => {
            out.push_str(" {\n");
            print_message(schema, *inner, m, depth + 1, out)?;
            indent(depth, out);
            out.push_str("}\n");
        }
        (_, v) => {
            out.push_str(": ");
            print_scalar(v, out);
            out.push('\n');
        }
    }
    Ok(())
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn print_scalar(value: &Value, out: &mut String) {
    match value {
        Value::Signed(v) => out.push_str(&v.to_string()),
        Value::Unsigned(v) => out.push_str(&v.to_string()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Float(f) => out.push_str(&java_float_string(*f)),
        Value::Double(d) => out.push_str(&java_double_string(*d)),
        Value::Str(s) => quoted(s.as_bytes(), out),
        Value::Bytes(b) => quoted(b, out),
        // Decoding only makes message values for message fields, which print_field handles.
        Value::Message(_) => out.push_str("{}"),
    }
}

/// `"` + Java's `TextFormat.escapeBytes` + `"`: C escapes for the usual controls and quotes,
/// printable ASCII as is, every other byte (UTF-8 of non-ASCII text included) as `\NNN` octal.
fn quoted(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                out.push('\\');
                out.push(char::from(b'0' + (b >> 6)));
                out.push(char::from(b'0' + ((b >> 3) & 7)));
                out.push(char::from(b'0' + (b & 7)));
            }
        }
    }
    out.push('"');
}

/// Java's `TextFormat` prints a map field's entries sorted by key (`MapEntryAdapter`), keys
/// compared as Java compares their boxed values: integers as signed `int`/`long` (so uint32
/// above 2^31 sorts first), booleans false first, strings by UTF-16 code unit.
fn sort_map_entries(schema: &ProtoSchema, entry: usize, values: &mut [&Value]) {
    // A synthesized entry message's first field is its key, field number 1.
    let Some(FieldType::Scalar(key_scalar)) = schema.message(entry).fields.first().map(|f| &f.ty)
    else {
        return;
    };
    values.sort_by(|a, b| compare_keys(*key_scalar, map_key(a), map_key(b)));
}

/// The key of a decoded map entry (its field number 1), `None` when absent.
fn map_key(entry: &Value) -> Option<&Value> {
    match entry {
        Value::Message(m) => m.fields.first().and_then(|k| k.last()),
        _ => None,
    }
}

fn compare_keys(scalar: Scalar, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    // An absent key is the type's default, which sorts as that default.
    let java_long = |v: Option<&Value>| -> i64 {
        match (scalar, v) {
            (Scalar::Uint32 | Scalar::Fixed32, Some(Value::Unsigned(u))) => {
                i64::from(*u as u32 as i32)
            }
            (_, Some(Value::Unsigned(u))) => *u as i64,
            (_, Some(Value::Signed(s))) => *s,
            (_, Some(Value::Bool(b))) => i64::from(*b),
            _ => 0,
        }
    };
    match (a, b) {
        (Some(Value::Str(x)), Some(Value::Str(y))) => x.encode_utf16().cmp(y.encode_utf16()),
        (Some(Value::Str(x)), None) => x.encode_utf16().cmp("".encode_utf16()),
        (None, Some(Value::Str(y))) => "".encode_utf16().cmp(y.encode_utf16()),
        _ => java_long(a).cmp(&java_long(b)),
    }
}

/// Java's `Float.toString` (JDK 19+): the shortest digits that round-trip to the float (one
/// digit widened to two when those are closer, so `Float.MIN_VALUE` is `1.4E-45`), plain
/// when `1e-3 <= |f| < 1e7`, otherwise `d.dddE±n`.
fn java_float_string(value: f32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let abs = value.abs();
    if abs == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` on an f32 prints its shortest round-trip digits as `d.ddde±x`.
    let sci = format!("{abs:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut exp: i32 = exp.parse().unwrap_or(0);
    if digits.len() == 1 {
        let two = format!("{abs:.1e}");
        if two.parse::<f32>() == Ok(abs) {
            if let Some((m, e)) = two.split_once('e') {
                if m.len() == 3 && !m.ends_with('0') {
                    digits = m.replace('.', "");
                    exp = e.parse().unwrap_or(exp);
                }
            }
        }
    }
    format!("{sign}{}", java_decimal_layout(&digits, exp))
}

/// Lays out significant `digits` (value `d.ddd × 10^exp`) the way `Double.toString` and
/// `Float.toString` do.
fn java_decimal_layout(digits: &str, exp: i32) -> String {
    if (-3..7).contains(&exp) {
        if exp < 0 {
            let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
            return format!("0.{zeros}{digits}");
        }
        let int_len = usize::try_from(exp).unwrap_or(0) + 1;
        if digits.len() <= int_len {
            let zeros = "0".repeat(int_len - digits.len());
            return format!("{digits}{zeros}.0");
        }
        return format!("{}.{}", &digits[..int_len], &digits[int_len..]);
    }
    let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
    format!("{}.{rest}E{exp}", &digits[..1])
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn schema(text: &str) -> ProtoSchema {
        ProtoSchema::parse(text).expect("test schema parses")
    }

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn tag(number: u64, wire_type: u8, out: &mut Vec<u8>) {
        varint(number << 3 | u64::from(wire_type), out);
    }

    fn len_field(number: u64, body: &[u8], out: &mut Vec<u8>) {
        tag(number, WIRE_LEN, out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    const RIDER: &str = "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  string PROFILEID = 1;\n  double LA = 2;\n  double LO = 3;\n}\n";

    #[test]
    fn decodes_the_base64_row_from_the_brief() {
        // 0a 08 "18f4ea86" (field 1, 8 bytes) | 11 + 8 LE bytes (field 2, double) | 19 + 8 LE bytes (field 3)
        let bytes = base64::engine::general_purpose::STANDARD
            .decode("CggxOGY0ZWE4NhF90LNZ9bFCQBmASL99HYRewA==")
            .expect("valid base64");
        let la = f64::from_le_bytes(bytes[11..19].try_into().expect("8 bytes"));
        let lo = f64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
        assert_eq!(la, 37.3903);
        assert_eq!(lo, -122.0643);
        assert_eq!(
            row_text(&schema(RIDER), &bytes).expect("decodes"),
            "PROFILEID: \"18f4ea86\"\nLA: 37.3903\nLO: -122.0643\n"
        );
    }

    #[test]
    fn omits_proto3_defaults_and_prints_negative_zero() {
        let mut bytes = Vec::new();
        len_field(1, b"", &mut bytes);
        tag(2, WIRE_I64, &mut bytes);
        bytes.extend_from_slice(&0.0f64.to_le_bytes());
        tag(3, WIRE_I64, &mut bytes);
        bytes.extend_from_slice(&(-0.0f64).to_le_bytes());
        assert_eq!(
            row_text(&schema(RIDER), &bytes).expect("decodes"),
            "LO: -0.0\n"
        );
        assert_eq!(row_text(&schema(RIDER), &[]).expect("decodes"), "");
    }

    #[test]
    fn prints_the_headers_row_of_the_rqtt_case() {
        let s = schema("syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 MYKEY = 1;\n  int32 MYVALUE = 2;\n  repeated ConnectDefault2 MYHEADERS = 3;\n\n  message ConnectDefault2 {\n    string KEY = 1;\n    bytes VALUE = 2;\n  }\n}\n");
        let mut header = Vec::new();
        len_field(1, b"abc", &mut header);
        len_field(2, b"!", &mut header);
        let mut bytes = vec![0x08, 11, 0x10, 2];
        len_field(3, &header, &mut bytes);
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "MYKEY: 11\nMYVALUE: 2\nMYHEADERS {\n  KEY: \"abc\"\n  VALUE: \"!\"\n}\n"
        );
        // Two elements, and an empty one that is still printed because it is present.
        len_field(3, &[], &mut bytes);
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "MYKEY: 11\nMYVALUE: 2\nMYHEADERS {\n  KEY: \"abc\"\n  VALUE: \"!\"\n}\nMYHEADERS {\n}\n"
        );
        assert_eq!(
            row_text(&s, &[0x08, 10, 0x10, 1]).expect("decodes"),
            "MYKEY: 10\nMYVALUE: 1\n"
        );
    }

    #[test]
    fn nested_messages_indent_two_spaces_per_level_and_merge() {
        let s = schema("syntax = \"proto3\";\nmessage R {\n  A a = 1;\n  message A {\n    B b = 1;\n    int64 n = 2;\n    message B { sint32 z = 1; }\n  }\n}\n");
        let mut b = Vec::new();
        tag(1, WIRE_VARINT, &mut b);
        varint(3, &mut b); // zigzag 3 = -2
        let mut a = Vec::new();
        len_field(1, &b, &mut a);
        let mut bytes = Vec::new();
        len_field(1, &a, &mut bytes);
        // A second occurrence of the singular field `a` merges into the first.
        len_field(1, &[0x10, 0x07], &mut bytes);
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "a {\n  b {\n    z: -2\n  }\n  n: 7\n}\n"
        );
    }

    #[test]
    fn imported_types_print_with_their_real_field_names() {
        let s = schema("syntax = \"proto3\";\nimport \"confluent/type/decimal.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage R {\n  confluent.type.Decimal D = 1 [(confluent.field_meta) = {\n    params: [{ key: \"precision\", value: \"4\" }]\n  }];\n  google.protobuf.Timestamp T = 2;\n}\n");
        let mut decimal = Vec::new();
        len_field(1, &[0x04, 0xd2], &mut decimal); // 1234 unscaled
        decimal.extend_from_slice(&[0x10, 4, 0x18, 2]); // precision 4, scale 2
        let mut bytes = Vec::new();
        len_field(1, &decimal, &mut bytes);
        len_field(2, &[0x08, 0x05, 0x10, 0x01], &mut bytes);
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "D {\n  value: \"\\004\\322\"\n  precision: 4\n  scale: 2\n}\nT {\n  seconds: 5\n  nanos: 1\n}\n"
        );
    }

    /// The server's own encoder as input: its schema parses here and its row prints as the
    /// text ksqlDB's runner would derive by hand. Explicit `…Entry` messages are not map
    /// fields in Java, so they print in wire (insertion) order, unsorted.
    #[test]
    fn decodes_what_the_server_encodes() {
        use sluice_engine::types::{Decimal, SqlType, Value as Cell};
        use sluice_protocol::ksqldb::query::protobuf_rows::ProtoRows;

        let columns = [
            ("ID", "STRING"),
            ("H", "ARRAY<STRUCT<KEY STRING, VALUE BYTES>>"),
            ("M", "MAP<STRING, INT>"),
            ("T", "TIMESTAMP"),
            ("N", "DECIMAL(5, 2)"),
            ("X", "DOUBLE"),
            ("B", "BOOLEAN"),
        ];
        let names: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
        let types: Vec<SqlType> = columns
            .iter()
            .map(|(_, t)| sluice_engine::parse_type(t).expect("a type"))
            .collect();
        let rows = ProtoRows::new(&names, &types).expect("representable");
        let values = [
            Cell::String("é\n".into()),
            Cell::Array(vec![Cell::Struct(vec![
                ("KEY".into(), Cell::String("k".into())),
                ("VALUE".into(), Cell::Bytes(vec![b'!'])),
            ])]),
            Cell::Map(vec![
                (Cell::String("b".into()), Cell::Integer(2)),
                (Cell::String("a".into()), Cell::Integer(0)),
            ]),
            Cell::Timestamp(-1),
            Cell::Decimal(Decimal::new(-12_345, 2)),
            Cell::Double(1.0e10),
            Cell::Boolean(false),
        ];
        let mut bytes = Vec::new();
        rows.encode_row(values.iter().map(sluice_engine::CellRef::Value), &mut bytes);
        let s = ProtoSchema::parse(rows.schema()).expect("the server's schema parses");
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "ID: \"\\303\\251\\n\"\n\
             H {\n  KEY: \"k\"\n  VALUE: \"!\"\n}\n\
             M {\n  key: \"b\"\n  value: 2\n}\n\
             M {\n  key: \"a\"\n}\n\
             T {\n  seconds: -1\n  nanos: 999000000\n}\n\
             N {\n  value: \"\\317\\307\"\n  precision: 5\n  scale: 2\n}\n\
             X: 1.0E10\n"
        );
    }

    #[test]
    fn scalars_print_as_java_prints_them() {
        let s = schema("syntax = \"proto3\";\nmessage R {\n  int32 i = 1;\n  uint32 u = 2;\n  fixed64 f = 3;\n  bool b = 4;\n  float x = 5;\n  sfixed32 sf = 6;\n  int64 big = 7;\n  double d = 8;\n}\n");
        let mut bytes = Vec::new();
        tag(1, WIRE_VARINT, &mut bytes);
        let before = bytes.len();
        varint(-5i64 as u64, &mut bytes); // a negative int32 is a ten-byte varint
        assert_eq!(bytes.len() - before, 10);
        tag(2, WIRE_VARINT, &mut bytes);
        varint(u64::from(u32::MAX), &mut bytes);
        tag(3, WIRE_I64, &mut bytes);
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        tag(4, WIRE_VARINT, &mut bytes);
        varint(1, &mut bytes);
        tag(5, WIRE_I32, &mut bytes);
        bytes.extend_from_slice(&0.1f32.to_le_bytes());
        tag(6, WIRE_I32, &mut bytes);
        bytes.extend_from_slice(&(-7i32).to_le_bytes());
        tag(7, WIRE_VARINT, &mut bytes);
        varint(i64::MIN as u64, &mut bytes);
        tag(8, WIRE_I64, &mut bytes);
        bytes.extend_from_slice(&1.0e10f64.to_le_bytes());
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "i: -5\nu: 4294967295\nf: 18446744073709551615\nb: true\nx: 0.1\nsf: -7\nbig: -9223372036854775808\nd: 1.0E10\n"
        );
    }

    #[test]
    fn java_float_text() {
        let cases: &[(f32, &str)] = &[
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (37.7877, "37.7877"),
            (1.0e7, "1.0E7"),
            (1.0e-4, "1.0E-4"),
            (0.001, "0.001"),
            (1234567.0, "1234567.0"),
            (f32::MAX, "3.4028235E38"),
            (f32::from_bits(1), "1.4E-45"),
            (f32::NAN, "NaN"),
            (f32::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(java_float_string(*f), *want, "{f:?}");
        }
    }

    #[test]
    fn strings_and_bytes_use_java_escapes() {
        let s = schema("syntax = \"proto3\";\nmessage R { string s = 1; bytes b = 2; }\n");
        let mut bytes = Vec::new();
        len_field(1, "a\"b'c\\d\ne\tf\rgé".as_bytes(), &mut bytes);
        len_field(
            2,
            &[0x00, 0x07, 0x08, 0x0b, 0x0c, 0x7f, 0xff, b'z'],
            &mut bytes,
        );
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "s: \"a\\\"b\\'c\\\\d\\ne\\tf\\rg\\303\\251\"\nb: \"\\000\\a\\b\\v\\f\\177\\377z\"\n"
        );
    }

    #[test]
    fn repeated_scalars_packed_or_not_and_unknown_fields_skipped() {
        let s = schema(
            "syntax = \"proto3\";\nmessage R { repeated int32 r = 1; repeated string t = 2; }\n",
        );
        let mut bytes = Vec::new();
        len_field(1, &[1, 0, 3], &mut bytes); // packed 1, 0, 3
        tag(1, WIRE_VARINT, &mut bytes); // and one unpacked
        varint(4, &mut bytes);
        len_field(2, b"", &mut bytes); // repeated elements print even when empty
        tag(9, WIRE_I32, &mut bytes); // unknown fields of every wire type
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        tag(10, WIRE_I64, &mut bytes);
        bytes.extend_from_slice(&[0; 8]);
        len_field(11, b"xyz", &mut bytes);
        tag(12, WIRE_VARINT, &mut bytes);
        varint(300, &mut bytes);
        tag(2, WIRE_VARINT, &mut bytes); // a mismatched wire type is unknown too
        varint(5, &mut bytes);
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "r: 1\nr: 0\nr: 3\nr: 4\nt: \"\"\n"
        );
    }

    #[test]
    fn map_entries_print_sorted_by_key() {
        let s = schema("syntax = \"proto3\";\nmessage R { map<string, int32> m = 1; }\n");
        let mut bytes = Vec::new();
        for (k, v) in [("b", 2u64), ("a", 1), ("c", 0)] {
            let mut entry = Vec::new();
            len_field(1, k.as_bytes(), &mut entry);
            if v != 0 {
                tag(2, WIRE_VARINT, &mut entry);
                varint(v, &mut entry);
            }
            len_field(1, &entry, &mut bytes);
        }
        assert_eq!(
            row_text(&s, &bytes).expect("decodes"),
            "m {\n  key: \"a\"\n  value: 1\n}\nm {\n  key: \"b\"\n  value: 2\n}\nm {\n  key: \"c\"\n}\n"
        );
    }

    #[test]
    fn malformed_rows_are_errors() {
        let s = schema(RIDER);
        let bad: &[(&[u8], &str)] = &[
            (&[0x0a, 0x05, b'a'], "ends inside"),
            (&[0x11, 0, 0, 0], "ends inside"),
            (&[0x80], "ends inside a varint"),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
                "longer than ten",
            ),
            (&[0x00], "field number 0"),
            (&[0x0b], "group"),
            (&[0x0f], "invalid wire type"),
            (&[0x0a, 0x02, 0xc3, 0x28], "not UTF-8"),
            (&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], "ends inside"),
        ];
        for (bytes, want) in bad {
            let err = row_text(&s, bytes).expect_err("malformed");
            assert!(err.contains(want), "{bytes:?}: {err}");
        }
        // A self-recursive message nested past the limit.
        let rec = schema("syntax = \"proto3\";\nmessage R { R r = 1; }\n");
        let mut bytes = Vec::new();
        for _ in 0..DECODE_DEPTH_MAX + 1 {
            let mut outer = Vec::new();
            len_field(1, &bytes, &mut outer);
            bytes = outer;
        }
        let err = row_text(&rec, &bytes).expect_err("too deep");
        assert!(err.contains("deeper"), "{err}");
    }

    #[test]
    fn every_truncation_of_a_valid_row_is_handled_without_panic() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode("CggxOGY0ZWE4NhF90LNZ9bFCQBmASL99HYRewA==")
            .expect("valid base64");
        let s = schema(RIDER);
        let full = row_text(&s, &bytes).expect("decodes");
        // The fields end at bytes 10, 19 and 28: cuts there decode to fewer fields, every
        // other cut falls inside a field and is an error.
        for cut in 0..bytes.len() {
            match row_text(&s, &bytes[..cut]) {
                Ok(text) => {
                    assert!([0, 10, 19].contains(&cut), "cut {cut} decoded");
                    assert!(full.starts_with(&text), "cut {cut}: {text}");
                }
                Err(e) => assert!(e.contains("ends inside"), "cut {cut}: {e}"),
            }
        }
        assert_eq!(
            row_text(&s, &bytes[..19]).expect("decodes"),
            "PROFILEID: \"18f4ea86\"\nLA: 37.3903\n"
        );
    }
}
