//! Result rows as protobuf messages, for `Accept: application/vnd.ksql.v1+protobuf` on
//! `/query-stream` and `/query` (ksqldb-api.md §1): the header carries a `.proto` schema
//! of the result's columns and each row is one message of it, in base64.
//!
//! The schema is what ksqlDB sends: its columns made a Kafka Connect struct, turned into a
//! proto3 file by Confluent's converter and printed as that converter prints files. Clients
//! compile or parse this text, so it is reproduced exactly:
//!
//! ```text
//! syntax = "proto3";
//!
//! import "google/protobuf/timestamp.proto";      (one per well-known type used)
//!
//! message ConnectDefault1 {
//!   string ID = 1;                               (column order, tags from 1)
//!   repeated ConnectDefault2 ITEMS = 3;          (ARRAY: repeated element)
//!   repeated ConnectDefault3Entry TAGS = 4;      (MAP: repeated key/value entry message)
//!
//!   message ConnectDefault2 { … }                (STRUCTs and map entries, nested)
//! }
//! ```
//!
//! Nested message names number depth-first in column order, as the converter allocates
//! them. Values follow proto3: a null is an absent field, DECIMAL is
//! `confluent.type.Decimal` (two's-complement unscaled bytes, precision, scale), TIMESTAMP
//! `google.protobuf.Timestamp`, DATE `google.type.Date`, TIME `google.type.TimeOfDay`.

use sluice_engine::codec::coerce_json_text;
use sluice_engine::codec::CoercionMode;
use sluice_engine::types::{Decimal, SqlType, StructField, Value};
use sluice_engine::CellRef;

use crate::error::ProtocolError;

/// Nesting the schema may reach (structs in maps in structs …): a bound on the work and
/// on the recursion a hostile table definition could ask for.
pub const PROTO_NESTING_MAX: usize = 32;

/// The result's message: its `.proto` text, and how to encode rows as it.
#[derive(Debug, Clone)]
pub struct ProtoRows {
    types: Vec<SqlType>,
    schema: String,
}

impl ProtoRows {
    /// The message for columns `names` of `types`, or an error for a type the format cannot
    /// carry (an ARRAY of ARRAYs or of MAPs: a repeated field cannot repeat again).
    pub fn new(names: &[String], types: &[SqlType]) -> Result<ProtoRows, ProtocolError> {
        let mut builder = SchemaBuilder::default();
        let fields: Vec<(&str, &SqlType)> =
            names.iter().map(String::as_str).zip(types.iter()).collect();
        let root_name = builder.next_name();
        let root = builder.message(root_name, &fields, 0)?;
        Ok(ProtoRows {
            types: types.to_vec(),
            schema: render_file(&builder.imports, &root),
        })
    }

    /// The `.proto` text for the header's `protoSchema`.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Appends one row (cells in column order) as a serialized message.
    pub fn encode_row<'a>(&self, cells: impl Iterator<Item = CellRef<'a>>, out: &mut Vec<u8>) {
        for (i, (cell, ty)) in cells.zip(&self.types).enumerate() {
            let tag = field_tag(i);
            match cell {
                CellRef::Value(v) => encode_field(tag, ty, v, out),
                CellRef::Json(text) => {
                    // Only plain scalars are kept as their JSON text; read them back as
                    // values of the column's type (an unreadable one is left out, as null).
                    let value = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| coerce_json_text(t, ty, CoercionMode::KafkaJson).ok());
                    if let Some(v) = value {
                        encode_field(tag, ty, &v, out);
                    }
                }
            }
        }
    }
}

fn field_tag(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

// ---- the schema -------------------------------------------------------------------------

/// One message of the schema: its fields, then the messages nested in it.
#[derive(Debug)]
struct Message {
    name: String,
    fields: Vec<Field>,
    nested: Vec<Message>,
}

#[derive(Debug)]
struct Field {
    repeated: bool,
    type_name: String,
    name: String,
    tag: u32,
    /// DECIMAL's precision and scale, printed as the converter's field option.
    decimal: Option<(u8, u8)>,
}

#[derive(Default)]
struct SchemaBuilder {
    /// Last `ConnectDefaultN` handed out.
    names: u32,
    /// Files of the well-known types used, in first-use order.
    imports: Vec<&'static str>,
}

impl SchemaBuilder {
    fn next_name(&mut self) -> String {
        self.names += 1;
        format!("ConnectDefault{}", self.names)
    }

    fn message(
        &mut self,
        name: String,
        fields: &[(&str, &SqlType)],
        depth: usize,
    ) -> Result<Message, ProtocolError> {
        if depth > PROTO_NESTING_MAX {
            return Err(unsupported(format!(
                "the result nests types more than {PROTO_NESTING_MAX} deep"
            )));
        }
        let mut message = Message {
            name,
            fields: Vec::with_capacity(fields.len()),
            nested: Vec::new(),
        };
        for (i, (field_name, ty)) in fields.iter().enumerate() {
            let field = self.field(&mut message, ty, field_name, field_tag(i), depth)?;
            message.fields.push(field);
        }
        Ok(message)
    }

    /// One field of `parent`, adding the message its type needs (a struct's, a map's entry)
    /// to `parent`'s nested messages. The type's name is taken before the nested message is
    /// built, so names number depth-first as the converter numbers them.
    fn field(
        &mut self,
        parent: &mut Message,
        ty: &SqlType,
        name: &str,
        tag: u32,
        depth: usize,
    ) -> Result<Field, ProtocolError> {
        let (repeated, element) = match ty {
            SqlType::Array(inner) => {
                if matches!(**inner, SqlType::Array(_) | SqlType::Map(..)) {
                    return Err(unsupported(format!(
                        "column {name} is an ARRAY of {}, which a protobuf field cannot repeat",
                        inner.base_name()
                    )));
                }
                (true, &**inner)
            }
            SqlType::Map(..) => (true, ty),
            _ => (false, ty),
        };
        let type_name = self.type_name(element, name);
        match element {
            SqlType::Struct(fields) => {
                let fields: Vec<(&str, &SqlType)> = fields
                    .iter()
                    .map(|StructField { name, ty }| (name.as_str(), ty))
                    .collect();
                let nested = self.message(type_name.clone(), &fields, depth + 1)?;
                parent.nested.push(nested);
            }
            SqlType::Map(key, value) => {
                let fields = [("key", &**key), ("value", &**value)];
                let nested = self.message(type_name.clone(), &fields, depth + 1)?;
                parent.nested.push(nested);
            }
            _ => {
                if let Some(file) = well_known_file(element) {
                    if !self.imports.contains(&file) {
                        self.imports.push(file);
                    }
                }
            }
        }
        Ok(Field {
            repeated,
            type_name,
            name: name.to_string(),
            tag,
            decimal: match element {
                SqlType::Decimal { precision, scale } => Some((*precision, *scale)),
                _ => None,
            },
        })
    }

    fn type_name(&mut self, ty: &SqlType, field_name: &str) -> String {
        match ty {
            SqlType::Boolean => "bool".into(),
            SqlType::Integer => "int32".into(),
            SqlType::BigInt => "int64".into(),
            SqlType::Double => "double".into(),
            SqlType::String => "string".into(),
            SqlType::Bytes => "bytes".into(),
            SqlType::Decimal { .. } => "confluent.type.Decimal".into(),
            SqlType::Timestamp => "google.protobuf.Timestamp".into(),
            SqlType::Date => "google.type.Date".into(),
            SqlType::Time => "google.type.TimeOfDay".into(),
            SqlType::Map(..) => format!("{}Entry", self.next_name()),
            SqlType::Struct(_) => {
                let name = self.next_name();
                // A message type may not share its field's name.
                if name == field_name {
                    format!("{name}Message")
                } else {
                    name
                }
            }
            // Arrays are unwrapped into repeated fields before naming.
            SqlType::Array(inner) => self.type_name(inner, field_name),
        }
    }
}

fn well_known_file(ty: &SqlType) -> Option<&'static str> {
    match ty {
        SqlType::Decimal { .. } => Some("confluent/type/decimal.proto"),
        SqlType::Timestamp => Some("google/protobuf/timestamp.proto"),
        SqlType::Date => Some("google/type/date.proto"),
        SqlType::Time => Some("google/type/timeofday.proto"),
        _ => None,
    }
}

fn unsupported(detail: String) -> ProtocolError {
    ProtocolError::UnsupportedInFormat(format!(
        "The PROTOBUF response format cannot carry this result: {detail}"
    ))
}

fn render_file(imports: &[&str], root: &Message) -> String {
    let mut out = String::from("syntax = \"proto3\";\n");
    if !imports.is_empty() {
        out.push('\n');
        for file in imports {
            out.push_str(&format!("import \"{file}\";\n"));
        }
    }
    out.push('\n');
    out.push_str(&render_message(root));
    out
}

fn render_message(message: &Message) -> String {
    let mut out = format!("message {} {{", message.name);
    if !message.fields.is_empty() {
        out.push('\n');
        for field in &message.fields {
            push_indented(&mut out, &render_field(field));
        }
    }
    if !message.nested.is_empty() {
        out.push('\n');
        for nested in &message.nested {
            push_indented(&mut out, &render_message(nested));
        }
    }
    out.push_str("}\n");
    out
}

fn render_field(field: &Field) -> String {
    let label = if field.repeated { "repeated " } else { "" };
    let mut out = format!("{label}{} {} = {}", field.type_name, field.name, field.tag);
    if let Some((precision, scale)) = field.decimal {
        out.push_str(&format!(
            " [(confluent.field_meta) = {{\n  params: [\n    {{\n      value: \"{precision}\",\n      key: \"precision\"\n    }},\n    {{\n      value: \"{scale}\",\n      key: \"scale\"\n    }}\n  ]\n}}]"
        ));
    }
    out.push_str(";\n");
    out
}

/// Appends `text` with every line indented by two spaces (a nested block).
fn push_indented(out: &mut String, text: &str) {
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
}

// ---- the wire ---------------------------------------------------------------------------

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LENGTH_DELIMITED: u32 = 2;

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(tag: u32, wire_type: u32, out: &mut Vec<u8>) {
    put_varint(u64::from(tag) << 3 | u64::from(wire_type), out);
}

/// A length-delimited field whose body `write` appends: written in place, then the
/// length inserted before it (bodies are small; this avoids a buffer per message).
fn put_delimited(tag: u32, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    put_key(tag, LENGTH_DELIMITED, out);
    let start = out.len();
    write(out);
    let (mut prefix, mut n, mut len) = ([0u8; 10], 0, (out.len() - start) as u64);
    while len >= 0x80 {
        prefix[n] = (len as u8) | 0x80;
        len >>= 7;
        n += 1;
    }
    prefix[n] = len as u8;
    out.splice(start..start, prefix[..=n].iter().copied());
}

fn put_bytes(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    put_key(tag, LENGTH_DELIMITED, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Field `tag` holding `value` of `ty`. Nulls and proto3 default values are left out, as
/// a proto3 serializer leaves them out.
fn encode_field(tag: u32, ty: &SqlType, value: &Value, out: &mut Vec<u8>) {
    match (ty, value) {
        (_, Value::Null) => {}
        (SqlType::Array(inner), Value::Array(items)) => {
            // One entry per element; a null element has no proto3 spelling and is left out.
            for item in items {
                encode_element(tag, inner, item, out);
            }
        }
        (SqlType::Map(key_ty, value_ty), Value::Map(entries)) => {
            for (k, v) in entries {
                put_delimited(tag, out, |out| {
                    encode_field(1, key_ty, k, out);
                    encode_field(2, value_ty, v, out);
                });
            }
        }
        _ => {
            if !is_default(value) {
                encode_element(tag, ty, value, out);
            }
        }
    }
}

/// One occurrence of field `tag` (a singular field, or one element of a repeated one,
/// where default values are kept: they are elements).
fn encode_element(tag: u32, ty: &SqlType, value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null | Value::Array(_) | Value::Map(_) => {}
        Value::Boolean(b) => {
            put_key(tag, VARINT, out);
            put_varint(u64::from(*b), out);
        }
        // int32 and int64 negatives are ten-byte sign-extended varints.
        Value::Integer(i) => {
            put_key(tag, VARINT, out);
            put_varint(i64::from(*i) as u64, out);
        }
        Value::BigInt(i) => {
            put_key(tag, VARINT, out);
            put_varint(*i as u64, out);
        }
        Value::Double(d) => {
            put_key(tag, FIXED64, out);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::String(s) => put_bytes(tag, s.as_bytes(), out),
        Value::Bytes(b) => put_bytes(tag, b, out),
        Value::Decimal(d) => put_delimited(tag, out, |out| encode_decimal(d, out)),
        Value::Timestamp(ms) => put_delimited(tag, out, |out| {
            let (seconds, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
            put_int(1, seconds, out);
            put_int(2, millis * 1_000_000, out);
        }),
        Value::Date(days) => put_delimited(tag, out, |out| {
            let (year, month, day) = sluice_engine::codec::civil_from_days(i64::from(*days));
            put_int(1, year, out);
            put_int(2, i64::from(month), out);
            put_int(3, i64::from(day), out);
        }),
        Value::Time(ms) => put_delimited(tag, out, |out| {
            let ms = i64::from(*ms);
            put_int(1, ms / 3_600_000, out);
            put_int(2, ms / 60_000 % 60, out);
            put_int(3, ms / 1000 % 60, out);
            put_int(4, ms % 1000 * 1_000_000, out);
        }),
        Value::Struct(fields) => {
            let SqlType::Struct(field_types) = ty else {
                return;
            };
            put_delimited(tag, out, |out| {
                for (i, field_ty) in field_types.iter().enumerate() {
                    // Fields come in the type's order; look a name up only if they do not.
                    let value = match fields.get(i) {
                        Some((name, v)) if *name == field_ty.name => v,
                        _ => fields
                            .iter()
                            .find(|(name, _)| *name == field_ty.name)
                            .map_or(&Value::Null, |(_, v)| v),
                    };
                    encode_field(field_tag(i), &field_ty.ty, value, out);
                }
            });
        }
    }
}

/// A varint field left out at zero, as proto3 does.
fn put_int(tag: u32, v: i64, out: &mut Vec<u8>) {
    if v != 0 {
        put_key(tag, VARINT, out);
        put_varint(v as u64, out);
    }
}

/// `confluent.type.Decimal`: the unscaled value as Java's `BigInteger.toByteArray` (the
/// shortest big-endian two's complement), the value's own precision (its digit count, at
/// least 1) and its scale.
fn encode_decimal(d: &Decimal, out: &mut Vec<u8>) {
    put_bytes(1, &twos_complement(d.unscaled), out);
    put_int(2, i64::from(d.digits()), out);
    put_int(3, i64::from(d.scale), out);
}

fn twos_complement(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    // Drop leading bytes that only repeat the sign of the byte after them.
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Boolean(b) => !b,
        Value::Integer(i) => *i == 0,
        Value::BigInt(i) => *i == 0,
        // -0.0 is not the default: its bits differ, and proto3 writes it.
        Value::Double(d) => d.to_bits() == 0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
#[path = "protobuf_rows_tests.rs"]
mod tests;
