//! `LIKE` patterns, compiled once and matched without backtracking.
//!
//! ksqlDB (`LikeEvaluator`) turns `%` into the regex `.*` and `_` into `.`, quoting the rest,
//! and requires the whole value to match. Java's `.` does not match line terminators, so
//! neither wildcard does here. An escape character makes the next character literal; a
//! pattern ending in it is an error. Matching simulates the pattern's automaton over the
//! value's characters: O(value × pattern / 64), never exponential.

use crate::error::EngineError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters.
    Many,
}

/// A compiled pattern, with fast paths for the common shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LikePattern {
    /// No wildcards: plain equality.
    Exact(String),
    /// `abc%`
    Prefix(String),
    /// `%abc`
    Suffix(String),
    /// `%abc%`
    Contains(String),
    /// Anything else.
    General(Vec<Token>),
}

/// Java's regex line terminators, which `.` does not match.
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

impl LikePattern {
    pub(crate) fn compile(pattern: &str, escape: Option<char>) -> Result<LikePattern, EngineError> {
        let tokens = tokenize(pattern, escape)?;
        Ok(classify(tokens))
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        let free = |s: &str| !s.chars().any(is_line_terminator);
        match self {
            LikePattern::Exact(p) => value == p,
            LikePattern::Prefix(p) => value.strip_prefix(p.as_str()).is_some_and(free),
            LikePattern::Suffix(p) => value.strip_suffix(p.as_str()).is_some_and(free),
            LikePattern::Contains(p) if free(value) => value.contains(p.as_str()),
            // Some occurrence must have terminator-free runs on both sides.
            LikePattern::Contains(p) => value
                .match_indices(p.as_str())
                .any(|(i, _)| free(&value[..i]) && free(&value[i + p.len()..])),
            LikePattern::General(tokens) => simulate(tokens, value),
        }
    }
}

fn tokenize(pattern: &str, escape: Option<char>) -> Result<Vec<Token>, EngineError> {
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut escaped = false;
    for c in pattern.chars() {
        let token = if escaped {
            escaped = false;
            Token::Char(c)
        } else if Some(c) == escape {
            escaped = true;
            continue;
        } else if c == '%' {
            // Consecutive `%` mean the same as one.
            if tokens.last() == Some(&Token::Many) {
                continue;
            }
            Token::Many
        } else if c == '_' {
            Token::One
        } else {
            Token::Char(c)
        };
        tokens.push(token);
    }
    if escaped {
        return Err(EngineError::bad_request(
            "LIKE pattern must not end with escape character",
        ));
    }
    Ok(tokens)
}

fn literal(tokens: &[Token]) -> Option<String> {
    tokens
        .iter()
        .map(|t| match t {
            Token::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn classify(tokens: Vec<Token>) -> LikePattern {
    let n = tokens.len();
    if let Some(s) = literal(&tokens) {
        return LikePattern::Exact(s);
    }
    let starts = tokens.first() == Some(&Token::Many);
    let ends = tokens.last() == Some(&Token::Many);
    if ends && !starts {
        if let Some(s) = literal(&tokens[..n - 1]) {
            return LikePattern::Prefix(s);
        }
    }
    if starts && !ends {
        if let Some(s) = literal(&tokens[1..]) {
            return LikePattern::Suffix(s);
        }
    }
    if starts && ends && n >= 2 {
        if let Some(s) = literal(&tokens[1..n - 1]) {
            return LikePattern::Contains(s);
        }
    }
    LikePattern::General(tokens)
}

/// Runs the pattern's NFA: state `i` means "tokens[..i] matched so far".
fn simulate(tokens: &[Token], value: &str) -> bool {
    let mut states = StateSet::new(tokens.len() + 1);
    states.insert(0);
    close(tokens, &mut states);
    let mut next = StateSet::new(tokens.len() + 1);
    for c in value.chars() {
        next.clear();
        for i in states.iter() {
            match tokens.get(i) {
                Some(Token::Char(p)) if *p == c => next.insert(i + 1),
                Some(Token::One) if !is_line_terminator(c) => next.insert(i + 1),
                Some(Token::Many) if !is_line_terminator(c) => next.insert(i),
                _ => {}
            }
        }
        close(tokens, &mut next);
        if next.is_empty() {
            return false;
        }
        std::mem::swap(&mut states, &mut next);
    }
    states.contains(tokens.len())
}

/// Adds the states reachable by letting a `%` match nothing.
fn close(tokens: &[Token], states: &mut StateSet) {
    for (i, t) in tokens.iter().enumerate() {
        if *t == Token::Many && states.contains(i) {
            states.insert(i + 1);
        }
    }
}

/// A bit set of NFA states; one word for patterns up to 63 tokens, no allocation then.
struct StateSet {
    words: SmallWords,
}

enum SmallWords {
    One(u64),
    Many(Vec<u64>),
}

impl StateSet {
    fn new(n: usize) -> StateSet {
        let words = if n <= 64 {
            SmallWords::One(0)
        } else {
            SmallWords::Many(vec![0; n.div_ceil(64)])
        };
        StateSet { words }
    }

    fn words(&self) -> &[u64] {
        match &self.words {
            SmallWords::One(w) => std::slice::from_ref(w),
            SmallWords::Many(v) => v,
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        match &mut self.words {
            SmallWords::One(w) => std::slice::from_mut(w),
            SmallWords::Many(v) => v,
        }
    }

    fn insert(&mut self, i: usize) {
        if let Some(w) = self.words_mut().get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.words()
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn clear(&mut self) {
        self.words_mut().fill(0);
    }

    fn is_empty(&self) -> bool {
        self.words().iter().all(|w| *w == 0)
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words().iter().enumerate().flat_map(|(wi, w)| {
            (0..64)
                .filter(move |b| w & (1u64 << b) != 0)
                .map(move |b| wi * 64 + b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        LikePattern::compile(pattern, None)
            .expect("valid pattern")
            .matches(value)
    }

    #[test]
    fn wildcards() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("a%", "abc"));
        assert!(m("%c", "abc"));
        assert!(m("%b%", "abc"));
        assert!(m("a_c", "abc"));
        assert!(!m("a_c", "ac"));
        assert!(m("%", ""));
        assert!(m("a%b%c", "axxbyyc"));
        assert!(!m("a%b%c", "axxbyy"));
        assert!(m("_%_", "ab"));
        assert!(!m("_%_", "a"));
        assert!(m("é_", "éà"));
    }

    #[test]
    fn wildcards_do_not_cross_lines_as_in_java_regex() {
        assert!(!m("a%", "a\nb"));
        assert!(!m("a_b", "a\nb"));
        assert!(m("a\n%", "a\nb"));
    }

    #[test]
    fn escapes() {
        let p = LikePattern::compile("100!%", Some('!')).expect("valid");
        assert!(p.matches("100%"));
        assert!(!p.matches("1000"));
        let p = LikePattern::compile("a!_%", Some('!')).expect("valid");
        assert!(p.matches("a_x"));
        assert!(!p.matches("abx"));
        let p = LikePattern::compile("a!!b", Some('!')).expect("valid");
        assert!(p.matches("a!b"));
        assert!(LikePattern::compile("abc!", Some('!')).is_err());
    }

    #[test]
    fn no_exponential_blowup() {
        let value = "a".repeat(5_000);
        let pattern = "%a%a%a%a%a%a%a%a%a%a%a%a%b";
        assert!(!m(pattern, &value));
    }

    #[test]
    fn long_patterns_use_the_wide_state_set() {
        let pattern = format!("{}%", "_".repeat(100));
        assert!(m(&pattern, &"x".repeat(150)));
        assert!(!m(&pattern, &"x".repeat(99)));
    }
}
