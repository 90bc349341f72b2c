//! The subset of `.proto` text that a protobuf query response's header carries in
//! `protoSchema` (rqtt-format.md §4 "Protobuf responses"): what Confluent's converter emits
//! for ksqlDB and what Sluice emits in its place.
//!
//! ```text
//!  protoSchema text ─► tokens ─► messages (fields, nested messages) ─► resolve type names
//!                                                                   └► ProtoSchema (root = first)
//! ```
//!
//! Understood: `syntax`, `package`, `import`, `option` (skipped), `message` blocks nested to
//! any depth below [`MESSAGE_NESTING_DEPTH_MAX`], fields `[repeated|optional] TYPE NAME = N
//! [options];` whose bracketed options may span lines (skipped by bracket matching),
//! `map<K, V>` fields, `reserved` (skipped), and the four imported types ksqlDB's converter
//! uses, with their real field layouts. Not understood, and refused with an error: `enum`,
//! `oneof`, `service`, groups and extensions; ksqlDB's converter does not emit them for query
//! results.

/// Longest schema text accepted; a real row schema is a few kilobytes.
const SCHEMA_TEXT_BYTES_MAX: usize = 1 << 20;
/// Deepest `message` nesting accepted, so a hostile header cannot overflow the stack.
pub const MESSAGE_NESTING_DEPTH_MAX: usize = 32;
/// Most messages (nested and imported included) in one schema.
const MESSAGES_MAX: usize = 4096;

/// A scalar field type, as the wire decoder and the text printer need to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Bool,
    String,
    Bytes,
    Double,
    Float,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
}

impl Scalar {
    fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "int32" => Scalar::Int32,
            "int64" => Scalar::Int64,
            "uint32" => Scalar::Uint32,
            "uint64" => Scalar::Uint64,
            "sint32" => Scalar::Sint32,
            "sint64" => Scalar::Sint64,
            "bool" => Scalar::Bool,
            "string" => Scalar::String,
            "bytes" => Scalar::Bytes,
            "double" => Scalar::Double,
            "float" => Scalar::Float,
            "fixed32" => Scalar::Fixed32,
            "fixed64" => Scalar::Fixed64,
            "sfixed32" => Scalar::Sfixed32,
            "sfixed64" => Scalar::Sfixed64,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// proto3's plain singular field: a default value is not printed (it is not "present").
    Singular,
    /// proto3 `optional`: present whenever it was on the wire, default or not.
    Optional,
    Repeated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Scalar(Scalar),
    /// Index into [`ProtoSchema::messages`].
    Message(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: String,
    pub number: u32,
    pub label: Label,
    pub ty: FieldType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDef {
    /// Fully qualified, without a leading dot (`ConnectDefault1.ConnectDefault2`).
    pub full_name: String,
    /// Sorted by field number: Java's text printer prints fields in that order.
    pub fields: Vec<FieldDef>,
    /// The entry message of a `map<K, V>` field: Java prints such entries sorted by key.
    pub map_entry: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoSchema {
    pub messages: Vec<MessageDef>,
    /// The first top-level message, which is the row (Confluent's converter convention).
    pub root: usize,
}

impl ProtoSchema {
    /// Parses a schema text; every failure is a sentence naming what was wrong.
    pub fn parse(text: &str) -> Result<ProtoSchema, String> {
        if text.len() > SCHEMA_TEXT_BYTES_MAX {
            return Err(format!(
                "protoSchema is {} bytes, more than {SCHEMA_TEXT_BYTES_MAX}",
                text.len()
            ));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            pos: 0,
            raw: Vec::new(),
        };
        parser.file()?;
        resolve(parser.raw)
    }

    pub fn message(&self, index: usize) -> &MessageDef {
        &self.messages[index]
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An identifier, possibly dotted (`google.protobuf.Timestamp`, `.a.B`).
    Ident(String),
    Int(String),
    Str(String),
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if bytes[i..].starts_with(b"//") {
            i = bytes[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |p| i + p);
        } else if bytes[i..].starts_with(b"/*") {
            let end = text[i + 2..]
                .find("*/")
                .ok_or("protoSchema has an unclosed /* comment")?;
            i += 2 + end + 2;
        } else if b.is_ascii_alphabetic() || b == b'_' || b == b'.' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            tokens.push(Token::Ident(text[start..i].to_string()));
        } else if b.is_ascii_digit() || b == b'-' || b == b'+' {
            let start = i;
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            tokens.push(Token::Int(text[start..i].to_string()));
        } else if b == b'"' || b == b'\'' {
            let (s, next) = string_literal(text, i)?;
            tokens.push(Token::Str(s));
            i = next;
        } else if b"{}[]()<>;=,:".contains(&b) {
            tokens.push(Token::Punct(char::from(b)));
            i += 1;
        } else {
            return Err(format!(
                "protoSchema has an unexpected character {:?} at byte {i}",
                text[i..].chars().next().unwrap_or('?')
            ));
        }
    }
    Ok(tokens)
}

/// A quoted literal starting at `start`; escapes are kept as written (only option values,
/// which are skipped, and import paths use them). Returns the text and the index after it.
fn string_literal(text: &str, start: usize) -> Result<(String, usize), String> {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => break,
            c if c == quote => return Ok((text[start + 1..i].to_string(), i + 1)),
            _ => i += 1,
        }
    }
    Err(format!(
        "protoSchema has an unterminated string at byte {start}"
    ))
}

// ---------------------------------------------------------------------------------------------
// Parser: messages with unresolved type names

/// A field as written, before its type name is resolved.
struct RawField {
    name: String,
    number: u32,
    label: Label,
    type_name: String,
}

struct RawMessage {
    /// Package and enclosing messages included; also the scope its field types resolve from.
    full_name: String,
    fields: Vec<RawField>,
    map_entry: bool,
    top_level: bool,
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    raw: Vec<RawMessage>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<&Token, String> {
        let t = self
            .tokens
            .get(self.pos)
            .ok_or("protoSchema ends in the middle of a declaration")?;
        self.pos += 1;
        Ok(t)
    }

    fn expect_punct(&mut self, c: char) -> Result<(), String> {
        match self.next()? {
            Token::Punct(p) if *p == c => Ok(()),
            other => Err(format!("protoSchema: expected `{c}`, found {other:?}")),
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.next()? {
            Token::Ident(s) => Ok(s.clone()),
            other => Err(format!("protoSchema: expected a name, found {other:?}")),
        }
    }

    /// Top-level statements. Messages declared after `package p;` are named `p.Name`.
    fn file(&mut self) -> Result<(), String> {
        let mut package = String::new();
        while let Some(t) = self.peek() {
            let word = match t {
                Token::Ident(w) => w.clone(),
                Token::Punct(';') => {
                    self.pos += 1;
                    continue;
                }
                other => return Err(format!("protoSchema: unexpected {other:?} at top level")),
            };
            self.pos += 1;
            match word.as_str() {
                "syntax" => {
                    self.expect_punct('=')?;
                    match self.next()? {
                        Token::Str(s) if s == "proto3" => {}
                        other => {
                            return Err(format!("protoSchema: syntax {other:?} is not proto3"))
                        }
                    }
                    self.expect_punct(';')?;
                }
                "package" => {
                    package = self.ident()?;
                    self.expect_punct(';')?;
                }
                "import" | "option" => self.skip_statement()?,
                "message" => {
                    let prefix = package.clone();
                    self.message(&prefix, true, 1)?;
                }
                other => {
                    return Err(format!(
                        "protoSchema: `{other}` declarations are not supported"
                    ))
                }
            }
        }
        Ok(())
    }

    /// `message Name { … }`, the keyword already read.
    fn message(&mut self, scope: &str, top_level: bool, depth: usize) -> Result<(), String> {
        if depth > MESSAGE_NESTING_DEPTH_MAX {
            return Err(format!(
                "protoSchema nests messages deeper than {MESSAGE_NESTING_DEPTH_MAX}"
            ));
        }
        let name = self.ident()?;
        let full_name = qualify(scope, &name);
        self.expect_punct('{')?;
        // Reserve the slot first so messages keep declaration order (the root is the first).
        let index = self.raw.len();
        self.push_message(RawMessage {
            full_name: full_name.clone(),
            fields: Vec::new(),
            map_entry: false,
            top_level,
        })?;
        loop {
            let word = match self.next()? {
                Token::Punct('}') => break,
                Token::Punct(';') => continue,
                Token::Ident(w) => w.clone(),
                other => return Err(format!("protoSchema: unexpected {other:?} in {full_name}")),
            };
            match word.as_str() {
                "message" => self.message(&full_name, false, depth + 1)?,
                "option" | "reserved" => self.skip_statement()?,
                "enum" | "oneof" | "extensions" | "extend" | "group" | "service" => {
                    return Err(format!(
                        "protoSchema: `{word}` in {full_name} is not supported"
                    ))
                }
                "map" => {
                    let field = self.map_field(&full_name)?;
                    self.raw[index].fields.push(field);
                }
                _ => {
                    let field = self.field(word)?;
                    self.raw[index].fields.push(field);
                }
            }
        }
        Ok(())
    }

    fn push_message(&mut self, message: RawMessage) -> Result<(), String> {
        if self.raw.len() >= MESSAGES_MAX {
            return Err(format!(
                "protoSchema declares more than {MESSAGES_MAX} messages"
            ));
        }
        self.raw.push(message);
        Ok(())
    }

    /// `[repeated|optional] TYPE NAME = N [options];`, the first word already read.
    fn field(&mut self, first: String) -> Result<RawField, String> {
        let (label, type_name) = match first.as_str() {
            "repeated" => (Label::Repeated, self.ident()?),
            "optional" => (Label::Optional, self.ident()?),
            "required" => return Err("protoSchema: `required` is not proto3".into()),
            _ => (Label::Singular, first),
        };
        let name = self.ident()?;
        self.expect_punct('=')?;
        let number = self.field_number(&name)?;
        self.field_end()?;
        Ok(RawField {
            name,
            number,
            label,
            type_name,
        })
    }

    /// `map<K, V> NAME = N [options];`, `map` already read. The entry message is synthesized
    /// as protoc does: `NameEntry { K key = 1; V value = 2; }` nested in the enclosing message.
    fn map_field(&mut self, scope: &str) -> Result<RawField, String> {
        self.expect_punct('<')?;
        let key = self.ident()?;
        self.expect_punct(',')?;
        let value = self.ident()?;
        self.expect_punct('>')?;
        let name = self.ident()?;
        self.expect_punct('=')?;
        let number = self.field_number(&name)?;
        self.field_end()?;
        let entry_name = format!("{}Entry", camel_case(&name));
        self.push_message(RawMessage {
            full_name: qualify(scope, &entry_name),
            fields: vec![
                RawField {
                    name: "key".into(),
                    number: 1,
                    label: Label::Singular,
                    type_name: key,
                },
                RawField {
                    name: "value".into(),
                    number: 2,
                    label: Label::Singular,
                    type_name: value,
                },
            ],
            map_entry: true,
            top_level: false,
        })?;
        Ok(RawField {
            name,
            number,
            label: Label::Repeated,
            type_name: entry_name,
        })
    }

    fn field_number(&mut self, field: &str) -> Result<u32, String> {
        match self.next()? {
            // 1..=2^29-1 is protobuf's field number range.
            Token::Int(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..(1 << 29)).contains(n))
                .ok_or_else(|| format!("protoSchema: field {field} has a bad number {n}")),
            other => Err(format!(
                "protoSchema: field {field} has no number, found {other:?}"
            )),
        }
    }

    /// Optional `[options]` (skipped by bracket matching, however many lines they span),
    /// then `;`.
    fn field_end(&mut self) -> Result<(), String> {
        if self.peek() == Some(&Token::Punct('[')) {
            self.skip_balanced()?;
        }
        self.expect_punct(';')
    }

    /// Skips to the `;` ending a statement, stepping over bracketed groups.
    fn skip_statement(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(Token::Punct(';')) => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(Token::Punct('[' | '{' | '(')) => self.skip_balanced()?,
                Some(_) => self.pos += 1,
                None => return Err("protoSchema ends inside a statement".into()),
            }
        }
    }

    /// Skips one bracketed group starting at the current token, nested groups included.
    fn skip_balanced(&mut self) -> Result<(), String> {
        let mut stack: Vec<char> = Vec::new();
        loop {
            let closer = match self.next()? {
                Token::Punct('[') => Some(']'),
                Token::Punct('{') => Some('}'),
                Token::Punct('(') => Some(')'),
                Token::Punct(c @ (']' | '}' | ')')) => {
                    if stack.pop() != Some(*c) {
                        return Err(format!("protoSchema has an unbalanced `{c}`"));
                    }
                    if stack.is_empty() {
                        return Ok(());
                    }
                    None
                }
                _ => None,
            };
            if let Some(c) = closer {
                if stack.len() >= MESSAGE_NESTING_DEPTH_MAX {
                    return Err("protoSchema nests option brackets too deeply".into());
                }
                stack.push(c);
            }
        }
    }
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// protoc's map entry name: the field name in CamelCase (`my_map` → `MyMap`).
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Type resolution

/// The imported types ksqlDB's converter uses, with the field layouts of their real
/// definitions (google/protobuf/timestamp.proto, google/type/date.proto,
/// google/type/timeofday.proto, confluent/type/decimal.proto).
/// A scalar field written out: name, number, type.
type ScalarFieldSpec = (&'static str, u32, Scalar);

const WELL_KNOWN: [(&str, &[ScalarFieldSpec]); 4] = [
    (
        "google.protobuf.Timestamp",
        &[("seconds", 1, Scalar::Int64), ("nanos", 2, Scalar::Int32)],
    ),
    (
        "google.type.Date",
        &[
            ("year", 1, Scalar::Int32),
            ("month", 2, Scalar::Int32),
            ("day", 3, Scalar::Int32),
        ],
    ),
    (
        "google.type.TimeOfDay",
        &[
            ("hours", 1, Scalar::Int32),
            ("minutes", 2, Scalar::Int32),
            ("seconds", 3, Scalar::Int32),
            ("nanos", 4, Scalar::Int32),
        ],
    ),
    (
        "confluent.type.Decimal",
        &[
            ("value", 1, Scalar::Bytes),
            ("precision", 2, Scalar::Uint32),
            ("scale", 3, Scalar::Int32),
        ],
    ),
];

fn resolve(raw: Vec<RawMessage>) -> Result<ProtoSchema, String> {
    let root = raw
        .iter()
        .position(|m| m.top_level)
        .ok_or("protoSchema declares no message")?;
    let mut names: Vec<String> = raw.iter().map(|m| m.full_name.clone()).collect();
    for (name, _) in WELL_KNOWN {
        names.push(name.to_string());
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(format!("protoSchema declares {name} twice"));
        }
    }
    let mut messages = Vec::with_capacity(names.len());
    for m in &raw {
        let mut fields = Vec::with_capacity(m.fields.len());
        for f in &m.fields {
            let ty = match Scalar::from_name(&f.type_name) {
                Some(s) => FieldType::Scalar(s),
                None => FieldType::Message(lookup(&names, &m.full_name, &f.type_name).ok_or_else(
                    || {
                        format!(
                            "protoSchema: type {} of {}.{} is not declared",
                            f.type_name, m.full_name, f.name
                        )
                    },
                )?),
            };
            if fields.iter().any(|g: &FieldDef| g.number == f.number) {
                return Err(format!(
                    "protoSchema: {} uses field number {} twice",
                    m.full_name, f.number
                ));
            }
            fields.push(FieldDef {
                name: f.name.clone(),
                number: f.number,
                label: f.label,
                ty,
            });
        }
        fields.sort_by_key(|f| f.number);
        messages.push(MessageDef {
            full_name: m.full_name.clone(),
            fields,
            map_entry: m.map_entry,
        });
    }
    for (name, fields) in WELL_KNOWN {
        messages.push(MessageDef {
            full_name: name.to_string(),
            fields: fields
                .iter()
                .map(|(field, number, scalar)| FieldDef {
                    name: (*field).to_string(),
                    number: *number,
                    label: Label::Singular,
                    ty: FieldType::Scalar(*scalar),
                })
                .collect(),
            map_entry: false,
        });
    }
    Ok(ProtoSchema { messages, root })
}

/// Protobuf's scoping rule: a relative name is looked up in the referring message, then in
/// each enclosing scope outwards; a leading dot makes it fully qualified.
fn lookup(names: &[String], scope: &str, type_name: &str) -> Option<usize> {
    if let Some(absolute) = type_name.strip_prefix('.') {
        return names.iter().position(|n| n == absolute);
    }
    let mut scope = scope;
    loop {
        let candidate = qualify(scope, type_name);
        if let Some(i) = names.iter().position(|n| *n == candidate) {
            return Some(i);
        }
        if scope.is_empty() {
            return None;
        }
        scope = scope.rfind('.').map_or("", |dot| &scope[..dot]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(schema: &'a ProtoSchema, message: usize, name: &str) -> &'a FieldDef {
        schema.messages[message]
            .fields
            .iter()
            .find(|f| f.name == name)
            .expect("field exists")
    }

    fn scalar_fields(schema: &ProtoSchema) -> Vec<(String, u32, FieldType)> {
        schema.messages[schema.root]
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.number, f.ty.clone()))
            .collect()
    }

    #[test]
    fn parses_the_flat_schemas_of_the_rqtt_cases() {
        let cases: [(&str, Vec<ScalarFieldSpec>); 4] = [
            (
                "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 MYKEY = 1;\n  int32 MYVALUE = 2;\n}\n",
                vec![("MYKEY", 1, Scalar::Int32), ("MYVALUE", 2, Scalar::Int32)],
            ),
            (
                "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  string PROFILEID = 1;\n  double LATITUDE = 2;\n  double LONGITUDE = 3;\n}\n",
                vec![
                    ("PROFILEID", 1, Scalar::String),
                    ("LATITUDE", 2, Scalar::Double),
                    ("LONGITUDE", 3, Scalar::Double),
                ],
            ),
            (
                "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  string ID = 1;\n  string GRADE = 2;\n  int32 RANK = 3;\n  bytes HEAD = 4;\n}\n",
                vec![
                    ("ID", 1, Scalar::String),
                    ("GRADE", 2, Scalar::String),
                    ("RANK", 3, Scalar::Int32),
                    ("HEAD", 4, Scalar::Bytes),
                ],
            ),
            (
                "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  string ID = 1;\n  int64 WINDOWSTART = 2;\n  int64 WINDOWEND = 3;\n  int64 COUNT = 4;\n  int64 ROWTIME = 5;\n}\n",
                vec![
                    ("ID", 1, Scalar::String),
                    ("WINDOWSTART", 2, Scalar::Int64),
                    ("WINDOWEND", 3, Scalar::Int64),
                    ("COUNT", 4, Scalar::Int64),
                    ("ROWTIME", 5, Scalar::Int64),
                ],
            ),
        ];
        for (text, want) in cases {
            let schema = ProtoSchema::parse(text).expect("schema parses");
            assert_eq!(schema.root, 0);
            assert_eq!(schema.messages[0].full_name, "ConnectDefault1");
            let want: Vec<(String, u32, FieldType)> = want
                .into_iter()
                .map(|(n, k, s)| (n.to_string(), k, FieldType::Scalar(s)))
                .collect();
            assert_eq!(scalar_fields(&schema), want);
            assert!(schema.messages[0]
                .fields
                .iter()
                .all(|f| f.label == Label::Singular));
        }
    }

    #[test]
    fn parses_the_nested_repeated_headers_schema() {
        let text = "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 MYKEY = 1;\n  int32 MYVALUE = 2;\n  repeated ConnectDefault2 MYHEADERS = 3;\n\n  message ConnectDefault2 {\n    string KEY = 1;\n    bytes VALUE = 2;\n  }\n}\n";
        let schema = ProtoSchema::parse(text).expect("schema parses");
        assert_eq!(schema.messages[0].full_name, "ConnectDefault1");
        assert_eq!(
            schema.messages[1].full_name,
            "ConnectDefault1.ConnectDefault2"
        );
        let headers = field(&schema, 0, "MYHEADERS");
        assert_eq!(headers.number, 3);
        assert_eq!(headers.label, Label::Repeated);
        assert_eq!(headers.ty, FieldType::Message(1));
        assert_eq!(
            field(&schema, 1, "VALUE").ty,
            FieldType::Scalar(Scalar::Bytes)
        );
    }

    #[test]
    fn skips_field_options_spanning_lines_and_resolves_imports() {
        let text = r#"syntax = "proto3";

import "confluent/meta.proto";
import "confluent/type/decimal.proto";
import "google/protobuf/timestamp.proto";

message ConnectDefault1 {
  confluent.type.Decimal AMOUNT = 1 [(confluent.field_meta) = {
    params: [
      {
        key: "precision",
        value: "4"
      },
      {
        key: "scale",
        value: "2"
      }
    ]
  }];
  google.protobuf.Timestamp TS = 2;
  repeated ConnectDefault2Entry M = 3;

  message ConnectDefault2Entry {
    string key = 1;
    ConnectDefault3 value = 2;
  }
  message ConnectDefault3 {
    int64 X = 1;
  }
}
"#;
        let schema = ProtoSchema::parse(text).expect("schema parses");
        let amount = field(&schema, 0, "AMOUNT");
        let FieldType::Message(decimal) = amount.ty else {
            panic!("AMOUNT is a message field");
        };
        assert_eq!(schema.messages[decimal].full_name, "confluent.type.Decimal");
        assert_eq!(
            field(&schema, decimal, "precision").ty,
            FieldType::Scalar(Scalar::Uint32)
        );
        let FieldType::Message(ts) = field(&schema, 0, "TS").ty else {
            panic!("TS is a message field");
        };
        assert_eq!(schema.messages[ts].full_name, "google.protobuf.Timestamp");
        let FieldType::Message(entry) = field(&schema, 0, "M").ty else {
            panic!("M is a message field");
        };
        assert_eq!(
            schema.messages[entry].full_name,
            "ConnectDefault1.ConnectDefault2Entry"
        );
        // `ConnectDefault3` is found in the enclosing scope of the entry message.
        let FieldType::Message(value) = field(&schema, entry, "value").ty else {
            panic!("value is a message field");
        };
        assert_eq!(
            schema.messages[value].full_name,
            "ConnectDefault1.ConnectDefault3"
        );
    }

    #[test]
    fn map_fields_get_a_synthesized_entry_message() {
        let text = "syntax = \"proto3\";\nmessage R {\n  map<string, int32> my_map = 4;\n}\n";
        let schema = ProtoSchema::parse(text).expect("schema parses");
        let m = field(&schema, 0, "my_map");
        assert_eq!(m.label, Label::Repeated);
        let FieldType::Message(entry) = m.ty else {
            panic!("a map field is a repeated entry message");
        };
        assert_eq!(schema.messages[entry].full_name, "R.MyMapEntry");
        assert!(schema.messages[entry].map_entry);
        assert_eq!(
            field(&schema, entry, "value").ty,
            FieldType::Scalar(Scalar::Int32)
        );
    }

    #[test]
    fn the_root_is_the_first_top_level_message_and_fields_sort_by_number() {
        let text = "syntax = \"proto3\";\nmessage A { int32 Z = 2; int32 Y = 1; }\nmessage B { A a = 1; }\n";
        let schema = ProtoSchema::parse(text).expect("schema parses");
        assert_eq!(schema.messages[schema.root].full_name, "A");
        let names: Vec<&str> = schema.messages[0]
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["Y", "Z"]);
    }

    #[test]
    fn refuses_malformed_or_unsupported_schemas() {
        let bad = [
            ("", "declares no message"),
            ("syntax = \"proto2\"; message A {}", "not proto3"),
            ("message A { int32 X = 1;", "ends in the middle"),
            ("message A { Missing X = 1; }", "is not declared"),
            ("message A { int32 X = 0; }", "bad number"),
            ("message A { int32 X = 1; int32 Y = 1; }", "twice"),
            ("message A { enum E { Z = 0; } }", "not supported"),
            ("message A { int32 X = 1 [(o) = { a: [ }]; }", "unbalanced"),
            ("message A { int32 X = 1; } /* open", "unclosed"),
            ("message A {} message A {}", "twice"),
        ];
        for (text, want) in bad {
            let err = ProtoSchema::parse(text).expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let deep = format!(
            "{}{}",
            "message M { ".repeat(MESSAGE_NESTING_DEPTH_MAX + 1),
            "}".repeat(MESSAGE_NESTING_DEPTH_MAX + 1)
        );
        let err = ProtoSchema::parse(&deep).expect_err("too deep");
        assert!(err.contains("deeper"), "{err}");
    }
}
