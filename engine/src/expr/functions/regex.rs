//! Regular-expression functions (`udf/string/Regexp*.java`).
//!
//! Patterns use the `regex` crate, which matches in linear time. Its syntax covers the
//! Java patterns people write (classes, quantifiers, groups, anchors, `\d\w\s`, inline
//! flags), but it has no backreferences (`\1`) and no lookaround (`(?=…)`, `(?<!…)`):
//! such patterns fail to compile and the call is an error (NULL in a projection).
//! `REGEXP_REPLACE` takes Java replacement syntax (`$1`, `\$`), translated here.
//!
//! Compiled patterns are cached per thread, bounded by [`REGEX_CACHE_ENTRIES_MAX`], and
//! each compiled program by [`REGEX_PROGRAM_BYTES_MAX`].

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use regex::Regex;

use super::{
    array_of, check_bytes, check_elements, def, fixed, int_arg, str_arg, user_err, ArgType, EvalFn,
    FunctionDef, Signature,
};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

use SqlType as T;

/// Compiled-pattern cache entries per thread. A query uses a handful of patterns; a
/// per-row pattern column would otherwise grow the cache without bound, so it is cleared
/// when full.
pub(crate) const REGEX_CACHE_ENTRIES_MAX: usize = 64;

/// Largest compiled regex program, in bytes. The crate's default is 10 MiB; 1 MiB admits
/// any hand-written pattern and keeps one hostile pattern from costing megabytes per row.
pub(crate) const REGEX_PROGRAM_BYTES_MAX: usize = 1 << 20;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("REGEXP_EXTRACT", |a| with_group(a, T::String, extract)),
    def("REGEXP_EXTRACT_ALL", |a| {
        with_group(a, array_of(T::String), extract_all)
    }),
    def("REGEXP_REPLACE", |a| {
        fixed(a, &[T::String, T::String, T::String], T::String, replace)
    }),
    def("REGEXP_SPLIT_TO_ARRAY", |a| {
        fixed(a, &[T::String, T::String], array_of(T::String), split)
    }),
];

thread_local! {
    // `Rc`, not a `Regex` clone per call: a cloned `Regex` gets a fresh matching cache, so
    // its lazy DFA was rebuilt on every row (~40% of Nexmark q21's server CPU).
    static CACHE: RefCell<HashMap<String, Rc<Regex>>> = RefCell::new(HashMap::new());
}

/// A compiled pattern, shared with the thread's cache (and so with its matching cache).
type Compiled = Rc<Regex>;

fn compile(pattern: &str) -> Result<Compiled, EngineError> {
    if let Some(r) = CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(r);
    }
    let r = Rc::new(
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_PROGRAM_BYTES_MAX)
            .build()
            .map_err(|e| {
                user_err(format!(
                    "Invalid regular expression pattern: {pattern} ({e})"
                ))
            })?,
    );
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= REGEX_CACHE_ENTRIES_MAX {
            c.clear();
        }
        c.insert(pattern.to_string(), Rc::clone(&r));
    });
    Ok(r)
}

/// `f(pattern, input [, group])`.
fn with_group(args: &[ArgType], ret: SqlType, eval: EvalFn) -> Option<Signature> {
    match args.len() {
        2 => fixed(args, &[T::String, T::String], ret, eval),
        3 => fixed(args, &[T::String, T::String, T::Integer], ret, eval),
        _ => None,
    }
}

/// Pattern, input and group (default 0); `None` when any is NULL or the group does not
/// exist in the pattern.
fn group_args<'v>(
    args: &'v [Cow<'_, Value>],
) -> Result<Option<(Compiled, &'v str, usize)>, EngineError> {
    let group = if args.len() > 2 {
        int_arg(args, 2)
    } else {
        Some(0)
    };
    let (Some(p), Some(input), Some(group)) = (str_arg(args, 0), str_arg(args, 1), group) else {
        return Ok(None);
    };
    let r = compile(p)?;
    // Java: a group above `groupCount()` is NULL; a negative one throws.
    let group = usize::try_from(group).map_err(|_| user_err(format!("No group {group}")))?;
    if group >= r.captures_len() {
        return Ok(None);
    }
    Ok(Some((r, input, group)))
}

/// `REGEXP_EXTRACT(pattern, input [, group])`: the group of the first match.
fn extract(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let Some((r, input, group)) = group_args(args)? else {
        return Ok(Value::Null);
    };
    Ok(r.captures(input)
        .and_then(|c| c.get(group))
        .map_or(Value::Null, |m| Value::String(m.as_str().to_string())))
}

/// `REGEXP_EXTRACT_ALL(pattern, input [, group])`: the group of every match (NULL
/// elements where the group did not take part).
fn extract_all(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let Some((r, input, group)) = group_args(args)? else {
        return Ok(Value::Null);
    };
    let out: Vec<Value> = r
        .captures_iter(input)
        .map(|c| {
            c.get(group)
                .map_or(Value::Null, |m| Value::String(m.as_str().to_string()))
        })
        .collect();
    check_elements("REGEXP_EXTRACT_ALL", out.len())?;
    Ok(Value::Array(out))
}

/// `REGEXP_REPLACE(str, pattern, replacement)`: `String.replaceAll`.
fn replace(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(s), Some(p), Some(with)) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2))
    else {
        return Ok(Value::Null);
    };
    let r = compile(p)?;
    let with = java_replacement(with, r.captures_len())?;
    let out = r.replace_all(s, with.as_str());
    check_bytes("REGEXP_REPLACE", out.len())?;
    Ok(Value::String(out.into_owned()))
}

/// Translates Java's replacement syntax (`$n`, `${name}`, `\x` for a literal `x`) to the
/// `regex` crate's (`${n}`, `${name}`, `$$`). Java reads `$12` as group 12 only when the
/// pattern has that many groups, else as group 1 then `2`.
fn java_replacement(s: &str, groups: usize) -> Result<String, EngineError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(x) => out.push(x),
                None => return Err(user_err("character to be escaped is missing")),
            },
            '$' => match chars.peek() {
                Some('{') => {
                    let name: String = chars.by_ref().skip(1).take_while(|&x| x != '}').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut n = chars.next().and_then(|d| d.to_digit(10)).unwrap_or(0) as usize;
                    while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                        let next = n * 10 + d as usize;
                        if next >= groups {
                            break;
                        }
                        n = next;
                        chars.next();
                    }
                    if n >= groups {
                        return Err(user_err(format!("No group {n}")));
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                _ => return Err(user_err("Illegal group reference")),
            },
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `REGEXP_SPLIT_TO_ARRAY(str, pattern)`: Guava's `Splitter.on(pattern)` (empty pieces
/// kept); a pattern matching the empty string splits as Java's `Pattern.split`, between
/// characters, with trailing empty strings removed (`RegexpSplitToArray.java`).
fn split(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(s), Some(p)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    let r = compile(p)?;
    let parts: Vec<Value> = if p.is_empty() || r.is_match("") {
        let mut pieces: Vec<String> = Vec::new();
        let mut last = 0;
        for m in r.find_iter(s) {
            // Java skips a zero-length match at the very start.
            if m.end() == 0 {
                continue;
            }
            pieces.push(s[last..m.start()].to_string());
            last = m.end();
        }
        pieces.push(s[last..].to_string());
        while pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) {
            pieces.pop();
        }
        pieces.into_iter().map(Value::String).collect()
    } else {
        r.split(s).map(|x| Value::String(x.to_string())).collect()
    };
    check_elements("REGEXP_SPLIT_TO_ARRAY", parts.len())?;
    Ok(Value::Array(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: EvalFn, args: &[&str]) -> Value {
        let args: Vec<Cow<'_, Value>> = args
            .iter()
            .map(|a| Cow::Owned(Value::String((*a).into())))
            .collect();
        f(&args, &T::String).expect("evaluates")
    }

    fn strings(v: &[&str]) -> Value {
        Value::Array(v.iter().map(|s| Value::String((*s).into())).collect())
    }

    #[test]
    fn regexp_functions_match_ksqldb_docs() {
        assert_eq!(
            call(extract, &["e.*", "hello"]),
            Value::String("ello".into())
        );
        assert_eq!(call(extract, &["x", "hello"]), Value::Null);
        assert_eq!(
            call(extract_all, &["\\d+", "a1b22c333"]),
            strings(&["1", "22", "333"])
        );
        assert_eq!(
            call(replace, &["foobar", "(foo)(bar)", "$2$1"]),
            Value::String("barfoo".into())
        );
        assert_eq!(
            call(replace, &["a.b", "\\.", "\\$"]),
            Value::String("a$b".into())
        );
        assert_eq!(
            call(split, &["a.b.c.d", "\\."]),
            strings(&["a", "b", "c", "d"])
        );
        assert_eq!(call(split, &["zxy", ""]), strings(&["z", "x", "y"]));
        assert_eq!(call(split, &[".a.", "\\."]), strings(&["", "a", ""]));
    }

    #[test]
    fn backreferences_are_errors() {
        let args: Vec<Cow<'_, Value>> = ["(a)\\1", "aa"]
            .iter()
            .map(|a| Cow::Owned(Value::String((*a).into())))
            .collect();
        assert!(extract(&args, &T::String).is_err());
    }
}
