//! URL functions (`udf/url/*.java`).
//!
//! URLs are split as `java.net.URI` does: `scheme:[//authority]path[?query][#fragment]`,
//! with `[userinfo@]host[:port]` in the authority. Path, query and fragment come back
//! percent-decoded, as `URI.getPath()` and friends return them. Java rejects some
//! malformed URIs (spaces, bad escapes) that this parser also rejects; it is more lenient
//! about rarer syntax errors.

use std::borrow::Cow;

use super::{def, fixed, str_arg, string_or_null, user_err, EvalFn, FunctionDef};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("URL_DECODE_PARAM", |a| {
        fixed(a, &[T::String], T::String, |v, _| match str_arg(v, 0) {
            Some(s) => decode_form(s).map(Value::String),
            None => Ok(Value::Null),
        })
    }),
    def("URL_ENCODE_PARAM", |a| {
        fixed(a, &[T::String], T::String, |v, _| {
            Ok(string_or_null(str_arg(v, 0).map(encode_form)))
        })
    }),
    def("URL_EXTRACT_FRAGMENT", |a| {
        part(a, |v, _| extract(v, |u| u.fragment))
    }),
    def("URL_EXTRACT_HOST", |a| {
        part(a, |v, _| extract(v, |u| u.host))
    }),
    def("URL_EXTRACT_PARAMETER", |a| {
        fixed(a, &[T::String, T::String], T::String, extract_parameter)
    }),
    def("URL_EXTRACT_PATH", |a| {
        part(a, |v, _| extract(v, |u| u.path))
    }),
    def("URL_EXTRACT_PORT", |a| {
        fixed(a, &[T::String], T::Integer, |v, _| {
            let Some(s) = str_arg(v, 0) else {
                return Ok(Value::Null);
            };
            Ok(parse(s)?.port.map_or(Value::Null, Value::Integer))
        })
    }),
    def("URL_EXTRACT_PROTOCOL", |a| {
        part(a, |v, _| extract(v, |u| u.scheme))
    }),
    def("URL_EXTRACT_QUERY", |a| {
        part(a, |v, _| extract(v, |u| u.query))
    }),
];

fn part(args: &[super::ArgType], eval: EvalFn) -> Option<super::Signature> {
    fixed(args, &[T::String], T::String, eval)
}

#[derive(Default)]
struct Uri {
    scheme: Option<String>,
    host: Option<String>,
    port: Option<i32>,
    path: Option<String>,
    query: Option<String>,
    fragment: Option<String>,
}

fn extract(args: &[Cow<'_, Value>], pick: fn(Uri) -> Option<String>) -> Result<Value, EngineError> {
    let Some(s) = str_arg(args, 0) else {
        return Ok(Value::Null);
    };
    Ok(string_or_null(pick(parse(s)?)))
}

fn invalid(s: &str) -> EngineError {
    user_err(format!("URL input has invalid syntax: {s}"))
}

fn parse(s: &str) -> Result<Uri, EngineError> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(s));
    }
    let mut u = Uri::default();
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    u.fragment = fragment.map(percent_decode).transpose()?;
    let scheme_end = rest.find(':').filter(|&i| {
        let scheme = &rest[..i];
        !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let rest = match scheme_end {
        Some(i) => {
            u.scheme = Some(rest[..i].to_string());
            &rest[i + 1..]
        }
        None => rest,
    };
    // An opaque URI (`mailto:x`) has only a scheme and fragment.
    if u.scheme.is_some() && !rest.starts_with('/') {
        return Ok(u);
    }
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    u.query = query.map(percent_decode).transpose()?;
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let (host, port) = match host_port.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
                _ => (host_port, None),
            };
            if !host.is_empty() {
                u.host = Some(host.to_string());
            }
            u.port = match port {
                Some("") | None => None,
                Some(p) => Some(p.parse::<i32>().map_err(|_| invalid(s))?),
            };
            &after[end..]
        }
        None => hier,
    };
    u.path = Some(percent_decode(path)?);
    Ok(u)
}

/// Decodes `%XX` escapes as UTF-8 (malformed UTF-8 becomes U+FFFD, as Java's decoder
/// does); a bad escape is a syntax error.
fn percent_decode(s: &str) -> Result<String, EngineError> {
    decode(s, false)
}

/// `URLDecoder.decode(s, UTF-8)`: also `+` as space.
fn decode_form(s: &str) -> Result<String, EngineError> {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> Result<String, EngineError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or_else(|| invalid(s))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| invalid(s))?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            x => {
                out.push(x);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Guava's `urlFormParameterEscaper`: letters, digits and `-_.*` stay; space is `+`;
/// everything else is `%XX` of its UTF-8 bytes.
fn encode_form(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `URL_EXTRACT_PARAMETER(url, name)`: the decoded value of the first `name=value` in the
/// query; an empty string for a bare `name`; NULL when absent.
fn extract_parameter(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(url), Some(name)) = (str_arg(args, 0), str_arg(args, 1)) else {
        return Ok(Value::Null);
    };
    let Some(query) = parse(url)?.query else {
        return Ok(Value::Null);
    };
    for param in query.split('&') {
        match param.split_once('=') {
            Some((k, v)) if k == name => return Ok(Value::String(v.to_string())),
            None if param == name => return Ok(Value::String(String::new())),
            _ => {}
        }
    }
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls_like_java_uri() {
        let u = parse("http://user@test.com:8080/nested/path%20x?query=1&b#frag").expect("parses");
        assert_eq!(u.scheme.as_deref(), Some("http"));
        assert_eq!(u.host.as_deref(), Some("test.com"));
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path.as_deref(), Some("/nested/path x"));
        assert_eq!(u.query.as_deref(), Some("query=1&b"));
        assert_eq!(u.fragment.as_deref(), Some("frag"));
        let bare = parse("https://docs.confluent.io").expect("parses");
        assert_eq!(bare.port, None);
        assert_eq!(bare.path.as_deref(), Some(""));
        assert!(parse("http://a b").is_err());
    }

    #[test]
    fn form_encoding_round_trips() {
        assert_eq!(encode_form("foo bar+baz/é"), "foo+bar%2Bbaz%2F%C3%A9");
        assert_eq!(
            decode_form("foo+bar%2Bbaz%2F%C3%A9").expect("decodes"),
            "foo bar+baz/é"
        );
        assert!(decode_form("%zz").is_err());
    }
}
