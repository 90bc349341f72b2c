//! JSON request bodies as text: UTF-8 checked and an object, before any face decodes them.
//!
//! serde_json lets through two things every face's request decoder must refuse, so each
//! decoder reads its body through [`json_text`] first.

use crate::error::ProtocolError;

/// A JSON request body as text, checked for what serde_json lets through (both found by the
/// `request_bodies` fuzz target):
/// - JSON is UTF-8 (RFC 8259 §8.1), but serde_json checks only the strings it keeps, not
///   those it skips, so invalid UTF-8 in an unknown field was accepted;
/// - every request body is an object, but a derived struct also accepts an array of its
///   fields in order, so `["SHOW STREAMS;"]` ran as a `/ksql` request (ksqlDB's Jackson
///   refuses it).
///
/// The errors are worded as serde_json words its own.
pub(crate) fn json_text(body: &[u8]) -> Result<&str, ProtocolError> {
    let at = |offset: usize| {
        let before = &body[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        format!("at line {line} column {}", offset - line_start + 1)
    };
    let text = std::str::from_utf8(body).map_err(|e| {
        ProtocolError::InvalidJson(format!(
            "invalid unicode code point {}",
            at(e.valid_up_to())
        ))
    })?;
    let value_start = text.len() - text.trim_start_matches([' ', '\t', '\n', '\r']).len();
    if text[value_start..].starts_with('[') {
        return Err(ProtocolError::InvalidJson(format!(
            "invalid type: sequence, expected a JSON object {}",
            at(value_start)
        )));
    }
    Ok(text)
}
