//! The `/ksql` request body.

use serde::Deserialize;

use crate::error::ProtocolError;
use crate::ksqldb::query::query_request::decode_json;

#[derive(Debug, Deserialize)]
pub struct KsqlArgs {
    pub ksql: String,
    #[serde(default, rename = "streamsProperties")]
    pub streams_properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default, rename = "sessionVariables")]
    pub session_variables: serde_json::Map<String, serde_json::Value>,
    #[serde(default, rename = "commandSequenceNumber")]
    pub command_sequence_number: Option<i64>,
}

impl KsqlArgs {
    pub fn decode(body: &[u8]) -> Result<KsqlArgs, ProtocolError> {
        decode_json(body)
    }
}
