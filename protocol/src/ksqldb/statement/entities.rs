//! `/ksql` response entities, shaped exactly as ksqlDB's (ksqldb-api.md §6).

use crate::error::ProtocolError;
use serde_json::{json, Value as Json};
use sluice_engine::limits::KSQL_RESPONSE_BYTES_MAX;
use sluice_engine::types::{Column, ColumnKind, SqlType};
use sluice_engine::Source;
use sluice_engine::SourceKind;
use sluice_engine::{Outcome, QueryDescription, QuerySummary, SourceDetail, StatementResult};

/// Renders the results of a `/ksql` request as its JSON array.
///
/// Entities are rendered one at a time into the response, which may not grow past
/// [`KSQL_RESPONSE_BYTES_MAX`]: the engine refuses requests whose estimated answer is
/// larger, and this is the bound on what is actually written.
pub fn render_entities(results: &[StatementResult]) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for entity in results.iter().filter_map(entity) {
        if out.len() > 1 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &entity).expect("entities always serialize");
        if out.len() > KSQL_RESPONSE_BYTES_MAX {
            return Err(ProtocolError::ResponseTooLarge {
                limit_bytes: KSQL_RESPONSE_BYTES_MAX,
            });
        }
    }
    out.push(b']');
    Ok(out)
}

/// One result as its entity; `None` for statements ksqlDB answers with no entity.
pub fn entity(result: &StatementResult) -> Option<Json> {
    let text = &result.statement_text;
    let mut body = match &result.outcome {
        Outcome::Nothing => return None,
        Outcome::CommandStatus {
            command_id,
            message,
            query_id,
            command_seq,
        } => json!({
            "@type": "currentStatus",
            "statementText": text,
            "commandId": command_id,
            "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
            "commandSequenceNumber": command_seq,
        }),
        Outcome::Sources { kind, sources } => {
            let (ty, field) = match kind {
                SourceKind::Stream => ("streams", "streams"),
                SourceKind::Table => ("tables", "tables"),
            };
            let list: Vec<Json> = sources.iter().map(|s| source_summary(s)).collect();
            json!({"@type": ty, "statementText": text, field: list})
        }
        Outcome::SourceDescriptions { details } => {
            let list: Vec<Json> = details
                .iter()
                .map(|d| source_description(d, true))
                .collect();
            json!({"@type": "source_descriptions", "statementText": text, "sourceDescriptions": list})
        }
        Outcome::Topics { topics } => {
            let list: Vec<Json> = topics
                .iter()
                .map(|t| json!({"name": t.name, "replicaInfo": vec![1; t.partitions as usize]}))
                .collect();
            json!({"@type": "kafka_topics", "statementText": text, "topics": list})
        }
        Outcome::Queries { queries } => {
            let list: Vec<Json> = queries.iter().map(query_entry).collect();
            json!({"@type": "queries", "statementText": text, "queries": list})
        }
        Outcome::Description { detail, extended } => json!({
            "@type": "sourceDescription",
            "statementText": text,
            "sourceDescription": source_description(detail, *extended),
        }),
        Outcome::TerminateQuery {
            query_id,
            was_terminated,
        } => json!({
            "@type": "terminate_query",
            "statementText": text,
            "queryId": query_id,
            "wasTerminated": was_terminated,
        }),
        Outcome::Properties { properties } => {
            let list: Vec<Json> = properties
                .iter()
                .map(|(name, value)| {
                    json!({"name": name, "scope": "KSQL", "value": value, "editable": true, "level": "SERVER"})
                })
                .collect();
            json!({"@type": "properties", "statementText": text, "properties": list,
                   "overwrittenProperties": [], "defaultProperties": []})
        }
        Outcome::Types { types } => {
            let map: serde_json::Map<String, Json> = types
                .iter()
                .map(|(name, ty)| (name.clone(), type_schema(ty)))
                .collect();
            json!({"@type": "type_list", "statementText": text, "types": map})
        }
        Outcome::QueryDescription(d) => json!({
            "@type": "queryDescription",
            "statementText": text,
            "queryDescription": query_description(d),
        }),
    };
    body.as_object_mut()
        .expect("every entity is an object")
        .insert("warnings".into(), json!([]));
    Some(body)
}

fn source_summary(s: &Source) -> Json {
    json!({
        "type": s.kind_name(),
        "name": s.name,
        "topic": s.topic,
        "keyFormat": s.key_format.name(),
        "valueFormat": s.value_format.name(),
        "isWindowed": s.window.is_some(),
    })
}

fn query_entry(q: &QuerySummary) -> Json {
    json!({
        "queryString": q.sql,
        "sinks": q.sinks,
        "sinkKafkaTopics": q.sink_topics,
        "id": q.id,
        // One node, so one instance, in the query's one state: ksqlDB counts instances
        // per state, and a count that disagreed with `state` misled dashboards (issue 9).
        "statusCount": {q.state: 1},
        "queryType": q.query_type.name(),
        "state": q.state,
    })
}

/// ksqlDB's `QueryDescription`, for EXPLAIN of a persistent query.
fn query_description(d: &QueryDescription) -> Json {
    json!({
        "id": d.id,
        "statementText": d.statement_text,
        "windowType": null,
        "fields": fields(&d.fields),
        "sources": d.sources,
        "sinks": d.sinks,
        "topology": d.topology,
        "executionPlan": d.execution_plan,
        "overriddenProperties": {},
        "ksqlHostQueryStatus": {},
        "queryType": "PERSISTENT",
        "queryErrors": [],
        "tasksMetadata": [],
        "state": d.state,
    })
}

/// Columns as DESCRIBE and EXPLAIN list them: name, schema, and `type` for key columns.
fn fields(columns: &[Column]) -> Vec<Json> {
    columns
        .iter()
        .map(|c| {
            let mut f = json!({"name": c.name, "schema": type_schema(&c.ty)});
            match c.kind {
                ColumnKind::Key => f["type"] = json!("KEY"),
                ColumnKind::Header => f["type"] = json!("HEADER"),
                ColumnKind::Value => {}
            }
            f
        })
        .collect()
}

fn source_description(d: &SourceDetail, extended: bool) -> Json {
    let s = &d.source;
    let fields = fields(&s.schema.columns);
    let (partitions, replication) = if extended { (d.partitions, 1) } else { (0, 0) };
    json!({
        "name": s.name,
        "windowType": s.window.map(|w| w.kind.name()),
        "readQueries": d.read_queries.iter().map(query_entry).collect::<Vec<_>>(),
        "writeQueries": d.write_queries.iter().map(query_entry).collect::<Vec<_>>(),
        "fields": fields,
        "type": s.kind_name(),
        "timestamp": s.timestamp_column.clone().unwrap_or_default(),
        "statistics": "",
        "errorStats": "",
        "extended": extended,
        "keyFormat": s.key_format.name(),
        "valueFormat": s.value_format.name(),
        "topic": s.topic,
        "partitions": partitions,
        "replication": replication,
        "statement": s.statement_text,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
        "clusterStatistics": [],
        "clusterErrorStats": [],
    })
}

/// DESCRIBE's `schema` object: base type, nested `fields` for STRUCT, `memberSchema` for
/// ARRAY and MAP, `parameters` for DECIMAL.
fn type_schema(ty: &SqlType) -> Json {
    let fields = match ty {
        SqlType::Struct(fs) => Json::Array(
            fs.iter()
                .map(|f| json!({"name": f.name, "schema": type_schema(&f.ty)}))
                .collect(),
        ),
        _ => Json::Null,
    };
    let member = match ty {
        SqlType::Array(e) => type_schema(e),
        SqlType::Map(_, v) => type_schema(v),
        _ => Json::Null,
    };
    let mut out = json!({"type": ty.base_name(), "fields": fields, "memberSchema": member});
    if let SqlType::Decimal { precision, scale } = ty {
        out["parameters"] = json!({"precision": precision, "scale": scale});
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_engine::QueryType;

    #[test]
    fn a_query_counts_itself_in_its_own_state() {
        for state in ["RUNNING", "ERROR"] {
            let entry = query_entry(&QuerySummary {
                id: "CSAS_X_1".into(),
                sql: "CREATE STREAM X AS SELECT * FROM S;".into(),
                sinks: vec!["X".into()],
                sink_topics: vec!["X".into()],
                query_type: QueryType::Persistent,
                state,
            });
            assert_eq!(entry["state"], state);
            assert_eq!(entry["statusCount"], json!({ state: 1 }));
        }
    }
}
