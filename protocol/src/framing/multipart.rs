//! `multipart/form-data` bodies (RFC 7578 over RFC 2046 §5.1): the parts of a whole,
//! already-read body. DeltaStream's clients send every statement this way (a `request`
//! part, then `attachments`), and KalamDB's SQL endpoint takes files so.
//!
//! Only what form data uses is read: each part's `Content-Disposition` (`name`,
//! `filename`) and `Content-Type`; other part headers are skipped. Part bodies are slices
//! of the request body, never copied.

use crate::error::ProtocolError;

/// Most parts one body may have: a statement with its attachments needs a handful, and the
/// count bounds the work a hostile body can cause.
pub const MULTIPART_PARTS_MAX: usize = 64;

/// Most bytes of one part's header block.
pub const PART_HEADERS_BYTES_MAX: usize = 8 * 1024;

/// Longest boundary RFC 2046 §5.1.1 allows.
const BOUNDARY_BYTES_MAX: usize = 70;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The form field's name (`Content-Disposition: form-data; name="…"`).
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
    /// The part's own `Content-Type`, if it declares one.
    pub content_type: Option<String>,
    pub body: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type, or `None` for any other type.
pub fn form_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| unquote(v.trim()))
        .filter(|b| !b.is_empty() && b.len() <= BOUNDARY_BYTES_MAX)
}

fn invalid(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidForm(reason.into())
}

/// The parts of `body`, in order.
pub fn parse_form<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, ProtocolError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The preamble before the first delimiter is ignored (RFC 2046 §5.1.1).
    let mut at = find(body, delimiter, 0).ok_or_else(|| invalid("no boundary in the body"))?
        + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts); // the close delimiter; the epilogue is ignored
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        while matches!(body.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(invalid("a boundary line does not end with CRLF"));
        }
        at += 2;
        if parts.len() == MULTIPART_PARTS_MAX {
            return Err(invalid(format!("more than {MULTIPART_PARTS_MAX} parts")));
        }
        let headers_end = find(body, b"\r\n\r\n", at)
            .map(|end| end + 2)
            .or_else(|| body[at..].starts_with(b"\r\n").then_some(at))
            .ok_or_else(|| invalid("a part's headers do not end"))?;
        if headers_end - at > PART_HEADERS_BYTES_MAX {
            return Err(invalid("a part's headers are too long"));
        }
        let headers = std::str::from_utf8(&body[at..headers_end])
            .map_err(|_| invalid("a part's headers are not UTF-8"))?;
        let content_start = headers_end + 2;
        let mut close = b"\r\n".to_vec();
        close.extend_from_slice(delimiter);
        let content_end = find(body, &close, content_start)
            .ok_or_else(|| invalid("the body ends inside a part (no closing boundary)"))?;
        parts.push(part(headers, &body[content_start..content_end])?);
        at = content_end + close.len();
    }
}

fn part<'a>(headers: &str, body: &'a [u8]) -> Result<Part<'a>, ProtocolError> {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad part header line `{line}`")))?;
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut params = split_params(value);
            let kind = params.next().unwrap_or_default();
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return Err(invalid(format!(
                    "a part is `{}`, not form-data",
                    kind.trim()
                )));
            }
            for param in params {
                match param.split_once('=') {
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("name") => {
                        name = Some(unquote(v.trim()));
                    }
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("filename") => {
                        filename = Some(unquote(v.trim()));
                    }
                    _ => {}
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let name = name.ok_or_else(|| invalid("a part has no name"))?;
    Ok(Part {
        name,
        filename,
        content_type,
        body,
    })
}

/// Splits header parameters at `;` outside double quotes.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces.into_iter()
}

/// A quoted-string's content (backslash escapes undone), or the token as it is.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    c => out.push(c),
                }
            }
            out
        }
        None => value.to_string(),
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(haystack.get(from..)?, needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n\
{\"statement\":\"a;b\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"f;1.jar\"\r\n\
Content-Type: application/java-archive\r\n\r\n\x00\x01\r\n--\x02\r\n--XyZ--\r\nepilogue";

    #[test]
    fn reads_fields_and_files() {
        let parts = parse_form(BODY, "XyZ").expect("valid form");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "request");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[0].body, b"{\"statement\":\"a;b\"}");
        assert_eq!(parts[1].name, "attachments");
        assert_eq!(parts[1].filename.as_deref(), Some("f;1.jar"));
        assert_eq!(
            parts[1].content_type.as_deref(),
            Some("application/java-archive")
        );
        assert_eq!(parts[1].body, b"\x00\x01\r\n--\x02");
    }

    #[test]
    fn finds_the_boundary_of_form_data_only() {
        assert_eq!(
            form_boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(
            form_boundary("Multipart/Form-Data;charset=utf-8; boundary=xy").as_deref(),
            Some("xy")
        );
        assert_eq!(form_boundary("application/json"), None);
        assert_eq!(form_boundary("multipart/form-data"), None);
    }

    #[test]
    fn broken_bodies_are_errors_not_panics() {
        for (body, why) in [
            (&b""[..], "empty"),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
                "open part",
            ),
            (
                b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
                "no name",
            ),
            (
                b"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
                "kind",
            ),
            (b"--XyZ junk", "no CRLF"),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"",
                "headers open",
            ),
        ] {
            assert!(parse_form(body, "XyZ").is_err(), "{why}");
        }
        // Every prefix of a valid body fails cleanly (or parses, once it is whole).
        for cut in 0..BODY.len() {
            let _ = parse_form(&BODY[..cut], "XyZ");
        }
    }

    #[test]
    fn an_empty_form_has_no_parts() {
        assert_eq!(parse_form(b"--XyZ--\r\n", "XyZ").expect("valid"), vec![]);
    }
}
