//! The topic statements of `POST /v1/api/sql`, mapped onto the engine:
//!
//! | KalamDB | engine |
//! |---|---|
//! | `CREATE TOPIC t PARTITIONS n` | a raw topic `t` with `n` partitions (`Engine::create_topic`) |
//! | `ALTER TOPIC t ADD SOURCE tbl ON INSERT\|UPDATE\|DELETE …` | a stream over `tbl`'s topic (its changes, each with its kind), and a persistent query from it into `t` keeping that kind |
//! | `DROP TOPIC t` | its routes' queries terminated and their streams dropped, the topic deleted, its groups forgotten |
//! | `CLEAR TOPIC t` | every message deleted (`Engine::delete_records`: the offsets carry on), its groups forgotten; DBA and system only |
//! | `CONSUME`, `ACK` | the same consume and ack as the topic endpoints (`topics`) |
//!
//! Why a route is a persistent query: it then sees every write to the table, from any face
//! (KalamDB's SQL, ksqlDB's `/inserts-stream`), exactly once, resumes where it stopped after
//! a restart, and appears in `SHOW QUERIES` like any other query. The face only builds its
//! SQL (`protocol::kalamdb::topics::route_sql`).

use std::collections::HashMap;

use sluice_engine::types::{ColumnKind, SqlType};
use sluice_engine::{Outcome, SourceKind, StatementResult};
use sluice_protocol::kalamdb::envelope::{QueryResult, SchemaField};
use sluice_protocol::kalamdb::topic_statement::{ChangeOp, Route, TopicStatement};
use sluice_protocol::kalamdb::topics::{
    changes_stream_name, changes_stream_sql, is_route_of, route_sql, SourceColumn,
};
use sluice_protocol::statement_table::Cell;

use super::topics::{ack, consume, permit, FailureKind, TopicFailure};
use crate::auth::{Action, Principal};
use crate::services::Services;

/// Runs one topic statement for `principal`.
pub async fn run(
    services: &Services,
    principal: &Principal,
    statement: TopicStatement,
) -> Result<QueryResult, TopicFailure> {
    permit(services, principal)?;
    match statement {
        TopicStatement::Create { topic, partitions } => {
            services.engine.create_topic(&topic, partitions)?;
            Ok(message(format!("Topic '{topic}' created")))
        }
        TopicStatement::Drop { topic, if_exists } => drop_topic(services, &topic, if_exists).await,
        TopicStatement::Clear { topic } => clear_topic(services, principal, &topic).await,
        TopicStatement::AddSource(route) => add_source(services, &route).await,
        TopicStatement::Consume {
            topic,
            group,
            start,
            limit,
        } => {
            let consumed = consume(services, &topic, group.as_deref(), 0, start, limit).await?;
            Ok(messages_result(&consumed))
        }
        TopicStatement::Ack {
            topic,
            group,
            partition,
            upto_offset,
        } => {
            let committed = ack(services, &topic, &group, partition, upto_offset).await?;
            Ok(QueryResult {
                schema: vec![
                    field("group_id", SqlType::String),
                    field("partition_id", SqlType::Integer),
                    field("acknowledged_offset", SqlType::BigInt),
                ],
                rows: vec![vec![
                    Cell::Text(group),
                    Cell::Json(partition.to_string()),
                    Cell::Json(committed.to_string()),
                ]],
                row_count: 1,
                message: Some(format!("Acknowledged up to offset {committed}")),
            })
        }
    }
}

/// A route: the table's changes stream (once per table), then the route's query.
async fn add_source(services: &Services, route: &Route) -> Result<QueryResult, TopicFailure> {
    let partitions = services
        .engine
        .describe_topic(&route.topic)
        .ok_or_else(|| {
            TopicFailure::new(
                FailureKind::NotFound,
                format!("Topic '{}' does not exist", route.topic),
            )
        })?
        .partitions
        .len();
    // ksqlDB words an unknown source as a statement error; here it is a missing table.
    let described = execute(services, &format!("DESCRIBE {};", ident(&route.table)))
        .await
        .map_err(|f| match f.kind {
            FailureKind::BadRequest | FailureKind::NotFound => TopicFailure::new(
                FailureKind::NotFound,
                format!("Table '{}' does not exist", route.table),
            ),
            _ => f,
        })?;
    let Some(Outcome::Description { detail, .. }) = described.into_iter().next().map(|r| r.outcome)
    else {
        return Err(TopicFailure::new(
            FailureKind::Internal,
            "DESCRIBE answered no description",
        ));
    };
    let source = &detail.source;
    let columns: Vec<SourceColumn> = source
        .schema
        .columns
        .iter()
        .filter(|c| c.kind != ColumnKind::Header)
        .map(|c| SourceColumn {
            name: c.name.clone(),
            sql_type: c.ty.to_string(),
            is_key: c.kind == ColumnKind::Key,
        })
        .collect();
    let changes = source.kind == SourceKind::Table;
    let reads = match source.kind {
        // A STREAM table's rows are only ever inserted.
        SourceKind::Stream if route.op != ChangeOp::Insert => {
            return Err(TopicFailure::new(
                FailureKind::BadRequest,
                format!(
                    "'{}' is a STREAM table: its rows are only inserted, so it has no {} \
                     to route; use ON INSERT",
                    route.table,
                    route.op.wire_name().to_ascii_uppercase()
                ),
            ));
        }
        SourceKind::Stream => route.table.clone(),
        SourceKind::Table => {
            let sql = changes_stream_sql(
                &route.table,
                &source.topic,
                source.key_format.name(),
                source.value_format.name(),
                &columns,
            );
            execute(services, &sql).await?;
            changes_stream_name(&route.table)
        }
    };
    let partitions = u32::try_from(partitions).expect("a topic has at most 256 partitions");
    let sql = route_sql(route, &reads, changes, partitions, &columns);
    let created = execute(services, &sql).await?;
    let query_id = created.into_iter().find_map(|r| match r.outcome {
        Outcome::CommandStatus { query_id, .. } => query_id,
        _ => None,
    });
    Ok(message(format!(
        "Source '{}' added to topic '{}' (query {})",
        route.table,
        route.topic,
        query_id.unwrap_or_default()
    )))
}

/// Terminates the routes into `topic`, drops their streams, deletes the topic and forgets
/// its consumer groups.
async fn drop_topic(
    services: &Services,
    topic: &str,
    if_exists: bool,
) -> Result<QueryResult, TopicFailure> {
    if services.engine.describe_topic(topic).is_none() {
        return if if_exists {
            Ok(message(format!("Topic '{topic}' does not exist")))
        } else {
            Err(TopicFailure::new(
                FailureKind::NotFound,
                format!("Topic '{topic}' does not exist"),
            ))
        };
    }
    refuse_source_topic(services, topic, "drop that table or stream instead").await?;
    let listed = execute(services, "SHOW QUERIES;").await?;
    for result in listed {
        let Outcome::Queries { queries } = result.outcome else {
            continue;
        };
        for query in queries {
            let Some(sink) = query.sinks.iter().find(|s| is_route_of(s, topic)) else {
                continue;
            };
            let sql = format!(
                "TERMINATE {}; DROP STREAM {};",
                ident(&query.id),
                ident(sink)
            );
            execute(services, &sql).await?;
        }
    }
    services.engine.delete_topic(topic)?;
    services.kalamdb_topics.forget_topic(topic)?;
    Ok(message(format!("Topic '{topic}' dropped")))
}

/// `CLEAR TOPIC`: every message of the topic deleted and its consumer groups forgotten
/// (KalamDB's cleanup job deletes the messages and the groups' offsets). Offsets carry on
/// from where they were, as Kafka's do after `DeleteRecords`; a group then starts at the
/// topic's new start or end, as its `start` says.
async fn clear_topic(
    services: &Services,
    principal: &Principal,
    topic: &str,
) -> Result<QueryResult, TopicFailure> {
    if !services.auth.permits(principal, Action::ClearTopic) {
        return Err(TopicFailure::new(
            FailureKind::Forbidden,
            "CLEAR TOPIC requires DBA or System role",
        ));
    }
    if services.engine.describe_topic(topic).is_none() {
        return Err(TopicFailure::new(
            FailureKind::NotFound,
            format!("Topic '{topic}' does not exist"),
        ));
    }
    refuse_source_topic(services, topic, "it is not a topic to clear").await?;
    services.engine.delete_records(topic).await?;
    services.kalamdb_topics.forget_topic(topic)?;
    Ok(message(format!("Topic '{topic}' cleared")))
}

/// A table's or stream's own topic is not the face's to drop or clear: that would delete
/// the source's rows under it. Tables first, so the message names the table rather than its
/// changes stream.
async fn refuse_source_topic(
    services: &Services,
    topic: &str,
    advice: &str,
) -> Result<(), TopicFailure> {
    let sources = execute(services, "SHOW TABLES; SHOW STREAMS;").await?;
    let owner = sources
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Sources { sources, .. } => Some(sources),
            _ => None,
        })
        .flatten()
        .find(|s| s.topic == topic && !is_route_of(&s.name, topic));
    match owner {
        Some(owner) => Err(TopicFailure::new(
            FailureKind::BadRequest,
            format!(
                "Topic '{topic}' holds the rows of '{}'; {advice}",
                owner.name
            ),
        )),
        None => Ok(()),
    }
}

async fn execute(services: &Services, sql: &str) -> Result<Vec<StatementResult>, TopicFailure> {
    let none = HashMap::new();
    services
        .engine
        .execute(sql, &none, &none)
        .await
        .map_err(|e| TopicFailure::from(e.error))
}

/// `CONSUME`'s rows: one per message, the payload as native JSON.
fn messages_result(consumed: &super::topics::Consumed) -> QueryResult {
    let rows: Vec<Vec<Cell>> = consumed
        .messages()
        .into_iter()
        .map(|m| {
            let payload = String::from_utf8_lossy(&m.payload).into_owned();
            vec![
                Cell::Text(m.topic_id.to_string()),
                Cell::Json(m.partition_id.to_string()),
                Cell::Json(m.offset.to_string()),
                m.key.map_or(Cell::Null, |k| Cell::Text(k.into_owned())),
                Cell::Text(m.op.wire_name().to_string()),
                Cell::Json(m.timestamp_ms.to_string()),
                Cell::Json(payload),
            ]
        })
        .collect();
    QueryResult {
        schema: vec![
            field("topic_id", SqlType::String),
            field("partition_id", SqlType::Integer),
            field("offset", SqlType::BigInt),
            field("key", SqlType::String),
            field("op", SqlType::String),
            field("timestamp_ms", SqlType::BigInt),
            field(
                "payload",
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::String)),
            ),
        ],
        row_count: rows.len() as u64,
        rows,
        message: Some(format!(
            "next_offset {}, has_more {}",
            consumed.next_offset, consumed.has_more
        )),
    }
}

fn field(name: &str, ty: SqlType) -> SchemaField {
    SchemaField {
        name: name.into(),
        ty,
    }
}

fn message(text: String) -> QueryResult {
    QueryResult {
        message: Some(text),
        ..QueryResult::default()
    }
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
