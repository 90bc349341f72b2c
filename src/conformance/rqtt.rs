//! Replays one RQTT case as ksqlDB's `RestTestExecutor` does (rqtt-format.md §3, §6): the
//! admin statements as one `/ksql` batch, inputs produced with the default partitioner,
//! each query through `POST /query`, then responses, errors and Kafka outputs compared.
//!
//! Stricter than Java in one place, as the issue asks: a case that expects an error fails
//! when nothing failed, even when every statement is an admin statement.

use std::time::Duration;

use http::{Method, StatusCode};
use tokio::time::Instant;

use super::case::Case;
use super::client::{clip, HttpClient, LineReader, Reply};
use super::compare;
use super::json::Json;
use super::qtt::query_id;
use super::steps::{self, Placement};
use super::topic_schema;

/// After a push query's header arrives, how long to let the server register the consumer
/// before producing (Java polls the engine; over HTTP a short delay is the nearest thing).
const PUSH_QUERY_SETTLE_MS: u64 = 200;

/// The settings ksqlDB's RQTT harness gives its test server (rqtt-format.md §3 "Server"),
/// which the cases rely on without saying so: push queries read rows produced before
/// them, and simple push queries run as scalable push queries. Sluice's defaults are
/// ksqlDB's (`latest`, push v2 off), so the runner sends these as request properties, as
/// §6 step 2 allows; a case's own `properties` override them.
const HARNESS_PROPERTIES: [(&str, &str); 3] = [
    ("auto.offset.reset", "earliest"),
    ("ksql.query.push.v2.enabled", "true"),
    ("ksql.query.pull.table.scan.enabled", "true"),
];

/// The harness settings overlaid with the case's own `properties`.
fn request_properties(case_properties: &Json) -> Json {
    let mut merged: Vec<(String, Json)> = HARNESS_PROPERTIES
        .iter()
        .filter(|(name, _)| {
            case_properties.field(name).is_none()
                && case_properties
                    .field(&format!("ksql.streams.{name}"))
                    .is_none()
        })
        .map(|(name, value)| ((*name).to_string(), Json::Str((*value).to_string())))
        .collect();
    if let Json::Obj(fields) = case_properties {
        merged.extend(fields.iter().cloned());
    }
    Json::Obj(merged)
}

/// What the server answered, in the order the Java runner lists it.
enum Actual {
    Admin(Json),
    Query(Vec<Json>),
    /// A protobuf-mode `/query-stream` reply (`testPullWithProtoFormat`).
    QueryProto(Vec<Json>),
}

/// The media type of ksqlDB's protobuf query responses (rqtt-format.md §3 step 8).
const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.ksql.v1+protobuf";

/// Longest protobuf-mode reply read, so a runaway server cannot exhaust memory.
const PROTO_REPLY_BYTES_MAX: usize = 64 << 20;

pub async fn run(client: &HttpClient, case: &Case, deadline: Instant) -> Result<(), String> {
    let expected_error = case.doc.field("expectedError");
    let topics: Vec<(String, u32)> = case
        .meta("topics_to_create")
        .map(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter_map(|t| {
            let name = t.field("name")?.as_str()?.to_string();
            let partitions = t.field("partitions").and_then(Json::as_i64).unwrap_or(4);
            Some((name, u32::try_from(partitions).unwrap_or(1)))
        })
        .collect();
    steps::create_topics(client, &topics).await?;

    let properties = request_properties(&case.properties);
    let mut actual = Vec::new();
    let mut query_ids = Vec::new();
    let admin_sql = case.meta("admin_sql").and_then(Json::as_str).unwrap_or("");
    if !admin_sql.trim().is_empty() {
        let reply = client.ksql(admin_sql, &properties).await?;
        if reply.status != StatusCode::OK {
            return match expected_error {
                Some(e) => check_error(e, &reply, case),
                None => Err(format!(
                    "admin statements failed ({}): {}",
                    reply.status.as_u16(),
                    clip(&reply.body)
                )),
            };
        }
        for entity in reply.json()?.as_array() {
            query_ids.extend(query_id(entity));
            actual.push(Actual::Admin(entity.clone()));
        }
    }

    let produce_after_header = case
        .meta("produce_after_push_query_header")
        .and_then(Json::as_bool)
        == Some(true);
    let sources = steps::sources_by_topic(&topic_schema::load_sources(client).await?);
    if !produce_after_header {
        steps::produce_in_order(
            client,
            &case.inputs,
            &sources,
            Placement::DefaultPartitioner,
            &query_ids,
            deadline,
        )
        .await?;
    }
    if case
        .meta("waits_for_persistent_queries")
        .and_then(Json::as_bool)
        == Some(true)
    {
        steps::settle(client, &query_ids, &[], deadline).await?;
    }

    let mut errors_seen = 0;
    for statement in query_statements(case)? {
        let produce_inputs = produce_after_header.then_some((&case.inputs[..], &sources));
        match run_query(client, statement, &properties, produce_inputs, deadline).await? {
            Ok(lines) => {
                if expected_error.is_some() {
                    return Err(format!(
                        "expected an error, but query `{}` succeeded",
                        clip(statement)
                    ));
                }
                actual.push(Actual::Query(lines));
            }
            Err(reply) => match expected_error {
                Some(e) => {
                    check_error(e, &reply, case)?;
                    errors_seen += 1;
                }
                None => {
                    return Err(format!(
                        "query `{}` failed ({}): {}",
                        clip(statement),
                        reply.status.as_u16(),
                        clip(&reply.body)
                    ))
                }
            },
        }
    }
    if expected_error.is_some() && errors_seen == 0 {
        return Err("expected an error, but every statement succeeded".into());
    }
    if case
        .doc
        .get("testPullWithProtoFormat")
        .and_then(Json::as_bool)
        == Some(true)
    {
        for statement in query_statements(case)? {
            // Java drops errors in this mode silently: a failed query adds no response.
            if let Some(lines) = run_proto_query(client, statement, &properties, deadline).await? {
                actual.push(Actual::QueryProto(lines));
            }
        }
    }

    steps::check_outputs(client, &case.outputs, &sources, true).await?;
    compare_responses(case, &actual)
}

/// The case's query statements, in order (`meta.query_statements` indexes `statements`).
fn query_statements(case: &Case) -> Result<Vec<&String>, String> {
    case.meta("query_statements")
        .map(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .map(|q| {
            let index = q.field("index").and_then(Json::as_i64).unwrap_or(-1);
            usize::try_from(index)
                .ok()
                .and_then(|i| case.statements.get(i))
                .ok_or_else(|| format!("query index {index} is out of range"))
        })
        .collect()
}

/// Sends one query to `POST /query-stream` in protobuf mode, as `RestTestExecutor` does
/// (rqtt-format.md §3 step 8), and reads the reply to its end. `None` is a non-200 answer.
/// The reply is one JSON array of lines (header with `protoSchema`, rows with
/// `protobufBytes`, maybe a final message), parsed whole so that line breaks and separators
/// may fall anywhere.
async fn run_proto_query(
    client: &HttpClient,
    statement: &str,
    properties: &Json,
    deadline: Instant,
) -> Result<Option<Vec<Json>>, String> {
    let body = Json::Obj(vec![
        ("sql".into(), Json::Str(statement.to_string())),
        ("properties".into(), properties.clone()),
        ("sessionVariables".into(), Json::Obj(Vec::new())),
        ("requestProperties".into(), Json::Obj(Vec::new())),
    ]);
    let resp = client
        .open_accepting(
            Method::POST,
            "/query-stream",
            PROTOBUF_MEDIA_TYPE,
            Some("application/json"),
            Some(body.to_text()),
        )
        .await?;
    let status = resp.status();
    let mut reader = LineReader::new(resp.into_body());
    let mut text = String::new();
    while let Some(line) = bounded(reader.next_line(), deadline).await?? {
        text.push_str(&line);
        text.push('\n');
        if text.len() > PROTO_REPLY_BYTES_MAX {
            return Err(format!(
                "the protobuf /query-stream reply is longer than {PROTO_REPLY_BYTES_MAX} bytes"
            ));
        }
    }
    if status != StatusCode::OK {
        return Ok(None);
    }
    match Json::parse(&text) {
        Ok(Json::Arr(lines)) => Ok(Some(lines)),
        Ok(_) => Err(format!(
            "the protobuf /query-stream reply is not a JSON array: {}",
            clip(&text)
        )),
        Err(e) => Err(format!(
            "unparsable protobuf /query-stream reply ({e}): {}",
            clip(&text)
        )),
    }
}

/// Sends one query to `POST /query` and reads it to its end. `Ok(Err(reply))` is a non-200
/// answer. With `produce`, the inputs are produced once the header line has arrived.
async fn run_query(
    client: &HttpClient,
    statement: &str,
    properties: &Json,
    produce: Option<(
        &[super::case::Record],
        &std::collections::BTreeMap<String, topic_schema::SourceInfo>,
    )>,
    deadline: Instant,
) -> Result<Result<Vec<Json>, Reply>, String> {
    let body = Json::Obj(vec![
        ("ksql".into(), Json::Str(statement.to_string())),
        ("streamsProperties".into(), properties.clone()),
    ]);
    let resp = client
        .open(
            Method::POST,
            "/query",
            Some("application/json"),
            Some(body.to_text()),
        )
        .await?;
    let status = resp.status();
    let mut reader = LineReader::new(resp.into_body());
    if status != StatusCode::OK {
        let mut text = String::new();
        while let Some(line) = bounded(reader.next_line(), deadline).await?? {
            text.push_str(&line);
            text.push('\n');
        }
        return Ok(Err(Reply { status, body: text }));
    }
    let mut lines = Vec::new();
    let mut produced = produce.is_none();
    while let Some(line) = bounded(reader.next_line(), deadline).await?? {
        // Keep-alive blank lines are skipped; `[`, `]` and trailing commas are stripped
        // (rqtt-format.md §3 step 5).
        let mut t = line.trim();
        t = t.strip_prefix('[').unwrap_or(t).trim();
        t = t.strip_suffix(']').unwrap_or(t).trim();
        t = t.strip_suffix(',').unwrap_or(t).trim();
        if t.is_empty() {
            continue;
        }
        lines.push(
            Json::parse(t).map_err(|e| format!("unparsable /query line ({e}): {}", clip(t)))?,
        );
        if !produced {
            produced = true;
            if let Some((inputs, sources)) = produce {
                tokio::time::sleep(Duration::from_millis(PUSH_QUERY_SETTLE_MS)).await;
                steps::produce(client, inputs, sources, Placement::DefaultPartitioner).await?;
            }
        }
    }
    Ok(Ok(lines))
}

async fn bounded<F: std::future::Future>(f: F, deadline: Instant) -> Result<F::Output, String> {
    tokio::time::timeout_at(deadline, f)
        .await
        .map_err(|_| "the /query response did not end before the case timeout".to_string())
}

/// Checks a non-200 reply against `expectedError` (rqtt-format.md §5).
fn check_error(expected: &Json, reply: &Reply, case: &Case) -> Result<(), String> {
    if let Some(status) = expected.field("status").and_then(Json::as_i64) {
        if i64::from(reply.status.as_u16()) != status {
            return Err(format!(
                "expected status {status}, got {}: {}",
                reply.status.as_u16(),
                clip(&reply.body)
            ));
        }
    }
    let body = reply.json().ok().filter(|b| b.field("@type").is_some());
    // An unreadable error body becomes the Java client's generic error.
    let message = match &body {
        Some(b) => b
            .field("message")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        None => format!(
            "The server returned an unexpected error: {}",
            reply.status.canonical_reason().unwrap_or("")
        ),
    };
    if let Some(want) = expected.field("message").and_then(Json::as_str) {
        if !message.contains(want) {
            return Err(format!(
                "error message {:?} does not contain {:?}",
                clip(&message),
                want
            ));
        }
    }
    if let Some(ty) = expected.field("type").and_then(Json::as_str) {
        let Some(b) = &body else {
            return Err(format!(
                "expected a {ty} error body, got: {}",
                clip(&reply.body)
            ));
        };
        if ty.ends_with("KsqlStatementErrorMessage") {
            if b.field("@type").and_then(Json::as_str) != Some("statement_error") {
                return Err(format!(
                    "expected a statement_error, got {}",
                    clip(&reply.body)
                ));
            }
            let want_text = case
                .meta("expected_error_statement_text")
                .and_then(Json::as_str)
                .map(str::to_string)
                .or_else(|| case.statements.last().cloned())
                .unwrap_or_default();
            let got_text = b
                .field("statementText")
                .and_then(Json::as_str)
                .unwrap_or("");
            if !got_text.contains(&want_text) {
                return Err(format!(
                    "statementText {:?} does not contain {:?}",
                    clip(got_text),
                    want_text
                ));
            }
        }
    }
    Ok(())
}

/// Compares `responses[i]` with the i-th actual response; the server may answer more.
fn compare_responses(case: &Case, actual: &[Actual]) -> Result<(), String> {
    let expected = case.doc.get("responses").map(Json::as_array).unwrap_or(&[]);
    if actual.len() < expected.len() {
        return Err(format!(
            "expected {} responses, got {}",
            expected.len(),
            actual.len()
        ));
    }
    let verify_order = case
        .doc
        .get("outputConditions")
        .and_then(|c| c.field("verifyOrder"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let want_proto = e.field("queryProto");
        match (e.field("admin"), e.field("query"), want_proto, a) {
            (Some(want), _, _, Actual::Admin(got)) => compare::partial_match(want, got, "entity")
                .map_err(|m| format!("response {i}: {m}"))?,
            (_, Some(want), _, Actual::Query(got)) => {
                compare::query_response(want.as_array(), got, verify_order)
                    .map_err(|m| format!("response {i}: {m}"))?
            }
            (_, _, Some(want), Actual::QueryProto(got)) => {
                compare::query_proto_response(want.as_array(), got)
                    .map_err(|m| format!("response {i}: {m}"))?
            }
            _ => {
                let got = match a {
                    Actual::Admin(_) => "an admin entity",
                    Actual::Query(_) => "a query result",
                    Actual::QueryProto(_) => "a protobuf query result",
                };
                return Err(format!(
                    "response {i}: expected {}, got {got}",
                    clip(&e.to_text())
                ));
            }
        }
    }
    Ok(())
}
