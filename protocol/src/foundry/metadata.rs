//! Foundry's query metadata (`functions.Query`): what `GET /queries/{queryApiName}`,
//! `getByRid` and `getByRidBatch` answer: api name, rid, version, typed parameters and the
//! output's `QueryDataType`, derived from the function's SQL result columns.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use sluice_engine::types::SqlType;

use super::functions::{function_rid, QueryFunction};
use crate::error::ProtocolError;

/// Most elements one `getByRidBatch` request may ask for (Foundry's documented maximum).
pub const RID_BATCH_MAX: usize = 100;

/// One element of a `getByRidBatch` request body.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RidRequest {
    pub rid: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default, rename = "includePrerelease")]
    pub include_prerelease: Option<bool>,
}

/// A `getByRidBatch` body: a JSON array of 1 to [`RID_BATCH_MAX`] elements.
pub fn decode_rid_batch(bytes: &[u8]) -> Result<Vec<RidRequest>, ProtocolError> {
    let batch: Vec<RidRequest> =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson(e.to_string()))?;
    if batch.is_empty() || batch.len() > RID_BATCH_MAX {
        return Err(ProtocolError::InvalidJson(format!(
            "a batch holds 1 to {RID_BATCH_MAX} elements, not {}",
            batch.len()
        )));
    }
    Ok(batch)
}

/// `functions.Query` for `function`, whose result has `columns` of `types`.
pub fn query_json(function: &QueryFunction, columns: &[String], types: &[SqlType]) -> Json {
    let parameters: Map<String, Json> = function
        .parameters
        .iter()
        .map(|(name, ty)| {
            (
                name.clone(),
                json!({"dataType": {"type": ty.name()}, "required": true}),
            )
        })
        .collect();
    let mut query = json!({
        "apiName": function.api_name,
        "parameters": parameters,
        "output": output_type(columns, types),
        "rid": function_rid(&function.api_name),
        "version": function.version,
        "typeReferences": {},
    });
    if let Some(name) = &function.display_name {
        query["displayName"] = Json::from(name.as_str());
    }
    if let Some(text) = &function.description {
        query["description"] = Json::from(text.as_str());
    }
    query
}

/// The output of a query function: the rows `execute` answers, an array of structs with
/// one field per result column.
pub fn output_type(columns: &[String], types: &[SqlType]) -> Json {
    let fields: Vec<Json> = columns
        .iter()
        .zip(types)
        .map(|(name, ty)| json!({"name": name, "fieldType": data_type(ty)}))
        .collect();
    json!({"type": "array", "subType": {"type": "struct", "fields": fields}})
}

/// A SQL type as Foundry's `QueryDataType`. Types Foundry's union lacks (DECIMAL, MAP) are
/// its `unsupported` type naming the SQL type, as Foundry reports types it cannot express.
pub fn data_type(ty: &SqlType) -> Json {
    match ty {
        SqlType::Boolean => json!({"type": "boolean"}),
        SqlType::Integer => json!({"type": "integer"}),
        SqlType::BigInt => json!({"type": "long"}),
        SqlType::Double => json!({"type": "double"}),
        // BYTES travel as base64 text and TIME as `HH:mm:ss…` text in the rows.
        SqlType::String | SqlType::Bytes | SqlType::Time => json!({"type": "string"}),
        SqlType::Timestamp => json!({"type": "timestamp"}),
        SqlType::Date => json!({"type": "date"}),
        SqlType::Decimal { precision, scale } => json!({
            "type": "unsupported",
            "unsupportedType": "DECIMAL",
            "params": {"precision": precision.to_string(), "scale": scale.to_string()},
        }),
        SqlType::Array(item) => json!({"type": "array", "subType": data_type(item)}),
        SqlType::Map(key, value) => json!({
            "type": "unsupported",
            "unsupportedType": "MAP",
            "params": {"keyType": key.to_string(), "valueType": value.to_string()},
        }),
        SqlType::Struct(fields) => json!({
            "type": "struct",
            "fields": fields
                .iter()
                .map(|f| json!({"name": f.name, "fieldType": data_type(&f.ty)}))
                .collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::foundry::functions::{FunctionRegistry, Lookup};
    use sluice_engine::types::StructField;

    #[test]
    fn a_query_describes_parameters_and_output() {
        let registry = FunctionRegistry::parse(
            br#"[{"apiName":"top","version":"1.0.0","displayName":"Top","description":"d",
                  "sql":"SELECT * FROM s WHERE v > ${min};","parameters":{"min":"long"}}]"#,
        )
        .expect("valid");
        let Lookup::Found(f) = registry.lookup("top", None, false) else {
            panic!("found")
        };
        let q = query_json(
            f,
            &["K".into(), "TAGS".into(), "P".into()],
            &[
                SqlType::String,
                SqlType::Array(Box::new(SqlType::Integer)),
                SqlType::Struct(vec![StructField {
                    name: "X".into(),
                    ty: SqlType::Decimal {
                        precision: 4,
                        scale: 2,
                    },
                }]),
            ],
        );
        assert_eq!(q["apiName"], "top");
        assert_eq!(q["displayName"], "Top");
        assert_eq!(q["description"], "d");
        assert_eq!(q["rid"], function_rid("top").as_str());
        assert_eq!(
            q["parameters"],
            json!({"min": {"dataType": {"type": "long"}, "required": true}})
        );
        let fields = &q["output"]["subType"]["fields"];
        assert_eq!(q["output"]["type"], "array");
        assert_eq!(
            fields[0],
            json!({"name": "K", "fieldType": {"type": "string"}})
        );
        assert_eq!(
            fields[1]["fieldType"],
            json!({"type": "array", "subType": {"type": "integer"}})
        );
        assert_eq!(
            fields[2]["fieldType"]["fields"][0]["fieldType"]["params"],
            json!({"precision": "4", "scale": "2"})
        );
    }

    #[test]
    fn rid_batches_are_bounded() {
        assert_eq!(
            decode_rid_batch(br#"[{"rid":"r","version":"1.0.0"}]"#).expect("valid")[0].rid,
            "r"
        );
        assert!(decode_rid_batch(b"[]").is_err());
        let many = format!("[{}]", vec![r#"{"rid":"r"}"#; RID_BATCH_MAX + 1].join(","));
        assert!(decode_rid_batch(many.as_bytes()).is_err());
        assert!(decode_rid_batch(br#"{"rid":"r"}"#).is_err());
    }
}
