//! Each SQL type's JSON value in an `/inserts-stream` row, read under ksqlDB's API rules and
//! written in ksqlDB's stored spelling (see [`super::super::json_value`]), in one pass.
//!
//! A writer reads one value at the cursor and answers where its stored text is: still in
//! the line (a value already spelled as ksqlDB stores it, the usual case: copied once, when
//! the record value is assembled) or at the end of the scratch buffer. Containers build
//! their text at the end of the scratch buffer from their elements'. A writer answers
//! [`Fail::Mismatch`] for a valid value the type does not accept (an error in the full
//! decoder, unless a later field of the same name replaces it) and [`Fail::Abort`] for
//! what ends the fast path for the whole row.

use std::collections::HashMap;

use super::super::coerce::{api_map_key, decode_base64, parse_f64, parse_temporal_text};
use super::super::decimal_text::{self, write_java_big_decimal, Rounding};
use super::super::java_double::write_java_double;
use super::super::java_hash_map::{ascii_key_hash, bucket_order, string_key_hash, Sizing};
use super::super::json_text::{
    write_base64_string, write_i64, write_stored_json_string, JSON_NESTING_DEPTH_MAX,
};
use super::super::json_value::write_stored_map_key;
use super::cursor::{decode_string, Cursor, NumTok, StrTok};
use super::names::{normalised_name, same_raw_name, NameTable, Resolved};
use crate::types::{SqlType, Value};

/// Entries of one MAP up to this many are checked for repeated keys one against another;
/// more go through a hash map, so a huge object cannot make the check quadratic.
const MAP_LINEAR_DEDUP_ENTRIES_MAX: usize = 16;

/// Unknown field names of one object up to this many are checked for clashes pairwise.
const UNKNOWN_LINEAR_NAMES_MAX: usize = 16;

/// Why a writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    /// Valid JSON the type does not accept: the field's value fails (rewind and skip it).
    Mismatch,
    /// Invalid JSON, nesting too deep, or a row the fast path does not read: give up.
    Abort,
}

pub(super) type Step<T> = Result<T, Fail>;

/// Longest line (and scratch buffer) the fast path reads: positions are kept as `u32`, so a
/// value's place and a field's slot stay small (the row loop passes and writes one per
/// field). A longer line goes to the full decoder; the endpoints' own row limit is far
/// smaller.
pub(super) const LINE_BYTES_MAX: usize = u32::MAX as usize;

/// Where a value's stored text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    Null,
    /// `line[start..end]`, already in stored spelling.
    Line(u32, u32),
    /// `scratch[start..end]`.
    Scratch(u32, u32),
}

impl Text {
    /// `line[start..end]`; positions in a line of at most [`LINE_BYTES_MAX`] bytes.
    fn line(start: usize, end: usize) -> Text {
        debug_assert!(end <= LINE_BYTES_MAX, "the row's length was checked");
        Text::Line(start as u32, end as u32)
    }
}

/// How one SQL type is read and written.
#[derive(Debug, Clone)]
pub(super) enum TypePlan {
    Boolean,
    Integer,
    BigInt,
    Double,
    String,
    Bytes,
    Decimal { precision: u8, scale: u8 },
    /// TIMESTAMP, DATE or TIME: ISO text in, epoch numbers out.
    Temporal(SqlType),
    Array(Box<TypePlan>),
    Map(Box<MapPlan>),
    Struct(Box<StructPlan>),
}

#[derive(Debug, Clone)]
pub(super) struct MapPlan {
    key: SqlType,
    value: TypePlan,
}

/// The fields of an object: a STRUCT's, or a row's columns.
#[derive(Debug, Clone)]
pub(super) struct StructPlan {
    pub(super) fields: Vec<FieldPlan>,
    pub(super) names: NameTable,
}

#[derive(Debug, Clone)]
pub(super) struct FieldPlan {
    pub(super) ty: TypePlan,
    /// `"NAME":` in stored spelling.
    pub(super) prefix: Box<[u8]>,
}

impl TypePlan {
    pub(super) fn new(ty: &SqlType) -> TypePlan {
        match ty {
            SqlType::Boolean => TypePlan::Boolean,
            SqlType::Integer => TypePlan::Integer,
            SqlType::BigInt => TypePlan::BigInt,
            SqlType::Double => TypePlan::Double,
            SqlType::String => TypePlan::String,
            SqlType::Bytes => TypePlan::Bytes,
            SqlType::Decimal { precision, scale } => TypePlan::Decimal {
                precision: *precision,
                scale: *scale,
            },
            SqlType::Timestamp | SqlType::Date | SqlType::Time => TypePlan::Temporal(ty.clone()),
            SqlType::Array(item) => TypePlan::Array(Box::new(TypePlan::new(item))),
            SqlType::Map(key, value) => TypePlan::Map(Box::new(MapPlan {
                key: (**key).clone(),
                value: TypePlan::new(value),
            })),
            SqlType::Struct(fields) => TypePlan::Struct(Box::new(StructPlan::new(
                fields.iter().map(|f| (f.name.as_str(), &f.ty)),
            ))),
        }
    }
}

impl StructPlan {
    pub(super) fn new<'a>(fields: impl Iterator<Item = (&'a str, &'a SqlType)>) -> StructPlan {
        let mut names = Vec::new();
        let mut plans = Vec::new();
        for (name, ty) in fields {
            let mut prefix = Vec::with_capacity(name.len() + 3);
            write_stored_json_string(name, &mut prefix);
            prefix.push(b':');
            names.push(name.to_owned());
            plans.push(FieldPlan {
                ty: TypePlan::new(ty),
                prefix: prefix.into_boxed_slice(),
            });
        }
        StructPlan {
            fields: plans,
            names: NameTable::new(names),
        }
    }
}

/// One field of an object being read.
#[derive(Debug, Clone, Copy)]
pub(super) struct FieldSlot {
    pub(super) state: SlotState,
    /// The name it came under (for the same-name checks); `end == 0` until it comes.
    name: NameRef,
    /// Its raw JSON in the line.
    pub(super) raw: (u32, u32),
}

/// Where a field's name lies in the line.
#[derive(Debug, Clone, Copy)]
struct NameRef {
    start: u32,
    end: u32,
    escaped: bool,
}

impl NameRef {
    fn new(tok: StrTok) -> NameRef {
        NameRef {
            start: tok.start as u32,
            end: tok.end as u32,
            escaped: tok.escaped,
        }
    }

    fn tok(self) -> StrTok {
        StrTok {
            start: self.start as usize,
            end: self.end as usize,
            escaped: self.escaped,
            ascii: false,
            supplementary: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotState {
    Missing,
    Set(Text),
    /// Its last value failed to coerce: an error unless replaced.
    Failed,
}

const MISSING: FieldSlot = FieldSlot {
    state: SlotState::Missing,
    name: NameRef {
        start: 0,
        end: 0,
        escaped: false,
    },
    raw: (0, 0),
};

/// One MAP entry read: its stored key and value text in the scratch buffer.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: (usize, usize),
    value: (usize, usize),
    /// `HashMap.hash` of a STRING key.
    hash: u32,
}

/// Buffers reused row after row, so reading a row allocates nothing (rare paths aside).
#[derive(Debug, Default)]
pub(super) struct Work {
    pub(super) scratch: Vec<u8>,
    /// Where a container's text is put together before it replaces its parts.
    assembly: Vec<u8>,
    /// Decoded string text.
    text: Vec<u8>,
    text_b: Vec<u8>,
    /// Field slots of the objects being read, innermost last.
    pub(super) fields: Vec<FieldSlot>,
    entries: Vec<Entry>,
    unknown: Vec<StrTok>,
    hashes: Vec<u32>,
    order: Vec<usize>,
    chains: Vec<usize>,
    live: Vec<usize>,
}

impl Work {
    pub(super) fn clear(&mut self) {
        self.scratch.clear();
        self.fields.clear();
        self.entries.clear();
        self.unknown.clear();
    }

    /// The bytes of `text`.
    pub(super) fn bytes<'a>(&'a self, line: &'a [u8], text: Text) -> &'a [u8] {
        match text {
            Text::Null => b"null",
            Text::Line(start, end) => &line[start as usize..end as usize],
            Text::Scratch(start, end) => &self.scratch[start as usize..end as usize],
        }
    }

    /// The text from `start` to the end of the scratch buffer.
    fn scratch_text(&self, start: usize) -> Step<Text> {
        let end = self.scratch.len();
        if end > LINE_BYTES_MAX {
            return Err(Fail::Abort);
        }
        Ok(Text::Scratch(start as u32, end as u32))
    }

    /// Moves `text` to the end of the scratch buffer (where a container is being built).
    fn place(&mut self, line: &[u8], text: Text) {
        match text {
            Text::Null => self.scratch.extend_from_slice(b"null"),
            Text::Line(start, end) => {
                self.scratch
                    .extend_from_slice(&line[start as usize..end as usize]);
            }
            Text::Scratch(_, end) => {
                debug_assert_eq!(end as usize, self.scratch.len(), "a writer's text ends the scratch");
            }
        }
    }

    /// Reads one value of type `ty`; `depth` is how many arrays and objects enclose it.
    pub(super) fn value(&mut self, ty: &TypePlan, s: &mut Cursor<'_>, depth: usize) -> Step<Text> {
        let Some(first) = s.peek() else {
            return Err(Fail::Abort);
        };
        if first == b'n' {
            // Null is every type's value (`Result.nullResult()`).
            s.literal(b"null").ok_or(Fail::Abort)?;
            return Ok(Text::Null);
        }
        match ty {
            TypePlan::Boolean => {
                let start = s.at;
                match first {
                    b't' => s.literal(b"true").ok_or(Fail::Abort)?,
                    b'f' => s.literal(b"false").ok_or(Fail::Abort)?,
                    _ => return Err(Fail::Mismatch),
                }
                Ok(Text::line(start, s.at))
            }
            TypePlan::Integer => self.integer(s, 9, |v| i32::try_from(v).is_ok()),
            TypePlan::BigInt => self.integer(s, 18, |_| true),
            TypePlan::Double => self.double(s),
            TypePlan::String => {
                let tok = s.string().ok_or(Fail::Mismatch)?;
                if tok.verbatim() {
                    return Ok(Text::line(tok.start - 1, tok.end + 1));
                }
                let start = self.scratch.len();
                self.text.clear();
                decode_string(s.bytes, tok, &mut self.text);
                let text = std::str::from_utf8(&self.text).map_err(|_| Fail::Abort)?;
                write_stored_json_string(text, &mut self.scratch);
                self.scratch_text(start)
            }
            TypePlan::Bytes => {
                let tok = s.string().ok_or(Fail::Mismatch)?;
                let bytes = decode_base64(self.decoded(s.bytes, tok)?).ok_or(Fail::Mismatch)?;
                let start = self.scratch.len();
                write_base64_string(&bytes, &mut self.scratch);
                self.scratch_text(start)
            }
            TypePlan::Decimal { precision, scale } => self.decimal(s, *precision, *scale),
            TypePlan::Temporal(ty) => {
                let tok = s.string().ok_or(Fail::Mismatch)?;
                // `DefaultSqlValueCoercer.parser` trims before parsing.
                let value = parse_temporal_text(self.decoded(s.bytes, tok)?.trim(), ty)
                    .ok_or(Fail::Mismatch)?;
                let number = match value {
                    Value::Timestamp(ms) => ms,
                    Value::Date(days) => i64::from(days),
                    Value::Time(ms) => i64::from(ms),
                    _ => return Err(Fail::Mismatch),
                };
                let start = self.scratch.len();
                write_i64(number, &mut self.scratch);
                self.scratch_text(start)
            }
            TypePlan::Array(item) if first == b'[' => self.array(item, s, depth),
            TypePlan::Map(plan) if first == b'{' => self.map(plan, s, depth),
            TypePlan::Struct(plan) if first == b'{' => self.structure(plan, s, depth),
            TypePlan::Array(_) | TypePlan::Map(_) | TypePlan::Struct(_) => Err(Fail::Mismatch),
        }
    }

    /// The text of string `tok`, decoded into the text buffer.
    fn decoded(&mut self, line: &[u8], tok: StrTok) -> Step<&str> {
        self.text.clear();
        decode_string(line, tok, &mut self.text);
        std::str::from_utf8(&self.text).map_err(|_| Fail::Abort)
    }

    /// An INTEGER (`digits_safe` 9) or BIGINT (18): an integer token Jackson reads as an
    /// `Integer` (or `Long`, for BIGINT); a `Long` never narrows to INTEGER (STRICT).
    fn integer(
        &mut self,
        s: &mut Cursor<'_>,
        digits_safe: usize,
        fits: impl Fn(i64) -> bool,
    ) -> Step<Text> {
        let num = s.number().ok_or(Fail::Mismatch)?;
        if !num.integral() {
            return Err(Fail::Mismatch);
        }
        if num.int_digits > digits_safe {
            let value: i64 = num.text(s.bytes).parse().map_err(|_| Fail::Mismatch)?;
            if !fits(value) {
                return Err(Fail::Mismatch);
            }
        }
        if num.bytes(s.bytes) == b"-0" {
            let start = self.scratch.len();
            self.scratch.push(b'0');
            return self.scratch_text(start);
        }
        Ok(Text::line(num.start, num.end))
    }

    /// A DOUBLE: any number Jackson reads as an `Integer`, `Long` or `Double` (not a
    /// `BigInteger`), written as `Double.toString`.
    fn double(&mut self, s: &mut Cursor<'_>) -> Step<Text> {
        let num = s.number().ok_or(Fail::Mismatch)?;
        let bytes = num.bytes(s.bytes);
        let start = self.scratch.len();
        if num.integral() {
            // Up to 7 digits prints as itself plus `.0` (|d| < 10^7); `-0` is Integer 0.
            if num.int_digits <= 7 && bytes != b"-0" {
                self.scratch.extend_from_slice(bytes);
                self.scratch.extend_from_slice(b".0");
            } else {
                let value: i64 = num.text(s.bytes).parse().map_err(|_| Fail::Mismatch)?;
                #[allow(clippy::cast_precision_loss)] // Java's Number.doubleValue() rounds too.
                write_java_double(value as f64, &mut self.scratch);
            }
        } else if plain_java_double(&num, s.bytes) {
            return Ok(Text::line(num.start, num.end));
        } else {
            let value = parse_f64(num.text(s.bytes));
            if value.is_finite() {
                write_java_double(value, &mut self.scratch);
            } else {
                // Jackson quotes non-finite numbers (`QUOTE_NON_NUMERIC_NUMBERS`).
                self.scratch.push(b'"');
                write_java_double(value, &mut self.scratch);
                self.scratch.push(b'"');
            }
        }
        self.scratch_text(start)
    }

    /// A DECIMAL as `ApiSqlValueCoercer.coerceDecimal` makes it: a `Double` through
    /// `new BigDecimal(String.valueOf(d))` rounded HALF_UP, text rounded HALF_UP, an
    /// `Integer`/`Long` exactly or not at all; written as `BigDecimal.toString`.
    fn decimal(&mut self, s: &mut Cursor<'_>, precision: u8, scale: u8) -> Step<Text> {
        let (parsed, rounding) = match s.peek() {
            Some(b'"') => {
                let tok = s.string().ok_or(Fail::Mismatch)?;
                let parsed = decimal_text::parse_decimal(self.decoded(s.bytes, tok)?);
                (parsed, Rounding::HalfUp)
            }
            Some(b'-' | b'0'..=b'9') => {
                let num = s.number().ok_or(Fail::Mismatch)?;
                let text = num.text(s.bytes);
                if num.integral() {
                    (decimal_text::parse_decimal(text), Rounding::Unnecessary)
                } else {
                    (decimal_text::parse_double_token(text), Rounding::HalfUp)
                }
            }
            _ => return Err(Fail::Mismatch),
        };
        let parsed = parsed.ok_or(Fail::Mismatch)?;
        let d = decimal_text::fit(parsed, precision, scale, rounding).map_err(|_| Fail::Mismatch)?;
        let start = self.scratch.len();
        write_java_big_decimal(d, &mut self.scratch);
        self.scratch_text(start)
    }

    fn array(&mut self, item: &TypePlan, s: &mut Cursor<'_>, depth: usize) -> Step<Text> {
        let depth = open(s, depth)?;
        let start = self.scratch.len();
        self.scratch.push(b'[');
        s.ws();
        if !s.eat(b']') {
            loop {
                let text = self.value(item, s, depth)?;
                self.place(s.bytes, text);
                s.ws();
                match s.peek() {
                    Some(b',') => {
                        s.at += 1;
                        s.ws();
                        self.scratch.push(b',');
                    }
                    Some(b']') => {
                        s.at += 1;
                        break;
                    }
                    _ => return Err(Fail::Abort),
                }
            }
        }
        self.scratch.push(b']');
        self.scratch_text(start)
    }

    /// A MAP as `ApiSqlValueCoercer.coerceMap` builds it: every key and value coerced (a
    /// repeated key replaces the earlier value in its place), put into a `new HashMap<>()`,
    /// and written in that map's iteration order.
    fn map(&mut self, plan: &MapPlan, s: &mut Cursor<'_>, depth: usize) -> Step<Text> {
        let depth = open(s, depth)?;
        let start = self.scratch.len();
        let base = self.entries.len();
        s.ws();
        if !s.eat(b'}') {
            loop {
                let key = s.string().ok_or(Fail::Abort)?;
                s.ws();
                if !s.eat(b':') {
                    return Err(Fail::Abort);
                }
                s.ws();
                let key_start = self.scratch.len();
                let hash = self.map_key(&plan.key, s.bytes, key)?;
                let key_end = self.scratch.len();
                let text = self.value(&plan.value, s, depth)?;
                self.place(s.bytes, text);
                self.entries.push(Entry {
                    key: (key_start, key_end),
                    value: (key_end, self.scratch.len()),
                    hash,
                });
                s.ws();
                match s.peek() {
                    Some(b',') => {
                        s.at += 1;
                        s.ws();
                    }
                    Some(b'}') => {
                        s.at += 1;
                        break;
                    }
                    _ => return Err(Fail::Abort),
                }
            }
        }
        self.dedup_entries(base);
        self.order.clear();
        if plan.key == SqlType::String {
            self.hashes.clear();
            self.hashes
                .extend(self.live.iter().map(|&i| self.entries[base + i].hash));
            bucket_order(&self.hashes, Sizing::Default, &mut self.chains, &mut self.order);
        } else {
            // Only STRING keys have a known Java hash here (see `java_hash_map`).
            self.order.extend(0..self.live.len());
        }
        self.assembly.clear();
        self.assembly.push(b'{');
        for (n, &at) in self.order.iter().enumerate() {
            let entry = self.entries[base + self.live[at]];
            if n > 0 {
                self.assembly.push(b',');
            }
            self.assembly
                .extend_from_slice(&self.scratch[entry.key.0..entry.key.1]);
            self.assembly.push(b':');
            self.assembly
                .extend_from_slice(&self.scratch[entry.value.0..entry.value.1]);
        }
        self.assembly.push(b'}');
        self.entries.truncate(base);
        self.scratch.truncate(start);
        self.scratch.extend_from_slice(&self.assembly);
        self.scratch_text(start)
    }

    /// Writes the stored text of a MAP key (a JSON object key, a Java `String` coerced to
    /// the key type) at the end of the scratch buffer; returns its `HashMap.hash` when the
    /// key is a STRING.
    fn map_key(&mut self, key_type: &SqlType, line: &[u8], tok: StrTok) -> Step<u32> {
        if *key_type == SqlType::String {
            if tok.verbatim() {
                self.scratch.extend_from_slice(tok.quoted(line));
                let inner = tok.inner(line);
                return Ok(if tok.ascii {
                    ascii_key_hash(inner)
                } else {
                    string_key_hash(std::str::from_utf8(inner).map_err(|_| Fail::Abort)?)
                });
            }
            self.text.clear();
            decode_string(line, tok, &mut self.text);
            let text = std::str::from_utf8(&self.text).map_err(|_| Fail::Abort)?;
            write_stored_json_string(text, &mut self.scratch);
            return Ok(string_key_hash(text));
        }
        let key = api_map_key(self.decoded(line, tok)?, key_type).ok_or(Fail::Mismatch)?;
        write_stored_map_key(&key, &mut self.scratch);
        Ok(0)
    }

    /// Fills `live` with the entries (from `base`) that remain once a repeated key has
    /// replaced the earlier entry's value in its place, as a Java map's `put` does.
    fn dedup_entries(&mut self, base: usize) {
        self.live.clear();
        let count = self.entries.len() - base;
        if count <= MAP_LINEAR_DEDUP_ENTRIES_MAX {
            for j in 0..count {
                let key = self.entries[base + j].key;
                let key = &self.scratch[key.0..key.1];
                let earlier = self.live.iter().copied().find(|&i| {
                    let k = self.entries[base + i].key;
                    &self.scratch[k.0..k.1] == key
                });
                match earlier {
                    Some(i) => self.entries[base + i].value = self.entries[base + j].value,
                    None => self.live.push(j),
                }
            }
            return;
        }
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(count);
        let mut replaced = Vec::new();
        for j in 0..count {
            let key = self.entries[base + j].key;
            match seen.entry(&self.scratch[key.0..key.1]) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    replaced.push((*first.get(), j));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(j);
                    self.live.push(j);
                }
            }
        }
        for (i, j) in replaced {
            self.entries[base + i].value = self.entries[base + j].value;
        }
    }

    /// A STRUCT as `ApiSqlValueCoercer.coerceStruct` builds it: field names normalised
    /// (two names for one field are an error), unknown fields ignored, the last value of a
    /// name given twice kept, and every declared field written in order, absent ones null.
    fn structure(&mut self, plan: &StructPlan, s: &mut Cursor<'_>, depth: usize) -> Step<Text> {
        let start = self.scratch.len();
        let base = self.object(plan, s, depth)?;
        self.assembly.clear();
        self.assembly.push(b'{');
        for (i, field) in plan.fields.iter().enumerate() {
            if i > 0 {
                self.assembly.push(b',');
            }
            self.assembly.extend_from_slice(&field.prefix);
            match self.fields[base + i].state {
                SlotState::Set(text) => {
                    let bytes = match text {
                        Text::Null => b"null".as_slice(),
                        Text::Line(a, b) => &s.bytes[a as usize..b as usize],
                        Text::Scratch(a, b) => &self.scratch[a as usize..b as usize],
                    };
                    self.assembly.extend_from_slice(bytes);
                }
                SlotState::Missing => self.assembly.extend_from_slice(b"null"),
                SlotState::Failed => return Err(Fail::Mismatch),
            }
        }
        self.assembly.push(b'}');
        self.fields.truncate(base);
        self.scratch.truncate(start);
        self.scratch.extend_from_slice(&self.assembly);
        self.scratch_text(start)
    }

    /// Reads an object's fields into slots `base..base + plan.fields.len()` of `fields`;
    /// returns `base`. A field whose value does not coerce is marked [`SlotState::Failed`]
    /// (a later field of the same name may still replace it); the caller decides.
    pub(super) fn object(
        &mut self,
        plan: &StructPlan,
        s: &mut Cursor<'_>,
        depth: usize,
    ) -> Step<usize> {
        let depth = open(s, depth)?;
        let base = self.fields.len();
        self.fields
            .extend(std::iter::repeat_n(MISSING, plan.names.len()));
        let unknown_base = self.unknown.len();
        let mut hint = 0;
        s.ws();
        if !s.eat(b'}') {
            loop {
                let name = s.string().ok_or(Fail::Abort)?;
                s.ws();
                if !s.eat(b':') {
                    return Err(Fail::Abort);
                }
                s.ws();
                match plan.names.resolve_from(s.bytes, name, hint, &mut self.text) {
                    Resolved::Invalid => return Err(Fail::Mismatch),
                    Resolved::Unknown => {
                        self.unknown.push(name);
                        s.skip_value(depth).ok_or(Fail::Abort)?;
                    }
                    Resolved::Field(i) => {
                        hint = i + 1;
                        let earlier = self.fields[base + i].name;
                        if earlier.end != 0
                            && !same_raw_name(
                                s.bytes,
                                earlier.tok(),
                                name,
                                &mut self.text,
                                &mut self.text_b,
                            )
                        {
                            // "Found duplicate column / struct field name".
                            return Err(Fail::Mismatch);
                        }
                        let from = s.at;
                        let marks = (self.scratch.len(), self.fields.len(), self.entries.len());
                        let state = match self.value(&plan.fields[i].ty, s, depth) {
                            Ok(text) => SlotState::Set(text),
                            Err(Fail::Abort) => return Err(Fail::Abort),
                            Err(Fail::Mismatch) => {
                                s.at = from;
                                self.scratch.truncate(marks.0);
                                self.fields.truncate(marks.1);
                                self.entries.truncate(marks.2);
                                s.skip_value(depth).ok_or(Fail::Abort)?;
                                SlotState::Failed
                            }
                        };
                        self.fields[base + i] = FieldSlot {
                            state,
                            name: NameRef::new(name),
                            raw: (from as u32, s.at as u32),
                        };
                    }
                }
                s.ws();
                match s.peek() {
                    Some(b',') => {
                        s.at += 1;
                        s.ws();
                    }
                    Some(b'}') => {
                        s.at += 1;
                        break;
                    }
                    _ => return Err(Fail::Abort),
                }
            }
        }
        let clash = self.unknown_names_clash(s.bytes, unknown_base);
        self.unknown.truncate(unknown_base);
        if clash {
            return Err(Fail::Mismatch);
        }
        Ok(base)
    }

    /// True when two different unknown names of one object normalise alike (`"x"` and
    /// `"X"`): "Found duplicate column / struct field name" in the full decoder.
    fn unknown_names_clash(&self, line: &[u8], base: usize) -> bool {
        let unknown = &self.unknown[base..];
        if unknown.len() < 2 {
            return false;
        }
        let names: Vec<(String, String)> = unknown
            .iter()
            .filter_map(|&tok| normalised_name(line, tok))
            .collect();
        if names.len() <= UNKNOWN_LINEAR_NAMES_MAX {
            return names.iter().enumerate().any(|(i, (raw, name))| {
                names[..i].iter().any(|(r, n)| n == name && r != raw)
            });
        }
        let mut seen: HashMap<&str, &str> = HashMap::with_capacity(names.len());
        names.iter().any(|(raw, name)| match seen.insert(name, raw) {
            Some(earlier) => earlier != raw,
            None => false,
        })
    }
}

/// `stored_text::is_java_plain_double` from what the number's scan already knows: `-?I.F` that Java's
/// `Double.toString` prints back unchanged.
fn plain_java_double(num: &NumTok, line: &[u8]) -> bool {
    let Some(frac_start) = num.frac else {
        return false;
    };
    if num.exponent {
        return false;
    }
    let frac = &line[frac_start..num.end];
    let int_zero = num.int_digits == 1 && line[frac_start - 2] == b'0';
    let last_zero = frac[frac.len() - 1] == b'0';
    if int_zero {
        if frac == b"0" {
            return true;
        }
        let leading_zeros = frac.iter().take_while(|&&b| b == b'0').count();
        leading_zeros <= 2 && !last_zero && frac.len() - leading_zeros <= DOUBLE_EXACT_DIGITS_MAX
    } else {
        num.int_digits <= 7
            && (frac == b"0" || !last_zero)
            && num.int_digits + frac.len() <= DOUBLE_EXACT_DIGITS_MAX
    }
}

/// Most significant digits whose decimal text an f64 reproduces exactly (`DBL_DIG`).
const DOUBLE_EXACT_DIGITS_MAX: usize = 15;

/// Moves past an opening bracket, one level deeper; refuses nesting the full decoder
/// refuses.
fn open(s: &mut Cursor<'_>, depth: usize) -> Step<usize> {
    let depth = depth + 1;
    if depth > JSON_NESTING_DEPTH_MAX {
        return Err(Fail::Abort);
    }
    s.at += 1;
    Ok(depth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::stored_text::is_java_plain_double;

    #[test]
    fn plain_double_check_agrees_with_the_query_paths() {
        let mut tokens = vec![
            "0.0", "-0.0", "0.5", "0.05", "0.005", "0.0005", "0.50", "1.0", "10.0", "10.50",
            "1234567.5", "12345678.5", "0.123456789012345", "0.1234567890123456",
            "123456.123456789", "123456.1234567891", "1e5", "1.5e2", "-3.25", "100.0",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        for i in 0..2000u64 {
            let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            let int_len = (x % 9) as usize;
            x /= 9;
            let frac_len = 1 + (x % 17) as usize;
            x /= 17;
            let digits = format!("{x:0>30}");
            let int = if int_len == 0 { "0" } else { digits[..int_len].trim_start_matches('0') };
            let int = if int.is_empty() { "0" } else { int };
            tokens.push(format!("{int}.{}", &digits[10..10 + frac_len]));
        }
        for token in tokens {
            let mut s = Cursor::new(token.as_bytes());
            let num = s.number().expect("a number");
            assert_eq!(
                plain_java_double(&num, token.as_bytes()),
                is_java_plain_double(token.as_bytes()),
                "{token}"
            );
        }
    }
}
