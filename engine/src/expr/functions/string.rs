//! String functions (`udf/string/*.java`).
//!
//! Java strings are UTF-16: lengths and positions (`LEN`, `SUBSTRING`, `INSTR`, `LPAD`)
//! count UTF-16 code units, and so do these kernels. ASCII input takes a byte fast path.
//! Masking and splitting work per `char`; they differ from Java only for characters
//! outside the Basic Multilingual Plane, which Java sees as two surrogate halves.

use std::borrow::Cow;

use super::{
    any_null, arg, array_of, bad_arg, bytes_arg, check_bytes, check_elements, def, fixed, int_arg,
    map_of, sig, str_arg, string_or_null, user_err, usize_to_i32, utf16_len, widens_to, ArgType,
    EvalFn, FunctionDef, Signature,
};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("CHR", chr),
    def("CONCAT", concat),
    def("CONCAT_WS", concat_ws),
    def("ELT", elt),
    def("FIELD", field),
    def("INITCAP", |a| unary(a, |v, _| map1(v, initcap))),
    def("INSTR", instr),
    def("LCASE", |a| unary(a, |v, _| map1(v, str::to_lowercase))),
    def("LEN", len),
    def("LPAD", |a| pad(a, |v, _| pad_eval(v, Side::Left))),
    def("MASK", |a| {
        mask_fn(a, 0, |v, _| mask_eval(v, MaskSpan::All))
    }),
    def("MASK_KEEP_LEFT", |a| {
        mask_fn(a, 1, |v, _| mask_eval(v, MaskSpan::KeepLeft))
    }),
    def("MASK_KEEP_RIGHT", |a| {
        mask_fn(a, 1, |v, _| mask_eval(v, MaskSpan::KeepRight))
    }),
    def("MASK_LEFT", |a| {
        mask_fn(a, 1, |v, _| mask_eval(v, MaskSpan::Left))
    }),
    def("MASK_RIGHT", |a| {
        mask_fn(a, 1, |v, _| mask_eval(v, MaskSpan::Right))
    }),
    def("REPLACE", |a| {
        fixed(a, &[T::String, T::String, T::String], T::String, replace)
    }),
    def("RPAD", |a| pad(a, |v, _| pad_eval(v, Side::Right))),
    def("SPLIT", split),
    def("SPLIT_TO_MAP", |a| {
        let ret = map_of(T::String, T::String);
        fixed(a, &[T::String, T::String, T::String], ret, split_to_map)
    }),
    def("SUBSTRING", substring),
    def("TRIM", |a| {
        unary(a, |v, _| {
            map1(v, |s| s.trim_matches(|c| c <= ' ').to_string())
        })
    }),
    def("UCASE", |a| unary(a, |v, _| map1(v, str::to_uppercase))),
    def("UUID", uuid),
];

/// Resolves `f(STRING) -> STRING`.
fn unary(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    fixed(args, &[T::String], T::String, eval)
}

/// Maps one non-NULL string (UCASE, LCASE, TRIM, INITCAP).
fn map1(args: &[Cow<'_, Value>], f: fn(&str) -> String) -> Result<Value, EngineError> {
    Ok(string_or_null(str_arg(args, 0).map(f)))
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn from_utf16(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// `LEN(STRING)` counts UTF-16 code units (`String.length`); `LEN(BYTES)` counts bytes.
fn len(args: &[ArgType]) -> Option<Signature> {
    let eval: EvalFn = |a, _| match arg(a, 0) {
        Value::String(s) => Ok(Value::Integer(usize_to_i32(utf16_len(s)))),
        Value::Bytes(b) => Ok(Value::Integer(usize_to_i32(b.len()))),
        Value::Null => Ok(Value::Null),
        other => Err(bad_arg("LEN", other)),
    };
    match args {
        [None | Some(T::String | T::Bytes)] => sig(vec![None], T::Integer, eval),
        _ => None,
    }
}

/// The common type of a STRING-or-BYTES variadic list (untyped NULLs fit either).
fn string_or_bytes(args: &[ArgType]) -> Option<SqlType> {
    let ty = args.iter().flatten().next().cloned().unwrap_or(T::String);
    let ok = matches!(ty, T::String | T::Bytes) && args.iter().all(|a| widens_to(a, &ty));
    ok.then_some(ty)
}

/// `CONCAT(STRING, …)` or `CONCAT(BYTES, …)`: NULL arguments are skipped (`Concat.java`).
fn concat(args: &[ArgType]) -> Option<Signature> {
    if args.is_empty() {
        return None;
    }
    let ty = string_or_bytes(args)?;
    let params = vec![None; args.len()];
    if ty == T::Bytes {
        return sig(params, ty, |a, _| join_bytes(a.iter(), &[], "CONCAT"));
    }
    sig(params, ty, |a, _| join_strings(a.iter(), "", "CONCAT"))
}

fn join_strings<'v, 'c: 'v>(
    items: impl Iterator<Item = &'v Cow<'c, Value>>,
    sep: &str,
    name: &str,
) -> Result<Value, EngineError> {
    let mut out = String::new();
    let mut first = true;
    for a in items {
        match a.as_ref() {
            Value::String(s) => {
                if !first {
                    out.push_str(sep);
                }
                first = false;
                out.push_str(s);
                check_bytes(name, out.len())?;
            }
            Value::Null => {}
            other => return Err(bad_arg(name, other)),
        }
    }
    Ok(Value::String(out))
}

fn join_bytes<'v, 'c: 'v>(
    items: impl Iterator<Item = &'v Cow<'c, Value>>,
    sep: &[u8],
    name: &str,
) -> Result<Value, EngineError> {
    let mut out = Vec::new();
    let mut first = true;
    for a in items {
        match a.as_ref() {
            Value::Bytes(b) => {
                if !first {
                    out.extend_from_slice(sep);
                }
                first = false;
                out.extend_from_slice(b);
                check_bytes(name, out.len())?;
            }
            Value::Null => {}
            other => return Err(bad_arg(name, other)),
        }
    }
    Ok(Value::Bytes(out))
}

/// `CONCAT_WS(sep, a, b, …)`: NULL separator is NULL; NULL values are skipped
/// (`ConcatWS.java`). At least two arguments.
fn concat_ws(args: &[ArgType]) -> Option<Signature> {
    if args.len() < 2 {
        return None;
    }
    let ty = string_or_bytes(args)?;
    let params = vec![None; args.len()];
    if ty == T::Bytes {
        return sig(params, ty, |a, _| match bytes_arg(a, 0) {
            Some(sep) => join_bytes(a[1..].iter(), sep, "CONCAT_WS"),
            None => Ok(Value::Null),
        });
    }
    sig(params, ty, |a, _| match str_arg(a, 0) {
        Some(sep) => join_strings(a[1..].iter(), sep, "CONCAT_WS"),
        None => Ok(Value::Null),
    })
}

/// `ELT(n, s1, s2, …)`: the n-th string (1-based), NULL when out of range (`Elt.java`).
fn elt(args: &[ArgType]) -> Option<Signature> {
    let (n, rest) = args.split_first()?;
    if !widens_to(n, &T::Integer) || !rest.iter().all(|a| widens_to(a, &T::String)) {
        return None;
    }
    let mut params = vec![Some(T::Integer)];
    params.extend(rest.iter().map(|_| Some(T::String)));
    sig(params, T::String, |a, _| {
        let n = int_arg(a, 0).unwrap_or(0);
        let picked = usize::try_from(n)
            .ok()
            .filter(|&n| n >= 1)
            .and_then(|n| a.get(n));
        Ok(picked.map_or(Value::Null, |v| v.as_ref().clone()))
    })
}

/// `FIELD(str, s1, s2, …)`: 1-based position of `str` among the rest, 0 when absent or
/// when `str` is NULL (`Field.java`).
fn field(args: &[ArgType]) -> Option<Signature> {
    if args.is_empty() || !args.iter().all(|a| widens_to(a, &T::String)) {
        return None;
    }
    sig(vec![Some(T::String); args.len()], T::Integer, |a, _| {
        let Some(needle) = str_arg(a, 0) else {
            return Ok(Value::Integer(0));
        };
        let pos = a[1..].iter().position(|v| match v.as_ref() {
            Value::String(s) => s == needle,
            _ => false,
        });
        Ok(Value::Integer(pos.map_or(0, |p| usize_to_i32(p + 1))))
    })
}

/// `INITCAP`: lower-cases, then upper-cases the first character of every run of
/// non-whitespace. Leading whitespace is dropped, as the Java UDF's `[^\s]+\s*` matching
/// does (`InitCap.java`).
fn initcap(s: &str) -> String {
    let lower = s.to_lowercase();
    let java_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let mut out = String::with_capacity(lower.len());
    let mut at_word_start = true;
    let mut seen_word = false;
    for c in lower.chars() {
        if java_space(c) {
            if seen_word {
                out.push(c);
            }
            at_word_start = true;
        } else {
            if at_word_start {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            at_word_start = false;
            seen_word = true;
        }
    }
    out
}

/// `INSTR(str, sub [, position [, occurrence]])`: 1-based position of the occurrence-th
/// match at or after `position`; a negative position searches backwards from the end; 0
/// when not found (`Instr.java`, `StringUtils.ordinalIndexOf`).
fn instr(args: &[ArgType]) -> Option<Signature> {
    if !(2..=4).contains(&args.len()) {
        return None;
    }
    let mut params = vec![T::String, T::String];
    params.extend(std::iter::repeat_n(T::Integer, args.len() - 2));
    fixed(args, &params, T::Integer, |a, _| {
        let (Some(s), Some(sub)) = (str_arg(a, 0), str_arg(a, 1)) else {
            return Ok(Value::Integer(0));
        };
        let position = if a.len() > 2 { int_arg(a, 2) } else { Some(1) };
        let occurrence = if a.len() > 3 { int_arg(a, 3) } else { Some(1) };
        let (Some(position), Some(occurrence)) = (position, occurrence) else {
            return Ok(Value::Null);
        };
        Ok(Value::Integer(instr_units(
            &utf16(s),
            &utf16(sub),
            position,
            occurrence,
        )))
    })
}

fn instr_units(s: &[u16], sub: &[u16], position: i32, occurrence: i32) -> i32 {
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    if i64::from(position).abs() > len {
        return 0;
    }
    if position < 0 {
        let rs: Vec<u16> = s.iter().rev().copied().collect();
        let rsub: Vec<u16> = sub.iter().rev().copied().collect();
        return find_from(&rs, &rsub, -i64::from(position), occurrence, true);
    }
    find_from(s, sub, i64::from(position), occurrence, false)
}

fn find_from(s: &[u16], sub: &[u16], position: i64, occurrence: i32, reversed: bool) -> i32 {
    let tail = java_substring_from(s, position - 1);
    let Some(i) = ordinal_index_of(tail, sub, occurrence) else {
        return 0;
    };
    let (len, i, sub_len) = (s.len() as i64, i as i64, sub.len() as i64);
    let out = if reversed {
        len - position - i - sub_len + 2
    } else {
        i + position
    };
    i32::try_from(out).unwrap_or(0)
}

/// `StringUtils.substring(str, start)`: a negative start counts from the end.
fn java_substring_from(s: &[u16], start: i64) -> &[u16] {
    let len = s.len() as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    usize::try_from(start)
        .ok()
        .and_then(|st| s.get(st..))
        .unwrap_or(&[])
}

/// `StringUtils.ordinalIndexOf`: index of the n-th (possibly overlapping) match.
fn ordinal_index_of(s: &[u16], sub: &[u16], n: i32) -> Option<usize> {
    if n <= 0 {
        return None;
    }
    if sub.is_empty() {
        return Some(0);
    }
    let mut found = 0;
    let mut from = 0;
    loop {
        let idx = from + s.get(from..)?.windows(sub.len()).position(|w| w == sub)?;
        found += 1;
        if found == n {
            return Some(idx);
        }
        from = idx + 1;
    }
}

#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
}

/// `LPAD`/`RPAD(STRING, INT, STRING)` or `(BYTES, INT, BYTES)`.
fn pad(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let [input, n, fill] = args else { return None };
    let ty = string_or_bytes(&[input.clone(), fill.clone()])?;
    if !widens_to(n, &T::Integer) {
        return None;
    }
    sig(
        vec![Some(ty.clone()), Some(T::Integer), Some(ty.clone())],
        ty,
        eval,
    )
}

/// Pads to exactly `n` units, truncating longer input (`LPad.java`, `RPad.java`); NULL
/// for a NULL or empty fill or a negative length.
fn pad_eval(args: &[Cow<'_, Value>], side: Side) -> Result<Value, EngineError> {
    let Some(n) = int_arg(args, 1).and_then(|n| usize::try_from(n).ok()) else {
        return Ok(Value::Null);
    };
    check_bytes("LPAD/RPAD", n)?;
    match (arg(args, 0), arg(args, 2)) {
        (Value::String(s), Value::String(fill)) if !fill.is_empty() => {
            let out = pad_units(&utf16(s), &utf16(fill), n, side);
            Ok(Value::String(from_utf16(&out)))
        }
        (Value::Bytes(b), Value::Bytes(fill)) if !fill.is_empty() => {
            Ok(Value::Bytes(pad_units(b, fill, n, side)))
        }
        _ => Ok(Value::Null),
    }
}

fn pad_units<U: Copy>(input: &[U], fill: &[U], n: usize, side: Side) -> Vec<U> {
    let fill_len = n.saturating_sub(input.len());
    let filler = fill.iter().copied().cycle().take(fill_len);
    let mut out: Vec<U> = Vec::with_capacity(n);
    match side {
        Side::Left => {
            out.extend(filler);
            out.extend_from_slice(input);
        }
        Side::Right => {
            out.extend_from_slice(input);
            out.extend(filler);
        }
    }
    out.truncate(n);
    out
}

/// `REPLACE(str, old, new)`: every literal occurrence (`String.replace`).
fn replace(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(s), Some(old), Some(new)) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2))
    else {
        return Ok(Value::Null);
    };
    let matches = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let len = s.len() + matches.saturating_mul(new.len());
    check_bytes("REPLACE", len)?;
    Ok(Value::String(s.replace(old, new)))
}

/// `SPLIT(STRING, STRING)` or `SPLIT(BYTES, BYTES)`: literal delimiter, empty pieces kept;
/// an empty delimiter splits into characters (bytes) (`Split.java`).
fn split(args: &[ArgType]) -> Option<Signature> {
    if args.len() != 2 {
        return None;
    }
    let ty = string_or_bytes(args)?;
    let params = vec![Some(ty.clone()); 2];
    sig(params, array_of(ty), |a, _| match (arg(a, 0), arg(a, 1)) {
        (Value::String(s), Value::String(d)) => {
            let parts: Vec<Value> = if d.is_empty() {
                if s.is_empty() {
                    vec![Value::String(String::new())]
                } else {
                    s.chars().map(|c| Value::String(c.to_string())).collect()
                }
            } else {
                s.split(d.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect()
            };
            check_elements("SPLIT", parts.len())?;
            Ok(Value::Array(parts))
        }
        (Value::Bytes(b), Value::Bytes(d)) => {
            check_elements("SPLIT", b.len())?;
            Ok(Value::Array(split_bytes(b, d)))
        }
        _ => Ok(Value::Null),
    })
}

/// `BytesUtils.split`: empty input is one empty piece; an empty delimiter splits bytes.
fn split_bytes(b: &[u8], d: &[u8]) -> Vec<Value> {
    if b.is_empty() {
        return vec![Value::Bytes(Vec::new())];
    }
    if d.is_empty() {
        return b.iter().map(|x| Value::Bytes(vec![*x])).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + d.len() <= b.len() {
        if &b[i..i + d.len()] == d {
            out.push(Value::Bytes(b[start..i].to_vec()));
            i += d.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(Value::Bytes(b[start..].to_vec()));
    out
}

/// `SPLIT_TO_MAP(input, entryDelim, kvDelim)`: empty entries and entries without the
/// key-value delimiter are skipped; a value is the text up to any further delimiter; later
/// keys win (`SplitToMap.java`).
fn split_to_map(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(s), Some(entry), Some(kv)) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2))
    else {
        return Ok(Value::Null);
    };
    if entry.is_empty() || kv.is_empty() || entry == kv {
        return Ok(Value::Null);
    }
    let mut out: Vec<(Value, Value)> = Vec::new();
    for e in s.split(entry).filter(|e| !e.is_empty() && e.contains(kv)) {
        let mut parts = e.split(kv);
        let k = Value::String(parts.next().unwrap_or_default().to_string());
        let v = Value::String(parts.next().unwrap_or_default().to_string());
        match out.iter_mut().find(|(existing, _)| existing == &k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    check_elements("SPLIT_TO_MAP", out.len())?;
    Ok(Value::Map(out))
}

/// `SUBSTRING(str, pos [, len])`: 1-based; a negative `pos` counts from the end; indexes
/// are clamped to the value, never an error (`Substring.java`). Positions count UTF-16
/// code units, as Java's do.
fn substring(args: &[ArgType]) -> Option<Signature> {
    let (first, rest) = args.split_first()?;
    if rest.is_empty() || rest.len() > 2 || !rest.iter().all(|a| widens_to(a, &T::Integer)) {
        return None;
    }
    let ty = match first {
        None | Some(T::String) => T::String,
        Some(T::Bytes) => T::Bytes,
        Some(_) => return None,
    };
    let mut params = vec![Some(ty.clone())];
    params.extend(rest.iter().map(|_| Some(T::Integer)));
    sig(params, ty, substring_eval)
}

fn substring_eval(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    if any_null(args) {
        return Ok(Value::Null);
    }
    let pos = int_arg(args, 1).unwrap_or(1);
    let len = int_arg(args, 2);
    match arg(args, 0) {
        Value::String(s) if s.is_ascii() => {
            let (start, end) = substring_range(s.len(), pos, len);
            Ok(Value::String(s[start..end].to_string()))
        }
        Value::String(s) => {
            let units = utf16(s);
            let (start, end) = substring_range(units.len(), pos, len);
            Ok(Value::String(from_utf16(&units[start..end])))
        }
        Value::Bytes(b) => {
            let (start, end) = substring_range(b.len(), pos, len);
            Ok(Value::Bytes(b[start..end].to_vec()))
        }
        other => Err(bad_arg("SUBSTRING", other)),
    }
}

/// `Substring.getStartIndex/getEndIndex`, in i64 so no input overflows.
pub(super) fn substring_range(value_len: usize, pos: i32, len: Option<i32>) -> (usize, usize) {
    let n = i64::try_from(value_len).unwrap_or(i64::MAX);
    let pos = i64::from(pos);
    let start = if pos < 0 {
        (n + pos).max(0)
    } else {
        (pos - 1).min(n).max(0)
    };
    let end = match len {
        Some(l) => (start + i64::from(l)).min(n).max(start),
        None => n,
    };
    let to_usize = |x: i64| usize::try_from(x).unwrap_or(0);
    (to_usize(start), to_usize(end))
}

/// `CHR(INT)`: the character of a code point, NULL when invalid. Java can return a lone
/// surrogate (U+D800–U+DFFF); a Rust string cannot hold one, so those are NULL here.
/// `CHR(STRING)`: a `\uXXXX` escape (or several, e.g. a surrogate pair) (`Chr.java`).
fn chr(args: &[ArgType]) -> Option<Signature> {
    match args {
        [Some(T::String)] => sig(vec![None], T::String, |a, _| {
            Ok(string_or_null(str_arg(a, 0).and_then(unescape_utf16)))
        }),
        [a] if widens_to(a, &T::Integer) => sig(vec![Some(T::Integer)], T::String, |a, _| {
            let c = int_arg(a, 0)
                .and_then(|n| u32::try_from(n).ok())
                .and_then(char::from_u32);
            Ok(string_or_null(c.map(String::from)))
        }),
        _ => None,
    }
}

/// `StringEscapeUtils.unescapeJava` for input that starts with `\u` and is at least six
/// characters; other escapes are kept as text.
fn unescape_utf16(s: &str) -> Option<String> {
    if s.len() < 6 || !s.starts_with("\\u") {
        return None;
    }
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("\\u") {
            let code = hex.get(..4).and_then(|h| u16::from_str_radix(h, 16).ok())?;
            units.push(code);
            rest = &hex[4..];
        } else {
            let c = rest.chars().next()?;
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(from_utf16(&units))
}

/// Which part of the input a MASK variant masks.
#[derive(Clone, Copy)]
enum MaskSpan {
    All,
    Left,
    Right,
    KeepLeft,
    KeepRight,
}

/// `MASK(str [, upper, lower, digit, other])` and the `MASK_*(str, n [, …])` variants.
fn mask_fn(args: &[ArgType], counted: usize, eval: EvalFn) -> Option<Signature> {
    let mut params = vec![T::String];
    params.extend(std::iter::repeat_n(T::Integer, counted));
    if args.len() == params.len() + 4 {
        params.extend(std::iter::repeat_n(T::String, 4));
    }
    fixed(args, &params, T::String, eval)
}

/// Mask characters: upper, lower, digit, other; `None` keeps that class unmasked.
type Masks = [Option<char>; 4];

const DEFAULT_MASKS: Masks = [Some('X'), Some('x'), Some('n'), Some('-')];

fn mask_eval(args: &[Cow<'_, Value>], span: MaskSpan) -> Result<Value, EngineError> {
    let counted = usize::from(!matches!(span, MaskSpan::All));
    let masks = if args.len() > counted + 1 {
        let mut m: Masks = [None; 4];
        for (i, slot) in m.iter_mut().enumerate() {
            *slot = mask_char(str_arg(args, counted + 1 + i))?;
        }
        m
    } else {
        DEFAULT_MASKS
    };
    let n = if counted == 1 {
        match int_arg(args, 1) {
            Some(n) if n < 0 => {
                return Err(user_err(format!(
                    "function {} requires a non-negative number of characters to mask or skip",
                    span_name(span)
                )))
            }
            Some(n) => usize::try_from(n).unwrap_or(0),
            None => return Ok(Value::Null),
        }
    } else {
        0
    };
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Null);
    };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len();
    let masked = |range: std::ops::Range<usize>, i: usize| range.contains(&i);
    let range = match span {
        MaskSpan::All => 0..len,
        MaskSpan::Left => 0..n.min(len),
        MaskSpan::Right => len.saturating_sub(n)..len,
        MaskSpan::KeepLeft => n.min(len)..len,
        MaskSpan::KeepRight => 0..len.saturating_sub(n),
    };
    let out: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if masked(range.clone(), i) {
                mask_one(c, &masks)
            } else {
                c
            }
        })
        .collect();
    Ok(Value::String(out))
}

fn span_name(span: MaskSpan) -> &'static str {
    match span {
        MaskSpan::All => "mask",
        MaskSpan::Left => "mask_left",
        MaskSpan::Right => "mask_right",
        MaskSpan::KeepLeft => "mask_keep_left",
        MaskSpan::KeepRight => "mask_keep_right",
    }
}

/// `Masker.getMaskCharacter`: NULL means "do not mask"; anything but one character fails.
fn mask_char(s: Option<&str>) -> Result<Option<char>, EngineError> {
    let Some(s) = s else { return Ok(None) };
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Some(c)),
        _ => Err(user_err(
            "Invalid mask character. Must be only single character, but was ".to_string() + s,
        )),
    }
}

/// `Masker.maskCharacter` by Java character class (approximated by Rust's Unicode
/// properties: uppercase, lowercase, numeric).
fn mask_one(c: char, masks: &Masks) -> char {
    let class = if c.is_uppercase() {
        0
    } else if c.is_lowercase() {
        1
    } else if c.is_numeric() {
        2
    } else {
        3
    };
    masks[class].unwrap_or(c)
}

/// `UUID()`: a random (version 4) UUID; `UUID(BYTES)`: the UUID of 16 big-endian bytes,
/// NULL for any other length (`Uuid.java`).
fn uuid(args: &[ArgType]) -> Option<Signature> {
    match args {
        [] => sig(vec![], T::String, |_, _| {
            let mut b: [u8; 16] = rand::random();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            Ok(Value::String(uuid_text(&b)))
        }),
        [a] if widens_to(a, &T::Bytes) => sig(vec![Some(T::Bytes)], T::String, |a, _| {
            Ok(string_or_null(
                bytes_arg(a, 0).filter(|b| b.len() == 16).map(uuid_text),
            ))
        }),
        _ => None,
    }
}

fn uuid_text(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_ranges_match_ksqldb() {
        assert_eq!(substring_range(5, 2, None), (1, 5));
        assert_eq!(substring_range(5, -2, None), (3, 5));
        assert_eq!(substring_range(5, 0, Some(2)), (0, 2));
        assert_eq!(substring_range(5, 10, Some(2)), (5, 5));
        assert_eq!(substring_range(5, 2, Some(-1)), (1, 1));
        assert_eq!(substring_range(5, i32::MIN, Some(i32::MAX)), (0, 5));
    }

    #[test]
    fn instr_matches_ksqldb_examples() {
        let f = |s: &str, sub: &str, p: i32, o: i32| instr_units(&utf16(s), &utf16(sub), p, o);
        // From the ksqlDB docs and InstrTest.
        assert_eq!(f("CORPORATE FLOOR", "OR", 1, 1), 2);
        assert_eq!(f("CORPORATE FLOOR", "OR", 3, 1), 5);
        assert_eq!(f("CORPORATE FLOOR", "OR", 3, 2), 14);
        assert_eq!(f("CORPORATE FLOOR", "OR", -3, 2), 2);
        assert_eq!(f("CORPORATE FLOOR", "OR", -3, 1), 5);
        assert_eq!(f("CORPORATE FLOOR", "MISSING", 1, 1), 0);
        assert_eq!(f("CORPORATE FLOOR", "OR", 100, 1), 0);
        assert_eq!(f("CORPORATE FLOOR", "OR", 1, 0), 0);
    }

    #[test]
    fn initcap_drops_leading_space_and_lowercases() {
        assert_eq!(initcap("the   quick BROWN"), "The   Quick Brown");
        assert_eq!(initcap("  x"), "X");
        assert_eq!(initcap(""), "");
    }

    #[test]
    fn pads_truncate_and_cycle() {
        let p = |s: &str, n, f: &str, side| from_utf16(&pad_units(&utf16(s), &utf16(f), n, side));
        assert_eq!(p("foo", 7, "Bar", Side::Left), "BarBfoo");
        assert_eq!(p("foo", 2, "Bar", Side::Left), "fo");
        assert_eq!(p("foo", 7, "Bar", Side::Right), "fooBarB");
        assert_eq!(p("foo", 2, "Bar", Side::Right), "fo");
    }

    #[test]
    fn unescapes_surrogate_pairs() {
        assert_eq!(unescape_utf16("\\u0041").as_deref(), Some("A"));
        assert_eq!(unescape_utf16("\\ud83d\\ude00").as_deref(), Some("😀"));
        assert_eq!(unescape_utf16("\\u00"), None);
        assert_eq!(unescape_utf16("abcdefg"), None);
    }

    #[test]
    fn uuid_text_is_canonical() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(uuid_text(&b), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }
}
