//! A cursor over one line of JSON that validates as it reads (RFC 8259), for the fast path.
//!
//! Every method answers `None` for bytes that are not valid JSON here, and leaves the
//! cursor somewhere inside them: the caller gives up on the value (or the row). Strings are
//! checked completely (escapes, UTF-8, no raw control characters), numbers against the
//! grammar, and [`Cursor::skip_value`] checks a whole value of any kind, so a line the fast
//! path reads to its end is valid JSON, exactly as the full decoder's parser would find.

use super::super::json_text::{plain_text_len, JSON_NESTING_DEPTH_MAX};

/// A string token: where its text lies and what kind of text it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StrTok {
    /// The first byte after the opening quote.
    pub(super) start: usize,
    /// The closing quote.
    pub(super) end: usize,
    /// Holds at least one `\` escape.
    pub(super) escaped: bool,
    /// Holds only ASCII bytes (escapes aside).
    pub(super) ascii: bool,
    /// Holds a character above U+FFFF, raw or escaped.
    pub(super) supplementary: bool,
}

impl StrTok {
    /// The bytes between the quotes.
    pub(super) fn inner<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        &line[self.start..self.end]
    }

    /// The token with its quotes.
    pub(super) fn quoted<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        &line[self.start - 1..self.end + 1]
    }

    /// True when the quoted token is already ksqlDB's stored spelling of its text: no
    /// escapes to undo and no character the stored form escapes (raw control characters
    /// are invalid JSON, so none are left).
    pub(super) fn verbatim(&self) -> bool {
        !self.escaped && !self.supplementary
    }
}

/// A number token: where it lies and how it is written. An integer (no fraction or
/// exponent) is what Jackson reads as an `Integer`/`Long`/`BigInteger`; anything else is a
/// `Double`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NumTok {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Digits before any fraction, without the sign.
    pub(super) int_digits: usize,
    /// Where the fraction's digits start (after the `.`); they run to `end` unless there
    /// is an exponent.
    pub(super) frac: Option<usize>,
    pub(super) exponent: bool,
}

impl NumTok {
    pub(super) fn integral(&self) -> bool {
        self.frac.is_none() && !self.exponent
    }

    pub(super) fn bytes<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        &line[self.start..self.end]
    }

    /// The token as text, to parse it (the grammar admits ASCII only).
    pub(super) fn text<'a>(&self, line: &'a [u8]) -> &'a str {
        std::str::from_utf8(self.bytes(line)).unwrap_or("")
    }
}

pub(super) struct Cursor<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
    /// Let a lone UTF-16 surrogate escape through (only to tell it from other errors).
    pub(super) lone_surrogates_ok: bool,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            bytes,
            at: 0,
            lone_surrogates_ok: false,
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips JSON whitespace (RFC 8259 §2).
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Moves past `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let next = self.peek() == Some(b);
        self.at += usize::from(next);
        next
    }

    /// Moves past `word` (`true`, `false`, `null`).
    pub(super) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    pub(super) fn number(&mut self) -> Option<NumTok> {
        let start = self.at;
        self.eat(b'-');
        let int_start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let int_digits = self.at - int_start;
        let mut frac = None;
        if self.eat(b'.') {
            let from = self.at;
            self.digits();
            if self.at == from {
                return None;
            }
            frac = Some(from);
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            let from = self.at;
            self.digits();
            if self.at == from {
                return None;
            }
        }
        Some(NumTok {
            start,
            end: self.at,
            int_digits,
            frac,
            exponent,
        })
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// A string, the cursor on its opening quote. `None` also for a lone UTF-16 surrogate
    /// escape (`"\ud800"`), which no Rust string holds: the full decoder handles such a line.
    pub(super) fn string(&mut self) -> Option<StrTok> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.at += 1;
        let mut tok = StrTok {
            start: self.at,
            end: self.at,
            escaped: false,
            ascii: true,
            supplementary: false,
        };
        loop {
            self.at += plain_text_len(&self.bytes[self.at..]);
            match self.peek()? {
                b'"' => {
                    tok.end = self.at;
                    self.at += 1;
                    return Some(tok);
                }
                b'\\' => {
                    tok.escaped = true;
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            self.at += 1;
                            let unit = self.hex4()?;
                            if (0xDC00..=0xDFFF).contains(&unit) {
                                self.lone_surrogates_ok.then_some(())?;
                            } else if (0xD800..=0xDBFF).contains(&unit) {
                                // Only as the first half of a pair.
                                let low = self.bytes.get(self.at..self.at + 2) == Some(b"\\u")
                                    && self.bytes.get(self.at + 2..self.at + 6).is_some_and(|h| {
                                        std::str::from_utf8(h)
                                            .ok()
                                            .and_then(|h| u16::from_str_radix(h, 16).ok())
                                            .is_some_and(|u| (0xDC00..=0xDFFF).contains(&u))
                                    });
                                if low {
                                    self.at += 6;
                                    tok.supplementary = true;
                                } else {
                                    self.lone_surrogates_ok.then_some(())?;
                                }
                            }
                        }
                        _ => return None,
                    }
                }
                0x80.. => {
                    tok.ascii = false;
                    // A run of non-ASCII bytes ends at an ASCII byte, which is never inside a
                    // multi-byte character: valid UTF-8 iff the run is.
                    let from = self.at;
                    let run = self.bytes[from..].iter().take_while(|&&b| b >= 0x80).count();
                    let bytes = &self.bytes[from..from + run];
                    std::str::from_utf8(bytes).ok()?;
                    // Four-byte sequences (lead bytes 0xF0..=0xF4) are above U+FFFF.
                    tok.supplementary |= bytes.iter().any(|&b| b >= 0xF0);
                    self.at += run;
                }
                // A raw control character.
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut unit = 0u16;
        for &d in digits {
            let digit = u16::try_from(char::from(d).to_digit(16)?).ok()?;
            unit = unit << 4 | digit;
        }
        self.at += 4;
        Some(unit)
    }

    /// Moves past one JSON value of any kind, checking it; `depth` is how many arrays and
    /// objects enclose it. Deeper nesting than [`JSON_NESTING_DEPTH_MAX`] is refused, as
    /// the full decoder refuses it.
    pub(super) fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            open @ (b'[' | b'{') => {
                let depth = depth + 1;
                if depth > JSON_NESTING_DEPTH_MAX {
                    return None;
                }
                self.at += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                self.ws();
                if self.eat(close) {
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return None;
                        }
                        self.ws();
                    }
                    self.skip_value(depth)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.ws();
                        }
                        b if b == close => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }
}

/// Appends the text of a string token (validated by [`Cursor::string`]) to `out` as UTF-8,
/// its escapes undone.
pub(super) fn decode_string(line: &[u8], tok: StrTok, out: &mut Vec<u8>) {
    let inner = tok.inner(line);
    if !tok.escaped {
        out.extend_from_slice(inner);
        return;
    }
    let mut at = 0;
    while at < inner.len() {
        let run = inner[at..].iter().take_while(|&&b| b != b'\\').count();
        out.extend_from_slice(&inner[at..at + run]);
        at += run;
        if at >= inner.len() {
            break;
        }
        // A validated escape: `\x` or `\uXXXX` (a surrogate pair as two in a row).
        let byte = match inner.get(at + 1) {
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let unit = |from: usize| {
                    inner
                        .get(from..from + 4)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0xFFFD)
                };
                let first = unit(at + 2);
                let (code, len) = if (0xD800..=0xDBFF).contains(&first) {
                    let second = unit(at + 8);
                    (0x10000 + ((first - 0xD800) << 10) + (second.wrapping_sub(0xDC00) & 0x3FF), 12)
                } else {
                    (first, 6)
                };
                let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                at += len;
                continue;
            }
            Some(&other) => other,
            None => break,
        };
        out.push(byte);
        at += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(json: &str) -> Option<StrTok> {
        Cursor::new(json.as_bytes()).string()
    }

    fn decoded(json: &str) -> String {
        let t = tok(json).expect("valid string");
        let mut out = Vec::new();
        decode_string(json.as_bytes(), t, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn strings_are_checked_and_classified() {
        let t = tok(r#""abc""#).expect("plain");
        assert!(t.verbatim() && t.ascii && !t.escaped);
        let t = tok("\"é\"").expect("non-ASCII");
        assert!(t.verbatim() && !t.ascii);
        let t = tok("\"\u{1F600}\"").expect("supplementary");
        assert!(!t.verbatim() && t.supplementary);
        let t = tok(r#""a\ud83d\ude00""#).expect("pair");
        assert!(t.escaped && t.supplementary);
        for bad in [
            "\"a",
            "\"\u{1}\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            "abc",
        ] {
            assert_eq!(tok(bad), None, "{bad:?}");
        }
        assert_eq!(Cursor::new(b"\"\xff\"").string(), None);
        assert_eq!(Cursor::new(b"\"\xc3\"").string(), None);
    }

    #[test]
    fn escapes_are_undone() {
        assert_eq!(decoded(r#""a\"b\\c\/d\n\t\u00e9\u0041""#), "a\"b\\c/d\n\té\u{41}");
        assert_eq!(decoded(r#""\ud83d\ude00!""#), "\u{1F600}!");
        assert_eq!(decoded("\"plain é\""), "plain é");
    }

    #[test]
    fn numbers_follow_the_grammar() {
        let num = |s: &str| {
            let mut c = Cursor::new(s.as_bytes());
            c.number().map(|n| (n.integral(), c.at))
        };
        assert_eq!(num("-0"), Some((true, 2)));
        assert_eq!(num("12.50"), Some((false, 5)));
        assert_eq!(num("1e3"), Some((false, 3)));
        assert_eq!(num("1E+2,"), Some((false, 4)));
        // Stops after `0`: what follows is the caller's problem (and an error there).
        assert_eq!(num("01"), Some((true, 1)));
        for bad in ["-", "1.", ".5", "+1", "1e", "1e+", "x"] {
            assert_eq!(num(bad), None, "{bad}");
        }
    }

    #[test]
    fn skips_any_valid_value_and_refuses_the_rest() {
        let skip = |s: &str| {
            let mut c = Cursor::new(s.as_bytes());
            c.skip_value(0).map(|()| c.at == s.len())
        };
        for ok in [
            "null",
            "true",
            "-1.5e-3",
            r#""a\"b""#,
            "[]",
            "{}",
            r#"[1, {"a": [true, null]}, "x"]"#,
            r#"{ "a" : { "b" : [ ] } }"#,
        ] {
            assert_eq!(skip(ok), Some(true), "{ok}");
        }
        for bad in ["nul", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "[1 2]", "{1:2}", "tru", ""] {
            assert_ne!(skip(bad), Some(true), "{bad}");
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(skip(&deep(JSON_NESTING_DEPTH_MAX)), Some(true));
        assert_eq!(skip(&deep(JSON_NESTING_DEPTH_MAX + 1)), None);
    }
}
