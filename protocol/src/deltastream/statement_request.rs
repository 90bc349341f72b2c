//! `POST /v2/statements` requests: the `StatementRequest` JSON, sent as the whole body or
//! as the `request` part of a `multipart/form-data` body (DeltaStream REST API v2; both
//! real clients always send multipart, the Python one with no part content type).

use serde::Deserialize;

use crate::error::ProtocolError;
use crate::framing::multipart::{form_boundary, parse_form};

/// The session fields a client carries between requests (the server echoes them back in
/// `metadata.context`, and clients copy them into the next request).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct StatementRequest {
    pub statement: String,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub store: Option<String>,
    #[serde(default, rename = "computePool")]
    pub compute_pool: Option<String>,
    #[serde(default)]
    pub parameters: Option<StatementParameters>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct StatementParameters {
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default, rename = "sessionID")]
    pub session_id: Option<String>,
}

/// A decoded request: the statement request and its attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRequest {
    pub request: StatementRequest,
    /// The `attachments` parts, in order.
    pub attachments: Vec<Attachment>,
}

/// One attached file: what `CREATE FUNCTION_SOURCE … WITH ('file' = name)` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The part's `filename` (`attachment` when it gives none).
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// Decodes a request body of `content_type` (JSON, or multipart form data).
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<DecodedRequest, ProtocolError> {
    match content_type.and_then(form_boundary) {
        Some(boundary) => {
            let parts = parse_form(body, &boundary)?;
            let request = parts
                .iter()
                .find(|p| p.name == "request")
                .ok_or_else(|| ProtocolError::InvalidForm("no `request` part".into()))?;
            let attachments = parts
                .iter()
                .filter(|p| p.name == "attachments")
                .map(|p| Attachment {
                    filename: p.filename.clone().unwrap_or_else(|| "attachment".into()),
                    bytes: p.body.to_vec(),
                })
                .collect();
            Ok(DecodedRequest {
                request: decode_json(request.body)?,
                attachments,
            })
        }
        None => Ok(DecodedRequest {
            request: decode_json(body)?,
            attachments: Vec::new(),
        }),
    }
}

fn decode_json(bytes: &[u8]) -> Result<StatementRequest, ProtocolError> {
    let request: StatementRequest =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
    if request.statement.trim().is_empty() {
        return Err(ProtocolError::InvalidJson(
            "the statement field cannot be empty".into(),
        ));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_multipart_carry_the_same_request() {
        let json = br#"{"statement":"LIST STREAMS;","database":"db","organization":null,
                        "parameters":{"sessionID":null,"timezone":"UTC"}}"#;
        let plain = decode(Some("application/json"), json).expect("json");
        let mut form = b"--b1\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n".to_vec();
        form.extend_from_slice(json);
        form.extend_from_slice(
            b"\r\n--b1\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"u.jar\"\r\n\r\nPK\r\n--b1--\r\n",
        );
        let multi = decode(Some("multipart/form-data; boundary=b1"), &form).expect("form");
        assert_eq!(plain.request, multi.request);
        assert_eq!(multi.request.database.as_deref(), Some("db"));
        assert_eq!(
            multi.request.parameters.and_then(|p| p.timezone).as_deref(),
            Some("UTC")
        );
        assert_eq!(multi.attachments.len(), 1);
        assert_eq!(multi.attachments[0].filename, "u.jar");
        assert_eq!(multi.attachments[0].bytes, b"PK");
        // No content type at all: read as JSON, like the spec's default.
        assert_eq!(decode(None, json).expect("json").request, plain.request);
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(decode(None, b"{}").is_err(), "statement is required");
        assert!(decode(None, br#"{"statement":"  "}"#).is_err());
        assert!(decode(None, b"not json").is_err());
        assert!(decode(
            Some("multipart/form-data; boundary=b"),
            b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--"
        )
        .is_err());
    }
}
