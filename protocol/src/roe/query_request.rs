//! Roe's query request body: `{"query": "SQL; SQL2", "worksheet_id"?, "use_admin"?,
//! "organization_id"?}`. Worksheets and organizations scope access in Roe's multi-tenant
//! service; Sluice has one tenant, so they are accepted and echoed, not enforced.

use serde::Deserialize;

use crate::error::ProtocolError;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct QueryRequest {
    pub query: String,
    #[serde(default)]
    pub worksheet_id: Option<String>,
    #[serde(default)]
    pub use_admin: Option<bool>,
    #[serde(default)]
    pub organization_id: Option<String>,
}

impl QueryRequest {
    pub fn decode(bytes: &[u8]) -> Result<QueryRequest, ProtocolError> {
        let request: QueryRequest =
            serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
        if request.query.trim().is_empty() {
            return Err(ProtocolError::InvalidJson("query may not be blank".into()));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_requires_a_query() {
        let r =
            QueryRequest::decode(br#"{"query":"SELECT 1;","worksheet_id":null,"use_admin":false}"#)
                .expect("valid");
        assert_eq!(r.query, "SELECT 1;");
        assert_eq!(r.use_admin, Some(false));
        assert!(QueryRequest::decode(br#"{"query":" "}"#).is_err());
        assert!(QueryRequest::decode(b"{}").is_err());
        assert!(QueryRequest::decode(b"[1]").is_err());
    }
}
