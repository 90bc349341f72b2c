//! Which column (or STRUCT field) a JSON field name denotes, as ksqlDB decides it
//! (`JsonUtil.convertJsonFieldCase` and `Identifiers.getIdentifierText`): a name in
//! backticks or double quotes denotes the name inside, case kept; any other name is
//! upper-cased first. So `"id"`, `"Id"` and `"ID"` all denote a column `ID`, and only
//! ``"`id`"`` denotes a quoted column `id`.
//!
//! The common name (unquoted ASCII, no escapes) is matched without allocating: compared
//! upper-cased byte by byte with the column after the last one matched (fields usually
//! come in column order), else looked up in a hash table of the names. Anything else is
//! decoded and normalised exactly as the full decoder does ([`identifier_text`]).

use super::super::coerce::identifier_text;
use super::cursor::{decode_string, StrTok};

/// Names up to this many are searched one by one; more get a hash table (a wide row with
/// shuffled fields would otherwise compare each field with half the columns).
const LINEAR_NAMES_MAX: usize = 8;

/// What a field name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    /// The name at this index.
    Field(usize),
    /// No column or field: ignored (ksqlDB ignores unknown fields).
    Unknown,
    /// A malformed quoted name (`` `a ``): an error in the full decoder.
    Invalid,
}

/// The names of one object's fields (a row's columns, a STRUCT's fields), in order.
#[derive(Debug, Clone)]
pub(super) struct NameTable {
    names: Vec<String>,
    /// Each name in lower case when an unquoted name can spell it (ASCII, no lower-case
    /// letters), else empty: with the name itself, the two spellings most producers use,
    /// compared as plain bytes before the case-insensitive comparison.
    lower: Vec<Box<[u8]>>,
    /// Open addressing over the upper-case ASCII hash of each name: name index + 1, 0 empty.
    index: Vec<u32>,
}

impl NameTable {
    pub(super) fn new(names: Vec<String>) -> NameTable {
        let mut index = Vec::new();
        if names.len() > LINEAR_NAMES_MAX {
            index = vec![0u32; (names.len() * 2).next_power_of_two()];
            let mask = index.len() - 1;
            for (i, name) in names.iter().enumerate() {
                let mut at = upper_hash(name.as_bytes()) as usize & mask;
                while index[at] != 0 {
                    at = (at + 1) & mask;
                }
                index[at] = u32::try_from(i + 1).expect("a schema has fewer than 2^32 columns");
            }
        }
        let lower = names
            .iter()
            .map(|n| {
                let unquoted = n.is_ascii()
                    && !n.bytes().any(|b| b.is_ascii_lowercase())
                    && !n.starts_with(['`', '"']);
                let lower = if unquoted { n.to_ascii_lowercase() } else { String::new() };
                lower.into_bytes().into_boxed_slice()
            })
            .collect();
        NameTable {
            names,
            lower,
            index,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    /// The name `tok` in `line` denotes. `decoded` is scratch space for names that must be
    /// decoded.
    pub(super) fn resolve(&self, line: &[u8], tok: StrTok, decoded: &mut Vec<u8>) -> Resolved {
        let raw = tok.inner(line);
        let quoted = matches!(raw.first(), Some(b'`' | b'"'));
        if !tok.escaped && tok.ascii && !quoted {
            return self.resolve_unquoted_ascii(raw);
        }
        decoded.clear();
        decode_string(line, tok, decoded);
        let Ok(raw) = std::str::from_utf8(decoded) else {
            return Resolved::Invalid;
        };
        if !raw.starts_with(['`', '"']) && raw.is_ascii() {
            return self.resolve_unquoted_ascii(raw.as_bytes());
        }
        match identifier_text(raw) {
            Err(_) => Resolved::Invalid,
            Ok(name) => self
                .names
                .iter()
                .position(|n| *n == *name)
                .map_or(Resolved::Unknown, Resolved::Field),
        }
    }

    fn resolve_unquoted_ascii(&self, raw: &[u8]) -> Resolved {
        if self.index.is_empty() {
            return self
                .names
                .iter()
                .position(|n| upper_eq(raw, n.as_bytes()))
                .map_or(Resolved::Unknown, Resolved::Field);
        }
        let mask = self.index.len() - 1;
        let mut at = upper_hash(raw) as usize & mask;
        loop {
            match self.index[at] {
                0 => return Resolved::Unknown,
                slot => {
                    let i = slot as usize - 1;
                    if upper_eq(raw, self.names[i].as_bytes()) {
                        return Resolved::Field(i);
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// [`NameTable::resolve`] trying `hint` first: the common case, fields in order.
    pub(super) fn resolve_from(
        &self,
        line: &[u8],
        tok: StrTok,
        hint: usize,
        decoded: &mut Vec<u8>,
    ) -> Resolved {
        if !tok.escaped && tok.ascii {
            if let Some(lower) = self.lower.get(hint) {
                // A name `lower` is kept for is unquoted-spellable, so it starts with no
                // quote and an exact or lower-case spelling denotes it.
                let raw = tok.inner(line);
                if !lower.is_empty()
                    && (bytes_eq(raw, self.names[hint].as_bytes()) || bytes_eq(raw, lower))
                {
                    return Resolved::Field(hint);
                }
            }
        }
        self.resolve(line, tok, decoded)
    }
}

/// `a == b`, inline: names are short, and a call to `memcmp` costs more than comparing them.
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `raw` upper-cased (ASCII) equals `name`. A name with a lower-case or non-ASCII letter
/// never matches, as `raw.toUpperCase().equals(name)` would not.
fn upper_eq(raw: &[u8], name: &[u8]) -> bool {
    raw.len() == name.len() && raw.iter().zip(name).all(|(r, n)| r.to_ascii_uppercase() == *n)
}

/// FNV-1a over the upper-cased bytes: equal for names [`upper_eq`] calls equal.
fn upper_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_uppercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// True when two name tokens are the very same raw name once their escapes are undone
/// (`"ID"` and `"I\u0044"` are; `"ID"` and `"id"` are not): the full decoder keeps the last
/// value of a name given twice, and refuses two different names for one column.
pub(super) fn same_raw_name(
    line: &[u8],
    a: StrTok,
    b: StrTok,
    scratch_a: &mut Vec<u8>,
    scratch_b: &mut Vec<u8>,
) -> bool {
    if !a.escaped && !b.escaped {
        return a.inner(line) == b.inner(line);
    }
    scratch_a.clear();
    scratch_b.clear();
    decode_string(line, a, scratch_a);
    decode_string(line, b, scratch_b);
    scratch_a == scratch_b
}

/// The normalised name of a field name token (for duplicate checks among unknown fields).
pub(super) fn normalised_name(line: &[u8], tok: StrTok) -> Option<(String, String)> {
    let mut raw = Vec::new();
    decode_string(line, tok, &mut raw);
    let raw = String::from_utf8(raw).ok()?;
    let name = identifier_text(&raw).ok()?.into_owned();
    Some((raw, name))
}

#[cfg(test)]
mod tests {
    use super::super::cursor::Cursor;
    use super::*;

    fn resolve(table: &NameTable, json_name: &str) -> Resolved {
        let line = json_name.as_bytes();
        let tok = Cursor::new(line).string().expect("a JSON string");
        table.resolve_from(line, tok, 0, &mut Vec::new())
    }

    fn table(names: &[&str]) -> NameTable {
        NameTable::new(names.iter().map(|n| (*n).to_owned()).collect())
    }

    #[test]
    fn names_resolve_as_ksqldb_normalises_them() {
        for t in [
            table(&["ID", "lower", "É", "MIXED_1"]),
            // The same with a hash table.
            table(&[
                "ID", "lower", "É", "MIXED_1", "A", "B", "C", "D", "E", "F", "G", "H",
            ]),
        ] {
            assert_eq!(resolve(&t, r#""ID""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""id""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""iD""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""I\u0064""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""`ID`""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""\"ID\"""#), Resolved::Field(0));
            assert_eq!(resolve(&t, r#""`id`""#), Resolved::Unknown);
            assert_eq!(resolve(&t, r#""lower""#), Resolved::Unknown);
            assert_eq!(resolve(&t, r#""`lower`""#), Resolved::Field(1));
            assert_eq!(resolve(&t, "\"é\""), Resolved::Field(2));
            assert_eq!(resolve(&t, r#""mixed_1""#), Resolved::Field(3));
            assert_eq!(resolve(&t, r#""`a""#), Resolved::Invalid);
            assert_eq!(resolve(&t, r#""x""#), Resolved::Unknown);
            assert_eq!(resolve(&t, r#""""#), Resolved::Unknown);
        }
    }

    #[test]
    fn same_raw_names() {
        let line = br#""ID","I\u0044","id""#;
        let toks: Vec<StrTok> = {
            let mut c = Cursor::new(line);
            let mut v = Vec::new();
            while let Some(t) = c.string() {
                v.push(t);
                c.eat(b',');
            }
            v
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert!(same_raw_name(line, toks[0], toks[1], &mut a, &mut b));
        assert!(!same_raw_name(line, toks[0], toks[2], &mut a, &mut b));
    }
}
