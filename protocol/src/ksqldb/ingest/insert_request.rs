//! The first line of an inserts-stream body: `{"target": "...", "properties": {...}}`.

use serde::Deserialize;

use crate::error::ProtocolError;

#[derive(Debug, Deserialize)]
pub struct InsertsStreamArgs {
    pub target: String,
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl InsertsStreamArgs {
    pub fn decode(line: &[u8]) -> Result<InsertsStreamArgs, ProtocolError> {
        crate::ksqldb::query::query_request::decode_json(line)
    }

    /// The target as a catalog name: unquoted names are upper-cased; a name in backticks or
    /// double quotes is used as written (ksqldb-api.md §5).
    pub fn target_name(&self) -> String {
        normalize_identifier(&self.target)
    }
}

/// ksqlDB's identifier rule for names given outside SQL text.
pub fn normalize_identifier(raw: &str) -> String {
    let t = raw.trim();
    for q in ['`', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_rules() {
        let a = InsertsStreamArgs::decode(br#"{"target":"pageviews"}"#).expect("valid");
        assert_eq!(a.target_name(), "PAGEVIEWS");
        let b = InsertsStreamArgs::decode(br#"{"target":"`pageViews`","properties":{}}"#)
            .expect("valid");
        assert_eq!(b.target_name(), "pageViews");
        assert!(InsertsStreamArgs::decode(br#"{"nope":1}"#).is_err());
        assert!(InsertsStreamArgs::decode(b"{\"target\":\"s\",\"x\":\"\xc3\"}").is_err());
    }
}
