//! KalamDB's SQL request body, `{"sql": "...", "params"?: [...], "namespace_id"?: "ns"}`,
//! and the binding of its `$1..$n` placeholders.
//!
//! KalamDB binds parameters as values in its planner; our engine has no prepared
//! statements, so each placeholder becomes the SQL literal of its value. Only placeholders
//! in code are replaced (never inside quotes or comments), and a string value is quoted
//! with its quotes doubled, so a parameter can never become SQL of its own.

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::ProtocolError;
use crate::json_body::json_text;

/// Most parameters one request may bind. KalamDB has no documented limit; a statement with
/// more placeholders than this is a generated bulk insert better sent as a batch.
pub const PARAMS_MAX: usize = 1_000;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SqlRequest {
    pub sql: String,
    #[serde(default)]
    pub params: Option<Vec<Json>>,
    #[serde(default)]
    pub namespace_id: Option<String>,
}

impl SqlRequest {
    pub fn decode(bytes: &[u8]) -> Result<SqlRequest, ProtocolError> {
        let text = json_text(bytes)?;
        serde_json::from_str(text).map_err(|e| ProtocolError::InvalidJson(e.to_string()))
    }
}

/// Why parameters could not be bound (KalamDB's `INVALID_PARAMETER`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter ${0} has no value: {1} parameter(s) were given")]
    Missing(usize, usize),
    #[error("parameter ${0} is an array or object; only null, booleans, numbers and strings bind")]
    Unsupported(usize),
    #[error("at most {PARAMS_MAX} parameters may be bound")]
    TooMany,
}

/// Replaces every `$n` (1-based) in code with the literal of `params[n-1]`.
pub fn bind_params(sql: &str, params: &[Json]) -> Result<String, ParamError> {
    if params.len() > PARAMS_MAX {
        return Err(ParamError::TooMany);
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                // A quoted run ends at the next unescaped quote (doubling escapes).
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = sql[start + 1..i].parse().unwrap_or(usize::MAX);
                let value = n
                    .checked_sub(1)
                    .and_then(|k| params.get(k))
                    .ok_or(ParamError::Missing(n, params.len()))?;
                out.push_str(&sql[copied..start]);
                out.push_str(&literal(n, value)?);
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Ok(out)
}

fn literal(n: usize, value: &Json) -> Result<String, ParamError> {
    Ok(match value {
        Json::Null => "NULL".into(),
        Json::Bool(true) => "TRUE".into(),
        Json::Bool(false) => "FALSE".into(),
        Json::Number(number) => number.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        Json::Array(_) | Json::Object(_) => return Err(ParamError::Unsupported(n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_request() {
        let r = SqlRequest::decode(br#"{"sql":"SELECT 1","params":[1],"namespace_id":"app"}"#)
            .expect("valid");
        assert_eq!(r.sql, "SELECT 1");
        assert_eq!(r.params, Some(vec![json!(1)]));
        assert_eq!(r.namespace_id.as_deref(), Some("app"));
        assert!(SqlRequest::decode(b"{}").is_err());
        assert!(SqlRequest::decode(br#"["SELECT 1"]"#).is_err());
    }

    #[test]
    fn binds_placeholders_in_code_only() {
        let params = [json!("it's"), json!(42), json!(null), json!(true)];
        let bound = bind_params(
            "INSERT INTO t VALUES ($1, $2, $3, $4, '$1', \"$2\") -- $3\n/* $4 */",
            &params,
        )
        .expect("binds");
        assert_eq!(
            bound,
            "INSERT INTO t VALUES ('it''s', 42, NULL, TRUE, '$1', \"$2\") -- $3\n/* $4 */"
        );
        assert_eq!(
            bind_params("SELECT $10", &params),
            Err(ParamError::Missing(10, 4))
        );
        assert_eq!(
            bind_params("SELECT $0", &params),
            Err(ParamError::Missing(0, 4))
        );
        assert_eq!(
            bind_params("SELECT $1", &[json!([1])]),
            Err(ParamError::Unsupported(1))
        );
        assert_eq!(
            bind_params("SELECT 'a''$1'", &[]).expect("no code $"),
            "SELECT 'a''$1'"
        );
        assert_eq!(
            bind_params("SELECT 'open", &[]).expect("unterminated"),
            "SELECT 'open"
        );
    }
}
