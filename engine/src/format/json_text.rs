//! Small JSON text helpers shared by the formats: string escaping, nesting-depth guard, and
//! whitespace-free copies of raw JSON for messages.

use base64::Engine as _;

/// Length of the run of plain JSON string text at the start of `bytes`: it ends at the
/// first quote, backslash, control byte (below 0x20, which JSON forbids unescaped) or
/// non-ASCII byte. Such a run is its own decoded text and renders unchanged.
///
/// Eight bytes at a time: the record scanners spend most of their time inside strings.
pub fn plain_text_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of `w` equal to `b`. Borrows only run upwards, so the lowest
    // flagged byte is always a real match (and that is the one we look for).
    let bytes_equal = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let stop = (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
            | (w & HIGHS)
            | bytes_equal(w, b'"')
            | bytes_equal(w, b'\\');
        if stop != 0 {
            return at + (stop.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .take_while(|&&b| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\')
        .count()
}

/// Deepest JSON nesting accepted in a row or a stored record.
///
/// sonic-rs validates nested containers recursively without a depth limit, so an adversarial
/// line like `[[[[…` could overflow a worker thread's stack. 128 is far deeper than any SQL
/// type nests in practice (Jackson's own default limit is 1000, but runs on larger stacks).
pub const JSON_NESTING_DEPTH_MAX: usize = 128;

/// True when `json` nests arrays/objects deeper than [`JSON_NESTING_DEPTH_MAX`].
///
/// Cheap for the common case: nesting depth can never exceed the number of `[`/`{` bytes, so
/// the exact, string-aware scan only runs when that count is over the limit (counted with
/// memchr, and only until it is).
pub fn exceeds_nesting_depth(json: &[u8]) -> bool {
    if json.len() <= JSON_NESTING_DEPTH_MAX || openers_at_most(json, JSON_NESTING_DEPTH_MAX) {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > JSON_NESTING_DEPTH_MAX {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// True when `json` has a `\u` escape of a UTF-16 surrogate that is not half of a pair
/// (`"x\udc00y"`, or `\ud800` not followed by `\udc00`..`\udfff`).
///
/// Such a string is no Unicode text: RFC 8259 §8.2 leaves its meaning undefined, serde_json
/// (what `/ksql` parses with) refuses it, and sonic-rs validates it but then cannot decode it,
/// which made a row store `""` where the producer sent text (issue 9, finding 9). Rows are
/// refused as invalid JSON instead. Lines without a backslash cost one scan for it.
pub fn has_lone_surrogate_escape(json: &[u8]) -> bool {
    let unit_at = |at: usize| -> Option<u32> {
        let hex = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
        u32::from_str_radix(hex, 16).ok()
    };
    let is_high = |u: u32| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u32| (0xDC00..0xE000).contains(&u);
    let mut at = 0;
    // `at` can pass the end: a line may end in a backslash or a short `\u` escape.
    while let Some(found) = json.get(at..).and_then(|rest| rest.iter().position(|&b| b == b'\\')) {
        let escape = at + found;
        if json.get(escape + 1) != Some(&b'u') {
            at = escape + 2; // `\\`, `\"`, `\n`…: the next byte is not an escape start
            continue;
        }
        let Some(unit) = unit_at(escape + 2) else {
            return false; // not a valid escape: the parser refuses the line anyway
        };
        at = escape + 6;
        if is_low(unit) {
            return true;
        }
        if is_high(unit) {
            let paired = json.get(at..at + 2) == Some(b"\\u".as_slice())
                && unit_at(at + 2).is_some_and(is_low);
            if !paired {
                return true;
            }
            at += 6;
        }
    }
    false
}

/// True when `json` holds at most `max` `[` and `{` bytes (a SIMD search, stopping once it
/// has seen more).
fn openers_at_most(json: &[u8], max: usize) -> bool {
    memchr::memchr2_iter(b'[', b'{', json).nth(max).is_none()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero, and no other bit (exact: no borrow
/// crosses bytes).
fn zero_bytes(x: u64) -> u64 {
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOWS).wrapping_add(LOWS)) | x | LOWS)
}

/// True when `text` (the inside of a JSON string) holds no quote, backslash or control
/// character: then it is its own decoded text, and Jackson writes it back unchanged
/// (non-ASCII included). Eight bytes at a time: stored strings can be long.
pub fn is_unescaped_text(text: &[u8]) -> bool {
    let mut words = text.chunks_exact(8);
    for chunk in &mut words {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Bytes below 0x20 (not those at 0x80 and up), quotes and backslashes. Borrows only
        // run upwards, so any flag means some byte really matched.
        let special = (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
            | zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` as a quoted JSON string, escaping as Jackson does: `\"`, `\\`, the short forms
/// `\b \t \n \f \r`, and `\u00XX` (upper-case hex) for other control characters. Everything
/// else, including non-ASCII, is copied as UTF-8 (how a query result shows text).
pub fn write_json_string(s: &str, out: &mut Vec<u8>) {
    write_escaped(s, Supplementary::Utf8, out);
}

/// Appends `s` as a quoted JSON string exactly as ksqlDB's JSON serializer stores it
/// (Jackson's `UTF8JsonGenerator` under Connect's `JsonConverter`): escaped as
/// [`write_json_string`], except that a character outside the Basic Multilingual Plane is
/// written as its UTF-16 surrogate pair of `\uXXXX` escapes (`😀` is `\uD83D\uDE00`):
/// the generator escapes every surrogate `char` of a Java string it meets
/// (`_outputMultiByteChar`; jackson-core issue 223).
pub fn write_stored_json_string(s: &str, out: &mut Vec<u8>) {
    write_escaped(s, Supplementary::SurrogateEscapes, out);
}

/// How [`write_escaped`] writes a character above U+FFFF.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Supplementary {
    Utf8,
    SurrogateEscapes,
}

fn write_escaped(s: &str, supplementary: Supplementary, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    loop {
        // Plain ASCII needs no escape: skip it eight bytes at a time.
        i += plain_text_len(&bytes[i..]);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            b'\t' => b't',
            b'\n' => b'n',
            0x0c => b'f',
            b'\r' => b'r',
            0x00..=0x1f => 0,
            // The lead byte of a four-byte sequence: a supplementary character.
            0xf0..=0xf4 if supplementary == Supplementary::SurrogateEscapes => {
                out.extend_from_slice(&bytes[run_start..i]);
                let c = s[i..].chars().next().expect("a char starts at a lead byte");
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write_unicode_escape(*unit, out);
                }
                i += c.len_utf8();
                run_start = i;
                continue;
            }
            // Other non-ASCII bytes are copied as they are.
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[run_start..i]);
        i += 1;
        run_start = i;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            write_unicode_escape(u16::from(b), out);
        }
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// `\uXXXX` with upper-case hex digits, as Jackson writes it.
fn write_unicode_escape(unit: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX_UPPER[usize::from((unit >> shift) & 0xf)]);
    }
}

/// A copy of valid JSON text with insignificant whitespace removed, the way a JSON library
/// re-encodes a parsed tree compactly (used where ksqlDB prints a re-serialized object).
pub fn compact_json(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Appends `bytes` as a quoted, padded standard base64 string (how ksqlDB writes BYTES).
pub fn write_base64_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).expect("byte length fits base64 length");
    out.resize(start + len, 0);
    base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.push(b'"');
}

/// Appends the decimal text of an integer without going through `fmt`.
pub fn write_i64(v: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + u8::try_from(n % 10).expect("a digit");
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lone_surrogate_escapes_only() {
        for lone in [
            r#"{"V":"x\udc00y"}"#,
            r#"{"V":"\ud800"}"#,
            r#"{"V":"\uD800\u0041"}"#,
            r#"{"V":"\ud800\ud800\udc00"}"#,
            r#"{"A":"ok","B":["\uDFFF"]}"#,
        ] {
            assert!(has_lone_surrogate_escape(lone.as_bytes()), "{lone}");
        }
        for fine in [
            r#"{"V":"x"}"#,
            r#"{"V":"\ud83d\ude00"}"#,
            r#"{"V":"\uD83D\uDE00\u00e9"}"#,
            r#"{"V":"\\udc00"}"#,
            r#"{"V":"a\"\\\ud800\udc00"}"#,
            r#"{"V":"\u12"}"#,
            // Cut short (found by the row_decoder fuzz target: these panicked).
            r#"{"V":"x\"#,
            r#"\"#,
            r#"{"V":"\ud83d\ude00\"#,
        ] {
            assert!(!has_lone_surrogate_escape(fine.as_bytes()), "{fine}");
        }
    }

    #[test]
    fn escapes_like_jackson() {
        let mut out = Vec::new();
        write_json_string("a\"b\\c\n\u{1}\u{7f}é/", &mut out);
        assert_eq!(
            std::str::from_utf8(&out).expect("utf8"),
            "\"a\\\"b\\\\c\\n\\u0001\u{7f}é/\""
        );
    }

    #[test]
    fn stored_strings_escape_supplementary_characters_as_jackson_does() {
        let mut out = Vec::new();
        write_stored_json_string("a\u{1F600}é\u{10FFFF}\u{1}\"", &mut out);
        assert_eq!(
            std::str::from_utf8(&out).expect("utf8"),
            "\"a\\uD83D\\uDE00é\\uDBFF\\uDFFF\\u0001\\\"\""
        );
        out.clear();
        write_json_string("a\u{1F600}", &mut out);
        assert_eq!(std::str::from_utf8(&out).expect("utf8"), "\"a\u{1F600}\"");
    }

    #[test]
    fn unescaped_text_is_found_wherever_the_special_byte_is() {
        for len in 0..20 {
            let plain = "aé€😀".repeat(len);
            assert!(is_unescaped_text(plain.as_bytes()));
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for at in 0..=plain.len() {
                    let mut bytes = plain.as_bytes().to_vec();
                    bytes.insert(at, special);
                    assert!(!is_unescaped_text(&bytes), "{len} {at} {special}");
                }
            }
        }
    }

    #[test]
    fn depth_guard() {
        let deep = "[".repeat(JSON_NESTING_DEPTH_MAX + 1);
        assert!(exceeds_nesting_depth(deep.as_bytes()));
        let ok = format!(
            "{}{}",
            "[".repeat(JSON_NESTING_DEPTH_MAX),
            "]".repeat(JSON_NESTING_DEPTH_MAX)
        );
        assert!(!exceeds_nesting_depth(ok.as_bytes()));
        // Brackets inside strings do not nest.
        let quoted = format!("[\"{}\"]", "[".repeat(500));
        assert!(!exceeds_nesting_depth(quoted.as_bytes()));
        // The opener count is exact at every alignment.
        for pad in 0..16 {
            let text = format!("{}{}{}", " ".repeat(pad), "[{".repeat(64), "x".repeat(pad));
            assert!(openers_at_most(text.as_bytes(), 128));
            assert!(!openers_at_most(text.as_bytes(), 127));
        }
    }

    #[test]
    fn compacts() {
        assert_eq!(compact_json("{ \"a b\" : [1, 2] }"), "{\"a b\":[1,2]}");
    }
}
